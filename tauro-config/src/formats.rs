//! Names of data formats and write modes as written in configuration files.

use crate::model::{DataFormat, WriteMode};

/// Every format name, in documentation order.
#[cfg(test)]
pub(crate) const FORMAT_NAMES: [&str; 12] = [
    "csv", "json", "parquet", "orc", "avro", "text", "delta", "table", "query", "kafka", "rate",
    "console",
];

/// Every write mode name.
pub(crate) const WRITE_MODE_NAMES: [&str; 5] = ["overwrite", "append", "ignore", "error", "merge"];

impl DataFormat {
    /// Parses a format name (any case).
    pub fn parse(s: &str) -> Option<DataFormat> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "csv" => DataFormat::Csv,
            "json" => DataFormat::Json,
            "parquet" => DataFormat::Parquet,
            "orc" => DataFormat::Orc,
            "avro" => DataFormat::Avro,
            "text" => DataFormat::Text,
            "delta" => DataFormat::Delta,
            "table" => DataFormat::Table,
            "query" => DataFormat::Query,
            "kafka" => DataFormat::Kafka,
            "rate" => DataFormat::Rate,
            "console" => DataFormat::Console,
            _ => return None,
        })
    }

    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            DataFormat::Csv => "csv",
            DataFormat::Json => "json",
            DataFormat::Parquet => "parquet",
            DataFormat::Orc => "orc",
            DataFormat::Avro => "avro",
            DataFormat::Text => "text",
            DataFormat::Delta => "delta",
            DataFormat::Table => "table",
            DataFormat::Query => "query",
            DataFormat::Kafka => "kafka",
            DataFormat::Rate => "rate",
            DataFormat::Console => "console",
        }
    }

    /// Whether the data lives in files at a path (everything but `table`, `query`,
    /// `kafka`, `rate` and `console`).
    pub fn is_file_based(self) -> bool {
        !matches!(
            self,
            DataFormat::Table
                | DataFormat::Query
                | DataFormat::Kafka
                | DataFormat::Rate
                | DataFormat::Console
        )
    }

    /// Formats Spark only reads or writes as streams (`rate`, `console`).
    pub fn is_streaming_only(self) -> bool {
        matches!(self, DataFormat::Rate | DataFormat::Console)
    }
}

impl std::fmt::Display for DataFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl WriteMode {
    /// Parses a write mode (any case; Spark's `errorifexists` is `error`).
    pub fn parse(s: &str) -> Option<WriteMode> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "overwrite" => WriteMode::Overwrite,
            "append" => WriteMode::Append,
            "ignore" => WriteMode::Ignore,
            "error" | "errorifexists" => WriteMode::Error,
            "merge" => WriteMode::Merge,
            _ => return None,
        })
    }
}

impl std::fmt::Display for WriteMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in FORMAT_NAMES {
            assert_eq!(DataFormat::parse(name).map(DataFormat::as_str), Some(name));
        }
        for name in WRITE_MODE_NAMES {
            assert_eq!(WriteMode::parse(name).map(WriteMode::as_str), Some(name));
        }
        assert_eq!(DataFormat::parse("Parquet"), Some(DataFormat::Parquet));
        assert_eq!(WriteMode::parse("ErrorIfExists"), Some(WriteMode::Error));
        assert_eq!(DataFormat::parse("pickle"), None);
    }
}
