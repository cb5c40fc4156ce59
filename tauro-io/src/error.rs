//! Errors of the io layer.
//!
//! Spark failures keep their `error_class`, `sql_state` and gRPC code ([`SparkFailure`]);
//! behaviour and hints are decided on those, never on message text.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// gRPC status code `UNAVAILABLE`.
pub(crate) const GRPC_UNAVAILABLE: i32 = 14;
/// gRPC status code `UNAUTHENTICATED`.
const GRPC_UNAUTHENTICATED: i32 = 16;

/// A failure reported by Spark (or by the Spark Connect client), with its structured fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparkFailure {
    /// Spark's error class (condition), e.g. `PATH_NOT_FOUND`.
    pub error_class: Option<String>,
    /// SQLSTATE, e.g. `42K03`.
    pub sql_state: Option<String>,
    /// gRPC status code of the answer, when the failure came over gRPC.
    pub grpc_code: Option<i32>,
    /// Message parameters of the error class (e.g. `provider` for `DATA_SOURCE_NOT_FOUND`).
    pub params: BTreeMap<String, String>,
    /// The message as Spark wrote it (it usually starts with `[CLASS]`).
    pub message: String,
}

impl SparkFailure {
    /// Converts the client's error, keeping class, SQLSTATE, gRPC code and parameters.
    pub(crate) fn from_client(e: &spark_connect::SparkError) -> Self {
        // `Display` (and `message()`) prefix the class a second time for server errors; the
        // `message` field holds Spark's own text. Client-side errors have an empty `message`
        // and are rendered from their class.
        let message = if e.message.is_empty() {
            e.message()
        } else {
            e.message.clone()
        };
        Self {
            error_class: e.get_condition(),
            sql_state: e.get_sql_state(),
            grpc_code: e.grpc_code(),
            params: message_parameters(&e.params),
            message,
        }
    }

    /// The error class, if any.
    pub fn class(&self) -> Option<&str> {
        self.error_class.as_deref()
    }

    fn is(&self, class: &str) -> bool {
        self.class() == Some(class)
    }
}

/// The error class's parameters. Server errors carry the raw `ErrorInfo` metadata, where
/// they are one JSON object under `messageParameters`; client errors carry them directly.
fn message_parameters(raw: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let Some(json) = raw.get("messageParameters") else {
        return raw.clone();
    };
    match serde_json::from_str::<BTreeMap<String, serde_json::Value>>(json) {
        Ok(map) => map
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
        Err(_) => raw.clone(),
    }
}

impl fmt::Display for SparkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Spark's messages span many lines (plan trees); the first ones carry the meaning.
        let text = self.message.trim();
        match &self.error_class {
            Some(class) if !text.starts_with(&format!("[{class}]")) => {
                write!(f, "[{class}] {text}")
            }
            _ => f.write_str(text),
        }?;
        if let (None, None, Some(code)) = (&self.error_class, &self.sql_state, self.grpc_code) {
            write!(f, " (gRPC code {code})")?;
        }
        Ok(())
    }
}

impl std::error::Error for SparkFailure {}

/// Errors of the io layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `spark.remote` value is not a valid Spark Connect URL.
    #[error("invalid Spark Connect remote `{remote}`: {reason}")]
    InvalidRemote {
        /// The remote, with any token masked.
        remote: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A token would travel without TLS to a host other than localhost.
    #[error("refusing to send the Spark Connect token to {remote} without TLS")]
    InsecureToken {
        /// `sc://host:port` of the remote.
        remote: String,
    },

    /// The configured source of the Spark Connect token gave none.
    #[error("no Spark Connect token from {origin}: {reason}")]
    Token {
        /// Where it was looked for (the variable or file, and the setting naming it).
        origin: String,
        /// Why there is none.
        reason: String,
    },

    /// No Spark Connect server answered at the remote within the connect timeout.
    #[error("Spark Connect server at {remote} did not answer within {}s ({last_error})", waited.as_secs())]
    Unreachable {
        /// The remote, with any token masked.
        remote: String,
        /// How long we waited.
        waited: Duration,
        /// The last probe failure (connection refused, timeout, ...).
        last_error: String,
    },

    /// The Spark Connect server stopped answering while an action ran (it died, was
    /// killed or restarted, or the network to it broke).
    #[error("lost the Spark Connect server at {remote}: it has not answered for {}s during {operation} ({last_error})", waited.as_secs())]
    ServerLost {
        /// The remote, with any token masked.
        remote: String,
        /// What was running.
        operation: String,
        /// How long the server was probed without an answer.
        waited: Duration,
        /// The last probe failure (connection refused, timeout, ...).
        last_error: String,
    },

    /// Spark reported a failure.
    #[error("{operation} failed")]
    Spark {
        /// What we asked Spark to do.
        operation: String,
        /// Spark's answer.
        #[source]
        failure: Box<SparkFailure>,
    },

    /// A data source (format) is not installed on the Spark server.
    #[error("the Spark server has no `{format}` data source")]
    MissingDataSource {
        /// The format that was asked for (`delta`, `avro`, `kafka`, ...).
        format: String,
        /// The package that provides it, when known.
        package: Option<String>,
        /// Spark's answer.
        #[source]
        failure: Box<SparkFailure>,
    },

    /// An action ran past its deadline and was cancelled.
    #[error("{operation} did not finish within {}s and was cancelled", after.as_secs_f64())]
    Timeout {
        /// What was running.
        operation: String,
        /// The deadline.
        after: Duration,
    },

    /// Spark work that an earlier, killed process left running in a session did not end
    /// within the wait after it was interrupted.
    #[error(
        "Spark work that an earlier, killed run left in session {session} on {remote} was interrupted but did not end within {}s",
        after.as_secs_f64()
    )]
    LeftoverRunning {
        /// The session's id.
        session: String,
        /// The server (no token).
        remote: String,
        /// How long it was waited for.
        after: Duration,
    },

    /// An action was cancelled (`Session::cancel`, or interrupted on the server).
    #[error("{operation} was cancelled")]
    Cancelled {
        /// What was running.
        operation: String,
    },

    /// No usable Spark installation (with the Spark Connect server jar) was found.
    #[error("no Spark installation with Spark Connect (Spark >= 4) was found; looked at: {}", searched.join("; "))]
    SparkNotFound {
        /// Each place looked at, with why it was not usable.
        searched: Vec<String>,
    },

    /// No `sail` program (the pysail package) was found for `engine: sail`.
    #[error("Sail (engine: sail) is not installed; looked at: {}", searched.join("; "))]
    SailNotFound {
        /// Each place looked at.
        searched: Vec<String>,
    },

    /// The engine cannot do what was asked (Sail: streaming, ORC, Kafka, a persistent
    /// catalog).
    #[error("engine `{engine}` cannot run this: {what}")]
    EngineUnsupported {
        /// `sail`.
        engine: String,
        /// What it cannot do.
        what: String,
    },

    /// The local Spark Connect server did not come up.
    #[error("the local Spark Connect server did not start: {reason}\n--- last lines of {} ---\n{log_tail}", log.display())]
    ServerStart {
        /// Why (exited with a status, start timeout, ...).
        reason: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log.
        log_tail: String,
    },

    /// A file-system or process operation failed.
    #[error("{action} `{}`", path.display())]
    Io {
        /// What we were doing (`create directory`, `spawn`, ...).
        action: &'static str,
        /// The file or program concerned.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// A dataset name is neither an input nor an output of the project.
    #[error("unknown dataset `{name}`: it is neither in the input nor in the output configuration")]
    UnknownDataset {
        /// The name asked for.
        name: String,
    },

    /// A dataset lacks a setting its format needs.
    #[error("dataset `{dataset}` (format {format}) needs `{field}`")]
    MissingField {
        /// The dataset.
        dataset: String,
        /// Its format.
        format: String,
        /// The missing key.
        field: &'static str,
    },

    /// A dataset's format cannot be used in this direction.
    #[error("dataset `{dataset}`: format {format} cannot be used as {direction}")]
    UnsupportedFormat {
        /// The dataset.
        dataset: String,
        /// Its format.
        format: String,
        /// `an input` or `an output`.
        direction: &'static str,
    },

    /// A value from the configuration is not acceptable.
    #[error("dataset `{dataset}`: invalid {what} `{value}`: {reason}")]
    InvalidValue {
        /// The dataset (or setting) it belongs to.
        dataset: String,
        /// Which value (`date_column`, `table`, `query`, ...).
        what: &'static str,
        /// The value.
        value: String,
        /// Why it is rejected.
        reason: String,
    },

    /// The warm server's state file is unreadable or inconsistent.
    #[error("warm Spark Connect server state `{}`: {reason}", path.display())]
    WarmState {
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A blocking Spark call panicked or was aborted (a bug in the client).
    #[error("{operation} stopped unexpectedly")]
    Internal {
        /// What was running.
        operation: String,
        /// The task failure.
        #[source]
        source: tokio::task::JoinError,
    },

    /// Spark returned data we could not decode.
    #[error("could not decode {what}")]
    Decode {
        /// What was decoded.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// Maps a client error by its class; `format` names the data source involved, if any.
    pub(crate) fn spark(
        operation: impl Into<String>,
        e: &spark_connect::SparkError,
        format: Option<&str>,
    ) -> Self {
        let operation = operation.into();
        let failure = Box::new(SparkFailure::from_client(e));
        match failure.class() {
            Some("OPERATION_CANCELED") => Self::Cancelled { operation },
            Some("KAFKA_DATA_SOURCE_NOT_ENABLED") => Self::MissingDataSource {
                format: "kafka".into(),
                package: package_for("kafka").map(String::from),
                failure,
            },
            Some("AVRO_DATA_SOURCE_NOT_ENABLED") => Self::MissingDataSource {
                format: "avro".into(),
                package: package_for("avro").map(String::from),
                failure,
            },
            Some("DATA_SOURCE_NOT_FOUND") => {
                let format = failure
                    .params
                    .get("provider")
                    .map(String::as_str)
                    .or(format)
                    .unwrap_or("unknown")
                    .to_string();
                Self::MissingDataSource {
                    package: package_for(&format).map(String::from),
                    format,
                    failure,
                }
            }
            _ => Self::Spark { operation, failure },
        }
    }

    /// The same error with every occurrence of the values of secret-looking `options`
    /// (`kafka.sasl.jaas.config`, `password`, ...) masked in Spark's message, for the case
    /// where Spark echoes a dataset's options back.
    pub(crate) fn mask_option_values(
        mut self,
        options: &std::collections::BTreeMap<String, String>,
    ) -> Self {
        let secrets: Vec<&str> = options
            .iter()
            .filter(|(k, v)| tauro_config::redact::looks_secret(k) && v.len() >= 4)
            .map(|(_, v)| v.as_str())
            .collect();
        if let Self::Spark { failure, .. } | Self::MissingDataSource { failure, .. } = &mut self {
            for secret in secrets {
                failure.message = failure.message.replace(secret, tauro_config::redact::MASK);
            }
        }
        self
    }

    /// The Spark failure behind this error, if any.
    pub fn spark_failure(&self) -> Option<&SparkFailure> {
        match self {
            Self::Spark { failure, .. } | Self::MissingDataSource { failure, .. } => {
                Some(failure.as_ref())
            }
            _ => None,
        }
    }

    /// Spark's error class behind this error, if any.
    pub fn error_class(&self) -> Option<&str> {
        self.spark_failure().and_then(SparkFailure::class)
    }

    /// True when the error means the engine cannot be reached (CLI exit code 3).
    pub fn is_unreachable(&self) -> bool {
        match self {
            Self::Unreachable { .. }
            | Self::ServerLost { .. }
            | Self::SparkNotFound { .. }
            | Self::SailNotFound { .. }
            | Self::ServerStart { .. } => true,
            Self::Spark { failure, .. } => failure.grpc_code == Some(GRPC_UNAVAILABLE),
            _ => false,
        }
    }

    /// True when the error is in the connection settings (remote, token source), not in
    /// Spark or the network (CLI exit code 2).
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            Self::InvalidRemote { .. } | Self::InsecureToken { .. } | Self::Token { .. }
        )
    }

    /// How to fix the problem, where we know.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::InvalidRemote { .. } => Some(
                "use `local` or `sc://host:port`, optionally followed by `/;use_ssl=true`; give a token through spark.token_env, spark.token_file or TAURO_SPARK_TOKEN"
                    .into(),
            ),
            Self::InsecureToken { .. } => Some(
                "add `use_ssl=true` to the remote (sc://host:443/;use_ssl=true); a token is only sent without TLS to localhost"
                    .into(),
            ),
            Self::Token { .. } => Some(
                "set the variable or write the file, or remove spark.token_env / spark.token_file to connect without a token"
                    .into(),
            ),
            Self::Unreachable { .. } => Some(
                "start a local server with `tauro-cli spark start` (or `scripts/spark-connect-local.sh start`), \
                 or check the host and port in spark.remote / --remote / TAURO_SPARK_REMOTE"
                    .into(),
            ),
            Self::ServerLost { .. } => Some(
                "the server stopped or restarted: its log tells why. Start it again (`tauro-cli spark start`, \
                 or however it is run), then `tauro-cli resume` runs what did not complete"
                    .into(),
            ),
            Self::SparkNotFound { .. } => Some(
                "run `scripts/setup.sh` (it creates a cached pyspark 4 virtualenv), or `pip install 'pyspark>=4'` \
                 and install Java 17; SPARK_HOME or TAURO_SPARK_VENV can point at an existing installation"
                    .into(),
            ),
            Self::SailNotFound { .. } => Some(
                "run `scripts/setup.sh` (it also installs Sail into a cached virtualenv), or \
                 `pip install pysail`; TAURO_SAIL_BIN can point at the `sail` program"
                    .into(),
            ),
            Self::EngineUnsupported { .. } => Some(
                "run it on Apache Spark: `spark.engine: spark` (the default) or `--engine spark`"
                    .into(),
            ),
            Self::ServerStart { log, .. } => Some(format!(
                "Spark needs Java 17 on PATH (or JAVA_HOME); the full server log is {}",
                log.display()
            )),
            Self::MissingDataSource {
                format, package, ..
            } => Some(match package {
                Some(p) => format!(
                    "deploy the package `{p}` on the Spark server (`spark-submit --packages {p}` or \
                     `spark.jars.packages`), or use tauro's docker image, which carries it"
                ),
                None => format!(
                    "check the format name `{format}`; if it is a third-party source, deploy its package on the server"
                ),
            }),
            Self::Timeout { .. } => Some(
                "raise spark.action_timeout (or the node's `timeout`), or make the query cheaper"
                    .into(),
            ),
            Self::LeftoverRunning { .. } => Some(
                "the run waits so that the earlier write cannot land after its own; run it again \
                 once that work has ended (see the server's UI)"
                    .into(),
            ),
            Self::Spark { failure, .. } => spark_hint(failure),
            Self::UnknownDataset { .. } => {
                Some("declare it in the input or output configuration".into())
            }
            Self::Cancelled { .. }
            | Self::Io { .. }
            | Self::MissingField { .. }
            | Self::UnsupportedFormat { .. }
            | Self::InvalidValue { .. }
            | Self::WarmState { .. }
            | Self::Internal { .. }
            | Self::Decode { .. } => None,
        }
    }
}

/// The package that provides a data source Spark does not bundle.
fn package_for(format: &str) -> Option<&'static str> {
    match format.to_ascii_lowercase().as_str() {
        "delta" => Some("io.delta:delta-spark_2.13:<delta release for your Spark>"),
        "avro" => Some("org.apache.spark:spark-avro_2.13:<your Spark version>"),
        "kafka" => Some("org.apache.spark:spark-sql-kafka-0-10_2.13:<your Spark version>"),
        "xml" | "com.databricks.spark.xml" => Some("com.databricks:spark-xml_2.13:0.18.0"),
        _ => None,
    }
}

fn spark_hint(f: &SparkFailure) -> Option<String> {
    let hint = if f.is("PATH_NOT_FOUND") {
        "check the path; it is resolved on the Spark server's file system (relative paths against input_path)"
    } else if f.is("TABLE_OR_VIEW_NOT_FOUND") {
        "check the name; node inputs are visible as temp views named after the input"
    } else if f.is("PATH_ALREADY_EXISTS") || f.is("TABLE_OR_VIEW_ALREADY_EXISTS") {
        "the output exists and write_mode is `error`; use overwrite, append or ignore"
    } else if f.is("LOCATION_ALREADY_EXISTS") {
        "the table's directory exists but the catalog does not know the table: the embedded server's \
         in-memory catalog forgets tables when it stops. Give the output a `filepath` (tauro registers \
         the table over it on every write), keep a server with a persistent catalog running \
         (`tauro-cli spark start`), or remove the directory"
    } else if f.is("AGGREGATE_FUNCTION_WITH_NONDETERMINISTIC_EXPRESSION") {
        "move the non-deterministic expression into a subquery before aggregating"
    } else if f.is("SQL_CONF_NOT_FOUND")
        || f.is("CANNOT_MODIFY_CONFIG")
        || f.is("CANNOT_MODIFY_STATIC_CONFIG")
    {
        "this setting cannot be changed on a running session; set it where the server is started"
    } else if f.grpc_code == Some(GRPC_UNAVAILABLE) {
        "the Spark Connect server went away; check that it is still running"
    } else if f.grpc_code == Some(GRPC_UNAUTHENTICATED) {
        "check the `token` in the remote URL"
    } else {
        return None;
    };
    Some(hint.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(class: &str) -> SparkFailure {
        SparkFailure {
            error_class: Some(class.into()),
            sql_state: Some("42K02".into()),
            grpc_code: Some(13),
            params: BTreeMap::new(),
            message: format!("[{class}] something. SQLSTATE: 42K02"),
        }
    }

    #[test]
    fn display_does_not_repeat_the_class() {
        assert_eq!(
            failure("PATH_NOT_FOUND").to_string(),
            "[PATH_NOT_FOUND] something. SQLSTATE: 42K02"
        );
        let mut f = failure("X");
        f.message = "plain".into();
        assert_eq!(f.to_string(), "[X] plain");
    }

    #[test]
    fn data_source_hint_names_the_package() {
        let e = Error::MissingDataSource {
            format: "delta".into(),
            package: package_for("delta").map(String::from),
            failure: Box::new(failure("DATA_SOURCE_NOT_FOUND")),
        };
        assert!(e.hint().is_some_and(|h| h.contains("io.delta:delta-spark")));
        assert!(package_for("AVRO").is_some_and(|p| p.contains("spark-avro")));
        assert_eq!(package_for("nosuchformat"), None);
    }

    #[test]
    fn server_message_parameters_are_unpacked() {
        let mut raw = BTreeMap::new();
        raw.insert("errorId".to_string(), "x".to_string());
        raw.insert(
            "messageParameters".to_string(),
            r#"{"provider":"delta","n":3}"#.to_string(),
        );
        let p = message_parameters(&raw);
        assert_eq!(p.get("provider").map(String::as_str), Some("delta"));
        assert_eq!(p.get("n").map(String::as_str), Some("3"));
        assert!(!p.contains_key("errorId"));
    }

    #[test]
    fn kafka_without_its_connector_names_the_package_and_how_to_deploy_it() {
        use spark_connect_core::error::{SparkError, SparkErrorKind};
        for class in ["KAFKA_DATA_SOURCE_NOT_ENABLED", "DATA_SOURCE_NOT_FOUND"] {
            let e = SparkError::classed(SparkErrorKind::Analysis, class, &[]);
            let err = Error::spark("load input `clicks`", &e, Some("kafka"));
            match &err {
                Error::MissingDataSource {
                    format, package, ..
                } => {
                    assert_eq!(format, "kafka");
                    assert_eq!(
                        package.as_deref(),
                        Some("org.apache.spark:spark-sql-kafka-0-10_2.13:<your Spark version>")
                    );
                }
                other => panic!("{class}: {other:?}"),
            }
            assert_eq!(
                err.to_string(),
                "the Spark server has no `kafka` data source"
            );
            let hint = err.hint().unwrap_or_default();
            for part in [
                "org.apache.spark:spark-sql-kafka-0-10_2.13",
                "--packages",
                "spark.jars.packages",
            ] {
                assert!(hint.contains(part), "{hint}");
            }
        }
    }

    #[test]
    fn secret_option_values_are_masked_in_spark_messages() {
        let mut f = failure("KAFKA_ERROR");
        f.message = r#"options: kafka.sasl.jaas.config=Plain required password="hunter22";"#.into();
        let err = Error::Spark {
            operation: "read".into(),
            failure: Box::new(f),
        };
        let options = [
            (
                "kafka.sasl.jaas.config",
                r#"Plain required password="hunter22";"#,
            ),
            ("subscribe", "Plain"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let masked = err.mask_option_values(&options);
        let text = masked.spark_failure().map(|f| f.message.clone());
        assert_eq!(text.as_deref(), Some("options: kafka.sasl.jaas.config=***"));
    }

    #[test]
    fn hints_are_chosen_by_class() {
        let e = Error::Spark {
            operation: "read".into(),
            failure: Box::new(failure("PATH_NOT_FOUND")),
        };
        assert!(e.hint().is_some_and(|h| h.contains("path")));
        assert_eq!(e.error_class(), Some("PATH_NOT_FOUND"));
        let e = Error::Spark {
            operation: "read".into(),
            failure: Box::new(failure("SOMETHING_ELSE")),
        };
        assert_eq!(e.hint(), None);
    }
}
