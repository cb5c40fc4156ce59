//! The concurrent task-update workload, shared by the load test and the `store_load` bench:
//! `workers` tasks each move their own task runs pending → running → success, all under
//! one pipeline run, then every row is checked.

use std::time::{Duration, Instant};

use tauro_orchest::{NewRun, RunState, Store, TaskRun};
use tokio::task::JoinSet;

/// The shape of the workload.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Concurrent workers.
    pub workers: usize,
    /// Task runs per worker (two state updates each).
    pub tasks_per_worker: usize,
}

impl Workload {
    /// State updates it makes.
    pub fn updates(&self) -> u64 {
        (self.workers * self.tasks_per_worker * 2) as u64
    }
}

/// What one execution measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The pipeline run holding the task runs.
    pub run_id: String,
    /// State updates made.
    pub updates: u64,
    /// Time the updates took (the pending inserts before are not counted).
    pub elapsed: Duration,
}

impl Outcome {
    /// Updates per second.
    pub fn per_second(&self) -> f64 {
        self.updates as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn node(worker: usize, task: usize) -> String {
    format!("w{worker:02}-t{task:05}")
}

/// Runs `w` on `store`.
pub async fn run(store: &Store, w: Workload) -> Result<Outcome, String> {
    let run = store
        .create_run(NewRun::new("load", serde_json::json!({})))
        .await
        .map_err(|e| e.to_string())?;
    // Every task run exists (pending) before the clock starts.
    spawn_all(
        store,
        &run.id,
        w,
        |store, run_id, worker, tasks| async move {
            for t in 0..tasks {
                let task = TaskRun::new(&run_id, node(worker, t), RunState::Pending);
                store.upsert_task(&task).await.map_err(|e| e.to_string())?;
            }
            Ok(0)
        },
    )
    .await?;
    let start = Instant::now();
    let updates = spawn_all(
        store,
        &run.id,
        w,
        |store, run_id, worker, tasks| async move {
            let mut updates = 0;
            for t in 0..tasks {
                let running = TaskRun {
                    attempts: 1,
                    ..TaskRun::new(&run_id, node(worker, t), RunState::Running)
                };
                store
                    .upsert_task(&running)
                    .await
                    .map_err(|e| e.to_string())?;
                let success = TaskRun {
                    rows: Some((worker * 1_000_000 + t) as u64),
                    duration_ms: Some(t as u64),
                    ..running
                };
                let success = TaskRun {
                    state: RunState::Success,
                    ..success
                };
                store
                    .upsert_task(&success)
                    .await
                    .map_err(|e| e.to_string())?;
                updates += 2;
            }
            Ok(updates)
        },
    )
    .await?;
    Ok(Outcome {
        run_id: run.id,
        updates,
        elapsed: start.elapsed(),
    })
}

/// Runs `job(store, run_id, worker, tasks)` on every worker at once; sums what they return.
async fn spawn_all<F, Fut>(store: &Store, run_id: &str, w: Workload, job: F) -> Result<u64, String>
where
    F: Fn(Store, String, usize, usize) -> Fut,
    Fut: Future<Output = Result<u64, String>> + Send + 'static,
{
    let mut set = JoinSet::new();
    for worker in 0..w.workers {
        set.spawn(job(
            store.clone(),
            run_id.to_string(),
            worker,
            w.tasks_per_worker,
        ));
    }
    let mut total = 0;
    while let Some(joined) = set.join_next().await {
        total += joined.map_err(|e| e.to_string())??;
    }
    Ok(total)
}

/// Checks that every task run of `outcome` holds exactly what its worker wrote last.
pub async fn verify(store: &Store, w: Workload, outcome: &Outcome) -> Result<(), String> {
    let tasks = store
        .list_tasks(&outcome.run_id)
        .await
        .map_err(|e| e.to_string())?;
    if tasks.len() != w.workers * w.tasks_per_worker {
        return Err(format!(
            "{} task runs stored, {} written",
            tasks.len(),
            w.workers * w.tasks_per_worker
        ));
    }
    for task in &tasks {
        let (worker, t) =
            parse_node(&task.node).ok_or_else(|| format!("odd node {}", task.node))?;
        let expected_rows = Some((worker * 1_000_000 + t) as u64);
        if task.state != RunState::Success
            || task.attempts != 1
            || task.rows != expected_rows
            || task.duration_ms != Some(t as u64)
            || task.started_at.is_none()
            || task.finished_at.is_none()
        {
            return Err(format!("lost update: {task:?}"));
        }
    }
    Ok(())
}

fn parse_node(node: &str) -> Option<(usize, usize)> {
    let (w, t) = node.strip_prefix('w')?.split_once("-t")?;
    Some((w.parse().ok()?, t.parse().ok()?))
}
