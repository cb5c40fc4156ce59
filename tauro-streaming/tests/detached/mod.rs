//! Detached (`--mode async`) streaming queries: started by one engine, found and stopped
//! by another through the project's stream registry.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tauro_exec::{Executor, NodeRegistry, SparkNodeRunner};
use tauro_io::{EngineOptions, SparkEngine};
use tauro_streaming::{HybridRunner, StreamRegistry, stream_status, stream_stop};

use super::{add_file, engine, project, wait_for_rows};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_queries_outlive_their_engine_and_are_stopped_by_another() {
    let Some(first) = engine().await else { return };
    let remote = std::env::var("TAURO_SPARK_REMOTE").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut ctx = project(
        dir,
        "det",
        json!({"type": "processing_time", "interval": "1 second"}),
    );
    ctx.project_dir = dir.to_path_buf();
    add_file(dir, "a.json", 0, 3);

    let executor = Executor::new(SparkNodeRunner::new(
        first.clone(),
        NodeRegistry::with_builtins(),
    ));
    let report = HybridRunner::new(Arc::new(ctx.clone()), "det", first.clone(), executor)
        .with_detach(true)
        .run()
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(report.stopped_by.as_deref(), Some("detached"));
    let query_id = report.streams[0].query_id.clone().unwrap();
    let entries = StreamRegistry::for_context(&ctx).entries("det").unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].query_id, query_id);
    assert!(!entries[0].remote.contains("sc://") && !entries[0].remote.contains(';'));
    drop(report);
    drop(first);

    // Another engine (as another process would) finds the query still running.
    let second = SparkEngine::connect(&remote, EngineOptions::default())
        .await
        .unwrap();
    let states = stream_status(&ctx, &second, "det").await.unwrap();
    assert_eq!(states.len(), 1);
    assert!(states[0].found && states[0].active, "{states:?}");
    add_file(dir, "b.json", 3, 2);
    assert_eq!(wait_for_rows(&second, dir, 5).await, (5, 5));
    let as_json = serde_json::to_value(&states[0]).unwrap();
    assert_eq!(as_json["query_id"], json!(query_id));

    // A fresh session does not see it; stop stops it and cleans the registry.
    let other = second.new_session().await.unwrap();
    assert!(other.query(&query_id).await.unwrap().is_none());
    let stopped = stream_stop(&ctx, &second, "det", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(stopped.len(), 1);
    assert!(stopped[0].stopped && !stopped[0].active, "{stopped:?}");
    assert!(
        StreamRegistry::for_context(&ctx)
            .entries("det")
            .unwrap()
            .is_empty()
    );
    let session = second.attach_session(&entries[0].session_id).await.unwrap();
    assert!(session.active_queries().await.unwrap().is_empty());
    assert!(
        stream_status(&ctx, &second, "det")
            .await
            .unwrap()
            .is_empty()
    );
}
