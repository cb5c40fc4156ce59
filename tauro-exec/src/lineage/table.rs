//! Plain-text rendering of a [`RunLineage`] (for `tauro-cli lineage show`).

use std::fmt::Write as _;

use super::{DatasetLineage, NodeRecord, RunLineage, SchemaDiff};

impl RunLineage {
    /// The lineage as text: a header line, a table of the nodes (status, attempts, duration,
    /// rows read and written, delta, schema change), then each node's datasets with their
    /// schemas.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "run {}  pipeline {}  {}  {}  ({} nodes, started {})",
            self.run_id,
            self.pipeline,
            self.status,
            secs(Some(self.duration_secs)),
            self.nodes.len(),
            self.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        );
        if let Some(reason) = &self.stop_reason {
            let _ = writeln!(out, "stopped: {reason}");
        }
        let header = [
            "NODE", "STATUS", "ATTEMPT", "DURATION", "ROWS IN", "ROWS OUT", "DELTA", "SCHEMA",
        ];
        let rows: Vec<[String; 8]> = self.nodes.iter().map(node_row).collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        out.push('\n');
        push_row(&mut out, &header.map(str::to_string), &widths);
        for row in &rows {
            push_row(&mut out, row, &widths);
        }
        for node in &self.nodes {
            out.push('\n');
            let _ = writeln!(out, "{}:", node.node);
            if let Some(e) = &node.error {
                let _ = writeln!(out, "  error [{}]: {}", e.class, e.message);
            }
            for d in &node.inputs {
                dataset(&mut out, "in ", d);
            }
            for d in &node.outputs {
                dataset(&mut out, "out", d);
            }
            if let Some(diff) = &node.schema_diff
                && !diff.is_empty()
            {
                let _ = writeln!(
                    out,
                    "  schema {} -> {}: {}",
                    diff.input,
                    diff.output,
                    diff_detail(diff)
                );
            }
        }
        out
    }
}

fn node_row(n: &NodeRecord) -> [String; 8] {
    let attempt = match n.lineage_attempt {
        Some(a) if a != n.attempts => format!("{a} of {}", n.attempts),
        _ => n.attempts.to_string(),
    };
    [
        n.node.clone(),
        n.status.clone(),
        attempt,
        secs(n.duration_secs),
        count(n.rows_read),
        count(n.rows_written),
        n.row_delta
            .map_or_else(|| "-".to_string(), |d| format!("{d:+}")),
        n.schema_diff
            .as_ref()
            .map_or_else(|| "-".to_string(), diff_summary),
    ]
}

fn push_row(out: &mut String, cells: &[String; 8], widths: &[usize; 8]) {
    let mut line = String::new();
    for (cell, w) in cells.iter().zip(widths) {
        let _ = write!(line, "{cell:<w$}  ");
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

fn dataset(out: &mut String, direction: &str, d: &DatasetLineage) {
    let rows = match (d.rows, d.rows_source) {
        (Some(r), Some(super::RowsSource::UpstreamWrite)) => format!(", {r} rows (upstream write)"),
        (Some(r), _) => format!(", {r} rows"),
        (None, _) => String::new(),
    };
    let location = d
        .location
        .as_deref()
        .map(|l| format!(" ({l})"))
        .unwrap_or_default();
    let schema = d.schema.as_ref().map_or_else(
        || "schema unknown".to_string(),
        |fields| {
            let cols: Vec<String> = fields
                .iter()
                .map(|f| format!("{} {}", f.name, f.data_type))
                .collect();
            cols.join(", ")
        },
    );
    let _ = writeln!(out, "  {direction} {}{location}{rows}: {schema}", d.dataset);
    if let Some(sample) = &d.sample {
        for row in sample {
            let _ = writeln!(out, "      {row}");
        }
    }
}

fn diff_summary(d: &SchemaDiff) -> String {
    if d.is_empty() {
        return "same".to_string();
    }
    let mut parts = Vec::new();
    if !d.added.is_empty() {
        parts.push(format!("+{}", d.added.len()));
    }
    if !d.removed.is_empty() {
        parts.push(format!("-{}", d.removed.len()));
    }
    if !d.type_changed.is_empty() {
        parts.push(format!("~{}", d.type_changed.len()));
    }
    format!("{} cols", parts.join(" "))
}

fn diff_detail(d: &SchemaDiff) -> String {
    let mut parts = Vec::new();
    if !d.added.is_empty() {
        let names: Vec<&str> = d.added.iter().map(|f| f.name.as_str()).collect();
        parts.push(format!("added {}", names.join(", ")));
    }
    if !d.removed.is_empty() {
        let names: Vec<&str> = d.removed.iter().map(|f| f.name.as_str()).collect();
        parts.push(format!("removed {}", names.join(", ")));
    }
    for c in &d.type_changed {
        parts.push(format!("{} {} -> {}", c.column, c.before, c.after));
    }
    parts.join("; ")
}

fn secs(s: Option<f64>) -> String {
    match s {
        Some(s) if s < 60.0 => format!("{s:.1}s"),
        Some(s) => format!("{}m{:02}s", (s / 60.0).floor(), (s % 60.0).floor()),
        None => "-".to_string(),
    }
}

fn count(n: Option<u64>) -> String {
    n.map_or_else(|| "-".to_string(), |n| n.to_string())
}
