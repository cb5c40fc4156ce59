//! Finding and loading the project: `--project` / `TAURO_PROJECT`, else walk up from the
//! current directory; the environment from `--env` / `TAURO_ENV`, else `base`.

use std::path::PathBuf;

use tauro_config::{Context, LoadOptions};

use crate::cli::ProjectArgs;
use crate::error::CliError;

/// Loads and validates the project named by the arguments.
pub fn load(args: &ProjectArgs) -> Result<Context, CliError> {
    let project = locate(args)?;
    let options = LoadOptions {
        project,
        env: args.env.clone(),
        vars: None,
    };
    Ok(tauro_config::load_project(&options)?)
}

fn locate(args: &ProjectArgs) -> Result<PathBuf, CliError> {
    if let Some(path) = &args.project {
        return Ok(path.clone());
    }
    let cwd = std::env::current_dir().map_err(|source| CliError::Usage {
        message: format!("cannot read the current directory: {source}"),
        hint: None,
    })?;
    tauro_config::discover_project(&cwd).ok_or(CliError::NoProject { start: cwd })
}
