//! Path helpers: local paths and URIs (`s3://…`, `dbfs:/…`) resolved against a base.

use std::path::{Component, Path, PathBuf};

/// Whether `p` is a URI with a scheme (`s3://bucket`, `dbfs:/x`, `file:///x`). A Windows
/// drive (`C:\x`) is not.
pub(crate) fn is_uri(p: &str) -> bool {
    let Some((scheme, rest)) = p.split_once(':') else {
        return false;
    };
    scheme.len() >= 2
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        && rest.starts_with('/')
}

/// Whether `p` needs no base: an absolute local path or a URI.
pub(crate) fn is_absolute(p: &str) -> bool {
    is_uri(p) || Path::new(p).is_absolute()
}

/// `rel` resolved against `base` (unchanged when already absolute), as a final string.
pub(crate) fn join(base: &str, rel: &str) -> String {
    if is_absolute(rel) {
        return clean_local_or_uri(rel);
    }
    if is_uri(base) {
        let rel = rel.trim_start_matches("./");
        if rel.is_empty() || rel == "." {
            return base.to_owned();
        }
        return format!("{}/{}", base.trim_end_matches('/'), rel);
    }
    clean(&Path::new(base).join(rel))
}

/// `p` resolved against a directory.
pub(crate) fn resolve(dir: &Path, p: &str) -> String {
    join(&dir.to_string_lossy(), p)
}

fn clean_local_or_uri(p: &str) -> String {
    if is_uri(p) {
        p.to_owned()
    } else {
        clean(Path::new(p))
    }
}

/// Lexically removes `.` and resolves `..` components (no file system access).
pub(crate) fn clean(p: &Path) -> String {
    let mut out = PathBuf::new();
    for component in p.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let popped =
                    matches!(out.components().next_back(), Some(Component::Normal(_))) && out.pop();
                if !popped && !matches!(out.components().next_back(), Some(Component::RootDir)) {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        return ".".to_owned();
    }
    out.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_recognised() {
        assert!(is_uri("s3://bucket/x"));
        assert!(is_uri("dbfs:/mnt/x"));
        assert!(is_uri("file:///tmp/x"));
        assert!(!is_uri("C:/x"));
        assert!(!is_uri("data/x"));
        assert!(!is_uri("a:b"));
    }

    #[test]
    fn joins_local_and_uri_bases() {
        assert_eq!(
            join("/proj/data", "orders/*.csv"),
            "/proj/data/orders/*.csv"
        );
        assert_eq!(join("/proj/data", "./x/../y"), "/proj/data/y");
        assert_eq!(join("/proj/data", "/abs/z"), "/abs/z");
        assert_eq!(join("/proj/data", "s3://b/k"), "s3://b/k");
        assert_eq!(join("s3://lake/raw/", "./orders"), "s3://lake/raw/orders");
        assert_eq!(resolve(Path::new("/proj"), "../lake"), "/lake");
        assert_eq!(resolve(Path::new("/proj"), "."), "/proj");
    }
}
