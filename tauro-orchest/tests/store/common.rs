//! Stores to test on: a SQLite temp file always, and PostgreSQL when reachable, each in a
//! fresh schema dropped afterwards.

use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tauro_orchest::Store;

/// The PostgreSQL database the tests use (a schema each).
pub fn postgres_url() -> String {
    std::env::var("TAURO_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

fn postgres_required() -> bool {
    std::env::var("TAURO_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// A store under test, with what it needs to be opened again.
pub struct TestStore {
    /// The store.
    pub store: Store,
    /// `sqlite` or `postgres`, for messages.
    pub name: &'static str,
    /// Its URL: open it again to act as another process.
    pub url: String,
    /// Removed on drop: the SQLite directory, or the PostgreSQL schema.
    _dir: Option<tempfile::TempDir>,
    _schema: Option<PgSchema>,
}

impl TestStore {
    /// Another store on the same data (another "process").
    pub async fn reopen(&self) -> Store {
        Store::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("{}: reopen: {e}", self.name))
    }
}

/// Every backend available: SQLite, and PostgreSQL unless unreachable (then the test
/// covers SQLite only and says so; with `TAURO_REQUIRE_POSTGRES=1` it fails).
pub async fn stores() -> Vec<TestStore> {
    let mut out = vec![sqlite().await];
    if let Some(schema) = PgSchema::create().await {
        out.push(schema.into_store().await);
    }
    out
}

/// A SQLite store in a new temp directory.
pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("runs/tauro.db").display());
    let store = Store::open(&url).await.unwrap();
    TestStore {
        store,
        name: "sqlite",
        url,
        _dir: Some(dir),
        _schema: None,
    }
}

/// A fresh PostgreSQL schema, dropped on drop (also when the test panics).
pub struct PgSchema {
    admin_url: String,
    /// Its name.
    pub name: String,
    /// A store URL whose connections use only this schema.
    pub url: String,
}

impl PgSchema {
    /// A new schema, or `None` (skip) when PostgreSQL is unreachable.
    pub async fn create() -> Option<PgSchema> {
        let admin_url = postgres_url();
        let connect =
            tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&admin_url));
        let mut conn = match connect.await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return skip(&admin_url, &e.to_string()),
            Err(_) => return skip(&admin_url, "no answer in 5 s"),
        };
        let name = format!("t_{:016x}", rand::random::<u64>());
        sqlx::raw_sql(&format!("CREATE SCHEMA {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{sep}options=-c%20search_path%3D{name}");
        Some(PgSchema {
            admin_url,
            name,
            url,
        })
    }

    async fn into_store(self) -> TestStore {
        let store = Store::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("postgres store: {e}"));
        TestStore {
            store,
            name: "postgres",
            url: self.url.clone(),
            _dir: None,
            _schema: Some(self),
        }
    }
}

fn skip(url: &str, why: &str) -> Option<PgSchema> {
    if postgres_required() {
        panic!("TAURO_REQUIRE_POSTGRES=1 but PostgreSQL at {url} is unreachable: {why}");
    }
    eprintln!(
        "PostgreSQL at {url} is unreachable ({why}): testing SQLite only. \
         Set TAURO_TEST_POSTGRES_URL, or TAURO_REQUIRE_POSTGRES=1 to fail instead."
    );
    None
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // Drop may run inside a runtime (or while a test panics): use a thread of its own.
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin_url).await.ok()?;
                let done = sqlx::raw_sql(&sql).execute(&mut conn).await.ok();
                let _ = conn.close().await;
                done
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop test schema {}", self.name);
        }
    }
}
