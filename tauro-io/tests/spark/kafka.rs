//! Kafka records decoded into columns and rows encoded into records, on Spark.
//!
//! The test server has no Kafka connector, so the projections run over frames with the
//! Kafka source's columns (`key` and `value` binary, `topic`, `partition`, `offset`,
//! `timestamp`, `timestampType`): the same SQL that follows a real Kafka read.

use std::collections::BTreeMap;

use serde_json::json;
use tauro_config::{KafkaFormat, KafkaInput, KafkaKey, KafkaOutput};
use tauro_io::Frame;
use tauro_io::kafka::{decode_exprs, encode_exprs};

use crate::common::session;

/// Two records as Spark's Kafka source returns them; the second is a tombstone.
const RECORDS: &str = "SELECT CAST(k AS BINARY) AS key, CAST(v AS BINARY) AS value, \
    'clicks' AS topic, p AS partition, o AS offset, TIMESTAMP'2025-01-01 00:00:00' AS timestamp, \
    0 AS timestampType FROM VALUES \
    ('u1', '{\"id\": 7, \"url\": \"/a\", \"extra\": true}', 0, CAST(5 AS BIGINT)), \
    ('u2', NULL, 1, CAST(9 AS BIGINT)) AS t(k, v, p, o)";

fn decode(frame: Frame, codec: &KafkaInput) -> Frame {
    decode_exprs(codec, &BTreeMap::new())
        .iter()
        .fold(frame, |f, exprs| f.select_exprs(exprs))
}

#[tokio::test]
async fn json_values_become_columns_with_the_record_metadata() {
    let Some(session) = session().await else {
        return;
    };
    let raw = session.sql(RECORDS).await.unwrap();
    let codec = KafkaInput {
        value_format: Some(KafkaFormat::Json),
        value_schema: Some("id BIGINT, url STRING".into()),
        key_format: Some(KafkaFormat::String),
        key_schema: None,
    };
    let decoded = decode(raw, &codec);
    assert_eq!(
        decoded.columns().await.unwrap(),
        [
            "id",
            "url",
            "_kafka_key",
            "_kafka_topic",
            "_kafka_partition",
            "_kafka_offset",
            "_kafka_timestamp"
        ]
    );
    let rows = decoded
        .select_exprs(&[
            "id".into(),
            "url".into(),
            "_kafka_key".into(),
            "_kafka_offset".into(),
        ])
        .collect_json(10)
        .await
        .unwrap();
    assert_eq!(
        rows,
        [
            json!({"id": 7, "url": "/a", "_kafka_key": "u1", "_kafka_offset": 5}),
            json!({"_kafka_key": "u2", "_kafka_offset": 9}),
        ]
    );
}

#[tokio::test]
async fn string_values_and_json_keys() {
    let Some(session) = session().await else {
        return;
    };
    let raw = session
        .sql("SELECT CAST('{\"user\": 3}' AS BINARY) AS key, CAST('hello' AS BINARY) AS value, 't' AS topic, 0 AS partition, CAST(1 AS BIGINT) AS offset, current_timestamp() AS timestamp, 0 AS timestampType")
        .await
        .unwrap();
    let codec = KafkaInput {
        value_format: Some(KafkaFormat::String),
        value_schema: None,
        key_format: Some(KafkaFormat::Json),
        key_schema: Some("user INT".into()),
    };
    let rows = decode(raw, &codec)
        .select_exprs(&["value".into(), "_kafka_key.user AS user".into()])
        .collect_json(1)
        .await
        .unwrap();
    assert_eq!(rows, [json!({"value": "hello", "user": 3})]);
}

#[tokio::test]
async fn rows_become_key_and_value_records() {
    let Some(session) = session().await else {
        return;
    };
    let rows = session
        .sql("SELECT 7 AS id, '/a' AS url, DATE'2025-01-02' AS day")
        .await
        .unwrap();
    let json_codec = KafkaOutput {
        value_format: Some(KafkaFormat::Json),
        value_column: None,
        key: Some(KafkaKey::Columns {
            columns: vec!["id".into(), "day".into()],
            format: KafkaFormat::Json,
        }),
    };
    let encoded = rows.select_exprs(&encode_exprs(&json_codec).unwrap());
    assert_eq!(
        encoded.collect_json(1).await.unwrap(),
        [json!({
            "key": "{\"id\":7,\"day\":\"2025-01-02\"}",
            "value": "{\"id\":7,\"url\":\"/a\",\"day\":\"2025-01-02\"}"
        })]
    );
    let text_codec = KafkaOutput {
        value_format: Some(KafkaFormat::String),
        value_column: Some("url".into()),
        key: Some(KafkaKey::Expr("concat('user-', id)".into())),
    };
    let encoded = rows.select_exprs(&encode_exprs(&text_codec).unwrap());
    assert_eq!(
        encoded.collect_json(1).await.unwrap(),
        [json!({"key": "user-7", "value": "/a"})]
    );
}
