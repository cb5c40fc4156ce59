//! Helpers shared by the modules: runners, waiting on the store, pinned schedule times.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::Connection;
use tauro_orchest::{PipelineRun, RunState, Runner, RunnerOptions, Store, TaskRun};

use crate::common::TestStore;
use crate::fake::FakeExecutor;

/// Runner options for tests: short retry delay and heartbeat, four runs at once.
pub fn options(owner: &str) -> RunnerOptions {
    RunnerOptions {
        owner: owner.to_string(),
        retry_delay: Duration::from_millis(10),
        heartbeat_interval: Duration::from_millis(100),
        max_concurrent_runs: 4,
        ..RunnerOptions::default()
    }
}

/// A runner over `store` on `fake` named `owner`.
pub fn runner(store: &Store, fake: &Arc<FakeExecutor>, owner: &str) -> Runner {
    Runner::new(store.clone(), fake.clone(), options(owner))
}

/// Polls `check` every 10 ms until it holds; panics naming `what` after `limit`.
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The stored run `id`.
pub async fn get(store: &Store, id: &str) -> PipelineRun {
    store.get_run(id).await.unwrap().unwrap()
}

/// Waits until run `id` is in `state`.
pub async fn wait_state(store: &Store, id: &str, state: RunState) {
    wait_for(
        &format!("run {id} to be {state}"),
        Duration::from_secs(10),
        || async { get(store, id).await.state == state },
    )
    .await;
}

/// Waits until no run is active (pending, queued, running or retrying).
pub async fn wait_idle(store: &Store) {
    wait_for("every run to finish", Duration::from_secs(20), || async {
        store.active_runs(None).await.unwrap() == 0
    })
    .await;
}

/// The task runs of `id` as `(node, state)`.
pub async fn task_states(store: &Store, id: &str) -> Vec<(String, RunState)> {
    tasks(store, id)
        .await
        .into_iter()
        .map(|t| (t.node, t.state))
        .collect()
}

/// The task runs of `id`, sorted by node.
pub async fn tasks(store: &Store, id: &str) -> Vec<TaskRun> {
    let mut tasks = store.list_tasks(id).await.unwrap();
    tasks.sort_by(|a, b| a.node.cmp(&b.node));
    tasks
}

/// Sets the creation time of schedule `id` (the anchor of interval schedules), which the
/// store takes from the wall clock, so that a [`tauro_orchest::ManualClock`] can start at a
/// fixed moment.
pub async fn pin_created_at(t: &TestStore, id: &str, at: DateTime<Utc>) {
    let mut conn = sqlx::AnyConnection::connect(&t.url).await.unwrap();
    let changed = sqlx::query("UPDATE schedules SET created_at = $1 WHERE id = $2")
        .bind(at.timestamp_millis())
        .bind(id)
        .execute(&mut conn)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(changed, 1, "{}: schedule {id}", t.name);
    conn.close().await.unwrap();
}
