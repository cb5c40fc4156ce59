//! The store's schema, applied on open by a small migration runner of our own.
//!
//! Why not `sqlx::migrate`: its migrator keeps `_sqlx_migrations` with file checksums (an
//! edited comment breaks every existing store), needs the `migrate` feature and migration
//! files beside the binary or embedded by its macros, and applies each migration in its own
//! transaction. Ours is one table (`tauro_schema_version`, which `db stats` reports), SQL
//! strings in code, and one transaction for the whole upgrade, taken exclusively (SQLite
//! `BEGIN IMMEDIATE`, a PostgreSQL advisory lock) so processes opening the same store at
//! once apply each migration exactly once.

use sqlx::AnyPool;

use super::kinds::Backend;
use super::sql::{millis, now};
use crate::error::{Error, Result};

/// One schema change.
struct Migration {
    version: i64,
    statements: &'static [&'static str],
}

/// The schema, in order. Append new migrations; never edit applied ones.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    statements: &[
        "CREATE TABLE pipeline_runs (
            id TEXT PRIMARY KEY,
            pipeline TEXT NOT NULL,
            params TEXT NOT NULL,
            state TEXT NOT NULL,
            attempt BIGINT NOT NULL DEFAULT 0,
            created_at BIGINT NOT NULL,
            started_at BIGINT,
            finished_at BIGINT,
            error TEXT,
            schedule_id TEXT,
            fire_time BIGINT,
            owner TEXT,
            heartbeat_at BIGINT
        )",
        "CREATE INDEX pipeline_runs_pipeline_state ON pipeline_runs (pipeline, state)",
        "CREATE INDEX pipeline_runs_state ON pipeline_runs (state)",
        "CREATE INDEX pipeline_runs_created_at ON pipeline_runs (created_at)",
        "CREATE INDEX pipeline_runs_schedule ON pipeline_runs (schedule_id, state)",
        "CREATE TABLE task_runs (
            run_id TEXT NOT NULL REFERENCES pipeline_runs (id) ON DELETE CASCADE,
            node TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts BIGINT NOT NULL DEFAULT 0,
            started_at BIGINT,
            finished_at BIGINT,
            duration_ms BIGINT,
            error TEXT,
            rows_written BIGINT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (run_id, node)
        )",
        "CREATE INDEX task_runs_state ON task_runs (state)",
        "CREATE TABLE schedules (
            id TEXT PRIMARY KEY,
            pipeline TEXT NOT NULL,
            kind TEXT NOT NULL,
            expression TEXT NOT NULL,
            timezone TEXT NOT NULL,
            enabled BIGINT NOT NULL,
            max_concurrency BIGINT NOT NULL,
            max_attempts BIGINT NOT NULL,
            retry_delay_secs DOUBLE PRECISION NOT NULL,
            misfire TEXT NOT NULL,
            jitter_secs DOUBLE PRECISION NOT NULL,
            params TEXT NOT NULL,
            next_run_at BIGINT,
            last_fire_at BIGINT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )",
        "CREATE INDEX schedules_pipeline ON schedules (pipeline)",
        "CREATE TABLE schedule_ticks (
            schedule_id TEXT NOT NULL,
            fire_time BIGINT NOT NULL,
            owner TEXT NOT NULL,
            claimed_at BIGINT NOT NULL,
            PRIMARY KEY (schedule_id, fire_time)
        )",
    ],
}];

/// The schema version this build writes.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// An arbitrary key of the PostgreSQL advisory lock that serialises migrations.
const PG_MIGRATION_LOCK: i64 = 0x7461_7572_6f5f_6d67; // "tauro_mg"

/// Brings the schema of `pool` up to date; returns its version.
pub(crate) async fn migrate(pool: &AnyPool, backend: Backend) -> Result<i64> {
    let mut tx = match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => pool.begin().await,
    }
    .map_err(Error::db("start the schema migration"))?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l")
            .bind(PG_MIGRATION_LOCK)
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::db("lock the schema for migration"))?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS tauro_schema_version (
            version BIGINT PRIMARY KEY,
            applied_at BIGINT NOT NULL
        )",
    )
    .execute(&mut *tx)
    .await
    .map_err(Error::db("create the schema version table"))?;
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM tauro_schema_version")
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::db("read the schema version"))?;
    let latest = latest_version();
    if current > latest {
        return Err(Error::SchemaTooNew {
            found: current,
            supported: latest,
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        for statement in migration.statements {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(Error::db(format!(
                    "apply schema migration {}",
                    migration.version
                )))?;
        }
        sqlx::query("INSERT INTO tauro_schema_version (version, applied_at) VALUES ($1, $2)")
            .bind(migration.version)
            .bind(millis(now()))
            .execute(&mut *tx)
            .await
            .map_err(Error::db(format!(
                "record schema migration {}",
                migration.version
            )))?;
        tracing::info!(version = migration.version, "applied run store migration");
    }
    tx.commit()
        .await
        .map_err(Error::db("commit the schema migration"))?;
    Ok(latest)
}

/// The latest applied migration.
pub(crate) async fn schema_version(pool: &AnyPool) -> Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM tauro_schema_version")
        .fetch_one(pool)
        .await
        .map_err(Error::db("read the schema version"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_from_one() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        let expected: Vec<i64> = (1..=MIGRATIONS.len() as i64).collect();
        assert_eq!(versions, expected);
        assert_eq!(latest_version(), MIGRATIONS.len() as i64);
    }
}
