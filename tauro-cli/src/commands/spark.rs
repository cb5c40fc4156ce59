//! `tauro-cli spark start|stop|status`: a warm local Spark Connect server kept between runs.
//! Runs with `spark.remote: local` use it when it is up instead of starting their own.

use std::process::ExitCode;

use serde_json::json;
use tauro_io::LocalServerOptions;
use tauro_io::warm::{self, WarmServer, WarmStatus};

use crate::cli::{OutputFormat, SparkAction, SparkArgs};
use crate::error::CliError;

/// Runs a `spark` action.
pub async fn run(args: SparkArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let state_dir = tauro_io::default_state_dir();
    match args.action {
        SparkAction::Start { port, master } => {
            if let WarmStatus::Running(server) = warm::status(&state_dir).await? {
                emit(output, "already running", &server);
                return Ok(ExitCode::SUCCESS);
            }
            let opts = LocalServerOptions {
                port,
                master,
                state_dir,
                ..LocalServerOptions::default()
            };
            let server = warm::start(opts).await?;
            emit(output, "started", &server);
            Ok(ExitCode::SUCCESS)
        }
        SparkAction::Stop => {
            match warm::stop(&state_dir).await? {
                Some(server) => emit(output, "stopped", &server),
                None => match output {
                    OutputFormat::Human => println!("no warm Spark Connect server is running"),
                    OutputFormat::Json => println!("{}", json!({"status": "not_running"})),
                },
            }
            Ok(ExitCode::SUCCESS)
        }
        SparkAction::Status => match warm::status(&state_dir).await? {
            WarmStatus::Running(server) => {
                emit(output, "running", &server);
                Ok(ExitCode::SUCCESS)
            }
            WarmStatus::NotRunning => {
                match output {
                    OutputFormat::Human => println!("not running"),
                    OutputFormat::Json => println!("{}", json!({"status": "not_running"})),
                }
                Ok(ExitCode::from(3))
            }
            WarmStatus::Unhealthy { server, reason } => {
                match output {
                    OutputFormat::Human => {
                        println!(
                            "unhealthy: {reason} (pid {}, {})",
                            server.pid, server.remote
                        );
                        println!(
                            "hint: `tauro-cli spark stop` clears it, then `tauro-cli spark start`"
                        );
                    }
                    OutputFormat::Json => println!(
                        "{}",
                        json!({"status": "unhealthy", "reason": reason, "pid": server.pid, "remote": server.remote})
                    ),
                }
                Ok(ExitCode::from(3))
            }
        },
    }
}

fn emit(output: OutputFormat, status: &str, server: &WarmServer) {
    match output {
        OutputFormat::Human => println!(
            "{status}: {} (pid {}, log {})",
            server.remote,
            server.pid,
            server.log.display()
        ),
        OutputFormat::Json => println!(
            "{}",
            json!({"status": status.replace(' ', "_"), "remote": server.remote, "pid": server.pid,
                   "port": server.port, "log": server.log})
        ),
    }
}
