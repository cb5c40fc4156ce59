//! Pipeline runs: lifecycle, transitions, listing, leases.

use std::time::Duration;

use chrono::Utc;
use tauro_orchest::{Error, NewRun, PipelineRun, RunFilter, RunState, Store};

use crate::common::stores;

async fn new_run(store: &Store, pipeline: &str) -> PipelineRun {
    store
        .create_run(NewRun::new(pipeline, serde_json::json!({})))
        .await
        .unwrap()
}

/// A legal way from `pending` to `state`.
fn path_to(state: RunState) -> &'static [RunState] {
    use RunState::*;
    match state {
        Pending => &[],
        Queued => &[Queued],
        Running => &[Running],
        Retrying => &[Running, Retrying],
        Success => &[Running, Success],
        Failed => &[Running, Failed],
        Cancelled => &[Cancelled],
        Skipped => &[Skipped],
    }
}

#[tokio::test]
async fn a_run_goes_through_its_lifecycle_with_attempts_and_times() {
    for t in stores().await {
        let s = &t.store;
        let params =
            serde_json::json!({"start": "2025-01-01", "hyperparams": {"b": 2, "a": [1, 2]}});
        let run = s
            .create_run(NewRun::new("daily", params.clone()))
            .await
            .unwrap();
        assert_eq!(run.state, RunState::Pending);
        assert_eq!(run.attempt, 0);
        assert_eq!(run.params, params);
        assert!(tauro_exec::is_valid_run_id(&run.id), "{}", run.id);
        assert!(run.started_at.is_none() && run.finished_at.is_none());
        assert_eq!(
            s.get_run(&run.id).await.unwrap(),
            Some(run.clone()),
            "{}",
            t.name
        );

        let queued = s
            .transition_run(&run.id, RunState::Queued, None)
            .await
            .unwrap();
        assert_eq!((queued.state, queued.attempt), (RunState::Queued, 0));

        let first = s
            .transition_run(&run.id, RunState::Running, None)
            .await
            .unwrap();
        assert_eq!(first.attempt, 1);
        let started = first.started_at.expect("started_at");
        assert!(first.heartbeat_at.is_some());
        assert!(first.finished_at.is_none());

        let retrying = s
            .transition_run(&run.id, RunState::Retrying, Some("node x failed"))
            .await
            .unwrap();
        assert_eq!(retrying.error.as_deref(), Some("node x failed"));
        assert!(retrying.finished_at.is_none());

        tokio::time::sleep(Duration::from_millis(5)).await;
        let second = s
            .transition_run(&run.id, RunState::Running, None)
            .await
            .unwrap();
        assert_eq!(second.attempt, 2);
        assert_eq!(second.started_at, Some(started), "the first start stays");
        assert_eq!(second.error, None, "a new attempt clears the old error");

        let done = s
            .transition_run(&run.id, RunState::Success, None)
            .await
            .unwrap();
        assert_eq!((done.state, done.attempt), (RunState::Success, 2));
        let finished = done.finished_at.expect("finished_at");
        assert!(finished >= started && finished >= done.created_at);
        assert_eq!(s.get_run(&run.id).await.unwrap(), Some(done), "{}", t.name);
    }
}

#[tokio::test]
async fn every_illegal_transition_is_an_error_and_every_legal_one_works() {
    for t in stores().await {
        let s = &t.store;
        let mut illegal = 0;
        for from in RunState::ALL {
            for to in RunState::ALL {
                let run = new_run(s, "p").await;
                for step in path_to(from) {
                    s.transition_run(&run.id, *step, None).await.unwrap();
                }
                let before = s.get_run(&run.id).await.unwrap().unwrap();
                assert_eq!(before.state, from);
                let result = s.transition_run(&run.id, to, None).await;
                if from.can_become(to) {
                    assert_eq!(result.unwrap().state, to, "{}: {from} -> {to}", t.name);
                } else {
                    illegal += 1;
                    match result {
                        Err(Error::IllegalTransition {
                            what,
                            id,
                            from: f,
                            to: t2,
                        }) => {
                            assert_eq!(
                                (what.as_str(), id, f, t2),
                                ("run", run.id.clone(), from, to)
                            );
                        }
                        other => panic!("{}: {from} -> {to}: {other:?}", t.name),
                    }
                    let after = s.get_run(&run.id).await.unwrap().unwrap();
                    assert_eq!(
                        after, before,
                        "{}: a refused change changes nothing",
                        t.name
                    );
                }
            }
        }
        assert_eq!(illegal, 48);
    }
}

#[tokio::test]
async fn a_failed_run_can_be_queued_again() {
    for t in stores().await {
        let s = &t.store;
        let run = new_run(s, "p").await;
        assert!(s.claim_run(&run.id, "w1").await.unwrap());
        let failed = s
            .transition_run(&run.id, RunState::Failed, Some("boom"))
            .await
            .unwrap();
        assert!(failed.finished_at.is_some());
        let queued = s
            .transition_run(&run.id, RunState::Queued, None)
            .await
            .unwrap();
        assert_eq!(queued.finished_at, None, "not finished any more");
        assert_eq!(
            queued.error.as_deref(),
            Some("boom"),
            "the last error stays until a new attempt"
        );
        assert!(s.claim_run(&run.id, "w2").await.unwrap());
        let running = s.get_run(&run.id).await.unwrap().unwrap();
        assert_eq!(
            (running.attempt, running.owner.as_deref(), running.error),
            (2, Some("w2"), None)
        );
    }
}

#[tokio::test]
async fn unknown_and_duplicate_runs() {
    for t in stores().await {
        let s = &t.store;
        assert_eq!(s.get_run("nope").await.unwrap(), None);
        let err = s
            .transition_run("nope", RunState::Queued, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::NotFound { what, id } if what == "run" && id == "nope"),
            "{err}"
        );
        assert!(!s.claim_run("nope", "w").await.unwrap());
        assert!(!s.heartbeat("nope", "w").await.unwrap());

        let given = NewRun {
            id: Some("backfill-2025-01-01".into()),
            ..NewRun::new("p", serde_json::json!({}))
        };
        let run = s.create_run(given.clone()).await.unwrap();
        assert_eq!(run.id, "backfill-2025-01-01");
        let err = s.create_run(given).await.unwrap_err();
        assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
        let bad = NewRun {
            id: Some("a b".into()),
            ..NewRun::new("p", serde_json::json!({}))
        };
        assert!(matches!(
            s.create_run(bad).await,
            Err(Error::InvalidInput { .. })
        ));
    }
}

#[tokio::test]
async fn listing_filters_and_orders_newest_first() {
    for t in stores().await {
        let s = &t.store;
        let fire = Utc::now();
        let mut created = Vec::new();
        for (pipeline, schedule) in [
            ("a", None),
            ("b", Some("nightly")),
            ("a", Some("nightly")),
            ("b", None),
        ] {
            tokio::time::sleep(Duration::from_millis(3)).await;
            let run = s
                .create_run(NewRun {
                    schedule_id: schedule.map(str::to_string),
                    fire_time: schedule.map(|_| fire),
                    ..NewRun::new(pipeline, serde_json::json!({}))
                })
                .await
                .unwrap();
            created.push(run);
        }
        let ids = |runs: Vec<PipelineRun>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
        let all = s.list_runs(&RunFilter::default()).await.unwrap();
        let newest_first: Vec<String> = created.iter().rev().map(|r| r.id.clone()).collect();
        assert_eq!(ids(all.clone()), newest_first, "{}", t.name);
        assert_eq!(all[1].fire_time, created[2].fire_time);
        assert_eq!(all[1].schedule_id.as_deref(), Some("nightly"));

        s.transition_run(&created[0].id, RunState::Queued, None)
            .await
            .unwrap();
        s.transition_run(&created[3].id, RunState::Skipped, None)
            .await
            .unwrap();

        let f = |pipeline: Option<&str>, states: &[RunState]| RunFilter {
            pipeline: pipeline.map(str::to_string),
            states: states.to_vec(),
            ..RunFilter::default()
        };
        let only_a = s.list_runs(&f(Some("a"), &[])).await.unwrap();
        assert_eq!(
            ids(only_a),
            vec![created[2].id.clone(), created[0].id.clone()]
        );
        let settled = s
            .list_runs(&f(None, &[RunState::Queued, RunState::Skipped]))
            .await
            .unwrap();
        assert_eq!(
            ids(settled),
            vec![created[3].id.clone(), created[0].id.clone()]
        );
        let a_pending = s
            .list_runs(&f(Some("a"), &[RunState::Pending]))
            .await
            .unwrap();
        assert_eq!(ids(a_pending), vec![created[2].id.clone()]);

        let scheduled = s
            .list_runs(&RunFilter {
                schedule_id: Some("nightly".into()),
                ..RunFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(
            ids(scheduled),
            vec![created[2].id.clone(), created[1].id.clone()]
        );
        let newest_two = s
            .list_runs(&RunFilter {
                limit: Some(2),
                ..RunFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(ids(newest_two), newest_first[..2].to_vec());
        let after = s
            .list_runs(&RunFilter {
                created_after: Some(created[1].created_at),
                ..RunFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(ids(after), newest_first[..2].to_vec());

        assert_eq!(s.active_runs(None).await.unwrap(), 3);
        assert_eq!(s.active_runs(Some("nightly")).await.unwrap(), 2);
        assert_eq!(s.active_runs(Some("other")).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn heartbeats_keep_runs_from_being_orphaned() {
    for t in stores().await {
        let s = &t.store;
        let kept = new_run(s, "p").await;
        let lost = new_run(s, "p").await;
        let idle = new_run(s, "p").await;
        assert!(s.claim_run(&kept.id, "w1").await.unwrap());
        assert!(s.claim_run(&lost.id, "w2").await.unwrap());
        let claimed = s.get_run(&kept.id).await.unwrap().unwrap();
        assert_eq!(claimed.owner.as_deref(), Some("w1"));
        assert_eq!(claimed.heartbeat_at, claimed.started_at);

        assert!(
            s.orphaned_runs(Utc::now() - chrono::Duration::hours(1))
                .await
                .unwrap()
                .is_empty()
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
        let lease_start = Utc::now();
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(s.heartbeat(&kept.id, "w1").await.unwrap());
        assert!(
            !s.heartbeat(&kept.id, "w2").await.unwrap(),
            "only the owner renews"
        );

        let orphans = s.orphaned_runs(lease_start).await.unwrap();
        assert_eq!(
            orphans.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            vec![lost.id.as_str()]
        );
        let everyone = s
            .orphaned_runs(Utc::now() + chrono::Duration::seconds(1))
            .await
            .unwrap();
        assert_eq!(
            everyone.len(),
            2,
            "{}: pending runs are never orphans",
            t.name
        );

        s.transition_run(&lost.id, RunState::Cancelled, Some("cancelled by request"))
            .await
            .unwrap();
        assert!(
            !s.heartbeat(&lost.id, "w2").await.unwrap(),
            "a cancelled run's owner stops"
        );
        assert!(s.orphaned_runs(lease_start).await.unwrap().is_empty());
        assert!(!s.claim_run(&lost.id, "w3").await.unwrap());
        assert!(s.claim_run(&idle.id, "w3").await.unwrap());
    }
}
