//! [`Session`]: one isolated Spark Connect session, and the bridge that runs the blocking
//! client off the async runtime under a deadline.
#![expect(
    clippy::result_large_err,
    reason = "closures return the client's own `SparkError`, which is large; it is converted at once"
)]

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use spark_connect::expression::LiteralExpression;
use spark_connect::{Expression, SparkError, SparkSession};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, timeout};

use crate::conf::ConfClient;
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::liveness::Liveness;
use crate::rpc::{RpcKind, RpcMeter, RpcStats};

/// How long `cancel` and deadline handling wait for the interrupt RPC itself.
const INTERRUPT_WAIT: Duration = Duration::from_secs(10);

/// A value bound to a named SQL parameter (`:name`).
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// A `DATE`.
    Date(NaiveDate),
    /// A `STRING`.
    String(String),
    /// A `BIGINT`.
    Long(i64),
    /// A `DOUBLE`.
    Double(f64),
    /// A `BOOLEAN`.
    Bool(bool),
}

impl SqlValue {
    fn to_expression(&self) -> Expression {
        let literal = match self {
            Self::Date(d) => LiteralExpression::Date(days_since_epoch(*d)),
            Self::String(s) => LiteralExpression::string(s.clone()),
            Self::Long(v) => LiteralExpression::long(*v),
            Self::Double(v) => LiteralExpression::double(*v),
            Self::Bool(v) => LiteralExpression::boolean(*v),
        };
        Expression::Literal(literal)
    }
}

/// Days since 1970-01-01, as Spark's `DATE` literal wants them.
fn days_since_epoch(d: NaiveDate) -> i32 {
    // 719_163 = days from 0001-01-01 (CE day 1) to 1970-01-01.
    d.num_days_from_ce() - 719_163
}

pub(crate) struct SessionInner {
    pub(crate) spark: SparkSession,
    pub(crate) tag: String,
    engine: tauro_config::EngineKind,
    permits: Arc<Semaphore>,
    /// Bumped by `cancel()`; running actions watch it.
    cancel: watch::Sender<u64>,
    /// The RPCs this session sent.
    pub(crate) rpc: RpcMeter,
    /// Confs set through this session, and their values: what a temporary change restores.
    confs: Mutex<HashMap<String, String>>,
    /// Sends several confs in one `Config` RPC, and remembers the server's values.
    conf_client: Option<Arc<ConfClient>>,
    /// Watches the server while actions run (set by the engine).
    liveness: std::sync::OnceLock<Arc<Liveness>>,
}

/// Operations started while this guard lives carry its tag ([`Session::tag_operations`]).
#[must_use = "the tag is removed when the guard is dropped"]
pub struct OperationTag {
    spark: SparkSession,
    tag: String,
}

impl OperationTag {
    /// The tag.
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

impl fmt::Debug for OperationTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperationTag")
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

impl Drop for OperationTag {
    fn drop(&mut self) {
        self.spark.remove_tag(&self.tag);
    }
}

/// One Spark Connect session: its own temp views, confs and interrupt tag.
///
/// Cheap to clone (clones share the session). Every call runs the blocking client on the
/// blocking pool under the session's action deadline; when the deadline passes or
/// [`Session::cancel`] is called, the session's work is interrupted on the server.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<SessionInner>,
    action_timeout: Duration,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.inner.spark.session_id())
            .field("tag", &self.inner.tag)
            .field("action_timeout", &self.action_timeout)
            .finish()
    }
}

impl Session {
    pub(crate) fn new(
        spark: SparkSession,
        tag: String,
        permits: Arc<Semaphore>,
        action_timeout: Duration,
        engine: tauro_config::EngineKind,
        conf_client: Option<Arc<ConfClient>>,
    ) -> Self {
        let (cancel, _) = watch::channel(0);
        Self {
            inner: Arc::new(SessionInner {
                spark,
                tag,
                engine,
                permits,
                cancel,
                rpc: RpcMeter::default(),
                confs: Mutex::new(HashMap::new()),
                conf_client,
                liveness: std::sync::OnceLock::new(),
            }),
            action_timeout,
        }
    }

    /// Makes actions watch the server: a lost server fails them with
    /// [`Error::ServerLost`] within the grace period instead of the client's retries.
    pub(crate) fn watch_server(self, liveness: &Arc<Liveness>) -> Self {
        let _ = self.inner.liveness.set(Arc::clone(liveness));
        self
    }

    /// The Spark Connect RPCs this session (and its clones) sent so far: how many, of which
    /// kind, and the time spent waiting for them ([`RpcStats::since`] gives those of one
    /// node attempt).
    pub fn rpc_stats(&self) -> RpcStats {
        self.inner.rpc.snapshot()
    }

    /// The same session with another deadline for each action (e.g. a node's `timeout`).
    pub fn with_action_timeout(&self, action_timeout: Duration) -> Session {
        Self {
            inner: Arc::clone(&self.inner),
            action_timeout,
        }
    }

    /// The deadline of each action.
    pub fn action_timeout(&self) -> Duration {
        self.action_timeout
    }

    /// The server-side session id (a UUID). Another process reaches this session (and
    /// the streaming queries started in it) with [`crate::SparkEngine::attach_session`].
    pub fn id(&self) -> &str {
        self.inner.spark.session_id()
    }

    /// The kind of server this session is on.
    pub fn engine(&self) -> tauro_config::EngineKind {
        self.inner.engine
    }

    /// The interrupt tag attached to all of this session's operations.
    pub fn tag(&self) -> &str {
        &self.inner.tag
    }

    /// Adds `tag` to the operations this session starts until the returned guard is dropped,
    /// so the server's job list (Spark UI, its REST API) shows which jobs they ran: each job
    /// carries a `…_Tag_<tag>` job tag. Tags cannot be empty or contain a comma.
    pub fn tag_operations(&self, tag: &str) -> Result<OperationTag> {
        self.inner
            .spark
            .add_tag(tag)
            .map_err(|e| Error::spark("tag operations", &e, None))?;
        Ok(OperationTag {
            spark: self.inner.spark.clone(),
            tag: tag.to_string(),
        })
    }

    /// A lazy relation for a SQL query; nothing runs until an action.
    pub async fn sql(&self, query: &str) -> Result<Frame> {
        let df = self
            .inner
            .spark
            .sql(query)
            .map_err(|e| Error::spark("build SQL query", &e, None))?;
        Ok(Frame::new(self.clone(), df))
    }

    /// A lazy relation for a SQL query with named parameters (`:name` in the text).
    pub async fn sql_with_params(
        &self,
        query: &str,
        params: Vec<(String, SqlValue)>,
    ) -> Result<Frame> {
        let named: HashMap<String, Expression> = params
            .iter()
            .map(|(k, v)| (k.clone(), v.to_expression()))
            .collect();
        let df = self
            .inner
            .spark
            .sql_with_args(query, Vec::new(), named)
            .map_err(|e| Error::spark("build SQL query", &e, None))?;
        Ok(Frame::new(self.clone(), df))
    }

    /// Runs a statement (DDL/DML) to completion. `sql()` alone is lazy; this is an action.
    pub async fn execute(&self, statement: &str) -> Result<()> {
        let df = self
            .inner
            .spark
            .sql(statement)
            .map_err(|e| Error::spark("build SQL statement", &e, None))?;
        self.run(
            format!("SQL statement `{}`", short(statement)),
            RpcKind::ExecutePlan,
            move || df.collect().map(|_| ()),
        )
        .await
    }

    /// A lazy relation over a table or view.
    pub async fn table(&self, name: &str) -> Result<Frame> {
        let df = self
            .inner
            .spark
            .table(name)
            .map_err(|e| Error::spark(format!("read table `{name}`"), &e, None))?;
        Ok(Frame::new(self.clone(), df))
    }

    /// Sets a runtime SQL conf on this session only.
    pub async fn set_conf(&self, key: &str, value: &str) -> Result<()> {
        let spark = self.inner.spark.clone();
        let (k, v) = (key.to_string(), value.to_string());
        self.run(format!("set conf `{key}`"), RpcKind::Config, move || {
            spark.conf().set(&k, &v)
        })
        .await?;
        self.remember_confs([(key, value)]);
        Ok(())
    }

    /// Sets several runtime SQL confs on this session in one `Config` RPC (in order; a
    /// failure leaves the earlier ones set).
    pub async fn set_confs(&self, pairs: &[(String, String)]) -> Result<()> {
        let client = match (pairs, &self.inner.conf_client) {
            ([], _) => return Ok(()),
            ([(key, value)], _) => return self.set_conf(key, value).await,
            (_, None) => {
                for (key, value) in pairs {
                    self.set_conf(key, value).await?;
                }
                return Ok(());
            }
            (_, Some(client)) => Arc::clone(client),
        };
        let session_id = self.id().to_string();
        let all = pairs.to_vec();
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        self.run(
            format!("set confs `{}`", keys.join("`, `")),
            RpcKind::Config,
            move || client.set(&session_id, &all),
        )
        .await?;
        self.remember_confs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        Ok(())
    }

    fn remember_confs<'k>(&self, pairs: impl IntoIterator<Item = (&'k str, &'k str)>) {
        let mut confs = self
            .inner
            .confs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (k, v) in pairs {
            confs.insert(k.to_string(), v.to_string());
        }
    }

    /// Reads a SQL conf of this session (`None` when unset).
    pub async fn get_conf(&self, key: &str) -> Result<Option<String>> {
        let spark = self.inner.spark.clone();
        let k = key.to_string();
        self.run(format!("get conf `{key}`"), RpcKind::Config, move || {
            spark.conf().get(&k)
        })
        .await
    }

    /// Runs `work` with the conf `key` set to `value` on this session, then puts back the
    /// value it had: two `Config` RPCs. The value to put back is the one this session set
    /// ([`Session::set_conf`], [`Session::set_confs`], the engine's session confs), else the
    /// server's, read once per engine (a third RPC the first time). A conf changed by a SQL
    /// `SET` statement on this session is not seen.
    pub async fn with_conf<T>(
        &self,
        key: &str,
        value: &str,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let own = self
            .inner
            .confs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned();
        let before = match own {
            Some(v) => Some(v),
            None => match self
                .inner
                .conf_client
                .as_ref()
                .and_then(|c| c.server_value(key))
            {
                Some(known) => known,
                None => {
                    let got = self.get_conf(key).await?;
                    if let Some(client) = &self.inner.conf_client {
                        client.remember_server_value(key, got.clone());
                    }
                    got
                }
            },
        };
        self.set_conf(key, value).await?;
        let result = work.await;
        match before {
            Some(v) => self.set_conf(key, &v).await?,
            None => self.unset_conf(key).await?,
        }
        result
    }

    /// Removes this session's value of a conf (back to the server's default).
    async fn unset_conf(&self, key: &str) -> Result<()> {
        let spark = self.inner.spark.clone();
        let k = key.to_string();
        self.run(format!("unset conf `{key}`"), RpcKind::Config, move || {
            spark.conf().unset(&k)
        })
        .await?;
        self.inner
            .confs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        Ok(())
    }

    /// True when a table or view with this name exists.
    pub async fn table_exists(&self, name: &str) -> Result<bool> {
        let spark = self.inner.spark.clone();
        let n = name.to_string();
        self.run(
            format!("look up table `{name}`"),
            RpcKind::ExecutePlan,
            move || spark.catalog().table_exists(&n),
        )
        .await
    }

    /// Drops the temp view `name` of this session (one `ExecutePlan`); false when there was
    /// none.
    pub async fn drop_temp_view(&self, name: &str) -> Result<bool> {
        let spark = self.inner.spark.clone();
        let n = name.to_string();
        self.run(
            format!("drop temp view `{name}`"),
            RpcKind::ExecutePlan,
            move || spark.catalog().drop_temp_view(&n),
        )
        .await
    }

    /// Ends this session on the server (`ReleaseSession`): its temp views, confs and any
    /// state the server keeps for it are freed now rather than when the server's idle
    /// timeout expires (an hour by default on Spark), and its running
    /// operations, streaming queries included, are stopped. Later actions on it fail. Waits
    /// at most 10 s.
    pub async fn release(&self) -> Result<()> {
        self.short_call("release session", RpcKind::ReleaseSession, |inner| {
            inner.spark.stop()
        })
        .await
    }

    /// Interrupts all running work of this session (its tag). Running actions return
    /// [`Error::Cancelled`]; later actions run normally.
    pub async fn cancel(&self) -> Result<()> {
        self.inner.cancel.send_modify(|generation| *generation += 1);
        self.interrupt().await
    }

    /// Sends `interrupt_tag` for this session's tag, waiting at most [`INTERRUPT_WAIT`].
    async fn interrupt(&self) -> Result<()> {
        let ids = self
            .short_call("interrupt", RpcKind::Interrupt, |inner| {
                inner.spark.interrupt_tag(&inner.tag)
            })
            .await?;
        tracing::debug!(tag = %self.inner.tag, interrupted = ids.len(), "interrupted");
        Ok(())
    }

    /// One control call (interrupt, release) on the blocking pool, outside the session's
    /// deadline and cancellation, waiting at most [`INTERRUPT_WAIT`].
    async fn short_call<T, F>(&self, operation: &str, kind: RpcKind, call: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&SessionInner) -> std::result::Result<T, SparkError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let task = tokio::task::spawn_blocking(move || inner.rpc.call(kind, || call(&inner)));
        match timeout(INTERRUPT_WAIT, task).await {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(e))) => Err(Error::spark(operation, &e, None)),
            Ok(Err(join)) => Err(Error::Internal {
                operation: operation.into(),
                source: join,
            }),
            Err(_) => Err(Error::Timeout {
                operation: operation.into(),
                after: INTERRUPT_WAIT,
            }),
        }
    }

    /// Runs one blocking client call that sends one RPC of `kind` on the blocking pool,
    /// under the action deadline and this session's cancellation.
    pub(crate) async fn run<T, F>(
        &self,
        operation: impl Into<String>,
        kind: RpcKind,
        f: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> std::result::Result<T, SparkError> + Send + 'static,
    {
        self.run_with_format(operation, None, kind, f).await
    }

    /// [`Session::run`], naming the data source for error mapping.
    pub(crate) async fn run_with_format<T, F>(
        &self,
        operation: impl Into<String>,
        format: Option<&str>,
        kind: RpcKind,
        f: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> std::result::Result<T, SparkError> + Send + 'static,
    {
        self.run_metered(operation, format, move |rpc| rpc.call(kind, f))
            .await
    }

    /// [`Session::run_with_format`] for a call that sends several RPCs: `f` counts each one
    /// with [`RpcMeter::call`].
    pub(crate) async fn run_metered<T, F>(
        &self,
        operation: impl Into<String>,
        format: Option<&str>,
        f: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&RpcMeter) -> std::result::Result<T, SparkError> + Send + 'static,
    {
        let operation = operation.into();
        let inner = Arc::clone(&self.inner);
        let deadline = Instant::now() + self.action_timeout;
        let mut cancelled = self.inner.cancel.subscribe();
        let permits = Arc::clone(&self.inner.permits);
        let work = async move {
            // The permit travels with the blocking call and is released only when the call
            // really returns, so the bound counts busy threads, not waiting futures.
            let permit = permits.acquire_owned().await.ok();
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                f(&inner.rpc)
            })
            .await
        };
        let liveness = self.inner.liveness.get().cloned();
        let lost = Box::pin(async {
            match &liveness {
                Some(l) => l.watch(&operation).await,
                None => std::future::pending().await,
            }
        });
        let result = tokio::select! {
            Ok(()) = cancelled.changed() => Err(Error::Cancelled { operation: operation.clone() }),
            error = lost => Err(error),
            () = tokio::time::sleep_until(deadline) => {
                tracing::warn!(%operation, after = ?self.action_timeout, "deadline passed, interrupting");
                if let Err(e) = self.interrupt().await {
                    tracing::warn!(error = %e, "interrupt after deadline failed");
                }
                Err(Error::Timeout { operation: operation.clone(), after: self.action_timeout })
            }
            joined = work => match joined {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(e)) => Err(Error::spark(operation.clone(), &e, format)),
                Err(join) => Err(Error::Internal { operation: operation.clone(), source: join }),
            },
        };
        // A client or transport error may mean the server went away: say so, by name.
        if let (Err(error), Some(liveness)) = (&result, &liveness)
            && let Some(failure) = error.spark_failure()
            && let Some(lost) = Box::pin(liveness.confirm_lost(&operation, failure)).await
        {
            tracing::debug!(error = %error, "the server is gone");
            return Err(lost);
        }
        result
    }
}

/// The first line of a statement, shortened for messages.
pub(crate) fn short(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or_default();
    if line.chars().count() > 60 {
        format!("{}...", line.chars().take(57).collect::<String>())
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_count_days_from_the_epoch() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1);
        assert_eq!(epoch.map(days_since_epoch), Some(0));
        let d = NaiveDate::from_ymd_opt(2025, 1, 1);
        assert_eq!(d.map(days_since_epoch), Some(20089));
    }

    #[test]
    fn statements_are_shortened() {
        assert_eq!(short("  SELECT 1\nFROM x"), "SELECT 1");
        assert_eq!(short(&"a".repeat(100)).len(), 60);
    }
}
