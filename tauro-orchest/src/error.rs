//! Errors of the orchestration layer.
//!
//! Store failures keep sqlx's error as their `#[source]` and say what the store was doing
//! (`action`); rule violations (an illegal state change, an unknown id) carry the values at
//! fault. [`Error::hint`] tells the user how to fix the ones we know how to fix.

use std::path::PathBuf;
use std::time::Duration;

use crate::store::{Backend, RunState};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the orchestration layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A query of the run store failed.
    #[error("run store: could not {action}")]
    Database {
        /// What the store was doing (`update run '…'`).
        action: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// The run store could not be opened (server unreachable, authentication, file).
    #[error("could not open the {backend} run store at {url}")]
    Connect {
        /// The backend of the URL.
        backend: Backend,
        /// The URL, its password masked.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// The run store URL is not one we can open.
    #[error("invalid run store URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL, its password masked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The directory of a SQLite run store could not be created.
    #[error("could not create the run store directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The store was written by a newer Tauro.
    #[error(
        "the run store has schema version {found}; this Tauro knows versions up to {supported}"
    )]
    SchemaTooNew {
        /// The version in the store.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },

    /// A run or task run cannot change from its state to the one asked for.
    #[error("{what} '{id}' cannot go from {from} to {to}")]
    IllegalTransition {
        /// `run` or `task run`.
        what: String,
        /// The run id (`run/node` for a task run).
        id: String,
        /// The state it is in.
        from: RunState,
        /// The state asked for.
        to: RunState,
    },

    /// No run, schedule … has this id.
    #[error("{what} '{id}' not found")]
    NotFound {
        /// `run`, `schedule` …
        what: String,
        /// The id asked for.
        id: String,
    },

    /// A run or schedule with this id exists already.
    #[error("{what} '{id}' already exists")]
    AlreadyExists {
        /// `run` or `schedule`.
        what: String,
        /// The id.
        id: String,
    },

    /// A value given to the store is not valid (an id, a number).
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// What was given (`schedule id 'a b'`).
        what: String,
        /// Why it is not valid.
        reason: String,
    },

    /// A name that should be one of a fixed set (a run state, a misfire policy).
    #[error("unknown {what} '{value}' (expected one of: {expected})")]
    UnknownValue {
        /// What the value names (`run state`).
        what: &'static str,
        /// The value given.
        value: String,
        /// The accepted values, comma-separated.
        expected: String,
    },

    /// A stored row holds a value this build cannot read.
    #[error("{what} '{id}' has an unreadable {column}: {reason}")]
    CorruptRow {
        /// `run`, `task run`, `schedule`.
        what: String,
        /// Its id.
        id: String,
        /// The column.
        column: &'static str,
        /// What is wrong.
        reason: String,
    },

    /// A compare-and-set update kept losing to concurrent writers.
    #[error("{what} '{id}' kept changing under concurrent updates; gave up after {attempts} tries")]
    Contention {
        /// `run` or `task run`.
        what: String,
        /// Its id.
        id: String,
        /// Tries made.
        attempts: u32,
    },

    /// A stored run cannot be started (not pending, queued or retrying, or another process
    /// took it first).
    #[error(
        "run '{id}' cannot be started: it is {state}{}",
        owner.as_deref().map(|o| format!(" (claimed by {o})")).unwrap_or_default()
    )]
    NotClaimable {
        /// The run.
        id: String,
        /// Its state.
        state: String,
        /// The process that runs it, if any.
        owner: Option<String>,
    },

    /// An attempt of a run exceeded its deadline.
    #[error("run '{id}' timed out after {:.1} s", after.as_secs_f64())]
    Timeout {
        /// The run.
        id: String,
        /// The deadline.
        after: Duration,
    },

    /// The params of a stored run are not valid run parameters.
    #[error("run '{run}' has invalid params: {reason}")]
    InvalidParams {
        /// The run.
        run: String,
        /// What is wrong.
        reason: String,
    },

    /// The runner cannot take a run now (no free slot, or its circuit breaker is open).
    #[error("the runner cannot start a run now: {reason}")]
    Busy {
        /// Why.
        reason: String,
    },

    /// The HTTP server (metrics, health, runs) failed.
    #[error("the HTTP server stopped: {reason}")]
    Serve {
        /// What failed.
        reason: String,
    },

    /// A schedule expression, misfire policy or backfill range that cannot be used.
    #[error(transparent)]
    Schedule(#[from] crate::schedule::ScheduleError),

    /// Something the orchestrator does not do.
    #[error("{what}")]
    Unsupported {
        /// What was asked.
        what: String,
    },

    /// A configuration error of the project.
    #[error(transparent)]
    Config(#[from] tauro_config::Error),

    /// An execution error.
    #[error(transparent)]
    Exec(#[from] tauro_exec::Error),

    /// A streaming or hybrid run's error (boxed: it is large).
    #[error(transparent)]
    Stream(Box<tauro_streaming::Error>),
}

impl From<tauro_streaming::Error> for Error {
    fn from(e: tauro_streaming::Error) -> Self {
        Self::Stream(Box::new(e))
    }
}

impl Error {
    /// True for mistakes in what was asked (a bad URL, expression, value or parameter, an
    /// unknown id, an invalid project), as opposed to failures while working (CLI exit 2).
    pub fn is_validation(&self) -> bool {
        match self {
            Self::InvalidUrl { .. }
            | Self::InvalidInput { .. }
            | Self::UnknownValue { .. }
            | Self::InvalidParams { .. }
            | Self::Schedule(_)
            | Self::NotFound { .. }
            | Self::AlreadyExists { .. }
            | Self::Config(_) => true,
            Self::Exec(e) => e.is_validation(),
            Self::Stream(e) => e.is_validation(),
            _ => false,
        }
    }

    /// How to fix the problem, when we know.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Connect {
                backend: Backend::Postgres,
                ..
            } => Some(
                "is the PostgreSQL server running and reachable? set the store with \
                 TAURO_STORE_URL=postgres://user@host:5432/db"
                    .to_string(),
            ),
            Self::Connect {
                backend: Backend::Sqlite,
                ..
            }
            | Self::CreateDir { .. } => Some(
                "check that the directory is writable, or choose another file with \
                 TAURO_STORE_URL=sqlite:path/to/tauro.db"
                    .to_string(),
            ),
            Self::Database { source, .. } => database_hint(source),
            Self::InvalidUrl { .. } => Some(
                "use sqlite:PATH (or a plain file path) or postgres://user@host:5432/db"
                    .to_string(),
            ),
            Self::SchemaTooNew { .. } => {
                Some("upgrade Tauro, or point TAURO_STORE_URL at another store".to_string())
            }
            Self::IllegalTransition { what, from, .. } => {
                let next = from.next_states();
                Some(if next.is_empty() {
                    format!("a {from} {what} is finished and does not change any more")
                } else {
                    let names: Vec<&str> = next.iter().map(|s| s.as_str()).collect();
                    format!("a {from} {what} can become: {}", names.join(", "))
                })
            }
            Self::NotFound { what, .. } => match what.as_str() {
                "run" => Some("`tauro-cli run list` shows the stored runs".to_string()),
                "schedule" => Some("`tauro-cli schedule list` shows the schedules".to_string()),
                _ => None,
            },
            Self::Contention { .. } => {
                Some("too many processes update the same row at once; try again".to_string())
            }
            Self::Timeout { .. } => Some(
                "raise the run's timeout (`timeout_secs` in its params) or the runner's"
                    .to_string(),
            ),
            Self::Busy { .. } => Some(
                "the run stays queued; it starts when the runner has capacity again".to_string(),
            ),
            Self::Config(e) => e.hint(),
            Self::Exec(e) => e.hint(),
            Self::Stream(e) => e.hint(),
            Self::AlreadyExists { .. }
            | Self::InvalidInput { .. }
            | Self::UnknownValue { .. }
            | Self::CorruptRow { .. }
            | Self::NotClaimable { .. }
            | Self::InvalidParams { .. }
            | Self::Serve { .. }
            | Self::Schedule(_)
            | Self::Unsupported { .. } => None,
        }
    }

    /// A [`Error::Database`] maker for `map_err`.
    pub(crate) fn db(action: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Self {
        let action = action.into();
        move |source| Self::Database { action, source }
    }
}

/// Hints for failed queries.
fn database_hint(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::PoolTimedOut => Some(
            "no store connection was free in time: the server stopped answering, or raise \
             the pool size (StoreOptions::max_connections)"
                .to_string(),
        ),
        e if crate::store::is_busy(e) => Some(
            "another process held the SQLite file's write lock for over 5 s; many processes \
             writing at once are better served by PostgreSQL"
                .to_string(),
        ),
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed => {
            Some("the connection to the store was lost; is the server running?".to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_values() {
        let e = Error::IllegalTransition {
            what: "run".into(),
            id: "r1".into(),
            from: RunState::Success,
            to: RunState::Running,
        };
        assert_eq!(e.to_string(), "run 'r1' cannot go from success to running");
        assert_eq!(
            e.hint().as_deref(),
            Some("a success run is finished and does not change any more")
        );
        let e = Error::IllegalTransition {
            what: "run".into(),
            id: "r1".into(),
            from: RunState::Queued,
            to: RunState::Success,
        };
        assert_eq!(
            e.hint().as_deref(),
            Some("a queued run can become: running, cancelled, skipped")
        );
    }

    #[test]
    fn not_claimable_names_the_owner() {
        let e = Error::NotClaimable {
            id: "r".into(),
            state: "running".into(),
            owner: Some("host-1".into()),
        };
        assert_eq!(
            e.to_string(),
            "run 'r' cannot be started: it is running (claimed by host-1)"
        );
    }

    #[test]
    fn unreachable_postgres_hints_at_the_url() {
        let e = Error::Connect {
            backend: Backend::Postgres,
            url: "postgres://u@h/db".into(),
            source: sqlx::Error::PoolTimedOut,
        };
        assert!(
            e.hint()
                .is_some_and(|h| h.contains("TAURO_STORE_URL=postgres://"))
        );
    }
}
