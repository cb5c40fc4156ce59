//! The output document → [`OutputConfig`]s.

use indexmap::IndexMap;

use crate::diag::Diags;
use crate::fields::{self, Fields, describe};
use crate::formats::WRITE_MODE_NAMES;
use crate::inputs::format;
use crate::kafka;
use crate::model::{DataFormat, Location, OutputConfig, WriteMode};
use crate::paths;
use crate::suggest;
use crate::tree::{Loc, Node};

/// The keys of every output (the format's own first-class keys are added by [`keys`]).
const BASE_KEYS: [&str; 16] = [
    "format",
    "filepath",
    "path",
    "table",
    "table_format",
    "write_mode",
    "mode",
    "partition_by",
    "partition",
    "partition_col",
    "partition_columns",
    "options",
    "description",
    // Tauro's path parts: <output_path>/<env>/<schema>/<sub_folder>/<table_name>.
    "schema",
    "sub_folder",
    "table_name",
];

/// Every key an output may have: the base keys and Kafka's and Delta's first-class keys.
fn keys() -> Vec<&'static str> {
    [
        &BASE_KEYS[..],
        &kafka::OUTPUT_KEYS[..],
        &crate::delta::OUTPUT_KEYS[..],
    ]
    .concat()
}

const FORMATS: [&str; 10] = [
    "parquet", "csv", "json", "orc", "avro", "text", "delta", "table", "kafka", "console",
];
const TABLE_FORMATS: [&str; 7] = ["parquet", "csv", "json", "orc", "avro", "text", "delta"];

/// Builds every output; relative paths are taken against `output_path`, missing ones are
/// derived from three-part names under `<output_path>/<env>/`.
pub(crate) fn build(
    root: &Node,
    output_path: &str,
    env: &str,
    location: impl Fn(Loc) -> Location,
    diags: &mut Diags,
) -> IndexMap<String, OutputConfig> {
    let mut out = IndexMap::new();
    let Some(map) = fields::root_map(root, "output", &["outputs", "output"], &keys(), diags) else {
        return out;
    };
    for (name, entry) in map {
        let what = format!("output '{name}'");
        let Some(f) = Fields::of(what, entry.key_loc, &entry.value, diags) else {
            continue;
        };
        f.check_keys(&keys(), diags);
        let Some(format) = format(&f, name, "output", &FORMATS, diags) else {
            continue;
        };
        let table = f.text("table", diags);
        let filepath = f
            .one_of(&["filepath", "path"], diags)
            .and_then(|(key, e)| f.text_of(key, e, diags))
            .map(|p| paths::join(output_path, p.trim()));
        let filepath = match (format, filepath) {
            (DataFormat::Kafka | DataFormat::Console, _) => None,
            (_, Some(p)) => Some(p),
            (DataFormat::Table, None) => {
                if table.is_none() {
                    diags.error(
                        entry.key_loc,
                        format!("output '{name}' has format table but no `table`"),
                    );
                }
                None
            }
            (_, None) => derived_path(&f, name, output_path, env, diags),
        };
        let table_format = f.get("table_format").and_then(|e| {
            let text = f.text_of("table_format", e, diags)?;
            let parsed = DataFormat::parse(&text).filter(|d| TABLE_FORMATS.contains(&d.as_str()));
            if parsed.is_none() {
                diags.error(
                    e.key_loc,
                    format!(
                        "output '{name}': unknown table format {}{} (expected one of: {})",
                        describe("table_format", &e.value),
                        suggest::did_you_mean(&text, TABLE_FORMATS),
                        TABLE_FORMATS.join(", ")
                    ),
                );
            }
            parsed
        });
        let mut options = f.string_map("options", diags);
        if matches!(format, DataFormat::Kafka | DataFormat::Console) {
            stream_sink(&f, name, format, diags);
        }
        let kafka = if format == DataFormat::Kafka {
            Some(kafka::output(&f, name, &mut options, entry.key_loc, diags))
        } else {
            kafka::not_kafka(&f, "output", name, format, &kafka::OUTPUT_KEYS, diags);
            None
        };
        // Spark option names are case-insensitive: `Header: false` also counts.
        if format == DataFormat::Csv && !options.keys().any(|k| k.eq_ignore_ascii_case("header")) {
            options.insert("header".to_owned(), "true".to_owned());
        }
        let partition_by = f
            .one_of(
                &[
                    "partition_by",
                    "partition",
                    "partition_col",
                    "partition_columns",
                ],
                diags,
            )
            .map(|(key, e)| {
                f.names_of(key, e, diags)
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect()
            })
            .unwrap_or_default();
        let write_mode = write_mode(&f, name, diags);
        let stored = match (format, table_format) {
            (DataFormat::Table, Some(stored)) => stored,
            _ => format,
        };
        let delta = crate::delta::output(
            &f,
            name,
            stored,
            write_mode,
            &mut options,
            entry.key_loc,
            diags,
        );
        let output = OutputConfig {
            name: name.clone(),
            format,
            filepath,
            table,
            table_format,
            write_mode,
            partition_by,
            options,
            kafka,
            delta,
            location: location(entry.key_loc),
        };
        out.insert(name.clone(), output);
    }
    out
}

/// The checks of a `kafka` or `console` output: no path or table. Kafka's own keys are
/// checked by [`kafka::output`].
fn stream_sink(f: &Fields<'_>, name: &str, format: DataFormat, diags: &mut Diags) {
    for key in ["filepath", "path", "table", "table_format"] {
        if let Some(e) = f.get(key) {
            diags.error(
                e.key_loc,
                format!("output '{name}': format {format} takes no `{key}`"),
            );
        }
    }
}

/// `write_mode` (alias `mode`); an unknown mode is an error, never silently `overwrite`.
fn write_mode(f: &Fields<'_>, name: &str, diags: &mut Diags) -> WriteMode {
    let Some((key, entry)) = f.one_of(&["write_mode", "mode"], diags) else {
        return WriteMode::Overwrite;
    };
    let Some(text) = f.text_of(key, entry, diags) else {
        return WriteMode::Overwrite;
    };
    WriteMode::parse(&text).unwrap_or_else(|| {
        diags.error(
            entry.key_loc,
            format!(
                "output '{name}': unknown write mode {}{} (expected one of: {})",
                describe(key, &entry.value),
                suggest::did_you_mean(&text, WRITE_MODE_NAMES),
                WRITE_MODE_NAMES.join(", ")
            ),
        );
        WriteMode::Overwrite
    })
}

/// Tauro's `<output_path>/<env>/<schema>/<sub_folder>/<table>` from a three-part name
/// `schema.sub_folder.table` (or `schema/sub_folder/table`, optional `prefix:`), with the
/// `schema`, `sub_folder` and `table_name` keys overriding the parts.
fn derived_path(
    f: &Fields<'_>,
    name: &str,
    output_path: &str,
    env: &str,
    diags: &mut Diags,
) -> Option<String> {
    let parts = three_parts(name);
    let part = |key: &str, i: usize, diags: &mut Diags| {
        f.text(key, diags)
            .or_else(|| parts.as_ref().map(|p| p[i].clone()))
    };
    let schema = part("schema", 0, diags);
    let sub_folder = part("sub_folder", 1, diags);
    let table = part("table_name", 2, diags);
    let (Some(schema), Some(table)) = (schema, table) else {
        diags.error_hint(
            f.loc,
            format!("output '{name}' has no `filepath`"),
            "set `filepath` (relative to output_path), or name the output schema.sub_folder.table to write under <output_path>/<env>/schema/sub_folder/table",
        );
        return None;
    };
    let mut segments = vec![env.to_owned(), schema];
    segments.extend(sub_folder.filter(|s| !s.is_empty()));
    segments.push(table);
    for segment in &segments[1..] {
        let valid = !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            diags.error(
                f.loc,
                format!(
                    "output '{name}': path part '{segment}' may only contain letters, digits, '_' and '-'"
                ),
            );
            return None;
        }
    }
    Some(paths::join(output_path, &segments.join("/")))
}

fn three_parts(name: &str) -> Option<[String; 3]> {
    let name = name.split_once(':').map_or(name, |(_, rest)| rest);
    let parts: Vec<&str> = name.split(['.', '/']).filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [a, b, c] => Some([(*a).to_owned(), (*b).to_owned(), (*c).to_owned()]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::testing::{location, messages, yaml};

    fn build_one(text: &str) -> (IndexMap<String, OutputConfig>, Vec<String>) {
        let mut diags = Diags::default();
        let out = build(&yaml(text), "/out", "dev", location, &mut diags);
        (out, messages(diags))
    }

    #[test]
    fn tauro_derived_paths() {
        let (out, errors) = build_one(
            "silver.orders.clean:\n  format: delta\n\
             gold/sales/daily:\n  format: parquet\n\
             uc:ref.geo.countries:\n  format: parquet\n\
             totals:\n  format: parquet\n  schema: gold\n  table_name: totals\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let path = |k: &str| out[k].filepath.clone().unwrap_or_default();
        assert_eq!(path("silver.orders.clean"), "/out/dev/silver/orders/clean");
        assert_eq!(path("gold/sales/daily"), "/out/dev/gold/sales/daily");
        assert_eq!(path("uc:ref.geo.countries"), "/out/dev/ref/geo/countries");
        assert_eq!(path("totals"), "/out/dev/gold/totals");
    }

    #[test]
    fn partition_aliases_and_conflicts() {
        let (out, errors) = build_one("a:\n  format: csv\n  filepath: a\n  partition_col: day\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(out["a"].partition_by, vec!["day"]);
        let (_, errors) =
            build_one("a:\n  format: csv\n  filepath: a\n  partition: [x]\n  partition_by: [y]\n");
        assert_eq!(
            errors,
            vec![
                "t.yaml:4: output 'a' sets `partition_by` and `partition`; they mean the same, keep one"
            ]
        );
    }

    #[test]
    fn bad_path_parts_and_table_outputs() {
        let (_, errors) = build_one("a.b c.d:\n  format: parquet\nt:\n  format: table\n");
        assert_eq!(
            errors,
            vec![
                "t.yaml:1: output 'a.b c.d': path part 'b c' may only contain letters, digits, '_' and '-'",
                "t.yaml:3: output 't' has format table but no `table`",
            ]
        );
    }

    #[test]
    fn kafka_and_console_sinks() {
        let (out, errors) = build_one(
            "k:\n  format: kafka\n  options: {kafka.bootstrap.servers: 'h:9092', topic: t}\n\
             c:\n  format: console\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(out["k"].format, DataFormat::Kafka);
        assert_eq!(out["k"].filepath, None);
        assert_eq!(out["k"].options["topic"], "t");
        assert_eq!(out["c"].format, DataFormat::Console);
        assert_eq!(out["c"].filepath, None);
    }

    #[test]
    fn kafka_and_console_problems() {
        let (_, errors) = build_one(
            "k:\n  format: kafka\n  options: {kafka.bootstrap.servers: 'h:9092'}\n\
             n:\n  format: kafka\n\
             c:\n  format: console\n  filepath: x\n\
             r:\n  format: rate\n",
        );
        assert_eq!(
            errors,
            vec![
                "t.yaml:3: kafka output 'k' needs `topic` (or the option `topic`)",
                "t.yaml:4: kafka output 'n' needs `bootstrap_servers` (or the option `kafka.bootstrap.servers`)",
                "t.yaml:4: kafka output 'n' needs `topic` (or the option `topic`)",
                "t.yaml:8: output 'c': format console takes no `filepath`",
                "t.yaml:10: output 'r': unknown format 'rate' (expected one of: parquet, csv, json, orc, avro, text, delta, table, kafka, console)",
            ]
        );
    }
}
