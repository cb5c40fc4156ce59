//! Load benchmark of the run store: task-run state updates (pending → running → success)
//! from concurrent workers, on SQLite and on PostgreSQL, for a few pool sizes.
//!
//! `cargo bench -p tauro-orchest --bench store_load`. PostgreSQL comes from
//! `TAURO_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`) and works in
//! a schema of its own, dropped at the end; without a server only SQLite is measured.
//! `TAURO_BENCH_TASKS` sets the task runs per worker (default 625: 20,000 updates).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../tests/store/common.rs"]
#[allow(dead_code)]
mod common;
#[path = "../tests/store/workload.rs"]
mod workload;

use tauro_orchest::{Store, StoreOptions};

use common::PgSchema;
use workload::{Workload, run, verify};

/// Runs the workload `rounds` times on a store with a pool of `pool` connections; prints the
/// best and median rate.
async fn measure(label: &str, url: &str, pool: u32, w: Workload, rounds: usize) {
    let options = StoreOptions {
        max_connections: Some(pool),
        ..StoreOptions::default()
    };
    let store = Store::open_with(url, options).await.unwrap();
    let mut rates = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let outcome = run(&store, w).await.unwrap();
        verify(&store, w, &outcome).await.unwrap();
        rates.push(outcome.per_second());
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "{label:<9} pool {pool:>2}  workers {:>2}  {:>6} updates/round  median {:>7.0} updates/s  best {:>7.0} updates/s",
        w.workers,
        w.updates(),
        rates[rates.len() / 2],
        rates[rates.len() - 1],
    );
    store.close().await;
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let tasks_per_worker = std::env::var("TAURO_BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(625);
    let w = Workload {
        workers: 16,
        tasks_per_worker,
    };
    let rounds = 3;
    println!(
        "store_load: {} workers x {} task runs x 2 updates, {rounds} rounds",
        w.workers, w.tasks_per_worker
    );

    let dir = tempfile::tempdir().unwrap();
    for pool in [1, 4, 8] {
        let url = format!(
            "sqlite:{}",
            dir.path().join(format!("load-{pool}.db")).display()
        );
        measure("sqlite", &url, pool, w, rounds).await;
    }
    match PgSchema::create().await {
        Some(schema) => {
            for pool in [4, 8, 16] {
                measure("postgres", &schema.url, pool, w, rounds).await;
            }
        }
        None => println!("postgres  skipped: no server"),
    }
}
