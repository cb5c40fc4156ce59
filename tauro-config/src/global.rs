//! The global settings document → [`GlobalSettings`].
//!
//! Global settings are free-form: keys other than the ones below are kept in
//! [`GlobalSettings::extra`] (Tauro's ML and streaming keys among them), never rejected.
//! The `spark:` section is Tauro-rs's own and is checked strictly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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

const SPARK_KEYS: [&str; 10] = [
    "remote",
    "engine",
    "catalog",
    "token_env",
    "token_file",
    "session_id",
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
            token_env: None,
            token_file: None,
            session_id: None,
            config: BTreeMap::new(),
            connect_timeout: Duration::from_secs(15),
            action_timeout: Duration::from_secs(3600),
            local_master: "local[2]".to_owned(),
            engine: crate::engine::EngineKind::Spark,
            persistent_catalog: false,
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
        spark_auth(&spark, &mut g.spark, project_dir, diags);
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
    if let Some(entry) = f.get("engine")
        && let Some(text) = f.text_of("engine", entry, diags)
    {
        match crate::engine::EngineKind::parse(&text) {
            Some(kind) => spark.engine = kind,
            None => diags.error_hint(
                entry.key_loc,
                format!(
                    "`spark.engine` must be `spark` or `sail`, found `{}`",
                    text.trim()
                ),
                "`spark` is Apache Spark; `sail` is the Sail server (pip install pysail)",
            ),
        }
    }
    if let Some(entry) = f.get("catalog")
        && let Some(text) = f.text_of("catalog", entry, diags)
    {
        match text.trim().to_ascii_lowercase().as_str() {
            "memory" => spark.persistent_catalog = false,
            "persistent" => spark.persistent_catalog = true,
            other => diags.error_hint(
                entry.key_loc,
                format!("`spark.catalog` must be `memory` or `persistent`, found `{other}`"),
                "`persistent` keeps the local server's tables under <project>/.tauro/catalog",
            ),
        }
    }
}

/// `spark.token_env`, `spark.token_file` and `spark.session_id`. Only where the token is
/// kept is recorded; it is read when connecting.
fn spark_auth(f: &Fields<'_>, spark: &mut SparkSettings, project_dir: &Path, diags: &mut Diags) {
    if let Some(entry) = f.get("token_env")
        && let Some(name) = f.text_of("token_env", entry, diags)
    {
        let name = name.trim();
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            spark.token_env = Some(name.to_owned());
        } else {
            // Never echo it: a token pasted here by mistake must not reach a log.
            diags.error_hint(
                entry.key_loc,
                "`spark.token_env` must name an environment variable (letters, digits, '_')",
                "e.g. `token_env: SPARK_CONNECT_TOKEN`; the token itself goes in that variable, never in the configuration",
            );
        }
    }
    if let Some(entry) = f.get("token_file")
        && let Some(path) = f.text_of("token_file", entry, diags)
    {
        if f.get("token_env").is_some() {
            diags.error(
                entry.key_loc,
                "`spark.token_env` and `spark.token_file` both give the Spark Connect token; keep one",
            );
        } else {
            spark.token_file = Some(PathBuf::from(paths::resolve(project_dir, path.trim())));
        }
    }
    let carries_token = has_token_param(&spark.remote);
    if carries_token && let Some((key, entry)) = f.first_of(&["token_env", "token_file"]) {
        diags.error(
            entry.key_loc,
            format!(
                "`spark.remote` already carries a token; remove it there or drop `spark.{key}`"
            ),
        );
    }
    if let Some(entry) = f.get("session_id")
        && let Some(id) = f.text_of("session_id", entry, diags)
    {
        if is_uuid_v4(id.trim()) {
            spark.session_id = Some(id.trim().to_ascii_lowercase());
        } else {
            f.expected(
                "session_id",
                entry,
                "a UUID v4 such as 550e8400-e29b-41d4-a716-446655440000",
                diags,
            );
        }
    }
}

/// Whether a `sc://` remote has a `token` parameter.
fn has_token_param(remote: &str) -> bool {
    remote.split_once(';').is_some_and(|(_, params)| {
        params
            .split(';')
            .any(|p| p.split_once('=').is_some_and(|(k, _)| k.trim() == "token"))
    })
}

/// `xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx` (what Spark Connect accepts as a session id).
fn is_uuid_v4(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let shape = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
    shape
        && groups[2].starts_with('4')
        && groups[3]
            .chars()
            .next()
            .is_some_and(|c| matches!(c.to_ascii_lowercase(), '8' | '9' | 'a' | 'b'))
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
    fn token_sources_and_session_id() {
        let (g, errors) = build_global(
            "spark:\n  remote: sc://h:443/;use_ssl=true\n  token_file: secrets/spark.token\n  session_id: 550E8400-E29B-41D4-A716-446655440000\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            g.spark.token_file.as_deref(),
            Some(Path::new("/proj/secrets/spark.token"))
        );
        assert_eq!(
            g.spark.session_id.as_deref(),
            Some("550e8400-e29b-41d4-a716-446655440000")
        );
        let (g, errors) = build_global("spark: {token_env: SPARK_TOKEN}\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(g.spark.token_env.as_deref(), Some("SPARK_TOKEN"));
        assert_eq!(g.spark.token_file, None);
    }

    #[test]
    fn token_source_problems_never_echo_the_value() {
        let (_, errors) = build_global(
            "spark:\n  remote: 'sc://h:443/;use_ssl=true;token=abc'\n  token_env: 'eyJhbGciOi.secret'\n  token_file: t\n  session_id: not-a-uuid\n",
        );
        assert_eq!(
            errors,
            vec![
                "t.yaml:3: `spark.token_env` must name an environment variable (letters, digits, '_')",
                "t.yaml:3: `spark.remote` already carries a token; remove it there or drop `spark.token_env`",
                "t.yaml:4: `spark.token_env` and `spark.token_file` both give the Spark Connect token; keep one",
                "t.yaml:5: the `spark` settings: `session_id` must be a UUID v4 such as 550e8400-e29b-41d4-a716-446655440000, found 'not-a-uuid'",
            ]
        );
        assert!(!errors.concat().contains("eyJhbGciOi"));
    }

    #[test]
    fn debug_masks_secrets() {
        let (g, errors) = build_global(
            "spark:\n  remote: 'sc://h:443/;use_ssl=true;token=abc123'\n  config: {spark.hadoop.fs.s3a.secret.key: s3cr3t, spark.sql.ansi.enabled: 'true'}\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let shown = format!("{:?} {:?}", g.spark, g);
        assert!(!shown.contains("abc123"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("token=***"), "{shown}");
        assert!(shown.contains("spark.sql.ansi.enabled"), "{shown}");
    }

    #[test]
    fn uuid_v4_shape() {
        assert!(is_uuid_v4("550e8400-e29b-41d4-a716-446655440000"));
        assert!(!is_uuid_v4("550e8400-e29b-11d4-a716-446655440000"));
        assert!(!is_uuid_v4("550e8400e29b41d4a716446655440000"));
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
