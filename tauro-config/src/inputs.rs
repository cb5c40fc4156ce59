//! The input document → [`InputConfig`]s.

use indexmap::IndexMap;

use crate::diag::Diags;
use crate::fields::{self, Fields, describe};
use crate::formats::FORMAT_NAMES;
use crate::model::{DataFormat, InputConfig, Location};
use crate::paths;
use crate::suggest;
use crate::tree::{Loc, Node};

const KEYS: [&str; 14] = [
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
    // Tauro's Delta time travel keys, passed to the reader as options.
    "versionAsOf",
    "version",
    "timestampAsOf",
    "timestamp",
];

/// Builds every input; relative paths are taken against `input_path`.
pub(crate) fn build(
    root: &Node,
    input_path: &str,
    location: impl Fn(Loc) -> Location,
    diags: &mut Diags,
) -> IndexMap<String, InputConfig> {
    let mut out = IndexMap::new();
    let Some(map) = fields::root_map(root, "input", &["inputs", "input"], &KEYS, diags) else {
        return out;
    };
    for (name, entry) in map {
        let what = format!("input '{name}'");
        let Some(f) = Fields::of(what, entry.key_loc, &entry.value, diags) else {
            continue;
        };
        f.check_keys(&KEYS, diags);
        let Some(format) = format(&f, name, "input", &FORMAT_NAMES, diags) else {
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
            DataFormat::Table | DataFormat::Query => None,
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
                "t.yaml:1: input 'a' has no `format` (expected one of: csv, json, parquet, orc, avro, text, delta, table, query)",
                "t.yaml:6: input 'b' sets `filepath` and `path`; they mean the same, keep one",
                "t.yaml:7: input 'b': `version` only applies to format delta, not csv",
                "t.yaml:8: input 'b': `options` must be a mapping, found a list",
            ]
        );
    }
}
