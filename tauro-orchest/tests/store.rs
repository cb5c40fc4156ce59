//! The run store on SQLite and PostgreSQL: one suite, every test on both backends.
//!
//! PostgreSQL comes from `TAURO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each test works in a fresh schema that it
//! drops at the end. When PostgreSQL is unreachable the tests cover SQLite only and say
//! so, unless `TAURO_REQUIRE_POSTGRES=1`, which makes them fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "store/common.rs"]
mod common;
#[path = "store/concurrency.rs"]
mod concurrency;
#[path = "store/load.rs"]
mod load;
#[path = "store/maintenance.rs"]
mod maintenance;
#[path = "store/open.rs"]
mod open;
#[path = "store/runs.rs"]
mod runs;
#[path = "store/schedules.rs"]
mod schedules;
#[path = "store/tasks.rs"]
mod tasks;
#[path = "store/workload.rs"]
mod workload;
