//! End-to-end tests: the real `tauro-cli` binary on real projects, against the real Spark
//! Connect server of the test run (`scripts/test.sh` starts it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "e2e/config_errors.rs"]
mod config_errors;
#[path = "e2e/embed.rs"]
mod embed;
#[path = "e2e/engines.rs"]
mod engines;
#[path = "e2e/example.rs"]
mod example;
#[path = "e2e/failures.rs"]
mod failures;
#[path = "e2e/incremental.rs"]
mod incremental;
#[path = "e2e/layers.rs"]
mod layers;
#[path = "e2e/load.rs"]
mod load;
#[path = "e2e/ml.rs"]
mod ml;
#[path = "e2e/orchest.rs"]
mod orchest;
#[path = "e2e/reliability.rs"]
mod reliability;
#[path = "e2e/snapshots.rs"]
mod snapshots;
#[path = "e2e/streaming.rs"]
mod streaming;
