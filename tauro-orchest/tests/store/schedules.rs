//! Schedules: add, read, list, enable, next tick, remove.

use chrono::{Duration, Utc};
use tauro_orchest::{Error, MisfirePolicy, NewSchedule, ScheduleKind};

use crate::common::stores;

#[tokio::test]
async fn schedules_can_be_added_read_changed_and_removed() {
    for t in stores().await {
        let s = &t.store;
        let nightly = NewSchedule {
            id: Some("nightly".into()),
            timezone: "Europe/Madrid".into(),
            max_concurrency: 2,
            max_attempts: 3,
            retry_delay_secs: 2.5,
            misfire: MisfirePolicy::CatchUp,
            jitter_secs: 0.25,
            params: serde_json::json!({"start": "2025-01-01", "hyperparams": {"lr": 0.1}}),
            ..NewSchedule::new("sales", ScheduleKind::Cron, "0 3 * * *")
        };
        let added = s.add_schedule(nightly.clone()).await.unwrap();
        assert_eq!(added.id, "nightly");
        assert_eq!((added.next_run_at, added.last_fire_at), (None, None));
        assert_eq!(
            s.get_schedule("nightly").await.unwrap(),
            Some(added.clone()),
            "{}",
            t.name
        );

        let err = s.add_schedule(nightly).await.unwrap_err();
        assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
        let bad = NewSchedule {
            retry_delay_secs: f64::NAN,
            ..NewSchedule::new("sales", ScheduleKind::Interval, "1h")
        };
        assert!(matches!(
            s.add_schedule(bad).await,
            Err(Error::InvalidInput { .. })
        ));

        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        let hourly = s
            .add_schedule(NewSchedule::new("events", ScheduleKind::Interval, "1h"))
            .await
            .unwrap();
        assert!(tauro_exec::is_valid_run_id(&hourly.id), "{}", hourly.id);
        assert_eq!(hourly.misfire, MisfirePolicy::RunOnce);
        let listed = s.list_schedules().await.unwrap();
        assert_eq!(listed, vec![added.clone(), hourly.clone()], "{}", t.name);

        assert!(s.set_schedule_enabled("nightly", false).await.unwrap());
        assert!(!s.get_schedule("nightly").await.unwrap().unwrap().enabled);
        assert!(s.set_schedule_enabled("nightly", true).await.unwrap());
        assert!(!s.set_schedule_enabled("nope", true).await.unwrap());

        let next = Utc::now() + Duration::hours(1);
        let last = Utc::now();
        s.set_next_run(&hourly.id, Some(next), Some(last))
            .await
            .unwrap();
        let stored = s.get_schedule(&hourly.id).await.unwrap().unwrap();
        assert_eq!(
            stored.next_run_at.map(|t| t.timestamp_millis()),
            Some(next.timestamp_millis())
        );
        assert_eq!(
            stored.last_fire_at.map(|t| t.timestamp_millis()),
            Some(last.timestamp_millis())
        );
        s.set_next_run(&hourly.id, None, Some(last)).await.unwrap();
        assert_eq!(
            s.get_schedule(&hourly.id)
                .await
                .unwrap()
                .unwrap()
                .next_run_at,
            None
        );
        let err = s.set_next_run("nope", None, None).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");

        assert!(s.claim_tick("nightly", next, "w").await.unwrap());
        assert!(s.remove_schedule("nightly").await.unwrap());
        assert!(!s.remove_schedule("nightly").await.unwrap());
        assert_eq!(s.get_schedule("nightly").await.unwrap(), None);
        assert!(
            s.claim_tick("nightly", next, "w").await.unwrap(),
            "{}: a removed schedule's ticks go with it",
            t.name
        );
        assert_eq!(s.list_schedules().await.unwrap().len(), 1);
    }
}
