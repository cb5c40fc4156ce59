//! The runner: success with mirrored task runs, retries, timeouts, cancels, claims.

use std::time::{Duration, Instant};

use tauro_orchest::{Error, PipelineRun, RunParams, RunState, Runner};

use crate::common::{TestStore, stores};
use crate::fake::{FAILURE, FakeExecutor, NODES, Plan};
use crate::util::{get, options, runner, task_states, tasks, wait_for, wait_state};

fn attempts(max: u32) -> RunParams {
    RunParams {
        max_attempts: Some(max),
        retry_delay_secs: Some(0.01),
        ..RunParams::default()
    }
}

#[tokio::test]
async fn a_run_succeeds_with_its_nodes_mirrored_into_task_runs() {
    for t in stores().await {
        let fake = FakeExecutor::new(&[("daily", Plan::Succeed { ms: 30 })]);
        let r = runner(&t.store, &fake, "runner-1");
        let params = RunParams {
            start: Some("2025-01-01".into()),
            ..RunParams::default()
        };
        let created = r.create("daily", params.clone()).await.unwrap();
        assert_eq!(created.state, RunState::Pending, "{}", t.name);
        assert_eq!(RunParams::of(&created).unwrap(), params);

        let done = r.start(&created.id).await.unwrap();
        assert_eq!(done.state, RunState::Success, "{}: {done:?}", t.name);
        assert_eq!(done.attempt, 1);
        assert_eq!(done.owner.as_deref(), Some("runner-1"));
        assert_eq!(done.error, None);
        assert!(done.started_at.is_some() && done.finished_at >= done.started_at);
        assert_eq!(get(&t.store, &done.id).await, done, "{}: as stored", t.name);
        assert_eq!(fake.executions(&done.id), 1);

        let tasks = tasks(&t.store, &done.id).await;
        let mut expected: Vec<_> = NODES.iter().map(|(n, rows)| (*n, *rows)).collect();
        expected.sort();
        assert_eq!(tasks.len(), 3, "{}: {tasks:?}", t.name);
        for (task, (node, rows)) in tasks.iter().zip(expected) {
            assert_eq!(task.node, node);
            assert_eq!(task.state, RunState::Success, "{}: {task:?}", t.name);
            assert_eq!((task.attempts, task.rows), (1, Some(rows)), "{task:?}");
            assert_eq!(task.error, None);
            assert!(task.started_at.is_some() && task.finished_at >= task.started_at);
            assert!(task.duration_ms.is_some(), "{task:?}");
        }
        assert!(r.active_here().is_empty());
    }
}

/// A run of a pipeline that fails twice in `transform`, with 3 attempts: returns it
/// after checking that its third attempt succeeded.
async fn retried_run(t: &TestStore) -> PipelineRun {
    let fake = FakeExecutor::new(&[("flaky", Plan::FailFirst { k: 2, ms: 6 })]);
    let r = runner(&t.store, &fake, "runner-1");
    let done = r.run("flaky", attempts(3)).await.unwrap();
    assert_eq!(
        (done.state, done.attempt),
        (RunState::Success, 3),
        "{}: {done:?}",
        t.name
    );
    assert_eq!(done.error, None, "the last attempt's error is cleared");
    assert_eq!(fake.executions(&done.id), 3);
    done
}

#[tokio::test]
async fn a_run_that_fails_twice_succeeds_on_its_third_attempt() {
    for t in stores().await {
        retried_run(&t).await;
    }
}

#[tokio::test]
async fn the_task_runs_of_a_retried_run_show_its_successful_attempt() {
    for t in stores().await {
        let done = retried_run(&t).await;
        let states = task_states(&t.store, &done.id).await;
        assert!(
            states.iter().all(|(_, s)| *s == RunState::Success),
            "{}: task runs after the successful attempt: {states:?}",
            t.name
        );
    }
}

#[tokio::test]
async fn a_run_that_keeps_failing_ends_failed_with_the_error() {
    for t in stores().await {
        let fake = FakeExecutor::new(&[("broken", Plan::FailFirst { k: 99, ms: 6 })]);
        let r = runner(&t.store, &fake, "runner-1");
        let done = r.run("broken", attempts(2)).await.unwrap();
        assert_eq!(
            (done.state, done.attempt),
            (RunState::Failed, 2),
            "{}",
            t.name
        );
        let error = done.error.clone().unwrap_or_default();
        assert!(
            error.contains(FAILURE) && error.contains("transform"),
            "{}: {error}",
            t.name
        );
        assert_eq!(fake.executions(&done.id), 2);
        let states = task_states(&t.store, &done.id).await;
        assert!(
            states.contains(&("transform".to_string(), RunState::Failed)),
            "{states:?}"
        );
        assert!(
            states.iter().all(|(_, s)| s.is_terminal()),
            "{}: no task left active: {states:?}",
            t.name
        );
    }
}

#[tokio::test]
async fn a_run_over_its_timeout_is_stopped_and_failed() {
    for t in stores().await {
        let fake = FakeExecutor::new(&[("hang", Plan::Hang)]);
        let r = runner(&t.store, &fake, "runner-1");
        let params = RunParams {
            timeout_secs: Some(0.2),
            ..RunParams::default()
        };
        let began = Instant::now();
        let done = r.run("hang", params).await.unwrap();
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "{:?}",
            began.elapsed()
        );
        assert_eq!(done.state, RunState::Failed, "{}: {done:?}", t.name);
        let error = done.error.unwrap_or_default();
        assert!(error.contains("timed out"), "{}: {error}", t.name);
        assert_eq!(fake.cancelled(), 1, "the executor was told to stop");
        let states = task_states(&t.store, &done.id).await;
        assert!(!states.is_empty());
        assert!(
            states.iter().all(|(_, s)| s.is_terminal()),
            "{}: {states:?}",
            t.name
        );
    }
}

/// Starts a hanging run on `r` in the background; returns its id and the task, once
/// `extract` is running.
async fn start_hanging(
    r: &Runner,
) -> (
    String,
    tokio::task::JoinHandle<tauro_orchest::Result<tauro_orchest::PipelineRun>>,
) {
    let run = r.create("hang", RunParams::default()).await.unwrap();
    let handle = tokio::spawn({
        let r = r.clone();
        let id = run.id.clone();
        async move { r.start(&id).await }
    });
    let store = r.store();
    wait_for("extract to run", Duration::from_secs(10), || async {
        task_states(store, &run.id).await == [("extract".to_string(), RunState::Running)]
    })
    .await;
    (run.id, handle)
}

#[tokio::test]
async fn cancelling_a_local_run_stops_it_at_once() {
    for t in stores().await {
        let fake = FakeExecutor::new(&[("hang", Plan::Hang)]);
        let r = runner(&t.store, &fake, "runner-1");
        let (id, handle) = start_hanging(&r).await;
        assert_eq!(r.active_here(), std::slice::from_ref(&id));
        let began = Instant::now();
        let cancelled = r.cancel(&id).await.unwrap();
        assert_eq!(cancelled.state, RunState::Cancelled);
        let done = tokio::time::timeout(Duration::from_secs(2), handle)
            .await
            .expect("the run stops within 2 s")
            .unwrap()
            .unwrap();
        assert!(began.elapsed() < Duration::from_secs(2));
        assert_eq!(done.state, RunState::Cancelled, "{}", t.name);
        assert_eq!(fake.cancelled(), 1);
        let states = task_states(&t.store, &id).await;
        assert!(
            states.iter().all(|(_, s)| s.is_terminal()),
            "{}: {states:?}",
            t.name
        );
        assert!(r.active_here().is_empty());
        // Cancelling again changes nothing.
        assert_eq!(r.cancel(&id).await.unwrap(), get(&t.store, &id).await);
    }
}

#[tokio::test]
async fn a_run_cancelled_by_another_process_stops_at_its_next_heartbeat() {
    for t in stores().await {
        let fake = FakeExecutor::new(&[("hang", Plan::Hang)]);
        let r = runner(&t.store, &fake, "runner-1");
        let (id, handle) = start_hanging(&r).await;
        // Another process: its own store handle and runner, which does not run it.
        let other = Runner::new(t.reopen().await, fake.clone(), options("runner-2"));
        assert!(other.active_here().is_empty());
        let marked = other.cancel(&id).await.unwrap();
        assert_eq!(marked.state, RunState::Cancelled);
        assert_eq!(marked.owner.as_deref(), Some("runner-1"));
        let done = tokio::time::timeout(Duration::from_secs(3), handle)
            .await
            .expect("the owner stops it within a few heartbeats")
            .unwrap()
            .unwrap();
        assert_eq!(done.state, RunState::Cancelled, "{}", t.name);
        assert_eq!(done.error.as_deref(), Some("cancelled by request"));
        assert_eq!(fake.cancelled(), 1, "{}: the executor was stopped", t.name);
        wait_state(&t.store, &id, RunState::Cancelled).await;
        let states = task_states(&t.store, &id).await;
        assert!(
            states.iter().all(|(_, s)| s.is_terminal()),
            "{}: {states:?}",
            t.name
        );
    }
}

#[tokio::test]
async fn a_finished_run_cannot_be_started_again() {
    for t in stores().await {
        let fake = FakeExecutor::new(&[("daily", Plan::Succeed { ms: 3 })]);
        let r = runner(&t.store, &fake, "runner-1");
        let done = r.run("daily", RunParams::default()).await.unwrap();
        assert_eq!(done.state, RunState::Success);
        let other = runner(&t.reopen().await, &fake, "runner-2");
        for who in [&r, &other] {
            match who.start(&done.id).await {
                Err(Error::NotClaimable { id, state, owner }) => {
                    assert_eq!(id, done.id);
                    assert_eq!(state, "success");
                    assert_eq!(owner.as_deref(), Some("runner-1"));
                }
                other => panic!("{}: {other:?}", t.name),
            }
        }
        assert_eq!(fake.executions(&done.id), 1, "{}: executed once", t.name);
        assert_eq!(get(&t.store, &done.id).await, done, "unchanged");
    }
}
