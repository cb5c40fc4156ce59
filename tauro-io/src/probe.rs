//! Readiness probe: is a Spark Connect server answering at a remote?
//!
//! The client's own retry policy turns a dead server into a ten-minute hang, so before the
//! first action we check with a TCP connect and one gRPC call that is never retried. Any
//! gRPC answer (even an error status) means the server is up; only "unavailable" (nothing
//! listening, TLS failure) and timeouts mean it is not.

use std::time::Duration;

use spark_connect_core::channel::ChannelBuilder;
use spark_connect_core::client::SparkConnectClient;
use spark_connect_core::retries::RetryPolicy;
use spark_connect_proto as proto;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

use crate::error::{Error, GRPC_UNAVAILABLE};
use crate::remote::redact_remote;

/// The longest single TCP or gRPC attempt; later attempts follow until the deadline.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between attempts.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// Outcome of one probe.
#[derive(Debug)]
pub(crate) enum Probe {
    /// The server answered gRPC.
    Ready,
    /// Not (yet) answering; the reason.
    NotReady(String),
}

/// Parses a `sc://` remote, reporting it (token masked) when invalid.
pub(crate) fn parse_remote(remote: &str) -> Result<ChannelBuilder, Error> {
    ChannelBuilder::parse(remote).map_err(|e| Error::InvalidRemote {
        remote: redact_remote(remote),
        reason: crate::error::SparkFailure::from_client(&e).message,
    })
}

/// One probe, bounded by `limit`.
pub(crate) async fn probe_once(builder: &ChannelBuilder, limit: Duration) -> Result<Probe, Error> {
    let limit = limit.min(ATTEMPT_TIMEOUT);
    let endpoint = builder.endpoint();
    match timeout(limit, TcpStream::connect(endpoint.as_str())).await {
        Err(_) => {
            return Ok(Probe::NotReady(format!(
                "TCP connect to {endpoint} timed out"
            )));
        }
        Ok(Err(e)) => return Ok(Probe::NotReady(format!("TCP connect to {endpoint}: {e}"))),
        Ok(Ok(_stream)) => {}
    }
    // The client dials lazily; building it fails only on a bad configuration (e.g. a token
    // without TLS to a non-loopback host), which no amount of waiting fixes.
    let mut client =
        SparkConnectClient::connect(builder)
            .await
            .map_err(|e| Error::InvalidRemote {
                remote: builder.endpoint(),
                reason: crate::error::SparkFailure::from_client(&e).message,
            })?;
    client.set_retry_policy(RetryPolicy::no_retries());
    let request = proto::AnalyzePlanRequest {
        session_id: client.session_id().to_string(),
        user_context: Some(proto::UserContext::default()),
        analyze: Some(proto::analyze_plan_request::Analyze::SparkVersion(
            proto::analyze_plan_request::SparkVersion::default(),
        )),
        ..Default::default()
    };
    match timeout(limit, client.analyze_plan(request)).await {
        Err(_) => Ok(Probe::NotReady(format!(
            "no gRPC answer from {endpoint} within {}s",
            limit.as_secs_f32()
        ))),
        Ok(Ok(_)) => Ok(Probe::Ready),
        Ok(Err(e)) if e.grpc_code() == Some(GRPC_UNAVAILABLE) || e.grpc_code().is_none() => Ok(
            Probe::NotReady(crate::error::SparkFailure::from_client(&e).message),
        ),
        // Any other status is an answer from a live server (Sail without pyspark, say).
        Ok(Err(_)) => Ok(Probe::Ready),
    }
}

/// Probes `url` until the server answers or `wait` has passed; messages show `remote`
/// (what the user wrote, rather than the full connection string), token masked.
pub(crate) async fn wait_ready(url: &str, remote: &str, wait: Duration) -> Result<(), Error> {
    let builder = parse_remote(url)?;
    let start = Instant::now();
    let deadline = start + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let last_error = match probe_once(&builder, left).await? {
            Probe::Ready => return Ok(()),
            Probe::NotReady(reason) => reason,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Unreachable {
                remote: redact_remote(remote),
                waited: start.elapsed(),
                last_error,
            });
        }
        tracing::debug!(remote = %redact_remote(remote), %last_error, "Spark Connect not ready yet");
        sleep(RETRY_PAUSE.min(left)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_remotes_are_rejected() {
        assert!(matches!(
            parse_remote("http://x:1"),
            Err(Error::InvalidRemote { .. })
        ));
        assert!(parse_remote("sc://127.0.0.1:15002").is_ok());
    }
}
