//! Delta Lake: the `merge` write mode (SQL `MERGE INTO`), table properties after a write, and
//! the maintenance statements (`VACUUM`, `OPTIMIZE`, `DESCRIBE HISTORY`).
//!
//! Sail 0.7 writes, reads (with time travel) and merges Delta tables, and sets table properties
//! on a catalog table, but has no `VACUUM`, `OPTIMIZE` nor `DESCRIBE HISTORY`: those are
//! refused on it with [`Error::EngineUnsupported`] before anything is sent.
#![expect(
    clippy::result_large_err,
    reason = "the closure returns the client's own `SparkError`, which is large; it is converted at once"
)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use tauro_config::{EngineKind, OutputConfig};

use crate::error::{Error, Result};
use crate::session::Session;
use crate::sql::{quote_identifier, quote_qualified, string_literal};

/// Names of the temporary tables and views made here (unique in this process).
static NEXT: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "__tauro_{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The temporary view a merge reads the rows of output `output` from.
pub(crate) fn source_view(output: &str) -> String {
    let clean: String = output
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("__tauro_merge_{clean}")
}

/// The SQL name of an output's Delta table: ``delta.`<path>` `` for a path, else its table.
pub fn target(output: &OutputConfig) -> Option<String> {
    match (&output.filepath, &output.table) {
        (Some(path), _) => Some(format!("delta.{}", quote_identifier(path))),
        (None, Some(table)) => Some(quote_qualified(table)),
        (None, None) => None,
    }
}

/// `MERGE INTO <target> USING <source> ON <keys equal> WHEN MATCHED THEN UPDATE SET * WHEN NOT
/// MATCHED THEN INSERT *`.
pub fn merge_statement(target: &str, source: &str, keys: &[String]) -> String {
    let on: Vec<String> = keys
        .iter()
        .map(|k| {
            let k = quote_identifier(k);
            format!("t.{k} = s.{k}")
        })
        .collect();
    format!(
        "MERGE INTO {target} AS t USING {source} AS s ON {} \
         WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *",
        on.join(" AND ")
    )
}

/// `ALTER TABLE <table> SET TBLPROPERTIES ('k' = 'v', …)`.
pub fn properties_statement(table: &str, properties: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = properties
        .iter()
        .map(|(k, v)| format!("{} = {}", string_literal(k), string_literal(v)))
        .collect();
    format!(
        "ALTER TABLE {table} SET TBLPROPERTIES ({})",
        pairs.join(", ")
    )
}

/// True when a Delta table is at `target` (it analyses; nothing runs).
pub(crate) async fn exists(session: &Session, target: &str) -> bool {
    match session
        .sql(&format!("SELECT * FROM {target} LIMIT 0"))
        .await
    {
        Ok(frame) => frame.schema_fields().await.is_ok(),
        Err(_) => false,
    }
}

/// Upserts the rows of the view `source` into `target` on `keys`; with `merge_schema`, new
/// columns of the source are added to the table (Spark's schema auto-merge for this session).
pub(crate) async fn merge(
    session: &Session,
    target: &str,
    source: &str,
    keys: &[String],
    merge_schema: bool,
) -> Result<()> {
    if merge_schema && session.engine() == EngineKind::Spark {
        session
            .set_conf("spark.databricks.delta.schema.autoMerge.enabled", "true")
            .await?;
    }
    session
        .execute(&merge_statement(target, source, keys))
        .await
}

/// Sets `properties` on the Delta table of `output`. Sail alters only catalog tables: a path
/// is registered under a temporary name for the statement, then unregistered (the files stay).
pub(crate) async fn set_properties(
    session: &Session,
    output: &OutputConfig,
    properties: &BTreeMap<String, String>,
) -> Result<()> {
    if properties.is_empty() {
        return Ok(());
    }
    match (&output.table, &output.filepath, session.engine()) {
        (Some(table), _, _) => {
            session
                .execute(&properties_statement(&quote_qualified(table), properties))
                .await
        }
        (None, Some(path), EngineKind::Sail) => {
            let name = unique("props");
            session
                .execute(&format!(
                    "CREATE TABLE {name} USING delta LOCATION {}",
                    string_literal(path)
                ))
                .await?;
            let set = session
                .execute(&properties_statement(&name, properties))
                .await;
            let dropped = session.execute(&format!("DROP TABLE {name}")).await;
            set.and(dropped)
        }
        (None, Some(_), EngineKind::Spark) => {
            let table = target(output).unwrap_or_default();
            session
                .execute(&properties_statement(&table, properties))
                .await
        }
        (None, None, _) => Ok(()),
    }
}

/// A Delta maintenance statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Maintenance {
    /// `VACUUM`: delete files no longer referenced and older than the retention.
    Vacuum {
        /// `RETAIN <hours> HOURS` (Delta's default, 7 days, when `None`).
        retain_hours: Option<f64>,
        /// `DRY RUN`: list what would be deleted.
        dry_run: bool,
    },
    /// `OPTIMIZE`: compact small files (optionally of the rows matching `filter`, clustered
    /// by `zorder_by`).
    Optimize {
        /// `WHERE <predicate>` (partition columns only).
        filter: Option<String>,
        /// `ZORDER BY (<columns>)`.
        zorder_by: Vec<String>,
    },
    /// `DESCRIBE HISTORY`: the table's versions.
    History,
}

impl Maintenance {
    /// `vacuum`, `optimize` or `history`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Vacuum { .. } => "vacuum",
            Self::Optimize { .. } => "optimize",
            Self::History => "history",
        }
    }

    /// The statement on `target`.
    pub fn statement(&self, target: &str) -> String {
        match self {
            Self::Vacuum {
                retain_hours,
                dry_run,
            } => {
                let mut s = format!("VACUUM {target}");
                if let Some(h) = retain_hours {
                    s.push_str(&format!(" RETAIN {h} HOURS"));
                }
                if *dry_run {
                    s.push_str(" DRY RUN");
                }
                s
            }
            Self::Optimize { filter, zorder_by } => {
                let mut s = format!("OPTIMIZE {target}");
                if let Some(f) = filter {
                    s.push_str(&format!(" WHERE {f}"));
                }
                if !zorder_by.is_empty() {
                    let cols: Vec<String> = zorder_by.iter().map(|c| quote_identifier(c)).collect();
                    s.push_str(&format!(" ZORDER BY ({})", cols.join(", ")));
                }
                s
            }
            Self::History => format!("DESCRIBE HISTORY {target}"),
        }
    }
}

/// Refuses `what` on an engine without Delta maintenance statements (Sail), before any server
/// is asked.
pub fn refuse_maintenance(engine: EngineKind, what: &Maintenance) -> Result<()> {
    if engine == EngineKind::Sail {
        return Err(Error::EngineUnsupported {
            engine: engine.to_string(),
            what: format!(
                "Delta {} (Sail has no VACUUM, OPTIMIZE or DESCRIBE HISTORY)",
                what.name()
            ),
        });
    }
    Ok(())
}

/// Runs `what` on the Delta table of `output` and returns the rows it answers (each as JSON).
pub async fn maintain(
    session: &Session,
    output: &OutputConfig,
    what: &Maintenance,
) -> Result<Vec<serde_json::Value>> {
    let stored = output.stored_format();
    if stored != tauro_config::DataFormat::Delta {
        return Err(Error::InvalidValue {
            dataset: output.name.clone(),
            what: "format",
            value: stored.to_string(),
            reason: format!("{} needs a Delta output", what.name()),
        });
    }
    refuse_maintenance(session.engine(), what)?;
    let Some(target) = target(output) else {
        return Err(Error::MissingField {
            dataset: output.name.clone(),
            format: "delta".into(),
            field: "filepath",
        });
    };
    // Without Delta's SQL extension Spark parses these statements as something else; reading
    // the table first names the missing package (or a missing table) instead.
    match &output.filepath {
        Some(path) => {
            let spark = session.inner.spark.clone();
            let p = path.clone();
            session
                .run_with_format(
                    format!("read Delta table {path}"),
                    Some("delta"),
                    crate::rpc::RpcKind::AnalyzePlan,
                    move || spark.read().format("delta").load(Some(&p)).schema(),
                )
                .await?;
        }
        None => {
            session
                .sql(&format!("SELECT * FROM {target} LIMIT 0"))
                .await?
                .schema_fields()
                .await?;
        }
    }
    let frame = session.sql(&what.statement(&target)).await?;
    frame.collect_json(10_000).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements() {
        assert_eq!(
            merge_statement("delta.`/x`", "src", &["id".into(), "day".into()]),
            "MERGE INTO delta.`/x` AS t USING src AS s ON t.`id` = s.`id` AND t.`day` = s.`day` \
             WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
        );
        let props = BTreeMap::from([("owner".to_string(), "it's".to_string())]);
        assert_eq!(
            properties_statement("t", &props),
            "ALTER TABLE t SET TBLPROPERTIES ('owner' = 'it\\'s')"
        );
        let vacuum = Maintenance::Vacuum {
            retain_hours: Some(24.0),
            dry_run: true,
        };
        assert_eq!(vacuum.statement("t"), "VACUUM t RETAIN 24 HOURS DRY RUN");
        let optimize = Maintenance::Optimize {
            filter: Some("day = '2025-01-01'".into()),
            zorder_by: vec!["id".into()],
        };
        assert_eq!(
            optimize.statement("t"),
            "OPTIMIZE t WHERE day = '2025-01-01' ZORDER BY (`id`)"
        );
        assert_eq!(Maintenance::History.statement("t"), "DESCRIBE HISTORY t");
    }
}
