//! Delta Lake outputs: first-class keys and the `merge` write mode.
//!
//! ```yaml
//! customers:
//!   format: delta
//!   filepath: silver/customers
//!   write_mode: merge            # upsert on merge_keys (SQL MERGE INTO)
//!   merge_keys: [customer_id]
//!   merge_schema: true           # → option mergeSchema: new columns are added
//!   table_properties: {delta.appendOnly: "false", owner: sales}
//! events:
//!   format: delta
//!   filepath: gold/events
//!   partition_by: [event_date]
//!   replace_where: "event_date >= '2025-01-01'"   # → option replaceWhere (overwrite only)
//! ```
//!
//! `merge_schema`, `overwrite_schema` and `replace_where` become the Delta writer options
//! `mergeSchema`, `overwriteSchema` and `replaceWhere` (giving one both ways is an error);
//! `table_properties` are set on the table after each write (`ALTER TABLE … SET
//! TBLPROPERTIES`); `merge_keys` are the keys of `write_mode: merge`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diag::Diags;
use crate::fields::Fields;
use crate::model::{DataFormat, WriteMode};
use crate::tree::Loc;

/// The first-class keys of a Delta output.
pub(crate) const OUTPUT_KEYS: [&str; 5] = [
    "merge_keys",
    "merge_schema",
    "overwrite_schema",
    "replace_where",
    "table_properties",
];

/// What a Delta output adds to the writer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeltaOutput {
    /// `merge_keys`: the columns `write_mode: merge` matches rows on.
    pub merge_keys: Vec<String>,
    /// `table_properties`: set on the table after each write.
    pub table_properties: BTreeMap<String, String>,
}

/// Boolean keys and the writer option each becomes.
const FLAGS: [(&str, &str); 2] = [
    ("merge_schema", "mergeSchema"),
    ("overwrite_schema", "overwriteSchema"),
];

/// Reads the Delta keys of output `name` (stored format `format`, mode `mode`), moving the
/// writer options into `options`. Delta keys on another format, `merge` without keys or on
/// another format, and `replace_where` outside overwrite are errors at `loc` or the key.
pub(crate) fn output(
    f: &Fields<'_>,
    name: &str,
    format: DataFormat,
    mode: WriteMode,
    options: &mut BTreeMap<String, String>,
    loc: Loc,
    diags: &mut Diags,
) -> Option<DeltaOutput> {
    if format != DataFormat::Delta {
        for key in OUTPUT_KEYS {
            if let Some(e) = f.get(key) {
                diags.error(
                    e.key_loc,
                    format!("output '{name}': `{key}` only applies to Delta outputs, not {format}"),
                );
            }
        }
        if mode == WriteMode::Merge {
            diags.error_hint(
                loc,
                format!("output '{name}': write_mode merge needs a Delta output, not {format}"),
                "MERGE INTO upserts into Delta tables: use `format: delta` (or `table_format: delta`)",
            );
        }
        return None;
    }
    let mut set_option = |key: &str, option: &str, value: String, at: Loc, diags: &mut Diags| {
        if options.keys().any(|k| k.eq_ignore_ascii_case(option)) {
            diags.error(
                at,
                format!("output '{name}': `{key}` and options.{option} both given; keep one"),
            );
        } else {
            options.insert(option.to_owned(), value);
        }
    };
    for (key, option) in FLAGS {
        if let Some(e) = f.get(key) {
            let value = f.boolean(key, false, diags);
            set_option(key, option, value.to_string(), e.key_loc, diags);
        }
    }
    if let Some(e) = f.get("replace_where")
        && let Some(predicate) = f.text_of("replace_where", e, diags)
    {
        if mode == WriteMode::Overwrite {
            set_option("replace_where", "replaceWhere", predicate, e.key_loc, diags);
        } else {
            diags.error(
                e.key_loc,
                format!(
                    "output '{name}': `replace_where` replaces the matching rows of an overwrite; \
                     write_mode is {mode}"
                ),
            );
        }
    }
    let merge_keys: Vec<String> = f
        .get("merge_keys")
        .map(|e| {
            f.names_of("merge_keys", e, diags)
                .into_iter()
                .map(|(n, _)| n)
                .collect()
        })
        .unwrap_or_default();
    match (mode, merge_keys.is_empty()) {
        (WriteMode::Merge, true) => diags.error_hint(
            loc,
            format!("output '{name}': write_mode merge needs `merge_keys`"),
            "the columns that identify a row, e.g. `merge_keys: [customer_id]`",
        ),
        (WriteMode::Merge, false) | (_, true) => {}
        (_, false) => {
            if let Some(e) = f.get("merge_keys") {
                diags.error(
                    e.key_loc,
                    format!(
                        "output '{name}': `merge_keys` apply to write_mode merge; write_mode is {mode}"
                    ),
                );
            }
        }
    }
    Some(DeltaOutput {
        merge_keys,
        table_properties: f.string_map("table_properties", diags),
    })
}
