//! Every configuration mistake is reported with its message and `file:line`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Project;
use tauro_config::Error;

fn one(p: &Project) -> String {
    let errors = p.errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn unknown_keys_suggest_the_right_one() {
    let p = Project::new();
    p.write(
        "config/pipelines.yaml",
        "p:\n  nodes: [n]\n  descripton: x\n",
    )
    .write(
        "config/nodes.yaml",
        "n:\n  input: [raw]\n  ouput: [clean]\n  sql: SELECT 1\n  colour: red\n",
    )
    .write(
        "config/input.yaml",
        "raw:\n  format: csv\n  filepath: raw.csv\n  optons: {}\n",
    )
    .write(
        "config/output.yaml",
        "clean:\n  fromat: parquet\n  format: parquet\n  filepath: c\n",
    );
    assert_eq!(
        p.errors(),
        vec![
            "config/pipelines.yaml:3: unknown key 'descripton' in pipeline 'p'; did you mean 'description'?",
            "config/nodes.yaml:3: unknown key 'ouput' in node 'n'; did you mean 'output'?",
            "config/nodes.yaml:5: unknown key 'colour' in node 'n'",
            "config/input.yaml:4: unknown key 'optons' in input 'raw'; did you mean 'options'?",
            "config/output.yaml:2: unknown key 'fromat' in output 'clean'; did you mean 'format'?",
        ]
    );
}

#[test]
fn pipelines_naming_missing_nodes() {
    let p = Project::new();
    p.write(
        "config/nodes.yaml",
        "clean_orders:\n  input: [raw]\n  output: [clean]\n  sql: SELECT 1\n",
    )
    .write(
        "config/pipelines.yaml",
        "p:\n  nodes:\n    - clean_orders\n    - {clean_ordrs: {}}\n",
    );
    assert_eq!(
        one(&p),
        "config/pipelines.yaml:4: pipeline 'p' names node 'clean_ordrs', which is not defined in the nodes document; did you mean 'clean_orders'?"
    );
}

#[test]
fn empty_pipelines() {
    let p = Project::new();
    p.write(
        "config/pipelines.yaml",
        "p:\n  nodes: [n]\nq:\n  nodes: []\nr:\n  type: batch\n",
    );
    assert_eq!(
        p.errors(),
        vec![
            "config/pipelines.yaml:4: pipeline 'q' has no nodes",
            "config/pipelines.yaml:5: pipeline 'r' has no nodes",
        ]
    );
}

#[test]
fn nodes_naming_missing_inputs_and_outputs() {
    let p = Project::new();
    p.write(
        "config/nodes.yaml",
        "n:\n  input: [raw, rwa]\n  output:\n    - clean\n    - claen\n  sql: SELECT 1\n",
    );
    assert_eq!(
        p.errors(),
        vec![
            "config/nodes.yaml:2: node 'n' reads 'rwa', which is neither an input nor an output dataset; did you mean 'raw'?",
            "config/nodes.yaml:5: node 'n' writes 'claen', which is not defined in the output document; did you mean 'clean'?",
        ]
    );
}

#[test]
fn a_node_may_read_another_nodes_output() {
    let p = Project::new();
    p.write(
        "config/nodes.yaml",
        "n:\n  input: raw\n  output: clean\n  sql: SELECT 1\nm:\n  input: [clean]\n  output: [clean]\n  function: passthrough\n",
    );
    let ctx = p.load();
    assert_eq!(ctx.nodes["m"].input, vec!["clean"]);
    assert_eq!(ctx.nodes["n"].input, vec!["raw"]);
}

#[test]
fn exactly_one_of_sql_sql_file_function() {
    let p = Project::new();
    p.write(
        "config/nodes.yaml",
        "n:\n  input: [raw]\n  output: [clean]\n  sql: SELECT 1\n  function: f\nm:\n  output: [clean]\n",
    );
    assert_eq!(
        p.errors(),
        vec![
            "config/nodes.yaml:5: node 'n' sets both `sql` and `function`; set exactly one of `sql`, `sql_file` or `function`",
            "config/nodes.yaml:6: node 'm' must set exactly one of `sql`, `sql_file` or `function`; it sets none",
        ]
    );
}

#[test]
fn missing_sql_file() {
    let p = Project::new();
    p.write(
        "config/nodes.yaml",
        "n:\n  input: [raw]\n  output: [clean]\n  sql_file: sql/missing.sql\n",
    );
    let msg = one(&p);
    assert!(
        msg.starts_with("config/nodes.yaml:4: node 'n': `sql_file`: cannot read sql/missing.sql: "),
        "{msg}"
    );
}

#[test]
fn invalid_dates() {
    let p = Project::new();
    p.write(
        "config/global_settings.yaml",
        "input_path: data\nstart_date: 2025-02-30\nend_date: '2025-1-5'\n",
    );
    assert_eq!(
        p.errors(),
        vec![
            "config/global_settings.yaml:2: global settings: `start_date` must be a date YYYY-MM-DD, found '2025-02-30'",
            "config/global_settings.yaml:3: global settings: `end_date` must be a date YYYY-MM-DD, found '2025-1-5'",
        ]
    );
}

#[test]
fn end_date_before_start_date() {
    let p = Project::new();
    p.write(
        "config/global_settings.yaml",
        "start_date: '2025-01-07'\nend_date: '2025-01-01'\n",
    );
    assert_eq!(
        one(&p),
        "config/global_settings.yaml:2: global settings: `end_date` 2025-01-01 is before `start_date` 2025-01-07"
    );
}

#[test]
fn unknown_formats_and_write_modes() {
    let p = Project::new();
    p.write("config/input.yaml", "raw:\n  format: parquett\n  filepath: raw\n")
        .write(
            "config/output.yaml",
            "clean:\n  format: delta\n  filepath: c\n  write_mode: overwrit\nother:\n  format: query\n  filepath: o\n",
        );
    assert_eq!(
        p.errors(),
        vec![
            "config/input.yaml:2: input 'raw': unknown format 'parquett'; did you mean 'parquet'? (expected one of: csv, json, parquet, orc, avro, text, delta, table, query, kafka, rate)",
            "config/output.yaml:4: output 'clean': unknown write mode 'overwrit'; did you mean 'overwrite'? (expected one of: overwrite, append, ignore, error, merge)",
            "config/output.yaml:6: output 'other': unknown format 'query' (expected one of: parquet, csv, json, orc, avro, text, delta, table, kafka, console)",
        ]
    );
}

#[test]
fn write_mode_alias_mode_is_checked_too() {
    let p = Project::new();
    p.write(
        "config/output.yaml",
        "clean:\n  format: csv\n  filepath: c\n  mode: upsert\n",
    );
    assert_eq!(
        one(&p),
        "config/output.yaml:4: output 'clean': unknown write mode 'upsert' (expected one of: overwrite, append, ignore, error, merge)"
    );
}

#[test]
fn unknown_environment() {
    let p = Project::new();
    let err = p.load_env(Some("prd")).unwrap_err();
    assert!(matches!(err, Error::UnknownEnvironment { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "unknown environment 'prd'; did you mean 'prod'? (available: base, dev, prod)"
    );
    assert_eq!(
        p.relative(&err.location().unwrap().to_string()),
        "settings_yml.json:3"
    );
    assert!(err.hint().unwrap().contains("base, dev, prod"));
}

#[test]
fn unset_variables() {
    let p = Project::new();
    p.write(
        "config/input.yaml",
        "raw:\n  format: csv\n  filepath: \"${input_path}/${RUN_REGION}/x.csv\"\n",
    );
    let err = p.load_env(None).unwrap_err();
    assert_eq!(
        p.relative(&err.to_string()),
        "config/input.yaml:3: unset variable '${RUN_REGION}': no environment variable or global setting has that name"
    );
    assert!(err.hint().unwrap().contains("${RUN_REGION:-default}"));
}

#[test]
fn dependency_map_with_two_keys_and_unknown_dependency() {
    let p = Project::new();
    p.write(
        "config/nodes.yaml",
        "n:\n  input: [raw]\n  output: [clean]\n  sql: SELECT 1\n  dependencies:\n    - {a: {}, b: {}}\n    - m\n    - nn\n",
    );
    assert_eq!(
        p.errors(),
        vec![
            "config/nodes.yaml:6: node 'n': a dependency given as a mapping must have exactly one key (the node name), found 2: a, b",
            "config/nodes.yaml:7: node 'n' depends on 'm', which is not defined in the nodes document",
            "config/nodes.yaml:8: node 'n' depends on 'nn', which is not defined in the nodes document",
        ]
    );
}

#[test]
fn all_errors_are_collected_across_files() {
    let p = Project::new();
    p.write("config/pipelines.yaml", "p:\n  nodes: [n, x]\n")
        .write("config/input.yaml", "raw:\n  format: csv\n")
        .write(
            "config/output.yaml",
            "clean:\n  format: parquet\n  filepath: c\n  write_mode: mrege\n",
        );
    let err = p.load_env(None).unwrap_err();
    assert_eq!(err.diagnostics().len(), 3);
    assert_eq!(
        p.relative(&err.to_string()),
        "3 configuration errors:\n  \
         config/pipelines.yaml:2: pipeline 'p' names node 'x', which is not defined in the nodes document\n  \
         config/input.yaml:1: input 'raw' has format csv but no `filepath`\n  \
         config/output.yaml:4: output 'clean': unknown write mode 'mrege'; did you mean 'merge'? (expected one of: overwrite, append, ignore, error, merge)"
    );
}

#[test]
fn missing_document_points_at_the_settings_file() {
    let p = Project::new();
    std::fs::remove_file(p.path("config/nodes.yaml")).unwrap();
    let msg = one(&p);
    assert!(
        msg.starts_with("settings_yml.json:7: cannot read config/nodes.yaml: "),
        "{msg}"
    );
}

#[test]
fn env_document_problems_name_the_env_file() {
    let p = Project::new();
    p.write(
        "config/dev/global_settings.yaml",
        "max_workers: 0\nmode: lcoal\n",
    );
    assert_eq!(
        p.errors_env(Some("development")),
        vec![
            "config/dev/global_settings.yaml:1: global settings: `max_workers` must be a whole number >= 1, found '0'",
            "config/dev/global_settings.yaml:2: global settings: unknown mode 'lcoal'; did you mean 'local'? (expected one of: local, databricks, distributed)",
        ]
    );
}

#[test]
fn yaml_syntax_errors() {
    let p = Project::new();
    p.write(
        "config/nodes.yaml",
        "n:\n  input: [raw\n  output: [clean]\n",
    );
    let msg = one(&p);
    assert!(msg.starts_with("config/nodes.yaml:"), "{msg}");
    assert!(msg.contains("invalid YAML"), "{msg}");
}

#[test]
fn outputs_need_a_path() {
    let p = Project::new();
    p.write("config/output.yaml", "clean:\n  format: parquet\n");
    let err = p.load_env(None).unwrap_err();
    assert_eq!(
        p.relative(&err.to_string()),
        "config/output.yaml:1: output 'clean' has no `filepath`"
    );
    assert!(err.hint().unwrap().contains("schema.sub_folder.table"));
}

#[test]
fn inputs_need_what_their_format_reads() {
    let p = Project::new();
    p.write(
        "config/input.yaml",
        "raw:\n  format: csv\n  filepath: r\nt:\n  format: table\nq:\n  format: query\n",
    );
    assert_eq!(
        p.errors(),
        vec![
            "config/input.yaml:4: input 't' has format table but no `table`",
            "config/input.yaml:6: input 'q' has format query but no `query`",
        ]
    );
}

#[test]
fn secrets_never_appear_in_messages() {
    let p = Project::new();
    p.write(
        "config/global_settings.yaml",
        "spark:\n  remote: https://host/;token=SuperSecret1\ndb_password: [hunter2]\n",
    )
    .write(
        "config/input.yaml",
        "raw:\n  format: csv\n  filepath: r\n  options:\n    password: {x: hunter2}\n",
    );
    let err = p.load_env(None).unwrap_err();
    let text = format!("{err} {:?}", err.hint());
    assert!(!text.contains("SuperSecret1"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("spark.remote"), "{text}");
}

#[test]
fn unknown_pipeline_suggests() {
    let p = Project::new();
    let ctx = p.load();
    let err = ctx.pipeline("P").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown pipeline 'P'; did you mean 'p'? (available: p)"
    );
    let err = ctx.pipeline("zz").unwrap_err();
    assert_eq!(err.to_string(), "unknown pipeline 'zz' (available: p)");
}

#[test]
fn hostile_yaml_fails_fast() {
    let p = Project::new();
    let mut bomb = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let items = vec![format!("*a{}", i - 1); 9].join(", ");
        bomb.push_str(&format!("a{i}: &a{i} [{items}]\n"));
    }
    p.write("config/global_settings.yaml", &bomb);
    let started = std::time::Instant::now();
    let msg = one(&p);
    assert!(started.elapsed().as_secs() < 10);
    assert!(msg.starts_with("config/global_settings.yaml:"), "{msg}");
    assert!(msg.contains("invalid YAML"), "{msg}");

    let deep = format!("a: {}1{}\n", "[".repeat(5000), "]".repeat(5000));
    p.write("config/global_settings.yaml", &deep);
    assert!(one(&p).contains("invalid YAML"));

    let huge = format!("a: '{}'\n", "x".repeat(17 * 1024 * 1024));
    p.write("config/global_settings.yaml", &huge);
    let msg = one(&p);
    assert!(msg.contains("larger than the 16 MiB limit"), "{msg}");
}

#[test]
fn descriptor_problems() {
    let p = Project::new();
    p.write("settings_yml.json", "{\"base_path\": \".\"}\n");
    assert_eq!(
        one(&p),
        "settings_yml.json:1: the settings file has no `env_config` section"
    );
    p.write(
        "settings_yml.json",
        "{\n  \"env_config\": {\"base\": {,}}\n}\n",
    );
    assert!(one(&p).starts_with("settings_yml.json:2: invalid JSON"));
}

#[test]
fn no_project() {
    let dir = tempfile::tempdir().unwrap();
    let err = tauro_config::load_project(&tauro_config::LoadOptions::new(dir.path())).unwrap_err();
    assert!(matches!(err, Error::ProjectNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("settings_yml.json"));
}

#[test]
fn the_spark_section_is_checked() {
    let p = Project::new();
    p.write(
        "config/global_settings.yaml",
        "spark:\n  remot: sc://h:15002\n  remote: localhost:15002\n  action_timeout_seconds: -1\n",
    );
    assert_eq!(
        p.errors(),
        vec![
            "config/global_settings.yaml:2: unknown key 'remot' in the `spark` settings; did you mean 'remote'?",
            "config/global_settings.yaml:3: `spark.remote` must be `local` or an sc://host:port URL, found 'localhost:15002'",
            "config/global_settings.yaml:4: the `spark` settings: `action_timeout_seconds` must be a number of seconds > 0, found '-1'",
        ]
    );
}

#[test]
fn tauro_global_keys_are_free_form() {
    let p = Project::new();
    p.write(
        "config/global_settings.yaml",
        "layer: ml\nformat_policy: {supported_outputs: [delta]}\nvalidators: {ml: {strict: false}}\nmax_streaming_pipelines: 3\nml_info: {model_name: churn}\n",
    );
    let ctx = p.load();
    assert_eq!(ctx.global.extra.len(), 5);
}

#[test]
fn wrapper_keys_are_explained() {
    let p = Project::new();
    p.write(
        "config/nodes.yaml",
        "nodes:\n  n:\n    input: [raw]\n    output: [clean]\n    sql: SELECT 1\n",
    )
    .write("config/pipelines.yaml", "p:\n  nodes: [nodes]\n");
    let err = p.load_env(None).unwrap_err();
    assert_eq!(
        p.relative(&err.to_string()),
        "config/nodes.yaml:1: the nodes document is wrapped in a `nodes:` key"
    );
    assert!(err.hint().unwrap().contains("remove `nodes:`"));
}

#[test]
fn experiment_blocks_are_checked_before_any_run() {
    let p = Project::new();
    p.write(
        "config/nodes.yaml",
        "n:\n  input: [raw]\n  output: [clean]\n  sql: SELECT * FROM raw\n  \
         hyperparams: {depth: 3, lr: 0.1}\n  metrics: [auc, f1]\n",
    )
    .write(
        "config/pipelines.yaml",
        "p:\n  nodes: [n]\n  experiment:\n    trials: 0\n    metric: f2\n    space:\n      \
         lr: {type: log_uniform, low: 0, high: 1}\n      depth: {type: integer, low: 9, high: 2}\n      \
         kind: {type: categorical, values: []}\n      rate: {type: reel, low: 0, high: 1}\n",
    );
    assert_eq!(
        p.errors(),
        vec![
            "config/pipelines.yaml:4: the experiment of pipeline 'p': `trials` must be a whole number >= 1, found '0'",
            "config/pipelines.yaml:7: the experiment of pipeline 'p': dimension 'lr': a log-uniform range must be positive (low 0)",
            "config/pipelines.yaml:8: the experiment of pipeline 'p': dimension 'depth': the range is inverted (low 9, high 2)",
            "config/pipelines.yaml:9: the experiment of pipeline 'p': dimension 'kind' has no values to choose from",
            "config/pipelines.yaml:10: the experiment of pipeline 'p': dimension 'rate': unknown type 'reel'; did you mean 'real'? (expected one of: real, integer, log_uniform, categorical)",
        ]
    );
}

#[test]
fn experiment_metric_must_come_from_a_node_and_types_must_fit_defaults() {
    let p = Project::new();
    p.write(
        "config/nodes.yaml",
        "n:\n  input: [raw]\n  output: [clean]\n  sql: SELECT * FROM raw\n  \
         hyperparams: {depth: 3, kind: a}\n  metrics: [auc, f1]\n",
    )
    .write(
        "config/pipelines.yaml",
        "p:\n  nodes: [n]\n  hyperparams: {depth: deep}\n  experiment:\n    trials: 4\n    \
         metric: f2\n    space:\n      kind: [a, b]\n      depth: {type: real, low: 1, high: 9}\n",
    );
    assert_eq!(
        p.errors(),
        vec![
            "config/pipelines.yaml:3: pipeline 'p': hyperparameter 'depth' is a string, but node 'n' declares it as an integer (3)",
            "config/pipelines.yaml:6: pipeline 'p': the experiment optimises 'f2', which no node of the pipeline produces (declared: auc, f1)",
            "config/pipelines.yaml:9: pipeline 'p': experiment dimension 'depth' gives a number, but the pipeline declares 'depth' as a string (\"deep\")",
        ]
    );
}

#[test]
fn reserved_hyperparameter_names_are_rejected() {
    let p = Project::new();
    p.write(
        "config/nodes.yaml",
        "n:\n  input: [raw]\n  output: [clean]\n  sql: SELECT * FROM raw\n  \
         hyperparams: {model_version: v2}\n",
    );
    assert_eq!(
        one(&p),
        "config/nodes.yaml:5: node 'n': hyperparameter 'model_version' uses a reserved name"
    );
}

#[test]
fn expectations_are_checked_at_load() {
    let p = Project::new();
    p.write(
        "config/nodes.yaml",
        "n:\n  input: [raw]\n  output: [clean]\n  sql: SELECT * FROM raw\n  expectations:\n    \
         - {name: a, expect: \"x > 0\", action: dorp}\n    \
         - {name: b, not_null: [], unique: [x]}\n    \
         - {name: c, range: {column: x, min: 5, max: 1}}\n    \
         - {name: d, accepted_values: {column: x, values: []}}\n",
    );
    let errors = p.errors();
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(
        errors[0].contains("nodes.yaml:6") && errors[0].contains("unknown action 'dorp'"),
        "{errors:#?}"
    );
    assert!(
        errors[1].contains("nodes.yaml:7") && errors[1].contains("give exactly one check"),
        "{errors:#?}"
    );
    assert!(
        errors[2].contains("range min 5 is above max 1"),
        "{errors:#?}"
    );
    assert!(errors[3].contains("non-empty `values`"), "{errors:#?}");
}

#[test]
fn kafka_datasets_are_checked_against_the_nodes_reading_them() {
    let p = Project::new();
    p.write(
        "config/pipelines.yaml",
        "p:\n  nodes: [n]\ns:\n  type: streaming\n  nodes: [m]\n",
    )
    .write(
        "config/nodes.yaml",
        "n:\n  input: [clicks]\n  output: [clean]\n  sql: SELECT 1\n\
         m:\n  input: [clicks]\n  output: [sent]\n  sql: SELECT 1\n",
    )
    .write(
        "config/input.yaml",
        "clicks:\n  format: kafka\n  bootstrap_servers: b:9092\n  topics: clicks\n\
         \x20 starting_offsets: latest\n  ending_offsets: latest\n  value_format: xml\n",
    )
    .write(
        "config/output.yaml",
        "clean:\n  format: parquet\n  filepath: c\nsent:\n  format: kafka\n  bootstrap_servers: b:9092\n",
    );
    assert_eq!(
        p.errors(),
        vec![
            "config/input.yaml:5: kafka input 'clicks' is read by batch node 'n', and a batch read starting at latest is empty; use earliest or per-partition offsets",
            "config/input.yaml:6: kafka input 'clicks' is read by streaming node 'm', and a stream has no `ending_offsets`; remove it (it only bounds batch reads)",
            "config/input.yaml:7: kafka input 'clicks': unknown value_format 'xml' (expected one of: json, string)",
            "config/output.yaml:4: kafka output 'sent' needs `topic` (or the option `topic`)",
        ]
    );
}

#[test]
fn delta_keys_and_merge_are_checked() {
    let p = Project::new();
    p.write("config/pipelines.yaml", "p:\n  nodes: [n]\n")
        .write(
            "config/nodes.yaml",
            "n:\n  output: [a, b, c, d]\n  sql: SELECT 1\n",
        )
        .write(
            "config/output.yaml",
            "a:\n  format: delta\n  filepath: a\n  write_mode: merge\n\
             b:\n  format: parquet\n  filepath: b\n  merge_keys: [id]\n  write_mode: merge\n\
             c:\n  format: delta\n  filepath: c\n  write_mode: append\n  replace_where: \"day = 1\"\n  merge_keys: [id]\n\
             d:\n  format: delta\n  filepath: d\n  merge_schema: true\n  options: {mergeSchema: 'false'}\n",
        );
    assert_eq!(
        p.errors(),
        vec![
            "config/output.yaml:1: output 'a': write_mode merge needs `merge_keys`",
            "config/output.yaml:5: output 'b': write_mode merge needs a Delta output, not parquet",
            "config/output.yaml:8: output 'b': `merge_keys` only applies to Delta outputs, not parquet",
            "config/output.yaml:14: output 'c': `replace_where` replaces the matching rows of an overwrite; write_mode is append",
            "config/output.yaml:15: output 'c': `merge_keys` apply to write_mode merge; write_mode is append",
            "config/output.yaml:19: output 'd': `merge_schema` and options.mergeSchema both given; keep one",
        ]
    );
}
