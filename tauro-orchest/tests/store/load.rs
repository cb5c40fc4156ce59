//! 10,000 task-run state updates from 16 concurrent workers, none lost.

use crate::common::stores;
use crate::workload::{Workload, run, verify};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_task_updates_from_16_workers_lose_none() {
    let w = Workload {
        workers: 16,
        tasks_per_worker: 313,
    };
    assert!(w.updates() >= 10_000);
    for t in stores().await {
        let outcome = run(&t.store, w)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        assert_eq!(outcome.updates, w.updates());
        verify(&t.store, w, &outcome)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        let stats = t.store.stats().await.unwrap();
        assert_eq!(
            stats.tasks_by_state.get("success").copied(),
            Some((w.workers * w.tasks_per_worker) as u64),
            "{}",
            t.name
        );
        assert_eq!(
            stats.tasks_by_state.values().sum::<u64>(),
            (w.workers * w.tasks_per_worker) as u64
        );
        eprintln!(
            "{}: {} task-run updates from {} workers in {:.2} s = {:.0} updates/s",
            t.name,
            outcome.updates,
            w.workers,
            outcome.elapsed.as_secs_f64(),
            outcome.per_second()
        );
    }
}
