//! A small project written into a temporary directory, with valid defaults that each test
//! replaces file by file.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tauro_config::{Context, Error, LoadOptions, load_project};

pub const SETTINGS: &str = r#"{
  "base_path": ".",
  "env_config": {
    "base": {
      "global_settings_path": "config/global_settings.yaml",
      "pipelines_config_path": "config/pipelines.yaml",
      "nodes_config_path": "config/nodes.yaml",
      "input_config_path": "config/input.yaml",
      "output_config_path": "config/output.yaml"
    },
    "dev": {
      "global_settings_path": "config/dev/global_settings.yaml",
      "output_config_path": "config/dev/output.yaml"
    },
    "prod": {
      "global_settings_path": "config/prod/global_settings.yaml"
    }
  }
}
"#;

pub struct Project {
    pub dir: tempfile::TempDir,
    pub vars: HashMap<String, String>,
}

impl Project {
    /// A valid project: one pipeline `p` with one node `n` reading `raw`, writing `clean`.
    pub fn new() -> Self {
        let project = Project {
            dir: tempfile::tempdir().unwrap(),
            vars: HashMap::new(),
        };
        project
            .write("settings_yml.json", SETTINGS)
            .write(
                "config/global_settings.yaml",
                "input_path: data\noutput_path: out\n",
            )
            .write("config/pipelines.yaml", "p:\n  nodes: [n]\n")
            .write(
                "config/nodes.yaml",
                "n:\n  input: [raw]\n  output: [clean]\n  sql: SELECT * FROM raw\n",
            )
            .write(
                "config/input.yaml",
                "raw:\n  format: csv\n  filepath: raw.csv\n",
            )
            .write(
                "config/output.yaml",
                "clean:\n  format: parquet\n  filepath: clean\n",
            )
            .write("config/dev/global_settings.yaml", "max_workers: 2\n")
            .write("config/dev/output.yaml", "{}\n")
            .write("config/prod/global_settings.yaml", "{}\n");
        project
    }

    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn var(&mut self, name: &str, value: &str) -> &mut Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn load_env(&self, env: Option<&str>) -> Result<Context, Error> {
        load_project(&LoadOptions {
            project: self.root().to_path_buf(),
            env: env.map(str::to_owned),
            vars: Some(self.vars.clone()),
        })
    }

    pub fn load(&self) -> Context {
        match self.load_env(None) {
            Ok(ctx) => ctx,
            Err(e) => panic!("load failed: {e}"),
        }
    }

    /// The diagnostics of a failing load, as `relative/file:line: message`.
    pub fn errors_env(&self, env: Option<&str>) -> Vec<String> {
        match self.load_env(env) {
            Ok(_) => panic!("expected the load to fail"),
            Err(err) => {
                let list: Vec<String> = err
                    .diagnostics()
                    .iter()
                    .map(|d| self.relative(&d.to_string()))
                    .collect();
                assert!(!list.is_empty(), "not a diagnostics error: {err}");
                list
            }
        }
    }

    pub fn errors(&self) -> Vec<String> {
        self.errors_env(None)
    }

    /// `text` with this project's directory prefix removed.
    pub fn relative(&self, text: &str) -> String {
        let prefix = format!("{}/", self.root().display());
        text.replace(&prefix, "")
    }
}
