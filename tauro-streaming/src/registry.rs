//! Detached streaming queries: [`StreamRegistry`], [`stream_status`] and [`stream_stop`].
//!
//! `tauro-cli exec --mode async` starts a pipeline's streaming queries and returns while
//! they run on the server ([`crate::HybridRunner::with_detach`]). The Spark Connect server
//! keeps a session, and the queries started in it, after the client process exits (the
//! client does not release sessions on exit); a later process reaches them by attaching to
//! the same session id ([`SparkEngine::attach_session`]). Queries are only visible from
//! their own session, so the registry records each query's session id.
//!
//! The registry lives in `<project_dir>/.tauro/streams.json` and is rewritten atomically
//! (temporary file, then rename). It stores only `host:port` of the server: credentials come
//! from the current configuration or flags when the queries are looked up. A server restart
//! (or an expired session) ends the queries; they are then reported as not found.
//!
//! Session expiry: the server closes a session after it has had no request for
//! `spark.connect.session.manager.defaultSessionTimeout` (60 min by default) and then
//! **stops the session's streaming queries**; a running query does not keep its session
//! alive. Every [`stream_status`] touches each session, so polling status more often than
//! the timeout keeps detached queries running; otherwise raise the timeout where the server
//! is started.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tauro_config::Context;
use tauro_io::{Session, SparkEngine, StreamingQuery};

use crate::error::{Error, Result};

/// The registry file, relative to the project directory.
pub const REGISTRY_FILE: &str = ".tauro/streams.json";

/// One detached streaming query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamEntry {
    /// The pipeline.
    pub pipeline: String,
    /// The streaming node.
    pub node: String,
    /// Spark's query id.
    pub query_id: String,
    /// The query name.
    pub query_name: Option<String>,
    /// The server-side session the query runs in.
    pub session_id: String,
    /// The server, `host:port` only (never a token).
    pub remote: String,
    /// When the query started (RFC 3339, UTC).
    pub started_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RegistryFile {
    streams: Vec<StreamEntry>,
}

/// The detached queries of one project, in `<project_dir>/.tauro/streams.json`.
#[derive(Debug, Clone)]
pub struct StreamRegistry {
    path: PathBuf,
}

impl StreamRegistry {
    /// The registry of the project in `project_dir`.
    pub fn new(project_dir: &Path) -> Self {
        Self {
            path: project_dir.join(REGISTRY_FILE),
        }
    }

    /// The registry of `ctx`'s project.
    pub fn for_context(ctx: &Context) -> Self {
        Self::new(&ctx.project_dir)
    }

    /// The registry file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry (none when the file does not exist).
    pub fn load(&self) -> Result<Vec<StreamEntry>> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str::<RegistryFile>(&text)
                .map(|f| f.streams)
                .map_err(|e| self.error(format!("invalid JSON: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.error(format!("cannot read: {e}"))),
        }
    }

    /// The entries of one pipeline.
    pub fn entries(&self, pipeline: &str) -> Result<Vec<StreamEntry>> {
        Ok(self
            .load()?
            .into_iter()
            .filter(|e| e.pipeline == pipeline)
            .collect())
    }

    /// Records `entries`, replacing any earlier entry of the same pipeline and node.
    pub fn record(&self, entries: &[StreamEntry]) -> Result<()> {
        let mut all = self.load()?;
        all.retain(|old| {
            !entries
                .iter()
                .any(|new| new.pipeline == old.pipeline && new.node == old.node)
        });
        all.extend(entries.iter().cloned());
        self.save(all)
    }

    /// Removes the entries of `pipeline` whose node is in `nodes`.
    pub fn remove(&self, pipeline: &str, nodes: &[String]) -> Result<()> {
        let mut all = self.load()?;
        let before = all.len();
        all.retain(|e| !(e.pipeline == pipeline && nodes.contains(&e.node)));
        if all.len() == before {
            return Ok(());
        }
        self.save(all)
    }

    /// Writes the file atomically: a temporary file next to it, then a rename.
    fn save(&self, streams: Vec<StreamEntry>) -> Result<()> {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| self.error(format!("cannot create {}: {e}", dir.display())))?;
        let text = serde_json::to_string_pretty(&RegistryFile { streams })
            .map_err(|e| self.error(format!("cannot encode: {e}")))?;
        let tmp = dir.join(format!(".streams.json.{}.tmp", std::process::id()));
        std::fs::write(&tmp, text + "\n")
            .map_err(|e| self.error(format!("cannot write {}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.error(format!("cannot replace: {e}"))
        })
    }

    fn error(&self, message: String) -> Error {
        Error::Registry {
            path: self.path.clone(),
            message,
        }
    }
}

/// `host:port` of a remote (`sc://host:port/;token=...` gives `host:port`).
pub fn remote_host_port(remote: &str) -> String {
    let rest = remote.strip_prefix("sc://").unwrap_or(remote);
    rest.split(['/', ';'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The current UTC time, RFC 3339.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What a detached query is doing, as [`stream_status`] and [`stream_stop`] report it.
#[derive(Debug, Clone, Serialize)]
pub struct StreamState {
    /// The registry entry.
    #[serde(flatten)]
    pub entry: StreamEntry,
    /// True when the query was found in its session.
    pub found: bool,
    /// True when it is running.
    pub active: bool,
    /// Spark's status message, or why the query was not found.
    pub status: String,
    /// Spark's last progress (`StreamingQueryProgress` JSON).
    pub last_progress: Option<serde_json::Value>,
    /// True when [`stream_stop`] stopped it.
    pub stopped: bool,
    /// What went wrong reading or stopping it.
    pub error: Option<String>,
}

const NOT_FOUND: &str = "not found (stopped or server restarted)";
const SESSION_CLOSED: &str =
    "not found (its session expired or was closed; the server stopped its queries)";

impl StreamState {
    fn new(entry: StreamEntry) -> Self {
        Self {
            entry,
            found: false,
            active: false,
            status: NOT_FOUND.into(),
            last_progress: None,
            stopped: false,
            error: None,
        }
    }
}

/// Attaches to the entry's session and looks its query up.
async fn find(
    engine: &SparkEngine,
    entry: &StreamEntry,
    state: &mut StreamState,
) -> Option<StreamingQuery> {
    let here = remote_host_port(engine.remote());
    if here != entry.remote {
        tracing::warn!(
            recorded = %entry.remote, current = %here,
            "the query was started on another server; looking it up on the current one"
        );
    }
    let session: Session = match engine.attach_session(&entry.session_id).await {
        Ok(s) => s,
        Err(e) => {
            state.error = Some(e.to_string());
            return None;
        }
    };
    match session.query(&entry.query_id).await {
        Ok(found) => found,
        // The server stops a session's queries when the session is closed or expires
        // (`spark.connect.session.manager.defaultSessionTimeout`, 60 min idle by default).
        Err(e)
            if e.error_class()
                .is_some_and(|c| c.starts_with("INVALID_HANDLE.SESSION_CLOSED")) =>
        {
            state.status = SESSION_CLOSED.into();
            None
        }
        Err(e) => {
            state.error = Some(e.to_string());
            None
        }
    }
}

async fn describe(query: &StreamingQuery, state: &mut StreamState) {
    state.found = true;
    match query.status().await {
        Ok(s) => {
            state.active = s.is_active;
            state.status = s.message;
        }
        Err(e) => state.error = Some(e.to_string()),
    }
    state.last_progress = query.last_progress().await.ok().flatten();
}

/// The state of every recorded query of `pipeline` (attaching to each query's session).
pub async fn stream_status(
    ctx: &Context,
    engine: &SparkEngine,
    pipeline: &str,
) -> Result<Vec<StreamState>> {
    let registry = StreamRegistry::for_context(ctx);
    let mut states = Vec::new();
    for entry in registry.entries(pipeline)? {
        let mut state = StreamState::new(entry.clone());
        if let Some(query) = find(engine, &entry, &mut state).await {
            describe(&query, &mut state).await;
        }
        states.push(state);
    }
    Ok(states)
}

/// Stops every recorded query of `pipeline` gracefully (each within `timeout`) and removes
/// the entries of the queries stopped or no longer found. A query that did not stop stays
/// recorded (its state has the error).
pub async fn stream_stop(
    ctx: &Context,
    engine: &SparkEngine,
    pipeline: &str,
    timeout: Duration,
) -> Result<Vec<StreamState>> {
    let registry = StreamRegistry::for_context(ctx);
    let mut states = Vec::new();
    let mut done = Vec::new();
    for entry in registry.entries(pipeline)? {
        let mut state = StreamState::new(entry.clone());
        match find(engine, &entry, &mut state).await {
            Some(query) => {
                describe(&query, &mut state).await;
                match query.stop(timeout).await {
                    Ok(true) => {
                        state.stopped = true;
                        state.active = false;
                        state.status = "stopped".into();
                        state.last_progress = query
                            .last_progress()
                            .await
                            .ok()
                            .flatten()
                            .or(state.last_progress.take());
                        done.push(entry.node.clone());
                    }
                    Ok(false) => {
                        state.error =
                            Some(format!("did not stop within {}s", timeout.as_secs_f64()));
                    }
                    Err(e) => state.error = Some(e.to_string()),
                }
            }
            None if state.error.is_none() => done.push(entry.node.clone()),
            None => {}
        }
        states.push(state);
    }
    registry.remove(pipeline, &done)?;
    Ok(states)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pipeline: &str, node: &str, id: &str) -> StreamEntry {
        StreamEntry {
            pipeline: pipeline.into(),
            node: node.into(),
            query_id: id.into(),
            query_name: None,
            session_id: "s".into(),
            remote: "h:1".into(),
            started_at: now_rfc3339(),
        }
    }

    #[test]
    fn records_replace_and_remove() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::Registry {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
        let reg = StreamRegistry::new(dir.path());
        assert!(reg.load()?.is_empty());
        reg.record(&[
            entry("p", "a", "1"),
            entry("p", "b", "2"),
            entry("q", "a", "3"),
        ])?;
        reg.record(&[entry("p", "a", "4")])?;
        let p = reg.entries("p")?;
        assert_eq!(p.len(), 2);
        assert!(p.iter().any(|e| e.node == "a" && e.query_id == "4"));
        reg.remove("p", &["a".into(), "b".into()])?;
        assert!(reg.entries("p")?.is_empty());
        assert_eq!(reg.entries("q")?.len(), 1);
        assert!(dir.path().join(".tauro/streams.json").is_file());
        Ok(())
    }

    #[test]
    fn only_host_and_port_are_kept() {
        assert_eq!(
            remote_host_port("sc://h.example:443/;use_ssl=true;token=SECRET"),
            "h.example:443"
        );
        assert_eq!(remote_host_port("sc://127.0.0.1:15002"), "127.0.0.1:15002");
    }
}
