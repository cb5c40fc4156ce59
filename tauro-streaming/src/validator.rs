//! [`StreamingValidator`]: the rules a streaming node must meet before anything starts.
//!
//! Each rule mirrors a combination Spark rejects at start (or one that would silently lose
//! the guarantees of a checkpoint), so the user hears about it with the node's file and
//! line instead of from a half-started pipeline.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use tauro_config::{Context, Location, OutputMode, PipelineType, StreamTrigger};
use tauro_io::{SinkFormat, SourceFormat};

use crate::spec::{StreamingNodeSpec, build_spec, is_streaming_node};

/// Which rule an issue breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// An input's format cannot be read as a stream.
    BatchOnlySource,
    /// An output's format has no streaming sink.
    BatchOnlySink,
    /// The node has no streaming input.
    NoStreamingSource,
    /// The node does not write exactly one output.
    SinkCount,
    /// The node computes with something other than SQL.
    UnsupportedCompute,
    /// No checkpoint location (and none can be derived).
    MissingCheckpoint,
    /// Two queries share one checkpoint location.
    CheckpointReused,
    /// The trigger does not work with this source or sink.
    TriggerFormat,
    /// The output mode does not fit the sink or the query.
    OutputMode,
    /// A source or sink lacks an option it needs.
    MissingOption,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamingIssue {
    /// The node.
    pub node: String,
    /// Where the node is defined.
    pub location: Location,
    /// The rule.
    pub kind: IssueKind,
    /// What is wrong, for people.
    pub message: String,
}

impl fmt::Display for StreamingIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: node '{}': {}",
            self.location.file.display(),
            self.location.line,
            self.node,
            self.message
        )
    }
}

/// Validates streaming nodes.
#[derive(Debug, Default, Clone, Copy)]
pub struct StreamingValidator;

impl StreamingValidator {
    /// Resolves and checks every streaming node of `pipeline` (streaming, or the streaming
    /// part of a hybrid). Returns the specs when there is no issue.
    pub fn validate_pipeline(
        ctx: &Context,
        pipeline: &str,
    ) -> Result<Vec<StreamingNodeSpec>, Vec<StreamingIssue>> {
        let Some(p) = ctx.pipelines.get(pipeline) else {
            return Ok(Vec::new());
        };
        if !matches!(
            p.pipeline_type,
            PipelineType::Streaming | PipelineType::Hybrid
        ) {
            return Ok(Vec::new());
        }
        let mut specs = Vec::new();
        let mut issues = Vec::new();
        for name in &p.nodes {
            if !is_streaming_node(ctx, pipeline, name) {
                continue;
            }
            let Some(node) = ctx.nodes.get(name) else {
                continue;
            };
            match build_spec(ctx, pipeline, node) {
                Ok(spec) => specs.push(spec),
                Err(found) => issues.extend(found),
            }
        }
        issues.extend(Self::check(&specs, &[]));
        if issues.is_empty() {
            Ok(specs)
        } else {
            Err(issues)
        }
    }

    /// Checks resolved specs, each on its own and against each other and against the
    /// checkpoints of queries already running (`running`: checkpoint → query key).
    pub fn check(specs: &[StreamingNodeSpec], running: &[(String, String)]) -> Vec<StreamingIssue> {
        let mut issues = Vec::new();
        let mut seen: BTreeMap<String, String> = running.iter().cloned().collect();
        for spec in specs {
            issues.extend(Self::check_one(spec));
            if let Some(ck) = &spec.sink.checkpoint_location {
                let norm = ck.trim_end_matches('/').to_string();
                match seen.get(&norm) {
                    Some(other) => issues.push(issue(
                        spec,
                        IssueKind::CheckpointReused,
                        format!(
                            "checkpoint location '{ck}' is also used by '{other}'; two queries must never share a checkpoint"
                        ),
                    )),
                    None => {
                        seen.insert(norm, spec.key());
                    }
                }
            }
        }
        issues
    }

    /// The rules that concern one spec alone.
    pub fn check_one(spec: &StreamingNodeSpec) -> Vec<StreamingIssue> {
        let mut issues = Vec::new();
        let sink = &spec.sink;
        if sink.checkpoint_location.is_none() && sink.format != SinkFormat::Console {
            issues.push(issue(
                spec,
                IssueKind::MissingCheckpoint,
                format!(
                    "output '{}' needs a checkpoint location: set streaming.checkpoint_location (absolute) or an absolute output_path",
                    sink.name
                ),
            ));
        }
        if let StreamTrigger::Continuous(_) = sink.trigger {
            if !matches!(sink.format, SinkFormat::Kafka | SinkFormat::Console) {
                issues.push(issue(
                    spec,
                    IssueKind::TriggerFormat,
                    format!(
                        "a continuous trigger only works with kafka and console sinks, not {} (use processing_time or available_now)",
                        sink.format.as_spark()
                    ),
                ));
            }
            for s in &spec.sources {
                if !matches!(s.format, SourceFormat::Kafka | SourceFormat::Rate) {
                    issues.push(issue(
                        spec,
                        IssueKind::TriggerFormat,
                        format!(
                            "a continuous trigger only works with kafka and rate sources, not {} (input '{}')",
                            s.format.as_spark(),
                            s.name
                        ),
                    ));
                }
            }
        }
        if sink.format.is_file() && sink.output_mode != OutputMode::Append {
            issues.push(issue(
                spec,
                IssueKind::OutputMode,
                format!(
                    "output mode {} is not supported by the {} file sink, which only appends",
                    sink.output_mode,
                    sink.format.as_spark()
                ),
            ));
        }
        if sink.output_mode == OutputMode::Complete && !has_aggregation(&spec.sql) {
            issues.push(issue(
                spec,
                IssueKind::OutputMode,
                "output mode complete needs an aggregation (GROUP BY or an aggregate function) in the query".into(),
            ));
        }
        for s in &spec.sources {
            if s.format.is_file() && s.format != SourceFormat::Text && s.schema.is_none() {
                issues.push(issue(
                    spec,
                    IssueKind::MissingOption,
                    format!(
                        "input '{}' ({}) needs a `schema`: file streams do not infer one",
                        s.name,
                        s.format.as_spark()
                    ),
                ));
            }
            if s.format == SourceFormat::Kafka {
                if !s.options.contains_key("kafka.bootstrap.servers") {
                    issues.push(issue(
                        spec,
                        IssueKind::MissingOption,
                        format!(
                            "kafka input '{}' needs option kafka.bootstrap.servers",
                            s.name
                        ),
                    ));
                }
                let subs = ["subscribe", "subscribePattern", "assign"]
                    .iter()
                    .filter(|k| s.options.contains_key(**k))
                    .count();
                if subs != 1 {
                    issues.push(issue(
                        spec,
                        IssueKind::MissingOption,
                        format!(
                            "kafka input '{}' needs exactly one of subscribe, subscribePattern, assign (found {subs})",
                            s.name
                        ),
                    ));
                }
            }
        }
        if sink.format == SinkFormat::Kafka {
            for key in ["kafka.bootstrap.servers", "topic"] {
                if !sink.options.contains_key(key) {
                    issues.push(issue(
                        spec,
                        IssueKind::MissingOption,
                        format!("kafka output '{}' needs option {key}", sink.name),
                    ));
                }
            }
        }
        issues
    }
}

fn issue(spec: &StreamingNodeSpec, kind: IssueKind, message: String) -> StreamingIssue {
    StreamingIssue {
        node: spec.node.clone(),
        location: spec.location.clone(),
        kind,
        message,
    }
}

/// Whether the SQL aggregates, as far as the text shows (GROUP BY or a common aggregate).
fn has_aggregation(sql: &str) -> bool {
    let s = sql.to_ascii_lowercase();
    let squeezed: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    squeezed.contains("group by")
        || [
            "count(", "sum(", "avg(", "min(", "max(", "count (", "sum (", "avg (",
        ]
        .iter()
        .any(|f| squeezed.contains(f))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use tauro_io::{StreamSink, StreamSource};

    use super::*;

    fn spec(node: &str, sink: SinkFormat, ck: Option<&str>) -> StreamingNodeSpec {
        StreamingNodeSpec {
            pipeline: "p".into(),
            node: node.into(),
            location: Location {
                file: PathBuf::from("nodes.yaml"),
                line: 3,
            },
            sources: vec![StreamSource {
                name: "events".into(),
                format: SourceFormat::Json,
                path: Some("/in".into()),
                schema: Some("id INT".into()),
                options: BTreeMap::new(),
                kafka: None,
            }],
            static_inputs: Vec::new(),
            sql: "SELECT * FROM events".into(),
            function: None,
            inputs: vec!["events".into()],
            sink: StreamSink {
                name: "out".into(),
                format: sink,
                path: Some("/out".into()),
                table: None,
                options: BTreeMap::new(),
                kafka: None,
                partition_by: Vec::new(),
                output_mode: OutputMode::Append,
                query_name: None,
                checkpoint_location: ck.map(String::from),
                trigger: StreamTrigger::AvailableNow,
            },
        }
    }

    fn kinds(issues: &[StreamingIssue]) -> Vec<IssueKind> {
        issues.iter().map(|i| i.kind).collect()
    }

    #[test]
    fn a_good_spec_passes() {
        assert!(
            StreamingValidator::check(&[spec("a", SinkFormat::Parquet, Some("/ck/a"))], &[])
                .is_empty()
        );
        // The console needs no checkpoint.
        assert!(StreamingValidator::check_one(&spec("a", SinkFormat::Console, None)).is_empty());
    }

    #[test]
    fn missing_checkpoint() {
        let issues = StreamingValidator::check_one(&spec("a", SinkFormat::Parquet, None));
        assert_eq!(kinds(&issues), vec![IssueKind::MissingCheckpoint]);
        assert!(
            issues[0]
                .to_string()
                .starts_with("nodes.yaml:3: node 'a': output 'out' needs a checkpoint")
        );
    }

    #[test]
    fn checkpoint_reused_in_the_pipeline_and_by_a_running_query() {
        let a = spec("a", SinkFormat::Parquet, Some("/ck/x"));
        let b = spec("b", SinkFormat::Parquet, Some("/ck/x/"));
        let issues = StreamingValidator::check(&[a.clone(), b], &[]);
        assert_eq!(kinds(&issues), vec![IssueKind::CheckpointReused]);
        assert!(issues[0].message.contains("'p.a'"), "{issues:?}");
        let issues = StreamingValidator::check(&[a], &[("/ck/x".into(), "q.z".into())]);
        assert_eq!(kinds(&issues), vec![IssueKind::CheckpointReused]);
    }

    #[test]
    fn continuous_trigger_with_file_sink_and_source() {
        let mut s = spec("a", SinkFormat::Parquet, Some("/ck"));
        s.sink.trigger = StreamTrigger::Continuous("1 second".into());
        let issues = StreamingValidator::check_one(&s);
        assert_eq!(
            kinds(&issues),
            vec![IssueKind::TriggerFormat, IssueKind::TriggerFormat]
        );
        s.sink.format = SinkFormat::Console;
        s.sources[0].format = SourceFormat::Rate;
        assert!(StreamingValidator::check_one(&s).is_empty());
    }

    #[test]
    fn output_modes_that_do_not_fit() {
        let mut s = spec("a", SinkFormat::Json, Some("/ck"));
        s.sink.output_mode = OutputMode::Update;
        assert_eq!(
            kinds(&StreamingValidator::check_one(&s)),
            vec![IssueKind::OutputMode]
        );
        s.sink.output_mode = OutputMode::Complete;
        s.sink.format = SinkFormat::Console;
        assert_eq!(
            kinds(&StreamingValidator::check_one(&s)),
            vec![IssueKind::OutputMode]
        );
        s.sql = "SELECT id, count(*) FROM events GROUP BY id".into();
        assert!(StreamingValidator::check_one(&s).is_empty());
    }

    #[test]
    fn sources_and_sinks_need_their_options() {
        let mut s = spec("a", SinkFormat::Kafka, Some("/ck"));
        s.sources[0].schema = None;
        s.sources.push(StreamSource {
            name: "k".into(),
            format: SourceFormat::Kafka,
            path: None,
            schema: None,
            options: BTreeMap::from([
                ("subscribe".into(), "t".into()),
                ("assign".into(), "{}".into()),
            ]),
            kafka: None,
        });
        let issues = StreamingValidator::check_one(&s);
        assert_eq!(
            kinds(&issues),
            vec![IssueKind::MissingOption; 5],
            "{issues:?}"
        );
    }
}
