//! [`StreamingNodeSpec`]: a streaming node of a pipeline, resolved against the project's
//! datasets into sources, SQL and a sink.
//!
//! Which inputs stream: datasets of the input document are read with `readStream`; outputs
//! of other (batch) nodes are read as static frames (the static side of a stream-static
//! join in a hybrid pipeline).

use tauro_config::{
    Context, DataFormat, Location, NodeCompute, NodeConfig, PipelineType, StreamingSettings,
    default_checkpoint,
};
use tauro_io::{SinkFormat, SourceFormat, StreamSink, StreamSource};

use crate::validator::{IssueKind, StreamingIssue};

/// A streaming node ready to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamingNodeSpec {
    /// The pipeline.
    pub pipeline: String,
    /// The node.
    pub node: String,
    /// Where the node is defined.
    pub location: Location,
    /// Streaming inputs, each visible to the SQL as a temp view named after the dataset.
    pub sources: Vec<StreamSource>,
    /// Static inputs (outputs of batch nodes), loaded as views of the same names.
    pub static_inputs: Vec<String>,
    /// The node's SQL over those views (empty for a function node).
    pub sql: String,
    /// A registered node function computing the stream instead of SQL; it gets the node's
    /// inputs as frames, in `input` order.
    pub function: Option<String>,
    /// The node's inputs, in order.
    pub inputs: Vec<String>,
    /// The sink and query settings.
    pub sink: StreamSink,
}

impl StreamingNodeSpec {
    /// The key the manager tracks the query under: `<pipeline>.<node>`.
    pub fn key(&self) -> String {
        format!("{}.{}", self.pipeline, self.node)
    }
}

/// True when `node` of `pipeline` runs as a stream: every node of a streaming pipeline,
/// and the nodes of a hybrid pipeline that have a `streaming:` section.
pub fn is_streaming_node(ctx: &Context, pipeline: &str, node: &str) -> bool {
    let Some(p) = ctx.pipelines.get(pipeline) else {
        return false;
    };
    match p.pipeline_type {
        PipelineType::Streaming => p.nodes.iter().any(|n| n == node),
        PipelineType::Hybrid => ctx.nodes.get(node).is_some_and(|n| n.streaming.is_some()),
        PipelineType::Batch | PipelineType::Ml => false,
    }
}

/// The format an input streams as; `None` for batch-only formats.
pub fn stream_source_format(format: DataFormat) -> Option<SourceFormat> {
    match format {
        DataFormat::Json => Some(SourceFormat::Json),
        DataFormat::Csv => Some(SourceFormat::Csv),
        DataFormat::Parquet => Some(SourceFormat::Parquet),
        DataFormat::Orc => Some(SourceFormat::Orc),
        DataFormat::Text => Some(SourceFormat::Text),
        DataFormat::Delta => Some(SourceFormat::Delta),
        DataFormat::Kafka => Some(SourceFormat::Kafka),
        DataFormat::Rate => Some(SourceFormat::Rate),
        DataFormat::Avro | DataFormat::Table | DataFormat::Query | DataFormat::Console => None,
    }
}

/// The sink an output dataset writes as; `None` for formats without a streaming sink.
pub fn stream_sink_format(format: DataFormat) -> Option<SinkFormat> {
    match format {
        DataFormat::Parquet => Some(SinkFormat::Parquet),
        DataFormat::Json => Some(SinkFormat::Json),
        DataFormat::Csv => Some(SinkFormat::Csv),
        DataFormat::Orc => Some(SinkFormat::Orc),
        DataFormat::Delta => Some(SinkFormat::Delta),
        DataFormat::Table => Some(SinkFormat::Table),
        DataFormat::Kafka => Some(SinkFormat::Kafka),
        DataFormat::Console => Some(SinkFormat::Console),
        DataFormat::Avro | DataFormat::Text | DataFormat::Query | DataFormat::Rate => None,
    }
}

/// Resolves one streaming node; every problem is returned (with the node's location).
pub fn build_spec(
    ctx: &Context,
    pipeline: &str,
    node: &NodeConfig,
) -> Result<StreamingNodeSpec, Vec<StreamingIssue>> {
    let mut issues = Vec::new();
    let issue = |kind, message: String| StreamingIssue {
        node: node.name.clone(),
        location: node.location.clone(),
        kind,
        message,
    };
    let settings = node.streaming.clone().unwrap_or_default();
    let (sql, function) = match &node.compute {
        NodeCompute::Sql { text, .. } => (text.clone(), None),
        NodeCompute::Function { name } => (String::new(), Some(name.clone())),
    };
    let mut sources = Vec::new();
    let mut static_inputs = Vec::new();
    for name in &node.input {
        if let Some(input) = ctx.inputs.get(name) {
            match stream_source_format(input.format) {
                Some(format) => sources.push(StreamSource {
                    name: name.clone(),
                    format,
                    path: input.filepath.clone(),
                    schema: input.schema.clone(),
                    options: input.options.clone(),
                    kafka: input.kafka.clone(),
                }),
                None => issues.push(issue(
                    IssueKind::BatchOnlySource,
                    format!(
                        "input '{name}' has format {}, which Spark cannot read as a stream (stream formats: json, csv, parquet, orc, text, delta, rate, kafka)",
                        input.format
                    ),
                )),
            }
        } else {
            static_inputs.push(name.clone());
        }
    }
    if sources.is_empty() && issues.is_empty() {
        issues.push(issue(
            IssueKind::NoStreamingSource,
            "a streaming node needs at least one input from the input document to stream from"
                .into(),
        ));
    }
    let sink = match node.output.as_slice() {
        [one] => sink_of(ctx, pipeline, node, one, &settings, &mut issues),
        _ => {
            issues.push(issue(
                IssueKind::SinkCount,
                format!(
                    "a streaming node writes exactly one output, found {}",
                    node.output.len()
                ),
            ));
            None
        }
    };
    match sink {
        Some(sink) if issues.is_empty() => Ok(StreamingNodeSpec {
            pipeline: pipeline.to_string(),
            node: node.name.clone(),
            location: node.location.clone(),
            sources,
            static_inputs,
            sql,
            function,
            inputs: node.input.clone(),
            sink,
        }),
        _ => Err(issues),
    }
}

fn sink_of(
    ctx: &Context,
    pipeline: &str,
    node: &NodeConfig,
    name: &str,
    settings: &StreamingSettings,
    issues: &mut Vec<StreamingIssue>,
) -> Option<StreamSink> {
    let output = ctx.outputs.get(name)?;
    let Some(format) = stream_sink_format(output.format) else {
        issues.push(StreamingIssue {
            node: node.name.clone(),
            location: node.location.clone(),
            kind: IssueKind::BatchOnlySink,
            message: format!(
                "output '{name}' has format {}, which has no streaming sink (sinks: parquet, json, csv, orc, delta, table, kafka, console)",
                output.format
            ),
        });
        return None;
    };
    if output.write_mode == tauro_config::WriteMode::Merge {
        issues.push(StreamingIssue {
            node: node.name.clone(),
            location: node.location.clone(),
            kind: IssueKind::BatchOnlySink,
            message: format!(
                "output '{name}' has write_mode merge, which batch nodes use (MERGE INTO); a streaming query appends to its Delta sink"
            ),
        });
        return None;
    }
    let output_path = &ctx.global.output_path;
    let checkpoint_location = settings.checkpoint_location.clone().or_else(|| {
        std::path::Path::new(output_path)
            .is_absolute()
            .then(|| default_checkpoint(output_path, pipeline, &node.name))
    });
    Some(StreamSink {
        name: name.to_string(),
        format,
        path: output.filepath.clone(),
        table: output.table.clone(),
        options: output.options.clone(),
        kafka: output.kafka.clone(),
        partition_by: output.partition_by.clone(),
        output_mode: settings.output_mode,
        query_name: Some(
            settings
                .query_name
                .clone()
                .unwrap_or_else(|| format!("{pipeline}_{}", node.name)),
        ),
        checkpoint_location,
        trigger: settings.trigger.clone(),
    })
}
