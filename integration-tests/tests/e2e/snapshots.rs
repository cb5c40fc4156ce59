//! What a person sees: `list`, `graph` and error output of the real binary on the example
//! project, compared with reviewed snapshots (temp paths redacted).

use integration_tests::{Project, tauro, workspace_root};

fn example() -> String {
    workspace_root()
        .join("examples/daily_etl")
        .display()
        .to_string()
}

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]");
    settings.add_filter(
        &regex_escape(&workspace_root().display().to_string()),
        "[ROOT]",
    );
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

#[test]
fn list_pipelines() {
    let run = tauro(&["list", "--project", &example()], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    settings().bind(|| insta::assert_snapshot!("list_pipelines", run.stdout));
}

#[test]
fn list_nodes_in_execution_order() {
    let run = tauro(
        &["list", "--project", &example(), "--pipeline", "daily_etl"],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    settings().bind(|| insta::assert_snapshot!("list_daily_etl", run.stdout));
}

#[test]
fn graph_mermaid_and_dot() {
    let mermaid = tauro(&["graph", "--project", &example(), "-p", "daily_etl"], &[]);
    let dot = tauro(
        &[
            "graph",
            "--project",
            &example(),
            "-p",
            "daily_etl",
            "--format",
            "dot",
        ],
        &[],
    );
    assert_eq!(mermaid.code, 0, "{mermaid:?}");
    assert_eq!(dot.code, 0, "{dot:?}");
    settings().bind(|| {
        insta::assert_snapshot!("graph_mermaid", mermaid.stdout);
        insta::assert_snapshot!("graph_dot", dot.stdout);
    });
}

#[test]
fn config_errors_render_with_location_and_hint() {
    let nodes = "a:\n  input: [src]\n  output: [dst]\n  sql: SELECT * FROM src\n  dependecies: [b]\n\
                 b:\n  output: [dst2]\n  function: pasthrough\n";
    let p = Project::new(
        "project_name: t\ninput_path: data\noutput_path: out\n",
        "p:\n  nodes: [a, b, c]\n",
        nodes,
        "src:\n  format: csvv\n  filepath: src.csv\n",
        "dst:\n  format: parquet\n  filepath: dst\n  write_mode: apend\n",
    );
    let run = tauro(&["validate", "--project", &p.arg()], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    let stderr = run.stderr.replace(&p.arg(), "[PROJECT]");
    settings().bind(|| insta::assert_snapshot!("config_errors", stderr));
}
