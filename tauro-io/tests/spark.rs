//! Integration tests of tauro-io against a real Spark Connect server.
//!
//! The server is `TAURO_SPARK_REMOTE` when set, else one embedded `LocalServer` started
//! for this binary. Without Spark the tests skip, unless `TAURO_REQUIRE_SPARK=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "spark/common.rs"]
mod common;
#[path = "spark/engine.rs"]
mod engine;
#[path = "spark/formats.rs"]
mod formats;
#[path = "spark/kafka.rs"]
mod kafka;
#[path = "spark/local.rs"]
mod local;
#[path = "spark/modes.rs"]
mod modes;
