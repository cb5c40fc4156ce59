//! [`Session::data_files`]: the files a dataset is made of, as Spark lists them.
#![expect(
    clippy::result_large_err,
    reason = "closures return the client's own `SparkError`, which is large; it is converted at once"
)]

use crate::error::{Error, Result};
use crate::rpc::RpcKind;
use crate::session::Session;

impl Session {
    /// The data files of the dataset at `path` in the Spark data source `format`
    /// (`parquet`, `json`, ...), sorted, as the server lists them (one `InputFiles`
    /// analysis; the files are not read: a placeholder schema spares the inference).
    /// Empty when nothing is at `path` yet.
    pub async fn data_files(&self, format: &str, path: &str) -> Result<Vec<String>> {
        let spark = self.inner.spark.clone();
        let (source, target) = (format.to_string(), path.to_string());
        let listed = self
            .run_with_format(
                format!("list the files of {path}"),
                Some(format),
                RpcKind::AnalyzePlan,
                move || {
                    let reader = spark.read().format(&source);
                    // Sources with a fixed schema refuse a user-specified one.
                    let reader = if matches!(source.as_str(), "text" | "binaryFile" | "delta") {
                        reader
                    } else {
                        reader.schema("tauro_placeholder STRING".to_string())
                    };
                    reader.load(Some(&target)).input_files()
                },
            )
            .await;
        match listed {
            Ok(mut files) => {
                files.sort();
                files.dedup();
                Ok(files)
            }
            Err(e) if is_absent(&e) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

/// Nothing was written at the path yet.
fn is_absent(e: &Error) -> bool {
    matches!(
        e.error_class(),
        Some("PATH_NOT_FOUND" | "UNABLE_TO_INFER_SCHEMA" | "DELTA_MISSING_DELTA_TABLE")
    )
}
