//! The run store: pipeline runs, task runs and schedules in SQLite or PostgreSQL.
//!
//! One implementation of every query runs on both backends through sqlx's `Any` driver,
//! in portable SQL: TEXT ids and JSON, BIGINT epoch-millisecond times, `$n` placeholders.
//! The schema is migrated on open by a small runner of our own (numbered SQL in code,
//! recorded in `tauro_schema_version`).
//!
//! - **SQLite** (the embedded default, `<project>/.tauro/tauro.db`): WAL journal, 5 s busy
//!   timeout, `synchronous = NORMAL`, a small pool (readers run beside the one writer).
//! - **PostgreSQL** (many processes, many hosts): a pool of 8 connections by default.
//!
//! Every state change is one compare-and-set statement (`UPDATE … WHERE id = $1 AND state
//! IN (<the states that may become the new one>)`), checked against the state the row holds
//! at that instant, so concurrent writers never lose an update and an illegal change never
//! lands; claims (a run, a schedule tick) are single statements only one process can win.
//!
//! ```no_run
//! # async fn demo() -> tauro_orchest::Result<()> {
//! use tauro_orchest::store::{NewRun, RunState, Store};
//!
//! let store = Store::open("sqlite:.tauro/tauro.db").await?;
//! let run = store.create_run(NewRun::new("daily_sales", serde_json::json!({}))).await?;
//! assert!(store.claim_run(&run.id, "worker-1").await?);
//! let run = store.transition_run(&run.id, RunState::Success, None).await?;
//! assert_eq!(run.attempt, 1);
//! # Ok(()) }
//! ```

mod kinds;
mod maintenance;
mod migrate;
mod model;
mod runs;
mod schedules;
mod sql;
mod state;
mod tasks;
mod url;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

pub use kinds::{Backend, MisfirePolicy, ScheduleKind};
pub use model::{
    NewRun, NewSchedule, PipelineRun, RunFilter, Schedule, StoreOptions, StoreStats, TaskRun,
};
pub use state::RunState;

pub(crate) use sql::is_busy;

use crate::error::{Error, Result};
use url::{Target, redact, sqlite_url};

/// Default pool size of a PostgreSQL store.
const PG_DEFAULT_CONNECTIONS: u32 = 8;
/// Default pool size of a SQLite store: WAL lets readers run beside the writer; more
/// writers would only queue on the file lock.
const SQLITE_DEFAULT_CONNECTIONS: u32 = 4;

/// A pooled connection idle this long is pinged before use (a dead one is replaced).
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(10);

/// The run store. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// What `open` was given, password masked (or the SQLite file).
    location: Arc<str>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("location", &self.location)
            .field("connections", &self.pool.size())
            .finish()
    }
}

impl Store {
    /// Opens (creating and migrating as needed) the store at `url`: `sqlite:PATH`,
    /// `sqlite://PATH`, a plain file path (created if missing, parent directories too), or
    /// `postgres://user@host:5432/db`.
    pub async fn open(url: &str) -> Result<Store> {
        Self::open_with(url, StoreOptions::default()).await
    }

    /// [`Store::open`] with a pool size and acquire timeout.
    pub async fn open_with(url: &str, options: StoreOptions) -> Result<Store> {
        Self::open_target(Target::parse(url)?, options).await
    }

    /// The project's embedded store: SQLite at `<project>/.tauro/tauro.db`.
    pub async fn for_project(project_dir: &Path) -> Result<Store> {
        let path = project_dir.join(".tauro").join("tauro.db");
        Self::open_target(Target::Sqlite(path), StoreOptions::default()).await
    }

    async fn open_target(target: Target, options: StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = target.backend();
        let (driver_url, location) = match &target {
            Target::Sqlite(path) => {
                let path = sqlite_file(path).await?;
                (sqlite_url(&path), path.display().to_string())
            }
            Target::Postgres(url) => (url.clone(), redact(url)),
        };
        let connect_options =
            AnyConnectOptions::from_str(&driver_url).map_err(|e| Error::InvalidUrl {
                url: location.clone(),
                reason: e.to_string(),
            })?;
        let connect_error = |source| Error::Connect {
            backend,
            url: location.clone(),
            source,
        };
        let default_size = match backend {
            Backend::Sqlite => SQLITE_DEFAULT_CONNECTIONS,
            Backend::Postgres => PG_DEFAULT_CONNECTIONS,
        };
        let mut pool_options = AnyPoolOptions::new()
            .max_connections(options.max_connections.unwrap_or(default_size).max(1))
            .acquire_timeout(options.acquire_timeout)
            // sqlx would ping on every acquire (a round trip per query); ping only
            // connections idle long enough to have been dropped by a server or a firewall.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    Ok(meta.idle_for < PING_IF_IDLE_FOR || conn.ping().await.is_ok())
                })
            });
        if backend == Backend::Sqlite {
            enable_wal(&connect_options).await.map_err(connect_error)?;
            pool_options = pool_options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            });
        }
        let pool = pool_options
            .connect_with(connect_options)
            .await
            .map_err(connect_error)?;
        migrate::migrate(&pool, backend).await?;
        tracing::debug!(backend = %backend, store = %location, "run store open");
        Ok(Store {
            pool,
            backend,
            location: location.into(),
        })
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where the store is: the SQLite file, or the PostgreSQL URL with its password masked.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The latest schema migration applied.
    pub async fn schema_version(&self) -> Result<i64> {
        migrate::schema_version(&self.pool).await
    }

    /// Closes every connection (all clones of this store). Later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// The absolute path of the SQLite file at `path`, its directory created.
async fn sqlite_file(path: &Path) -> Result<PathBuf> {
    let create_error = |dir: &Path| {
        let dir = dir.to_path_buf();
        move |source| Error::CreateDir { path: dir, source }
    };
    let Some(name) = path.file_name() else {
        return Err(Error::InvalidUrl {
            url: path.display().to_string(),
            reason: "it names a directory, not a database file".to_string(),
        });
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    tokio::fs::create_dir_all(&parent)
        .await
        .map_err(create_error(&parent))?;
    // Resolved, so `..` and symlinks mean what the file system says.
    let parent = tokio::fs::canonicalize(&parent)
        .await
        .map_err(create_error(&parent))?;
    Ok(parent.join(name))
}

/// Switches the file to WAL (a lasting property of the file). Done once on one connection
/// before the pool exists: the change needs an exclusive lock that `busy_timeout` does not
/// wait for, so a busy file is retried here for up to ~5 s.
async fn enable_wal(options: &AnyConnectOptions) -> std::result::Result<(), sqlx::Error> {
    let mut conn = AnyConnection::connect_with(options).await?;
    let mut tries = 0;
    loop {
        let mode: std::result::Result<String, sqlx::Error> =
            sqlx::query_scalar("PRAGMA journal_mode = WAL")
                .fetch_one(&mut conn)
                .await;
        match mode {
            Ok(mode) => {
                if !mode.eq_ignore_ascii_case("wal") {
                    tracing::warn!(mode = %mode, "the SQLite store could not use WAL; concurrent readers will wait for writers");
                }
                break;
            }
            Err(e) if tries < 50 && sql::is_busy(&e) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                let _ = conn.close().await;
                return Err(e);
            }
        }
    }
    conn.close().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: T) {}

    /// Callers spawn these (the runner, the scheduler): each future must be `Send`.
    #[allow(dead_code, clippy::let_underscore_future)]
    fn every_future_is_send(s: &Store, p: &Path) {
        assert_send(Store::open(""));
        assert_send(Store::open_with("", StoreOptions::default()));
        assert_send(Store::for_project(p));
        assert_send(s.schema_version());
        assert_send(s.create_run(NewRun::new("p", serde_json::Value::Null)));
        assert_send(s.get_run(""));
        assert_send(s.list_runs(&RunFilter::default()));
        assert_send(s.transition_run("", RunState::Queued, None));
        assert_send(s.claim_run("", ""));
        assert_send(s.heartbeat("", ""));
        assert_send(s.orphaned_runs(chrono::Utc::now()));
        assert_send(s.upsert_task(&TaskRun::new("", "", RunState::Pending)));
        assert_send(s.list_tasks(""));
        assert_send(s.fail_unfinished_tasks("", ""));
        assert_send(s.add_schedule(NewSchedule::new("p", ScheduleKind::Cron, "")));
        assert_send(s.get_schedule(""));
        assert_send(s.list_schedules());
        assert_send(s.set_schedule_enabled("", true));
        assert_send(s.remove_schedule(""));
        assert_send(s.set_next_run("", None, None));
        assert_send(s.claim_tick("", chrono::Utc::now(), ""));
        assert_send(s.active_runs(None));
        assert_send(s.stats());
        assert_send(s.cleanup(chrono::Duration::zero()));
        assert_send(s.vacuum());
        assert_send(s.close());
    }
}
