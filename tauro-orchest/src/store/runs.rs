//! Pipeline runs: create, read, list, change state, claim, heartbeat, orphans.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::sql::{
    Bind, Builder, Cols, MAX_CAS_TRIES, check_id, millis, name_list, new_id, now, opt_millis,
    to_millis_precision,
};
use super::{PipelineRun, RunFilter, RunState, Store, model::NewRun};
use crate::error::{Error, Result};

/// The columns of a run, in [`run_from_row`]'s order.
const RUN_COLUMNS: &str = "id, pipeline, params, state, attempt, created_at, started_at, \
     finished_at, error, schedule_id, fire_time, owner, heartbeat_at";

/// A run from a row of [`RUN_COLUMNS`].
fn run_from_row(row: &AnyRow) -> Result<PipelineRun> {
    let c = Cols::new(row, "run", "id");
    Ok(PipelineRun {
        id: c.id().to_string(),
        pipeline: c.text("pipeline")?,
        params: c.json("params")?,
        state: c.parsed("state", RunState::parse)?,
        attempt: c.u32("attempt")?,
        created_at: c.time("created_at")?,
        started_at: c.opt_time("started_at")?,
        finished_at: c.opt_time("finished_at")?,
        error: c.opt_text("error")?,
        schedule_id: c.opt_text("schedule_id")?,
        fire_time: c.opt_time("fire_time")?,
        owner: c.opt_text("owner")?,
        heartbeat_at: c.opt_time("heartbeat_at")?,
    })
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        what: "run".to_string(),
        id: id.to_string(),
    }
}

impl Store {
    /// Stores a `pending` run (attempt 0). A given id must be new
    /// ([`Error::AlreadyExists`]); without one a time-ordered id is made.
    pub async fn create_run(&self, new: NewRun) -> Result<PipelineRun> {
        if let Some(id) = &new.id {
            check_id("run", id)?;
        }
        let params = serde_json::to_string(&new.params).map_err(|e| Error::InvalidInput {
            what: "run params".to_string(),
            reason: e.to_string(),
        })?;
        loop {
            let created_at = now();
            let id = new.id.clone().unwrap_or_else(|| new_id(created_at));
            let inserted = sqlx::query(
                "INSERT INTO pipeline_runs (id, pipeline, params, state, attempt, created_at, \
                 schedule_id, fire_time) VALUES ($1, $2, $3, $4, 0, $5, $6, $7) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id.as_str())
            .bind(new.pipeline.as_str())
            .bind(params.as_str())
            .bind(RunState::Pending.as_str())
            .bind(millis(created_at))
            .bind(new.schedule_id.as_deref())
            .bind(opt_millis(new.fire_time))
            .execute(self.pool())
            .await
            .map_err(Error::db(format!("create a run of '{}'", new.pipeline)))?
            .rows_affected();
            if inserted == 1 {
                return Ok(PipelineRun {
                    id,
                    pipeline: new.pipeline,
                    params: new.params,
                    state: RunState::Pending,
                    attempt: 0,
                    created_at,
                    started_at: None,
                    finished_at: None,
                    error: None,
                    schedule_id: new.schedule_id,
                    fire_time: new.fire_time.map(to_millis_precision),
                    owner: None,
                    heartbeat_at: None,
                });
            }
            if new.id.is_some() {
                return Err(Error::AlreadyExists {
                    what: "run".to_string(),
                    id,
                });
            }
            // A generated id clashed (same second, same 32 random bits): draw another.
        }
    }

    /// Cancels run `id` unless it already ended (then it is returned as it is): pending,
    /// queued and retrying runs end at once; a running run's runner sees it at its next
    /// heartbeat and stops.
    pub async fn cancel_run(&self, id: &str, reason: &str) -> Result<PipelineRun> {
        let run = self.get_run(id).await?.ok_or_else(|| not_found(id))?;
        if run.state.is_terminal() {
            return Ok(run);
        }
        self.transition_run(id, RunState::Cancelled, Some(reason))
            .await
    }

    /// The run `id`, if stored.
    pub async fn get_run(&self, id: &str) -> Result<Option<PipelineRun>> {
        sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(Error::db(format!("read run '{id}'")))?
        .as_ref()
        .map(run_from_row)
        .transpose()
    }

    /// The runs matching `filter`, newest first.
    pub async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<PipelineRun>> {
        let mut q = Builder::new(&format!(
            "SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE 1 = 1"
        ));
        if let Some(pipeline) = &filter.pipeline {
            q.push(" AND pipeline = ")
                .bind(Bind::Text(pipeline.clone()));
        }
        if !filter.states.is_empty() {
            q.push(" AND state IN (");
            for (i, state) in filter.states.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(Bind::Text(state.as_str().to_string()));
            }
            q.push(")");
        }
        if let Some(schedule) = &filter.schedule_id {
            q.push(" AND schedule_id = ")
                .bind(Bind::Text(schedule.clone()));
        }
        if let Some(after) = filter.created_after {
            q.push(" AND created_at > ").bind(Bind::Int(millis(after)));
        }
        q.push(" ORDER BY created_at DESC, id DESC");
        if let Some(limit) = filter.limit {
            q.push(" LIMIT ").bind(Bind::Int(i64::from(limit)));
        }
        q.query()
            .fetch_all(self.pool())
            .await
            .map_err(Error::db("list runs"))?
            .iter()
            .map(run_from_row)
            .collect()
    }

    /// Moves run `id` to `to` if that is a legal change from its current state
    /// ([`RunState::can_become`]), else [`Error::IllegalTransition`]; returns the run as
    /// stored.
    ///
    /// Entering `running` counts an attempt, sets `started_at` the first time and renews
    /// `heartbeat_at`, and clears the previous attempt's error; a final state sets
    /// `finished_at` (a non-final one clears it); `error` is stored when given.
    ///
    /// No update is lost to concurrent writers: the change is one compare-and-set
    /// statement, `UPDATE … WHERE id = $id AND state IN (<the states that may become
    /// to>)`, so it applies to the state the row holds at that instant (nothing set depends
    /// on the state it leaves). When it matches no row, the run is read to tell "not found"
    /// from "illegal", and retried if another writer changed the state in between.
    pub async fn transition_run(
        &self,
        id: &str,
        to: RunState,
        error: Option<&str>,
    ) -> Result<PipelineRun> {
        let from: Vec<&'static str> = RunState::ALL
            .into_iter()
            .filter(|s| s.can_become(to))
            .map(RunState::as_str)
            .collect();
        let entering_running = to == RunState::Running;
        // A new attempt starts without the old error; otherwise the error stays unless given.
        let error_expr = if entering_running {
            "$5"
        } else {
            "COALESCE($5, error)"
        };
        let sql = format!(
            "UPDATE pipeline_runs SET state = $1, attempt = attempt + $2, \
             started_at = COALESCE(started_at, $3), finished_at = $4, error = {error_expr}, \
             heartbeat_at = COALESCE($3, heartbeat_at) \
             WHERE id = $6 AND state IN ({}) RETURNING {RUN_COLUMNS}",
            if from.is_empty() {
                "NULL".to_string()
            } else {
                name_list(&from)
            }
        );
        for _ in 0..MAX_CAS_TRIES {
            let now = millis(now());
            let updated = sqlx::query(&sql)
                .bind(to.as_str())
                .bind(i64::from(entering_running))
                .bind(entering_running.then_some(now))
                .bind(to.is_terminal().then_some(now))
                .bind(error)
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .map_err(Error::db(format!("update run '{id}'")))?;
            if let Some(row) = updated {
                return run_from_row(&row);
            }
            let run = self.get_run(id).await?.ok_or_else(|| not_found(id))?;
            if !run.state.can_become(to) {
                return Err(Error::IllegalTransition {
                    what: "run".to_string(),
                    id: id.to_string(),
                    from: run.state,
                    to,
                });
            }
            // Another writer moved it to a state that may become `to` meanwhile: again.
            tokio::task::yield_now().await;
        }
        Err(Error::Contention {
            what: "run".to_string(),
            id: id.to_string(),
            attempts: MAX_CAS_TRIES,
        })
    }

    /// Atomically makes a pending, queued or retrying run `running` for `owner` (one more
    /// attempt, lease renewed). False when the run is in another state, unknown, or another
    /// process claimed it first.
    pub async fn claim_run(&self, id: &str, owner: &str) -> Result<bool> {
        let now = millis(now());
        let claimed = sqlx::query(&format!(
            "UPDATE pipeline_runs SET state = $1, owner = $2, heartbeat_at = $3, \
             started_at = COALESCE(started_at, $3), attempt = attempt + 1, finished_at = NULL, \
             error = NULL WHERE id = $4 AND state IN ({})",
            name_list(&[
                RunState::Pending.as_str(),
                RunState::Queued.as_str(),
                RunState::Retrying.as_str()
            ])
        ))
        .bind(RunState::Running.as_str())
        .bind(owner)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await
        .map_err(Error::db(format!("claim run '{id}'")))?
        .rows_affected();
        Ok(claimed == 1)
    }

    /// Renews the lease of run `id` if it is still `running` for `owner`; false otherwise
    /// (cancelled, finished, or taken over).
    pub async fn heartbeat(&self, id: &str, owner: &str) -> Result<bool> {
        let touched = sqlx::query(
            "UPDATE pipeline_runs SET heartbeat_at = $1 WHERE id = $2 AND owner = $3 AND state = $4",
        )
        .bind(millis(now()))
        .bind(id)
        .bind(owner)
        .bind(RunState::Running.as_str())
        .execute(self.pool())
        .await
        .map_err(Error::db(format!("renew the lease of run '{id}'")))?
        .rows_affected();
        Ok(touched == 1)
    }

    /// Running runs whose lease (`heartbeat_at`) is older than `stale_before`: their process
    /// died or hangs. Oldest first.
    pub async fn orphaned_runs(&self, stale_before: DateTime<Utc>) -> Result<Vec<PipelineRun>> {
        sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE state = $1 \
             AND COALESCE(heartbeat_at, started_at, created_at) < $2 ORDER BY created_at, id"
        ))
        .bind(RunState::Running.as_str())
        .bind(millis(stale_before))
        .fetch_all(self.pool())
        .await
        .map_err(Error::db("find orphaned runs"))?
        .iter()
        .map(run_from_row)
        .collect()
    }

    /// Runs still active (pending, queued, running, retrying), of one schedule or all.
    pub async fn active_runs(&self, schedule_id: Option<&str>) -> Result<u64> {
        let mut q = Builder::new(&format!(
            "SELECT COUNT(*) AS n FROM pipeline_runs WHERE state IN ({})",
            name_list(&RunState::ACTIVE.map(RunState::as_str))
        ));
        if let Some(schedule) = schedule_id {
            q.push(" AND schedule_id = ")
                .bind(Bind::Text(schedule.to_string()));
        }
        q.count(self.pool())
            .await
            .map_err(Error::db("count active runs"))
    }
}
