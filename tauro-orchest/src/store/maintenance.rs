//! Statistics, clean-up of old runs, and compaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::sql::{Builder, millis, name_list, now};
use super::{Backend, RunState, Store, StoreStats, migrate};
use crate::error::{Error, Result};

impl Store {
    /// What the store holds: runs and task runs per state, schedules, size on disk.
    pub async fn stats(&self) -> Result<StoreStats> {
        let runs_by_state = self.count_by_state("pipeline_runs").await?;
        let tasks_by_state = self.count_by_state("task_runs").await?;
        let schedules = Builder::new("SELECT COUNT(*) FROM schedules")
            .count(self.pool())
            .await
            .map_err(Error::db("count schedules"))?;
        let enabled_schedules = Builder::new("SELECT COUNT(*) FROM schedules WHERE enabled <> 0")
            .count(self.pool())
            .await
            .map_err(Error::db("count schedules"))?;
        let size_sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT p.page_count * s.page_size FROM pragma_page_count() AS p, pragma_page_size() AS s"
            }
            Backend::Postgres => "SELECT pg_database_size(current_database())",
        };
        let size_bytes = Builder::new(size_sql)
            .count(self.pool())
            .await
            .map_err(Error::db("measure the store"))?;
        Ok(StoreStats {
            runs_by_state,
            tasks_by_state,
            schedules,
            enabled_schedules,
            size_bytes: Some(size_bytes),
            backend: self.backend(),
            schema_version: migrate::schema_version(self.pool()).await?,
        })
    }

    async fn count_by_state(&self, table: &'static str) -> Result<BTreeMap<String, u64>> {
        let mut counts: BTreeMap<String, u64> = RunState::ALL
            .into_iter()
            .map(|s| (s.as_str().to_string(), 0))
            .collect();
        let rows = sqlx::query(&format!(
            "SELECT state, COUNT(*) AS n FROM {table} GROUP BY state"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(Error::db(format!("count the rows of {table}")))?;
        for row in rows {
            let state: String = row
                .try_get("state")
                .map_err(Error::db(format!("read {table}")))?;
            let n: i64 = row
                .try_get("n")
                .map_err(Error::db(format!("read {table}")))?;
            counts.insert(state, u64::try_from(n).unwrap_or_default());
        }
        Ok(counts)
    }

    /// Deletes finished runs (success, failed, cancelled, skipped) that ended before
    /// `older_than` ago, with their task runs, and the claimed ticks from before then that
    /// their schedule has already passed. Returns how many runs were deleted. Active runs
    /// are never deleted, however old.
    pub async fn cleanup(&self, older_than: chrono::Duration) -> Result<u64> {
        let cutoff = now().checked_sub_signed(older_than).unwrap_or(
            if older_than > chrono::Duration::zero() {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            },
        );
        let cutoff = millis(cutoff);
        let finished = format!(
            "state IN ({}) AND COALESCE(finished_at, created_at) < $1",
            name_list(&RunState::TERMINAL.map(RunState::as_str))
        );
        let mut tx = match self.backend() {
            Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool().begin().await,
        }
        .map_err(Error::db("start the clean-up"))?;
        sqlx::query(&format!(
            "DELETE FROM task_runs WHERE run_id IN (SELECT id FROM pipeline_runs WHERE {finished})"
        ))
        .bind(cutoff)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("delete old task runs"))?;
        let runs = sqlx::query(&format!("DELETE FROM pipeline_runs WHERE {finished}"))
            .bind(cutoff)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("delete old runs"))?
            .rows_affected();
        // A tick may go once its schedule is past it (it cannot fire again); ticks of
        // removed schedules may go too.
        sqlx::query(
            "DELETE FROM schedule_ticks WHERE fire_time < $1 AND NOT EXISTS (\
             SELECT 1 FROM schedules s WHERE s.id = schedule_ticks.schedule_id \
             AND (s.last_fire_at IS NULL OR s.last_fire_at < schedule_ticks.fire_time))",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("delete old schedule ticks"))?;
        tx.commit()
            .await
            .map_err(Error::db("commit the clean-up"))?;
        Ok(runs)
    }

    /// Gives the space of deleted rows back and refreshes planner statistics: `VACUUM`
    /// (SQLite, then a WAL checkpoint), `VACUUM ANALYZE` of the store's tables
    /// (PostgreSQL).
    pub async fn vacuum(&self) -> Result<()> {
        let statements: &[&str] = match self.backend() {
            Backend::Sqlite => &["VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"],
            Backend::Postgres => &[
                "VACUUM ANALYZE pipeline_runs, task_runs, schedules, schedule_ticks, tauro_schema_version",
            ],
        };
        for statement in statements {
            sqlx::raw_sql(statement)
                .execute(self.pool())
                .await
                .map_err(Error::db("vacuum the store"))?;
        }
        Ok(())
    }
}
