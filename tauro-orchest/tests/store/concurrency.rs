//! Claims and state changes raced by 16 workers over two "processes" (two pools).

use chrono::{Duration, Utc};
use tauro_orchest::{Error, NewRun, NewSchedule, RunState, ScheduleKind, Store};
use tokio::task::JoinSet;

use crate::common::stores;

const WORKERS: usize = 16;

/// Worker `i`'s store: even workers use `a`, odd ones `b` (another pool, as another
/// process would).
fn pick(a: &Store, b: &Store, i: usize) -> Store {
    if i.is_multiple_of(2) {
        a.clone()
    } else {
        b.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_run_is_claimed_exactly_once_by_16_claimers() {
    for t in stores().await {
        let other = t.reopen().await;
        let mut ids = Vec::new();
        for _ in 0..25 {
            let run = t
                .store
                .create_run(NewRun::new("p", serde_json::json!({})))
                .await
                .unwrap();
            t.store
                .transition_run(&run.id, RunState::Queued, None)
                .await
                .unwrap();
            ids.push(run.id);
        }
        let mut set = JoinSet::new();
        for i in 0..WORKERS {
            let store = pick(&t.store, &other, i);
            let ids = ids.clone();
            set.spawn(async move {
                let mut won = Vec::new();
                for id in ids {
                    if store.claim_run(&id, &format!("w{i}")).await.unwrap() {
                        won.push(id);
                    }
                }
                (i, won)
            });
        }
        let mut winners = std::collections::HashMap::new();
        while let Some(joined) = set.join_next().await {
            let (i, won) = joined.unwrap();
            for id in won {
                assert!(winners.insert(id, i).is_none(), "{}: claimed twice", t.name);
            }
        }
        assert_eq!(winners.len(), ids.len(), "{}", t.name);
        for id in &ids {
            let run = t.store.get_run(id).await.unwrap().unwrap();
            assert_eq!(run.state, RunState::Running);
            assert_eq!(run.attempt, 1, "{}: one claim, one attempt", t.name);
            assert_eq!(run.owner, Some(format!("w{}", winners[id])));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_tick_is_claimed_exactly_once_by_16_claimers() {
    for t in stores().await {
        let other = t.reopen().await;
        let schedule = t
            .store
            .add_schedule(NewSchedule::new("p", ScheduleKind::Cron, "* * * * *"))
            .await
            .unwrap();
        let base = Utc::now();
        let ticks: Vec<_> = (0..40).map(|k| base + Duration::minutes(k)).collect();
        let mut set = JoinSet::new();
        for i in 0..WORKERS {
            let store = pick(&t.store, &other, i);
            let ticks = ticks.clone();
            let id = schedule.id.clone();
            set.spawn(async move {
                let mut won = 0;
                for fire in ticks {
                    if store.claim_tick(&id, fire, &format!("w{i}")).await.unwrap() {
                        won += 1;
                    }
                }
                won
            });
        }
        let mut total = 0;
        while let Some(joined) = set.join_next().await {
            total += joined.unwrap();
        }
        assert_eq!(total, ticks.len(), "{}", t.name);
        // Claimed for good: nobody wins them later either.
        assert!(
            !t.store
                .claim_tick(&schedule.id, ticks[0], "late")
                .await
                .unwrap()
        );
        assert!(
            t.store
                .claim_tick("another", ticks[0], "late")
                .await
                .unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_state_changes_lose_no_update() {
    for t in stores().await {
        let other = t.reopen().await;
        let run = t
            .store
            .create_run(NewRun::new("p", serde_json::json!({})))
            .await
            .unwrap();
        // Every worker keeps flipping the run running <-> retrying; a change only counts
        // when the store accepted it. Without compare-and-set, two workers reading
        // `retrying` would both "start" it and the counts would drift apart.
        let mut set = JoinSet::new();
        for i in 0..WORKERS {
            let store = pick(&t.store, &other, i);
            let id = run.id.clone();
            set.spawn(async move {
                let (mut started, mut retried) = (0u32, 0u32);
                for _ in 0..25 {
                    for (to, count) in [
                        (RunState::Running, &mut started),
                        (RunState::Retrying, &mut retried),
                    ] {
                        match store.transition_run(&id, to, None).await {
                            Ok(r) => {
                                assert_eq!(r.state, to);
                                *count += 1;
                            }
                            Err(Error::IllegalTransition { .. }) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
                (started, retried)
            });
        }
        let (mut started, mut retried) = (0, 0);
        while let Some(joined) = set.join_next().await {
            let (s, r) = joined.unwrap();
            started += s;
            retried += r;
        }
        let last = t.store.get_run(&run.id).await.unwrap().unwrap();
        assert!(started > 0, "{}", t.name);
        let open = u32::from(last.state == RunState::Running);
        assert_eq!(started, retried + open, "{}: {last:?}", t.name);
        assert_eq!(
            last.attempt, started,
            "{}: every accepted start is one attempt",
            t.name
        );
    }
}
