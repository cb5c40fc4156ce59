//! [`ConfClient`]: session confs in one `Config` RPC, and the server's values of confs.
//!
//! The client's `RuntimeConf` sends one RPC per key. A `Config` request can carry any number
//! of pairs, so the engine keeps one transport client (on the client's own runtime, dialled
//! lazily, one connection per engine) and sends a session's confs in one request, addressed
//! to that session by its id.
#![expect(
    clippy::result_large_err,
    reason = "the client's own `SparkError` is large; callers convert it at once"
)]

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use spark_connect_core::channel::ChannelBuilder;
use spark_connect_core::client::SparkConnectClient;
use spark_connect_core::runtime::block_on;
use spark_connect_proto as proto;
use spark_connect_proto::config_request::{Operation, Set, operation::OpType};

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
            // As the client's own `RuntimeConf` addresses a session.
            user_context: Some(proto::UserContext {
                user_id: self.client.user_id().unwrap_or_default().to_string(),
                ..Default::default()
            }),
            operation: Some(Operation {
                op_type: Some(OpType::Set(set)),
            }),
            ..Default::default()
        };
        block_on(self.client.config(request)).map(|_| ())
    }

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
