//! Backfills: one run per window, created and started in window order with bounded
//! concurrency, resumable.

use chrono::NaiveDate;
use tauro_orchest::{Backfill, RunParams, RunState};

use crate::common::stores;
use crate::fake::{FAILURE, FakeExecutor, Plan};
use crate::util::runner;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, d).unwrap()
}

fn five_days() -> Backfill {
    Backfill::new("daily", (1..=5).map(|d| (day(d), day(d))).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_windows_run_in_order_two_at_a_time() {
    for t in stores().await {
        let fake = FakeExecutor::new(&[("daily", Plan::Succeed { ms: 60 })]);
        let r = runner(&t.store, &fake, "runner-1");
        let report = five_days().run(&r, 2).await.unwrap();
        assert_eq!(report.id, five_days().id());
        assert_eq!(report.succeeded(), 5, "{}: {report:?}", t.name);
        let windows: Vec<_> = report.windows.iter().map(|w| (w.start, w.end)).collect();
        assert_eq!(
            windows,
            (1..=5).map(|d| (day(d), day(d))).collect::<Vec<_>>()
        );
        for (w, d) in report.windows.iter().zip(1..) {
            let params = RunParams::of(&w.run).unwrap();
            let date = day(d).format("%Y-%m-%d").to_string();
            assert_eq!(params.start.as_deref(), Some(date.as_str()));
            assert_eq!(params.end.as_deref(), Some(date.as_str()));
            assert_eq!(params.backfill_id.as_deref(), Some(report.id.as_str()));
            assert!(!w.reused);
            assert_eq!(w.run.state, RunState::Success);
        }
        let runs: Vec<_> = report.windows.iter().map(|w| &w.run).collect();
        assert!(
            runs.windows(2).all(|p| p[0].created_at <= p[1].created_at),
            "{}: created in window order",
            t.name
        );
        // Window i + 2 waits for a slot that window i (or i + 1) frees: starts stay in order.
        let started = fake.started();
        let position = |id: &str| started.iter().position(|s| s == id).unwrap();
        for i in 0..3 {
            assert!(
                position(&runs[i].id) < position(&runs[i + 2].id),
                "{}: start order {started:?}",
                t.name
            );
            assert!(runs[i].started_at < runs[i + 2].started_at);
        }
        assert_eq!(fake.max_running(), 2, "{}: two at a time", t.name);
        assert_eq!(started.len(), 5);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_window_is_the_only_one_run_again() {
    for t in stores().await {
        let fake = FakeExecutor::new(&[(
            "daily",
            Plan::FailWindow {
                start: "2025-01-03".to_string(),
                ms: 6,
            },
        )]);
        let r = runner(&t.store, &fake, "runner-1");
        let first = five_days().run(&r, 2).await.unwrap();
        assert_eq!(first.succeeded(), 4, "{}", t.name);
        let failed = &first.windows[2].run;
        assert_eq!(failed.state, RunState::Failed);
        assert!(
            failed
                .error
                .as_deref()
                .unwrap_or_default()
                .contains(FAILURE)
        );

        fake.set_plan("daily", Plan::Succeed { ms: 6 });
        let again = five_days().run(&r, 2).await.unwrap();
        assert_eq!(again.id, first.id, "the same backfill");
        assert_eq!(again.succeeded(), 5, "{}: {again:?}", t.name);
        for (i, (before, after)) in first.windows.iter().zip(&again.windows).enumerate() {
            if i == 2 {
                assert!(!after.reused);
                assert_ne!(after.run.id, before.run.id, "a new run for window 3");
                assert_eq!(fake.executions(&after.run.id), 1);
            } else {
                assert!(after.reused, "{}: window {}", t.name, i + 1);
                assert_eq!(after.run, before.run, "untouched");
            }
        }
        assert_eq!(fake.started().len(), 6, "{}: 5 runs, then window 3", t.name);
        assert_eq!(
            fake.executions(&failed.id),
            1,
            "the failed run is kept as it was"
        );
        assert_eq!(
            r.store().get_run(&failed.id).await.unwrap().unwrap().state,
            RunState::Failed
        );
    }
}
