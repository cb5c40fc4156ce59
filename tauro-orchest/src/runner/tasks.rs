//! Mirrors a run's progress events into its task runs, one write per state change, in order.

use std::collections::HashMap;

use chrono::Utc;
use tauro_exec::{NodeResult, NodeStatus, ProgressEvent};
use tokio::sync::mpsc;

use crate::store::{RunState, Store, TaskRun};

/// Writes task runs of `run_id` from `events` until the channel closes. Store errors are
/// logged (the run goes on; its final state is written by the runner).
pub(crate) async fn mirror(
    store: Store,
    run_id: String,
    mut events: mpsc::UnboundedReceiver<ProgressEvent>,
) {
    let mut mirror = Mirror {
        store,
        run_id,
        states: HashMap::new(),
    };
    while let Some(event) = events.recv().await {
        mirror.on(event).await;
    }
}

struct Mirror {
    store: Store,
    run_id: String,
    states: HashMap<String, RunState>,
}

impl Mirror {
    async fn on(&mut self, event: ProgressEvent) {
        match event {
            ProgressEvent::NodeStarted { node } => {
                let task = TaskRun {
                    started_at: Some(Utc::now()),
                    attempts: 1,
                    ..self.task(&node, RunState::Running)
                };
                self.write(task).await;
            }
            ProgressEvent::NodeRetrying {
                node,
                attempt,
                error,
                ..
            } => {
                let task = TaskRun {
                    attempts: attempt.saturating_sub(1),
                    error: Some(error),
                    ..self.task(&node, RunState::Retrying)
                };
                self.write(task).await;
            }
            ProgressEvent::NodeFinished(result) => self.finished(&result).await,
            ProgressEvent::NodeCached { node, .. } => {
                let task = self.task(&node, RunState::Skipped);
                self.write(task).await;
            }
            _ => {}
        }
    }

    async fn finished(&mut self, r: &NodeResult) {
        let state = match r.status {
            NodeStatus::Completed => RunState::Success,
            NodeStatus::Failed => RunState::Failed,
            NodeStatus::Cancelled => RunState::Cancelled,
            NodeStatus::Skipped | NodeStatus::Cached => RunState::Skipped,
            NodeStatus::Pending | NodeStatus::Running | NodeStatus::Retrying => RunState::Running,
        };
        // A retried node comes back to `running` before its final state.
        if self.states.get(&r.name) == Some(&RunState::Retrying) && state != RunState::Cancelled {
            let again = TaskRun {
                attempts: r.attempts,
                ..self.task(&r.name, RunState::Running)
            };
            self.write(again).await;
        }
        let task = TaskRun {
            attempts: r.attempts,
            started_at: r.started_at,
            finished_at: r.finished_at.or(Some(Utc::now())),
            duration_ms: r
                .duration
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            error: r.error.as_ref().map(|e| e.message.clone()),
            rows: r.rows_written,
            ..self.task(&r.name, state)
        };
        self.write(task).await;
    }

    fn task(&self, node: &str, state: RunState) -> TaskRun {
        TaskRun::new(self.run_id.clone(), node, state)
    }

    async fn write(&mut self, task: TaskRun) {
        let node = task.node.clone();
        let state = task.state;
        match self.store.upsert_task(&task).await {
            Ok(()) => {
                self.states.insert(node, state);
            }
            Err(e) => {
                tracing::warn!(run = %self.run_id, node = %node, error = %e, "could not record the task run");
            }
        }
    }
}
