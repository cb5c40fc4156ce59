//! [`InputLoader`]: datasets from the `input` configuration (or other nodes' outputs) as
//! [`Frame`]s.
#![expect(
    clippy::result_large_err,
    reason = "closures return the client's own `SparkError`, which is large; it is converted at once"
)]

use std::collections::{BTreeMap, HashMap};

use tauro_config::{Context, DataFormat, DateWindow, InputConfig, OutputConfig};

use crate::error::{Error, Result};
use crate::frame::{Frame, SchemaField, fields_of};
use crate::kafka;
use crate::rpc::RpcKind;
use crate::session::Session;
use crate::sql::{date_between, format_name, validate_query};

/// Loads a node's inputs.
#[derive(Debug, Clone, Copy)]
pub struct InputLoader<'a> {
    ctx: &'a Context,
    session: &'a Session,
}

impl<'a> InputLoader<'a> {
    /// A loader reading through `session`.
    pub fn new(ctx: &'a Context, session: &'a Session) -> Self {
        Self { ctx, session }
    }

    /// The dataset `name` as a frame: an input dataset, or the output `name` read back from
    /// where it is written. With `window` and a `date_column`, only rows of the window.
    ///
    /// The read is analysed once here, so a missing path or table, a missing data source
    /// or a wrong `date_column` fail now, naming the dataset.
    pub async fn load(&self, name: &str, window: Option<DateWindow>) -> Result<Frame> {
        if let Some(input) = self.ctx.inputs.get(name) {
            return self.load_input(input, window).await;
        }
        if let Some(output) = self.ctx.outputs.get(name) {
            return self.load_output(output).await;
        }
        Err(Error::UnknownDataset { name: name.into() })
    }

    /// Like [`load`](Self::load), and registers the dataset as the session's temp view
    /// `view`; the frame returned reads that view.
    ///
    /// The read is analysed once, by the view's creation, whose errors name the dataset as
    /// [`load`](Self::load)'s do; the frame's schema is the view's, asked for when needed
    /// (a cheap analysis: a temp view keeps its analysed plan). Analysing the read first and creating the view after
    /// would analyse it twice: the client numbers each plan it sends anew, so the server's
    /// plan cache cannot match the two. Only a `date_column` with a window needs the schema
    /// before the view (to check the column and filter on it).
    pub async fn load_view(
        &self,
        name: &str,
        window: Option<DateWindow>,
        view: &str,
    ) -> Result<Frame> {
        let (read, operation, format, options) = if let Some(input) = self.ctx.inputs.get(name) {
            if input.date_column.is_some() && window.is_some() {
                let frame = self.load_input(input, window).await?;
                frame.create_temp_view(view).await?;
                return Ok(frame);
            }
            let mut frame = self.read_input(input).await?;
            if let Some(predicate) = &input.partition_filter {
                frame = frame.filter(predicate);
            }
            let operation = format!("load input `{name}`");
            (frame, operation, input.format, Some(&input.options))
        } else if let Some(output) = self.ctx.outputs.get(name) {
            let frame = self.read_output(output).await?;
            let operation = format!("read back output `{name}`");
            (frame, operation, output.format, None)
        } else {
            return Err(Error::UnknownDataset { name: name.into() });
        };
        let created = read
            .create_view_as(view, operation, format.spark_source())
            .await;
        match options {
            Some(options) => created.map_err(|e| e.mask_option_values(options))?,
            None => created?,
        }
        self.session.table(view).await
    }

    async fn load_input(&self, input: &InputConfig, window: Option<DateWindow>) -> Result<Frame> {
        let name = input.name.as_str();
        let frame = self.read_input(input).await?;
        let fields = analysed(&frame, format!("load input `{name}`"), input.format)
            .await
            .map_err(|e| e.mask_option_values(&input.options))?;
        let columns: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        let mut frame = frame.with_known_schema(fields.clone());
        if let (Some(column), Some(window)) = (&input.date_column, window) {
            if !columns.iter().any(|c| c.eq_ignore_ascii_case(column)) {
                return Err(Error::InvalidValue {
                    dataset: name.into(),
                    what: "date_column",
                    value: column.clone(),
                    reason: format!(
                        "the dataset has no such column (columns: {})",
                        columns.join(", ")
                    ),
                });
            }
            frame = frame.filter(&date_between(column, window));
        }
        if let Some(predicate) = &input.partition_filter {
            frame = frame.filter(predicate);
        }
        Ok(frame)
    }

    /// Reads back what the output `output` writes.
    async fn load_output(&self, output: &OutputConfig) -> Result<Frame> {
        let name = output.name.as_str();
        let frame = self.read_output(output).await?;
        let fields = analysed(&frame, format!("read back output `{name}`"), output.format).await?;
        Ok(frame.with_known_schema(fields))
    }

    /// The read of an input, not yet analysed.
    async fn read_input(&self, input: &InputConfig) -> Result<Frame> {
        let name = input.name.as_str();
        Ok(match input.format {
            DataFormat::Query => {
                let query = required(name, input.format, "query", input.query.as_deref())?;
                validate_query(name, query)?;
                self.session.sql(query).await?
            }
            DataFormat::Table => {
                let table = required(name, input.format, "table", input.table.as_deref())?;
                self.session.table(table).await?
            }
            DataFormat::Rate | DataFormat::Console => {
                return Err(streaming_only(name, input.format, "an input"));
            }
            DataFormat::Kafka => {
                // A batch read of the topics, decoded as configured; without the
                // spark-sql-kafka package on the server, Spark's error becomes
                // `MissingDataSource` below.
                let options: HashMap<String, String> =
                    kafka::reader_options(input, false).into_iter().collect();
                let df = self
                    .session
                    .inner
                    .spark
                    .read()
                    .format("kafka")
                    .options(options)
                    .load(None);
                let raw = Frame::new(self.session.clone(), df);
                kafka::decode(raw, input.kafka.as_ref(), &input.options)
            }
            format => {
                let path = required(name, format, "filepath", input.filepath.as_deref())?;
                let mut options = default_read_options(format);
                options.extend(input.options.clone());
                self.read_path(format, path, input.schema.as_deref(), options)
            }
        })
    }

    /// The read of what the output `output` writes, not yet analysed.
    async fn read_output(&self, output: &OutputConfig) -> Result<Frame> {
        let name = output.name.as_str();
        Ok(match (&output.table, &output.filepath, output.format) {
            (Some(table), None, _) | (Some(table), _, DataFormat::Table) => {
                self.session.table(table).await?
            }
            (_, Some(path), format)
                if format != DataFormat::Table && format != DataFormat::Query =>
            {
                let mut options = default_read_options(format);
                // Reader-relevant writer options (header, sep, ...) describe the files too.
                options.extend(
                    output
                        .options
                        .iter()
                        .filter(|(k, _)| k.as_str() != "partitionOverwriteMode")
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
                if format == DataFormat::Csv {
                    options
                        .entry("inferSchema".into())
                        .or_insert_with(|| "true".into());
                }
                self.read_path(format, path, None, options)
            }
            _ => {
                return Err(Error::MissingField {
                    dataset: name.into(),
                    format: format_name(output.format).into(),
                    field: "filepath",
                });
            }
        })
    }

    fn read_path(
        &self,
        format: DataFormat,
        path: &str,
        schema: Option<&str>,
        options: BTreeMap<String, String>,
    ) -> Frame {
        let source = format.spark_source().unwrap_or("parquet");
        let mut reader = self.session.inner.spark.read().format(source);
        if let Some(ddl) = schema {
            reader = reader.schema(ddl.to_string());
        }
        let options: HashMap<String, String> = options.into_iter().collect();
        let df = reader.options(options).load(Some(path));
        Frame::new(self.session.clone(), df)
    }
}

/// The schema of a read, analysed now (one `AnalyzePlan`), so that a missing path, table or
/// data source fails here, under `operation`.
async fn analysed(
    frame: &Frame,
    operation: String,
    format: DataFormat,
) -> Result<Vec<SchemaField>> {
    let df = frame.df().clone();
    let schema = frame
        .session()
        .run_with_format(
            operation,
            format.spark_source(),
            RpcKind::AnalyzePlan,
            move || df.schema(),
        )
        .await?;
    Ok(fields_of(&schema))
}

/// Tauro's reader defaults (user options override them).
fn default_read_options(format: DataFormat) -> BTreeMap<String, String> {
    let mut o = BTreeMap::new();
    match format {
        DataFormat::Csv => {
            o.insert("header".into(), "true".into());
            o.insert("encoding".into(), "UTF-8".into());
        }
        DataFormat::Json => {
            o.insert("encoding".into(), "UTF-8".into());
        }
        DataFormat::Parquet
        | DataFormat::Orc
        | DataFormat::Avro
        | DataFormat::Text
        | DataFormat::Delta
        | DataFormat::Table
        | DataFormat::Query
        | DataFormat::Kafka
        | DataFormat::Rate
        | DataFormat::Console => {}
    }
    o
}

/// The error for a batch use of `rate` or `console` (`direction`: `an input`, `an output`).
pub(crate) fn streaming_only(dataset: &str, format: DataFormat, direction: &str) -> Error {
    Error::InvalidValue {
        dataset: dataset.into(),
        what: "format",
        value: format.as_str().into(),
        reason: format!(
            "rate/console are streaming-only and cannot be used as {direction} of a batch node; use it in a node with a streaming: section"
        ),
    }
}

fn required<'v>(
    dataset: &str,
    format: DataFormat,
    field: &'static str,
    value: Option<&'v str>,
) -> Result<&'v str> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(Error::MissingField {
            dataset: dataset.into(),
            format: format_name(format).into(),
            field,
        }),
    }
}
