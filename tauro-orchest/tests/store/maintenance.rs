//! Statistics, clean-up and vacuum.

use std::time::Duration;

use chrono::Utc;
use tauro_orchest::{NewRun, NewSchedule, RunState, ScheduleKind, Store, TaskRun};

use crate::common::stores;

async fn run_in(store: &Store, state: RunState) -> String {
    let run = store
        .create_run(NewRun::new("p", serde_json::json!({})))
        .await
        .unwrap();
    let path: &[RunState] = match state {
        RunState::Pending => &[],
        RunState::Running => &[RunState::Running],
        RunState::Success => &[RunState::Running, RunState::Success],
        RunState::Failed => &[RunState::Running, RunState::Failed],
        RunState::Cancelled => &[RunState::Cancelled],
        other => panic!("no path to {other}"),
    };
    for step in path {
        store.transition_run(&run.id, *step, None).await.unwrap();
    }
    run.id
}

#[tokio::test]
async fn stats_count_what_the_store_holds() {
    for t in stores().await {
        let s = &t.store;
        let empty = s.stats().await.unwrap();
        assert_eq!(empty.runs_by_state.len(), 8);
        assert!(empty.runs_by_state.values().all(|n| *n == 0));
        for state in [
            RunState::Pending,
            RunState::Success,
            RunState::Success,
            RunState::Failed,
        ] {
            run_in(s, state).await;
        }
        let run = run_in(s, RunState::Running).await;
        s.upsert_task(&TaskRun::new(&run, "a", RunState::Running))
            .await
            .unwrap();
        s.upsert_task(&TaskRun::new(&run, "b", RunState::Success))
            .await
            .unwrap();
        s.add_schedule(NewSchedule::new("p", ScheduleKind::Interval, "1h"))
            .await
            .unwrap();
        s.add_schedule(NewSchedule {
            enabled: false,
            ..NewSchedule::new("p", ScheduleKind::Interval, "2h")
        })
        .await
        .unwrap();

        let stats = s.stats().await.unwrap();
        let count = |m: &std::collections::BTreeMap<String, u64>, k: &str| m.get(k).copied();
        assert_eq!(
            count(&stats.runs_by_state, "success"),
            Some(2),
            "{}",
            t.name
        );
        assert_eq!(count(&stats.runs_by_state, "failed"), Some(1));
        assert_eq!(count(&stats.runs_by_state, "pending"), Some(1));
        assert_eq!(count(&stats.runs_by_state, "running"), Some(1));
        assert_eq!(count(&stats.runs_by_state, "retrying"), Some(0));
        assert_eq!(count(&stats.tasks_by_state, "running"), Some(1));
        assert_eq!(count(&stats.tasks_by_state, "success"), Some(1));
        assert_eq!((stats.schedules, stats.enabled_schedules), (2, 1));
        assert!(stats.size_bytes.is_some_and(|b| b > 0), "{}", t.name);
        assert_eq!((stats.backend, stats.schema_version), (s.backend(), 1));
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["backend"], t.name);
    }
}

#[tokio::test]
async fn cleanup_deletes_old_finished_runs_with_their_tasks_and_passed_ticks() {
    for t in stores().await {
        let s = &t.store;
        let old_done = run_in(s, RunState::Success).await;
        let old_cancelled = run_in(s, RunState::Cancelled).await;
        let old_active = run_in(s, RunState::Running).await;
        s.upsert_task(&TaskRun::new(&old_done, "n", RunState::Success))
            .await
            .unwrap();
        let schedule = s
            .add_schedule(NewSchedule::new("p", ScheduleKind::Interval, "1m"))
            .await
            .unwrap();
        let passed = Utc::now() - chrono::Duration::hours(2);
        let ahead = Utc::now() - chrono::Duration::hours(1);
        assert!(s.claim_tick(&schedule.id, passed, "w").await.unwrap());
        assert!(s.claim_tick(&schedule.id, ahead, "w").await.unwrap());
        s.set_next_run(&schedule.id, None, Some(passed))
            .await
            .unwrap();

        // Old = finished over 0.5 s ago: wide margins, so a slow machine cannot flip it.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let recent_done = run_in(s, RunState::Failed).await;
        let deleted = s
            .cleanup(chrono::Duration::milliseconds(500))
            .await
            .unwrap();
        assert_eq!(deleted, 2, "{}", t.name);

        assert_eq!(s.get_run(&old_done).await.unwrap(), None);
        assert_eq!(s.get_run(&old_cancelled).await.unwrap(), None);
        assert!(s.list_tasks(&old_done).await.unwrap().is_empty());
        assert!(
            s.get_run(&old_active).await.unwrap().is_some(),
            "active runs stay"
        );
        assert!(
            s.get_run(&recent_done).await.unwrap().is_some(),
            "recent runs stay"
        );
        assert!(
            s.claim_tick(&schedule.id, passed, "w").await.unwrap(),
            "{}: a tick the schedule is past is deleted",
            t.name
        );
        assert!(
            !s.claim_tick(&schedule.id, ahead, "w").await.unwrap(),
            "{}: a tick the schedule has not reached stays claimed",
            t.name
        );
        assert_eq!(s.cleanup(chrono::Duration::days(30)).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn vacuum_compacts_and_the_store_keeps_working() {
    for t in stores().await {
        let s = &t.store;
        for _ in 0..50 {
            run_in(s, RunState::Success).await;
        }
        assert_eq!(
            s.cleanup(chrono::Duration::zero() - chrono::Duration::seconds(1))
                .await
                .unwrap(),
            50
        );
        s.vacuum()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        let stats = s.stats().await.unwrap();
        assert_eq!(stats.runs_by_state.values().sum::<u64>(), 0);
        run_in(s, RunState::Pending).await;
        assert_eq!(s.active_runs(None).await.unwrap(), 1);
    }
}
