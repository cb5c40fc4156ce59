//! [`SparkNodeRunner`]: runs node attempts on Spark Connect.
//!
//! Each attempt has a session **of its own while it runs** (`SparkEngine::new_session`): its
//! input views cannot collide with another node's, its interrupt tag cancels only its own
//! work. Runs of different pipelines are isolated the same way.
//!
//! A session is handed on to a later attempt only when the attempt that used it can have
//! left nothing in it but its input views: a SQL query node with outputs, at most
//! [`REUSE_MAX_VIEWS`] inputs, no expectations (their checks switch confs) and no ML settings
//! (confs), that succeeded. Its input views are dropped first, in the background, then the
//! session waits in the runner's pool ([`SESSION_POOL`] at most) for the next attempt of such
//! a node. Every other session is released after its attempt. A reused session saves the next attempt the new session on
//! the server, the engine's session confs (`Config`) and the slower first query of a fresh
//! session. [`NodeRunner::finish`] releases the pool at the end of a run.
//!
//! An attempt:
//! 1. loads each input with `InputLoader` and registers it as a temp view named after the
//!    input ([`crate::view_name`]: `sales.daily` → `sales_daily`);
//! 2. runs the command: SQL with `:start_date` / `:end_date` bound as named `DATE` parameters
//!    (never spliced into the text), or the registered function with the input frames;
//! 3. writes the result to every output with `OutputManager`, one after the other (a SQL
//!    node with several outputs computes its query once per output). A SQL node without
//!    outputs is run as a statement (DDL/DML), for now without date parameters;
//! 4. records the attempt's lineage ([`LineageOptions`]): input schemas (from the loads'
//!    analyses), output schemas (one `AnalyzePlan` per output frame, after the writes), the
//!    rows written, optional samples; it becomes [`crate::NodeResult::lineage`].
//!
//! The attempt's Spark Connect RPCs (counted by kind and timed by its session) become
//! [`crate::NodeResult::spark`] and a debug log line. Then its session is released on the
//! server (`ReleaseSession`), in the background, not counted.
//!
//! With a [`SessionLedger`] (the CLI's runs), each attempt's session is recorded while it may
//! have work on the server, and before the first attempt the runner ends the work that a
//! killed earlier run of the project left running there, so that it cannot land after (or
//! beside) this run's writes.
//!
//! When the attempt's cancel token fires (timeout, Ctrl-C, circuit breaker), the session is
//! cancelled (its interrupt tag), the interrupted action is awaited (bounded), and the
//! attempt returns [`Error::Cancelled`]. If the attempt is dropped instead, a short
//! background task still sends the interrupt.

use std::sync::{Arc, Mutex, PoisonError};

use futures_util::{StreamExt, TryStreamExt, stream};
use std::time::Duration;

use tauro_config::{DataFormat, DateWindow, NodeConfig, WriteMode};
use tauro_io::{Frame, InputLoader, OutputManager, Session, SparkEngine, SqlValue, WriteReport};

use crate::command::NodeCommand;
use crate::error::{Error, Result};
use crate::incremental::{AppendDecision, AppendJournal, SessionLedger, StateDir};
use crate::lineage::{LineageCapture, LineageOptions};
use crate::ml::{MetricSink, MlNodeSettings, metrics_from_frame};
use crate::names::{closest, input_views};
use crate::registry::{BoxFuture, NodeContext, NodeOutput, NodeRegistry};
use crate::runner::{NodeJob, NodeOutcome, NodeRunner, WrittenOutput};
use tauro_config::ml::conf_text;

/// How long an interrupted action gets to return after `Session::cancel`.
const INTERRUPT_GRACE: Duration = Duration::from_secs(15);
/// Most sessions kept for reuse between attempts.
const SESSION_POOL: usize = 16;
/// Most input views an attempt may have for its session to be reused (each is one RPC to
/// drop).
const REUSE_MAX_VIEWS: usize = 4;

/// Runs node attempts on a Spark Connect engine, with `function:` nodes looked up in a
/// [`NodeRegistry`].
#[derive(Debug, Clone)]
pub struct SparkNodeRunner {
    engine: SparkEngine,
    registry: Arc<NodeRegistry>,
    lineage: LineageOptions,
    journal: Option<Arc<AppendJournal>>,
    sessions: Option<Arc<SessionLedger>>,
    pool: SessionPool,
}

/// Sessions of finished attempts, ready for the next ones (clones share them).
#[derive(Debug, Clone, Default)]
struct SessionPool(Arc<Mutex<Pooled>>);

#[derive(Debug, Default)]
struct Pooled {
    idle: Vec<Session>,
    /// Bumped by [`SessionPool::drain`]: a session reset for an earlier generation is
    /// released instead of pooled.
    generation: u64,
}

impl SessionPool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pooled> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle session, if any, and the generation to give it back in.
    fn take(&self) -> (Option<Session>, u64) {
        let mut pool = self.lock();
        (pool.idle.pop(), pool.generation)
    }

    /// The generation sessions taken now belong to.
    fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Keeps `session` for a later attempt; gives it back when the pool is full or was
    /// drained since `generation`.
    fn give_back(&self, session: Session, generation: u64) -> Option<Session> {
        let mut pool = self.lock();
        if pool.generation == generation && pool.idle.len() < SESSION_POOL {
            pool.idle.push(session);
            return None;
        }
        Some(session)
    }

    /// Every idle session, leaving the pool empty in a new generation.
    fn drain(&self) -> Vec<Session> {
        let mut pool = self.lock();
        pool.generation += 1;
        std::mem::take(&mut pool.idle)
    }
}

impl SparkNodeRunner {
    /// A runner on `engine` with the functions of `registry` (e.g.
    /// [`NodeRegistry::with_builtins`]).
    pub fn new(engine: SparkEngine, registry: impl Into<Arc<NodeRegistry>>) -> Self {
        Self {
            engine,
            registry: registry.into(),
            lineage: LineageOptions::default(),
            journal: None,
            sessions: None,
            pool: SessionPool::default(),
        }
    }

    /// Makes `append` outputs go through the write-ahead journal of `dir`
    /// ([`AppendJournal`]), so that a node run again after a crash between its write and
    /// the run state does not append its rows twice. `dir` must be the state directory
    /// whose run state records this runner's runs ([`crate::IncrementalRun`]).
    pub fn with_append_journal(mut self, dir: StateDir) -> Self {
        self.journal = Some(Arc::new(AppendJournal::new(dir)));
        self
    }

    /// Records the attempts' sessions in the ledger of `dir` ([`SessionLedger`]) and, before
    /// the first attempt, ends the Spark work killed earlier runs left in theirs.
    pub fn with_session_ledger(mut self, dir: &StateDir) -> Self {
        self.sessions = Some(Arc::new(SessionLedger::new(dir, self.engine.remote())));
        self
    }

    /// What lineage each attempt records (default: schemas and rows, no samples).
    pub fn with_lineage(mut self, options: LineageOptions) -> Self {
        self.lineage = options;
        self
    }

    /// Samples `n` rows of every input and output into the lineage (`--track sample`);
    /// 0 turns sampling off. Each sample is a small `LIMIT n` job.
    pub fn with_sample_rows(mut self, n: usize) -> Self {
        self.lineage.sample_rows = n;
        self
    }

    /// The engine.
    pub fn engine(&self) -> &SparkEngine {
        &self.engine
    }

    async fn attempt(&self, job: NodeJob) -> Result<NodeOutcome> {
        let node = job.node().name.clone();
        let cancel = job.cancel_token().clone();
        let ledger = self.sessions.as_ref();
        // Only an attempt whose session can be reused after it takes a pooled one: an
        // attempt that changes its session more ends it.
        let views = reusable_views(&job);
        let (pooled, generation) = if views.is_some() {
            self.pool.take()
        } else {
            (None, self.pool.generation())
        };
        // A pooled session's RPCs so far are its earlier attempts'.
        let rpcs_before = pooled.as_ref().map(Session::rpc_stats).unwrap_or_default();
        let session = match pooled {
            Some(session) => session,
            None => tokio::select! {
                session = async {
                    if let Some(ledger) = ledger {
                        ledger.end_leftovers(&self.engine).await?;
                    }
                    Ok::<_, Error>(self.engine.new_session().await?)
                } => session?,
                () = cancel.cancelled() => return Err(Error::Cancelled { node }),
            },
        };
        if let Some(ledger) = ledger {
            ledger.opened(session.id(), &node);
        }
        let guard = InterruptOnDrop(Some(session.clone()));
        let work = run_node(
            &self.registry,
            self.lineage,
            self.journal.as_deref(),
            &job,
            &session,
        );
        tokio::pin!(work);
        let result = tokio::select! {
            result = &mut work => result,
            () = cancel.cancelled() => {
                tracing::info!(node = %node, "cancelling the node's Spark work");
                if let Err(e) = session.cancel().await {
                    tracing::warn!(node = %node, error = %e, "could not interrupt the node's Spark work");
                }
                if tokio::time::timeout(INTERRUPT_GRACE, &mut work).await.is_err() {
                    tracing::warn!(node = %node, "interrupted Spark work did not return in time");
                }
                Err(Error::Cancelled { node: node.clone() })
            }
        };
        guard.disarm();
        let rpcs = session.rpc_stats().since(&rpcs_before);
        // A result means every action of the attempt returned: nothing of it runs on the
        // server. After a failure an interrupted action may still be ending there; its
        // release (which stops it) closes it in the ledger.
        let ledger = ledger.cloned();
        if let Some(l) = ledger.as_ref().filter(|_| result.is_ok()) {
            l.closed(session.id());
        }
        // The session is reset for the next attempt, or freed on the server: sessions left
        // to the server's idle timeout pile up (one per node attempt) and slow every later
        // request down. Either runs in the background, off the path of the node's
        // dependents (a release takes about 10 ms on Spark); neither is among the attempt's
        // RPCs.
        let views = views.filter(|_| result.is_ok());
        if let Err(Error::Io(e)) = &result
            && (e.is_unreachable()
                || e.error_class()
                    .is_some_and(|c| c.starts_with("INVALID_HANDLE")))
        {
            // The server lost its sessions (or is gone): the pooled ones are stale.
            release_all(self.pool.drain());
        }
        let pool = self.pool.clone();
        let (released, releasing) = (node.clone(), session.clone());
        tokio::spawn(async move {
            if let Some(views) = views
                && reset(&releasing, &views).await
                && pool.give_back(releasing.clone(), generation).is_none()
            {
                return;
            }
            match releasing.release().await {
                Ok(()) => {
                    if let Some(l) = ledger {
                        l.closed(releasing.id());
                    }
                }
                Err(e) => {
                    tracing::debug!(node = %released, error = %e, "could not release the node's Spark session");
                }
            }
        });
        tracing::debug!(
            node = %node,
            attempt = job.attempt(),
            rpcs = rpcs.rpcs,
            rpc_ms = rpcs.rpc_secs * 1000.0,
            by_kind = ?rpcs.by_kind,
            "Spark Connect RPCs of the attempt"
        );
        result.map(|mut outcome| {
            outcome.spark = Some(rpcs);
            outcome
        })
    }
}

impl NodeRunner for SparkNodeRunner {
    fn run(&self, job: NodeJob) -> BoxFuture<'_, Result<NodeOutcome>> {
        Box::pin(self.attempt(job))
    }

    /// Releases the sessions kept for reuse (concurrently, each bounded).
    fn finish(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let releases = self.pool.drain().into_iter().map(|session| async move {
                if let Err(e) = session.release().await {
                    tracing::debug!(error = %e, "could not release a pooled Spark session");
                }
            });
            futures_util::future::join_all(releases).await;
        })
    }

    fn registry(&self) -> Option<&NodeRegistry> {
        Some(&self.registry)
    }
}

/// The temp views to drop before the session of `job`'s successful attempt serves another
/// attempt, or `None` when the attempt may have left more in it (see the module docs).
fn reusable_views(job: &NodeJob) -> Option<Vec<String>> {
    let node = job.node();
    let ctx = job.context();
    let query =
        matches!(NodeCommand::from_node(node), NodeCommand::Sql { .. }) && !node.output.is_empty();
    let checked = !node.expectations.is_empty()
        || node.input.iter().any(|i| {
            ctx.inputs
                .get(i)
                .is_some_and(|c| !c.expectations.is_empty())
        });
    if !query || checked || job.ml().is_some() || node.input.len() > REUSE_MAX_VIEWS {
        return None;
    }
    let views = input_views(node).ok()?;
    Some(views.into_iter().map(|(_, view)| view).collect())
}

/// Releases `sessions` in the background.
fn release_all(sessions: Vec<Session>) {
    for session in sessions {
        tokio::spawn(async move {
            let _ = session.release().await;
        });
    }
}

/// Drops `views` from `session`; true when all went.
async fn reset(session: &Session, views: &[String]) -> bool {
    for view in views {
        if let Err(e) = session.drop_temp_view(view).await {
            tracing::debug!(view = %view, error = %e, "could not drop a node's view; the session is released instead");
            return false;
        }
    }
    true
}

/// The `:start_date` / `:end_date` parameters of a window.
pub(crate) fn date_params(window: Option<DateWindow>) -> Vec<(String, SqlValue)> {
    window.map_or_else(Vec::new, |w| {
        vec![
            ("start_date".to_string(), SqlValue::Date(w.start)),
            ("end_date".to_string(), SqlValue::Date(w.end)),
        ]
    })
}

/// How many inputs of one node load at once.
const INPUT_LOADS_IN_FLIGHT: usize = 8;

async fn run_node(
    registry: &NodeRegistry,
    lineage: LineageOptions,
    journal: Option<&AppendJournal>,
    job: &NodeJob,
    session: &Session,
) -> Result<NodeOutcome> {
    let ctx = &**job.context();
    let node = job.node();
    let mut capture = LineageCapture::new(lineage, ctx, job.attempt());
    let loader = InputLoader::new(ctx, session);
    // The inputs are independent: load them concurrently, a few at a time (the session bounds
    // its calls in flight too), so a fan-in node waits for a few round trips, not one per
    // input. Expectation checks run one at a time: each switches the session's adaptive
    // execution off and back on around its query.
    let checking = tokio::sync::Mutex::new(());
    let (loader, checking) = (&loader, &checking);
    let views: Vec<(String, String)> = input_views(node)?
        .into_iter()
        .map(|(input, view)| (input.to_string(), view))
        .collect();
    let loads = views.into_iter().map(|(input, view)| async move {
        let checked = ctx
            .inputs
            .get(&input)
            .filter(|config| !config.expectations.is_empty());
        let Some(config) = checked else {
            let frame = loader.load_view(&input, job.window(), &view).await?;
            return Ok::<_, Error>((input, frame, Vec::new()));
        };
        let frame = loader.load(&input, job.window()).await?;
        let target = crate::expect::Target {
            node: &node.name,
            input: Some(&input),
            expectations: &config.expectations,
            until: job.window().map(|w| w.end),
        };
        let (frame, results) = {
            let _one_at_a_time = checking.lock().await;
            crate::expect::check(target, frame).await?
        };
        frame.create_temp_view(&view).await?;
        Ok((input, frame, results))
    });
    let loaded: Vec<_> = stream::iter(loads)
        .buffered(INPUT_LOADS_IN_FLIGHT)
        .try_collect()
        .await?;
    let mut frames = Vec::with_capacity(loaded.len());
    let mut input_checks = Vec::new();
    for (input, frame, results) in loaded {
        input_checks.extend(results);
        capture.input(&input, &frame);
        frames.push(frame);
    }
    capture.inputs_loaded();
    if let Some(ml) = job.ml() {
        set_ml_confs(session, ml, job.run_id()).await?;
    }
    let declared = node.metrics.as_slice();
    let mut recorded = MetricSink::default();
    let output = match NodeCommand::from_node(node) {
        NodeCommand::Sql { text, .. } if node.output.is_empty() && declared.is_empty() => {
            run_statement(session, node, &text, job.window()).await?;
            NodeOutput::Nothing
        }
        NodeCommand::Sql { text, .. } => NodeOutput::Frame(
            session
                .sql_with_params(&text, date_params(job.window()))
                .await?,
        ),
        NodeCommand::Function { name } => {
            let function = registry.get(&name).ok_or_else(|| Error::UnknownFunction {
                node: node.name.clone(),
                function: name.clone(),
                registered: registry.names().map(str::to_string).collect(),
                suggestion: closest(&name, registry.names()),
                location: Box::new(node.location.clone()),
            })?;
            let nctx = NodeContext::new(job.clone(), session.clone());
            recorded = nctx.metric_sink().clone();
            function.call(nctx, frames).await?
        }
    };
    // A metrics-only node (declared metrics, no outputs) returns its metrics frame.
    let metrics_frame = match &output {
        NodeOutput::Frame(frame) if !declared.is_empty() => Some(frame.clone()),
        _ => None,
    };
    let to_write = match output {
        NodeOutput::Frame(_) if node.output.is_empty() && metrics_frame.is_some() => {
            NodeOutput::Nothing
        }
        other => other,
    };
    let until = job.window().map(|w| w.end);
    let (to_write, expectations) = expectations(node, to_write, until).await?;
    let mut outcome = write_outputs(job, node, session, to_write, &mut capture, journal).await?;
    input_checks.extend(expectations);
    outcome.expectations = input_checks;
    let recorded = recorded.take();
    if !declared.is_empty() || !recorded.is_empty() {
        outcome.metrics =
            metrics_from_frame(&node.name, metrics_frame.as_ref(), declared, recorded).await?;
    }
    outcome.lineage = capture.finish().await.map(|mut l| {
        l.expectations.clone_from(&outcome.expectations);
        l
    });
    Ok(outcome)
}

/// Checks the node's expectations on what it is about to write (each frame of a per-output
/// result); returns what to write (rows of `drop` expectations filtered out).
async fn expectations(
    node: &NodeConfig,
    output: NodeOutput,
    until: Option<chrono::NaiveDate>,
) -> Result<(NodeOutput, Vec<crate::expect::ExpectationResult>)> {
    if node.expectations.is_empty() {
        return Ok((output, Vec::new()));
    }
    let target = crate::expect::Target {
        node: &node.name,
        input: None,
        expectations: &node.expectations,
        until,
    };
    match output {
        NodeOutput::Frame(frame) => {
            let (frame, results) = crate::expect::check(target, frame).await?;
            Ok((NodeOutput::Frame(frame), results))
        }
        NodeOutput::PerOutput(frames) => {
            let mut out = Vec::with_capacity(frames.len());
            let mut all = Vec::new();
            for (name, frame) in frames {
                let (frame, results) = crate::expect::check(target, frame).await?;
                all.extend(results);
                out.push((name, frame));
            }
            Ok((NodeOutput::PerOutput(out), all))
        }
        other => Ok((other, Vec::new())),
    }
}

/// Sets the node's ML settings on its session: `tauro.ml.<hyperparameter>`,
/// `tauro.ml.model_version`, `tauro.ml.model_name`, `tauro.ml.run_id`.
async fn set_ml_confs(session: &Session, ml: &MlNodeSettings, run_id: Option<&str>) -> Result<()> {
    let mut confs: Vec<(String, String)> = ml
        .hyperparams
        .iter()
        .map(|(name, value)| (format!("tauro.ml.{name}"), conf_text(value)))
        .collect();
    if let Some(version) = &ml.model_version {
        confs.push(("tauro.ml.model_version".into(), version.clone()));
    }
    confs.push(("tauro.ml.model_name".into(), ml.model_name.clone()));
    if let Some(run_id) = run_id {
        confs.push(("tauro.ml.run_id".into(), run_id.to_string()));
    }
    // One `Config` RPC for all of them.
    session.set_confs(&confs).await?;
    Ok(())
}

/// A SQL node without outputs: a statement (DDL/DML), run to completion.
///
/// `Session::execute` takes no parameters (and a parameterised `sql()` relation holding a
/// command cannot be run by an action), so statements run without `:start_date`/`:end_date`;
/// if Spark reports them unbound, the error says so.
async fn run_statement(
    session: &Session,
    node: &NodeConfig,
    text: &str,
    window: Option<DateWindow>,
) -> Result<()> {
    match session.execute(text).await {
        Err(source)
            if window.is_some() && source.error_class() == Some("UNBOUND_SQL_PARAMETER") =>
        {
            Err(Error::StatementParameters {
                node: node.name.clone(),
                source,
            })
        }
        other => Ok(other?),
    }
}

async fn write_outputs(
    job: &NodeJob,
    node: &NodeConfig,
    session: &Session,
    output: NodeOutput,
    capture: &mut LineageCapture<'_>,
    journal: Option<&AppendJournal>,
) -> Result<NodeOutcome> {
    // One frame written to every output: its schema is read once.
    let shared = matches!(output, NodeOutput::Frame(_));
    let targets: Vec<(&str, Frame)> = match output {
        NodeOutput::Frame(_) if node.output.is_empty() => {
            return Err(mismatch(
                node,
                "the function returned a frame but the node has no `output`",
            ));
        }
        NodeOutput::Frame(frame) => node
            .output
            .iter()
            .map(|o| (o.as_str(), frame.clone()))
            .collect(),
        NodeOutput::PerOutput(mut frames) => {
            let mut targets = Vec::with_capacity(node.output.len());
            for name in &node.output {
                let Some(at) = frames.iter().position(|(n, _)| n == name) else {
                    return Err(mismatch(
                        node,
                        &format!("the function returned no frame for output '{name}'"),
                    ));
                };
                targets.push((name.as_str(), frames.swap_remove(at).1));
            }
            if let Some((extra, _)) = frames.first() {
                return Err(mismatch(
                    node,
                    &format!(
                        "the function returned a frame for '{extra}', which is not an output of the node"
                    ),
                ));
            }
            targets
        }
        NodeOutput::Nothing if node.output.is_empty() => Vec::new(),
        NodeOutput::Nothing => {
            return Err(mismatch(
                node,
                "the function returned nothing but the node has outputs to write",
            ));
        }
    };
    let writer = OutputManager::new(job.context(), session);
    let mut outputs = Vec::with_capacity(targets.len());
    for (i, (name, frame)) in targets.into_iter().enumerate() {
        let schema = capture.analyse_output(&frame, shared && i > 0);
        let report = write_once(&writer, journal, job, session, name, &frame).await?;
        tracing::debug!(node = %node.name, output = %name, rows = ?report.rows, "output written");
        let written = WrittenOutput::from(report);
        capture.output(&frame, schema, &written);
        outputs.push(written);
    }
    Ok(NodeOutcome {
        outputs,
        lineage: None,
        metrics: indexmap::IndexMap::new(),
        expectations: Vec::new(),
        spark: None,
    })
}

/// Writes one output; an `append` to a path goes through the journal when there is one, and
/// is skipped when an earlier, unrecorded attempt of the node already made it.
async fn write_once(
    writer: &OutputManager<'_>,
    journal: Option<&AppendJournal>,
    job: &NodeJob,
    session: &Session,
    name: &str,
    frame: &Frame,
) -> Result<WriteReport> {
    let output = job.context().outputs.get(name);
    let journaled = match (journal, output, job.run_id()) {
        (Some(journal), Some(output), Some(run_id))
            if output.write_mode == WriteMode::Append
                && output.format != DataFormat::Kafka
                && output.filepath.is_some() =>
        {
            output
                .stored_format()
                .spark_source()
                .zip(output.filepath.as_deref())
                .map(|(source, path)| (journal, source, path, run_id))
        }
        _ => None,
    };
    let Some((journal, source, path, run_id)) = journaled else {
        return Ok(writer.write(name, frame, job.window()).await?);
    };
    let files = session.data_files(source, path).await?;
    let journal = journal.clone();
    let (pipeline, node, output_name, run) = (
        job.pipeline().to_string(),
        job.node().name.clone(),
        name.to_string(),
        run_id.to_string(),
    );
    let decision = tokio::task::spawn_blocking(move || {
        journal.begin(&pipeline, &node, &output_name, &run, files)
    })
    .await
    .map_err(|e| Error::StateFile {
        path: std::path::PathBuf::from(".tauro"),
        action: "record the append intent",
        source: std::io::Error::other(e),
    })??;
    match decision {
        AppendDecision::Write => Ok(writer.write(name, frame, job.window()).await?),
        AppendDecision::AlreadyWritten { run_id, files } => {
            tracing::warn!(
                node = %job.node().name,
                output = %name,
                earlier_run = %run_id,
                files = files.len(),
                "not appending again: an earlier attempt of this node wrote this output and then stopped before its completion was recorded"
            );
            Ok(WriteReport {
                output: name.to_string(),
                destination: path.to_string(),
                rows: None,
            })
        }
    }
}

fn mismatch(node: &NodeConfig, reason: &str) -> Error {
    Error::OutputMismatch {
        node: node.name.clone(),
        reason: reason.to_string(),
    }
}

/// Interrupts the session's work if the attempt is dropped before it finished.
struct InterruptOnDrop(Option<Session>);

impl InterruptOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        let Some(session) = self.0.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = session.cancel().await {
                    tracing::warn!(error = %e, "could not interrupt the Spark work of a dropped node attempt");
                }
                if let Err(e) = session.release().await {
                    tracing::debug!(error = %e, "could not release the Spark session of a dropped node attempt");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn the_window_becomes_two_date_parameters() {
        assert!(date_params(None).is_empty());
        let (start, end) = (
            NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default(),
            NaiveDate::from_ymd_opt(2025, 1, 31).unwrap_or_default(),
        );
        let params = date_params(Some(DateWindow { start, end }));
        assert_eq!(
            params,
            [
                ("start_date".to_string(), SqlValue::Date(start)),
                ("end_date".to_string(), SqlValue::Date(end)),
            ]
        );
    }
}
