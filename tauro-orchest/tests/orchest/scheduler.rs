//! One scheduler on a manual clock: interval and cron fire times (across DST), misfire
//! policies, `max_concurrency`, jitter.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use tauro_orchest::schedule::jitter_delay;
use tauro_orchest::{
    Clock, ManualClock, MisfirePolicy, NewSchedule, PipelineRun, RunFilter, RunState, Schedule,
    ScheduleKind, Scheduler, SchedulerOptions, TickReport,
};

use crate::common::{TestStore, stores};
use crate::fake::{FakeExecutor, Plan};
use crate::util::{get, pin_created_at, runner, wait_for, wait_idle, wait_state};

pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// Stores `new` as if created at `created`.
pub async fn add_schedule(t: &TestStore, new: NewSchedule, created: DateTime<Utc>) -> Schedule {
    let s = t.store.add_schedule(new).await.unwrap();
    pin_created_at(t, &s.id, created).await;
    t.store.get_schedule(&s.id).await.unwrap().unwrap()
}

fn schedule(id: &str, pipeline: &str, kind: ScheduleKind, expression: &str) -> NewSchedule {
    NewSchedule {
        id: Some(id.to_string()),
        ..NewSchedule::new(pipeline, kind, expression)
    }
}

/// A scheduler over `t` on `clock`, executing with `fake`.
fn scheduler(t: &TestStore, fake: &Arc<FakeExecutor>, clock: &Arc<ManualClock>) -> Scheduler {
    Scheduler::new(
        runner(&t.store, fake, "scheduler-1"),
        clock.clone(),
        SchedulerOptions::default(),
    )
}

/// The fire times of the runs in `report`, per schedule.
fn fired(report: &TickReport, schedule: &str) -> Vec<DateTime<Utc>> {
    report
        .fired
        .iter()
        .filter(|r| r.schedule_id.as_deref() == Some(schedule))
        .map(|r| r.fire_time.unwrap())
        .collect()
}

/// The runs of `schedule`, oldest first (by creation).
async fn runs_of(t: &TestStore, schedule: &str) -> Vec<PipelineRun> {
    let mut runs = t
        .store
        .list_runs(&RunFilter {
            schedule_id: Some(schedule.to_string()),
            ..RunFilter::default()
        })
        .await
        .unwrap();
    runs.reverse();
    runs
}

/// Ticks every `step` from the clock's time through `end`, letting the runs of each tick
/// finish; returns `(clock time, fire time)` of every run fired.
async fn tick_through(
    t: &TestStore,
    sched: &mut Scheduler,
    clock: &ManualClock,
    step: Duration,
    end: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    while clock.now() <= end {
        let report = sched.tick().await.unwrap();
        assert!(report.skipped_busy.is_empty(), "{}: {report:?}", t.name);
        out.extend(
            report
                .fired
                .iter()
                .map(|r| (clock.now(), r.fire_time.unwrap())),
        );
        wait_idle(&t.store).await;
        clock.advance(step);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interval_schedule_fires_every_hour_from_its_creation() {
    for t in stores().await {
        let t0 = utc(2025, 6, 1, 0, 20);
        let s = add_schedule(
            &t,
            schedule("hourly", "daily", ScheduleKind::Interval, "1h"),
            t0,
        )
        .await;
        let clock = Arc::new(ManualClock::new(t0));
        let fake = FakeExecutor::new(&[("daily", Plan::Succeed { ms: 3 })]);
        let mut sched = scheduler(&t, &fake, &clock);
        let end = t0 + TimeDelta::minutes(330);
        let fires = tick_through(&t, &mut sched, &clock, Duration::from_secs(600), end).await;
        let expected: Vec<_> = (1..=5)
            .map(|k| (t0 + TimeDelta::hours(k), t0 + TimeDelta::hours(k)))
            .collect();
        assert_eq!(fires, expected, "{}: fired at the tick of its time", t.name);

        let runs = runs_of(&t, &s.id).await;
        assert_eq!(runs.len(), 5, "{}", t.name);
        assert!(runs.iter().all(|r| r.state == RunState::Success));
        assert!(runs.iter().all(|r| fake.executions(&r.id) == 1));
        let stored = t.store.get_schedule(&s.id).await.unwrap().unwrap();
        assert_eq!(stored.last_fire_at, Some(t0 + TimeDelta::hours(5)));
        assert_eq!(stored.next_run_at, Some(t0 + TimeDelta::hours(6)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_madrid_cron_schedule_follows_the_dst_change() {
    for t in stores().await {
        let mut new = schedule("madrid", "daily", ScheduleKind::Cron, "0 6 * * *");
        new.timezone = "Europe/Madrid".to_string();
        add_schedule(&t, new, utc(2025, 3, 27, 12, 0)).await;
        let clock = Arc::new(ManualClock::new(utc(2025, 3, 28, 0, 0)));
        let fake = FakeExecutor::new(&[("daily", Plan::Succeed { ms: 0 })]);
        let mut sched = scheduler(&t, &fake, &clock);
        let fires = tick_through(
            &t,
            &mut sched,
            &clock,
            Duration::from_secs(3_600),
            utc(2025, 4, 1, 23, 0),
        )
        .await;
        // 06:00 CET is 05:00Z; from Sunday 30 March 06:00 CEST is 04:00Z.
        let expected = [
            utc(2025, 3, 28, 5, 0),
            utc(2025, 3, 29, 5, 0),
            utc(2025, 3, 30, 4, 0),
            utc(2025, 3, 31, 4, 0),
            utc(2025, 4, 1, 4, 0),
        ];
        assert_eq!(
            fires,
            expected.map(|f| (f, f)),
            "{}: one run at 06:00 Madrid time each day",
            t.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_ticks_follow_the_misfire_policy() {
    for t in stores().await {
        let created = utc(2025, 6, 1, 8, 30);
        for (id, policy) in [
            ("skip", MisfirePolicy::Skip),
            ("once", MisfirePolicy::RunOnce),
            ("catch-up", MisfirePolicy::CatchUp),
        ] {
            let new = NewSchedule {
                misfire: policy,
                // Room for every caught-up tick (see the report on max_concurrency).
                max_concurrency: 3,
                ..schedule(id, "hourly", ScheduleKind::Cron, "0 * * * *")
            };
            add_schedule(&t, new, created).await;
        }
        let clock = Arc::new(ManualClock::new(utc(2025, 6, 1, 9, 0)));
        let fake = FakeExecutor::new(&[("hourly", Plan::Succeed { ms: 3 })]);
        let mut sched = scheduler(&t, &fake, &clock);

        let on_time = sched.tick().await.unwrap();
        for id in ["skip", "once", "catch-up"] {
            assert_eq!(fired(&on_time, id), [utc(2025, 6, 1, 9, 0)], "{}", t.name);
        }
        wait_idle(&t.store).await;

        // Down from 09:00 to 12:30: 10:00, 11:00 and 12:00 were missed.
        clock.set(utc(2025, 6, 1, 12, 30));
        let back = sched.tick().await.unwrap();
        assert!(
            fired(&back, "skip").is_empty(),
            "{}: 12:00 is 30 min late",
            t.name
        );
        assert_eq!(fired(&back, "once"), [utc(2025, 6, 1, 12, 0)], "{}", t.name);
        let caught_up = [
            utc(2025, 6, 1, 10, 0),
            utc(2025, 6, 1, 11, 0),
            utc(2025, 6, 1, 12, 0),
        ];
        assert_eq!(fired(&back, "catch-up"), caught_up, "{}", t.name);
        assert!(back.skipped_busy.is_empty(), "{back:?}");
        wait_idle(&t.store).await;

        let mut runs = runs_of(&t, "catch-up").await;
        runs.sort_by_key(|r| r.fire_time);
        let times: Vec<_> = runs.iter().map(|r| r.fire_time.unwrap()).collect();
        assert_eq!(times[1..], caught_up, "{}", t.name);
        assert!(
            runs.windows(2).all(|w| w[0].created_at <= w[1].created_at),
            "{}: created in fire-time order",
            t.name
        );
        assert!(runs.iter().all(|r| r.state == RunState::Success));
        assert_eq!(runs_of(&t, "skip").await.len(), 1);
        assert_eq!(runs_of(&t, "once").await.len(), 2);
        for id in ["skip", "once", "catch-up"] {
            let s = t.store.get_schedule(id).await.unwrap().unwrap();
            assert_eq!(
                s.next_run_at,
                Some(utc(2025, 6, 1, 13, 0)),
                "{}: {id}",
                t.name
            );
        }

        // Back on time, every policy fires the next tick.
        clock.set(utc(2025, 6, 1, 13, 0));
        let next = sched.tick().await.unwrap();
        for id in ["skip", "once", "catch-up"] {
            assert_eq!(fired(&next, id), [utc(2025, 6, 1, 13, 0)], "{}", t.name);
        }
        wait_idle(&t.store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_are_skipped_while_the_schedule_has_max_concurrency_runs() {
    for t in stores().await {
        let t0 = utc(2025, 6, 1, 0, 0);
        let s = add_schedule(
            &t,
            schedule("slow", "hang", ScheduleKind::Interval, "1h"),
            t0,
        )
        .await;
        assert_eq!(s.max_concurrency, 1);
        let clock = Arc::new(ManualClock::new(t0 + TimeDelta::hours(1)));
        let fake = FakeExecutor::new(&[("hang", Plan::Hang)]);
        let mut sched = scheduler(&t, &fake, &clock);
        let first = sched.tick().await.unwrap();
        assert_eq!(fired(&first, "slow"), [t0 + TimeDelta::hours(1)]);
        let id = first.fired[0].id.clone();
        wait_state(&t.store, &id, RunState::Running).await;

        for h in [2, 3] {
            clock.set(t0 + TimeDelta::hours(h));
            let busy = sched.tick().await.unwrap();
            assert!(busy.fired.is_empty(), "{}: {busy:?}", t.name);
            assert_eq!(
                busy.skipped_busy,
                [("slow".to_string(), t0 + TimeDelta::hours(h))]
            );
            assert_eq!(t.store.active_runs(Some("slow")).await.unwrap(), 1);
        }
        assert_eq!(runs_of(&t, "slow").await.len(), 1, "{}", t.name);
        assert_eq!(fake.all_executions().len(), 1);

        sched.runner().cancel(&id).await.unwrap();
        wait_for("the run to stop", Duration::from_secs(5), || async {
            sched.runner().active_here().is_empty()
        })
        .await;
        clock.set(t0 + TimeDelta::hours(4));
        let again = sched.tick().await.unwrap();
        assert_eq!(
            fired(&again, "slow"),
            [t0 + TimeDelta::hours(4)],
            "{}",
            t.name
        );
        let second = again.fired[0].id.clone();
        wait_state(&t.store, &second, RunState::Running).await;
        sched.runner().cancel(&second).await.unwrap();
        wait_idle(&t.store).await;
        wait_for("the run to stop", Duration::from_secs(5), || async {
            sched.runner().active_here().is_empty()
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jittered_run_starts_at_its_deterministic_delay() {
    for t in stores().await {
        let t0 = utc(2025, 6, 1, 0, 0);
        let new = NewSchedule {
            jitter_secs: 600.0,
            ..schedule("jittered", "daily", ScheduleKind::Interval, "1h")
        };
        add_schedule(&t, new, t0).await;
        let fire = t0 + TimeDelta::hours(1);
        let delay = jitter_delay(fire, 600.0, "jittered");
        // A fixed function of the schedule id and the tick.
        assert_eq!(delay, jitter_delay(fire, 600.0, "jittered"));
        assert!(delay > Duration::from_secs(1) && delay <= Duration::from_secs(600));
        assert_ne!(
            delay,
            jitter_delay(fire + TimeDelta::hours(1), 600.0, "jittered")
        );
        let start_at = fire + TimeDelta::from_std(delay).unwrap();

        let clock = Arc::new(ManualClock::new(fire));
        let fake = FakeExecutor::new(&[("daily", Plan::Succeed { ms: 3 })]);
        let mut sched = scheduler(&t, &fake, &clock);
        let report = sched.tick().await.unwrap();
        assert_eq!(fired(&report, "jittered"), [fire], "{}", t.name);
        let id = report.fired[0].id.clone();

        clock.set(start_at - TimeDelta::milliseconds(1));
        sched.tick().await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(
            get(&t.store, &id).await.state,
            RunState::Queued,
            "{}: not before its delay",
            t.name
        );
        assert!(fake.all_executions().is_empty());

        // The run's own timer starts it when the clock reaches the delay, without a tick.
        clock.set(start_at);
        wait_state(&t.store, &id, RunState::Success).await;
        assert_eq!(fake.executions(&id), 1);
    }
}
