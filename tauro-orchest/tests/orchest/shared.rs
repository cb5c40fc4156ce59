//! Two schedulers, each with its own runner and store handle, on one store and one clock:
//! every tick fires exactly once and the runs are shared between them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta};
use tauro_orchest::{
    Clock, ManualClock, NewSchedule, RunFilter, RunState, ScheduleKind, ScheduleSpec, Scheduler,
    SchedulerOptions,
};

use crate::common::stores;
use crate::fake::{FakeExecutor, Plan};
use crate::scheduler::{add_schedule, utc};
use crate::util::runner;

const SCHEDULES: [(&str, ScheduleKind, &str); 4] = [
    ("every-1m", ScheduleKind::Interval, "1m"),
    ("every-2m", ScheduleKind::Interval, "2m"),
    ("every-3m", ScheduleKind::Interval, "3m"),
    ("cron-10m", ScheduleKind::Cron, "*/10 * * * *"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_schedulers_fire_every_tick_once_and_share_the_runs() {
    for t in stores().await {
        let began = Instant::now();
        let t0 = utc(2025, 6, 1, 0, 0);
        let end = t0 + TimeDelta::hours(3);
        let mut expected: BTreeMap<String, BTreeSet<DateTime<chrono::Utc>>> = BTreeMap::new();
        for (id, kind, expression) in SCHEDULES {
            let new = NewSchedule {
                id: Some(id.to_string()),
                // No tick may be skipped for a busy schedule: this tests claiming.
                max_concurrency: 1_000,
                ..NewSchedule::new("p", kind, expression)
            };
            add_schedule(&t, new, t0).await;
            let spec = ScheduleSpec::new(kind, expression, None)
                .unwrap()
                .with_anchor(t0);
            let mut fires = BTreeSet::new();
            let mut at = spec.next_after(t0).unwrap();
            while at <= end {
                fires.insert(at);
                at = spec.next_after(at).unwrap();
            }
            expected.insert(id.to_string(), fires);
        }

        let clock = Arc::new(ManualClock::new(t0));
        let fake = FakeExecutor::new(&[("p", Plan::Succeed { ms: 3 })]);
        let other = t.reopen().await;
        let mut a = Scheduler::new(
            runner(&t.store, &fake, "sched-a"),
            clock.clone(),
            SchedulerOptions::default(),
        );
        let mut b = Scheduler::new(
            runner(&other, &fake, "sched-b"),
            clock.clone(),
            SchedulerOptions::default(),
        );
        let mut fired_by = HashMap::from([("sched-a", 0), ("sched-b", 0)]);
        while clock.now() <= end {
            let (ra, rb) = tokio::join!(a.tick(), b.tick());
            *fired_by.get_mut("sched-a").unwrap() += ra.unwrap().fired.len();
            *fired_by.get_mut("sched-b").unwrap() += rb.unwrap().fired.len();
            clock.advance(Duration::from_secs(30));
        }
        // Let both finish what is queued.
        let deadline = Instant::now() + Duration::from_secs(30);
        while t.store.active_runs(None).await.unwrap() > 0 {
            assert!(
                Instant::now() < deadline,
                "{}: runs left unfinished",
                t.name
            );
            let (ra, rb) = tokio::join!(a.tick(), b.tick());
            assert!(ra.unwrap().fired.is_empty() && rb.unwrap().fired.is_empty());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        let runs = t.store.list_runs(&RunFilter::default()).await.unwrap();
        let total: usize = expected.values().map(BTreeSet::len).sum();
        assert_eq!(runs.len(), total, "{}: one run per tick", t.name);
        let mut got: BTreeMap<String, BTreeSet<_>> = BTreeMap::new();
        for run in &runs {
            let fire = run.fire_time.unwrap();
            let schedule = run.schedule_id.clone().unwrap();
            assert!(
                got.entry(schedule.clone()).or_default().insert(fire),
                "{}: {schedule} fired {fire} twice",
                t.name
            );
        }
        assert_eq!(got, expected, "{}: every tick, none twice", t.name);
        assert_eq!(fired_by.values().sum::<usize>(), total);

        let executions = fake.all_executions();
        let mut owners: BTreeMap<String, usize> = BTreeMap::new();
        for run in &runs {
            assert_eq!(run.state, RunState::Success, "{}: {run:?}", t.name);
            assert_eq!(run.attempt, 1);
            assert_eq!(
                executions.get(&run.id),
                Some(&1),
                "{}: executed once",
                t.name
            );
            *owners.entry(run.owner.clone().unwrap()).or_default() += 1;
        }
        assert_eq!(executions.len(), total);
        assert_eq!(
            owners.keys().map(String::as_str).collect::<Vec<_>>(),
            ["sched-a", "sched-b"],
            "{}: both executed runs",
            t.name
        );
        eprintln!(
            "{}: {total} runs in {:.1} s; fired {fired_by:?}; executed {owners:?}",
            t.name,
            began.elapsed().as_secs_f64()
        );
    }
}
