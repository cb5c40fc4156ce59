//! The global settings document → [`GlobalSettings`].
//!
//! Global settings are free-form: keys other than the ones below are kept in
//! [`GlobalSettings::extra`] (Tauro's ML and streaming keys among them), never rejected.
//! The `spark:` section is Tauro-rs's own and is checked strictly.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;

use crate::dates::parse_date;
use crate::diag::Diags;
use crate::fields::{Fields, describe};
use crate::hooks::{self, LineageSettings};
use crate::model::{GlobalSettings, Location, SparkSettings};
use crate::paths;
use crate::suggest;
use crate::tree::{Kind, Loc, Node};

const KNOWN: [&str; 17] = [
    "project_name",
    "input_path",
    "output_path",
    "mode",
    "start_date",
    "end_date",
    "max_workers",
    "max_parallel_nodes",
    "max_retries",
    "retry_delay",
    "node_timeout_seconds",
    "circuit_breaker_threshold",
    "continue_on_error",
    "spark",
    "spark_config",
    "hooks",
    "lineage",
];

const SPARK_KEYS: [&str; 5] = [
    "remote",
    "config",
    "connect_timeout_seconds",
    "action_timeout_seconds",
    "local_master",
];

/// Execution modes Tauro knows.
const MODES: [&str; 3] = ["local", "databricks", "distributed"];

impl Default for SparkSettings {
    fn default() -> Self {
        Self {
            remote: "local".to_owned(),
            config: BTreeMap::new(),
            connect_timeout: Duration::from_secs(15),
            action_timeout: Duration::from_secs(3600),
            local_master: "local[2]".to_owned(),
        }
    }
}

impl GlobalSettings {
    /// Defaults for a project in `project_dir`: paths are the directory itself.
    pub fn defaults_for(project_dir: &Path) -> Self {
        let dir = paths::clean(project_dir);
        Self {
            project_name: project_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            input_path: dir.clone(),
            output_path: dir,
            mode: "local".to_owned(),
            spark: SparkSettings::default(),
            start_date: None,
            end_date: None,
            max_workers: 4,
            max_retries: 0,
            retry_delay: Duration::from_secs(1),
            node_timeout: None,
            circuit_breaker_threshold: 5,
            continue_on_error: false,
            hooks: Vec::new(),
            lineage: LineageSettings::default(),
            extra: IndexMap::new(),
        }
    }
}

/// Builds the global settings from the interpolated document.
pub(crate) fn build(
    root: &Node,
    project_dir: &Path,
    location: impl Fn(Loc) -> Location,
    diags: &mut Diags,
) -> GlobalSettings {
    let mut g = GlobalSettings::defaults_for(project_dir);
    if root.kind == Kind::Null {
        return g;
    }
    let Kind::Map(map) = &root.kind else {
        diags.error(
            root.loc,
            format!(
                "the global settings document must be a mapping of settings, found {}",
                root.kind.type_name()
            ),
        );
        return g;
    };
    let Some(f) = Fields::of("global settings".to_owned(), root.loc, root, diags) else {
        return g;
    };
    if let Some(name) = f.text("project_name", diags) {
        g.project_name = name;
    }
    if let Some(p) = f.text("input_path", diags) {
        g.input_path = paths::resolve(project_dir, &p);
    }
    if let Some(p) = f.text("output_path", diags) {
        g.output_path = paths::resolve(project_dir, &p);
    }
    if let Some(entry) = f.get("mode")
        && let Some(mode) = f.text_of("mode", entry, diags)
    {
        let lower = mode.trim().to_ascii_lowercase();
        if MODES.contains(&lower.as_str()) {
            g.mode = lower;
        } else {
            diags.error(
                entry.key_loc,
                format!(
                    "global settings: unknown mode '{mode}'{} (expected one of: {})",
                    suggest::did_you_mean(&lower, MODES),
                    MODES.join(", ")
                ),
            );
        }
    }
    g.start_date = date(&f, "start_date", diags);
    g.end_date = date(&f, "end_date", diags);
    if let (Some(start), Some(end), Some(entry)) = (g.start_date, g.end_date, f.get("end_date"))
        && end < start
    {
        diags.error(
            entry.key_loc,
            format!("global settings: `end_date` {end} is before `start_date` {start}"),
        );
    }
    // An environment may set `max_workers` over a base that uses Tauro's name: the canonical
    // name wins.
    if let Some((key, entry)) = f.first_of(&["max_workers", "max_parallel_nodes"])
        && let Some(n) = f.count_of(key, entry, 1, diags)
    {
        g.max_workers = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(n) = f.count("max_retries", 0, diags) {
        g.max_retries = n;
    }
    if let Some(d) = f.seconds("retry_delay", true, diags) {
        g.retry_delay = d;
    }
    g.node_timeout = f.seconds("node_timeout_seconds", false, diags);
    if let Some(n) = f.count("circuit_breaker_threshold", 0, diags) {
        g.circuit_breaker_threshold = n;
    }
    g.continue_on_error = f.boolean("continue_on_error", false, diags);
    g.spark.config = f.string_map("spark_config", diags);
    if let Some(entry) = f.get("spark")
        && let Some(spark) = Fields::of(
            "the `spark` settings".to_owned(),
            entry.key_loc,
            &entry.value,
            diags,
        )
    {
        spark_section(&spark, &mut g.spark, diags);
    }
    // ML defaults stay in `extra` (read with `GlobalSettings::default_hyperparams`); check shapes.
    let _ = f.json_map("default_hyperparams", diags);
    let _ = f.text("default_model_version", diags);
    g.hooks = hooks::hooks(&f, project_dir, &location, diags);
    g.lineage = hooks::lineage(&f, project_dir, &location, diags);
    g.extra = map
        .iter()
        .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
        .map(|(k, e)| (k.clone(), e.value.to_json()))
        .collect();
    g
}

fn date(f: &Fields<'_>, key: &str, diags: &mut Diags) -> Option<chrono::NaiveDate> {
    let entry = f.get(key)?;
    let text = f.text_of(key, entry, diags)?;
    match parse_date(text.trim()) {
        Ok(d) => Some(d),
        Err(_) => {
            diags.error_hint(
                entry.key_loc,
                format!(
                    "global settings: `{key}` must be a date YYYY-MM-DD, found {}",
                    describe(key, &entry.value)
                ),
                "quote dates and write them as YYYY-MM-DD, e.g. \"2025-01-31\"",
            );
            None
        }
    }
}

fn spark_section(f: &Fields<'_>, spark: &mut SparkSettings, diags: &mut Diags) {
    f.check_keys(&SPARK_KEYS, diags);
    if let Some(entry) = f.get("remote")
        && let Some(remote) = f.text_of("remote", entry, diags)
    {
        let remote = remote.trim().to_owned();
        if remote == "local" || remote.to_ascii_lowercase().starts_with("sc://") {
            spark.remote = remote;
        } else {
            diags.error_hint(
                entry.key_loc,
                format!(
                    "`spark.remote` must be `local` or an sc://host:port URL, found {}",
                    describe("remote", &entry.value)
                ),
                "e.g. `remote: sc://localhost:15002` for a running Spark Connect server",
            );
        }
    }
    // `spark.config` wins over Tauro's `spark_config` for the same key.
    spark.config.extend(f.string_map("config", diags));
    if let Some(d) = f.seconds("connect_timeout_seconds", false, diags) {
        spark.connect_timeout = d;
    }
    if let Some(d) = f.seconds("action_timeout_seconds", false, diags) {
        spark.action_timeout = d;
    }
    if let Some(master) = f.text("local_master", diags) {
        spark.local_master = master;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::testing::{location, messages, yaml};

    fn build_global(text: &str) -> (GlobalSettings, Vec<String>) {
        let mut diags = Diags::default();
        let g = build(&yaml(text), Path::new("/proj"), location, &mut diags);
        (g, messages(diags))
    }

    #[test]
    fn defaults() {
        let (g, errors) = build_global("{}");
        assert!(errors.is_empty());
        assert_eq!(g.project_name, "proj");
        assert_eq!(g.input_path, "/proj");
        assert_eq!(g.mode, "local");
        assert_eq!(g.max_workers, 4);
        assert_eq!(g.max_retries, 0);
        assert_eq!(g.retry_delay, Duration::from_secs(1));
        assert_eq!(g.node_timeout, None);
        assert_eq!(g.circuit_breaker_threshold, 5);
        assert!(!g.continue_on_error);
        assert_eq!(g.spark.remote, "local");
        assert_eq!(g.spark.connect_timeout, Duration::from_secs(15));
        assert_eq!(g.spark.local_master, "local[2]");
    }

    #[test]
    fn text_values_from_interpolation_are_typed() {
        let (g, errors) = build_global(
            "max_workers: '8'\nmax_retries: '3'\nretry_delay: '0.25'\ncontinue_on_error: 'TRUE'\nmode: Databricks\nspark: {remote: 'SC://h:1', local_master: 'local[4]'}\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(g.max_workers, 8);
        assert_eq!(g.max_retries, 3);
        assert_eq!(g.retry_delay, Duration::from_millis(250));
        assert!(g.continue_on_error);
        assert_eq!(g.mode, "databricks");
        assert_eq!(g.spark.remote, "SC://h:1");
        assert_eq!(g.spark.local_master, "local[4]");
    }

    #[test]
    fn canonical_names_win_over_aliases() {
        let (g, errors) = build_global("max_parallel_nodes: 2\nmax_workers: 6\n");
        assert!(errors.is_empty());
        assert_eq!(g.max_workers, 6);
        let (g, _) = build_global("max_parallel_nodes: 2\n");
        assert_eq!(g.max_workers, 2);
    }

    #[test]
    fn hooks_and_lineage_are_typed_not_extra() {
        let (g, errors) = build_global(
            "hooks: [{type: file, path: e.jsonl}]\nlineage: {sample_rows: 3}\nteam: data\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(g.hooks.len(), 1);
        assert_eq!(g.lineage.sample_rows, 3);
        assert_eq!(g.extra.keys().collect::<Vec<_>>(), ["team"]);
        let (g, _) = build_global("{}");
        assert!(g.hooks.is_empty());
        assert!(g.lineage.enabled);
    }

    #[test]
    fn not_a_mapping() {
        let (_, errors) = build_global("- a\n");
        assert_eq!(
            errors,
            vec![
                "t.yaml:1: the global settings document must be a mapping of settings, found a list"
            ]
        );
    }
}
