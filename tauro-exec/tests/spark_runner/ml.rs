//! ML nodes on real Spark: hyperparameter merge order seen by SQL (`${tauro.ml.*}`) and by a
//! Rust function (`MlContext`, session conf), model version resolution, metrics (a module of
//! the `spark_runner` test binary: `super::` holds the shared helpers).

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use tauro_config::{Context, Sources};
use tauro_exec::{
    Error, Executor, FileModelRegistry, MlOverrides, ModelRegistry, NodeContext, NodeOutput,
    NodeRegistry, NodeSelection, NodeStatus, RunReport, RunStatus, SparkNodeRunner,
};
use tauro_io::{Frame, SparkEngine};

use super::engine;

/// A project in `dir`: global defaults g..o = 1, node defaults n..o = 2, pipeline p..o = 3.
fn project(dir: &Path, pipeline_version: Option<&str>) -> Context {
    let out =
        |name: &str| json!({"format": "parquet", "filepath": dir.join(name).display().to_string()});
    let mut pipeline = json!({
        "type": "ml",
        "requires_dates": false,
        "model_name": "demo",
        "nodes": ["sql_ml", "fn_ml", "wide", "long"],
        "hyperparams": {"p": 3, "o": 3},
    });
    if let Some(v) = pipeline_version {
        pipeline["model_version"] = json!(v);
    }
    let sources = Sources::new(
        json!({
            "input_path": dir.display().to_string(),
            "output_path": dir.display().to_string(),
            "default_hyperparams": {"g": 1, "n": 1, "p": 1, "o": 1},
            "default_model_version": "v0",
        }),
        json!({"ml": pipeline}),
        json!({
            "sql_ml": {
                "output": ["seen"],
                "hyperparams": {"n": 2, "p": 2, "o": 2},
                "sql": "SELECT ${tauro.ml.g} AS g, ${tauro.ml.n} AS n, ${tauro.ml.p} AS p, \
                        ${tauro.ml.o} AS o, '${tauro.ml.model_version}' AS version, \
                        '${tauro.ml.model_name}' AS model"
            },
            "fn_ml": {
                "function": "read_ml",
                "hyperparams": {"n": 2, "p": 2, "o": 2},
                "metrics": ["g", "n", "p", "o", "conf_o"]
            },
            "wide": {
                "sql": "SELECT 0.75D AS auc, CAST(${tauro.ml.o} AS DOUBLE) / 10 AS f1",
                "metrics": ["auc", "f1"]
            },
            "long": {
                "output": ["long_metrics"],
                "sql": "SELECT 'loss' AS metric, 0.25D AS value UNION ALL SELECT 'rmse', 0.5D",
                "metrics": ["loss"]
            }
        }),
        json!({}),
        json!({"seen": out("seen"), "long_metrics": out("long_metrics")}),
    );
    let mut sources = sources;
    sources.project_dir = dir.to_path_buf();
    Context::from_sources(sources, "base").unwrap()
}

/// The function of `fn_ml`: records each hyperparameter it sees through its `MlContext`, and
/// `o` as read back from the session conf (what `spark.conf.get` gives a SQL user).
fn registry() -> NodeRegistry {
    let mut r = NodeRegistry::with_builtins();
    r.register(
        "read_ml",
        |ctx: NodeContext, _inputs: Vec<Frame>| async move {
            let ml = ctx.ml().ok_or_else(|| Error::function("no ML context"))?;
            for name in ["g", "n", "p", "o"] {
                let v: i64 = ml
                    .hyperparam(name)?
                    .ok_or_else(|| Error::function(format!("{name} missing")))?;
                ctx.record_metric(name, v as f64);
            }
            let conf = ctx
                .session()
                .get_conf("tauro.ml.o")
                .await?
                .unwrap_or_default();
            ctx.record_metric("conf_o", conf.parse().unwrap_or(f64::NAN));
            if ml.model_name() != "demo" || ml.metrics().len() != 5 || ml.run_id().is_none() {
                return Err(Error::function(format!(
                    "unexpected ML context: {} {:?} {:?}",
                    ml.model_name(),
                    ml.metrics(),
                    ml.run_id()
                )));
            }
            Ok(NodeOutput::Nothing)
        },
    )
    .unwrap();
    r
}

async fn run(engine: &SparkEngine, ctx: Context, overrides: MlOverrides, dir: &Path) -> RunReport {
    let runner = SparkNodeRunner::new(engine.clone(), registry());
    Executor::new(runner)
        .with_ml(overrides)
        .with_model_registry(Arc::new(FileModelRegistry::new(dir.join("models"))))
        .run(Arc::new(ctx), "ml", None, &NodeSelection::All)
        .await
        .unwrap()
}

async fn seen(engine: &SparkEngine, dir: &Path) -> serde_json::Value {
    let query = format!("SELECT * FROM parquet.`{}`", dir.join("seen").display());
    super::query_rows(engine, &query)
        .await
        .into_iter()
        .next()
        .unwrap()
}

#[tokio::test]
async fn hyperparameters_merge_node_then_pipeline_then_override_in_sql_and_rust() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let ctx = project(dir.path(), Some("v3"));
    let report = run(
        &engine,
        ctx,
        MlOverrides::new().with_hyperparam("o", json!(4)),
        dir.path(),
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");

    // SQL: `${tauro.ml.*}` from the session conf.
    let row = seen(&engine, dir.path()).await;
    assert_eq!(
        (&row["g"], &row["n"], &row["p"], &row["o"]),
        (&json!(1), &json!(2), &json!(3), &json!(4)),
        "{row}"
    );
    assert_eq!(row["version"], "v3");
    assert_eq!(row["model"], "demo");

    // Rust: the MlContext and the session conf.
    let f = report.node("fn_ml").unwrap();
    let got: Vec<f64> = ["g", "n", "p", "o", "conf_o"]
        .iter()
        .map(|k| f.metrics[*k])
        .collect();
    assert_eq!(got, [1.0, 2.0, 3.0, 4.0, 4.0]);

    // Execution metadata per node.
    let record = f.ml.as_ref().unwrap();
    assert_eq!(record.model_version.as_deref(), Some("v3"));
    assert_eq!(record.hyperparams["o"], json!(4));
    assert!(f.started_at.unwrap() <= f.finished_at.unwrap());
}

#[tokio::test]
async fn metrics_are_recorded_from_wide_and_long_results_and_registered() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let report = run(
        &engine,
        project(dir.path(), None),
        MlOverrides::new(),
        dir.path(),
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    let wide = &report.node("wide").unwrap().metrics;
    assert_eq!((wide["auc"], wide["f1"]), (0.75, 0.3));
    let long = &report.node("long").unwrap().metrics;
    assert_eq!((long["loss"], long["rmse"]), (0.25, 0.5));
    let ml = report.ml.as_ref().unwrap();
    assert_eq!(ml.metrics["f1"], 0.3);
    assert_eq!(report.metric("loss"), Some(0.25));
    // The JSON report carries them.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["ml"]["metrics"]["auc"], json!(0.75));
    // No pipeline or run version: the global default; registered with the metrics.
    assert_eq!(ml.model_version.as_deref(), Some("v0"));
    let registry = FileModelRegistry::new(dir.path().join("models"));
    let latest = registry.latest("demo").unwrap().unwrap();
    assert_eq!(
        (latest.version.as_str(), latest.metrics["auc"]),
        ("v0", 0.75)
    );
}

#[tokio::test]
async fn model_version_resolves_run_then_pipeline_then_default_and_latest() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let version = |r: &RunReport| r.ml.as_ref().unwrap().model_version.clone().unwrap();

    let r = run(
        &engine,
        project(dir.path(), Some("v3")),
        MlOverrides::new(),
        dir.path(),
    )
    .await;
    assert_eq!(version(&r), "v3");
    let r = run(
        &engine,
        project(dir.path(), Some("v3")),
        MlOverrides::new().with_model_version("v7"),
        dir.path(),
    )
    .await;
    assert_eq!(version(&r), "v7");
    assert_eq!(seen(&engine, dir.path()).await["version"], "v7");
    // `latest`: the last registered version (v7), also inside SQL.
    let r = run(
        &engine,
        project(dir.path(), None),
        MlOverrides::new().with_model_version("latest"),
        dir.path(),
    )
    .await;
    assert_eq!(version(&r), "v7");
    assert_eq!(seen(&engine, dir.path()).await["version"], "v7");
}

#[tokio::test]
async fn a_declared_metric_not_produced_fails_the_node() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = project(dir.path(), None);
    ctx.nodes.get_mut("wide").unwrap().metrics = vec!["auc".into(), "precision".into()];
    let report = run(&engine, ctx, MlOverrides::new(), dir.path()).await;
    assert_eq!(report.status, RunStatus::Failed);
    let wide = report.node("wide").unwrap();
    assert_eq!(wide.status, NodeStatus::Failed);
    let error = wide.error.as_ref().unwrap();
    assert_eq!(error.class, "MISSING_METRICS");
    assert!(error.message.contains("precision"), "{}", error.message);
}
