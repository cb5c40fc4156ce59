//! Which Spark Connect server runs a project's work (`spark.engine`), and what Sail cannot
//! run.
//!
//! - `spark` (default): Apache Spark's Spark Connect server.
//! - `sail`: Sail, a Spark Connect server written in Rust (`pip install pysail`): it starts in
//!   a fraction of a second and answers a query in about a millisecond, and writes Delta tables
//!   natively. It does not run file (or Kafka) streaming, ORC, Kafka, observed metrics, nor keep
//!   a catalog across restarts; [`unsupported`] names what a pipeline asks of it that it cannot
//!   do, before any work starts.

use std::fmt;

use serde::Serialize;

use crate::model::{Context, DataFormat, Location};

/// The kind of Spark Connect server (`spark.engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    /// Apache Spark (the default).
    #[default]
    Spark,
    /// Sail.
    Sail,
}

impl EngineKind {
    /// Every kind, for messages.
    pub const ALL: [EngineKind; 2] = [EngineKind::Spark, EngineKind::Sail];

    /// `spark` or `sail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spark => "spark",
            Self::Sail => "sail",
        }
    }

    /// Parses `spark` or `sail` (any case, surrounding blanks ignored).
    pub fn parse(s: &str) -> Option<EngineKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// False when the engine cannot compute observed metrics (Spark's `observe`, which counts
    /// written rows in the write itself); rows are then counted by a query of their own.
    pub fn observes_metrics(self) -> bool {
        self == Self::Spark
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a pipeline asks of an engine that the engine cannot do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// What, in words (`node 'enrich': streaming`).
    pub message: String,
    /// Where it is configured.
    pub location: Location,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}",
            self.location.file.display(),
            self.location.line,
            self.message
        )
    }
}

/// Why Sail cannot use a dataset of `format`, if it cannot.
fn sail_format(format: DataFormat) -> Option<&'static str> {
    match format {
        DataFormat::Orc => Some("Sail has no ORC data source"),
        DataFormat::Kafka => Some("Sail has no Kafka data source"),
        _ => None,
    }
}

/// What the nodes `nodes` of `ctx` (and the datasets they read and write) ask of `engine`
/// that it cannot do; empty for Spark, which runs everything Tauro configures.
pub fn unsupported<'a>(
    ctx: &Context,
    nodes: impl IntoIterator<Item = &'a str>,
    engine: EngineKind,
) -> Vec<Unsupported> {
    let mut found = Vec::new();
    if engine == EngineKind::Spark {
        return found;
    }
    let mut seen = std::collections::BTreeSet::new();
    for name in nodes {
        let Some(node) = ctx.nodes.get(name) else {
            continue;
        };
        if node.streaming.is_some() {
            found.push(Unsupported {
                message: format!(
                    "node '{name}' is a streaming node: Sail runs no file or Kafka streaming \
                     (it reads a file stream as a batch and has no streaming file sink); run \
                     it on Spark (`engine: spark`)"
                ),
                location: node.location.clone(),
            });
        }
        for dataset in node.input.iter().chain(&node.output) {
            if !seen.insert(dataset.as_str()) {
                continue;
            }
            let (format, location) = if let Some(i) = ctx.inputs.get(dataset) {
                (i.format, &i.location)
            } else if let Some(o) = ctx.outputs.get(dataset) {
                (o.stored_format(), &o.location)
            } else {
                continue;
            };
            if let Some(why) = sail_format(format) {
                found.push(Unsupported {
                    message: format!(
                        "dataset '{dataset}' (format {}): {why}; use `engine: spark`",
                        format.spark_source().unwrap_or("table")
                    ),
                    location: location.clone(),
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_print() {
        assert_eq!(EngineKind::parse(" Sail "), Some(EngineKind::Sail));
        assert_eq!(EngineKind::parse("spark"), Some(EngineKind::Spark));
        assert_eq!(EngineKind::parse("flink"), None);
        assert_eq!(EngineKind::default().to_string(), "spark");
        assert!(EngineKind::Spark.observes_metrics());
        assert!(!EngineKind::Sail.observes_metrics());
    }
}
