//! Schedules and their ticks.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::sql::{Cols, check_id, millis, new_id, now, opt_millis};
use super::{MisfirePolicy, NewSchedule, Schedule, ScheduleKind, Store};
use crate::error::{Error, Result};

/// The columns of a schedule, in [`schedule_from_row`]'s order.
const SCHEDULE_COLUMNS: &str = "id, pipeline, kind, expression, timezone, enabled, \
     max_concurrency, max_attempts, retry_delay_secs, misfire, jitter_secs, params, \
     next_run_at, last_fire_at, created_at";

/// A schedule from a row of [`SCHEDULE_COLUMNS`].
fn schedule_from_row(row: &AnyRow) -> Result<Schedule> {
    let c = Cols::new(row, "schedule", "id");
    Ok(Schedule {
        id: c.id().to_string(),
        pipeline: c.text("pipeline")?,
        kind: c.parsed("kind", ScheduleKind::parse)?,
        expression: c.text("expression")?,
        timezone: c.text("timezone")?,
        enabled: c.flag("enabled")?,
        max_concurrency: c.u32("max_concurrency")?,
        max_attempts: c.u32("max_attempts")?,
        retry_delay_secs: c.float("retry_delay_secs")?,
        misfire: c.parsed("misfire", MisfirePolicy::parse)?,
        jitter_secs: c.float("jitter_secs")?,
        params: c.json("params")?,
        next_run_at: c.opt_time("next_run_at")?,
        last_fire_at: c.opt_time("last_fire_at")?,
        created_at: c.time("created_at")?,
    })
}

/// Checks the values the store cannot keep faithfully (the expression itself is the
/// scheduler's to check).
fn check(s: &NewSchedule) -> Result<()> {
    let invalid = |reason: String| Error::InvalidInput {
        what: format!("schedule of '{}'", s.pipeline),
        reason,
    };
    if let Some(id) = &s.id {
        check_id("schedule", id)?;
    }
    if s.pipeline.trim().is_empty() {
        return Err(invalid("the pipeline name is empty".to_string()));
    }
    if s.expression.trim().is_empty() {
        return Err(invalid("the expression is empty".to_string()));
    }
    for (name, v) in [
        ("retry_delay_secs", s.retry_delay_secs),
        ("jitter_secs", s.jitter_secs),
    ] {
        if !v.is_finite() || v < 0.0 {
            return Err(invalid(format!("{name} must be a number ≥ 0, not {v}")));
        }
    }
    Ok(())
}

impl Store {
    /// Stores a schedule (no next tick yet). A given id must be new
    /// ([`Error::AlreadyExists`]); without one a time-ordered id is made.
    pub async fn add_schedule(&self, s: NewSchedule) -> Result<Schedule> {
        check(&s)?;
        let params = serde_json::to_string(&s.params).map_err(|e| Error::InvalidInput {
            what: "schedule params".to_string(),
            reason: e.to_string(),
        })?;
        loop {
            let created_at = now();
            let id = s.id.clone().unwrap_or_else(|| new_id(created_at));
            let inserted = sqlx::query(
                "INSERT INTO schedules (id, pipeline, kind, expression, timezone, enabled, \
                 max_concurrency, max_attempts, retry_delay_secs, misfire, jitter_secs, params, \
                 created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id.as_str())
            .bind(s.pipeline.as_str())
            .bind(s.kind.as_str())
            .bind(s.expression.as_str())
            .bind(s.timezone.as_str())
            .bind(i64::from(s.enabled))
            .bind(i64::from(s.max_concurrency))
            .bind(i64::from(s.max_attempts))
            .bind(s.retry_delay_secs)
            .bind(s.misfire.as_str())
            .bind(s.jitter_secs)
            .bind(params.as_str())
            .bind(millis(created_at))
            .execute(self.pool())
            .await
            .map_err(Error::db(format!("add a schedule of '{}'", s.pipeline)))?
            .rows_affected();
            if inserted == 1 {
                return Ok(Schedule {
                    id,
                    pipeline: s.pipeline,
                    kind: s.kind,
                    expression: s.expression,
                    timezone: s.timezone,
                    enabled: s.enabled,
                    max_concurrency: s.max_concurrency,
                    max_attempts: s.max_attempts,
                    retry_delay_secs: s.retry_delay_secs,
                    misfire: s.misfire,
                    jitter_secs: s.jitter_secs,
                    params: s.params,
                    next_run_at: None,
                    last_fire_at: None,
                    created_at,
                });
            }
            if s.id.is_some() {
                return Err(Error::AlreadyExists {
                    what: "schedule".to_string(),
                    id,
                });
            }
        }
    }

    /// The schedule `id`, if stored.
    pub async fn get_schedule(&self, id: &str) -> Result<Option<Schedule>> {
        sqlx::query(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(Error::db(format!("read schedule '{id}'")))?
        .as_ref()
        .map(schedule_from_row)
        .transpose()
    }

    /// Every schedule, oldest first.
    pub async fn list_schedules(&self) -> Result<Vec<Schedule>> {
        sqlx::query(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(Error::db("list schedules"))?
        .iter()
        .map(schedule_from_row)
        .collect()
    }

    /// Enables or disables schedule `id`; false when there is no such schedule.
    pub async fn set_schedule_enabled(&self, id: &str, enabled: bool) -> Result<bool> {
        let changed =
            sqlx::query("UPDATE schedules SET enabled = $1, updated_at = $2 WHERE id = $3")
                .bind(i64::from(enabled))
                .bind(millis(now()))
                .bind(id)
                .execute(self.pool())
                .await
                .map_err(Error::db(format!("update schedule '{id}'")))?
                .rows_affected();
        Ok(changed == 1)
    }

    /// Removes schedule `id` and its claimed ticks (its runs stay); false when there is no
    /// such schedule.
    pub async fn remove_schedule(&self, id: &str) -> Result<bool> {
        let removed = sqlx::query("DELETE FROM schedules WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(Error::db(format!("remove schedule '{id}'")))?
            .rows_affected();
        sqlx::query("DELETE FROM schedule_ticks WHERE schedule_id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(Error::db(format!("remove the ticks of schedule '{id}'")))?;
        Ok(removed == 1)
    }

    /// Stores the next tick and the latest fired tick of schedule `id`, as given.
    pub async fn set_next_run(
        &self,
        id: &str,
        next: Option<DateTime<Utc>>,
        last_fire: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let changed = sqlx::query(
            "UPDATE schedules SET next_run_at = $1, last_fire_at = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(opt_millis(next))
        .bind(opt_millis(last_fire))
        .bind(millis(now()))
        .bind(id)
        .execute(self.pool())
        .await
        .map_err(Error::db(format!("update schedule '{id}'")))?
        .rows_affected();
        if changed == 1 {
            Ok(())
        } else {
            Err(Error::NotFound {
                what: "schedule".to_string(),
                id: id.to_string(),
            })
        }
    }

    /// Claims the tick `fire_time` of schedule `schedule_id` for `owner`: true for exactly
    /// one caller across all processes sharing the store (a unique key on schedule and
    /// time), false for every other.
    pub async fn claim_tick(
        &self,
        schedule_id: &str,
        fire_time: DateTime<Utc>,
        owner: &str,
    ) -> Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO schedule_ticks (schedule_id, fire_time, owner, claimed_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(schedule_id)
        .bind(millis(fire_time))
        .bind(owner)
        .bind(millis(now()))
        .execute(self.pool())
        .await
        .map_err(Error::db(format!(
            "claim a tick of schedule '{schedule_id}'"
        )))?
        .rows_affected();
        Ok(inserted == 1)
    }
}
