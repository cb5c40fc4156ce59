//! Everything that can end a command, with its exit code and rendering.
//!
//! Exit codes (DESIGN.md): 0 ok, 1 pipeline failed, 2 usage or config error, 3 engine
//! unreachable.

use std::path::PathBuf;

use serde_json::json;

use crate::render;

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },
    /// No settings file at or above the current directory.
    #[error("no Tauro project found in {} or its parents", start.display())]
    NoProject {
        /// Where the search started.
        start: PathBuf,
    },
    /// The project's configuration is invalid.
    #[error(transparent)]
    Config(#[from] tauro_config::Error),
    /// Spark Connect: unreachable, not installed, or an engine failure outside a node.
    #[error(transparent)]
    Engine(#[from] tauro_io::Error),
    /// Validation or execution.
    #[error(transparent)]
    Exec(#[from] tauro_exec::Error),
    /// Streaming: validation of streaming nodes, or starting and stopping their queries.
    #[error(transparent)]
    Stream(#[from] tauro_streaming::Error),
    /// Orchestration: the run store, runner, scheduler.
    #[error(transparent)]
    Orchest(#[from] tauro_orchest::Error),
    /// The run finished unsuccessfully; the report has already been printed.
    #[error("pipeline '{pipeline}' {status}: {reason}")]
    RunFailed {
        /// The pipeline.
        pipeline: String,
        /// `failed` or `cancelled`.
        status: String,
        /// Why it stopped.
        reason: String,
    },
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage { .. } | Self::NoProject { .. } | Self::Config(_) => 2,
            Self::Engine(e) if e.is_unreachable() => 3,
            Self::Engine(e) if e.is_configuration() => 2,
            Self::Engine(_) => 1,
            Self::Exec(e) if e.is_unreachable() => 3,
            Self::Exec(e) if e.is_validation() => 2,
            Self::Exec(_) => 1,
            Self::Stream(e) if e.is_unreachable() => 3,
            Self::Stream(e) if e.is_validation() => 2,
            Self::Stream(_) => 1,
            Self::Orchest(e) if e.is_validation() => 2,
            Self::Orchest(_) => 1,
            Self::RunFailed { .. } => 1,
        }
    }

    /// How to fix it, where known.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Usage { hint, .. } => hint.clone(),
            Self::NoProject { .. } => Some(
                "run inside a project directory, or pass --project DIR (or set TAURO_PROJECT)"
                    .into(),
            ),
            Self::Config(e) => e.hint(),
            Self::Engine(e) => e.hint(),
            Self::Exec(e) => e.hint(),
            Self::Stream(e) => e.hint(),
            Self::Orchest(e) => e.hint(),
            Self::RunFailed { .. } => None,
        }
    }

    /// `error:` / `caused by:` / `hint:` text.
    pub fn render(&self) -> String {
        render::located_report(self, self.location().as_deref(), self.hint().as_deref())
    }

    /// The `file:line` the error is about, when known.
    pub fn location(&self) -> Option<String> {
        match self {
            Self::Config(e) => e.location().map(ToString::to_string),
            Self::Exec(e) => e.location().map(ToString::to_string),
            Self::Usage { .. }
            | Self::NoProject { .. }
            | Self::Engine(_)
            | Self::Stream(_)
            | Self::Orchest(_)
            | Self::RunFailed { .. } => None,
        }
    }

    /// The error as one JSON document.
    pub fn to_json(&self) -> serde_json::Value {
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        let location = self.location();
        json!({
            "error": self.to_string(),
            "causes": causes,
            "hint": self.hint(),
            "location": location,
            "exit_code": self.exit_code(),
        })
    }
}
