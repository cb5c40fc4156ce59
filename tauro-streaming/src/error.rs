//! Errors of the streaming layer.

use std::time::Duration;

use tauro_config::Location;

use crate::validator::StreamingIssue;

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Errors of the streaming layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine failed (Spark's error class and hint are kept).
    #[error(transparent)]
    Io(#[from] tauro_io::Error),

    /// The batch part of a hybrid pipeline is invalid (or the executor failed).
    #[error(transparent)]
    Exec(#[from] tauro_exec::Error),

    /// `until_available` was asked for, but these streaming nodes never end by themselves.
    #[error("--until-available needs available_now or once triggers; these streaming nodes run until stopped: {}", nodes.join(", "))]
    NeverEnds {
        /// The nodes with processing-time or continuous triggers.
        nodes: Vec<String>,
    },

    /// The streaming configuration breaks one or more rules; nothing was started.
    #[error("{} streaming configuration error(s): {}", issues.len(), issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// Every problem found.
        issues: Vec<StreamingIssue>,
    },

    /// No pipeline has this name.
    #[error("pipeline '{name}' not found")]
    UnknownPipeline {
        /// The name asked for.
        name: String,
    },

    /// No node has this name.
    #[error("node '{name}' not found")]
    UnknownNode {
        /// The name asked for.
        name: String,
    },

    /// No tracked query has this key.
    #[error("no streaming query '{key}' is tracked")]
    UnknownQuery {
        /// The key asked for (`<pipeline>.<node>`).
        key: String,
    },

    /// A query with this key is already running.
    #[error("streaming query '{key}' is already running")]
    AlreadyRunning {
        /// The key (`<pipeline>.<node>`).
        key: String,
    },

    /// A streaming function node whose function is missing or returned no single frame.
    #[error("node '{node}' ({}:{}): its function is not registered with the streaming manager, or did not return one frame", location.file.display(), location.line)]
    UnsupportedCompute {
        /// The node.
        node: String,
        /// Where it is defined.
        location: Box<Location>,
    },

    /// The detached-query registry (`.tauro/streams.json`) could not be read or written.
    #[error("stream registry {}: {message}", path.display())]
    Registry {
        /// The registry file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },

    /// A query did not stop within the timeout.
    #[error("streaming query '{key}' did not stop within {}s", after.as_secs_f64())]
    StopTimeout {
        /// The key.
        key: String,
        /// The timeout.
        after: Duration,
    },
}

impl Error {
    /// True for problems found before anything runs: the project or the request is wrong
    /// (CLI exit code 2).
    pub fn is_validation(&self) -> bool {
        match self {
            Self::Exec(e) => e.is_validation(),
            Self::NeverEnds { .. }
            | Self::Invalid { .. }
            | Self::UnknownPipeline { .. }
            | Self::UnknownNode { .. }
            | Self::UnsupportedCompute { .. } => true,
            Self::Io(_)
            | Self::UnknownQuery { .. }
            | Self::AlreadyRunning { .. }
            | Self::Registry { .. }
            | Self::StopTimeout { .. } => false,
        }
    }

    /// True when the engine could not be reached (CLI exit code 3).
    pub fn is_unreachable(&self) -> bool {
        match self {
            Self::Io(e) => e.is_unreachable(),
            Self::Exec(e) => e.is_unreachable(),
            _ => false,
        }
    }

    /// How to fix the problem, where we know.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Io(e) => e.hint(),
            Self::Exec(e) => e.hint(),
            Self::NeverEnds { .. } => Some(
                "give a --timeout, or set `streaming.trigger: available_now` on those nodes".into(),
            ),
            Self::UnknownQuery { .. } => {
                Some("list the running queries with `tauro-cli stream status`".into())
            }
            Self::UnsupportedCompute { .. } => Some(
                "register the function (HybridRunner::with_registry) and return NodeOutput::Frame"
                    .into(),
            ),
            Self::Invalid { .. }
            | Self::UnknownPipeline { .. }
            | Self::UnknownNode { .. }
            | Self::AlreadyRunning { .. }
            | Self::Registry { .. }
            | Self::StopTimeout { .. } => None,
        }
    }
}
