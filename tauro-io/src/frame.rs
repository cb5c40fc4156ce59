//! [`Frame`]: a lazy Spark DataFrame bound to the [`Session`] that runs its actions.
#![expect(
    clippy::result_large_err,
    reason = "closures return the client's own `SparkError`, which is large; it is converted at once"
)]

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use spark_connect::DataFrame;
use spark_connect::types::DataType;

use crate::error::{Error, Result};
use crate::rpc::RpcKind;
use crate::session::Session;

/// A lazy Spark relation. Transformations build plans locally; actions run under the
/// session's deadline.
#[derive(Clone)]
pub struct Frame {
    session: Session,
    df: DataFrame,
    /// The schema, when an analysis of this plan (or of one with the same columns) already
    /// returned it (e.g. the load of an input): [`Frame::schema_fields`] then asks no one.
    schema: Option<Arc<[SchemaField]>>,
}

/// One column of a frame's schema, as Spark's analysis reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaField {
    /// The column name.
    pub name: String,
    /// Spark's simple type string: `bigint`, `string`, `decimal(10,2)`, `array<int>`,
    /// `struct<a:int,b:string>`, ...
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether the column may hold nulls.
    pub nullable: bool,
}

/// The fields of a top-level struct type (a frame's schema always is one).
pub(crate) fn fields_of(schema: &DataType) -> Vec<SchemaField> {
    match schema {
        DataType::Struct { fields } => fields
            .iter()
            .map(|f| SchemaField {
                name: f.name.clone(),
                data_type: f.data_type.simple_string(),
                nullable: f.nullable,
            })
            .collect(),
        other => vec![SchemaField {
            name: "value".into(),
            data_type: other.simple_string(),
            nullable: true,
        }],
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Frame {
    pub(crate) fn new(session: Session, df: DataFrame) -> Self {
        Self {
            session,
            df,
            schema: None,
        }
    }

    /// The same frame, remembering its schema (from an analysis the caller already ran).
    pub(crate) fn with_known_schema(mut self, fields: Vec<SchemaField>) -> Self {
        self.schema = Some(fields.into());
        self
    }

    /// A frame over `df` with the same columns as this one (filter, limit).
    fn same_columns(&self, df: DataFrame) -> Frame {
        Frame {
            session: self.session.clone(),
            df,
            schema: self.schema.clone(),
        }
    }

    pub(crate) fn df(&self) -> &DataFrame {
        &self.df
    }

    /// The session that runs this frame's actions.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Number of rows (one Spark job).
    pub async fn count(&self) -> Result<u64> {
        let df = self.df.clone();
        let n = self
            .session
            .run("count rows", RpcKind::ExecutePlan, move || df.count())
            .await?;
        Ok(u64::try_from(n).unwrap_or_default())
    }

    /// Column names (an analysis, no job unless schema inference needs one).
    pub async fn columns(&self) -> Result<Vec<String>> {
        let df = self.df.clone();
        self.session
            .run("read schema", RpcKind::AnalyzePlan, move || df.columns())
            .await
    }

    /// The schema as (name, type, nullable) fields: one `AnalyzePlan` request (no job unless
    /// schema inference needs one), or none when the schema is already known (frames of
    /// [`crate::InputLoader`] remember the schema their load analysed).
    pub async fn schema_fields(&self) -> Result<Vec<SchemaField>> {
        if let Some(known) = &self.schema {
            return Ok(known.to_vec());
        }
        let df = self.df.clone();
        let schema = self
            .session
            .run("read schema", RpcKind::AnalyzePlan, move || df.schema())
            .await?;
        Ok(fields_of(&schema))
    }

    /// The schema as a DDL string, e.g. `id int,name string`.
    pub async fn schema_ddl(&self) -> Result<String> {
        let df = self.df.clone();
        self.session
            .run("read schema", RpcKind::AnalyzePlan, move || {
                df.schema()?.to_ddl()
            })
            .await
    }

    /// Registers (or replaces) a temp view of this session over the frame.
    pub async fn create_temp_view(&self, name: &str) -> Result<()> {
        self.create_view_as(name, format!("create temp view `{name}`"), None)
            .await
    }

    /// [`create_temp_view`](Self::create_temp_view) as `operation`, naming the data source
    /// `format` for error mapping (the view's creation analyses the read).
    pub(crate) async fn create_view_as(
        &self,
        name: &str,
        operation: String,
        format: Option<&str>,
    ) -> Result<()> {
        let df = self.df.clone();
        let view = name.to_string();
        self.session
            .run_with_format(operation, format, RpcKind::ExecutePlan, move || {
                df.create_or_replace_temp_view(&view)
            })
            .await
    }

    /// Up to `limit` rows as JSON objects (column name → value): one `ExecutePlan` (the
    /// server renders each row with `to_json(struct(*))`, so no schema is asked for).
    pub async fn collect_json(&self, limit: usize) -> Result<Vec<serde_json::Value>> {
        let limited = self
            .df
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .select_expr(vec!["to_json(struct(*)) AS json"]);
        let rows = self
            .session
            .run("collect rows", RpcKind::ExecutePlan, move || {
                limited.collect()
            })
            .await?;
        rows.iter()
            .map(|r| {
                let text = r.get(0).and_then(|v| v.as_str()).unwrap_or("{}");
                serde_json::from_str(text).map_err(|source| Error::Decode {
                    what: "a row returned as JSON".into(),
                    source,
                })
            })
            .collect()
    }

    /// Rows matching a SQL predicate (lazy).
    pub fn filter(&self, predicate_sql: &str) -> Frame {
        self.same_columns(
            self.df
                .filter(spark_connect::functions::expr(predicate_sql)),
        )
    }

    /// Only the given columns, in this order (lazy).
    pub fn select_columns(&self, columns: &[String]) -> Frame {
        let cols: Vec<spark_connect::Column> =
            columns.iter().map(|c| spark_connect::col(c)).collect();
        Frame::new(self.session.clone(), self.df.select(cols))
    }

    /// SQL expressions as the columns (`selectExpr`, lazy).
    pub fn select_exprs(&self, exprs: &[String]) -> Frame {
        let exprs: Vec<&str> = exprs.iter().map(String::as_str).collect();
        Frame::new(self.session.clone(), self.df.select_expr(exprs))
    }

    /// At most `n` rows (lazy).
    pub fn limit(&self, n: usize) -> Frame {
        self.same_columns(self.df.limit(i32::try_from(n).unwrap_or(i32::MAX)))
    }
}
