//! The `tauro-cli` binary: the only crate of the workspace that prints or exits.
//!
//! Exit codes: 0 ok, 1 pipeline failed, 2 usage or config error, 3 engine unreachable.

mod cli;
mod commands;
mod error;
mod project;
mod render;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, OutputFormat};
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tauro")
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprint!("{}", render::error_report(&err, None));
            return ExitCode::from(1);
        }
    };
    let output = cli.output;
    let result = runtime.block_on(run(cli));
    // Spark calls run on the blocking pool; don't wait for stragglers of a cancelled run.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => code,
        Err(err) => {
            match output {
                OutputFormat::Human => eprint!("{}", err.render()),
                // A failed run's report is the JSON document already printed.
                OutputFormat::Json if matches!(err, CliError::RunFailed { .. }) => {}
                OutputFormat::Json => println!("{}", err.to_json()),
            }
            ExitCode::from(err.exit_code())
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Exec(args) => commands::exec::run(args, cli.output).await,
        Command::Plan(args) => commands::plan::run(&args, cli.output),
        Command::Resume(args) => commands::resume::run(args, cli.output).await,
        Command::Lineage(args) => commands::lineage::run(&args, cli.output),
        Command::Validate(args) => commands::validate::run(&args, cli.output).await,
        Command::List(args) => commands::list::run(&args, cli.output),
        Command::Graph(args) => commands::graph::run(&args, cli.output),
        Command::Spark(args) => commands::spark::run(args, cli.output).await,
        Command::Stream(args) => commands::stream::manage(args, cli.output).await,
        Command::Experiment(args) => commands::experiment::run(args, cli.output).await,
        Command::Run(args) => commands::runs::run(args, cli.output).await,
        Command::Schedule(args) => commands::schedule::run(args, cli.output).await,
        Command::Backfill(args) => commands::backfill::run(args, cli.output).await,
        Command::Db(args) => commands::db::run(args, cli.output).await,
        Command::Serve(args) => commands::serve::run(args, cli.output).await,
        Command::Delta(args) => commands::delta::run(args, cli.output).await,
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
