//! Rows written, measured by Spark in the write job itself.
//!
//! Spark Connect reports no plan metrics for write commands (`ExecutionInfo::metrics` is
//! empty after `save`/`saveAsTable`/`insertInto`), but it does return observed metrics of
//! the command's query. So the frame is wrapped in an observation `count(1) AS rows` before
//! it is written: the count is computed by the write job, no extra job runs. When the write
//! does not run (mode `ignore` on an existing destination) Spark reports the observation
//! with 0 rows. A server that reports no observed metrics gives `None`.

use std::sync::atomic::{AtomicU64, Ordering};

use spark_connect::session::ExecutionInfo;
use spark_connect::{DataFrame, functions, lit};
use spark_connect_proto::expression::literal::LiteralType;

/// Prefix of the observations that count written rows.
const OBSERVATION: &str = "tauro_rows_written";
/// Their only metric.
const ROWS: &str = "rows";
/// Makes each observation name unique, so a concurrent action on the same session can
/// never lend its count to another write (at worst the count is missing).
static NEXT: AtomicU64 = AtomicU64::new(1);

/// `df` with a row-counting observation attached, and the observation's name.
pub(crate) fn observe_rows(df: &DataFrame) -> (DataFrame, String) {
    let name = format!("{OBSERVATION}_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let count = functions::count(lit(1)).alias(ROWS);
    (df.observe(&name, vec![count.expression().clone()]), name)
}

/// The rows counted by the observation `name` during the session's last action, if
/// reported.
pub(crate) fn rows_written(info: Option<&ExecutionInfo>, name: &str) -> Option<u64> {
    let observed = info?.observed_metrics.iter().find(|m| m.name == name)?;
    let index = observed.keys.iter().position(|k| k == ROWS).unwrap_or(0);
    match observed.values.get(index)?.literal_type.as_ref()? {
        LiteralType::Long(n) => u64::try_from(*n).ok(),
        LiteralType::Integer(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}
