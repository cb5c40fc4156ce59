//! The ML example (`examples/ml`, pipeline `churn_model`) through the real binary on the real
//! Spark server: metrics, hyperparameters, model versions and the `experiment` command.

use std::path::{Path, PathBuf};

use integration_tests::{Run, copy_dir, spark_remote, tauro, workspace_root};
use serde_json::{Value, json};

const METRICS: [&str; 5] = ["f1", "accuracy", "precision", "recall", "auc"];

/// A private copy of the example under `dir` (its `.tauro/` state belongs to the test).
fn example_copy(dir: &Path, name: &str) -> PathBuf {
    let project = dir.join(name);
    copy_dir(&workspace_root().join("examples/ml"), &project);
    project
}

/// `tauro-cli [--output json] <command> --project P --pipeline churn_model --remote R <extra>`,
/// with the example's outputs under `<project>/../out-<project name>`.
fn cli(remote: &str, project: &Path, command: &str, json: bool, extra: &[&str]) -> Run {
    let out = project.with_file_name(format!(
        "out-{}",
        project.file_name().unwrap().to_string_lossy()
    ));
    let project = project.display().to_string();
    let mut args = if json {
        vec!["--output", "json"]
    } else {
        Vec::new()
    };
    args.extend([
        command,
        "--project",
        &project,
        "--pipeline",
        "churn_model",
        "--remote",
        remote,
    ]);
    args.extend(extra);
    tauro(&args, &[("ML_EXAMPLE_OUTPUT", &out.display().to_string())])
}

/// A successful `exec --output json`: its report.
fn exec_json(remote: &str, project: &Path, extra: &[&str]) -> Value {
    let run = cli(remote, project, "exec", true, extra);
    assert_eq!(run.code, 0, "exec failed:\n{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["status"], "succeeded", "{report}");
    report
}

/// A successful `experiment --output json`: its document.
fn experiment_json(remote: &str, project: &Path, extra: &[&str]) -> Value {
    let run = cli(remote, project, "experiment", true, extra);
    assert_eq!(
        run.code, 0,
        "experiment failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    run.json()
}

fn node<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("node {name} missing from {report}"))
}

fn f1(report: &Value) -> f64 {
    report["ml"]["metrics"]["f1"]
        .as_f64()
        .unwrap_or_else(|| panic!("no f1 in {}", report["ml"]))
}

/// The versions in the project's model registry, oldest registration first.
fn registered(project: &Path) -> Vec<Value> {
    let path = project.join(".tauro/models/churn_model.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("model registry {} unreadable: {e}", path.display()));
    let record: Value = serde_json::from_str(&text).unwrap();
    record["versions"].as_array().unwrap().clone()
}

#[test]
fn ml_example_runs_and_records_metrics_and_model_version() {
    let Some(remote) = spark_remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project = example_copy(dir.path(), "project");

    let report = exec_json(&remote, &project, &["--full"]);
    let ml = &report["ml"];
    assert_eq!(ml["model_name"], "churn_model", "{ml}");
    assert_eq!(ml["model_version"], "v1", "{ml}");
    for name in METRICS {
        let value = ml["metrics"][name]
            .as_f64()
            .unwrap_or_else(|| panic!("metric {name} missing: {ml}"));
        assert!((0.0..=1.0).contains(&value), "{name}={value} out of [0, 1]");
    }
    // The README's figure for the defaults is 0.548.
    let f1 = f1(&report);
    assert!((0.5..0.6).contains(&f1), "default f1 {f1} is not ~0.548");

    // The metrics come from the node that declares them.
    assert_eq!(node(&report, "evaluate")["metrics"], ml["metrics"]);
    // `train` gets its own defaults merged with the pipeline's threshold.
    assert_eq!(
        node(&report, "train")["ml"]["hyperparams"],
        json!({"num_buckets": 8, "smoothing": 1.0, "feature": "tenure_months", "threshold": 0.5}),
    );
    assert_eq!(node(&report, "train")["ml"]["model_version"], "v1");

    // The successful run registers v1 with its metrics.
    let versions = registered(&project);
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(versions[0]["version"], "v1");
    assert_eq!(versions[0]["run_id"], report["run_id"]);
    assert_eq!(versions[0]["metrics"]["f1"].as_f64(), Some(f1));
}

#[test]
fn overrides_win_and_change_the_metric() {
    let Some(remote) = spark_remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project = example_copy(dir.path(), "project");

    // Nothing is registered yet: `latest` has nothing to resolve to.
    let none = cli(
        &remote,
        &project,
        "exec",
        false,
        &["--model-version", "latest"],
    );
    assert_eq!(none.code, 2, "{none:?}");
    assert!(
        none.stderr.contains("no registered version"),
        "{}",
        none.stderr
    );

    // A mistyped override fails before any node runs.
    let mistyped = cli(
        &remote,
        &project,
        "exec",
        false,
        &["--param", "num_buckets=many"],
    );
    assert_eq!(mistyped.code, 2, "{mistyped:?}");
    assert!(
        mistyped.stderr.contains("declares it as an integer"),
        "{}",
        mistyped.stderr
    );

    // The defaults, in the human summary.
    let default = cli(&remote, &project, "exec", false, &[]);
    assert_eq!(default.code, 0, "{default:?}");
    assert!(
        default.stdout.contains(
            "model churn_model version v1; hyperparams: num_buckets=8, smoothing=1.0, \
             feature=tenure_months, threshold=0.5\n"
        ),
        "{}",
        default.stdout
    );
    let default_f1: f64 = default
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("metrics: f1="))
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no metrics line:\n{}", default.stdout))
        .parse()
        .unwrap();

    // Command-line values beat the pipeline's; the lower threshold finds more churners.
    let tuned = exec_json(
        &remote,
        &project,
        &["--param", "threshold=0.3", "--model-version", "v2"],
    );
    assert_eq!(tuned["ml"]["model_version"], "v2", "{}", tuned["ml"]);
    assert_eq!(tuned["ml"]["hyperparams"]["threshold"], 0.3);
    assert_eq!(node(&tuned, "score")["ml"]["hyperparams"]["threshold"], 0.3);
    let tuned_f1 = f1(&tuned);
    assert!(
        tuned_f1 > default_f1,
        "threshold 0.3 gave f1 {tuned_f1}, defaults {default_f1}"
    );
    // Both versions of the model are kept side by side.
    let models = project
        .with_file_name("out-project")
        .join("models/churn_model");
    for version in ["v1", "v2"] {
        assert!(
            models.join(format!("model_version={version}")).is_dir(),
            "no partition for {version} under {}",
            models.display()
        );
    }

    // `latest` is the version registered last; a misspelt name is warned about, not fatal.
    let run = cli(
        &remote,
        &project,
        "exec",
        true,
        &["--model-version", "latest", "--param", "treshold=0.3"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("warning: hyperparameter 'treshold' is not declared"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean 'threshold'?"),
        "{}",
        run.stderr
    );
    let latest = run.json();
    assert_eq!(latest["status"], "succeeded", "{latest}");
    assert_eq!(latest["ml"]["model_version"], "v2", "{}", latest["ml"]);
    let versions: Vec<Value> = registered(&project)
        .iter()
        .map(|v| v["version"].clone())
        .collect();
    assert_eq!(versions, [json!("v1"), json!("v2")]);
}

#[test]
fn experiment_improves_on_its_first_trial_and_is_reproducible() {
    let Some(remote) = spark_remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let first = example_copy(dir.path(), "first");
    let second = example_copy(dir.path(), "second");

    let a = experiment_json(&remote, &first, &[]);
    let b = experiment_json(&remote, &second, &[]);
    for doc in [&a, &b] {
        assert_eq!(doc["seed"], 42);
        assert_eq!(doc["metric"], "f1");
        assert_eq!(doc["direction"], "maximize");
        let trials = doc["trials"].as_array().unwrap();
        assert_eq!(trials.len(), 8, "{doc}");
        for (i, trial) in trials.iter().enumerate() {
            assert_eq!(trial["number"], i + 1);
            assert_eq!(trial["status"], "completed", "{trial}");
            // 3 initial trials, then the Gaussian-process model proposes.
            assert_eq!(trial["kind"], if i < 3 { "random" } else { "model" });
        }
        let best = doc["best"]["objective"].as_f64().unwrap();
        let first_trial = trials[0]["objective"].as_f64().unwrap();
        assert!(
            best > first_trial,
            "best {best} does not beat the first trial {first_trial}"
        );
        let max = trials
            .iter()
            .map(|t| t["objective"].as_f64().unwrap())
            .fold(f64::MIN, f64::max);
        assert_eq!(best, max, "best is not the highest f1");
    }

    // The same seed proposes the same values and measures the same objectives.
    for (x, y) in a["trials"]
        .as_array()
        .unwrap()
        .iter()
        .zip(b["trials"].as_array().unwrap())
    {
        assert_eq!(x["values"], y["values"], "trial {}", x["number"]);
        assert_eq!(x["objective"], y["objective"], "trial {}", x["number"]);
    }

    // The document is also kept in the project.
    let id = a["experiment_id"].as_str().unwrap();
    let path = first.join(format!(".tauro/experiments/churn_model-{id}.json"));
    let kept: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} unreadable: {e}", path.display())),
    )
    .unwrap();
    assert_eq!(kept, a);

    // Another seed starts elsewhere. Three trials keep the initial design the same size
    // (its Latin hypercube is cut into `min(initial_trials, trials)` slices).
    let other = experiment_json(&remote, &first, &["--seed", "7", "--trials", "3"]);
    assert_eq!(other["seed"], 7);
    assert_ne!(
        other["trials"][0]["values"], a["trials"][0]["values"],
        "seed 7 proposed the same first trial as seed 42"
    );
}
