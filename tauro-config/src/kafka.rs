//! Kafka datasets: the first-class keys of `format: kafka` inputs and outputs.
//!
//! Connection and subscription keys (`bootstrap_servers`, `topics`, `starting_offsets`,
//! `security`, `topic`, ...) are folded into the dataset's `options` under Spark's names
//! (`kafka.bootstrap.servers`, `subscribe`, `startingOffsets`, `kafka.security.protocol`,
//! ...), so `options` stays the one list of what Spark receives; giving a key both ways is
//! an error. How record keys and values are (de)serialised is kept apart in
//! [`KafkaInput`] / [`KafkaOutput`]: the io layer turns it into projections.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Serialize;

use crate::diag::Diags;
use crate::fields::{Fields, describe};
use crate::model::{InputConfig, NodeConfig, PipelineConfig, PipelineType};
use crate::suggest;
use crate::tree::{Entry, Kind, Loc, Node};

/// The first-class keys of a kafka input.
pub(crate) const INPUT_KEYS: [&str; 12] = [
    "bootstrap_servers",
    "topics",
    "topic_pattern",
    "assign",
    "starting_offsets",
    "ending_offsets",
    "max_offsets_per_trigger",
    "value_format",
    "value_schema",
    "key_format",
    "key_schema",
    "security",
];

/// The first-class keys of a kafka output.
pub(crate) const OUTPUT_KEYS: [&str; 8] = [
    "bootstrap_servers",
    "topic",
    "value_format",
    "value_column",
    "key_format",
    "key_columns",
    "key",
    "security",
];

const BOOTSTRAP: &str = "kafka.bootstrap.servers";
const FORMAT_NAMES: [&str; 2] = ["json", "string"];
/// Prefixes of the Kafka client settings a `security:` section may hold.
const SECURITY_PREFIXES: [&str; 3] = ["security.", "sasl.", "ssl."];

/// How the bytes of a record's key or value are read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaFormat {
    /// A JSON document: decoded with a DDL schema into columns, encoded from columns.
    Json,
    /// UTF-8 text.
    String,
}

impl KafkaFormat {
    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "string" => Some(Self::String),
            _ => None,
        }
    }
}

/// How a kafka input's records are decoded. With no `value_format`, the frame has Spark's
/// raw Kafka columns (`key` and `value` as binary, `topic`, `partition`, `offset`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KafkaInput {
    /// `value_format`.
    pub value_format: Option<KafkaFormat>,
    /// `value_schema`: the DDL schema of JSON values (required with `value_format: json`).
    pub value_schema: Option<String>,
    /// `key_format`; without it the key stays binary.
    pub key_format: Option<KafkaFormat>,
    /// `key_schema`: the DDL schema of JSON keys (required with `key_format: json`).
    pub key_schema: Option<String>,
}

/// What a kafka output writes as the record key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaKey {
    /// `key_columns`: one column as text, or several as a JSON object (`key_format: json`).
    Columns {
        /// The columns, in order.
        columns: Vec<String>,
        /// `key_format`, default string.
        format: KafkaFormat,
    },
    /// `key`: a SQL expression, written as text.
    Expr(String),
}

/// How a kafka output's rows become records. With no `value_format`, the frame is written
/// as it is and must already have a `value` column (and optionally `key`, `headers`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KafkaOutput {
    /// `value_format`: `json` writes every column as one JSON object, `string` one column
    /// as text.
    pub value_format: Option<KafkaFormat>,
    /// `value_column`: the column written with `value_format: string` (default `value`).
    pub value_column: Option<String>,
    /// The record key, if any.
    pub key: Option<KafkaKey>,
}

/// What one kafka dataset's keys are checked and folded with.
struct Fold<'f, 'a> {
    f: &'f Fields<'a>,
    /// `kafka input 'x'` / `kafka output 'x'`.
    what: String,
    options: &'f mut BTreeMap<String, String>,
}

impl<'f, 'a> Fold<'f, 'a> {
    fn new(f: &'f Fields<'a>, what: String, options: &'f mut BTreeMap<String, String>) -> Self {
        Self { f, what, options }
    }

    /// Puts `value` under the Spark option `option`, unless `options:` already has it.
    fn set(&mut self, key: &str, entry: &Entry, option: &str, value: String, diags: &mut Diags) {
        if self.options.contains_key(option) {
            diags.error(
                entry.key_loc,
                format!(
                    "{} sets `{key}` and `options.{option}`; they mean the same, keep one",
                    self.what
                ),
            );
            return;
        }
        self.options.insert(option.to_owned(), value);
    }

    /// `bootstrap_servers`: a `host:port` or a list of them.
    fn bootstrap_servers(&mut self, diags: &mut Diags) {
        let key = "bootstrap_servers";
        let Some(entry) = self.f.get(key) else {
            return;
        };
        let servers = self.f.names_of(key, entry, diags);
        if servers.is_empty() {
            self.f
                .expected(key, entry, "a host:port or a list of them", diags);
            return;
        }
        let joined = servers
            .into_iter()
            .map(|(s, _)| s)
            .collect::<Vec<_>>()
            .join(",");
        self.set(key, entry, BOOTSTRAP, joined, diags);
    }

    /// `security:` Kafka client security settings, each passed as `kafka.<name>`.
    fn security(&mut self, diags: &mut Diags) {
        let Some(entry) = self.f.get("security") else {
            return;
        };
        let Kind::Map(map) = &entry.value.kind else {
            self.f.expected(
                "security",
                entry,
                "a mapping of Kafka security settings (security.protocol, sasl.*, ssl.*)",
                diags,
            );
            return;
        };
        for (name, e) in map {
            let bare = name.strip_prefix("kafka.").unwrap_or(name);
            if !SECURITY_PREFIXES.iter().any(|p| bare.starts_with(p)) {
                diags.error(
                    e.key_loc,
                    format!(
                        "{}: `security.{name}` is not a Kafka security setting (expected security.protocol, sasl.* or ssl.*; pass other client settings as options kafka.<name>)",
                        self.what
                    ),
                );
                continue;
            }
            let Some(value) = e.value.scalar_text() else {
                diags.error(
                    e.key_loc,
                    format!(
                        "{}: `security.{name}` must be a plain value, found {}",
                        self.what,
                        e.value.kind.type_name()
                    ),
                );
                continue;
            };
            match self.options.entry(format!("kafka.{bare}")) {
                std::collections::btree_map::Entry::Occupied(o) => diags.error(
                    e.key_loc,
                    format!(
                        "{} sets `security.{name}` and `options.{}`; they mean the same, keep one",
                        self.what,
                        o.key()
                    ),
                ),
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(value);
                }
            }
        }
    }

    /// Reports a missing required option (given neither as `key` nor in `options`).
    fn require(&self, key: &str, option: &str, at: Loc, hint: &str, diags: &mut Diags) {
        if !self.options.contains_key(option) {
            diags.error_hint(
                at,
                format!("{} needs `{key}` (or the option `{option}`)", self.what),
                hint,
            );
        }
    }

    /// A `json`/`string` format key.
    fn format(&self, key: &str, diags: &mut Diags) -> Option<(KafkaFormat, &'a Entry)> {
        let entry = self.f.get(key)?;
        let text = self.f.text_of(key, entry, diags)?;
        match KafkaFormat::parse(&text) {
            Some(format) => Some((format, entry)),
            None => {
                diags.error(
                    entry.key_loc,
                    format!(
                        "{}: unknown {key} {}{} (expected one of: {})",
                        self.what,
                        describe(key, &entry.value),
                        suggest::did_you_mean(&text, FORMAT_NAMES),
                        FORMAT_NAMES.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// A non-empty text value.
    fn non_empty(&self, key: &str, diags: &mut Diags) -> Option<(String, &'a Entry)> {
        let entry = self.f.get(key)?;
        let text = self.f.text_of(key, entry, diags)?;
        if text.trim().is_empty() {
            self.f.expected(key, entry, "a non-empty string", diags);
            return None;
        }
        Some((text.trim().to_owned(), entry))
    }
}

/// Folds and checks the kafka keys of input `name` (`loc`: its key); Spark options go into
/// `options`.
pub(crate) fn input(
    f: &Fields<'_>,
    name: &str,
    options: &mut BTreeMap<String, String>,
    loc: Loc,
    diags: &mut Diags,
) -> KafkaInput {
    let mut fold = Fold::new(f, format!("kafka input '{name}'"), options);
    fold.bootstrap_servers(diags);
    fold.security(diags);
    subscription(&mut fold, diags);
    for (key, option, ending) in [
        ("starting_offsets", "startingOffsets", false),
        ("ending_offsets", "endingOffsets", true),
    ] {
        if let Some(entry) = f.get(key)
            && let Some(value) = offsets(&fold, key, entry, ending, diags)
        {
            fold.set(key, entry, option, value, diags);
        }
    }
    if let Some(entry) = f.get("max_offsets_per_trigger")
        && let Some(n) = f.count_of("max_offsets_per_trigger", entry, 1, diags)
    {
        fold.set(
            "max_offsets_per_trigger",
            entry,
            "maxOffsetsPerTrigger",
            n.to_string(),
            diags,
        );
    }
    let at = f.get("options").map_or(loc, |e| e.key_loc);
    fold.require(
        "bootstrap_servers",
        BOOTSTRAP,
        at,
        "bootstrap_servers: \"host:9092\"",
        diags,
    );
    let (value_format, value_schema) = codec(&fold, "value", diags);
    let (key_format, key_schema) = codec(&fold, "key", diags);
    KafkaInput {
        value_format,
        value_schema,
        key_format,
        key_schema,
    }
}

/// Exactly one of `topics`, `topic_pattern`, `assign` (or Spark's `subscribe`,
/// `subscribePattern`, `assign` options).
fn subscription(fold: &mut Fold<'_, '_>, diags: &mut Diags) {
    let f = fold.f;
    let mut found: Vec<String> = ["subscribe", "subscribePattern", "assign"]
        .into_iter()
        .filter(|o| fold.options.contains_key(*o))
        .map(|o| format!("options.{o}"))
        .collect();
    if let Some(entry) = f.get("topics") {
        found.push("topics".into());
        let topics = f.names_of("topics", entry, diags);
        if topics.is_empty() {
            f.expected("topics", entry, "a topic or a list of topics", diags);
        } else {
            let joined = topics
                .into_iter()
                .map(|(t, _)| t)
                .collect::<Vec<_>>()
                .join(",");
            fold.set("topics", entry, "subscribe", joined, diags);
        }
    }
    if let Some((pattern, entry)) = fold.non_empty("topic_pattern", diags) {
        found.push("topic_pattern".into());
        fold.set("topic_pattern", entry, "subscribePattern", pattern, diags);
    }
    if let Some(entry) = f.get("assign") {
        found.push("assign".into());
        if let Some(json) = json_object(fold, "assign", entry, diags) {
            fold.set("assign", entry, "assign", json, diags);
        }
    }
    // `topics` with `options.subscribe` is reported by `set` already.
    let conflicts = found.len() > 1
        && !(found.len() == 2
            && found.contains(&"topics".to_owned())
            && found.contains(&"options.subscribe".to_owned()));
    if found.is_empty() || conflicts {
        let at = ["topics", "topic_pattern", "assign", "options"]
            .into_iter()
            .find_map(|k| f.get(k))
            .map_or(f.loc, |e| e.key_loc);
        diags.error_hint(
            at,
            format!(
                "{} needs exactly one of `topics`, `topic_pattern`, `assign` (found {})",
                fold.what,
                if found.is_empty() {
                    "none".to_owned()
                } else {
                    found.join(", ")
                }
            ),
            "topics: [clicks]",
        );
    }
}

/// `starting_offsets` / `ending_offsets`: `earliest`, `latest` or per-partition offsets (a
/// mapping, or its JSON text).
fn offsets(
    fold: &Fold<'_, '_>,
    key: &str,
    entry: &Entry,
    ending: bool,
    diags: &mut Diags,
) -> Option<String> {
    if let Kind::Map(_) = entry.value.kind {
        return json_object(fold, key, entry, diags);
    }
    let text = fold.f.text_of(key, entry, diags)?;
    let lower = text.trim().to_ascii_lowercase();
    match lower.as_str() {
        "latest" => Some(lower),
        "earliest" if !ending => Some(lower),
        "earliest" => {
            diags.error(
                entry.key_loc,
                format!(
                    "{}: `ending_offsets` cannot be earliest (the read would be empty); use latest or per-partition offsets",
                    fold.what
                ),
            );
            None
        }
        _ if text.trim_start().starts_with('{') => json_object(fold, key, entry, diags),
        _ => {
            fold.f.expected(
                key,
                entry,
                "earliest, latest or per-partition offsets such as {clicks: {\"0\": 42}}",
                diags,
            );
            None
        }
    }
}

/// A mapping (or the text of a JSON object) as compact JSON text.
fn json_object(fold: &Fold<'_, '_>, key: &str, entry: &Entry, diags: &mut Diags) -> Option<String> {
    let value = match &entry.value.kind {
        Kind::Map(_) => entry.value.to_json(),
        _ => {
            let text = fold.f.text_of(key, entry, diags)?;
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) => v,
                Err(_) => {
                    fold.f
                        .expected(key, entry, "a mapping (or JSON object)", diags);
                    return None;
                }
            }
        }
    };
    if !value.is_object() {
        fold.f
            .expected(key, entry, "a mapping (or JSON object)", diags);
        return None;
    }
    Some(value.to_string())
}

/// `<part>_format` and `<part>_schema` of an input (`part`: `value` or `key`).
fn codec(
    fold: &Fold<'_, '_>,
    part: &str,
    diags: &mut Diags,
) -> (Option<KafkaFormat>, Option<String>) {
    let format_key = format!("{part}_format");
    let schema_key = format!("{part}_schema");
    let format = fold.format(&format_key, diags);
    let schema = fold.non_empty(&schema_key, diags);
    match (&format, &schema) {
        (Some((KafkaFormat::Json, entry)), None) => diags.error_hint(
            entry.key_loc,
            format!(
                "{}: {format_key} json needs `{schema_key}`, the DDL schema of the JSON documents",
                fold.what
            ),
            format!("{schema_key}: \"id BIGINT, name STRING, ts TIMESTAMP\""),
        ),
        (Some((KafkaFormat::String, _)) | None, Some((_, entry))) => diags.error(
            entry.key_loc,
            format!(
                "{}: `{schema_key}` only applies with {format_key}: json",
                fold.what
            ),
        ),
        _ => {}
    }
    (format.map(|(f, _)| f), schema.map(|(s, _)| s))
}

/// Folds and checks the kafka keys of output `name` (`loc`: its key); Spark options go into
/// `options`.
pub(crate) fn output(
    f: &Fields<'_>,
    name: &str,
    options: &mut BTreeMap<String, String>,
    loc: Loc,
    diags: &mut Diags,
) -> KafkaOutput {
    let mut fold = Fold::new(f, format!("kafka output '{name}'"), options);
    fold.bootstrap_servers(diags);
    fold.security(diags);
    if let Some((topic, entry)) = fold.non_empty("topic", diags) {
        fold.set("topic", entry, "topic", topic, diags);
    }
    let at = f.get("options").map_or(loc, |e| e.key_loc);
    let hint = "bootstrap_servers: \"host:9092\"\n  topic: clicks";
    fold.require("bootstrap_servers", BOOTSTRAP, at, hint, diags);
    fold.require("topic", "topic", at, hint, diags);

    let value_format = fold.format("value_format", diags).map(|(v, _)| v);
    let value_column = fold.non_empty("value_column", diags);
    if let Some((_, entry)) = &value_column
        && value_format != Some(KafkaFormat::String)
    {
        diags.error(
            entry.key_loc,
            format!(
                "{}: `value_column` only applies with value_format: string",
                fold.what
            ),
        );
    }
    let key = record_key(&fold, diags);
    if key.is_some()
        && value_format.is_none()
        && let Some((k, entry)) = f.first_of(&["key_columns", "key"])
    {
        diags.error(
            entry.key_loc,
            format!(
                "{}: `{k}` needs `value_format` (without it the rows are written as they are and must carry their own key and value columns)",
                fold.what
            ),
        );
    }
    KafkaOutput {
        value_format,
        value_column: value_column.map(|(c, _)| c),
        key,
    }
}

/// `key_columns` (+ `key_format`) or `key` of an output.
fn record_key(fold: &Fold<'_, '_>, diags: &mut Diags) -> Option<KafkaKey> {
    let f = fold.f;
    let key_format = fold.format("key_format", diags);
    let expr = fold.non_empty("key", diags);
    let columns = f
        .get("key_columns")
        .map(|e| (f.names_of("key_columns", e, diags), e));
    match (columns, expr) {
        (Some(_), Some((_, entry))) => {
            diags.error(
                entry.key_loc,
                format!(
                    "{} sets `key_columns` and `key`; keep one (`key` is a SQL expression, `key_columns` names columns)",
                    fold.what
                ),
            );
            None
        }
        (None, Some((expr, _))) => {
            if let Some((_, entry)) = key_format {
                diags.error(
                    entry.key_loc,
                    format!(
                        "{}: `key_format` applies to `key_columns`; a `key` expression is written as text",
                        fold.what
                    ),
                );
            }
            Some(KafkaKey::Expr(expr))
        }
        (Some((names, entry)), None) => {
            let columns: Vec<String> = names.into_iter().map(|(n, _)| n).collect();
            let format = key_format.map_or(KafkaFormat::String, |(k, _)| k);
            if columns.is_empty() {
                f.expected("key_columns", entry, "a column or a list of columns", diags);
                return None;
            }
            if format == KafkaFormat::String && columns.len() > 1 {
                diags.error_hint(
                    entry.key_loc,
                    format!(
                        "{}: {} key columns cannot be one text key",
                        fold.what,
                        columns.len()
                    ),
                    "set `key_format: json` to write them as one JSON object, or use a `key` expression such as concat_ws(':', a, b)",
                );
            }
            Some(KafkaKey::Columns { columns, format })
        }
        (None, None) => {
            if let Some((_, entry)) = key_format {
                diags.error(
                    entry.key_loc,
                    format!("{}: `key_format` needs `key_columns`", fold.what),
                );
            }
            None
        }
    }
}

/// Reports kafka keys on a dataset of another format.
pub(crate) fn not_kafka(
    f: &Fields<'_>,
    kind: &str,
    name: &str,
    format: crate::model::DataFormat,
    keys: &[&str],
    diags: &mut Diags,
) {
    for key in keys {
        if let Some(e) = f.get(key) {
            diags.error(
                e.key_loc,
                format!("{kind} '{name}': `{key}` only applies to format kafka, not {format}"),
            );
        }
    }
}

/// Checks kafka inputs against the nodes that read them: a stream has no end
/// (`ending_offsets`), and a batch read cannot start at `latest` (it would be empty; Spark
/// rejects both).
pub(crate) fn check_reads(
    input_doc: &Node,
    pipelines: &IndexMap<String, PipelineConfig>,
    nodes: &IndexMap<String, NodeConfig>,
    inputs: &IndexMap<String, InputConfig>,
    diags: &mut Diags,
) {
    for pipeline in pipelines.values() {
        for node in pipeline.nodes.iter().filter_map(|n| nodes.get(n)) {
            let streaming = match pipeline.pipeline_type {
                PipelineType::Streaming => true,
                PipelineType::Hybrid => node.streaming.is_some(),
                PipelineType::Batch | PipelineType::Ml => false,
            };
            for input in node.input.iter().filter_map(|i| inputs.get(i)) {
                if input.kafka.is_none() {
                    continue;
                }
                let name = &input.name;
                let option = |o: &str| input.options.get(o).map(String::as_str);
                if streaming && option("endingOffsets").is_some() {
                    diags.error(
                        key_loc(input_doc, name, "ending_offsets", "endingOffsets"),
                        format!(
                            "kafka input '{name}' is read by streaming node '{}', and a stream has no `ending_offsets`; remove it (it only bounds batch reads)",
                            node.name
                        ),
                    );
                }
                if !streaming && option("startingOffsets") == Some("latest") {
                    diags.error(
                        key_loc(input_doc, name, "starting_offsets", "startingOffsets"),
                        format!(
                            "kafka input '{name}' is read by batch node '{}', and a batch read starting at latest is empty; use earliest or per-partition offsets",
                            node.name
                        ),
                    );
                }
            }
        }
    }
}

/// Where input `name` sets `key` (or `options.<option>`), else where the input is.
fn key_loc(doc: &Node, name: &str, key: &str, option: &str) -> Loc {
    let Kind::Map(map) = &doc.kind else {
        return doc.loc;
    };
    let Some(entry) = map.get(name) else {
        return doc.loc;
    };
    let Kind::Map(fields) = &entry.value.kind else {
        return entry.key_loc;
    };
    if let Some(e) = fields.get(key) {
        return e.key_loc;
    }
    match fields.get("options").map(|e| &e.value.kind) {
        Some(Kind::Map(options)) => options.get(option).map_or(entry.key_loc, |e| e.key_loc),
        _ => entry.key_loc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::testing::{location, messages, yaml};

    fn inputs(text: &str) -> (IndexMap<String, InputConfig>, Vec<String>) {
        let mut diags = Diags::default();
        let out = crate::inputs::build(&yaml(text), "/in", location, &mut diags);
        (out, messages(diags))
    }

    fn outputs(text: &str) -> (IndexMap<String, crate::model::OutputConfig>, Vec<String>) {
        let mut diags = Diags::default();
        let out = crate::outputs::build(&yaml(text), "/out", "dev", location, &mut diags);
        (out, messages(diags))
    }

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn input_keys_become_spark_options() {
        let (inputs, errors) = inputs(
            "clicks:\n  format: kafka\n  bootstrap_servers: [b1:9092, b2:9092]\n  topics: [clicks, views]\n\
             \x20 starting_offsets: {clicks: {'0': 42, '1': -2}}\n  ending_offsets: LATEST\n\
             \x20 max_offsets_per_trigger: 1000\n  value_format: json\n  value_schema: 'id BIGINT, url STRING'\n\
             \x20 key_format: string\n\
             \x20 security: {security.protocol: SASL_SSL, kafka.sasl.mechanism: PLAIN}\n\
             \x20 options: {kafka.client.id: tauro, includeHeaders: true}\n\
             p:\n  format: kafka\n  bootstrap_servers: b:9092\n  topic_pattern: 'clicks-.*'\n\
             a:\n  format: kafka\n  bootstrap_servers: b:9092\n  assign: '{\"t\": [0, 1]}'\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            inputs["clicks"].options,
            opts(&[
                ("includeHeaders", "true"),
                ("kafka.bootstrap.servers", "b1:9092,b2:9092"),
                ("kafka.client.id", "tauro"),
                ("kafka.sasl.mechanism", "PLAIN"),
                ("kafka.security.protocol", "SASL_SSL"),
                ("subscribe", "clicks,views"),
                ("startingOffsets", r#"{"clicks":{"0":42,"1":-2}}"#),
                ("endingOffsets", "latest"),
                ("maxOffsetsPerTrigger", "1000"),
            ])
        );
        assert_eq!(
            inputs["clicks"].kafka,
            Some(KafkaInput {
                value_format: Some(KafkaFormat::Json),
                value_schema: Some("id BIGINT, url STRING".into()),
                key_format: Some(KafkaFormat::String),
                key_schema: None,
            })
        );
        assert_eq!(inputs["p"].options["subscribePattern"], "clicks-.*");
        assert_eq!(inputs["a"].options["assign"], r#"{"t":[0,1]}"#);
        assert_eq!(inputs["a"].kafka, Some(KafkaInput::default()));
    }

    #[test]
    fn input_problems_point_at_their_keys() {
        let (_, errors) = inputs(
            "none:\n  format: kafka\n\
             two:\n  format: kafka\n  bootstrap_servers: b:9092\n  topics: a\n  topic_pattern: 'b.*'\n\
             both:\n  format: kafka\n  bootstrap_servers: b:9092\n  topics: a\n  options: {subscribe: a}\n\
             fmt:\n  format: kafka\n  bootstrap_servers: b:9092\n  topics: a\n  value_format: avro\n  key_schema: 'k INT'\n\
             json:\n  format: kafka\n  bootstrap_servers: b:9092\n  topics: a\n  value_format: JSON\n\
             off:\n  format: kafka\n  bootstrap_servers: b:9092\n  topics: a\n  starting_offsets: newest\n  ending_offsets: earliest\n\
             sec:\n  format: kafka\n  bootstrap_servers: b:9092\n  topics: a\n  security: {group.id: x}\n\
             csv:\n  format: csv\n  filepath: x\n  topics: a\n",
        );
        assert_eq!(
            errors,
            vec![
                "t.yaml:1: kafka input 'none' needs exactly one of `topics`, `topic_pattern`, `assign` (found none)",
                "t.yaml:1: kafka input 'none' needs `bootstrap_servers` (or the option `kafka.bootstrap.servers`)",
                "t.yaml:6: kafka input 'two' needs exactly one of `topics`, `topic_pattern`, `assign` (found topics, topic_pattern)",
                "t.yaml:11: kafka input 'both' sets `topics` and `options.subscribe`; they mean the same, keep one",
                "t.yaml:17: kafka input 'fmt': unknown value_format 'avro' (expected one of: json, string)",
                "t.yaml:18: kafka input 'fmt': `key_schema` only applies with key_format: json",
                "t.yaml:23: kafka input 'json': value_format json needs `value_schema`, the DDL schema of the JSON documents",
                "t.yaml:28: input 'off': `starting_offsets` must be earliest, latest or per-partition offsets such as {clicks: {\"0\": 42}}, found 'newest'",
                "t.yaml:29: kafka input 'off': `ending_offsets` cannot be earliest (the read would be empty); use latest or per-partition offsets",
                "t.yaml:34: kafka input 'sec': `security.group.id` is not a Kafka security setting (expected security.protocol, sasl.* or ssl.*; pass other client settings as options kafka.<name>)",
                "t.yaml:38: input 'csv': `topics` only applies to format kafka, not csv",
            ]
        );
    }

    #[test]
    fn output_keys_and_record_encoding() {
        let (out, errors) = outputs(
            "j:\n  format: kafka\n  bootstrap_servers: b:9092\n  topic: clean\n  value_format: json\n  key_columns: [user_id]\n\
             s:\n  format: kafka\n  options: {kafka.bootstrap.servers: 'b:9092', topic: t}\n  value_format: string\n  value_column: line\n  key: concat(a, ':', b)\n\
             raw:\n  format: kafka\n  bootstrap_servers: b:9092\n  topic: t\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            out["j"].options,
            opts(&[("kafka.bootstrap.servers", "b:9092"), ("topic", "clean")])
        );
        assert_eq!(
            out["j"].kafka,
            Some(KafkaOutput {
                value_format: Some(KafkaFormat::Json),
                value_column: None,
                key: Some(KafkaKey::Columns {
                    columns: vec!["user_id".into()],
                    format: KafkaFormat::String
                }),
            })
        );
        assert_eq!(
            out["s"].kafka.as_ref().and_then(|k| k.key.clone()),
            Some(KafkaKey::Expr("concat(a, ':', b)".into()))
        );
        assert_eq!(out["raw"].kafka, Some(KafkaOutput::default()));
    }

    #[test]
    fn output_problems() {
        let (_, errors) = outputs(
            "n:\n  format: kafka\n\
             k:\n  format: kafka\n  bootstrap_servers: b:9092\n  topic: t\n  key_columns: [a, b]\n  value_format: json\n\
             v:\n  format: kafka\n  bootstrap_servers: b:9092\n  topic: t\n  value_column: x\n  key: a\n",
        );
        assert_eq!(
            errors,
            vec![
                "t.yaml:1: kafka output 'n' needs `bootstrap_servers` (or the option `kafka.bootstrap.servers`)",
                "t.yaml:1: kafka output 'n' needs `topic` (or the option `topic`)",
                "t.yaml:7: kafka output 'k': 2 key columns cannot be one text key",
                "t.yaml:13: kafka output 'v': `value_column` only applies with value_format: string",
                "t.yaml:14: kafka output 'v': `key` needs `value_format` (without it the rows are written as they are and must carry their own key and value columns)",
            ]
        );
    }
}
