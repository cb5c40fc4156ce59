//! Streaming and hybrid pipelines under `exec`: batch nodes first (hybrid), then the
//! streaming queries until a stop condition (`--until-available`, `--timeout`, Ctrl-C).

use std::process::ExitCode;
use std::sync::Arc;

use tauro_config::Context;
use tauro_exec::{EventBus, FanoutSink, ProgressEvent, RunInfo};
use tauro_io::QueryException;
use tauro_streaming::{HybridReport, HybridRunner, HybridStatus, QueryProgress, StopCondition};

use crate::cli::{EngineArgs, ExecArgs, OutputFormat, StreamAction, StreamArgs, StreamMode};
use crate::commands::run::{self, RunRequest};
use crate::error::CliError;
use crate::render;

/// Runs a `streaming` or `hybrid` pipeline.
pub async fn run(
    ctx: Arc<Context>,
    args: &ExecArgs,
    output: OutputFormat,
) -> Result<ExitCode, CliError> {
    let human = output == OutputFormat::Human;
    let request = RunRequest::new(&ctx, &args.window, &args.select)?.with_ml(&ctx, &args.ml)?;
    let detach = args.mode == StreamMode::Async;
    if detach && is_local(&ctx, &args.engine) {
        return Err(CliError::Usage {
            message: "--mode async needs a Spark Connect server that outlives this command".into(),
            hint: Some(
                "start a warm one with `tauro-cli spark start` (runs with spark.remote: local use it), \
                 or pass --remote sc://host:port"
                    .into(),
            ),
        });
    }
    let until_available =
        args.until_available || tauro_streaming::every_trigger_terminates(&ctx, &request.pipeline);
    if let Some(pipeline) = ctx.pipelines.get(&request.pipeline) {
        run::refuse_unsupported(
            &ctx,
            &args.engine,
            pipeline.nodes.iter().map(String::as_str),
        )?;
    }
    let connected = run::connect(&ctx, &args.engine, human).await?;
    let (cancel, ctrl_c) = run::ctrl_c_token();
    let run_id = tauro_exec::new_run_id();
    let bus = EventBus::from_settings(&ctx);
    let mut sinks = FanoutSink::new().with(bus.clone());
    if human {
        sinks = sinks.with(crate::commands::progress::printer(0));
    }
    let executor = run::executor(
        &ctx,
        connected.engine.clone(),
        &args.engine,
        cancel.clone(),
        &run_id,
        None,
    )
    .with_ml(request.ml.clone())
    .with_events(sinks);
    let mut runner = HybridRunner::new(
        Arc::clone(&ctx),
        request.pipeline.clone(),
        connected.engine.clone(),
        executor,
    )
    .with_window(request.window)
    .with_stop(StopCondition {
        until_available: until_available && !detach,
        timeout: args.timeout,
        cancel: Some(cancel),
    })
    .with_detach(detach)
    .with_registry(Arc::new(run::registry()));
    runner = runner.with_progress(Arc::new(StreamPrinter {
        print: human && !detach,
        bus: bus.clone(),
        run: RunInfo::new(run_id.clone(), request.pipeline.clone()),
    }));
    if human && detach {
        eprintln!("starting the queries and leaving them running (--mode async)");
    } else if human {
        match (until_available, args.timeout) {
            (true, _) => eprintln!("streaming until every query has processed what is available"),
            (false, Some(t)) => eprintln!(
                "streaming for {} (Ctrl-C stops earlier)",
                render::duration(t)
            ),
            (false, None) => eprintln!("streaming until Ctrl-C"),
        }
    }
    let result = runner.run().await;
    ctrl_c.abort();
    run::stop_server(connected.server, human).await;
    let delivery = bus.flush(std::time::Duration::from_secs(5)).await;
    if !delivery.complete {
        tracing::warn!(?delivery, "some hook deliveries did not finish");
    }
    let report = result?;
    match output {
        OutputFormat::Human => print!("{}", summary(&report, &ctx)),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string(&report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        ),
    }
    match report.status {
        HybridStatus::Succeeded => Ok(ExitCode::SUCCESS),
        _ => Err(CliError::RunFailed {
            pipeline: report.pipeline.clone(),
            status: format!("{:?}", report.status).to_lowercase(),
            reason: report
                .stopped_by
                .clone()
                .unwrap_or_else(|| "a query failed".into()),
        }),
    }
}

/// True when runs use an embedded server that stops with this process: `local` without a
/// warm server.
fn is_local(ctx: &Context, engine: &EngineArgs) -> bool {
    let remote = engine.remote.as_deref().unwrap_or(&ctx.global.spark.remote);
    remote.trim().eq_ignore_ascii_case("local")
        && !matches!(
            tauro_io::warm::state_file(&tauro_io::default_state_dir()).try_exists(),
            Ok(true)
        )
}

/// `tauro-cli stream status|stop`.
pub async fn manage(args: StreamArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let (project, pipeline, remote, stop) = match args.action {
        StreamAction::Status {
            project,
            pipeline,
            remote,
        } => (project, pipeline, remote, None),
        StreamAction::Stop {
            project,
            pipeline,
            remote,
            timeout,
        } => (project, pipeline, remote, Some(timeout)),
    };
    let ctx = crate::project::load(&project)?;
    let pipeline = ctx.pipeline(&pipeline)?.name.clone();
    let engine_args = EngineArgs {
        remote,
        engine: None,
        session_id: None,
        max_workers: None,
        continue_on_error: false,
        retry: None,
        track: Vec::new(),
    };
    if is_local(&ctx, &engine_args) {
        return Err(CliError::Usage {
            message:
                "no Spark Connect server to ask: spark.remote is local and no warm server runs"
                    .into(),
            hint: Some("pass --remote sc://host:port (the server the queries run on)".into()),
        });
    }
    let connected = run::connect(&ctx, &engine_args, false).await?;
    let states = match stop {
        None => tauro_streaming::stream_status(&ctx, &connected.engine, &pipeline).await?,
        Some(timeout) => {
            tauro_streaming::stream_stop(&ctx, &connected.engine, &pipeline, timeout).await?
        }
    };
    match output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string(&states).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        ),
        OutputFormat::Human => {
            if states.is_empty() {
                println!("no recorded queries for pipeline {pipeline}");
            }
            let rows: Vec<Vec<String>> = states
                .iter()
                .map(|s| {
                    vec![
                        s.entry.node.clone(),
                        s.entry.query_name.clone().unwrap_or_default(),
                        s.status.clone(),
                        s.error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            if !rows.is_empty() {
                print!(
                    "{}",
                    render::table(&["node", "query", "status", "error"], &rows)
                );
            }
        }
    }
    let failed = states.iter().any(|s| s.error.is_some());
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Micro-batch progress: a line on stderr, and a `stream_progress` event for the hooks.
struct StreamPrinter {
    print: bool,
    bus: EventBus,
    run: RunInfo,
}

impl tauro_streaming::ProgressSink for StreamPrinter {
    fn on_progress(&self, p: &QueryProgress) {
        let event = ProgressEvent::StreamProgress {
            node: p.key.rsplit('.').next().unwrap_or(&p.key).to_string(),
            batch_id: u64::try_from(p.batch_id).ok(),
            rows: Some(p.input_rows),
            details: serde_json::to_value(p).unwrap_or_default(),
        };
        if let Err(e) = tauro_exec::ProgressSink::on_run_event(&self.bus, &self.run, &event) {
            tracing::warn!(error = %e, "stream progress event not delivered");
        }
        if !self.print {
            return;
        }
        eprintln!(
            "      stream {} batch {}: {} rows ({:.0} rows/s, {})",
            p.key,
            p.batch_id,
            render::count(p.input_rows),
            p.processed_rows_per_second,
            render::duration(std::time::Duration::from_millis(p.batch_duration_ms))
        );
    }

    fn on_terminated(&self, key: &str, exception: Option<&QueryException>) {
        if !self.print {
            return;
        }
        match exception {
            Some(e) => eprintln!("      stream {key} failed: {}", e.message),
            None => eprintln!("      stream {key} stopped"),
        }
    }
}

fn summary(report: &HybridReport, ctx: &Context) -> String {
    let mut out = String::new();
    if let Some(batch) = &report.batch {
        out.push_str(&run::summary(batch, ctx, None));
    }
    let rows: Vec<Vec<String>> = report
        .streams
        .iter()
        .map(|s| {
            vec![
                s.node.clone(),
                s.query_name.clone().unwrap_or_default(),
                s.batches.to_string(),
                render::count(s.input_rows),
                s.sink.clone(),
                s.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    out.push_str(&format!(
        "\nstreaming {} {}{}\n",
        report.pipeline,
        format!("{:?}", report.status).to_lowercase(),
        report
            .stopped_by
            .as_ref()
            .map_or_else(String::new, |s| format!(" (stopped: {s})"))
    ));
    out.push_str(&render::table(
        &["node", "query", "batches", "input rows", "sink", "error"],
        &rows,
    ));
    out
}
