//! Masking secrets wherever configuration is shown.

use serde_json::Value;

/// What a masked value is replaced with.
pub const MASK: &str = "***";

/// Fragments of key names that hold secrets (compared after lower-casing and turning `.`,
/// `-` and spaces into `_`).
const SECRET_WORDS: [&str; 16] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "api_key",
    "apikey",
    "private_key",
    "access_key",
    "account_key",
    "client_key",
    "authorization",
    "sas_key",
    // Kafka: `sasl.jaas.config` holds a login module line with the password inside;
    // `ssl.keystore.key` a PEM private key.
    "jaas",
    "keystore_key",
];

/// Whether a key's value should never be shown (`password`, `api_key`,
/// `spark.hadoop.fs.s3a.secret.key`, `AWS_ACCESS_KEY_ID`, …).
pub fn looks_secret(key: &str) -> bool {
    let key: String = key
        .chars()
        .map(|c| match c {
            '.' | '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    SECRET_WORDS.iter().any(|w| key.contains(w))
}

/// `map` with the values of secret-looking keys ([`looks_secret`]) replaced by [`MASK`], for
/// `Debug` output and logs.
pub fn mask_secrets(
    map: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<&str, &str> {
    map.iter()
        .map(|(k, v)| {
            let shown = if looks_secret(k) { MASK } else { v.as_str() };
            (k.as_str(), shown)
        })
        .collect()
}

/// Masks secrets inside a URL-like text: `token=…` / `password=…` parameters (as in
/// `sc://host:15002/;token=abc`) and `user:password@` credentials.
pub fn redact_url(text: &str) -> String {
    let mut out = mask_userinfo(text);
    for param in [
        "token=",
        "password=",
        "secret=",
        "access_token=",
        "api_key=",
    ] {
        out = mask_param(&out, param);
    }
    out
}

fn mask_param(text: &str, param: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find(param) {
        let start = search + found;
        let at_boundary = start == 0
            || matches!(
                lower.as_bytes()[start - 1],
                b';' | b'?' | b'&' | b'/' | b' ' | b','
            );
        let mut value_start = start + param.len();
        // A quoted value (`password="…"`, as in a JAAS line) runs to its closing quote.
        let quote = text[value_start..]
            .chars()
            .next()
            .filter(|c| matches!(c, '"' | '\''));
        let value_end = match quote {
            Some(q) => {
                value_start += 1;
                text[value_start..]
                    .find(q)
                    .map_or(text.len(), |i| value_start + i)
            }
            None => text[value_start..]
                .find([';', '&', ' ', ',', '"', '\''])
                .map_or(text.len(), |i| value_start + i),
        };
        if at_boundary && value_end > value_start {
            out.push_str(&text[last..value_start]);
            out.push_str(MASK);
            last = value_end;
        }
        search = value_start;
    }
    out.push_str(&text[last..]);
    out
}

fn mask_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail.find(['/', ' ', '"', '\'']).unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

/// Masks, in place, every value under a secret-looking key and secrets inside URL strings.
pub fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if looks_secret(key) && !v.is_null() {
                    *v = Value::String(MASK.to_owned());
                } else {
                    redact_json(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::String(s) => {
            if s.contains("://") || s.contains('=') {
                *s = redact_url(s);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys() {
        for k in [
            "password",
            "DB_PASSWORD",
            "spark.hadoop.fs.s3a.secret.key",
            "api-key",
            "fs.s3a.access.key",
            "token",
            "gcp_credentials",
            "fs.azure.account.key.x",
            "kafka.sasl.jaas.config",
            "kafka.ssl.keystore.key",
            "kafka.ssl.truststore.password",
        ] {
            assert!(looks_secret(k), "{k}");
        }
        for k in [
            "path",
            "format",
            "header",
            "table",
            "remote",
            "kafka.bootstrap.servers",
            "kafka.security.protocol",
            "kafka.ssl.truststore.location",
        ] {
            assert!(!looks_secret(k), "{k}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            redact_url("sc://host:15002/;use_ssl=true;token=abc123;user_id=x"),
            "sc://host:15002/;use_ssl=true;token=***;user_id=x"
        );
        assert_eq!(redact_url("sc://h:1/;token=abc"), "sc://h:1/;token=***");
        assert_eq!(
            redact_url("postgres://u:pw@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(redact_url("sc://localhost:15002"), "sc://localhost:15002");
        assert_eq!(redact_url("mytoken=1"), "mytoken=1");
        assert_eq!(
            redact_url("sc://h:1?token=abc&x=1"),
            "sc://h:1?token=***&x=1"
        );
        assert_eq!(
            redact_url(
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p w";"#
            ),
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="***";"#
        );
    }

    #[test]
    fn values() {
        let mut v = serde_json::json!({
            "remote": "sc://h:1/;token=abc",
            "options": {"password": "pw", "user": "u"},
            "list": [{"api_key": "k"}],
            "n": null
        });
        redact_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "remote": "sc://h:1/;token=***",
                "options": {"password": "***", "user": "u"},
                "list": [{"api_key": "***"}],
                "n": null
            })
        );
    }
}
