//! [`OutputManager`]: writes a node's result to the destinations of the `output`
//! configuration.
#![expect(
    clippy::result_large_err,
    reason = "closures return the client's own `SparkError`, which is large; it is converted at once"
)]

use std::collections::HashMap;

use tauro_config::{Context, DataFormat, DateWindow, OutputConfig, WriteMode};

use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::metrics::{observe_rows, rows_written};
use crate::rpc::RpcKind;
use crate::session::Session;
use crate::sql::{format_name, quote_qualified, string_literal};

/// Writer option that makes an overwrite replace only the partitions present in the data.
const PARTITION_OVERWRITE_MODE: &str = "partitionOverwriteMode";

/// What one write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// The output's name.
    pub output: String,
    /// Where it went: the path, or `table <name>`.
    pub destination: String,
    /// Rows written, counted by the write job itself (an observation on the frame; no extra
    /// job). `Some(0)` for mode `ignore` on an existing destination; `None` only when the
    /// server reported no observed metrics.
    pub rows: Option<u64>,
}

/// Writes node results.
#[derive(Debug, Clone, Copy)]
pub struct OutputManager<'a> {
    ctx: &'a Context,
    session: &'a Session,
}

impl<'a> OutputManager<'a> {
    /// A manager; table registration runs through `session`, the write itself on the
    /// frame's own session (where its metrics are recorded).
    pub fn new(ctx: &'a Context, session: &'a Session) -> Self {
        Self { ctx, session }
    }

    /// Writes `frame` to the output `name`.
    ///
    /// Modes are passed explicitly (Spark's default is `error`). With `overwrite` and
    /// `partition_by`, only the partitions present in `frame` are replaced (dynamic
    /// partition overwrite), so re-running a date window replaces that window's rows.
    /// `window` is not used to filter: the node decides what it writes.
    pub async fn write(
        &self,
        name: &str,
        frame: &Frame,
        window: Option<DateWindow>,
    ) -> Result<WriteReport> {
        let _ = window;
        let output = self
            .ctx
            .outputs
            .get(name)
            .ok_or_else(|| Error::UnknownDataset { name: name.into() })?;
        let source = storage_format(output)?;
        if output.format == DataFormat::Kafka {
            return self.write_kafka(output, frame).await;
        }
        let report = if output.write_mode == WriteMode::Merge {
            self.write_merge(output, source, frame).await?
        } else {
            self.write_new(output, source, frame).await?
        };
        if let Some(delta) = &output.delta {
            crate::delta::set_properties(frame.session(), output, &delta.table_properties).await?;
        }
        Ok(report)
    }

    /// Upserts `frame` into the output's Delta table on its `merge_keys`; the first write
    /// (no table there yet) creates it.
    async fn write_merge(
        &self,
        output: &OutputConfig,
        source: &str,
        frame: &Frame,
    ) -> Result<WriteReport> {
        let Some(target) = crate::delta::target(output) else {
            return Err(Error::MissingField {
                dataset: output.name.clone(),
                format: format_name(output.format).into(),
                field: "filepath",
            });
        };
        let session = frame.session();
        if !crate::delta::exists(session, &target).await {
            return self.write_new(output, source, frame).await;
        }
        let keys = output
            .delta
            .as_ref()
            .map(|d| d.merge_keys.clone())
            .unwrap_or_default();
        let view = crate::delta::source_view(&output.name);
        frame.create_temp_view(&view).await?;
        let rows = frame.count().await?;
        let merge_schema = output
            .options
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("mergeSchema") && v.eq_ignore_ascii_case("true"));
        crate::delta::merge(session, &target, &view, &keys, merge_schema).await?;
        session
            .execute(&format!("DROP VIEW IF EXISTS {view}"))
            .await?;
        Ok(WriteReport {
            output: output.name.clone(),
            destination: output
                .filepath
                .clone()
                .or_else(|| output.table.as_ref().map(|t| format!("table {t}")))
                .unwrap_or_default(),
            rows: Some(rows),
        })
    }

    /// Writes `frame` with the output's save mode (to its path, its table, or both).
    async fn write_new(
        &self,
        output: &OutputConfig,
        source: &str,
        frame: &Frame,
    ) -> Result<WriteReport> {
        match (&output.table, &output.filepath) {
            (Some(table), None) => self.write_managed_table(output, table, source, frame).await,
            (table, Some(path)) => {
                let rows = self.write_path(output, source, path, frame).await?;
                if let Some(table) = table {
                    self.register_table(output, table, source, path).await?;
                }
                Ok(WriteReport {
                    output: output.name.clone(),
                    destination: path.clone(),
                    rows,
                })
            }
            (None, None) => Err(Error::MissingField {
                dataset: output.name.clone(),
                format: format_name(output.format).into(),
                field: "filepath",
            }),
        }
    }

    /// A batch write of `frame` to the output's Kafka topic; without the spark-sql-kafka
    /// package on the server, Spark's error becomes `MissingDataSource`.
    async fn write_kafka(&self, output: &OutputConfig, frame: &Frame) -> Result<WriteReport> {
        let topic = output.options.get("topic").cloned().unwrap_or_default();
        // Rows become records (`key`, `value`) as configured; see crate::kafka.
        let frame = &crate::kafka::encode(frame, output.kafka.as_ref());
        // Kafka takes no save mode but append (and no partitioning).
        let (observed, observation) = observe_rows(frame.df());
        let options: HashMap<String, String> =
            crate::kafka::writer_options(output).into_iter().collect();
        let writer = observed
            .write()
            .format("kafka")
            .mode(WriteMode::Append.as_spark())
            .options(options);
        let operation = format!("write output `{}` to kafka topic {topic}", output.name);
        let rows = self
            .run_write(frame, operation, "kafka", (writer, observation), |w| {
                w.save(None)
            })
            .await
            .map_err(|e| e.mask_option_values(&output.options))?;
        Ok(WriteReport {
            output: output.name.clone(),
            destination: format!("kafka topic {topic}"),
            rows,
        })
    }

    /// The configured writer over `frame`, counting rows through an observation.
    fn writer(
        &self,
        output: &OutputConfig,
        source: &str,
        frame: &Frame,
    ) -> (spark_connect::DataFrameWriter, String) {
        let mut options: HashMap<String, String> = HashMap::new();
        if source == "csv" {
            options.insert("header".into(), "true".into());
        }
        // Delta refuses `replaceWhere` together with dynamic partition overwrite.
        let replace_where = output
            .options
            .keys()
            .any(|k| k.eq_ignore_ascii_case("replaceWhere"));
        if output.write_mode == WriteMode::Overwrite
            && !output.partition_by.is_empty()
            && !replace_where
        {
            options.insert(PARTITION_OVERWRITE_MODE.into(), "dynamic".into());
        }
        options.extend(output.options.clone());
        // Sail computes no observed metrics: there the rows are counted after the write.
        let (observed, observation) = if frame.session().engine().observes_metrics() {
            observe_rows(frame.df())
        } else {
            (frame.df().clone(), String::new())
        };
        let mut writer = observed
            .write()
            .format(source)
            .mode(output.write_mode.as_spark())
            .options(options);
        if !output.partition_by.is_empty() {
            writer = writer.partition_by(output.partition_by.clone());
        }
        (writer, observation)
    }

    /// Runs one write on the frame's session and reads the rows it counted.
    async fn run_write<F>(
        &self,
        frame: &Frame,
        operation: String,
        source: &str,
        writer: (spark_connect::DataFrameWriter, String),
        save: F,
    ) -> Result<Option<u64>>
    where
        F: FnOnce(spark_connect::DataFrameWriter) -> spark_connect::Result<()> + Send + 'static,
    {
        let (writer, observation) = writer;
        let spark = frame.session().inner.spark.clone();
        let df = frame.df().clone();
        frame
            .session()
            .run_metered(operation, Some(source), move |rpc| {
                rpc.call(RpcKind::ExecutePlan, || save(writer))?;
                if observation.is_empty() {
                    let n = rpc.call(RpcKind::ExecutePlan, || df.count())?;
                    return Ok(u64::try_from(n).ok());
                }
                Ok(rows_written(
                    spark.last_execution_info().as_ref(),
                    &observation,
                ))
            })
            .await
    }

    async fn write_path(
        &self,
        output: &OutputConfig,
        source: &str,
        path: &str,
        frame: &Frame,
    ) -> Result<Option<u64>> {
        let writer = self.writer(output, source, frame);
        let target = path.to_string();
        let operation = format!("write output `{}` to {path}", output.name);
        self.run_write(frame, operation, source, writer, move |w| {
            w.save(Some(&target))
        })
        .await
    }

    async fn write_managed_table(
        &self,
        output: &OutputConfig,
        table: &str,
        source: &str,
        frame: &Frame,
    ) -> Result<WriteReport> {
        let operation = format!("write output `{}` to table {table}", output.name);
        let name = table.to_string();
        let partial_overwrite =
            output.write_mode == WriteMode::Overwrite && !output.partition_by.is_empty();
        let rows = if partial_overwrite && frame.session().table_exists(table).await? {
            // saveAsTable(overwrite) drops and recreates the whole table; insertInto with
            // dynamic partition overwrite replaces only the partitions written. insertInto
            // matches columns by position: put the frame's columns in the table's order.
            let columns = frame.session().table(table).await?.columns().await?;
            let ordered = frame.select_columns(&columns);
            ordered
                .session()
                .set_conf("spark.sql.sources.partitionOverwriteMode", "dynamic")
                .await?;
            let mut writer = self.writer(output, source, &ordered);
            // A table's layout is fixed; insertInto rejects partitionBy.
            writer.0 = writer.0.partition_by(Vec::<String>::new());
            self.run_write(&ordered, operation, source, writer, move |w| {
                w.insert_into(&name)
            })
            .await?
        } else {
            let writer = self.writer(output, source, frame);
            self.run_write(frame, operation, source, writer, move |w| {
                w.save_as_table(&name)
            })
            .await?
        };
        Ok(WriteReport {
            output: output.name.clone(),
            destination: format!("table {table}"),
            rows,
        })
    }

    /// Makes `table` point at the files just written to `path`.
    async fn register_table(
        &self,
        output: &OutputConfig,
        table: &str,
        source: &str,
        path: &str,
    ) -> Result<()> {
        let quoted = quote_qualified(table);
        let options = if source == "csv" {
            " OPTIONS (header 'true', inferSchema 'true')"
        } else {
            ""
        };
        self.session
            .execute(&format!(
                "CREATE TABLE IF NOT EXISTS {quoted} USING {source}{options} LOCATION {}",
                string_literal(path)
            ))
            .await?;
        // Sail lists a table's files when it reads them, and has neither statement.
        if self.session.engine() == tauro_config::EngineKind::Sail {
            return Ok(());
        }
        if !output.partition_by.is_empty() {
            self.session
                .execute(&format!("ALTER TABLE {quoted} RECOVER PARTITIONS"))
                .await?;
        }
        self.session
            .execute(&format!("REFRESH TABLE {quoted}"))
            .await
    }
}

/// The Spark data source an output is stored with.
fn storage_format(output: &OutputConfig) -> Result<&'static str> {
    let format = output.stored_format();
    match format {
        DataFormat::Rate | DataFormat::Console => Err(crate::input::streaming_only(
            &output.name,
            format,
            "an output",
        )),
        DataFormat::Query | DataFormat::Table => Err(Error::UnsupportedFormat {
            dataset: output.name.clone(),
            format: format_name(format).into(),
            direction: "an output",
        }),
        other => other
            .spark_source()
            .ok_or_else(|| Error::UnsupportedFormat {
                dataset: output.name.clone(),
                format: format_name(other).into(),
                direction: "an output",
            }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use tauro_config::Location;

    use super::*;

    fn output(format: DataFormat) -> OutputConfig {
        OutputConfig {
            name: "o".into(),
            format,
            filepath: None,
            table: None,
            table_format: None,
            write_mode: WriteMode::Append,
            partition_by: Vec::new(),
            options: BTreeMap::new(),
            kafka: None,
            delta: None,
            location: Location {
                file: PathBuf::from("output.yaml"),
                line: 1,
            },
        }
    }

    #[test]
    fn streaming_only_formats_are_refused_in_batch() {
        for format in [DataFormat::Rate, DataFormat::Console] {
            let err = storage_format(&output(format)).err().map(|e| e.to_string());
            assert_eq!(
                err.as_deref(),
                Some(
                    format!(
                        "dataset `o`: invalid format `{format}`: rate/console are streaming-only and cannot be used as an output of a batch node; use it in a node with a streaming: section"
                    )
                    .as_str()
                )
            );
        }
        assert_eq!(
            storage_format(&output(DataFormat::Kafka)).ok(),
            Some("kafka")
        );
    }
}
