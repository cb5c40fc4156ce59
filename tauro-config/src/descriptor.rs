//! The settings descriptor (`settings_yml.json` / `settings_json.json` / `settings.json`):
//! where the five documents of each environment live, and which environment to load.
//!
//! ```json
//! { "base_path": ".",
//!   "env_config": {
//!     "base": { "global_settings_path": "config/global_settings.yaml", "...": "..." },
//!     "dev":  { "global_settings_path": "config/dev/global_settings.yaml" } } }
//! ```

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::diag::{Diags, Files};
use crate::error::{Error, Result};
use crate::parse;
use crate::suggest;
use crate::tree::{Kind, Loc, Node};

/// Names of the settings file, in the order they are looked for.
pub(crate) const SETTINGS_FILE_NAMES: [&str; 3] =
    ["settings_yml.json", "settings_json.json", "settings.json"];

/// The base environment every other one is merged over.
pub(crate) const BASE_ENV: &str = "base";

/// The five documents of a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocKind {
    Global,
    Pipelines,
    Nodes,
    Input,
    Output,
}

impl DocKind {
    pub const ALL: [DocKind; 5] = [
        DocKind::Global,
        DocKind::Pipelines,
        DocKind::Nodes,
        DocKind::Input,
        DocKind::Output,
    ];

    /// The descriptor key holding the document's path.
    pub fn path_key(self) -> &'static str {
        match self {
            DocKind::Global => "global_settings_path",
            DocKind::Pipelines => "pipelines_config_path",
            DocKind::Nodes => "nodes_config_path",
            DocKind::Input => "input_config_path",
            DocKind::Output => "output_config_path",
        }
    }

    /// A short name of the document, used in messages and in-memory labels.
    pub fn label(self) -> &'static str {
        match self {
            DocKind::Global => "global_settings",
            DocKind::Pipelines => "pipelines",
            DocKind::Nodes => "nodes",
            DocKind::Input => "input",
            DocKind::Output => "output",
        }
    }

    pub fn index(self) -> usize {
        match self {
            DocKind::Global => 0,
            DocKind::Pipelines => 1,
            DocKind::Nodes => 2,
            DocKind::Input => 3,
            DocKind::Output => 4,
        }
    }
}

/// A document path of one environment, with where it was declared.
#[derive(Debug, Clone)]
pub(crate) struct DocPath {
    pub path: PathBuf,
    pub loc: Loc,
}

/// A parsed settings descriptor.
#[derive(Debug)]
pub(crate) struct Descriptor {
    /// The project directory (the settings file's directory).
    pub project_dir: PathBuf,
    /// Each environment's document paths (already joined onto `base_path`), `base` first.
    pub envs: IndexMap<String, [Option<DocPath>; 5]>,
    /// Where `env_config` is.
    pub env_config_loc: Loc,
}

/// Walks up from `start` (a directory or a file in it) to the first directory holding a
/// settings file, and returns that file.
pub fn discover_project(start: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
    if start.is_file() {
        let is_settings = start
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| SETTINGS_FILE_NAMES.contains(&n));
        if is_settings {
            return Some(start);
        }
    }
    start.ancestors().find_map(settings_in)
}

/// The settings file directly inside `dir`, if any.
fn settings_in(dir: &Path) -> Option<PathBuf> {
    SETTINGS_FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

/// The settings file named by a `--project` value: the file itself or the one in the directory.
pub(crate) fn locate_settings(project: &Path) -> Result<PathBuf> {
    let project = std::path::absolute(project).map_err(|source| Error::Read {
        path: project.to_path_buf(),
        source,
    })?;
    let project = PathBuf::from(crate::paths::clean(&project));
    if project.is_dir() {
        return settings_in(&project).ok_or(Error::ProjectNotFound { start: project });
    }
    if project.is_file() {
        return Ok(project);
    }
    Err(Error::Read {
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        path: project,
    })
}

/// Reads and checks the descriptor at `file` (an absolute path).
pub(crate) fn read_descriptor(file: &Path, files: &mut Files) -> Result<Descriptor> {
    let text = parse::read_text(file).map_err(|message| {
        Error::Invalid(vec![crate::error::Diagnostic {
            location: crate::model::Location {
                file: file.to_path_buf(),
                line: 0,
            },
            message,
            hint: None,
        }])
    })?;
    let id = files.add(file);
    let mut diags = Diags::default();
    let root = match parse::parse_by_suffix(&text, file, id) {
        Ok(root) => root,
        Err((loc, message)) => {
            diags.error(loc, message);
            diags.finish(files)?;
            return Err(Error::Invalid(Vec::new()));
        }
    };
    let project_dir = file
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let descriptor = check_descriptor(&root, project_dir, &mut diags);
    diags.finish(files)?;
    Ok(descriptor)
}

fn check_descriptor(root: &Node, project_dir: PathBuf, diags: &mut Diags) -> Descriptor {
    let mut out = Descriptor {
        project_dir: project_dir.clone(),
        envs: IndexMap::new(),
        env_config_loc: root.loc,
    };
    let Kind::Map(top) = &root.kind else {
        diags.error(
            root.loc,
            format!(
                "the settings file must be a JSON object, found {}",
                root.kind.type_name()
            ),
        );
        return out;
    };
    let mut base_dir = project_dir;
    if let Some(entry) = top.get("base_path") {
        match &entry.value.kind {
            Kind::Str(p) => base_dir = base_dir.join(p),
            Kind::Null => {}
            other => diags.error(
                entry.key_loc,
                format!("`base_path` must be a string, found {}", other.type_name()),
            ),
        }
    }
    let Some(env_config) = top.get("env_config") else {
        diags.error_hint(
            root.loc,
            "the settings file has no `env_config` section",
            "add `\"env_config\": {\"base\": {\"global_settings_path\": ..., \"pipelines_config_path\": ..., \"nodes_config_path\": ..., \"input_config_path\": ..., \"output_config_path\": ...}}`",
        );
        return out;
    };
    out.env_config_loc = env_config.key_loc;
    let Kind::Map(envs) = &env_config.value.kind else {
        diags.error(
            env_config.key_loc,
            format!(
                "`env_config` must be an object of environments, found {}",
                env_config.value.kind.type_name()
            ),
        );
        return out;
    };
    if !envs.contains_key(BASE_ENV) {
        diags.error_hint(
            env_config.key_loc,
            "`env_config` has no `base` environment",
            "every other environment is merged over `base`; declare the five document paths there",
        );
    }
    let keys: Vec<&str> = DocKind::ALL.iter().map(|k| k.path_key()).collect();
    for (name, entry) in envs {
        let mut paths: [Option<DocPath>; 5] = Default::default();
        match &entry.value.kind {
            Kind::Map(fields) => {
                for (key, field) in fields {
                    let Some(kind) = DocKind::ALL.iter().find(|k| k.path_key() == key) else {
                        diags.error(
                            field.key_loc,
                            format!(
                                "unknown key '{key}' in environment '{name}'{}",
                                suggest::did_you_mean(key, keys.iter().copied())
                            ),
                        );
                        continue;
                    };
                    match &field.value.kind {
                        Kind::Str(p) if !p.trim().is_empty() => {
                            paths[kind.index()] = Some(DocPath {
                                path: PathBuf::from(crate::paths::clean(&base_dir.join(p))),
                                loc: field.key_loc,
                            });
                        }
                        Kind::Str(_) | Kind::Null => {}
                        other => diags.error(
                            field.key_loc,
                            format!("`{key}` must be a path string, found {}", other.type_name()),
                        ),
                    }
                }
            }
            Kind::Null => {}
            other => diags.error(
                entry.key_loc,
                format!(
                    "environment '{name}' must be an object of document paths, found {}",
                    other.type_name()
                ),
            ),
        }
        if name == BASE_ENV {
            let missing: Vec<&str> = DocKind::ALL
                .iter()
                .filter(|k| paths[k.index()].is_none())
                .map(|k| k.path_key())
                .collect();
            if !missing.is_empty() {
                diags.error(
                    entry.key_loc,
                    format!(
                        "environment 'base' must set every document path; missing: {}",
                        missing.join(", ")
                    ),
                );
            }
        }
        out.envs.insert(name.clone(), paths);
    }
    out
}

/// Normalises an environment name: trimmed, lower-case, `development`→`dev`,
/// `production`→`prod`.
pub(crate) fn normalize_env(name: &str) -> String {
    let name = name.trim().to_lowercase();
    match name.as_str() {
        "development" => "dev".to_owned(),
        "production" => "prod".to_owned(),
        _ => name,
    }
}

/// Picks the declared environment for `requested` (default `base`), or says which exist.
pub(crate) fn resolve_env<'a>(
    requested: Option<&str>,
    available: &[&'a str],
    location: crate::model::Location,
) -> Result<&'a str> {
    let Some(requested) = requested.filter(|r| !r.trim().is_empty()) else {
        return available
            .iter()
            .copied()
            .find(|e| *e == BASE_ENV)
            .ok_or_else(|| unknown_env(BASE_ENV, available, location));
    };
    if let Some(exact) = available.iter().copied().find(|e| *e == requested) {
        return Ok(exact);
    }
    let normalized = normalize_env(requested);
    available
        .iter()
        .copied()
        .find(|e| normalize_env(e) == normalized)
        .ok_or_else(|| unknown_env(requested, available, location))
}

fn unknown_env(env: &str, available: &[&str], location: crate::model::Location) -> Error {
    Error::UnknownEnvironment {
        env: env.to_owned(),
        available: available.iter().map(|s| (*s).to_owned()).collect(),
        suggestion: suggest::closest(env, available.iter().copied()),
        location,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::model::Location;

    fn loc() -> Location {
        Location {
            file: PathBuf::from("settings.json"),
            line: 2,
        }
    }

    #[test]
    fn env_aliases_and_default() {
        let envs = ["base", "dev", "prod"];
        assert_eq!(resolve_env(None, &envs, loc()).unwrap(), "base");
        assert_eq!(
            resolve_env(Some("development"), &envs, loc()).unwrap(),
            "dev"
        );
        assert_eq!(
            resolve_env(Some(" PRODUCTION "), &envs, loc()).unwrap(),
            "prod"
        );
        assert_eq!(resolve_env(Some("Dev"), &envs, loc()).unwrap(), "dev");
    }

    #[test]
    fn unknown_env_lists_and_suggests() {
        let err = resolve_env(Some("prd"), &["base", "dev", "prod"], loc()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown environment 'prd'; did you mean 'prod'? (available: base, dev, prod)"
        );
        assert_eq!(err.location().unwrap().to_string(), "settings.json:2");
        let err = resolve_env(Some("qa"), &["base", "dev"], loc()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown environment 'qa' (available: base, dev)"
        );
    }

    #[test]
    fn discovers_settings_walking_up() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        assert_eq!(discover_project(&nested), None);
        std::fs::write(dir.path().join("settings_yml.json"), "{}").unwrap();
        let found = discover_project(&nested).unwrap();
        assert_eq!(found, dir.path().join("settings_yml.json"));
        assert_eq!(discover_project(&found).unwrap(), found);
    }

    #[test]
    fn descriptor_errors_name_keys() {
        let text = r#"{
  "base_path": ".",
  "env_config": {
    "base": {
      "global_settings_path": "g.yaml",
      "pipelines_config_path": "p.yaml"
    },
    "dev": { "global_setting_path": "dev/g.yaml" }
  }
}"#;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.json");
        std::fs::write(&file, text).unwrap();
        let err = read_descriptor(&file, &mut Files::default()).unwrap_err();
        let messages: Vec<String> = err.diagnostics().iter().map(|d| d.to_string()).collect();
        let f = file.display();
        assert_eq!(
            messages,
            vec![
                format!(
                    "{f}:4: environment 'base' must set every document path; missing: nodes_config_path, input_config_path, output_config_path"
                ),
                format!(
                    "{f}:8: unknown key 'global_setting_path' in environment 'dev'; did you mean 'global_settings_path'?"
                ),
            ]
        );
    }
}
