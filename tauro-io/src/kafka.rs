//! Kafka datasets on Spark: the options a read or write sends, and the projections that
//! decode records into columns ([`decode_exprs`]) and encode rows into records
//! ([`encode_exprs`]).
//!
//! Everything here is a pure function of the configuration, so tests assert on exactly what
//! Spark receives. The configuration layer has already folded Tauro's first-class keys
//! (`bootstrap_servers`, `topics`, `starting_offsets`, `security`, `topic`, ...) into the
//! dataset's `options` under Spark's names.
//!
//! Decoded inputs have the value's columns first (the fields of `value_schema` for
//! `value_format: json`, one `value` text column for `string`), then the record's
//! metadata as `_kafka_key`, `_kafka_topic`, `_kafka_partition`, `_kafka_offset`,
//! `_kafka_timestamp` (and `_kafka_headers` with the option `includeHeaders: true`).

use std::collections::BTreeMap;

use tauro_config::{InputConfig, KafkaFormat, KafkaInput, KafkaKey, KafkaOutput, OutputConfig};

use crate::frame::Frame;
use crate::sql::{quote_identifier, string_literal};

/// Reader options that only mean something to a stream (Spark ignores them in a batch
/// read); they are left out of batch reads so the request says what it does.
const STREAM_ONLY_OPTIONS: [&str; 3] = [
    "maxOffsetsPerTrigger",
    "minOffsetsPerTrigger",
    "maxTriggerDelay",
];

/// The record's metadata columns, and the names decoded frames give them.
const METADATA: [(&str, &str); 4] = [
    ("topic", "_kafka_topic"),
    ("partition", "_kafka_partition"),
    ("offset", "_kafka_offset"),
    ("timestamp", "_kafka_timestamp"),
];

/// The options of a read of `input`: its `options` (with the first-class keys already
/// folded in), less the stream-only ones for a batch read.
pub fn reader_options(input: &InputConfig, streaming: bool) -> BTreeMap<String, String> {
    input
        .options
        .iter()
        .filter(|(k, _)| {
            streaming
                || !STREAM_ONLY_OPTIONS
                    .iter()
                    .any(|o| o.eq_ignore_ascii_case(k))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The options of a write to `output`: `topic`, `kafka.bootstrap.servers`, security
/// settings and any other `kafka.*` option, as configured.
pub fn writer_options(output: &OutputConfig) -> BTreeMap<String, String> {
    output.options.clone()
}

/// The projections (applied in order) that turn Spark's raw Kafka columns into the decoded
/// frame; empty when neither `value_format` nor `key_format` is set (raw columns).
pub fn decode_exprs(codec: &KafkaInput, options: &BTreeMap<String, String>) -> Vec<Vec<String>> {
    if codec.value_format.is_none() && codec.key_format.is_none() {
        return Vec::new();
    }
    let headers = options
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("includeHeaders") && v.eq_ignore_ascii_case("true"));
    // (expression, the column it becomes)
    let key = match codec.key_format {
        Some(KafkaFormat::Json) => {
            from_json("key", codec.key_schema.as_deref().unwrap_or_default())
        }
        Some(KafkaFormat::String) => "CAST(`key` AS STRING)".to_owned(),
        None => "`key`".to_owned(),
    };
    let mut metadata = vec![(key, "_kafka_key")];
    metadata.extend(
        METADATA
            .iter()
            .map(|(column, name)| (quote_identifier(column), *name)),
    );
    if headers {
        metadata.push(("`headers`".to_owned(), "_kafka_headers"));
    }
    let value = match codec.value_format {
        Some(KafkaFormat::Json) => format!(
            "{} AS _kafka_value",
            from_json("value", codec.value_schema.as_deref().unwrap_or_default())
        ),
        Some(KafkaFormat::String) => "CAST(`value` AS STRING) AS `value`".to_owned(),
        None => "`value`".to_owned(),
    };
    let first: Vec<String> = std::iter::once(value)
        .chain(
            metadata
                .iter()
                .map(|(expr, name)| format!("{expr} AS {name}")),
        )
        .collect();
    if codec.value_format != Some(KafkaFormat::Json) {
        return vec![first];
    }
    // The JSON value is a struct; its fields become top-level columns in a second step.
    let second = std::iter::once("_kafka_value.*".to_owned())
        .chain(metadata.iter().map(|(_, name)| (*name).to_owned()))
        .collect();
    vec![first, second]
}

/// `from_json(CAST(<column> AS STRING), '<ddl>')`.
fn from_json(column: &str, ddl: &str) -> String {
    format!(
        "from_json(CAST({} AS STRING), {})",
        quote_identifier(column),
        string_literal(ddl)
    )
}

/// The projection that turns a node's rows into Kafka records (`key`, `value`); `None`
/// without `value_format` (the rows are written as they are).
pub fn encode_exprs(codec: &KafkaOutput) -> Option<Vec<String>> {
    let value = match codec.value_format? {
        KafkaFormat::Json => "to_json(struct(*)) AS `value`".to_owned(),
        KafkaFormat::String => format!(
            "CAST({} AS STRING) AS `value`",
            quote_identifier(codec.value_column.as_deref().unwrap_or("value"))
        ),
    };
    let key = codec.key.as_ref().map(|key| match key {
        KafkaKey::Columns {
            columns,
            format: KafkaFormat::Json,
        } => format!(
            "to_json(struct({})) AS `key`",
            columns
                .iter()
                .map(|c| quote_identifier(c))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        KafkaKey::Columns {
            columns,
            format: KafkaFormat::String,
        } => format!(
            "CAST({} AS STRING) AS `key`",
            columns
                .iter()
                .map(|c| quote_identifier(c))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        KafkaKey::Expr(expr) => format!("CAST(({expr}) AS STRING) AS `key`"),
    });
    Some(key.into_iter().chain(std::iter::once(value)).collect())
}

/// `frame` (Spark's raw Kafka columns) decoded as `codec` says.
pub(crate) fn decode(
    frame: Frame,
    codec: Option<&KafkaInput>,
    options: &BTreeMap<String, String>,
) -> Frame {
    let Some(codec) = codec else {
        return frame;
    };
    decode_exprs(codec, options)
        .iter()
        .fold(frame, |frame, exprs| frame.select_exprs(exprs))
}

/// `frame` encoded into Kafka records as `codec` says.
pub(crate) fn encode(frame: &Frame, codec: Option<&KafkaOutput>) -> Frame {
    match codec.and_then(encode_exprs) {
        Some(exprs) => frame.select_exprs(&exprs),
        None => frame.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use tauro_config::{DataFormat, Location, WriteMode};

    use super::*;

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn location() -> Location {
        Location {
            file: PathBuf::from("input.yaml"),
            line: 1,
        }
    }

    fn input(options: BTreeMap<String, String>) -> InputConfig {
        InputConfig {
            name: "clicks".into(),
            format: DataFormat::Kafka,
            filepath: None,
            table: None,
            query: None,
            options,
            schema: None,
            date_column: None,
            partition_filter: None,
            expectations: Vec::new(),
            kafka: Some(KafkaInput::default()),
            location: location(),
        }
    }

    #[test]
    fn batch_reads_leave_out_stream_only_options() {
        let i = input(options(&[
            ("kafka.bootstrap.servers", "b:9092"),
            ("subscribe", "clicks"),
            ("startingOffsets", "earliest"),
            ("maxOffsetsPerTrigger", "100"),
            ("kafka.sasl.jaas.config", "x"),
        ]));
        let batch = reader_options(&i, false);
        assert_eq!(
            batch,
            options(&[
                ("kafka.bootstrap.servers", "b:9092"),
                ("subscribe", "clicks"),
                ("startingOffsets", "earliest"),
                ("kafka.sasl.jaas.config", "x"),
            ])
        );
        assert_eq!(reader_options(&i, true), i.options);
    }

    #[test]
    fn writes_send_the_configured_options() {
        let o = OutputConfig {
            name: "sent".into(),
            format: DataFormat::Kafka,
            filepath: None,
            table: None,
            table_format: None,
            write_mode: WriteMode::Append,
            partition_by: Vec::new(),
            options: options(&[("kafka.bootstrap.servers", "b:9092"), ("topic", "t")]),
            kafka: None,
            delta: None,
            location: location(),
        };
        assert_eq!(writer_options(&o), o.options);
    }

    #[test]
    fn json_values_become_columns_and_metadata_is_prefixed() {
        let codec = KafkaInput {
            value_format: Some(KafkaFormat::Json),
            value_schema: Some("id BIGINT, note STRING COMMENT 'it''s'".into()),
            key_format: Some(KafkaFormat::String),
            key_schema: None,
        };
        assert_eq!(
            decode_exprs(&codec, &options(&[("includeHeaders", "TRUE")])),
            vec![
                vec![
                    r"from_json(CAST(`value` AS STRING), 'id BIGINT, note STRING COMMENT \'it\'\'s\'') AS _kafka_value",
                    "CAST(`key` AS STRING) AS _kafka_key",
                    "`topic` AS _kafka_topic",
                    "`partition` AS _kafka_partition",
                    "`offset` AS _kafka_offset",
                    "`timestamp` AS _kafka_timestamp",
                    "`headers` AS _kafka_headers",
                ],
                vec![
                    "_kafka_value.*",
                    "_kafka_key",
                    "_kafka_topic",
                    "_kafka_partition",
                    "_kafka_offset",
                    "_kafka_timestamp",
                    "_kafka_headers",
                ],
            ]
        );
    }

    #[test]
    fn string_values_and_json_keys_in_one_step() {
        let codec = KafkaInput {
            value_format: Some(KafkaFormat::String),
            value_schema: None,
            key_format: Some(KafkaFormat::Json),
            key_schema: Some("user BIGINT".into()),
        };
        assert_eq!(
            decode_exprs(&codec, &BTreeMap::new()),
            vec![vec![
                "CAST(`value` AS STRING) AS `value`",
                "from_json(CAST(`key` AS STRING), 'user BIGINT') AS _kafka_key",
                "`topic` AS _kafka_topic",
                "`partition` AS _kafka_partition",
                "`offset` AS _kafka_offset",
                "`timestamp` AS _kafka_timestamp",
            ]]
        );
        assert!(decode_exprs(&KafkaInput::default(), &BTreeMap::new()).is_empty());
    }

    #[test]
    fn rows_become_records() {
        let json = KafkaOutput {
            value_format: Some(KafkaFormat::Json),
            value_column: None,
            key: Some(KafkaKey::Columns {
                columns: vec!["user id".into(), "day".into()],
                format: KafkaFormat::Json,
            }),
        };
        assert_eq!(
            encode_exprs(&json),
            Some(vec![
                "to_json(struct(`user id`, `day`)) AS `key`".to_owned(),
                "to_json(struct(*)) AS `value`".to_owned(),
            ])
        );
        let text = KafkaOutput {
            value_format: Some(KafkaFormat::String),
            value_column: Some("line".into()),
            key: Some(KafkaKey::Expr("concat(a, ':', b)".into())),
        };
        assert_eq!(
            encode_exprs(&text),
            Some(vec![
                "CAST((concat(a, ':', b)) AS STRING) AS `key`".to_owned(),
                "CAST(`line` AS STRING) AS `value`".to_owned(),
            ])
        );
        let one_key = KafkaOutput {
            value_format: Some(KafkaFormat::String),
            value_column: None,
            key: Some(KafkaKey::Columns {
                columns: vec!["id".into()],
                format: KafkaFormat::String,
            }),
        };
        assert_eq!(
            encode_exprs(&one_key),
            Some(vec![
                "CAST(`id` AS STRING) AS `key`".to_owned(),
                "CAST(`value` AS STRING) AS `value`".to_owned(),
            ])
        );
        assert_eq!(encode_exprs(&KafkaOutput::default()), None);
    }
}
