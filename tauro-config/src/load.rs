//! Entry points: load a project from its settings file, or build one from in-memory sources.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::build::{self, BuildEnv};
use crate::descriptor::{self, BASE_ENV, DocKind, DocPath};
use crate::diag::{Diags, Files};
use crate::error::Result;
use crate::interp::VarSource;
use crate::merge::merge;
use crate::model::{Context, Location};
use crate::parse;
use crate::tree::{Loc, Node};

/// How to load a project from disk.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The project directory (holding the settings file) or the settings file itself.
    pub project: PathBuf,
    /// The environment (`--env` / `TAURO_ENV`); `None` is `base`. `development` and
    /// `production` are accepted for `dev` and `prod`.
    pub env: Option<String>,
    /// Variables for `${…}`; `None` reads the process environment.
    pub vars: Option<HashMap<String, String>>,
}

impl LoadOptions {
    /// Options for the project at `project`, environment `base`, process variables.
    pub fn new(project: impl Into<PathBuf>) -> Self {
        Self {
            project: project.into(),
            env: None,
            vars: None,
        }
    }

    /// Selects an environment.
    pub fn with_env(mut self, env: impl Into<String>) -> Self {
        self.env = Some(env.into());
        self
    }

    /// Uses `vars` instead of the process environment for `${…}`.
    pub fn with_vars(mut self, vars: HashMap<String, String>) -> Self {
        self.vars = Some(vars);
        self
    }
}

/// Loads, merges, interpolates and validates the project described by `opts`.
///
/// Every problem in the project's files is reported at once as
/// [`Error::Invalid`](crate::Error::Invalid), each with its `file:line`.
pub fn load_project(opts: &LoadOptions) -> Result<Context> {
    let settings = descriptor::locate_settings(&opts.project)?;
    let mut files = Files::default();
    let desc = descriptor::read_descriptor(&settings, &mut files)?;
    let available: Vec<&str> = desc.envs.keys().map(String::as_str).collect();
    let env = descriptor::resolve_env(
        opts.env.as_deref(),
        &available,
        files.location(desc.env_config_loc),
    )?
    .to_owned();
    let mut diags = Diags::default();
    let mut docs: Vec<Node> = Vec::with_capacity(5);
    for kind in DocKind::ALL {
        let base = desc
            .envs
            .get(BASE_ENV)
            .and_then(|paths| paths[kind.index()].as_ref());
        let overlay = desc
            .envs
            .get(&env)
            .filter(|_| env != BASE_ENV)
            .and_then(|paths| paths[kind.index()].as_ref())
            .filter(|o| base.is_none_or(|b| b.path != o.path));
        let mut doc = base
            .and_then(|b| read_doc(b, &mut files, &mut diags))
            .unwrap_or_else(|| Node::empty_map(Loc::default()));
        if let Some(overlay) = overlay.and_then(|o| read_doc(o, &mut files, &mut diags)) {
            merge(&mut doc, overlay);
        }
        docs.push(doc);
    }
    diags.finish(&files)?;
    let vars = opts
        .vars
        .as_ref()
        .map_or(VarSource::Process, VarSource::Map);
    let how = BuildEnv {
        env: &env,
        project_dir: &desc.project_dir,
        vars,
    };
    build::build(into_docs(docs), how, &files)
}

fn into_docs(docs: Vec<Node>) -> build::Docs {
    let mut it = docs.into_iter();
    let mut next = || it.next().unwrap_or_else(|| Node::empty_map(Loc::default()));
    [next(), next(), next(), next(), next()]
}

/// Reads and parses one document; problems are reported at `doc.loc` (the settings file).
fn read_doc(doc: &DocPath, files: &mut Files, diags: &mut Diags) -> Option<Node> {
    let text = match parse::read_text(&doc.path) {
        Ok(text) => text,
        Err(message) => {
            diags.error(doc.loc, message);
            return None;
        }
    };
    let id = files.add(&doc.path);
    match parse::parse_by_suffix(&text, &doc.path, id) {
        Ok(node) => Some(node),
        Err((loc, message)) => {
            diags.error(loc, message);
            None
        }
    }
}

/// One in-memory configuration document.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A YAML or JSON file (by suffix); relative to [`Sources::project_dir`].
    Path(PathBuf),
    /// An already parsed value (no line numbers in messages).
    Value(serde_json::Value),
    /// YAML or JSON text.
    Text(String),
}

impl From<serde_json::Value> for Source {
    fn from(value: serde_json::Value) -> Self {
        Source::Value(value)
    }
}

/// An environment's documents, each merged over `base` key by key when present.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvSources {
    /// Global settings overrides.
    pub global_settings: Option<Source>,
    /// Pipelines overrides.
    pub pipelines: Option<Source>,
    /// Nodes overrides.
    pub nodes: Option<Source>,
    /// Input overrides.
    pub input: Option<Source>,
    /// Output overrides.
    pub output: Option<Source>,
}

/// A project given in memory (for embedders): the five `base` documents, optional
/// environments, and where relative paths start.
#[derive(Debug, Clone, PartialEq)]
pub struct Sources {
    /// Directory relative paths are resolved against (default: the current directory).
    pub project_dir: PathBuf,
    /// Global settings.
    pub global_settings: Source,
    /// Pipelines.
    pub pipelines: Source,
    /// Nodes.
    pub nodes: Source,
    /// Input datasets.
    pub input: Source,
    /// Output datasets.
    pub output: Source,
    /// Named environments over `base`. [`Context::from_sources`] accepts `base` and these.
    pub envs: IndexMap<String, EnvSources>,
    /// Variables for `${…}`; `None` reads the process environment.
    pub vars: Option<HashMap<String, String>>,
}

impl Sources {
    /// The five `base` documents; no environments, process variables, current directory.
    pub fn new(
        global_settings: impl Into<Source>,
        pipelines: impl Into<Source>,
        nodes: impl Into<Source>,
        input: impl Into<Source>,
        output: impl Into<Source>,
    ) -> Self {
        Self {
            project_dir: PathBuf::from("."),
            global_settings: global_settings.into(),
            pipelines: pipelines.into(),
            nodes: nodes.into(),
            input: input.into(),
            output: output.into(),
            envs: IndexMap::new(),
            vars: None,
        }
    }

    /// Sets the directory relative paths are resolved against.
    pub fn with_project_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.project_dir = dir.into();
        self
    }

    /// Declares an environment.
    pub fn with_env(mut self, name: impl Into<String>, env: EnvSources) -> Self {
        self.envs.insert(name.into(), env);
        self
    }

    /// Uses `vars` instead of the process environment for `${…}`.
    pub fn with_vars(mut self, vars: HashMap<String, String>) -> Self {
        self.vars = Some(vars);
        self
    }
}

impl Context {
    /// Builds a context from in-memory documents for environment `env` (`base` or one of
    /// [`Sources::envs`]; an empty name is `base`).
    pub fn from_sources(sources: Sources, env: &str) -> Result<Context> {
        let project_dir = std::path::absolute(&sources.project_dir)
            .map(|p| PathBuf::from(crate::paths::clean(&p)))
            .unwrap_or_else(|_| sources.project_dir.clone());
        let mut files = Files::default();
        let mut available: Vec<&str> = vec![BASE_ENV];
        available.extend(
            sources
                .envs
                .keys()
                .map(String::as_str)
                .filter(|e| *e != BASE_ENV),
        );
        let label = Location {
            file: PathBuf::from("<memory:sources>"),
            line: 0,
        };
        let env = descriptor::resolve_env(Some(env), &available, label)?.to_owned();
        let overlay = sources.envs.get(&env).filter(|_| env != BASE_ENV);
        let base = [
            &sources.global_settings,
            &sources.pipelines,
            &sources.nodes,
            &sources.input,
            &sources.output,
        ];
        let mut diags = Diags::default();
        let mut docs: Vec<Node> = Vec::with_capacity(5);
        for (kind, source) in DocKind::ALL.into_iter().zip(base) {
            let mut doc = source_doc(source, kind, BASE_ENV, &project_dir, &mut files, &mut diags)
                .unwrap_or_else(|| Node::empty_map(Loc::default()));
            let extra = overlay.and_then(|o| match kind {
                DocKind::Global => o.global_settings.as_ref(),
                DocKind::Pipelines => o.pipelines.as_ref(),
                DocKind::Nodes => o.nodes.as_ref(),
                DocKind::Input => o.input.as_ref(),
                DocKind::Output => o.output.as_ref(),
            });
            if let Some(source) = extra
                && let Some(over) =
                    source_doc(source, kind, &env, &project_dir, &mut files, &mut diags)
            {
                merge(&mut doc, over);
            }
            docs.push(doc);
        }
        diags.finish(&files)?;
        let vars = sources
            .vars
            .as_ref()
            .map_or(VarSource::Process, VarSource::Map);
        let how = BuildEnv {
            env: &env,
            project_dir: &project_dir,
            vars,
        };
        build::build(into_docs(docs), how, &files)
    }
}

fn source_doc(
    source: &Source,
    kind: DocKind,
    env: &str,
    project_dir: &Path,
    files: &mut Files,
    diags: &mut Diags,
) -> Option<Node> {
    let label = if env == BASE_ENV {
        format!("<memory:{}>", kind.label())
    } else {
        format!("<memory:{env}:{}>", kind.label())
    };
    match source {
        Source::Path(path) => {
            let path = project_dir.join(path);
            let loc = Loc {
                file: files.add(Path::new(&label)),
                line: 0,
            };
            read_doc(&DocPath { path, loc }, files, diags)
        }
        Source::Value(value) => {
            let loc = Loc {
                file: files.add(Path::new(&label)),
                line: 0,
            };
            Some(Node::from_json(value, loc))
        }
        Source::Text(text) => {
            let id = files.add(Path::new(&label));
            match parse::parse_yaml(text, id) {
                Ok(node) => Some(node),
                Err((loc, message)) => {
                    diags.error(loc, message);
                    None
                }
            }
        }
    }
}
