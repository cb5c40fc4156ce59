//! Task runs: one row per node of a run, written as the run progresses.

use sqlx::any::AnyRow;

use super::sql::{
    Cols, MAX_CAS_TRIES, is_foreign_key_violation, millis, name_list, now, opt_millis,
};
use super::{RunState, Store, TaskRun};
use crate::error::{Error, Result};

/// The columns of a task run, in [`task_from_row`]'s order.
const TASK_COLUMNS: &str =
    "run_id, node, state, attempts, started_at, finished_at, duration_ms, error, rows_written";

/// A task run from a row of [`TASK_COLUMNS`].
fn task_from_row(row: &AnyRow) -> Result<TaskRun> {
    let c = Cols::new(row, "task run", "node");
    Ok(TaskRun {
        run_id: c.text("run_id")?,
        node: c.id().to_string(),
        state: c.parsed("state", RunState::parse)?,
        attempts: c.u32("attempts")?,
        started_at: c.opt_time("started_at")?,
        finished_at: c.opt_time("finished_at")?,
        duration_ms: c.opt_u64("duration_ms")?,
        error: c.opt_text("error")?,
        rows: c.opt_u64("rows_written")?,
    })
}

/// `u64` → BIGINT (saturating: no row count or duration comes near `i64::MAX`).
fn big(v: Option<u64>) -> Option<i64> {
    v.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

/// The row to insert for `t`: `running` without a start starts now; a final state without
/// an end ends now; another state has no end.
fn new_row(t: &TaskRun) -> TaskRun {
    let now = now();
    TaskRun {
        started_at: t
            .started_at
            .or((t.state == RunState::Running).then_some(now)),
        finished_at: if t.state.is_terminal() {
            t.finished_at.or(Some(now))
        } else {
            None
        },
        ..t.clone()
    }
}

impl Store {
    /// Writes a task run: inserts it (in any state), or updates the stored one if its state
    /// may become `t.state` ([`RunState::can_become`]; the same state just updates the
    /// fields), else [`Error::IllegalTransition`]. A task of an unknown run is
    /// [`Error::NotFound`].
    ///
    /// `state`, `attempts` and `error` are written as given (the error describes the
    /// state); `started_at`, `duration_ms` and `rows` keep their stored value when not
    /// given; a final state keeps (or takes now as) its `finished_at`, another state clears
    /// it; `running` without a known start starts now.
    ///
    /// Like [`Store::transition_run`], the update is one compare-and-set statement on the
    /// states that may become `t.state`, so concurrent writers lose no update.
    pub async fn upsert_task(&self, t: &TaskRun) -> Result<()> {
        let task_id = format!("{}/{}", t.run_id, t.node);
        let from: Vec<&'static str> = RunState::ALL
            .into_iter()
            .filter(|s| *s == t.state || s.can_become(t.state))
            .map(RunState::as_str)
            .collect();
        let started = if t.state == RunState::Running {
            "COALESCE($3, started_at, $8)"
        } else {
            "COALESCE($3, started_at)"
        };
        let finished = if t.state.is_terminal() {
            "COALESCE($4, finished_at, $8)"
        } else {
            "$4" // bound to NULL
        };
        let sql = format!(
            "UPDATE task_runs SET state = $1, attempts = $2, started_at = {started}, \
             finished_at = {finished}, duration_ms = COALESCE($5, duration_ms), error = $6, \
             rows_written = COALESCE($7, rows_written), updated_at = $8 \
             WHERE run_id = $9 AND node = $10 AND state IN ({})",
            name_list(&from)
        );
        for _ in 0..MAX_CAS_TRIES {
            let updated = sqlx::query(&sql)
                .bind(t.state.as_str())
                .bind(i64::from(t.attempts))
                .bind(opt_millis(t.started_at))
                .bind(opt_millis(t.finished_at.filter(|_| t.state.is_terminal())))
                .bind(big(t.duration_ms))
                .bind(t.error.as_deref())
                .bind(big(t.rows))
                .bind(millis(now()))
                .bind(t.run_id.as_str())
                .bind(t.node.as_str())
                .execute(self.pool())
                .await
                .map_err(Error::db(format!("update task run '{task_id}'")))?
                .rows_affected();
            if updated == 1 || self.insert_task(&new_row(t)).await? {
                return Ok(());
            }
            // It exists in a state that may not become `t.state` — or it changed meanwhile.
            if let Some(stored) = self.get_task(&t.run_id, &t.node).await?
                && stored.state != t.state
                && !stored.state.can_become(t.state)
            {
                return Err(Error::IllegalTransition {
                    what: "task run".to_string(),
                    id: task_id,
                    from: stored.state,
                    to: t.state,
                });
            }
            tokio::task::yield_now().await;
        }
        Err(Error::Contention {
            what: "task run".to_string(),
            id: task_id,
            attempts: MAX_CAS_TRIES,
        })
    }

    /// Inserts `t` unless a row exists; true when inserted.
    async fn insert_task(&self, t: &TaskRun) -> Result<bool> {
        let now = millis(now());
        let inserted = sqlx::query(
            "INSERT INTO task_runs (run_id, node, state, attempts, started_at, finished_at, \
             duration_ms, error, rows_written, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT DO NOTHING",
        )
        .bind(t.run_id.as_str())
        .bind(t.node.as_str())
        .bind(t.state.as_str())
        .bind(i64::from(t.attempts))
        .bind(opt_millis(t.started_at))
        .bind(opt_millis(t.finished_at))
        .bind(big(t.duration_ms))
        .bind(t.error.as_deref())
        .bind(big(t.rows))
        .bind(now)
        .execute(self.pool())
        .await;
        match inserted {
            Ok(done) => Ok(done.rows_affected() == 1),
            Err(e) if is_foreign_key_violation(&e) => Err(Error::NotFound {
                what: "run".to_string(),
                id: t.run_id.clone(),
            }),
            Err(e) => Err(Error::db(format!(
                "insert task run '{}/{}'",
                t.run_id, t.node
            ))(e)),
        }
    }

    async fn get_task(&self, run_id: &str, node: &str) -> Result<Option<TaskRun>> {
        sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM task_runs WHERE run_id = $1 AND node = $2"
        ))
        .bind(run_id)
        .bind(node)
        .fetch_optional(self.pool())
        .await
        .map_err(Error::db(format!("read task run '{run_id}/{node}'")))?
        .as_ref()
        .map(task_from_row)
        .transpose()
    }

    /// The task runs of run `run_id`, in the order they were first written.
    pub async fn list_tasks(&self, run_id: &str) -> Result<Vec<TaskRun>> {
        sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM task_runs WHERE run_id = $1 ORDER BY created_at, node"
        ))
        .bind(run_id)
        .fetch_all(self.pool())
        .await
        .map_err(Error::db(format!("list the task runs of run '{run_id}'")))?
        .iter()
        .map(task_from_row)
        .collect()
    }

    /// Closes the unfinished task runs of run `run_id` with `error`: running and retrying
    /// ones become `failed`, pending and queued ones (never started) `cancelled`. Returns
    /// how many changed.
    pub async fn fail_unfinished_tasks(&self, run_id: &str, error: &str) -> Result<u64> {
        let now = millis(now());
        let mut changed = 0;
        for (to, from) in [
            (RunState::Failed, [RunState::Running, RunState::Retrying]),
            (RunState::Cancelled, [RunState::Pending, RunState::Queued]),
        ] {
            changed += sqlx::query(&format!(
                "UPDATE task_runs SET state = $1, error = $2, finished_at = $3, updated_at = $3, \
                 duration_ms = CASE WHEN started_at IS NULL THEN duration_ms \
                 ELSE $3 - started_at END WHERE run_id = $4 AND state IN ({})",
                name_list(&from.map(RunState::as_str))
            ))
            .bind(to.as_str())
            .bind(error)
            .bind(now)
            .bind(run_id)
            .execute(self.pool())
            .await
            .map_err(Error::db(format!("close the task runs of run '{run_id}'")))?
            .rows_affected();
        }
        Ok(changed)
    }

    /// Removes the task runs of `run_id`: a new attempt of the run records its own (the
    /// run's `attempt` counts attempts; task runs describe the latest). Returns how many.
    pub async fn clear_tasks(&self, run_id: &str) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM task_runs WHERE run_id = $1")
            .bind(run_id)
            .execute(self.pool())
            .await
            .map_err(Error::db(format!("clear the task runs of run '{run_id}'")))?
            .rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_rows_get_the_times_their_state_implies() {
        let running = new_row(&TaskRun::new("r", "n", RunState::Running));
        assert!(running.started_at.is_some() && running.finished_at.is_none());
        let done = new_row(&TaskRun::new("r", "n", RunState::Skipped));
        assert!(done.started_at.is_none() && done.finished_at.is_some());
        let pending = TaskRun {
            finished_at: Some(now()),
            ..TaskRun::new("r", "n", RunState::Pending)
        };
        assert_eq!(new_row(&pending).finished_at, None);
    }
}
