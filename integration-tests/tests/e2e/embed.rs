//! Embedding Tauro in a Rust program, as the README shows: an in-memory project, a custom
//! node function, the real Spark runner and the executor.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use integration_tests::spark_remote;
use serde_json::json;
use tauro_config::{Context, Sources};
use tauro_exec::{
    Executor, NodeContext, NodeOutput, NodeRegistry, NodeSelection, NodeStatus, RunStatus,
    SparkNodeRunner,
};
use tauro_io::{EngineOptions, Frame, SparkEngine};

fn project(out: &std::path::Path) -> Context {
    let sources = Sources::new(
        json!({"project_name": "embedded", "input_path": ".", "output_path": out,
               "max_retries": 2, "retry_delay": 0.1}),
        json!({"orders": {"requires_dates": false, "nodes": ["make", "flaky_big", "count"]}}),
        json!({
            "make": {"output": ["raw"],
                     "sql": "SELECT id, id % 5 AS quantity FROM range(100)"},
            "flaky_big": {"input": ["raw"], "output": ["big"], "function": "big_orders",
                          "params": {"min_quantity": 3}},
            "count": {"input": ["big"], "output": ["summary"],
                      "sql": "SELECT count(*) AS n FROM big"}
        }),
        json!({}),
        json!({
            "raw": {"format": "parquet", "filepath": "raw"},
            "big": {"format": "parquet", "filepath": "big"},
            "summary": {"format": "json", "filepath": "summary"}
        }),
    )
    .with_project_dir(out);
    Context::from_sources(sources, "base").expect("valid in-memory project")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_function_retries_then_succeeds_on_spark() {
    let Some(remote) = tokio::task::spawn_blocking(spark_remote).await.unwrap() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let ctx = Arc::new(project(out.path()));
    let engine = SparkEngine::connect(&remote, EngineOptions::default())
        .await
        .unwrap();

    // Fails on its first attempt (a transient error), then filters its input.
    let calls = Arc::new(AtomicU32::new(0));
    let mut registry = NodeRegistry::with_builtins();
    let seen = Arc::clone(&calls);
    registry
        .register("big_orders", move |ctx: NodeContext, inputs: Vec<Frame>| {
            let seen = Arc::clone(&seen);
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                if ctx.attempt() == 1 {
                    return Err(tauro_exec::Error::function("transient: source not ready"));
                }
                let min: i64 = ctx.required_param("min_quantity")?;
                let orders = inputs.into_iter().next().expect("one input");
                Ok(NodeOutput::frame(
                    orders.filter(&format!("quantity >= {min}")),
                ))
            }
        })
        .unwrap();

    let report = Executor::new(SparkNodeRunner::new(engine.clone(), registry))
        .run(Arc::clone(&ctx), "orders", None, &NodeSelection::All)
        .await
        .unwrap();
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    let flaky = report.node("flaky_big").unwrap();
    assert_eq!(flaky.status, NodeStatus::Completed);
    assert_eq!(flaky.attempts, 2);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // quantity = id % 5 over 0..100: values 3 and 4 → 40 rows.
    assert_eq!(flaky.rows_written, Some(40));

    let session = engine.new_session().await.unwrap();
    let summary = session
        .sql(&format!(
            "SELECT n FROM json.`{}`",
            out.path().join("summary").display()
        ))
        .await
        .unwrap()
        .collect_json(1)
        .await
        .unwrap();
    assert_eq!(summary[0]["n"], 40);
}
