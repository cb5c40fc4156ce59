//! One line per finished node on stderr: `3 of 8 OK clean_orders [142 rows, 1.2s]`.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use tauro_exec::{CallbackSink, NodeStatus, ProgressEvent};

use crate::render;

/// A progress sink printing to stderr; `total` counts the nodes that run or are cached.
pub fn printer(total: usize) -> CallbackSink<impl Fn(&ProgressEvent) + Send + Sync> {
    let total = AtomicUsize::new(total);
    let done = AtomicUsize::new(0);
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let paint = move |word: &str, code: &str| {
        if color {
            format!("\x1b[{code}m{word}\x1b[0m")
        } else {
            word.to_string()
        }
    };
    CallbackSink(move |event: &ProgressEvent| match event {
        ProgressEvent::RunStarted { pipeline, nodes } if *nodes > 0 => {
            eprintln!("running pipeline {pipeline} ({nodes} nodes)");
        }
        ProgressEvent::NodeCached { node, reason } => {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            let m = total.load(Ordering::Relaxed).max(n);
            eprintln!("{n} of {m} {} {node} ({reason})", paint("CACHED", "36"));
        }
        ProgressEvent::NodeRetrying {
            node,
            attempt,
            max_attempts,
            delay,
            error,
        } => {
            eprintln!(
                "      retry {node}: attempt {attempt} of {max_attempts} in {} ({error})",
                render::duration(*delay)
            );
        }
        ProgressEvent::NodeFinished(result) => {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            let m = total.load(Ordering::Relaxed).max(n);
            let word = match result.status {
                NodeStatus::Completed => paint("OK", "32"),
                NodeStatus::Failed => paint("FAILED", "31"),
                NodeStatus::Skipped => paint("SKIPPED", "33"),
                NodeStatus::Cancelled => paint("CANCELLED", "33"),
                NodeStatus::Cached => paint("CACHED", "36"),
                NodeStatus::Pending | NodeStatus::Running | NodeStatus::Retrying => "…".into(),
            };
            let mut detail = Vec::new();
            if let Some(rows) = result.rows_written {
                detail.push(format!("{} rows", render::count(rows)));
            }
            if let Some(d) = result.duration {
                detail.push(render::duration(d));
            }
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(" [{}]", detail.join(", "))
            };
            eprintln!("{n} of {m} {word} {}{detail}", result.name);
            if let Some(err) = &result.error
                && result.status == NodeStatus::Failed
            {
                let text = render::error_report(err.error.as_ref(), err.hint.as_deref());
                for line in text.lines() {
                    eprintln!("      {line}");
                }
            }
        }
        _ => {}
    })
}
