//! [`ConfClient`]: session confs in one `Config` RPC, the server's values of confs, and
//! control requests addressed to any session by its id.
//!
//! The client's `RuntimeConf` sends one RPC per key. A `Config` request can carry any number
//! of pairs, so the engine keeps one transport client (on the client's own runtime, dialled
//! lazily, one connection per engine) and sends a session's confs in one request, addressed
//! to that session by its id. The same client interrupts and follows the operations of
//! sessions that an earlier, killed process left on the server.
#![expect(
    clippy::result_large_err,
    reason = "the client's own `SparkError` is large; callers convert it at once"
)]

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use spark_connect_core::channel::ChannelBuilder;
use spark_connect_core::client::SparkConnectClient;
use spark_connect_core::error::SparkError;
use spark_connect_core::runtime::block_on;
use spark_connect_proto as proto;
use spark_connect_proto::config_request::{Operation, Set, operation::OpType};
use spark_connect_proto::execute_plan_response::ResponseType;
use spark_connect_proto::interrupt_request::InterruptType;

/// Sends `Config` requests for any session of one server.
pub(crate) struct ConfClient {
    client: SparkConnectClient,
    /// Values of confs on a fresh session (after the engine's session confs), as read once.
    server: Mutex<HashMap<String, Option<String>>>,
}

impl std::fmt::Debug for ConfClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfClient").finish_non_exhaustive()
    }
}

impl ConfClient {
    /// A client for the connection string `url`; blocking (call it off the async runtime).
    pub(crate) fn connect(url: &str) -> spark_connect::Result<Self> {
        let builder = ChannelBuilder::parse(url)?;
        let client = block_on(SparkConnectClient::connect(&builder))?;
        Ok(Self {
            client,
            server: Mutex::new(HashMap::new()),
        })
    }

    /// Sets `pairs` on the session `session_id` in one RPC; blocking.
    pub(crate) fn set(
        &self,
        session_id: &str,
        pairs: &[(String, String)],
    ) -> spark_connect::Result<()> {
        let set = Set {
            pairs: pairs
                .iter()
                .map(|(key, value)| proto::KeyValue {
                    key: key.clone(),
                    value: Some(value.clone()),
                })
                .collect(),
            ..Default::default()
        };
        let request = proto::ConfigRequest {
            session_id: session_id.to_string(),
            user_context: Some(self.user_context()),
            operation: Some(Operation {
                op_type: Some(OpType::Set(set)),
            }),
            ..Default::default()
        };
        block_on(self.client.config(request)).map(|_| ())
    }

    /// The user a request speaks for: the connection's, as the client's own `RuntimeConf`
    /// addresses a session.
    fn user_context(&self) -> proto::UserContext {
        proto::UserContext {
            user_id: self.client.user_id().unwrap_or_default().to_string(),
            ..Default::default()
        }
    }

    /// Interrupts every operation of session `session_id` and waits until each has ended,
    /// at most `wait` in all; blocking. `Some(n)`: the `n` interrupted operations ended (0
    /// for a session the server does not know or closed); `None`: `wait` passed first.
    pub(crate) fn end_operations(
        &self,
        session_id: &str,
        wait: Duration,
    ) -> spark_connect::Result<Option<usize>> {
        let started = std::time::Instant::now();
        let ids = match self.interrupt_all(session_id) {
            Ok(ids) => ids,
            Err(e) if is_answer(&e) => {
                tracing::debug!(session = %session_id, error = %e, "no abandoned work to interrupt");
                return Ok(Some(0));
            }
            Err(e) => return Err(e),
        };
        for op in &ids {
            if !self.wait_ended(session_id, op, wait.saturating_sub(started.elapsed()))? {
                return Ok(None);
            }
        }
        Ok(Some(ids.len()))
    }

    /// Interrupts every operation of session `session_id` (`Interrupt`, type ALL) and
    /// returns the ids of those it interrupted; blocking. The server returns at once: the
    /// operations end afterwards ([`ConfClient::wait_ended`]).
    fn interrupt_all(&self, session_id: &str) -> spark_connect::Result<Vec<String>> {
        let request = proto::InterruptRequest {
            session_id: session_id.to_string(),
            user_context: Some(self.user_context()),
            interrupt_type: InterruptType::All as i32,
            ..Default::default()
        };
        block_on(self.client.interrupt(request)).map(|r| r.interrupted_ids)
    }

    /// Follows operation `operation_id` of session `session_id` (`ReattachExecute`) until
    /// it has ended, at most `limit`; blocking. `Ok(true)` when it ended: its stream
    /// reached its last response, or the server answered with an error about the operation
    /// (cancelled, failed, unknown, abandoned; all sent once its thread is done).
    /// `Ok(false)` when `limit` passed first; `Err` on a transport failure.
    fn wait_ended(
        &self,
        session_id: &str,
        operation_id: &str,
        limit: Duration,
    ) -> spark_connect::Result<bool> {
        let follow = async {
            loop {
                let request = proto::ReattachExecuteRequest {
                    session_id: session_id.to_string(),
                    user_context: Some(self.user_context()),
                    operation_id: operation_id.to_string(),
                    ..Default::default()
                };
                let mut stream = match self.client.reattach_execute(request).await {
                    Ok(stream) => stream,
                    Err(e) => return answered(e),
                };
                loop {
                    match stream.message().await {
                        Ok(Some(response)) => {
                            if matches!(
                                response.response_type,
                                Some(ResponseType::ResultComplete(_))
                            ) {
                                return Ok(true);
                            }
                        }
                        // The server ends a stream after a while (its sender limit) while
                        // the operation goes on: attach again.
                        Ok(None) => break,
                        Err(status) => return answered(SparkError::from_grpc_status(status)),
                    }
                }
            }
        };
        block_on(async {
            tokio::time::timeout(limit, follow)
                .await
                .unwrap_or(Ok(false))
        })
    }
}

/// `Ok(true)` when `e` is the server's answer about an operation (it has ended), `Err` when
/// the server was not reached.
fn answered(e: SparkError) -> spark_connect::Result<bool> {
    if is_answer(&e) { Ok(true) } else { Err(e) }
}

/// True when `e` is an answer of the server (an error about the request), false when the
/// server was not reached: gRPC CANCELLED, UNKNOWN (the client's transport errors),
/// DEADLINE_EXCEEDED, UNAVAILABLE, or no status at all.
fn is_answer(e: &SparkError) -> bool {
    !matches!(e.grpc_code(), Some(1 | 2 | 4 | 14) | None)
}

impl ConfClient {
    /// The value of `key` on a fresh session, if it was read before (`Some(None)`: unset).
    pub(crate) fn server_value(&self, key: &str) -> Option<Option<String>> {
        self.server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// Remembers the value of `key` on a fresh session.
    pub(crate) fn remember_server_value(&self, key: &str, value: Option<String>) {
        self.server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_string(), value);
    }
}
