//! The input document → [`InputConfig`]s.

use indexmap::IndexMap;

use crate::diag::Diags;
use crate::fields::{self, Fields, describe};
use crate::kafka;
use crate::model::{DataFormat, InputConfig, Location};
use crate::paths;
use crate::suggest;
use crate::tree::{Loc, Node};

/// The keys of every input (the format's own first-class keys are added by [`keys`]).
const BASE_KEYS: [&str; 15] = [
    "format",
    "filepath",
    "path",
    "table",
    "query",
    "options",
    "schema",
    "date_column",
    "partition_filter",
    "description",
    "expectations",
    // Tauro's Delta time travel keys, passed to the reader as options.
    "versionAsOf",
    "version",
    "timestampAsOf",
    "timestamp",
];

/// Every key an input may have: the base keys and Kafka's first-class keys.
fn keys() -> Vec<&'static str> {
    [&BASE_KEYS[..], &kafka::INPUT_KEYS[..]].concat()
}

/// Formats an input may have (`console` is a sink only).
const FORMATS: [&str; 11] = [
    "csv", "json", "parquet", "orc", "avro", "text", "delta", "table", "query", "kafka", "rate",
];

/// Builds every input; relative paths are taken against `input_path`.
pub(crate) fn build(
    root: &Node,
    input_path: &str,
    location: impl Fn(Loc) -> Location,
    diags: &mut Diags,
) -> IndexMap<String, InputConfig> {
    let mut out = IndexMap::new();
    let Some(map) = fields::root_map(root, "input", &["inputs", "input"], &keys(), diags) else {
        return out;
    };
    for (name, entry) in map {
        let what = format!("input '{name}'");
        let Some(f) = Fields::of(what, entry.key_loc, &entry.value, diags) else {
            continue;
        };
        f.check_keys(&keys(), diags);
        let Some(format) = format(&f, name, "input", &FORMATS, diags) else {
            continue;
        };
        let filepath = f
            .one_of(&["filepath", "path"], diags)
            .and_then(|(key, e)| f.text_of(key, e, diags))
            .map(|p| paths::join(input_path, p.trim()));
        let table = f.text("table", diags);
        let query = f.text("query", diags);
        let missing = match format {
            DataFormat::Table if table.is_none() => Some("table"),
            DataFormat::Query if query.is_none() => Some("query"),
            DataFormat::Table | DataFormat::Query | DataFormat::Kafka | DataFormat::Rate => None,
            _ if filepath.is_none() => Some("filepath"),
            _ => None,
        };
        if let Some(key) = missing {
            diags.error(
                entry.key_loc,
                format!("input '{name}' has format {format} but no `{key}`"),
            );
        }
        let mut options = f.string_map("options", diags);
        time_travel(&f, name, format, &mut options, diags);
        if matches!(format, DataFormat::Kafka | DataFormat::Rate) {
            stream_source(&f, name, format, diags);
        }
        let kafka = if format == DataFormat::Kafka {
            Some(kafka::input(&f, name, &mut options, entry.key_loc, diags))
        } else {
            kafka::not_kafka(&f, "input", name, format, &kafka::INPUT_KEYS, diags);
            None
        };
        // Spark option names are case-insensitive: `Header: false` also counts.
        if format == DataFormat::Csv && !options.keys().any(|k| k.eq_ignore_ascii_case("header")) {
            options.insert("header".to_owned(), "true".to_owned());
        }
        let input = InputConfig {
            name: name.clone(),
            format,
            filepath: if format.is_file_based() {
                filepath
            } else {
                None
            },
            table,
            query,
            options,
            schema: f.text("schema", diags),
            date_column: f.text("date_column", diags),
            partition_filter: f.text("partition_filter", diags),
            expectations: f
                .get("expectations")
                .map(|e| {
                    crate::expectations::parse(&format!("input '{name}'"), e, &location, diags)
                })
                .unwrap_or_default(),
            kafka,
            location: location(entry.key_loc),
        };
        out.insert(name.clone(), input);
    }
    out
}

/// Tauro's `versionAsOf`/`version` and `timestampAsOf`/`timestamp` (Delta only).
fn time_travel(
    f: &Fields<'_>,
    name: &str,
    format: DataFormat,
    options: &mut std::collections::BTreeMap<String, String>,
    diags: &mut Diags,
) {
    for (option, keys) in [
        ("versionAsOf", ["versionAsOf", "version"]),
        ("timestampAsOf", ["timestampAsOf", "timestamp"]),
    ] {
        let Some((key, entry)) = f.one_of(&keys, diags) else {
            continue;
        };
        if format != DataFormat::Delta {
            diags.error(
                entry.key_loc,
                format!("input '{name}': `{key}` only applies to format delta, not {format}"),
            );
            continue;
        }
        if let Some(value) = f.text_of(key, entry, diags) {
            options.insert(option.to_owned(), value);
        }
    }
}

/// The checks of a `kafka` or `rate` input: no `filepath` or `schema` (Spark fixes the
/// schema of both). Kafka's own keys are checked by [`kafka::input`].
fn stream_source(f: &Fields<'_>, name: &str, format: DataFormat, diags: &mut Diags) {
    for key in ["filepath", "path", "schema"] {
        if let Some(e) = f.get(key) {
            diags.error(
                e.key_loc,
                format!(
                    "input '{name}': format {format} takes no `{key}` (Spark fixes its location and schema)"
                ),
            );
        }
    }
}

/// The required `format` of a dataset, one of `allowed`.
pub(crate) fn format(
    f: &Fields<'_>,
    name: &str,
    kind: &str,
    allowed: &[&str],
    diags: &mut Diags,
) -> Option<DataFormat> {
    let Some(entry) = f.get("format") else {
        diags.error(
            f.loc,
            format!(
                "{kind} '{name}' has no `format` (expected one of: {})",
                allowed.join(", ")
            ),
        );
        return None;
    };
    let text = f.text_of("format", entry, diags)?;
    match DataFormat::parse(&text).filter(|d| allowed.contains(&d.as_str())) {
        Some(format) => Some(format),
        None => {
            diags.error(
                entry.key_loc,
                format!(
                    "{kind} '{name}': unknown format {}{} (expected one of: {})",
                    describe("format", &entry.value),
                    suggest::did_you_mean(&text, allowed.iter().copied()),
                    allowed.join(", ")
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::testing::{location, messages, yaml};

    fn build_inputs(text: &str) -> (IndexMap<String, InputConfig>, Vec<String>) {
        let mut diags = Diags::default();
        let out = build(&yaml(text), "s3://lake/raw", location, &mut diags);
        (out, messages(diags))
    }

    #[test]
    fn paths_options_and_time_travel() {
        let (inputs, errors) = build_inputs(
            "a:\n  format: csv\n  path: ./x.csv\n  options: {Header: false, sep: ';', n: 1, e: ~}\n\
             b:\n  format: delta\n  filepath: /abs/b\n  timestamp: '2025-01-01'\n\
             c:\n  format: text\n  filepath: gs://other/c\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(inputs["a"].filepath.as_deref(), Some("s3://lake/raw/x.csv"));
        assert_eq!(inputs["a"].options["Header"], "false");
        assert!(!inputs["a"].options.contains_key("header"));
        assert_eq!(inputs["a"].options["sep"], ";");
        assert_eq!(inputs["a"].options["n"], "1");
        assert_eq!(inputs["a"].options["e"], "");
        assert_eq!(inputs["b"].filepath.as_deref(), Some("/abs/b"));
        assert_eq!(inputs["b"].options["timestampAsOf"], "2025-01-01");
        assert_eq!(inputs["c"].filepath.as_deref(), Some("gs://other/c"));
    }

    #[test]
    fn problems() {
        let (_, errors) = build_inputs(
            "a:\n  filepath: x\nb:\n  format: csv\n  filepath: x\n  path: y\n  version: 3\n  options: [1]\n",
        );
        assert_eq!(
            errors,
            vec![
                "t.yaml:1: input 'a' has no `format` (expected one of: csv, json, parquet, orc, avro, text, delta, table, query, kafka, rate)",
                "t.yaml:6: input 'b' sets `filepath` and `path`; they mean the same, keep one",
                "t.yaml:7: input 'b': `version` only applies to format delta, not csv",
                "t.yaml:8: input 'b': `options` must be a mapping, found a list",
            ]
        );
    }

    #[test]
    fn kafka_and_rate_sources() {
        let (inputs, errors) = build_inputs(
            "k:\n  format: kafka\n  options: {kafka.bootstrap.servers: 'h:9092', subscribe: clicks}\n\
             r:\n  format: rate\n  options: {rowsPerSecond: 5}\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(inputs["k"].format, DataFormat::Kafka);
        assert_eq!(inputs["k"].filepath, None);
        assert_eq!(inputs["k"].options["subscribe"], "clicks");
        assert_eq!(inputs["r"].format, DataFormat::Rate);
        assert_eq!(inputs["r"].options["rowsPerSecond"], "5");
        assert_eq!(inputs["r"].filepath, None);
    }

    #[test]
    fn kafka_and_rate_problems() {
        let (_, errors) = build_inputs(
            "k:\n  format: kafka\n  options: {subscribe: a, assign: b}\n\
             n:\n  format: kafka\n\
             r:\n  format: rate\n  filepath: x\n  schema: 'a INT'\n\
             c:\n  format: console\n",
        );
        assert_eq!(
            errors,
            vec![
                "t.yaml:3: kafka input 'k' needs exactly one of `topics`, `topic_pattern`, `assign` (found options.subscribe, options.assign)",
                "t.yaml:3: kafka input 'k' needs `bootstrap_servers` (or the option `kafka.bootstrap.servers`)",
                "t.yaml:4: kafka input 'n' needs exactly one of `topics`, `topic_pattern`, `assign` (found none)",
                "t.yaml:4: kafka input 'n' needs `bootstrap_servers` (or the option `kafka.bootstrap.servers`)",
                "t.yaml:8: input 'r': format rate takes no `filepath` (Spark fixes its location and schema)",
                "t.yaml:9: input 'r': format rate takes no `schema` (Spark fixes its location and schema)",
                "t.yaml:11: input 'c': unknown format 'console' (expected one of: csv, json, parquet, orc, avro, text, delta, table, query, kafka, rate)",
            ]
        );
    }
}
