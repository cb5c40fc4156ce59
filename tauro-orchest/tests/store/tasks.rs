//! Task runs: upserts checked against the state machine, and closing unfinished ones.

use chrono::Utc;
use tauro_orchest::{Error, NewRun, RunState, Store, TaskRun};

use crate::common::stores;

async fn run_id(store: &Store) -> String {
    store
        .create_run(NewRun::new("p", serde_json::json!({})))
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn task_runs_are_inserted_then_moved_only_along_legal_transitions() {
    for t in stores().await {
        let s = &t.store;
        let run = run_id(s).await;
        s.upsert_task(&TaskRun::new(&run, "extract", RunState::Pending))
            .await
            .unwrap();
        s.upsert_task(&TaskRun::new(&run, "load", RunState::Pending))
            .await
            .unwrap();

        let start = Utc::now();
        let running = TaskRun {
            attempts: 1,
            started_at: Some(start),
            ..TaskRun::new(&run, "extract", RunState::Running)
        };
        s.upsert_task(&running).await.unwrap();
        // Same state: only the fields change.
        s.upsert_task(&TaskRun {
            rows: Some(10),
            ..running.clone()
        })
        .await
        .unwrap();
        let retrying = TaskRun {
            attempts: 1,
            error: Some("timeout".into()),
            ..TaskRun::new(&run, "extract", RunState::Retrying)
        };
        s.upsert_task(&retrying).await.unwrap();
        s.upsert_task(&TaskRun {
            attempts: 2,
            ..TaskRun::new(&run, "extract", RunState::Running)
        })
        .await
        .unwrap();
        s.upsert_task(&TaskRun {
            attempts: 2,
            duration_ms: Some(1234),
            rows: Some(42),
            ..TaskRun::new(&run, "extract", RunState::Success)
        })
        .await
        .unwrap();

        let tasks = s.list_tasks(&run).await.unwrap();
        assert_eq!(
            tasks.iter().map(|t| t.node.as_str()).collect::<Vec<_>>(),
            vec!["extract", "load"],
            "{}: in the order first written",
            t.name
        );
        let extract = &tasks[0];
        assert_eq!(extract.state, RunState::Success);
        assert_eq!(extract.attempts, 2);
        assert_eq!(
            extract.started_at.map(|t| t.timestamp_millis()),
            Some(start.timestamp_millis()),
            "{}: the start is kept when not given again",
            t.name
        );
        assert!(
            extract
                .finished_at
                .is_some_and(|f| f >= extract.started_at.unwrap())
        );
        assert_eq!(
            (extract.duration_ms, extract.rows, extract.error.as_deref()),
            (Some(1234), Some(42), None)
        );
        assert_eq!(tasks[1], TaskRun::new(&run, "load", RunState::Pending));

        let err = s
            .upsert_task(&TaskRun::new(&run, "extract", RunState::Running))
            .await
            .unwrap_err();
        match err {
            Error::IllegalTransition { what, id, from, to } => {
                assert_eq!(what, "task run");
                assert_eq!(id, format!("{run}/extract"));
                assert_eq!((from, to), (RunState::Success, RunState::Running));
            }
            other => panic!("{}: {other:?}", t.name),
        }
        let err = s
            .upsert_task(&TaskRun::new(&run, "load", RunState::Success))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::IllegalTransition {
                    from: RunState::Pending,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            s.list_tasks(&run).await.unwrap()[1].state,
            RunState::Pending
        );

        // A task first seen in a final state (e.g. cached) is inserted as it is.
        s.upsert_task(&TaskRun::new(&run, "cached", RunState::Skipped))
            .await
            .unwrap();
        let tasks = s.list_tasks(&run).await.unwrap();
        let cached = tasks.iter().find(|t| t.node == "cached").unwrap();
        assert_eq!(cached.state, RunState::Skipped);
        assert!(cached.finished_at.is_some());
    }
}

#[tokio::test]
async fn a_task_run_of_an_unknown_run_is_not_found() {
    for t in stores().await {
        let err = t
            .store
            .upsert_task(&TaskRun::new("no-such-run", "n", RunState::Running))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::NotFound { what, id } if what == "run" && id == "no-such-run"),
            "{}: {err:?}",
            t.name
        );
        assert!(t.store.list_tasks("no-such-run").await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn unfinished_task_runs_are_closed_with_the_error() {
    for t in stores().await {
        let s = &t.store;
        let run = run_id(s).await;
        let other = run_id(s).await;
        for (node, state) in [
            ("a", RunState::Pending),
            ("b", RunState::Queued),
            ("c", RunState::Running),
            ("d", RunState::Retrying),
            ("e", RunState::Success),
        ] {
            s.upsert_task(&TaskRun::new(&run, node, state))
                .await
                .unwrap();
        }
        s.upsert_task(&TaskRun::new(&other, "a", RunState::Running))
            .await
            .unwrap();

        let closed = s
            .fail_unfinished_tasks(&run, "the run was cancelled")
            .await
            .unwrap();
        assert_eq!(closed, 4, "{}", t.name);
        let tasks = s.list_tasks(&run).await.unwrap();
        let states: Vec<(String, RunState, Option<String>)> = tasks
            .iter()
            .map(|t| (t.node.clone(), t.state, t.error.clone()))
            .collect();
        let err = Some("the run was cancelled".to_string());
        assert_eq!(
            states,
            vec![
                ("a".into(), RunState::Cancelled, err.clone()),
                ("b".into(), RunState::Cancelled, err.clone()),
                ("c".into(), RunState::Failed, err.clone()),
                ("d".into(), RunState::Failed, err),
                ("e".into(), RunState::Success, None),
            ],
            "{}",
            t.name
        );
        assert!(tasks[..4].iter().all(|t| t.finished_at.is_some()));
        assert!(
            tasks[2].duration_ms.is_some(),
            "a started task gets its duration"
        );
        assert_eq!(
            s.list_tasks(&other).await.unwrap()[0].state,
            RunState::Running
        );
        assert_eq!(s.fail_unfinished_tasks(&run, "again").await.unwrap(), 0);
    }
}
