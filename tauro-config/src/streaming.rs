//! A node's `streaming:` section: trigger, output mode, checkpoint and query name.
//!
//! ```yaml
//! streaming:
//!   trigger: {type: processing_time, interval: "5 seconds"}   # or available_now | once
//!   output_mode: append                                        # append | update | complete
//!   checkpoint_location: /abs/path                             # default: see `default_checkpoint`
//!   query_name: events_to_parquet
//! ```

use std::path::Path;

use serde::Serialize;

use crate::diag::Diags;
use crate::fields::Fields;
use crate::suggest;
use crate::tree::{Entry, Kind};

const KEYS: [&str; 4] = [
    "trigger",
    "output_mode",
    "checkpoint_location",
    "query_name",
];
const TRIGGER_KEYS: [&str; 2] = ["type", "interval"];
const TRIGGER_TYPES: [&str; 4] = ["processing_time", "available_now", "once", "continuous"];
const OUTPUT_MODES: [&str; 3] = ["append", "update", "complete"];

/// When a streaming query runs its micro-batches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "interval")]
pub enum StreamTrigger {
    /// A micro-batch every interval (Spark interval text, e.g. `5 seconds`).
    ProcessingTime(String),
    /// Process everything available at start (in several batches), then stop.
    AvailableNow,
    /// One micro-batch, then stop (deprecated in Spark in favour of available-now).
    Once,
    /// Continuous processing with this checkpoint interval (experimental in Spark).
    Continuous(String),
}

impl Default for StreamTrigger {
    /// Tauro's default: processing time, every 10 seconds.
    fn default() -> Self {
        Self::ProcessingTime("10 seconds".into())
    }
}

impl StreamTrigger {
    /// True for triggers whose query ends by itself (available-now, once).
    pub fn terminates(&self) -> bool {
        matches!(self, Self::AvailableNow | Self::Once)
    }
}

/// Which rows a streaming query writes at each trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputMode {
    /// Only new rows (the default).
    #[default]
    Append,
    /// Rows that changed since the last trigger.
    Update,
    /// The whole result table (aggregations only).
    Complete,
}

impl OutputMode {
    /// Parses a mode name (any case).
    pub fn parse(s: &str) -> Option<OutputMode> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "append" => Self::Append,
            "update" => Self::Update,
            "complete" => Self::Complete,
            _ => return None,
        })
    }

    /// Spark's name of the mode.
    pub fn as_spark(self) -> &'static str {
        match self {
            Self::Append => "append",
            Self::Update => "update",
            Self::Complete => "complete",
        }
    }
}

impl std::fmt::Display for OutputMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_spark())
    }
}

/// A node's `streaming:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamingSettings {
    /// `trigger`, default processing time every 10 seconds.
    pub trigger: StreamTrigger,
    /// `output_mode`, default append.
    pub output_mode: OutputMode,
    /// `checkpoint_location` (absolute); `None` means [`default_checkpoint`].
    pub checkpoint_location: Option<String>,
    /// `query_name`; `None` means `<pipeline>_<node>`.
    pub query_name: Option<String>,
}

/// The default checkpoint of a streaming node: `<output_path>/_checkpoints/<pipeline>/<node>`.
///
/// Stable across runs, so a restarted query continues from where it stopped, and distinct
/// per pipeline and node, so two queries never share one.
pub fn default_checkpoint(output_path: &str, pipeline: &str, node: &str) -> String {
    format!(
        "{}/_checkpoints/{pipeline}/{node}",
        output_path.trim_end_matches('/')
    )
}

/// Checks Spark's interval text: `<positive integer> <unit>` with a second-or-longer unit
/// (or milliseconds), e.g. `5 seconds`, `1 minute`, `500 milliseconds`.
pub fn parse_interval(text: &str) -> Option<std::time::Duration> {
    let mut parts = text.split_whitespace();
    let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let millis = match unit.to_ascii_lowercase().as_str() {
        "millisecond" | "milliseconds" => 1,
        "second" | "seconds" => 1_000,
        "minute" | "minutes" => 60_000,
        "hour" | "hours" => 3_600_000,
        "day" | "days" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(millis).map(std::time::Duration::from_millis)
}

/// Parses a node's `streaming:` entry (already known to be present).
pub(crate) fn parse(node: &str, entry: &Entry, diags: &mut Diags) -> Option<StreamingSettings> {
    let f = Fields::of(
        format!("node '{node}': streaming"),
        entry.key_loc,
        &entry.value,
        diags,
    )?;
    f.check_keys(&KEYS, diags);
    let mut settings = StreamingSettings::default();
    let mut ok = true;
    if let Some(t) = f.get("trigger") {
        match trigger(node, t, diags) {
            Some(t) => settings.trigger = t,
            None => ok = false,
        }
    }
    if let Some((m, text)) = f
        .get("output_mode")
        .and_then(|m| f.text_of("output_mode", m, diags).map(|t| (m, t)))
    {
        match OutputMode::parse(&text) {
            Some(mode) => settings.output_mode = mode,
            None => {
                diags.error(
                    m.value.loc,
                    format!(
                        "node '{node}': unknown output_mode '{text}', expected one of {}{}",
                        OUTPUT_MODES.join(", "),
                        suggest::did_you_mean(&text, OUTPUT_MODES)
                    ),
                );
                ok = false;
            }
        }
    }
    if let Some((c, path)) = f
        .get("checkpoint_location")
        .and_then(|c| f.text_of("checkpoint_location", c, diags).map(|t| (c, t)))
    {
        if !is_absolute(&path) {
            diags.error(
                c.value.loc,
                format!(
                    "node '{node}': checkpoint_location '{path}' must be absolute (a path or a URI such as s3://...)"
                ),
            );
            ok = false;
        } else {
            settings.checkpoint_location = Some(path);
        }
    }
    settings.query_name = f.text("query_name", diags);
    ok.then_some(settings)
}

fn is_absolute(path: &str) -> bool {
    Path::new(path).is_absolute() || path.contains("://") || path.starts_with("dbfs:/")
}

fn trigger(node: &str, entry: &Entry, diags: &mut Diags) -> Option<StreamTrigger> {
    let (kind, interval, loc) = match &entry.value.kind {
        Kind::Str(s) => {
            let s = s.trim();
            // A bare interval is a processing-time trigger.
            if parse_interval(s).is_some() {
                return Some(StreamTrigger::ProcessingTime(s.to_string()));
            }
            (s.to_string(), None, entry.value.loc)
        }
        Kind::Map(_) => {
            let f = Fields::of(
                format!("node '{node}': streaming.trigger"),
                entry.key_loc,
                &entry.value,
                diags,
            )?;
            f.check_keys(&TRIGGER_KEYS, diags);
            let Some(t) = f.get("type") else {
                diags.error(
                    entry.key_loc,
                    format!(
                        "node '{node}': streaming.trigger needs `type` ({})",
                        TRIGGER_TYPES.join(", ")
                    ),
                );
                return None;
            };
            let kind = f.text_of("type", t, diags)?;
            let interval = f
                .get("interval")
                .and_then(|i| f.text_of("interval", i, diags).map(|s| (s, i.value.loc)));
            (kind, interval, t.value.loc)
        }
        Kind::Null | Kind::Bool(_) | Kind::Num(_) | Kind::Seq(_) => {
            diags.error(
                entry.key_loc,
                format!(
                    "node '{node}': streaming.trigger must be one of {} or a mapping {{type, interval}}",
                    TRIGGER_TYPES.join(", ")
                ),
            );
            return None;
        }
    };
    let needs_interval = |default: Option<&str>, diags: &mut Diags| match (&interval, default) {
        (Some((text, iloc)), _) => {
            if parse_interval(text).is_some() {
                Some(text.trim().to_string())
            } else {
                diags.error(
                    *iloc,
                    format!(
                        "node '{node}': invalid trigger interval '{text}', expected e.g. \"5 seconds\" (a positive whole number and a unit: milliseconds, seconds, minutes, hours, days)"
                    ),
                );
                None
            }
        }
        (None, Some(d)) => Some(d.to_string()),
        (None, None) => {
            diags.error(
                loc,
                format!("node '{node}': a {kind} trigger needs an `interval`"),
            );
            None
        }
    };
    match kind.to_ascii_lowercase().as_str() {
        "processing_time" | "processingtime" => {
            needs_interval(None, diags).map(StreamTrigger::ProcessingTime)
        }
        "continuous" => needs_interval(Some("1 second"), diags).map(StreamTrigger::Continuous),
        "available_now" | "availablenow" => Some(StreamTrigger::AvailableNow),
        "once" => Some(StreamTrigger::Once),
        _ => {
            diags.error(
                loc,
                format!(
                    "node '{node}': unknown trigger type '{kind}', expected one of {}{}",
                    TRIGGER_TYPES.join(", "),
                    suggest::did_you_mean(&kind, TRIGGER_TYPES)
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(
            parse_interval("5 seconds"),
            Some(std::time::Duration::from_secs(5))
        );
        assert_eq!(
            parse_interval("1 Minute"),
            Some(std::time::Duration::from_secs(60))
        );
        assert_eq!(parse_interval("0 seconds"), None);
        assert_eq!(parse_interval("1.5 seconds"), None);
        assert_eq!(parse_interval("5 weeks"), None);
        assert_eq!(parse_interval("5"), None);
    }

    #[test]
    fn default_checkpoint_is_per_pipeline_and_node() {
        assert_eq!(
            default_checkpoint("/out/", "p", "n"),
            "/out/_checkpoints/p/n"
        );
    }
}
