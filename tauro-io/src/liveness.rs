//! Is the Spark Connect server still there while actions run?
//!
//! The client hides a lost server in two ways: an action whose stream breaks (the server
//! process died) fails at once with a bare `transport error` (gRPC code 2), and an action
//! sent while nothing listens is retried by the client for about ten minutes (15 retries,
//! backoff up to 64 s; its policy cannot be changed through `SparkSession`). [`Liveness`]
//! turns both into [`Error::ServerLost`], naming the remote, within the engine's
//! `connect_timeout`:
//! - [`Liveness::confirm_lost`]: after a failure without an error class (a client or
//!   transport error, never one the server wrote), probe the server; if it does not answer
//!   within the grace period, the server is gone.
//! - [`Liveness::watch`]: while an action runs, probe every [`CHECK_EVERY`]; once probes
//!   have failed for the grace period, the action is abandoned.
//!
//! Probes are the readiness probe's (TCP connect, then one gRPC call that is never
//! retried), on one fixed session id so that they add a single session on the server. One
//! probe result is shared by every action of the engine for [`REUSE`].

use std::time::Duration;

use spark_connect_core::channel::ChannelBuilder;
use tokio::sync::Mutex;
use tokio::time::{Instant, sleep};

use crate::error::{Error, SparkFailure};
use crate::probe::{Probe, probe_once};

/// How often a running action checks the server.
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(5);
/// Pause between probes once one failed.
const RETRY_EVERY: Duration = Duration::from_millis(500);
/// How long one probe's answer is reused by other actions.
const REUSE: Duration = Duration::from_secs(2);
/// Longest single probe.
const PROBE_LIMIT: Duration = Duration::from_secs(5);

/// Probes one server for the actions of an engine (see the module docs).
pub(crate) struct Liveness {
    builder: ChannelBuilder,
    /// The remote as shown (token masked).
    remote: String,
    /// How long the server may stay silent before it counts as lost.
    grace: Duration,
    /// The last probe: when, and why it failed (`None`: the server answered).
    last: Mutex<Option<(Instant, Option<String>)>>,
}

impl std::fmt::Debug for Liveness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Liveness")
            .field("remote", &self.remote)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

impl Liveness {
    /// Probes `url` (a full connection string, with the session id probes use), shown as
    /// `remote`; the server is lost after `grace` without an answer.
    pub(crate) fn new(url: &str, remote: String, grace: Duration) -> Result<Self, Error> {
        Ok(Self {
            builder: crate::probe::parse_remote(url)?,
            remote,
            grace,
            last: Mutex::new(None),
        })
    }

    /// One probe, or the answer of one made less than [`REUSE`] ago; `Some(reason)` when
    /// the server did not answer.
    async fn probe(&self) -> Option<String> {
        let mut last = self.last.lock().await;
        if let Some((at, result)) = last.as_ref()
            && at.elapsed() < REUSE
        {
            return result.clone();
        }
        // A task of its own: the probe's gRPC future is large, and this one may be polled
        // deep inside a node's future (a stack overflow in debug builds).
        let builder = self.builder.clone();
        let probe = tokio::spawn(async move { probe_once(&builder, PROBE_LIMIT).await });
        let result = match probe.await {
            Ok(Ok(Probe::Ready)) => None,
            Ok(Ok(Probe::NotReady(reason))) => Some(reason),
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(format!("the probe stopped: {e}")),
        };
        *last = Some((Instant::now(), result.clone()));
        result
    }

    /// Probes until the server answers (`None`) or the grace period has passed since
    /// `since` (`Some(the last reason)`).
    async fn down_for_grace(&self, since: Instant) -> Option<String> {
        loop {
            let reason = self.probe().await?;
            if since.elapsed() >= self.grace {
                return Some(reason);
            }
            sleep(RETRY_EVERY).await;
        }
    }

    /// The error for `operation` when the server is gone, else `None`. Only failures
    /// without an error class or SQLSTATE (client and transport errors) are checked: an
    /// error the server wrote proves it is there.
    pub(crate) async fn confirm_lost(
        &self,
        operation: &str,
        failure: &SparkFailure,
    ) -> Option<Error> {
        if failure.error_class.is_some() || failure.sql_state.is_some() {
            return None;
        }
        let since = Instant::now();
        let reason = self.down_for_grace(since).await?;
        Some(self.lost(operation, since, reason))
    }

    /// Resolves (with the error for `operation`) only when the server stops answering
    /// for the grace period while the action runs.
    pub(crate) async fn watch(&self, operation: &str) -> Error {
        loop {
            sleep(CHECK_EVERY).await;
            let since = Instant::now();
            if let Some(reason) = self.down_for_grace(since).await {
                return self.lost(operation, since, reason);
            }
        }
    }

    fn lost(&self, operation: &str, since: Instant, last_error: String) -> Error {
        Error::ServerLost {
            remote: self.remote.clone(),
            operation: operation.to_string(),
            waited: since.elapsed(),
            last_error,
        }
    }
}
