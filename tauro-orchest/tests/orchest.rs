//! The runner, scheduler and backfill of `tauro-orchest` on SQLite and PostgreSQL, with a
//! fake pipeline executor (no Spark) and a manual clock.
//!
//! Every test runs on each store of [`common::stores`]: PostgreSQL comes from
//! `TAURO_TEST_POSTGRES_URL` and is skipped when unreachable unless
//! `TAURO_REQUIRE_POSTGRES=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "orchest/backfill.rs"]
mod backfill;
#[path = "store/common.rs"]
mod common;
#[path = "orchest/fake.rs"]
mod fake;
#[path = "orchest/recovery.rs"]
mod recovery;
#[path = "orchest/runner.rs"]
mod runner;
#[path = "orchest/scheduler.rs"]
mod scheduler;
#[path = "orchest/shared.rs"]
mod shared;
#[path = "orchest/util.rs"]
mod util;
