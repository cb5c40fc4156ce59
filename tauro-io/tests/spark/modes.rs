//! Write modes, idempotent partitioned re-runs and table outputs.

use tauro_config::{DataFormat, WriteMode};
use tauro_io::{Error, Frame, InputLoader, OutputManager, Session};

use crate::common::*;

/// `per_day` rows for each day of the window, with a `day` date column.
async fn daily_rows(session: &Session, start: &str, end: &str, per_day: u32) -> Frame {
    session
        .sql(&format!(
            "SELECT day, CAST(n AS INT) AS n, concat('r', n) AS label \
             FROM (SELECT explode(sequence(DATE'{start}', DATE'{end}')) AS day) \
             LATERAL VIEW explode(sequence(1, {per_day})) t AS n"
        ))
        .await
        .unwrap()
}

async fn count(loader: &InputLoader<'_>, name: &str) -> u64 {
    loader
        .load(name, None)
        .await
        .unwrap()
        .count()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_write_mode_on_a_path() {
    let Some(session) = session().await else {
        return;
    };
    let dir = tempdir();
    let path = path_str(&dir.path().join("people"));
    let mk = |name: &str, mode| output(name, DataFormat::Parquet, Some(path.clone()), mode);
    let ctx = context(
        vec![],
        vec![
            mk("overwrite", WriteMode::Overwrite),
            mk("append", WriteMode::Append),
            mk("ignore", WriteMode::Ignore),
            mk("error", WriteMode::Error),
        ],
    );
    let writer = OutputManager::new(&ctx, &session);
    let loader = InputLoader::new(&ctx, &session);
    let frame = session.sql("SELECT id FROM range(3)").await.unwrap();

    // `error` on a fresh path writes.
    assert_eq!(
        writer.write("error", &frame, None).await.unwrap().rows,
        Some(3)
    );
    let err = writer.write("error", &frame, None).await.unwrap_err();
    assert_eq!(err.error_class(), Some("PATH_ALREADY_EXISTS"), "{err:?}");
    assert!(err.hint().unwrap().contains("write_mode"));

    assert_eq!(
        writer.write("append", &frame, None).await.unwrap().rows,
        Some(3)
    );
    assert_eq!(count(&loader, "append").await, 6);

    // `ignore` on an existing path writes nothing.
    assert_eq!(
        writer.write("ignore", &frame, None).await.unwrap().rows,
        Some(0)
    );
    assert_eq!(count(&loader, "ignore").await, 6);

    assert_eq!(
        writer.write("overwrite", &frame, None).await.unwrap().rows,
        Some(3)
    );
    assert_eq!(count(&loader, "overwrite").await, 3);
}

#[tokio::test]
async fn rerunning_a_window_replaces_its_partitions() {
    let Some(session) = session().await else {
        return;
    };
    let dir = tempdir();
    let mut daily = output(
        "daily",
        DataFormat::Parquet,
        Some(path_str(&dir.path().join("daily"))),
        WriteMode::Overwrite,
    );
    daily.partition_by = vec!["day".into()];
    let mut daily_csv = daily.clone();
    daily_csv.name = "daily_csv".into();
    daily_csv.format = DataFormat::Csv;
    daily_csv.filepath = Some(path_str(&dir.path().join("daily_csv")));
    let ctx = context(vec![], vec![daily, daily_csv]);
    let writer = OutputManager::new(&ctx, &session);
    let loader = InputLoader::new(&ctx, &session);

    for name in ["daily", "daily_csv"] {
        let jan_1_3 = daily_rows(&session, "2025-01-01", "2025-01-03", 2).await;
        let w = Some(window("2025-01-01", "2025-01-03"));
        assert_eq!(writer.write(name, &jan_1_3, w).await.unwrap().rows, Some(6));
        assert_eq!(count(&loader, name).await, 6, "{name}");
        // The same window again: same rows, not duplicated.
        assert_eq!(writer.write(name, &jan_1_3, w).await.unwrap().rows, Some(6));
        assert_eq!(count(&loader, name).await, 6, "{name}");
        // Another window adds its partitions and keeps the others.
        let jan_4_5 = daily_rows(&session, "2025-01-04", "2025-01-05", 2).await;
        let w2 = Some(window("2025-01-04", "2025-01-05"));
        assert_eq!(
            writer.write(name, &jan_4_5, w2).await.unwrap().rows,
            Some(4)
        );
        assert_eq!(count(&loader, name).await, 10, "{name}");
        // Re-running an overlapping window with fewer rows replaces just those days.
        let jan_3_4 = daily_rows(&session, "2025-01-03", "2025-01-04", 1).await;
        writer.write(name, &jan_3_4, None).await.unwrap();
        assert_eq!(count(&loader, name).await, 8, "{name}");
    }
}

#[tokio::test]
async fn managed_table_outputs() {
    let Some(session) = session().await else {
        return;
    };
    let table = format!("io_managed_{}", std::process::id());
    let part_table = format!("io_managed_part_{}", std::process::id());
    let mut plain = output("plain", DataFormat::Table, None, WriteMode::Overwrite);
    plain.table = Some(table.clone());
    let mut append = plain.clone();
    append.name = "append".into();
    append.write_mode = WriteMode::Append;
    let mut error = plain.clone();
    error.name = "error".into();
    error.write_mode = WriteMode::Error;
    let mut part = output("part", DataFormat::Table, None, WriteMode::Overwrite);
    part.table = Some(part_table.clone());
    part.table_format = Some(DataFormat::Orc);
    part.partition_by = vec!["day".into()];
    let ctx = context(vec![], vec![plain, append, error, part]);
    let writer = OutputManager::new(&ctx, &session);
    let loader = InputLoader::new(&ctx, &session);

    let frame = session
        .sql("SELECT id, 'x' AS s FROM range(4)")
        .await
        .unwrap();
    let report = writer.write("plain", &frame, None).await.unwrap();
    assert_eq!(report.rows, Some(4));
    assert_eq!(report.destination, format!("table {table}"));
    assert_eq!(
        writer.write("append", &frame, None).await.unwrap().rows,
        Some(4)
    );
    assert_eq!(count(&loader, "plain").await, 8);
    assert_eq!(
        writer.write("plain", &frame, None).await.unwrap().rows,
        Some(4)
    );
    assert_eq!(count(&loader, "plain").await, 4);
    let err = writer.write("error", &frame, None).await.unwrap_err();
    assert_eq!(
        err.error_class(),
        Some("TABLE_OR_VIEW_ALREADY_EXISTS"),
        "{err:?}"
    );

    // Partitioned table: a re-run replaces the window's partitions only.
    let first = daily_rows(&session, "2025-02-01", "2025-02-03", 2).await;
    assert_eq!(
        writer.write("part", &first, None).await.unwrap().rows,
        Some(6)
    );
    assert_eq!(
        writer.write("part", &first, None).await.unwrap().rows,
        Some(6)
    );
    assert_eq!(count(&loader, "part").await, 6);
    let second = daily_rows(&session, "2025-02-03", "2025-02-04", 1).await;
    assert_eq!(
        writer.write("part", &second, None).await.unwrap().rows,
        Some(2)
    );
    assert_eq!(count(&loader, "part").await, 6 - 2 + 2);
    let days = session
        .sql(&format!("SELECT DISTINCT day FROM {part_table}"))
        .await
        .unwrap()
        .count()
        .await
        .unwrap();
    assert_eq!(days, 4);

    session
        .execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
    session
        .execute(&format!("DROP TABLE {part_table}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_table_is_registered_over_a_written_path() {
    let Some(session) = session().await else {
        return;
    };
    let dir = tempdir();
    let table = format!("io_external_{}", std::process::id());
    let mut ext = output(
        "ext",
        DataFormat::Parquet,
        Some(path_str(&dir.path().join("ext"))),
        WriteMode::Overwrite,
    );
    ext.table = Some(table.clone());
    ext.partition_by = vec!["day".into()];
    let ctx = context(vec![], vec![ext]);
    let writer = OutputManager::new(&ctx, &session);
    let loader = InputLoader::new(&ctx, &session);

    let first = daily_rows(&session, "2025-03-01", "2025-03-02", 3).await;
    let report = writer.write("ext", &first, None).await.unwrap();
    assert_eq!(report.rows, Some(6));
    assert_eq!(report.destination, path_str(&dir.path().join("ext")));
    let via_table = || async { session.table(&table).await.unwrap().count().await.unwrap() };
    assert_eq!(via_table().await, 6);
    let second = daily_rows(&session, "2025-03-03", "2025-03-03", 3).await;
    writer.write("ext", &second, None).await.unwrap();
    assert_eq!(via_table().await, 9);
    writer.write("ext", &second, None).await.unwrap();
    assert_eq!(via_table().await, 9);
    // Reading the output back by name reads the table.
    assert_eq!(count(&loader, "ext").await, 9);
    session
        .execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn outputs_reject_what_cannot_be_written() {
    let Some(session) = session().await else {
        return;
    };
    let ctx = context(
        vec![],
        vec![
            output("q", DataFormat::Query, None, WriteMode::Overwrite),
            output("nowhere", DataFormat::Parquet, None, WriteMode::Overwrite),
        ],
    );
    let writer = OutputManager::new(&ctx, &session);
    let frame = session.sql("SELECT 1").await.unwrap();
    let err = writer.write("q", &frame, None).await.unwrap_err();
    assert!(matches!(err, Error::UnsupportedFormat { .. }), "{err:?}");
    let err = writer.write("nowhere", &frame, None).await.unwrap_err();
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
    let err = writer.write("unknown", &frame, None).await.unwrap_err();
    assert!(matches!(err, Error::UnknownDataset { .. }), "{err:?}");
}
