//! Building small pieces of Spark SQL safely: identifiers, literals, the date filter, and
//! the read-only check for `format: query` inputs.

use tauro_config::{DataFormat, DateWindow};

use crate::error::{Error, Result};

/// A back-quoted identifier part (`` ` `` doubled inside).
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A possibly qualified name (`db.table`), each part quoted.
pub(crate) fn quote_qualified(name: &str) -> String {
    name.split('.')
        .map(|part| quote_identifier(part.trim().trim_matches('`')))
        .collect::<Vec<_>>()
        .join(".")
}

/// A single-quoted string literal; quotes and backslashes escaped.
pub(crate) fn string_literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `` `col` BETWEEN DATE'start' AND DATE'end' `` from validated dates.
pub(crate) fn date_between(column: &str, window: DateWindow) -> String {
    format!(
        "{} BETWEEN DATE'{}' AND DATE'{}'",
        quote_qualified(column),
        window.start.format("%Y-%m-%d"),
        window.end.format("%Y-%m-%d")
    )
}

/// The config name of a format.
pub(crate) fn format_name(format: DataFormat) -> &'static str {
    match format {
        DataFormat::Table => "table",
        DataFormat::Query => "query",
        other => other.spark_source().unwrap_or("unknown"),
    }
}

/// An input query must be a read: `SELECT`, `WITH`, `VALUES`, `FROM` or `TABLE`, one
/// statement. (`sql()` relations of commands run eagerly on the server.)
pub(crate) fn validate_query(dataset: &str, query: &str) -> Result<()> {
    let stripped = strip_leading_comments(query);
    let first = stripped
        .trim_start_matches('(')
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let reject = |reason: String| Error::InvalidValue {
        dataset: dataset.into(),
        what: "query",
        value: crate::session::short(query),
        reason,
    };
    if !matches!(
        first.as_str(),
        "SELECT" | "WITH" | "VALUES" | "FROM" | "TABLE"
    ) {
        return Err(reject(
            "an input query must be a read (SELECT / WITH ...)".into(),
        ));
    }
    let body = stripped.trim_end().trim_end_matches(';');
    if has_unquoted_semicolon(body) {
        return Err(reject("only one statement is allowed".into()));
    }
    Ok(())
}

fn strip_leading_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r);
        } else {
            return s;
        }
    }
}

fn has_unquoted_semicolon(s: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in s.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => quote = Some(c),
                ';' => return true,
                _ => {}
            },
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn identifiers_and_literals_are_escaped() {
        assert_eq!(quote_identifier("a`b"), "`a``b`");
        assert_eq!(quote_qualified("db.t"), "`db`.`t`");
        assert_eq!(string_literal("it's"), "'it\\'s'");
    }

    #[test]
    fn the_date_filter_uses_date_literals() {
        let (Some(start), Some(end)) = (
            NaiveDate::from_ymd_opt(2025, 1, 1),
            NaiveDate::from_ymd_opt(2025, 1, 7),
        ) else {
            return;
        };
        assert_eq!(
            date_between("sale_date", DateWindow { start, end }),
            "`sale_date` BETWEEN DATE'2025-01-01' AND DATE'2025-01-07'"
        );
    }

    #[test]
    fn only_reads_are_accepted_as_input_queries() {
        assert!(validate_query("q", "SELECT 1").is_ok());
        assert!(validate_query("q", "-- c\n with a as (select 1) select * from a;").is_ok());
        assert!(validate_query("q", "(SELECT 1)").is_ok());
        assert!(validate_query("q", "SELECT ';' AS x").is_ok());
        assert!(validate_query("q", "DROP TABLE t").is_err());
        assert!(validate_query("q", "SELECT 1; DROP TABLE t").is_err());
        assert!(validate_query("q", "/* x */ INSERT INTO t SELECT 1").is_err());
    }
}
