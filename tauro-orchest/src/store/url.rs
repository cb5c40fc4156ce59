//! Which database a store URL names.
//!
//! - `postgres://…` / `postgresql://…`: PostgreSQL, passed to the driver as is.
//! - `sqlite:PATH`, `sqlite://PATH` (so `sqlite:///abs/path`), or a plain path: a SQLite
//!   file. The path is taken literally (no percent-decoding, no query string).

use std::path::{Path, PathBuf};

use super::kinds::Backend;
use crate::error::{Error, Result};

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl Target {
    /// Parses `url`.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: redact(url),
            reason: reason.to_string(),
        };
        let trimmed = url.trim();
        if trimmed.is_empty() {
            return Err(invalid("it is empty"));
        }
        let lower = trimmed.to_ascii_lowercase();
        if lower.starts_with("postgres:") || lower.starts_with("postgresql:") {
            if !trimmed.contains("://") {
                return Err(invalid("write it as postgres://user@host:5432/database"));
            }
            return Ok(Self::Postgres(trimmed.to_string()));
        }
        let path = if lower.starts_with("sqlite:") {
            let rest = &trimmed["sqlite:".len()..];
            rest.strip_prefix("//").unwrap_or(rest)
        } else if let Some((scheme, _)) = trimmed.split_once("://") {
            return Err(invalid(&format!(
                "'{scheme}' is not a supported backend (sqlite or postgres)"
            )));
        } else {
            trimmed
        };
        if path.is_empty() {
            return Err(invalid("the SQLite file path is missing"));
        }
        if path == ":memory:" || path.contains("mode=memory") {
            return Err(invalid(
                "an in-memory SQLite database is not shared by the connections of a pool; use a file",
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// The backend.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }
}

/// `url` with the password of its user info masked (`postgres://u:***@h/db`).
pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..authority_start],
            &userinfo[..colon],
            &url[authority_start + at..]
        ),
        None => url.to_string(),
    }
}

/// The SQLite URL sqlx reads for `path` (absolute, percent-encoded, created if missing).
pub(crate) fn sqlite_url(path: &Path) -> String {
    let raw = path.to_string_lossy();
    let mut out = String::with_capacity(raw.len() + 24);
    out.push_str("sqlite://");
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str("?mode=rwc");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_forms() {
        let p = |s: &str| Target::parse(s).ok();
        assert_eq!(p("sqlite:a/b.db"), Some(Target::Sqlite("a/b.db".into())));
        assert_eq!(p("sqlite://a.db"), Some(Target::Sqlite("a.db".into())));
        assert_eq!(
            p("sqlite:///tmp/x.db"),
            Some(Target::Sqlite("/tmp/x.db".into()))
        );
        assert_eq!(p("/tmp/x y.db"), Some(Target::Sqlite("/tmp/x y.db".into())));
        assert_eq!(
            p(".tauro/tauro.db"),
            Some(Target::Sqlite(".tauro/tauro.db".into()))
        );
    }

    #[test]
    fn postgres_forms() {
        let url = "postgres://postgres@127.0.0.1:5432/test";
        assert_eq!(Target::parse(url).ok(), Some(Target::Postgres(url.into())));
        let url = "postgresql://u:p@h/db?options=-c%20search_path%3Dx";
        assert_eq!(
            Target::parse(url).map(|t| t.backend()).ok(),
            Some(Backend::Postgres)
        );
    }

    #[test]
    fn rejects_what_it_cannot_open() {
        for bad in [
            "",
            "mysql://h/db",
            "sqlite::memory:",
            "sqlite:",
            "postgres:db",
        ] {
            assert!(
                matches!(Target::parse(bad), Err(Error::InvalidUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db?x=a@b"), "postgres://h/db?x=a@b");
        let err = Target::parse("mysql://u:pw@h/db")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("u:***@h") && !e.contains("pw")));
    }

    #[test]
    fn sqlite_urls_encode_odd_characters() {
        assert_eq!(
            sqlite_url(Path::new("/tmp/a b#?%.db")),
            "sqlite:///tmp/a%20b%23%3F%25.db?mode=rwc"
        );
    }
}
