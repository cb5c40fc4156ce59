//! Spark Connect remotes: the connection string tauro dials ([`build`],
//! [`connection_string`]), where its token comes from ([`TokenSource`]), and how a remote
//! is shown ([`redact_remote`]: never with its token).
//!
//! The connection string is `sc://host:port/;param=value;...`. The client reads `use_ssl`,
//! `token`, `user_id`, `user_agent`, `session_id` and the `grpc_keepalive_*` parameters and
//! sends the others as gRPC metadata; it ignores anything after `?`, so a token written
//! there would silently never be sent, and [`build`] rejects it. The client itself refuses
//! to send a token without TLS except to a loopback host; [`build`] reports that case
//! before anything is dialled.

use std::fmt;
use std::path::PathBuf;

use spark_connect_core::channel::ChannelBuilder;
use tauro_config::SparkSettings;

use crate::error::{Error, Result};

/// The environment variable a token is taken from when none is configured.
pub const DEFAULT_TOKEN_ENV: &str = "TAURO_SPARK_TOKEN";

/// Where the token of a connection comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TokenSource {
    /// [`DEFAULT_TOKEN_ENV`] when it is set and not empty, else no token.
    #[default]
    Default,
    /// This environment variable, which must be set (`spark.token_env`).
    Env(String),
    /// This file, trimmed, which must be readable and not empty (`spark.token_file`).
    File(PathBuf),
    /// No token (e.g. for the embedded local server tauro started itself).
    None,
}

/// What [`connection_string`] adds to a remote besides what it already says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteOptions {
    /// Where the token comes from; a token written in the remote itself wins over
    /// [`TokenSource::Default`] and conflicts with the others.
    pub token: TokenSource,
    /// `user_agent` when the remote sets none; default `tauro/<version>`.
    pub user_agent: Option<String>,
    /// A server-side session to use (a UUID v4), replacing any `session_id` in the remote.
    pub session_id: Option<String>,
}

impl RemoteOptions {
    /// The options `spark:` settings ask for (`token_env`, `token_file`, `session_id`).
    pub fn from_settings(spark: &SparkSettings) -> Self {
        let token = match (&spark.token_env, &spark.token_file) {
            (Some(name), _) => TokenSource::Env(name.clone()),
            (None, Some(path)) => TokenSource::File(path.clone()),
            (None, None) => TokenSource::Default,
        };
        Self {
            token,
            user_agent: None,
            session_id: spark.session_id.clone(),
        }
    }
}

/// A Spark Connect token. `Debug` masks it and there is no `Display`, so it cannot end up
/// in a log or a message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A token; surrounding whitespace (a file's final newline) is dropped.
    pub fn new(token: &str) -> Self {
        Self(token.trim().to_owned())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// The remote with every secret masked: `token=` (and `password=`, ...) parameter values,
/// wherever they are written, and `user:password@` credentials.
pub fn redact_remote(remote: &str) -> String {
    tauro_config::redact::redact_url(remote)
}

/// The token `source` gives, reading the environment through `env`.
fn read_token(source: &TokenSource, env: impl Fn(&str) -> Option<String>) -> Result<Option<Token>> {
    let present = |t: Option<String>| t.map(|t| Token::new(&t)).filter(|t| !t.0.is_empty());
    match source {
        TokenSource::None => Ok(None),
        TokenSource::Default => Ok(present(env(DEFAULT_TOKEN_ENV))),
        TokenSource::Env(name) => present(env(name)).map(Some).ok_or_else(|| Error::Token {
            origin: format!("the environment variable {name} (spark.token_env)"),
            reason: "it is not set or empty".into(),
        }),
        TokenSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                action: "read the Spark Connect token file",
                path: path.clone(),
                source,
            })?;
            present(Some(text)).map(Some).ok_or_else(|| Error::Token {
                origin: format!("the file {} (spark.token_file)", path.display()),
                reason: "it is empty".into(),
            })
        }
    }
}

/// The connection string for `remote` with `options` applied: the token from its source,
/// the user agent, the session id. See [`build`].
pub fn connection_string(remote: &str, options: &RemoteOptions) -> Result<String> {
    connection_string_with(remote, options, |name| std::env::var(name).ok())
}

fn connection_string_with(
    remote: &str,
    options: &RemoteOptions,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String> {
    let in_remote = split(remote)?.1.iter().any(|(k, _)| k == "token");
    let token = match (&options.token, in_remote) {
        (TokenSource::Env(_) | TokenSource::File(_), true) => {
            return Err(Error::InvalidRemote {
                remote: redact_remote(remote),
                reason: "it carries a token and spark.token_env / spark.token_file gives another; keep one".into(),
            });
        }
        (TokenSource::Default | TokenSource::None, true) => None,
        (source, false) => read_token(source, env)?,
    };
    build(
        remote,
        token.as_ref(),
        options.user_agent.as_deref(),
        options.session_id.as_deref(),
    )
}

/// `sc://host:port` and the parameters of a remote, in order.
fn split(remote: &str) -> Result<(String, Vec<(String, String)>)> {
    let remote = remote.trim();
    let invalid = |reason: &str| Error::InvalidRemote {
        remote: redact_remote(remote),
        reason: reason.into(),
    };
    if remote.contains(['?', '#']) {
        return Err(invalid(
            "parameters follow `/;` (sc://host:port/;use_ssl=true;token=...); the client ignores a `?` query, so nothing written there would be sent",
        ));
    }
    let rest = match remote.get(..5) {
        Some(scheme) if scheme.eq_ignore_ascii_case("sc://") => &remote[5..],
        _ => return Err(invalid("it must start with sc://")),
    };
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if !tail.is_empty() && !tail.starts_with(';') {
        return Err(invalid(
            "the path must be empty: sc://host:port/;param=value",
        ));
    }
    let mut params = Vec::new();
    for p in tail.split(';').filter(|p| !p.is_empty()) {
        match p.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.contains('=') => {
                params.push((k.to_owned(), v.to_owned()));
            }
            // Never echo the parameter: it may be a token with a stray `=`.
            _ => {
                return Err(invalid(
                    "every parameter must be one key=value pair (percent-encode `=`, `;` and `/` inside values as %3D, %3B, %2F)",
                ));
            }
        }
    }
    Ok((format!("sc://{authority}"), params))
}

/// The connection string tauro dials: `base` (`sc://host:port[/;params]`) with
/// - `token` added (percent-encoded); a token already in `base` and another here is an
///   error;
/// - `user_agent=<user_agent or tauro/<version>>` unless `base` sets one;
/// - `session_id` set to `session_id` when given (replacing any in `base`).
///
/// A token without `use_ssl=true` to a host other than localhost is refused
/// ([`Error::InsecureToken`]), as the client would refuse it later.
pub fn build(
    base: &str,
    token: Option<&Token>,
    user_agent: Option<&str>,
    session_id: Option<&str>,
) -> Result<String> {
    let (head, mut params) = split(base)?;
    let invalid = |reason: &str| Error::InvalidRemote {
        remote: redact_remote(base),
        reason: reason.into(),
    };
    if let Some(id) = session_id {
        params.retain(|(k, _)| k != "session_id");
        params.push(("session_id".into(), percent_encode(id.trim())));
    }
    if !params.iter().any(|(k, _)| k == "user_agent") {
        let default = format!("tauro/{}", env!("CARGO_PKG_VERSION"));
        params.push((
            "user_agent".into(),
            percent_encode(user_agent.unwrap_or(&default)),
        ));
    }
    if let Some(token) = token {
        if params.iter().any(|(k, _)| k == "token") {
            return Err(invalid(
                "it carries a token and another one was given; keep one",
            ));
        }
        params.push(("token".into(), percent_encode(token.expose())));
    }
    let joined: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let url = format!("{head}/;{}", joined.join(";"));
    let parsed = ChannelBuilder::parse(&url).map_err(|e| Error::InvalidRemote {
        remote: redact_remote(base),
        reason: crate::error::SparkFailure::from_client(&e).message,
    })?;
    if parsed.session_id().is_err() {
        return Err(invalid(
            "session_id must be a UUID v4 such as 550e8400-e29b-41d4-a716-446655440000",
        ));
    }
    if parsed.get("token").is_some() && !parsed.use_ssl() && !parsed.is_loopback() {
        return Err(Error::InsecureToken {
            remote: redact_remote(&head),
        });
    }
    Ok(url)
}

/// Percent-encodes everything but unreserved characters (the client decodes `%XX`).
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const UA: &str = concat!("user_agent=tauro%2F", env!("CARGO_PKG_VERSION"));
    const ID: &str = "550e8400-e29b-41d4-a716-446655440000";

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn options(token: TokenSource) -> RemoteOptions {
        RemoteOptions {
            token,
            ..RemoteOptions::default()
        }
    }

    #[test]
    fn user_agent_is_added_unless_set() {
        assert_eq!(
            build("sc://h:15002", None, None, None).ok(),
            Some(format!("sc://h:15002/;{UA}"))
        );
        assert_eq!(
            build("sc://h:15002/;user_agent=mine", None, None, None).ok(),
            Some("sc://h:15002/;user_agent=mine".to_owned())
        );
        assert_eq!(
            build("sc://h:1/", None, Some("etl job/2"), None).ok(),
            Some("sc://h:1/;user_agent=etl%20job%2F2".to_owned())
        );
    }

    #[test]
    fn tokens_are_encoded_and_need_tls_off_localhost() {
        let token = Token::new("ab=c;d/e\n");
        assert_eq!(
            build(
                "sc://spark.example:443/;use_ssl=true",
                Some(&token),
                None,
                None
            )
            .ok(),
            Some(format!(
                "sc://spark.example:443/;use_ssl=true;{UA};token=ab%3Dc%3Bd%2Fe"
            ))
        );
        let parsed = build("sc://localhost:15002", Some(&token), None, None)
            .ok()
            .and_then(|url| ChannelBuilder::parse(&url).ok())
            .and_then(|b| b.token());
        assert_eq!(parsed.as_deref(), Some("ab=c;d/e"));
        let err = build("sc://spark.example:443", Some(&token), None, None);
        assert!(
            matches!(&err, Err(Error::InsecureToken { remote }) if remote == "sc://spark.example:443"),
            "{err:?}"
        );
        let err = build("sc://spark.example:443/;token=abc", None, None, None);
        assert!(matches!(err, Err(Error::InsecureToken { .. })), "{err:?}");
        assert!(
            err.err()
                .is_some_and(|e| e.is_configuration() && !e.is_unreachable())
        );
        let err = build("sc://h:1/;use_ssl=true;token=abc", Some(&token), None, None);
        assert!(
            matches!(&err, Err(Error::InvalidRemote { remote, .. }) if remote == "sc://h:1/;use_ssl=true;token=***"),
            "{err:?}"
        );
    }

    #[test]
    fn session_ids_are_set_or_replaced() {
        assert_eq!(
            build("sc://h:1", None, None, Some(ID)).ok(),
            Some(format!("sc://h:1/;session_id={ID};{UA}"))
        );
        assert_eq!(
            build(
                "sc://localhost:1/;token=x;session_id=other",
                None,
                Some("u"),
                Some(ID)
            )
            .ok(),
            Some(format!(
                "sc://localhost:1/;token=x;session_id={ID};user_agent=u"
            ))
        );
        assert!(matches!(
            build("sc://h:1", None, None, Some("not-a-uuid")),
            Err(Error::InvalidRemote { .. })
        ));
    }

    #[test]
    fn queries_and_bad_params_are_refused_without_echoing_them() {
        for remote in [
            "sc://h:1?token=SECRET",
            "sc://h:1/;token=SEC=RET",
            "sc://h:1/path",
            "http://h:1",
        ] {
            match build(remote, None, None, None) {
                Err(e @ Error::InvalidRemote { .. }) => {
                    assert!(!e.to_string().contains("SEC"), "{e}");
                }
                other => panic!("{remote}: {other:?}"),
            }
        }
    }

    #[test]
    fn token_sources() {
        let none = connection_string_with("sc://h:1", &options(TokenSource::Default), env(&[]));
        assert_eq!(none.ok(), Some(format!("sc://h:1/;{UA}")));
        let default = connection_string_with(
            "sc://localhost:1",
            &options(TokenSource::Default),
            env(&[(DEFAULT_TOKEN_ENV, " t0k ")]),
        );
        assert_eq!(
            default.ok(),
            Some(format!("sc://localhost:1/;{UA};token=t0k"))
        );
        // A token in the remote wins over the default variable.
        let url = connection_string_with(
            "sc://localhost:1/;token=mine",
            &options(TokenSource::Default),
            env(&[(DEFAULT_TOKEN_ENV, "other")]),
        );
        assert_eq!(url.ok(), Some(format!("sc://localhost:1/;token=mine;{UA}")));
        let named = connection_string_with(
            "sc://localhost:1",
            &options(TokenSource::Env("MY_TOKEN".into())),
            env(&[("MY_TOKEN", "abc"), (DEFAULT_TOKEN_ENV, "other")]),
        );
        assert_eq!(
            named.ok(),
            Some(format!("sc://localhost:1/;{UA};token=abc"))
        );
        let unset = connection_string_with(
            "sc://localhost:1",
            &options(TokenSource::Env("MY_TOKEN".into())),
            env(&[]),
        );
        assert_eq!(
            unset.err().map(|e| e.to_string()),
            Some("no Spark Connect token from the environment variable MY_TOKEN (spark.token_env): it is not set or empty".into())
        );
        let both = connection_string_with(
            "sc://localhost:1/;token=a",
            &options(TokenSource::Env("MY_TOKEN".into())),
            env(&[("MY_TOKEN", "b")]),
        );
        assert!(matches!(both, Err(Error::InvalidRemote { .. })));
        let skipped = connection_string_with(
            "sc://localhost:1",
            &options(TokenSource::None),
            env(&[(DEFAULT_TOKEN_ENV, "t")]),
        );
        assert_eq!(skipped.ok(), Some(format!("sc://localhost:1/;{UA}")));
    }

    #[test]
    fn token_files_are_trimmed_and_errors_name_the_file() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("spark.token");
        std::fs::write(&file, "s3cr3t\n")?;
        let url = connection_string_with(
            "sc://h:443/;use_ssl=true",
            &options(TokenSource::File(file.clone())),
            env(&[]),
        );
        assert_eq!(
            url.ok(),
            Some(format!("sc://h:443/;use_ssl=true;{UA};token=s3cr3t"))
        );
        std::fs::write(&file, " \n")?;
        let empty = connection_string_with(
            "sc://h:1",
            &options(TokenSource::File(file.clone())),
            env(&[]),
        );
        assert_eq!(
            empty.err().map(|e| e.to_string()),
            Some(format!(
                "no Spark Connect token from the file {} (spark.token_file): it is empty",
                file.display()
            ))
        );
        let missing = dir.path().join("missing.token");
        let err = connection_string_with(
            "sc://h:1",
            &options(TokenSource::File(missing.clone())),
            env(&[]),
        );
        assert_eq!(
            err.err().map(|e| e.to_string()),
            Some(format!(
                "read the Spark Connect token file `{}`",
                missing.display()
            ))
        );
        Ok(())
    }

    #[test]
    fn shown_remotes_and_tokens_are_masked() {
        assert_eq!(
            redact_remote("sc://h:443/;use_ssl=true;token=SECRET"),
            "sc://h:443/;use_ssl=true;token=***"
        );
        assert_eq!(redact_remote("sc://h:1?token=SECRET"), "sc://h:1?token=***");
        assert_eq!(redact_remote("sc://h:15002"), "sc://h:15002");
        assert_eq!(format!("{:?}", Token::new("SECRET")), "Token(***)");
    }

    #[test]
    fn settings_choose_the_source() {
        let mut spark = SparkSettings::default();
        assert_eq!(
            RemoteOptions::from_settings(&spark).token,
            TokenSource::Default
        );
        spark.token_file = Some(PathBuf::from("/t"));
        spark.session_id = Some(ID.into());
        let o = RemoteOptions::from_settings(&spark);
        assert_eq!(o.token, TokenSource::File(PathBuf::from("/t")));
        assert_eq!(o.session_id.as_deref(), Some(ID));
    }
}
