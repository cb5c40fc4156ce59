//! Data quality expectations of a node's output (`expectations:`).
//!
//! ```yaml
//! expectations:
//!   - {name: positive_amount, expect: "amount >= 0", action: drop}
//!   - {name: ids, not_null: [order_id, customer_id]}          # action: fail (the default)
//!   - {name: status, accepted_values: {column: status, values: [new, shipped]}, action: warn}
//!   - {name: quantity, range: {column: quantity, min: 1, max: 1000}}
//!   - {name: one_row_per_order, unique: [order_id]}
//!   - {name: not_empty, row_count: {min: 1}}
//! ```

use serde::Serialize;

use crate::diag::Diags;
use crate::fields::Fields;
use crate::model::Location;
use crate::tree::{Entry, Kind, Loc};

/// What happens when rows violate an expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectationAction {
    /// Record and continue: everything is written.
    Warn,
    /// Filter the violating rows out of what is written.
    Drop,
    /// Fail the node before anything is written (the default).
    Fail,
}

impl ExpectationAction {
    /// `warn`, `drop` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warn => "warn",
            Self::Drop => "drop",
            Self::Fail => "fail",
        }
    }
}

/// What an expectation checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ExpectationCheck {
    /// A Spark SQL boolean expression every row must satisfy (NULL counts as a violation).
    Expr {
        /// The expression.
        expr: String,
    },
    /// These columns are never NULL.
    NotNull {
        /// The columns.
        columns: Vec<String>,
    },
    /// The column only holds these values (NULL allowed).
    AcceptedValues {
        /// The column.
        column: String,
        /// The values, as written.
        values: Vec<serde_json::Value>,
    },
    /// The column is within `[min, max]` (NULL allowed).
    Range {
        /// The column.
        column: String,
        /// Lower bound.
        min: Option<f64>,
        /// Upper bound.
        max: Option<f64>,
    },
    /// No two rows share these columns' values (a table-level check: `drop` acts as `warn`).
    Unique {
        /// The columns.
        columns: Vec<String>,
    },
    /// The newest value of a timestamp column is at most `max_age_secs` old: relative to
    /// the end of the run's window when it has one, else to now (table level).
    Freshness {
        /// The timestamp (or date) column.
        column: String,
        /// The largest age, in seconds.
        max_age_secs: u64,
    },
    /// Every non-NULL value of `column` exists in `to_column` of the dataset `to` (an input
    /// of the node; table level: `drop` acts as `warn`).
    Referential {
        /// The column checked.
        column: String,
        /// The dataset holding the keys (one of the node's inputs).
        to: String,
        /// Its key column (default: `column`).
        to_column: String,
    },
    /// A SQL query returning the failing rows, over the checked rows as the view `__checked`
    /// (table level).
    Sql {
        /// The query.
        query: String,
    },
    /// The number of rows is within `[min, max]` (table-level: `drop` acts as `warn`).
    RowCount {
        /// Fewest rows.
        min: Option<u64>,
        /// Most rows.
        max: Option<u64>,
    },
}

impl ExpectationCheck {
    /// `expr`, `not_null`, `accepted_values`, `range`, `unique`, `row_count`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Expr { .. } => "expr",
            Self::NotNull { .. } => "not_null",
            Self::AcceptedValues { .. } => "accepted_values",
            Self::Range { .. } => "range",
            Self::Unique { .. } => "unique",
            Self::RowCount { .. } => "row_count",
            Self::Freshness { .. } => "freshness",
            Self::Referential { .. } => "referential",
            Self::Sql { .. } => "sql",
        }
    }

    /// True for checks of single rows (they can drop rows).
    pub fn is_row_level(&self) -> bool {
        !matches!(
            self,
            Self::Unique { .. }
                | Self::RowCount { .. }
                | Self::Freshness { .. }
                | Self::Referential { .. }
                | Self::Sql { .. }
        )
    }
}

/// One expectation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expectation {
    /// Its name (unique within the node).
    pub name: String,
    /// What it checks.
    pub check: ExpectationCheck,
    /// What a violation does.
    pub action: ExpectationAction,
    /// Where it is defined.
    pub location: Location,
}

const CHECKS: [&str; 9] = [
    "referential",
    "sql",
    "freshness",
    "expect",
    "not_null",
    "accepted_values",
    "range",
    "unique",
    "row_count",
];
const KEYS: [&str; 11] = [
    "referential",
    "sql",
    "freshness",
    "name",
    "action",
    "expect",
    "not_null",
    "accepted_values",
    "range",
    "unique",
    "row_count",
];

/// The `expectations:` of `owner` (e.g. `node 'clean_orders'`).
pub(crate) fn parse(
    owner: &str,
    entry: &Entry,
    location: &impl Fn(Loc) -> Location,
    diags: &mut Diags,
) -> Vec<Expectation> {
    let Kind::Seq(items) = &entry.value.kind else {
        diags.error(
            entry.key_loc,
            format!("{owner}: `expectations` must be a list of checks"),
        );
        return Vec::new();
    };
    let mut out: Vec<Expectation> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let what = format!("{owner}: expectation #{}", i + 1);
        let Some(f) = Fields::of(what, item.loc, item, diags) else {
            continue;
        };
        f.check_keys(&KEYS, diags);
        let present: Vec<(&str, &Entry)> = CHECKS
            .iter()
            .filter_map(|k| f.get(k).map(|e| (*k, e)))
            .collect();
        let [(kind, e)] = present.as_slice() else {
            diags.error_hint(
                item.loc,
                format!("{}: give exactly one check", f.what),
                format!("one of: {}", CHECKS.join(", ")),
            );
            continue;
        };
        let (kind, e) = (*kind, *e);
        let name = f
            .text("name", diags)
            .unwrap_or_else(|| format!("{kind}_{}", i + 1));
        if out.iter().any(|x| x.name == name) {
            diags.error(
                item.loc,
                format!("{owner}: two expectations are named '{name}'"),
            );
        }
        let action = match f.text("action", diags).as_deref().map(str::trim) {
            None | Some("fail") => ExpectationAction::Fail,
            Some("warn") => ExpectationAction::Warn,
            Some("drop") => ExpectationAction::Drop,
            Some(other) => {
                diags.error_hint(
                    item.loc,
                    format!("{owner}: expectation '{name}': unknown action '{other}'"),
                    "use warn (record and continue), drop (filter the rows out) or fail",
                );
                continue;
            }
        };
        let Some(check) = check(&f, kind, e, diags) else {
            continue;
        };
        out.push(Expectation {
            name,
            check,
            action,
            location: location(item.loc),
        });
    }
    out
}

fn check(f: &Fields<'_>, kind: &str, e: &Entry, diags: &mut Diags) -> Option<ExpectationCheck> {
    match kind {
        "expect" => f
            .text_of(kind, e, diags)
            .filter(|t| !t.trim().is_empty())
            .map(|expr| ExpectationCheck::Expr { expr }),
        "not_null" => {
            columns(f, kind, e, diags).map(|columns| ExpectationCheck::NotNull { columns })
        }
        "unique" => columns(f, kind, e, diags).map(|columns| ExpectationCheck::Unique { columns }),
        "accepted_values" => {
            let g = Fields::of(
                format!("{}: accepted_values", f.what),
                e.key_loc,
                &e.value,
                diags,
            )?;
            g.check_keys(&["column", "values"], diags);
            let column = g.text("column", diags)?;
            let values = match g.get("values").map(|v| &v.value.kind) {
                Some(Kind::Seq(items)) if !items.is_empty() => {
                    items.iter().map(crate::tree::Node::to_json).collect()
                }
                _ => {
                    diags.error(
                        e.key_loc,
                        format!(
                            "{}: accepted_values needs a non-empty `values` list",
                            f.what
                        ),
                    );
                    return None;
                }
            };
            Some(ExpectationCheck::AcceptedValues { column, values })
        }
        "range" => {
            let g = Fields::of(format!("{}: range", f.what), e.key_loc, &e.value, diags)?;
            g.check_keys(&["column", "min", "max"], diags);
            let column = g.text("column", diags)?;
            let num = |k: &str, diags: &mut Diags| -> Option<f64> {
                let entry = g.get(k)?;
                let v = match &entry.value.kind {
                    Kind::Num(n) => n.as_f64(),
                    Kind::Str(s) => s.trim().parse().ok(),
                    Kind::Null | Kind::Bool(_) | Kind::Seq(_) | Kind::Map(_) => None,
                };
                if v.is_none() {
                    g.expected(k, entry, "a number", diags);
                }
                v
            };
            let (min, max) = (num("min", diags), num("max", diags));
            if min.is_none() && max.is_none() {
                diags.error(
                    e.key_loc,
                    format!("{}: range needs `min`, `max` or both", f.what),
                );
                return None;
            }
            if let (Some(a), Some(b)) = (min, max)
                && a > b
            {
                diags.error(
                    e.key_loc,
                    format!("{}: range min {a} is above max {b}", f.what),
                );
                return None;
            }
            Some(ExpectationCheck::Range { column, min, max })
        }
        "sql" => f
            .text_of(kind, e, diags)
            .filter(|t| !t.trim().is_empty())
            .map(|query| ExpectationCheck::Sql { query }),
        "referential" => {
            let g = Fields::of(
                format!("{}: referential", f.what),
                e.key_loc,
                &e.value,
                diags,
            )?;
            g.check_keys(&["column", "to", "to_column"], diags);
            let column = g.text("column", diags)?;
            let to = g.text("to", diags)?;
            let to_column = g.text("to_column", diags).unwrap_or_else(|| column.clone());
            Some(ExpectationCheck::Referential {
                column,
                to,
                to_column,
            })
        }
        "freshness" => {
            let g = Fields::of(format!("{}: freshness", f.what), e.key_loc, &e.value, diags)?;
            g.check_keys(&["column", "max_age"], diags);
            let column = g.text("column", diags)?;
            let age = g.text("max_age", diags)?;
            let Some(max_age) = age_secs(&age) else {
                diags.error_hint(
                    e.key_loc,
                    format!("{}: freshness max_age '{age}' is not a duration", f.what),
                    "write e.g. 36h, 2d, 90m or 3600 (seconds)",
                );
                return None;
            };
            Some(ExpectationCheck::Freshness {
                column,
                max_age_secs: max_age,
            })
        }
        "row_count" => {
            let g = Fields::of(format!("{}: row_count", f.what), e.key_loc, &e.value, diags)?;
            g.check_keys(&["min", "max"], diags);
            let min = g.count("min", 0, diags).map(u64::from);
            let max = g.count("max", 0, diags).map(u64::from);
            if min.is_none() && max.is_none() {
                diags.error(
                    e.key_loc,
                    format!("{}: row_count needs `min`, `max` or both", f.what),
                );
                return None;
            }
            Some(ExpectationCheck::RowCount { min, max })
        }
        _ => None,
    }
}

/// `3600`, `90m`, `36h`, `2d`, `1w` → seconds.
fn age_secs(text: &str) -> Option<u64> {
    let t = text.trim();
    let (n, unit) = t
        .find(|c: char| !c.is_ascii_digit())
        .map_or((t, ""), |i| (&t[..i], t[i..].trim()));
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    n.checked_mul(factor)
}

fn columns(f: &Fields<'_>, key: &str, e: &Entry, diags: &mut Diags) -> Option<Vec<String>> {
    let cols: Vec<String> = f
        .names_of(key, e, diags)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    if cols.is_empty() {
        diags.error(
            e.key_loc,
            format!("{}: `{key}` needs at least one column", f.what),
        );
        return None;
    }
    Some(cols)
}
