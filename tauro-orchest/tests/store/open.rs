//! Opening stores: URLs, migrations, reopening.

use std::time::Duration;

use tauro_orchest::{Backend, Error, NewRun, Store, StoreOptions};

use crate::common::{PgSchema, stores};

#[tokio::test]
async fn migrations_apply_on_open_and_reopening_keeps_the_data() {
    for t in stores().await {
        let expected = if t.name == "sqlite" {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        assert_eq!(t.store.backend(), expected);
        assert_eq!(t.store.schema_version().await.unwrap(), 1, "{}", t.name);
        let run = t
            .store
            .create_run(NewRun::new("p", serde_json::json!({"k": 1})))
            .await
            .unwrap();
        for _ in 0..2 {
            let again = t.reopen().await;
            assert_eq!(again.schema_version().await.unwrap(), 1, "{}", t.name);
            assert_eq!(
                again.get_run(&run.id).await.unwrap(),
                Some(run.clone()),
                "{}",
                t.name
            );
            again.close().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn processes_opening_a_new_store_at_once_migrate_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![format!("sqlite:{}", dir.path().join("fresh.db").display())];
    let schema = PgSchema::create().await;
    if let Some(schema) = &schema {
        urls.push(schema.url.clone());
    }
    for url in urls {
        let opens: Vec<_> = (0..6)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { Store::open(&url).await })
            })
            .collect();
        for open in opens {
            let store = open.await.unwrap().unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(store.schema_version().await.unwrap(), 1);
        }
    }
}

#[tokio::test]
async fn sqlite_paths_are_created_with_their_directories() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("a b/c#d/runs.db");
    let store = Store::open(plain.to_str().unwrap()).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(plain.is_file());
    store.close().await;

    let url = format!("sqlite://{}", dir.path().join("x/../y.db").display());
    let store = Store::open(&url).await.unwrap();
    assert!(dir.path().join("y.db").is_file());
    store.close().await;

    let project = dir.path().join("project");
    let store = Store::for_project(&project).await.unwrap();
    assert!(project.join(".tauro/tauro.db").is_file());
    assert!(store.location().ends_with("tauro.db"));
}

#[tokio::test]
async fn urls_it_cannot_open_are_errors_with_hints() {
    for url in ["mysql://u:pw@h/db", "sqlite::memory:", ""] {
        let err = Store::open(url).await.unwrap_err();
        assert!(matches!(err, Error::InvalidUrl { .. }), "{url}: {err}");
        assert!(!err.to_string().contains("pw"));
    }
    let options = StoreOptions {
        max_connections: Some(1),
        acquire_timeout: Duration::from_secs(3),
    };
    let err = Store::open_with("postgres://u:secret@127.0.0.1:1/none", options)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Connect {
                backend: Backend::Postgres,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "could not open the postgres run store at postgres://u:***@127.0.0.1:1/none"
    );
    assert!(err.hint().unwrap().contains("TAURO_STORE_URL=postgres://"));
}
