//! Built-in hooks: JSON lines to a file, POST to a URL, a command, a run summary and a
//! Prometheus metrics file.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::http::post_json;
use super::{EventHook, EventKind, LifecycleEvent};
use crate::error::BoxError;
use crate::registry::BoxFuture;

/// Appends each event as one JSON line to a file (created with its directory).
#[derive(Debug, Clone)]
pub struct FileHook {
    name: String,
    path: PathBuf,
}

impl FileHook {
    /// A hook named `name` appending to `path`.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            path: path.into(),
        }
    }
}

impl EventHook for FileHook {
    fn name(&self) -> &str {
        &self.name
    }

    fn handle<'a>(&'a self, event: &'a LifecycleEvent) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let mut line = serde_json::to_vec(&event.to_json())?;
            line.push(b'\n');
            if let Some(dir) = self.path.parent()
                && !dir.as_os_str().is_empty()
            {
                tokio::fs::create_dir_all(dir).await?;
            }
            let mut file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .await
                .map_err(|e| format!("open {}: {e}", self.path.display()))?;
            // One write per line: lines of concurrent writers do not interleave.
            file.write_all(&line).await?;
            file.flush().await?;
            Ok(())
        })
    }
}

/// POSTs each event as `application/json` to a URL (`http://` or `https://`); any answer
/// but 2xx is an error.
#[derive(Debug, Clone)]
pub struct HttpHook {
    name: String,
    url: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
}

impl HttpHook {
    /// A hook named `name` posting to `url` (request timeout 5 s).
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            headers: Vec::new(),
            timeout: tauro_config::DEFAULT_HOOK_TIMEOUT,
        }
    }

    /// Extra request headers (e.g. `Authorization`).
    pub fn with_headers(mut self, headers: impl IntoIterator<Item = (String, String)>) -> Self {
        self.headers.extend(headers);
        self
    }

    /// The request timeout (the bus's timeout bounds the call too).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl EventHook for HttpHook {
    fn name(&self) -> &str {
        &self.name
    }

    fn handle<'a>(&'a self, event: &'a LifecycleEvent) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let body = serde_json::to_vec(&event.to_json())?;
            post_json(&self.url, &self.headers, body, self.timeout).await?;
            Ok(())
        })
    }
}

/// Runs a command per event with the event JSON on stdin and `TAURO_EVENT`,
/// `TAURO_RUN_ID`, `TAURO_PIPELINE` and `TAURO_NODE` in its environment. A non-zero exit
/// is an error (with the end of its stderr); a call cut off by the timeout kills it.
#[derive(Debug, Clone)]
pub struct CommandHook {
    name: String,
    command: String,
    args: Vec<String>,
    dir: Option<PathBuf>,
}

impl CommandHook {
    /// A hook named `name` running `command` (a program on `PATH`, or a path).
    pub fn new(name: impl Into<String>, command: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            command: command.into(),
            args: Vec::new(),
            dir: None,
        }
    }

    /// Its arguments.
    pub fn with_args(mut self, args: impl IntoIterator<Item = String>) -> Self {
        self.args.extend(args);
        self
    }

    /// Runs it in `dir` (a relative command path is resolved against it too).
    pub fn in_dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_path_buf());
        self
    }

    fn program(&self) -> PathBuf {
        let command = Path::new(&self.command);
        match &self.dir {
            Some(dir) if command.is_relative() && command.components().count() > 1 => {
                dir.join(command)
            }
            _ => command.to_path_buf(),
        }
    }
}

impl EventHook for CommandHook {
    fn name(&self) -> &str {
        &self.name
    }

    fn handle<'a>(&'a self, event: &'a LifecycleEvent) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let input = serde_json::to_vec(&event.to_json())?;
            let mut command = tokio::process::Command::new(self.program());
            command
                .args(&self.args)
                .env("TAURO_EVENT", event.kind())
                .env("TAURO_RUN_ID", &event.run_id)
                .env("TAURO_PIPELINE", &event.pipeline)
                .env("TAURO_NODE", event.node().unwrap_or_default())
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            if let Some(dir) = &self.dir {
                command.current_dir(dir);
            }
            let mut child = command
                .spawn()
                .map_err(|e| format!("cannot run '{}': {e}", self.command))?;
            if let Some(mut stdin) = child.stdin.take() {
                // A command that ignores its input may close stdin early: not an error.
                let _ = stdin.write_all(&input).await;
            }
            let mut stderr = Vec::new();
            if let Some(mut err) = child.stderr.take() {
                let _ = (&mut err).take(64 * 1024).read_to_end(&mut stderr).await;
            }
            let status = child.wait().await?;
            if status.success() {
                return Ok(());
            }
            let text = String::from_utf8_lossy(&stderr);
            let tail: Vec<&str> = text.trim().lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Err(format!(
                "'{}' exited with {status}: {}",
                self.command,
                tail.join(" | ")
            )
            .into())
        })
    }
}

/// One node in a [`RunSummary`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeSummary {
    /// The node.
    pub node: String,
    /// Its final status.
    pub status: String,
    /// Attempts started.
    pub attempts: u32,
    /// How long it took.
    pub duration_secs: Option<f64>,
    /// Rows written, when reported.
    pub rows_written: Option<u64>,
}

/// What a run did, collected from its events by a [`SummaryHook`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// The run.
    pub run_id: String,
    /// The pipeline.
    pub pipeline: String,
    /// When the first event of the run arrived.
    pub started_at: DateTime<Utc>,
    /// How the run ended (`succeeded`, `failed`, `cancelled`); `None` while it runs.
    pub status: Option<String>,
    /// The run's duration, once it ended.
    pub duration_secs: Option<f64>,
    /// Selected nodes (from `pipeline_start`).
    pub selected: usize,
    /// Nodes per final status (`completed`, `failed`, `skipped`, `cancelled`, `cached`).
    pub by_status: BTreeMap<String, usize>,
    /// Retries (`node_retry` events).
    pub retries: u64,
    /// Rows written over the nodes that reported it.
    pub rows_written: u64,
    /// Sum of the nodes' durations.
    pub node_secs: f64,
    /// Every node with a final status, in the order they finished.
    pub nodes: Vec<NodeSummary>,
}

impl RunSummary {
    fn new(event: &LifecycleEvent) -> Self {
        Self {
            run_id: event.run_id.clone(),
            pipeline: event.pipeline.clone(),
            started_at: event.timestamp,
            status: None,
            duration_secs: None,
            selected: 0,
            by_status: BTreeMap::new(),
            retries: 0,
            rows_written: 0,
            node_secs: 0.0,
            nodes: Vec::new(),
        }
    }

    /// True once `pipeline_complete` or `pipeline_error` arrived.
    pub fn finished(&self) -> bool {
        self.status.is_some()
    }

    fn record(&mut self, event: &LifecycleEvent) {
        match &event.kind {
            EventKind::PipelineStart { nodes } => self.selected = *nodes,
            EventKind::NodeRetry { .. } => self.retries += 1,
            EventKind::NodeCached { node, .. } => {
                *self.by_status.entry("cached".into()).or_default() += 1;
                self.nodes.push(NodeSummary {
                    node: node.clone(),
                    status: "cached".into(),
                    attempts: 0,
                    duration_secs: None,
                    rows_written: None,
                });
            }
            EventKind::PipelineComplete { status, duration }
            | EventKind::PipelineError {
                status, duration, ..
            } => {
                self.status = Some(status.to_string());
                self.duration_secs = Some(duration.as_secs_f64());
            }
            other => {
                if let Some(r) = other.result() {
                    let status = r.status.as_str().to_string();
                    *self.by_status.entry(status.clone()).or_default() += 1;
                    let duration = r.duration.map(|d| d.as_secs_f64());
                    self.node_secs += duration.unwrap_or_default();
                    self.rows_written += r.rows_written.unwrap_or_default();
                    self.nodes.push(NodeSummary {
                        node: r.name.clone(),
                        status,
                        attempts: r.attempts,
                        duration_secs: duration,
                        rows_written: r.rows_written,
                    });
                }
            }
        }
    }
}

/// Runs kept by a [`SummaryHook`] (the oldest are forgotten).
const KEPT_RUNS: usize = 64;

#[derive(Debug, Default)]
struct Runs {
    by_id: HashMap<String, RunSummary>,
    order: VecDeque<String>,
}

impl Runs {
    fn record(&mut self, event: &LifecycleEvent) -> &RunSummary {
        if !self.by_id.contains_key(&event.run_id) {
            if self.order.len() >= KEPT_RUNS
                && let Some(old) = self.order.pop_front()
            {
                self.by_id.remove(&old);
            }
            self.order.push_back(event.run_id.clone());
        }
        let summary = self
            .by_id
            .entry(event.run_id.clone())
            .or_insert_with(|| RunSummary::new(event));
        summary.record(event);
        summary
    }
}

/// Collects a [`RunSummary`] per run (counts per status, durations, rows). Clones share the
/// summaries: register one clone ([`super::EventBus::register`]) and read another.
#[derive(Debug, Clone)]
pub struct SummaryHook {
    name: String,
    runs: Arc<Mutex<Runs>>,
}

impl Default for SummaryHook {
    fn default() -> Self {
        Self::new()
    }
}

impl SummaryHook {
    /// A summary hook named `summary`.
    pub fn new() -> Self {
        Self {
            name: "summary".into(),
            runs: Arc::default(),
        }
    }

    fn runs(&self) -> std::sync::MutexGuard<'_, Runs> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The summary of the run `run_id`.
    pub fn summary(&self, run_id: &str) -> Option<RunSummary> {
        self.runs().by_id.get(run_id).cloned()
    }

    /// The summary of the most recently started run.
    pub fn latest(&self) -> Option<RunSummary> {
        let runs = self.runs();
        runs.order.back().and_then(|id| runs.by_id.get(id)).cloned()
    }
}

impl EventHook for SummaryHook {
    fn name(&self) -> &str {
        &self.name
    }

    fn handle<'a>(&'a self, event: &'a LifecycleEvent) -> BoxFuture<'a, Result<(), BoxError>> {
        self.runs().record(event);
        Box::pin(async { Ok(()) })
    }
}

/// Writes a Prometheus text file ([`render_prometheus`]) when a run ends, atomically (for
/// node_exporter's textfile collector). `{pipeline}` in the path is replaced by the
/// pipeline's name, so pipelines can keep separate files.
#[derive(Debug, Clone)]
pub struct MetricsHook {
    name: String,
    path: String,
    runs: Arc<Mutex<Runs>>,
}

impl MetricsHook {
    /// A hook named `name` writing to `path`.
    pub fn new(name: impl Into<String>, path: impl AsRef<Path>) -> Self {
        Self {
            name: name.into(),
            path: path.as_ref().to_string_lossy().into_owned(),
            runs: Arc::default(),
        }
    }

    /// The file of `pipeline`.
    pub fn path_for(&self, pipeline: &str) -> PathBuf {
        PathBuf::from(self.path.replace("{pipeline}", pipeline))
    }
}

impl EventHook for MetricsHook {
    fn name(&self) -> &str {
        &self.name
    }

    fn handle<'a>(&'a self, event: &'a LifecycleEvent) -> BoxFuture<'a, Result<(), BoxError>> {
        let finished = {
            let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
            let summary = runs.record(event).clone();
            if summary.finished() {
                runs.by_id.remove(&event.run_id);
                runs.order.retain(|id| id != &event.run_id);
                Some(summary)
            } else {
                None
            }
        };
        Box::pin(async move {
            let Some(summary) = finished else {
                return Ok(());
            };
            let path = self.path_for(&summary.pipeline);
            let text = render_prometheus(&summary);
            tokio::task::spawn_blocking(move || {
                crate::lineage::write_atomic_file(&path, text.as_bytes())
            })
            .await??;
            Ok(())
        })
    }
}

/// The Prometheus text exposition of a run: `tauro_run_info`, `tauro_run_duration_seconds`,
/// `tauro_run_end_timestamp_seconds`, `tauro_run_nodes{status}`, `tauro_run_retries`,
/// `tauro_run_rows_written`, and per node `tauro_node_duration_seconds{node,status}`,
/// `tauro_node_rows_written{node}`, `tauro_node_attempts{node}`. Every series has a
/// `pipeline` label.
pub fn render_prometheus(summary: &RunSummary) -> String {
    let p = escape(&summary.pipeline);
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, lines: Vec<String>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for line in lines {
            let _ = writeln!(out, "{name}{line}");
        }
    };
    family(
        "tauro_run_info",
        "gauge",
        "The run these metrics describe (always 1).",
        vec![format!(
            "{{pipeline=\"{p}\",run_id=\"{}\",status=\"{}\"}} 1",
            escape(&summary.run_id),
            escape(summary.status.as_deref().unwrap_or("running"))
        )],
    );
    family(
        "tauro_run_duration_seconds",
        "gauge",
        "How long the run took.",
        vec![format!(
            "{{pipeline=\"{p}\"}} {}",
            summary.duration_secs.unwrap_or_default()
        )],
    );
    family(
        "tauro_run_end_timestamp_seconds",
        "gauge",
        "When the run ended (Unix time).",
        vec![format!(
            "{{pipeline=\"{p}\"}} {}",
            Utc::now().timestamp_millis() as f64 / 1000.0
        )],
    );
    let statuses = ["completed", "failed", "skipped", "cancelled", "cached"];
    let mut counts: BTreeMap<&str, usize> = statuses.iter().map(|s| (*s, 0)).collect();
    for (status, n) in &summary.by_status {
        counts.insert(status.as_str(), *n);
    }
    family(
        "tauro_run_nodes",
        "gauge",
        "Nodes of the run by final status.",
        counts
            .iter()
            .map(|(s, n)| format!("{{pipeline=\"{p}\",status=\"{}\"}} {n}", escape(s)))
            .collect(),
    );
    family(
        "tauro_run_retries",
        "gauge",
        "Node attempts retried in the run.",
        vec![format!("{{pipeline=\"{p}\"}} {}", summary.retries)],
    );
    family(
        "tauro_run_rows_written",
        "gauge",
        "Rows written by the run's nodes.",
        vec![format!("{{pipeline=\"{p}\"}} {}", summary.rows_written)],
    );
    family(
        "tauro_node_duration_seconds",
        "gauge",
        "How long each node took in the run.",
        summary
            .nodes
            .iter()
            .filter_map(|n| {
                n.duration_secs.map(|d| {
                    format!(
                        "{{pipeline=\"{p}\",node=\"{}\",status=\"{}\"}} {d}",
                        escape(&n.node),
                        escape(&n.status)
                    )
                })
            })
            .collect(),
    );
    family(
        "tauro_node_rows_written",
        "gauge",
        "Rows each node wrote in the run.",
        summary
            .nodes
            .iter()
            .filter_map(|n| {
                n.rows_written
                    .map(|r| format!("{{pipeline=\"{p}\",node=\"{}\"}} {r}", escape(&n.node)))
            })
            .collect(),
    );
    family(
        "tauro_node_attempts",
        "gauge",
        "Attempts each node started in the run.",
        summary
            .nodes
            .iter()
            .map(|n| {
                format!(
                    "{{pipeline=\"{p}\",node=\"{}\"}} {}",
                    escape(&n.node),
                    n.attempts
                )
            })
            .collect(),
    );
    out
}

/// A Prometheus label value: `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
