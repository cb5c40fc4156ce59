//! [`SparkEngine`]: a checked connection to one Spark Connect server.
#![expect(
    clippy::result_large_err,
    reason = "closures return the client's own `SparkError`, which is large; it is converted at once"
)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use spark_connect::SparkSession;
use tokio::sync::Semaphore;

use crate::conf::ConfClient;
use crate::error::{Error, Result};
use crate::liveness::Liveness;
use crate::probe::wait_ready;
use crate::remote::{RemoteOptions, connection_string, redact_remote};
use crate::rpc::RpcKind;
use crate::session::Session;

/// Most blocking client calls in flight at once, per engine.
const MAX_BLOCKING_CALLS: usize = 32;

/// Session confs that cannot (or must not) be changed on a running server; Tauro's
/// protected keys. They are skipped with a warning.
const PROTECTED_CONFS: &[&str] = &[
    "spark.sql.shuffle.partitions",
    "spark.executor.memory",
    "spark.driver.memory",
    "spark.master",
    "spark.submit.deployMode",
    "spark.dynamicAllocation.enabled",
    "spark.executor.instances",
];

/// Options of [`SparkEngine::connect`]. `Debug` masks secret-looking confs.
#[derive(Clone)]
pub struct EngineOptions {
    /// How long to wait for the server to answer before [`Error::Unreachable`] (15 s).
    pub connect_timeout: Duration,
    /// Deadline of each action; past it the action is interrupted (1 hour).
    pub action_timeout: Duration,
    /// Runtime SQL confs applied to every new session.
    pub session_conf: BTreeMap<String, String>,
    /// Token, user agent and session id added to the remote ([`crate::remote::build`]).
    pub remote: RemoteOptions,
    /// The kind of server (`spark.engine`): Sail computes no observed metrics, so written
    /// rows are counted by a query of their own there.
    pub engine: tauro_config::EngineKind,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(15),
            action_timeout: Duration::from_secs(3600),
            session_conf: BTreeMap::new(),
            remote: RemoteOptions::default(),
            engine: tauro_config::EngineKind::Spark,
        }
    }
}

impl fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field must be added here too (and masked if secret).
        let Self {
            connect_timeout,
            action_timeout,
            session_conf,
            remote,
            engine,
        } = self;
        let confs = tauro_config::redact::mask_secrets(session_conf);
        f.debug_struct("EngineOptions")
            .field("connect_timeout", connect_timeout)
            .field("action_timeout", action_timeout)
            .field("session_conf", &confs)
            .field("remote", remote)
            .field("engine", engine)
            .finish()
    }
}

struct EngineInner {
    root: SparkSession,
    /// Watches the server while actions run.
    liveness: Arc<Liveness>,
    /// Sends a new session's confs in one RPC.
    confs: Arc<ConfClient>,
    remote: String,
    /// The connection string dialled (with any token), for attaching to existing sessions.
    url: String,
    opts: EngineOptions,
    permits: Arc<Semaphore>,
    next_session: AtomicU64,
}

/// A connection to a Spark Connect server that answered the readiness probe.
///
/// Cheap to clone. Work happens in [`Session`]s made by [`SparkEngine::new_session`].
#[derive(Clone)]
pub struct SparkEngine {
    inner: Arc<EngineInner>,
}

impl fmt::Debug for SparkEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SparkEngine")
            .field("remote", &self.inner.remote)
            .field("opts", &self.inner.opts)
            .finish_non_exhaustive()
    }
}

impl SparkEngine {
    /// Connects to `sc://host:port[/;use_ssl=true;token=...]`, with the token, user agent
    /// and session id of `opts.remote` added ([`crate::remote::connection_string`]).
    ///
    /// Probes first (TCP, then one gRPC call without retries) and reports
    /// [`Error::Unreachable`] when nothing answers within `connect_timeout`.
    pub async fn connect(remote: &str, opts: EngineOptions) -> Result<SparkEngine> {
        let full = connection_string(remote, &opts.remote)?;
        wait_ready(&full, remote, opts.connect_timeout).await?;
        let url = full.clone();
        // `get_or_create` dials lazily but blocks on the client's own runtime.
        let (root, confs) = tokio::task::spawn_blocking(move || {
            let root = SparkSession::builder().remote(&url).get_or_create()?;
            Ok((root, ConfClient::connect(&url)?))
        })
        .await
        .map_err(|source| Error::Internal {
            operation: "connect".into(),
            source,
        })?
        .map_err(|e| Error::spark(format!("connect to {}", redact_remote(remote)), &e, None))?;
        // Probes of a running action's server all use the root session's id.
        let probe_url = crate::remote::build(&full, None, None, Some(root.session_id()))?;
        let liveness = Liveness::new(&probe_url, redact_remote(remote), opts.connect_timeout)?;
        Ok(SparkEngine {
            inner: Arc::new(EngineInner {
                root,
                liveness: Arc::new(liveness),
                confs: Arc::new(confs),
                remote: redact_remote(remote),
                url: full,
                opts,
                permits: Arc::new(Semaphore::new(MAX_BLOCKING_CALLS)),
                next_session: AtomicU64::new(1),
            }),
        })
    }

    /// The remote this engine talks to (any token masked).
    pub fn remote(&self) -> &str {
        &self.inner.remote
    }

    /// The options it was connected with.
    pub fn options(&self) -> &EngineOptions {
        &self.inner.opts
    }

    /// The server's Spark version.
    pub async fn version(&self) -> Result<String> {
        let session = self.bare_session()?;
        let spark = self.inner.root.clone();
        session
            .run("read Spark version", RpcKind::AnalyzePlan, move || {
                spark.version()
            })
            .await
    }

    /// How many sessions this engine has made or attached to so far.
    pub fn sessions_made(&self) -> u64 {
        // Numbered from 1.
        self.inner.next_session.load(Ordering::Relaxed) - 1
    }

    /// A new server-side session: its own temp views, confs and interrupt tag, with
    /// `session_conf` applied (in one `Config` RPC, none without confs).
    pub async fn new_session(&self) -> Result<Session> {
        let session = self.bare_session()?;
        let mut confs = Vec::with_capacity(self.inner.opts.session_conf.len());
        for (key, value) in &self.inner.opts.session_conf {
            if PROTECTED_CONFS.contains(&key.as_str()) {
                tracing::warn!(
                    key = %key,
                    "skipping protected Spark setting; set it where the server is started"
                );
                continue;
            }
            confs.push((key.clone(), value.clone()));
        }
        session.set_confs(&confs).await?;
        Ok(session)
    }

    /// Attaches to an existing server-side session by its id ([`Session::id`]), e.g. one
    /// started by another process, to reach the streaming queries running in it.
    ///
    /// The server keeps a session (and its queries) after the client that made it exits;
    /// an unknown id (server restarted, session expired) gives a session without queries.
    /// The session's confs are left as they are.
    pub async fn attach_session(&self, session_id: &str) -> Result<Session> {
        let url = crate::remote::build(&self.inner.url, None, None, Some(session_id))?;
        let remote = self.inner.remote.clone();
        let spark = tokio::task::spawn_blocking(move || {
            SparkSession::builder().remote(&url).get_or_create()
        })
        .await
        .map_err(|source| Error::Internal {
            operation: "attach session".into(),
            source,
        })?
        .map_err(|e| {
            Error::spark(
                format!("attach to session {session_id} on {remote}"),
                &e,
                None,
            )
        })?;
        let tag = unique_tag(self.inner.next_session.fetch_add(1, Ordering::Relaxed));
        spark
            .add_tag(&tag)
            .map_err(|e| Error::spark("tag session", &e, None))?;
        Ok(Session::new(
            spark,
            tag,
            Arc::clone(&self.inner.permits),
            self.inner.opts.action_timeout,
            self.inner.opts.engine,
            Some(Arc::clone(&self.inner.confs)),
        )
        .watch_server(&self.inner.liveness))
    }

    /// Ends the work that session `session_id`, made by an earlier process that was killed,
    /// left on the server: interrupts its operations, waits until each has ended (its
    /// thread on the server is done, a write committed or aborted), at most `wait` in all,
    /// then releases the session. Returns how many operations were interrupted.
    ///
    /// A killed client's operation keeps running on the server (Spark abandons it only
    /// after minutes without a reattach): a write of it landing after a new run's write to
    /// the same output duplicates or mixes the data. An unknown session (server restarted,
    /// session released) has nothing to end.
    pub async fn end_abandoned_session(&self, session_id: &str, wait: Duration) -> Result<usize> {
        let confs = Arc::clone(&self.inner.confs);
        let id = session_id.to_string();
        let remote = self.inner.remote.clone();
        let ended = tokio::task::spawn_blocking(move || confs.end_operations(&id, wait))
            .await
            .map_err(|source| Error::Internal {
                operation: "end an abandoned session".into(),
                source,
            })?
            .map_err(|e| {
                Error::spark(
                    format!("interrupt the work of session {session_id} on {remote}"),
                    &e,
                    None,
                )
            })?;
        let Some(interrupted) = ended else {
            return Err(Error::LeftoverRunning {
                session: session_id.to_string(),
                remote,
                after: wait,
            });
        };
        let released = async { self.attach_session(session_id).await?.release().await };
        if let Err(e) = released.await {
            tracing::debug!(session = %session_id, error = %e, "could not release an abandoned session");
        }
        Ok(interrupted)
    }

    /// A new session with its tag but without the configured confs.
    fn bare_session(&self) -> Result<Session> {
        let spark = self.inner.root.new_session();
        let tag = unique_tag(self.inner.next_session.fetch_add(1, Ordering::Relaxed));
        spark
            .add_tag(&tag)
            .map_err(|e| Error::spark("tag session", &e, None))?;
        Ok(Session::new(
            spark,
            tag,
            Arc::clone(&self.inner.permits),
            self.inner.opts.action_timeout,
            self.inner.opts.engine,
            Some(Arc::clone(&self.inner.confs)),
        )
        .watch_server(&self.inner.liveness))
    }
}

/// A tag unique across processes and engines: pid, start time and a counter.
fn unique_tag(n: u64) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("tauro-{}-{nanos:x}-{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_unique_and_valid() {
        let a = unique_tag(1);
        let b = unique_tag(2);
        assert_ne!(a, b);
        assert!(!a.contains(','));
    }

    #[test]
    fn default_options() {
        let o = EngineOptions::default();
        assert_eq!(o.connect_timeout, Duration::from_secs(15));
        assert!(o.session_conf.is_empty());
        assert_eq!(o.remote.token, crate::remote::TokenSource::Default);
    }

    #[test]
    fn debug_masks_secret_confs() {
        let mut o = EngineOptions::default();
        o.session_conf
            .insert("spark.hadoop.fs.s3a.secret.key".into(), "s3cr3t".into());
        o.session_conf
            .insert("spark.sql.ansi.enabled".into(), "true".into());
        let shown = format!("{o:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(
            shown.contains(r#""spark.sql.ansi.enabled": "true""#),
            "{shown}"
        );
    }
}
