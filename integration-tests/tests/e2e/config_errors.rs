//! Configuration mistakes through the CLI: exit code 2, the message, and `file:line`.

use integration_tests::{Project, tauro};

const GLOBAL: &str =
    "project_name: t\ninput_path: data\noutput_path: out\nstart_date: \"2025-01-01\"\n";
const INPUT: &str = "src:\n  format: csv\n  filepath: src.csv\n";
const OUTPUT: &str = "dst:\n  format: parquet\n  filepath: dst\n";

fn validate(project: &Project) -> integration_tests::Run {
    tauro(&["validate", "--project", &project.arg()], &[])
}

#[test]
fn unknown_node_key_names_file_line_and_suggestion() {
    let nodes = "a:\n  input: [src]\n  output: [dst]\n  sql: SELECT * FROM src\n  tagz: [x]\n";
    let p = Project::new(GLOBAL, "p:\n  nodes: [a]\n", nodes, INPUT, OUTPUT);
    let run = validate(&p);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("nodes.yaml:5"), "{}", run.stderr);
    assert!(run.stderr.contains("tagz"), "{}", run.stderr);
    assert!(
        run.stderr.contains("tags"),
        "did-you-mean missing: {}",
        run.stderr
    );
}

#[test]
fn cycle_prints_its_path_and_location() {
    let nodes = "a:\n  output: [dst]\n  sql: SELECT 1 AS x\n  dependencies: b\n\
                 b:\n  sql: SELECT 1 AS x\n  dependencies: [a]\n";
    let p = Project::new(GLOBAL, "p:\n  nodes: [a, b]\n", nodes, INPUT, OUTPUT);
    let run = validate(&p);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("a -> b -> a") || run.stderr.contains("b -> a -> b"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nodes.yaml:"), "{}", run.stderr);
}

#[test]
fn pipeline_naming_a_missing_node() {
    let nodes = "a:\n  output: [dst]\n  sql: SELECT 1 AS x\n";
    let p = Project::new(GLOBAL, "p:\n  nodes: [a, ghost]\n", nodes, INPUT, OUTPUT);
    let run = validate(&p);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("ghost"), "{}", run.stderr);
    assert!(run.stderr.contains("pipelines.yaml:2"), "{}", run.stderr);
}

#[test]
fn unknown_write_mode_is_an_error_not_ignored() {
    let nodes = "a:\n  output: [dst]\n  sql: SELECT 1 AS x\n";
    let output = "dst:\n  format: parquet\n  filepath: dst\n  write_mode: overwrit\n";
    let p = Project::new(GLOBAL, "p:\n  nodes: [a]\n", nodes, INPUT, output);
    let run = validate(&p);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("output.yaml:4"), "{}", run.stderr);
    assert!(run.stderr.contains("overwrite"), "{}", run.stderr);
}

#[test]
fn unregistered_function_lists_the_registered_ones() {
    let nodes = "a:\n  output: [dst]\n  function: pasthrough\n";
    let p = Project::new(GLOBAL, "p:\n  nodes: [a]\n", nodes, INPUT, OUTPUT);
    let run = validate(&p);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("pasthrough"), "{}", run.stderr);
    assert!(run.stderr.contains("passthrough"), "{}", run.stderr);
    assert!(run.stderr.contains("nodes.yaml:"), "{}", run.stderr);
}

#[test]
fn exec_with_bad_dates_fails_before_spark() {
    let nodes = "a:\n  output: [dst]\n  sql: SELECT 1 AS x\n";
    let p = Project::new(GLOBAL, "p:\n  nodes: [a]\n", nodes, INPUT, OUTPUT);
    let project = p.arg();
    let bad = tauro(
        &[
            "exec",
            "--project",
            &project,
            "-p",
            "p",
            "--start",
            "2025-13-01",
        ],
        &[],
    );
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("2025-13-01"), "{}", bad.stderr);
    let reversed = tauro(
        &[
            "exec",
            "--project",
            &project,
            "-p",
            "p",
            "--start",
            "2025-02-01",
            "--end",
            "2025-01-01",
        ],
        &[],
    );
    assert_eq!(reversed.code, 2, "{reversed:?}");
    assert!(reversed.stderr.starts_with("error:"), "{}", reversed.stderr);
}

#[test]
fn unknown_environment_and_unset_variable() {
    let nodes = "a:\n  output: [dst]\n  sql: SELECT 1 AS x\n";
    let output = "dst:\n  format: parquet\n  filepath: ${TAURO_TEST_UNSET_DIR}/dst\n";
    let p = Project::new(GLOBAL, "p:\n  nodes: [a]\n", nodes, INPUT, output);
    let run = validate(&p);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("TAURO_TEST_UNSET_DIR"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("output.yaml:3"), "{}", run.stderr);

    let env = tauro(
        &["validate", "--project", &p.arg(), "--env", "staging"],
        &[],
    );
    assert_eq!(env.code, 2, "{env:?}");
    assert!(env.stderr.contains("staging"), "{}", env.stderr);
}

#[test]
fn secrets_never_reach_the_terminal() {
    let global = format!(
        "{GLOBAL}spark:\n  remote: \"sc://127.0.0.1:1/;token=s3cr3t-value\"\n  connect_timeout_seconds: 1\n"
    );
    let nodes = "a:\n  output: [dst]\n  sql: SELECT 1 AS x\n";
    let p = Project::new(&global, "p:\n  nodes: [a]\n", nodes, INPUT, OUTPUT);
    let run = tauro(&["exec", "--project", &p.arg(), "-p", "p"], &[]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(!run.stderr.contains("s3cr3t-value"), "{}", run.stderr);
    assert!(!run.stdout.contains("s3cr3t-value"), "{}", run.stdout);
}

#[test]
fn unreachable_server_is_reported_within_the_deadline() {
    let nodes = "a:\n  output: [dst]\n  sql: SELECT 1 AS x\n";
    let p = Project::new(GLOBAL, "p:\n  nodes: [a]\n", nodes, INPUT, OUTPUT);
    let run = tauro(
        &[
            "exec",
            "--project",
            &p.arg(),
            "-p",
            "p",
            "--remote",
            "sc://127.0.0.1:1",
        ],
        &[],
    );
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("127.0.0.1:1"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    // The default connect timeout is 15 s; allow for process start-up on a busy machine.
    assert!(run.elapsed.as_secs() < 25, "took {:?}", run.elapsed);
}

/// An ML project whose pipeline `p` searches `k` in `dimension` for `metric` over `trials`
/// trials: `metric` is on line 5 of pipelines.yaml, `trials` on 6, the dimension on 8.
fn ml_project(metric: &str, trials: &str, dimension: &str) -> Project {
    let pipelines = format!(
        "p:\n  type: ml\n  model_name: m\n  experiment:\n    metric: {metric}\n    trials: {trials}\n    \
         space:\n      k: {dimension}\n  nodes: [train, evaluate]\n"
    );
    let nodes = "train:\n  input: [src]\n  output: [dst]\n  sql: SELECT 1 AS k\n  hyperparams:\n    k: 3\n\
                 evaluate:\n  input: [dst]\n  output: [scores]\n  sql: SELECT 0.5 AS f1, 0.5 AS auc\n  \
                 metrics: [f1, auc]\n";
    let output = format!("{OUTPUT}scores:\n  format: parquet\n  filepath: scores\n");
    Project::new(GLOBAL, &pipelines, nodes, INPUT, &output)
}

const INTEGER_RANGE: &str = "{type: integer, low: 1, high: 9}";

#[test]
fn experiment_with_no_trials_fails_before_spark() {
    let p = ml_project("f1", "0", INTEGER_RANGE);
    // Any command checks the configuration first: the unreachable server is never asked.
    let run = tauro(
        &[
            "experiment",
            "--project",
            &p.arg(),
            "--pipeline",
            "p",
            "--remote",
            "sc://127.0.0.1:1",
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("pipelines.yaml:6"), "{}", run.stderr);
    assert!(
        run.stderr.contains("`trials` must be a whole number >= 1"),
        "{}",
        run.stderr
    );
}

#[test]
fn experiment_metric_that_no_node_declares() {
    let p = ml_project("aucc", "4", INTEGER_RANGE);
    let run = validate(&p);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("pipelines.yaml:5"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("'aucc', which no node of the pipeline produces"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("declared: f1, auc"), "{}", run.stderr);
    assert!(run.stderr.contains("did you mean 'auc'?"), "{}", run.stderr);
}

#[test]
fn experiment_search_space_mistakes() {
    for (dimension, message) in [
        (
            "{type: integer, low: 5, high: 2}",
            "range is inverted (low 5, high 2)",
        ),
        (
            "{type: log_uniform, low: 0, high: 9}",
            "log-uniform range must be positive (low 0)",
        ),
        (
            "{type: categorical, values: []}",
            "has no values to choose from",
        ),
    ] {
        let p = ml_project("f1", "4", dimension);
        let run = validate(&p);
        assert_eq!(run.code, 2, "{dimension}: {run:?}");
        assert!(
            run.stderr.contains("pipelines.yaml:8"),
            "{dimension}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("dimension 'k'"), "{}", run.stderr);
        assert!(run.stderr.contains(message), "{dimension}: {}", run.stderr);
    }
}
