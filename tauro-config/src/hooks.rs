//! The `hooks:` list and the `lineage:` section of the global settings.
//!
//! ```yaml
//! hooks:
//!   - type: file                      # append each event as a JSON line
//!     path: logs/events.jsonl         # relative to the project directory
//!     events: [node_complete, node_error, pipeline_error]   # default: every event
//!   - type: http                      # POST each event as JSON
//!     url: https://hooks.example.com/tauro
//!     headers: {Authorization: "Bearer ${HOOK_TOKEN}"}
//!     timeout_seconds: 5              # every hook: default 5
//!   - type: command                   # run a program, the event JSON on its stdin
//!     command: scripts/notify.sh
//!     args: [--channel, data]
//!   - type: metrics                   # Prometheus text file, rewritten at the end of a run
//!     path: .tauro/metrics/tauro.prom
//!     priority: 10                    # every hook: lower runs first, default 100
//! lineage:
//!   enabled: true                     # per-node schemas and rows (default true)
//!   sample_rows: 0                    # rows sampled per dataset (default 0: none)
//!   openlineage:                      # optional OpenLineage run events
//!     url: http://marquez:5000/api/v1/lineage    # or `path: openlineage.jsonl`
//!     namespace: my_project           # default: the project name
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::diag::Diags;
use crate::fields::{Fields, describe};
use crate::model::Location;
use crate::paths;
use crate::redact;
use crate::suggest;
use crate::tree::{Entry, Kind, Loc, Node};

/// The lifecycle events hooks can subscribe to (`events:`), in lifecycle order.
pub const HOOK_EVENTS: [&str; 11] = [
    "pipeline_start",
    "node_start",
    "node_retry",
    "node_complete",
    "node_error",
    "node_skipped",
    "node_cancelled",
    "node_cached",
    "stream_progress",
    "pipeline_complete",
    "pipeline_error",
];

/// The default timeout of a hook call.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// The default priority of a hook (lower runs first).
pub const DEFAULT_HOOK_PRIORITY: i32 = 100;

const HOOK_TYPES: [&str; 4] = ["file", "http", "command", "metrics"];
const COMMON_KEYS: [&str; 5] = ["type", "name", "events", "priority", "timeout_seconds"];
const LINEAGE_KEYS: [&str; 3] = ["enabled", "sample_rows", "openlineage"];
const OPENLINEAGE_KEYS: [&str; 5] = ["url", "path", "namespace", "headers", "timeout_seconds"];

/// One entry of the `hooks:` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookConfig {
    /// `name`, default `<type>#<position>` (e.g. `file#1`); unique.
    pub name: String,
    /// What the hook does.
    #[serde(flatten)]
    pub target: HookTarget,
    /// `events`: the event kinds delivered (see [`HOOK_EVENTS`]); empty means all.
    pub events: Vec<String>,
    /// `priority`: lower runs first (default 100).
    pub priority: i32,
    /// `timeout_seconds`: longest a single call may take (default 5 s).
    pub timeout: Duration,
    /// Where the entry is.
    pub location: Location,
}

/// What a configured hook does with each event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HookTarget {
    /// Append the event as one JSON line to `path`.
    File {
        /// The file (resolved against the project directory).
        path: String,
    },
    /// POST the event as `application/json` to `url`.
    Http {
        /// `http://` or `https://` URL.
        url: String,
        /// Extra request headers (values are masked when the settings are printed).
        #[serde(serialize_with = "masked")]
        headers: BTreeMap<String, String>,
    },
    /// Run `command args...` with the event JSON on stdin.
    Command {
        /// The program: a bare name is looked up on `PATH`, a relative path (with a `/`)
        /// is resolved against the project directory, where the command also runs.
        command: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// Write a Prometheus text file of the run's node metrics when the run ends.
    Metrics {
        /// The file (resolved against the project directory).
        path: String,
    },
}

/// The `lineage:` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineageSettings {
    /// `enabled`: record per-node lineage (default true).
    pub enabled: bool,
    /// `sample_rows`: rows sampled per input and output (default 0: none).
    pub sample_rows: usize,
    /// `openlineage`: send OpenLineage run events.
    pub openlineage: Option<OpenLineageSettings>,
}

impl Default for LineageSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            sample_rows: 0,
            openlineage: None,
        }
    }
}

/// The `lineage.openlineage` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenLineageSettings {
    /// `url` (POST each event) or `path` (append JSON lines).
    pub target: OpenLineageTargetConfig,
    /// `namespace` of the jobs (default: the project name).
    pub namespace: Option<String>,
    /// `timeout_seconds` of one delivery (default 5 s).
    pub timeout: Duration,
    /// Where the section is.
    pub location: Location,
}

/// Where OpenLineage events go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OpenLineageTargetConfig {
    /// An OpenLineage HTTP endpoint (e.g. Marquez's `/api/v1/lineage`).
    Url {
        /// The endpoint.
        url: String,
        /// Extra request headers (masked when printed).
        #[serde(serialize_with = "masked")]
        headers: BTreeMap<String, String>,
    },
    /// A JSON-lines file (resolved against the project directory).
    Path {
        /// The file.
        path: String,
    },
}

fn masked<S: Serializer>(headers: &BTreeMap<String, String>, s: S) -> Result<S::Ok, S::Error> {
    let shown: BTreeMap<&str, &str> = headers.keys().map(|k| (k.as_str(), redact::MASK)).collect();
    shown.serialize(s)
}

/// Reads `hooks:` (a list of hook entries).
pub(crate) fn hooks(
    f: &Fields<'_>,
    project_dir: &Path,
    location: &impl Fn(Loc) -> Location,
    diags: &mut Diags,
) -> Vec<HookConfig> {
    let Some(entry) = f.get("hooks") else {
        return Vec::new();
    };
    let Kind::Seq(items) = &entry.value.kind else {
        f.expected("hooks", entry, "a list of hooks", diags);
        return Vec::new();
    };
    let mut out: Vec<HookConfig> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(hook) = hook(i + 1, item, project_dir, location, diags) else {
            continue;
        };
        if out.iter().any(|h| h.name == hook.name) {
            diags.error(
                item.loc,
                format!(
                    "hooks: two hooks are named '{}'; give each a unique `name`",
                    hook.name
                ),
            );
            continue;
        }
        out.push(hook);
    }
    out
}

fn hook(
    position: usize,
    item: &Node,
    project_dir: &Path,
    location: &impl Fn(Loc) -> Location,
    diags: &mut Diags,
) -> Option<HookConfig> {
    let f = Fields::of(format!("hook #{position}"), item.loc, item, diags)?;
    let Some(type_entry) = f.get("type") else {
        diags.error_hint(
            item.loc,
            format!("hook #{position} has no `type`"),
            format!("set `type:` to one of: {}", HOOK_TYPES.join(", ")),
        );
        return None;
    };
    let kind = f
        .text_of("type", type_entry, diags)?
        .trim()
        .to_ascii_lowercase();
    let specific: &[&str] = match kind.as_str() {
        "file" | "metrics" => &["path"],
        "http" => &["url", "headers"],
        "command" => &["command", "args"],
        _ => {
            diags.error(
                type_entry.key_loc,
                format!(
                    "hook #{position}: unknown type '{kind}'{} (expected one of: {})",
                    suggest::did_you_mean(&kind, HOOK_TYPES),
                    HOOK_TYPES.join(", ")
                ),
            );
            return None;
        }
    };
    let allowed: Vec<&str> = COMMON_KEYS.iter().chain(specific).copied().collect();
    let f = Fields::of(format!("hook #{position} ({kind})"), item.loc, item, diags)?;
    f.check_keys(&allowed, diags);
    let target = match kind.as_str() {
        "file" => HookTarget::File {
            path: paths::resolve(project_dir, &required(&f, "path", item.loc, diags)?),
        },
        "metrics" => HookTarget::Metrics {
            path: paths::resolve(project_dir, &required(&f, "path", item.loc, diags)?),
        },
        "http" => HookTarget::Http {
            url: url(&f, item.loc, diags)?,
            headers: f.string_map("headers", diags),
        },
        _ => HookTarget::Command {
            command: required(&f, "command", item.loc, diags)?,
            args: args(&f, diags),
        },
    };
    let name = match f.text("name", diags) {
        Some(n) if !n.trim().is_empty() => n.trim().to_owned(),
        _ => format!("{kind}#{position}"),
    };
    Some(HookConfig {
        name,
        target,
        events: events(&f, diags),
        priority: priority(&f, diags),
        timeout: f
            .seconds("timeout_seconds", false, diags)
            .unwrap_or(DEFAULT_HOOK_TIMEOUT),
        location: location(item.loc),
    })
}

/// Reads `lineage:`.
pub(crate) fn lineage(
    f: &Fields<'_>,
    project_dir: &Path,
    location: &impl Fn(Loc) -> Location,
    diags: &mut Diags,
) -> LineageSettings {
    let mut settings = LineageSettings::default();
    let Some(entry) = f.get("lineage") else {
        return settings;
    };
    let Some(l) = Fields::of(
        "the `lineage` settings".to_owned(),
        entry.key_loc,
        &entry.value,
        diags,
    ) else {
        return settings;
    };
    l.check_keys(&LINEAGE_KEYS, diags);
    settings.enabled = l.boolean("enabled", true, diags);
    if let Some(n) = l.count("sample_rows", 0, diags) {
        settings.sample_rows = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(ol) = l.get("openlineage") {
        settings.openlineage = openlineage(ol, project_dir, location, diags);
    }
    settings
}

fn openlineage(
    entry: &Entry,
    project_dir: &Path,
    location: &impl Fn(Loc) -> Location,
    diags: &mut Diags,
) -> Option<OpenLineageSettings> {
    let f = Fields::of(
        "the `lineage.openlineage` settings".to_owned(),
        entry.key_loc,
        &entry.value,
        diags,
    )?;
    f.check_keys(&OPENLINEAGE_KEYS, diags);
    let target = match (f.get("url"), f.get("path")) {
        (Some(_), Some(path)) => {
            diags.error(
                path.key_loc,
                "the `lineage.openlineage` settings set both `url` and `path`; keep one",
            );
            return None;
        }
        (Some(_), None) => OpenLineageTargetConfig::Url {
            url: url(&f, entry.key_loc, diags)?,
            headers: f.string_map("headers", diags),
        },
        (None, Some(_)) => OpenLineageTargetConfig::Path {
            path: paths::resolve(project_dir, &required(&f, "path", entry.key_loc, diags)?),
        },
        (None, None) => {
            diags.error_hint(
                entry.key_loc,
                "the `lineage.openlineage` settings name no destination",
                "set `url:` (an OpenLineage HTTP endpoint) or `path:` (a JSON-lines file)",
            );
            return None;
        }
    };
    Some(OpenLineageSettings {
        target,
        namespace: f.text("namespace", diags).filter(|n| !n.trim().is_empty()),
        timeout: f
            .seconds("timeout_seconds", false, diags)
            .unwrap_or(DEFAULT_HOOK_TIMEOUT),
        location: location(entry.key_loc),
    })
}

fn required(f: &Fields<'_>, key: &str, at: Loc, diags: &mut Diags) -> Option<String> {
    match f.text(key, diags) {
        Some(v) if !v.trim().is_empty() => Some(v.trim().to_owned()),
        Some(_) => {
            if let Some(entry) = f.get(key) {
                f.expected(key, entry, "a non-empty string", diags);
            }
            None
        }
        None if f.get(key).is_some() => None,
        None => {
            diags.error(at, format!("{} has no `{key}`", f.what));
            None
        }
    }
}

fn url(f: &Fields<'_>, at: Loc, diags: &mut Diags) -> Option<String> {
    let url = required(f, "url", at, diags)?;
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Some(url);
    }
    if let Some(entry) = f.get("url") {
        diags.error(
            entry.key_loc,
            format!(
                "{}: `url` must start with http:// or https://, found {}",
                f.what,
                describe("url", &entry.value)
            ),
        );
    }
    None
}

fn args(f: &Fields<'_>, diags: &mut Diags) -> Vec<String> {
    let Some(entry) = f.get("args") else {
        return Vec::new();
    };
    let Kind::Seq(items) = &entry.value.kind else {
        f.expected("args", entry, "a list of arguments", diags);
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item.scalar_text() {
            Some(s) => out.push(s),
            None => diags.error(
                item.loc,
                format!(
                    "{}: every item of `args` must be a plain value, found {}",
                    f.what,
                    item.kind.type_name()
                ),
            ),
        }
    }
    out
}

fn events(f: &Fields<'_>, diags: &mut Diags) -> Vec<String> {
    let mut out = Vec::new();
    for (name, loc) in f.names("events", diags) {
        let lower = name.to_ascii_lowercase();
        if HOOK_EVENTS.contains(&lower.as_str()) {
            if !out.contains(&lower) {
                out.push(lower);
            }
        } else {
            diags.error(
                loc,
                format!(
                    "{}: unknown event '{name}'{} (events: {})",
                    f.what,
                    suggest::did_you_mean(&lower, HOOK_EVENTS),
                    HOOK_EVENTS.join(", ")
                ),
            );
        }
    }
    out
}

fn priority(f: &Fields<'_>, diags: &mut Diags) -> i32 {
    let Some(entry) = f.get("priority") else {
        return DEFAULT_HOOK_PRIORITY;
    };
    let parsed = match &entry.value.kind {
        Kind::Num(n) => n.as_i64(),
        Kind::Str(s) => s.trim().parse::<i64>().ok(),
        Kind::Null | Kind::Bool(_) | Kind::Seq(_) | Kind::Map(_) => None,
    };
    match parsed.and_then(|p| i32::try_from(p).ok()) {
        Some(p) => p,
        None => {
            f.expected(
                "priority",
                entry,
                "a whole number (lower runs first)",
                diags,
            );
            DEFAULT_HOOK_PRIORITY
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::testing::{location, messages, yaml};

    fn read(text: &str) -> (Vec<HookConfig>, LineageSettings, Vec<String>) {
        let mut diags = Diags::default();
        let root = yaml(text);
        let f = Fields::of("global settings".to_owned(), root.loc, &root, &mut diags);
        let (h, l) = match f {
            Some(f) => (
                hooks(&f, Path::new("/proj"), &location, &mut diags),
                lineage(&f, Path::new("/proj"), &location, &mut diags),
            ),
            None => (Vec::new(), LineageSettings::default()),
        };
        (h, l, messages(diags))
    }

    #[test]
    fn hooks_of_every_type_with_defaults() {
        let (hooks, lineage, errors) = read(
            "hooks:\n  - type: file\n    path: logs/e.jsonl\n    events: [node_complete, NODE_ERROR]\n  - type: http\n    url: https://h.example/x\n    headers: {Authorization: Bearer abc}\n    timeout_seconds: 2\n    priority: -5\n  - type: command\n    command: notify\n    args: [--a, 1]\n    name: notifier\n  - {type: metrics, path: /m/t.prom}\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(lineage, LineageSettings::default());
        assert_eq!(hooks.len(), 4);
        assert_eq!(hooks[0].name, "file#1");
        assert_eq!(
            hooks[0].target,
            HookTarget::File {
                path: "/proj/logs/e.jsonl".into()
            }
        );
        assert_eq!(hooks[0].events, ["node_complete", "node_error"]);
        assert_eq!(hooks[0].priority, DEFAULT_HOOK_PRIORITY);
        assert_eq!(hooks[0].timeout, DEFAULT_HOOK_TIMEOUT);
        assert_eq!(hooks[0].location.line, 2);
        assert_eq!(hooks[1].priority, -5);
        assert_eq!(hooks[1].timeout, Duration::from_secs(2));
        assert!(hooks[1].events.is_empty());
        assert_eq!(hooks[2].name, "notifier");
        assert_eq!(
            hooks[2].target,
            HookTarget::Command {
                command: "notify".into(),
                args: vec!["--a".into(), "1".into()]
            }
        );
        assert_eq!(hooks[3].name, "metrics#4");
        // Header values never show when the settings are printed.
        let json = serde_json::to_string(&hooks[1]).unwrap_or_default();
        assert!(json.contains("\"Authorization\":\"***\""), "{json}");
        assert!(!json.contains("abc"), "{json}");
    }

    #[test]
    fn hook_mistakes_name_the_line() {
        let (hooks, _, errors) = read(
            "hooks:\n  - type: file\n  - type: htp\n    url: x\n  - type: http\n    url: ftp://x\n  - type: file\n    path: a\n    events: [node_completed]\n    colour: red\n  - type: command\n    command: x\n    priority: high\n  - {type: file, path: b, name: dup}\n  - {type: file, path: c, name: dup}\n  - path: x\n",
        );
        assert_eq!(
            errors,
            [
                "t.yaml:2: hook #1 (file) has no `path`",
                "t.yaml:3: hook #2: unknown type 'htp'; did you mean 'http'? (expected one of: file, http, command, metrics)",
                "t.yaml:6: hook #3 (http): `url` must start with http:// or https://, found 'ftp://x'",
                "t.yaml:9: hook #4 (file): unknown event 'node_completed'; did you mean 'node_complete'? (events: pipeline_start, node_start, node_retry, node_complete, node_error, node_skipped, node_cancelled, node_cached, stream_progress, pipeline_complete, pipeline_error)",
                "t.yaml:10: unknown key 'colour' in hook #4 (file)",
                "t.yaml:13: hook #5 (command): `priority` must be a whole number (lower runs first), found 'high'",
                "t.yaml:15: hooks: two hooks are named 'dup'; give each a unique `name`",
                "t.yaml:16: hook #8 has no `type`",
            ],
        );
        let names: Vec<&str> = hooks.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["file#4", "command#5", "dup"]);
    }

    #[test]
    fn lineage_section() {
        let (_, l, errors) = read(
            "lineage:\n  sample_rows: 5\n  openlineage:\n    url: http://marquez:5000/api/v1/lineage\n    namespace: shop\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert!(l.enabled);
        assert_eq!(l.sample_rows, 5);
        let ol = l.openlineage.unwrap_or_else(|| unreachable!());
        assert_eq!(ol.namespace.as_deref(), Some("shop"));
        assert_eq!(ol.timeout, DEFAULT_HOOK_TIMEOUT);
        assert_eq!(ol.location.line, 3);
        assert!(
            matches!(ol.target, OpenLineageTargetConfig::Url { ref url, .. } if url == "http://marquez:5000/api/v1/lineage")
        );

        let (_, l, errors) = read("lineage: {enabled: false, openlineage: {path: ol.jsonl}}\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert!(!l.enabled);
        assert_eq!(
            l.openlineage.map(|o| o.target),
            Some(OpenLineageTargetConfig::Path {
                path: "/proj/ol.jsonl".into()
            })
        );

        let (_, _, errors) =
            read("lineage:\n  sample_row: 3\n  openlineage:\n    url: http://x\n    path: y\n");
        assert_eq!(
            errors,
            [
                "t.yaml:2: unknown key 'sample_row' in the `lineage` settings; did you mean 'sample_rows'?",
                "t.yaml:5: the `lineage.openlineage` settings set both `url` and `path`; keep one",
            ]
        );
        let (_, _, errors) = read("lineage:\n  openlineage: {}\n");
        assert_eq!(
            errors,
            ["t.yaml:2: the `lineage.openlineage` settings name no destination"]
        );
    }
}
