//! InputLoader and OutputManager over every format the server supports.

use tauro_config::{DataFormat, WriteMode};
use tauro_io::{Error, InputLoader, OutputManager};

use crate::common::*;

const SALES_CSV: &str = "id,name,amount,sale_date\n\
1,ana,10.5,2025-01-01\n\
2,bob,20.0,2025-01-02\n\
3,cy,30.25,2025-01-03\n\
4,dee,40.0,2025-01-04\n\
5,eve,50.0,2025-01-05\n";

fn write_file(dir: &std::path::Path, name: &str, text: &str) -> String {
    let sub = dir.join(name);
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("part-0"), text).unwrap();
    path_str(&sub)
}

#[tokio::test]
async fn csv_with_header_inference_explicit_schema_and_options() {
    let Some(session) = session().await else {
        return;
    };
    let dir = tempdir();
    let csv = write_file(dir.path(), "sales", SALES_CSV);
    let semi = write_file(dir.path(), "semi", "id;name\n1;a\n2;b\n");

    let inferred = input("sales", DataFormat::Csv, Some(csv.clone()));
    let mut typed = input("typed", DataFormat::Csv, Some(csv));
    typed.schema = Some("id INT, name STRING, amount DOUBLE, sale_date DATE".into());
    let mut semi_in = input("semi", DataFormat::Csv, Some(semi));
    semi_in.options.insert("sep".into(), ";".into());
    let ctx = context(vec![inferred, typed, semi_in], vec![]);
    let loader = InputLoader::new(&ctx, &session);

    let frame = loader.load("sales", None).await.unwrap();
    assert_eq!(frame.count().await.unwrap(), 5);
    // Without inferSchema every CSV column is a string; header names are kept.
    assert_eq!(
        frame.columns().await.unwrap(),
        ["id", "name", "amount", "sale_date"]
    );

    let frame = loader.load("typed", None).await.unwrap();
    assert_eq!(
        frame.schema_ddl().await.unwrap(),
        "id int,name string,amount double,sale_date date"
    );
    // The load's analysis is remembered: the same fields, and they survive a filter.
    let types: Vec<String> = frame
        .filter("id > 1")
        .schema_fields()
        .await
        .unwrap()
        .into_iter()
        .map(|f| format!("{} {}", f.name, f.data_type))
        .collect();
    assert_eq!(
        types,
        ["id int", "name string", "amount double", "sale_date date"]
    );
    let frame = loader.load("semi", None).await.unwrap();
    assert_eq!(frame.columns().await.unwrap(), ["id", "name"]);
    assert_eq!(frame.count().await.unwrap(), 2);
}

#[tokio::test]
async fn date_column_and_partition_filter_restrict_rows() {
    let Some(session) = session().await else {
        return;
    };
    let dir = tempdir();
    let csv = write_file(dir.path(), "sales", SALES_CSV);
    let mut sales = input("sales", DataFormat::Csv, Some(csv.clone()));
    sales.schema = Some("id INT, name STRING, amount DOUBLE, sale_date DATE".into());
    sales.date_column = Some("sale_date".into());
    let mut filtered = sales.clone();
    filtered.name = "filtered".into();
    filtered.partition_filter = Some("amount > 25".into());
    let mut wrong = sales.clone();
    wrong.name = "wrong".into();
    wrong.date_column = Some("no_such_column".into());
    let ctx = context(vec![sales, filtered, wrong], vec![]);
    let loader = InputLoader::new(&ctx, &session);

    let w = window("2025-01-02", "2025-01-04");
    assert_eq!(
        loader
            .load("sales", Some(w))
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        loader
            .load("sales", None)
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        5
    );
    assert_eq!(
        loader
            .load("filtered", Some(w))
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        2
    );
    let err = loader.load("wrong", Some(w)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidValue {
                what: "date_column",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn json_text_query_and_table_inputs() {
    let Some(session) = session().await else {
        return;
    };
    let dir = tempdir();
    let json = write_file(
        dir.path(),
        "j",
        "{\"id\":1,\"tags\":[\"a\"]}\n{\"id\":2,\"tags\":[]}\n",
    );
    let text = write_file(dir.path(), "t", "line one\nline two\nline three\n");
    let table = format!("io_in_table_{}", std::process::id());
    session
        .execute(&format!(
            "CREATE TABLE {table} USING parquet AS SELECT id FROM range(4)"
        ))
        .await
        .unwrap();

    let mut query = input("q", DataFormat::Query, None);
    query.query = Some("SELECT id * 2 AS twice FROM range(3)".into());
    let mut bad_query = input("bad", DataFormat::Query, None);
    bad_query.query = Some("DROP TABLE something".into());
    let mut tab = input("tab", DataFormat::Table, None);
    tab.table = Some(table.clone());
    let ctx = context(
        vec![
            input("j", DataFormat::Json, Some(json)),
            input("t", DataFormat::Text, Some(text)),
            query,
            bad_query,
            tab,
        ],
        vec![],
    );
    let loader = InputLoader::new(&ctx, &session);

    let j = loader.load("j", None).await.unwrap();
    assert_eq!(
        j.schema_ddl().await.unwrap(),
        "id bigint,tags array<string>"
    );
    let t = loader.load("t", None).await.unwrap();
    assert_eq!(t.columns().await.unwrap(), ["value"]);
    assert_eq!(t.count().await.unwrap(), 3);
    let q = loader.load("q", None).await.unwrap();
    assert_eq!(q.collect_json(5).await.unwrap().len(), 3);
    let err = loader.load("bad", None).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidValue { what: "query", .. }),
        "{err:?}"
    );
    assert_eq!(
        loader
            .load("tab", None)
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        4
    );
    session
        .execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn missing_paths_tables_and_datasets_fail_at_load() {
    let Some(session) = session().await else {
        return;
    };
    let dir = tempdir();
    let mut tab = input("tab", DataFormat::Table, None);
    tab.table = Some("io_no_such_table".into());
    let ctx = context(
        vec![
            input(
                "gone",
                DataFormat::Parquet,
                Some(path_str(&dir.path().join("gone"))),
            ),
            tab,
            input("nopath", DataFormat::Csv, None),
        ],
        vec![],
    );
    let loader = InputLoader::new(&ctx, &session);
    let err = loader.load("gone", None).await.unwrap_err();
    assert_eq!(err.error_class(), Some("PATH_NOT_FOUND"), "{err:?}");
    assert!(err.to_string().contains("`gone`"), "{err}");
    let err = loader.load("tab", None).await.unwrap_err();
    assert_eq!(
        err.error_class(),
        Some("TABLE_OR_VIEW_NOT_FOUND"),
        "{err:?}"
    );
    let err = loader.load("nopath", None).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingField {
                field: "filepath",
                ..
            }
        ),
        "{err:?}"
    );
    let err = loader.load("nobody", None).await.unwrap_err();
    assert!(matches!(err, Error::UnknownDataset { .. }), "{err:?}");
}

#[tokio::test]
async fn every_file_format_round_trips_through_outputs() {
    let Some(session) = session().await else {
        return;
    };
    let dir = tempdir();
    let formats = [
        DataFormat::Parquet,
        DataFormat::Csv,
        DataFormat::Json,
        DataFormat::Orc,
    ];
    let outputs: Vec<_> = formats
        .iter()
        .map(|f| {
            let name = format!("out_{f:?}").to_lowercase();
            output(
                &name,
                *f,
                Some(path_str(&dir.path().join(&name))),
                WriteMode::Overwrite,
            )
        })
        .collect();
    let mut text_out = output(
        "out_text",
        DataFormat::Text,
        Some(path_str(&dir.path().join("text"))),
        WriteMode::Overwrite,
    );
    text_out.options.insert("compression".into(), "none".into());
    let mut all = outputs.clone();
    all.push(text_out);
    let ctx = context(vec![], all);
    let frame = session
        .sql("SELECT id, CAST(id AS STRING) AS name, DATE'2025-01-01' + CAST(id AS INT) AS d FROM range(7)")
        .await
        .unwrap();
    let writer = OutputManager::new(&ctx, &session);
    let loader = InputLoader::new(&ctx, &session);
    for out in &outputs {
        let report = writer.write(&out.name, &frame, None).await.unwrap();
        assert_eq!(report.rows, Some(7), "{report:?}");
        assert_eq!(report.destination, out.filepath.clone().unwrap());
        let back = loader.load(&out.name, None).await.unwrap();
        assert_eq!(back.count().await.unwrap(), 7, "{}", out.name);
        let mut cols = back.columns().await.unwrap();
        cols.sort();
        assert_eq!(cols, ["d", "id", "name"], "{}", out.name);
    }
    let text_frame = session
        .sql("SELECT CAST(id AS STRING) AS value FROM range(3)")
        .await
        .unwrap();
    let report = writer.write("out_text", &text_frame, None).await.unwrap();
    assert_eq!(report.rows, Some(3));
    assert_eq!(
        loader
            .load("out_text", None)
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        3
    );
}

#[tokio::test]
async fn delta_and_avro_need_their_packages() {
    let Some(session) = session().await else {
        return;
    };
    let dir = tempdir();
    for format in [DataFormat::Delta, DataFormat::Avro] {
        let name = format!("{format:?}").to_lowercase();
        let path = path_str(&dir.path().join(&name));
        let ctx = context(
            vec![input(&format!("{name}_in"), format, Some(path.clone()))],
            vec![output(&name, format, Some(path), WriteMode::Overwrite)],
        );
        let frame = session.sql("SELECT 1 AS id").await.unwrap();
        match OutputManager::new(&ctx, &session)
            .write(&name, &frame, None)
            .await
        {
            // A server that carries the package (tauro's docker image) writes it.
            Ok(report) => assert_eq!(report.rows, Some(1)),
            Err(err) => {
                match &err {
                    Error::MissingDataSource {
                        format: f, package, ..
                    } => {
                        assert_eq!(f, &name);
                        assert!(package.is_some());
                    }
                    other => panic!("expected MissingDataSource for {name}, got {other:?}"),
                }
                assert!(
                    err.hint().unwrap().contains("--packages"),
                    "{:?}",
                    err.hint()
                );
                let err = InputLoader::new(&ctx, &session)
                    .load(&format!("{name}_in"), None)
                    .await
                    .unwrap_err();
                assert!(matches!(err, Error::MissingDataSource { .. }), "{err:?}");
            }
        }
    }
}

#[tokio::test]
async fn batch_kafka_needs_its_package_and_rate_console_are_streaming_only() {
    let Some(session) = session().await else {
        return;
    };
    let mut kafka_in = input("clicks", DataFormat::Kafka, None);
    kafka_in.options = [
        ("kafka.bootstrap.servers", "localhost:9092"),
        ("subscribe", "clicks"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // Decoding and encoding do not change what a missing connector reports.
    kafka_in.kafka = Some(tauro_config::KafkaInput {
        value_format: Some(tauro_config::KafkaFormat::Json),
        value_schema: Some("id BIGINT".into()),
        key_format: None,
        key_schema: None,
    });
    let mut kafka_out = output("sent", DataFormat::Kafka, None, WriteMode::Append);
    kafka_out.kafka = Some(tauro_config::KafkaOutput {
        value_format: Some(tauro_config::KafkaFormat::Json),
        value_column: None,
        key: None,
    });
    kafka_out.options = [
        ("kafka.bootstrap.servers", "localhost:9092"),
        ("topic", "sent"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let ctx = context(
        vec![kafka_in, input("ticks", DataFormat::Rate, None)],
        vec![
            kafka_out,
            output("screen", DataFormat::Console, None, WriteMode::Append),
        ],
    );
    let loader = InputLoader::new(&ctx, &session);
    let writer = OutputManager::new(&ctx, &session);
    let frame = session.sql("SELECT 'v' AS value").await.unwrap();

    // Kafka goes to Spark; without the package that is a MissingDataSource with a hint.
    // (A server that carries the package, tauro's docker image, analyses the read fine:
    // Kafka's schema is fixed. Its write would wait for the broker, so it is not tried.)
    let missing = |result: tauro_io::Result<()>| match result {
        Err(Error::MissingDataSource {
            format, package, ..
        }) => {
            assert_eq!(format, "kafka");
            assert!(
                package.is_some_and(|p| p.contains("spark-sql-kafka")),
                "no package"
            );
        }
        other => panic!("expected MissingDataSource for kafka, got {other:?}"),
    };
    match loader.load("clicks", None).await {
        Ok(_) => {}
        read => {
            missing(read.map(|_| ()));
            missing(writer.write("sent", &frame, None).await.map(|_| ()));
        }
    }

    // rate and console only stream.
    let err = loader.load("ticks", None).await.unwrap_err();
    assert!(
        err.to_string().contains("rate/console are streaming-only"),
        "{err}"
    );
    let err = writer.write("screen", &frame, None).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("use it in a node with a streaming: section"),
        "{err}"
    );
}
