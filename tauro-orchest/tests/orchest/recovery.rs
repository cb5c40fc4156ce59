//! Crash safety: runs of a dead process (lease not renewed) are failed or re-queued.

use std::time::Duration;

use tauro_orchest::{
    NewRun, OrphanPolicy, PipelineRun, RunParams, RunState, Runner, RunnerOptions, Store, TaskRun,
};

use crate::common::{TestStore, stores};
use crate::fake::{FakeExecutor, Plan};
use crate::util::{get, options, task_states};

const LEASE: Duration = Duration::from_millis(200);

fn recovering(owner: &str, policy: OrphanPolicy) -> RunnerOptions {
    RunnerOptions {
        lease: LEASE,
        orphan_policy: policy,
        ..options(owner)
    }
}

/// A run claimed by a process that then died: `extract` and `transform` running, `load`
/// still pending. Returns its id.
async fn run_of_a_dead_process(store: &Store) -> String {
    let run = store
        .create_run(NewRun::new("daily", RunParams::default().to_value()))
        .await
        .unwrap();
    assert!(store.claim_run(&run.id, "dead").await.unwrap());
    for (node, state) in [
        ("extract", RunState::Running),
        ("transform", RunState::Running),
        ("load", RunState::Pending),
    ] {
        store
            .upsert_task(&TaskRun::new(run.id.clone(), node, state))
            .await
            .unwrap();
    }
    run.id
}

/// A run claimed just now by a live process.
async fn run_of_a_live_process(store: &Store) -> String {
    let run = store
        .create_run(NewRun::new("daily", RunParams::default().to_value()))
        .await
        .unwrap();
    assert!(store.claim_run(&run.id, "alive").await.unwrap());
    run.id
}

#[tokio::test]
async fn orphans_are_failed_and_their_tasks_closed() {
    for t in stores().await {
        let fake = FakeExecutor::new(&[("daily", Plan::Succeed { ms: 3 })]);
        let r = Runner::new(
            t.reopen().await,
            fake.clone(),
            recovering("survivor", OrphanPolicy::Fail),
        );
        let dead = run_of_a_dead_process(&t.store).await;
        assert!(
            r.recover().await.unwrap().is_empty(),
            "{}: within its lease the run is not an orphan",
            t.name
        );
        tokio::time::sleep(LEASE + Duration::from_millis(150)).await;
        let alive = run_of_a_live_process(&t.store).await;

        let recovered = r.recover().await.unwrap();
        assert_eq!(recovered.len(), 1, "{}: {recovered:?}", t.name);
        let run = &recovered[0];
        assert_eq!(
            (run.id.as_str(), run.state),
            (dead.as_str(), RunState::Failed)
        );
        let error = run.error.clone().unwrap_or_default();
        assert!(
            error.contains("orphaned") && error.contains("dead"),
            "{}: {error}",
            t.name
        );
        assert_eq!(get(&t.store, &dead).await, *run, "as stored");
        assert_eq!(
            task_states(&t.store, &dead).await,
            [
                ("extract".to_string(), RunState::Failed),
                ("load".to_string(), RunState::Cancelled),
                ("transform".to_string(), RunState::Failed),
            ],
            "{}",
            t.name
        );
        assert_eq!(get(&t.store, &alive).await.state, RunState::Running);
        assert!(r.recover().await.unwrap().is_empty(), "handled once");
        assert!(fake.all_executions().is_empty());
    }
}

/// A run of a dead process, re-queued by a runner with [`OrphanPolicy::Requeue`] and
/// executed by it: returns it after checking that it succeeded.
async fn requeued_and_run(t: &TestStore) -> PipelineRun {
    let dead = run_of_a_dead_process(&t.store).await;
    tokio::time::sleep(LEASE + Duration::from_millis(150)).await;
    let fake = FakeExecutor::new(&[("daily", Plan::Succeed { ms: 6 })]);
    let r = Runner::new(
        t.reopen().await,
        fake.clone(),
        recovering("survivor", OrphanPolicy::Requeue),
    );
    let recovered = r.recover().await.unwrap();
    assert_eq!(recovered.len(), 1, "{}", t.name);
    assert_eq!(recovered[0].state, RunState::Queued, "{}", t.name);
    let states = task_states(&t.store, &dead).await;
    assert!(
        states.iter().all(|(_, s)| s.is_terminal()),
        "{}: {states:?}",
        t.name
    );

    let done = r.start(&dead).await.unwrap();
    assert_eq!(done.state, RunState::Success, "{}: {done:?}", t.name);
    assert_eq!(done.attempt, 2, "the dead process's attempt counts");
    assert_eq!(done.owner.as_deref(), Some("survivor"));
    assert_eq!(fake.executions(&dead), 1);
    done
}

#[tokio::test]
async fn requeued_orphans_are_executed_by_another_runner() {
    for t in stores().await {
        requeued_and_run(&t).await;
    }
}

#[tokio::test]
async fn the_task_runs_of_a_requeued_orphan_show_its_new_attempt() {
    for t in stores().await {
        let done = requeued_and_run(&t).await;
        let states = task_states(&t.store, &done.id).await;
        assert!(
            states.iter().all(|(_, s)| *s == RunState::Success),
            "{}: task runs after the successful attempt: {states:?}",
            t.name
        );
    }
}
