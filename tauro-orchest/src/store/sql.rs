//! Portable SQL helpers: epoch-millisecond times, ids, typed column reads, dynamic binds.
//!
//! Every query of the store is written once for both backends: TEXT ids and JSON,
//! BIGINT epoch milliseconds for times, BIGINT 0/1 for flags, `$n` placeholders.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Error, Result};

/// Tries of a compare-and-set loop before [`Error::Contention`]. Each failed try means
/// another writer changed the row, so the loop only spins while others make progress.
pub(crate) const MAX_CAS_TRIES: u32 = 1_000;

/// Now, to the millisecond (what the store keeps).
pub(crate) fn now() -> DateTime<Utc> {
    to_millis_precision(Utc::now())
}

/// `t` cut to the millisecond, as the store gives it back.
pub(crate) fn to_millis_precision(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// `t` as epoch milliseconds.
pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// `t` as epoch milliseconds, if any.
pub(crate) fn opt_millis(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(millis)
}

/// A new time-ordered id: `<yyyymmddThhmmssZ>-<8 hex>`. Valid as a Tauro run id; the store
/// retries with another id on the (rare) clash.
pub(crate) fn new_id(at: DateTime<Utc>) -> String {
    format!(
        "{}-{:08x}",
        at.format("%Y%m%dT%H%M%SZ"),
        rand::random::<u32>()
    )
}

/// Checks an id given by the caller (same rule as Tauro run ids: 1–128 ASCII letters,
/// digits, `.`, `_`, `-`, not starting with `.` or `-`).
pub(crate) fn check_id(what: &str, id: &str) -> Result<()> {
    if tauro_exec::is_valid_run_id(id) {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            what: format!("{what} id '{id}'"),
            reason:
                "use 1 to 128 ASCII letters, digits, '.', '_' or '-', not starting with '.' or '-'"
                    .to_string(),
        })
    }
}

/// Reads columns of one row, naming the row in errors.
pub(crate) struct Cols<'r> {
    row: &'r AnyRow,
    what: &'static str,
    id: String,
}

impl<'r> Cols<'r> {
    /// Reads `row`, a `what` whose id is in column `id_column`.
    pub(crate) fn new(row: &'r AnyRow, what: &'static str, id_column: &str) -> Self {
        let id = row.try_get::<String, _>(id_column).unwrap_or_default();
        Self { row, what, id }
    }

    /// The row's id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    fn corrupt(&self, column: &'static str, reason: impl ToString) -> Error {
        Error::CorruptRow {
            what: self.what.to_string(),
            id: self.id.clone(),
            column,
            reason: reason.to_string(),
        }
    }

    /// A TEXT column.
    pub(crate) fn text(&self, column: &'static str) -> Result<String> {
        self.row
            .try_get::<String, _>(column)
            .map_err(|e| self.corrupt(column, e))
    }

    /// A nullable TEXT column.
    pub(crate) fn opt_text(&self, column: &'static str) -> Result<Option<String>> {
        self.row
            .try_get::<Option<String>, _>(column)
            .map_err(|e| self.corrupt(column, e))
    }

    /// A BIGINT column.
    pub(crate) fn int(&self, column: &'static str) -> Result<i64> {
        self.row
            .try_get::<i64, _>(column)
            .map_err(|e| self.corrupt(column, e))
    }

    /// A nullable BIGINT column.
    pub(crate) fn opt_int(&self, column: &'static str) -> Result<Option<i64>> {
        self.row
            .try_get::<Option<i64>, _>(column)
            .map_err(|e| self.corrupt(column, e))
    }

    /// A DOUBLE PRECISION column.
    pub(crate) fn float(&self, column: &'static str) -> Result<f64> {
        self.row
            .try_get::<f64, _>(column)
            .map_err(|e| self.corrupt(column, e))
    }

    /// A BIGINT column holding a `u32`.
    pub(crate) fn u32(&self, column: &'static str) -> Result<u32> {
        let v = self.int(column)?;
        u32::try_from(v).map_err(|_| self.corrupt(column, format!("{v} is out of range")))
    }

    /// A nullable BIGINT column holding a `u64`.
    pub(crate) fn opt_u64(&self, column: &'static str) -> Result<Option<u64>> {
        self.opt_int(column)?
            .map(|v| u64::try_from(v).map_err(|_| self.corrupt(column, format!("{v} is negative"))))
            .transpose()
    }

    /// A BIGINT 0/1 column.
    pub(crate) fn flag(&self, column: &'static str) -> Result<bool> {
        Ok(self.int(column)? != 0)
    }

    /// An epoch-millisecond column.
    pub(crate) fn time(&self, column: &'static str) -> Result<DateTime<Utc>> {
        let ms = self.int(column)?;
        self.to_time(column, ms)
    }

    /// A nullable epoch-millisecond column.
    pub(crate) fn opt_time(&self, column: &'static str) -> Result<Option<DateTime<Utc>>> {
        self.opt_int(column)?
            .map(|ms| self.to_time(column, ms))
            .transpose()
    }

    fn to_time(&self, column: &'static str, ms: i64) -> Result<DateTime<Utc>> {
        DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| self.corrupt(column, format!("{ms} ms is not a valid time")))
    }

    /// A TEXT column holding JSON.
    pub(crate) fn json(&self, column: &'static str) -> Result<serde_json::Value> {
        let text = self.text(column)?;
        serde_json::from_str(&text).map_err(|e| self.corrupt(column, e))
    }

    /// A TEXT column holding a name `parse` reads.
    pub(crate) fn parsed<T>(
        &self,
        column: &'static str,
        parse: impl Fn(&str) -> Result<T>,
    ) -> Result<T> {
        let text = self.text(column)?;
        parse(&text).map_err(|e| self.corrupt(column, e))
    }
}

/// A value bound to a query built at run time.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    /// TEXT.
    Text(String),
    /// BIGINT.
    Int(i64),
}

/// A query text with `$n` placeholders and its values, built piece by piece.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    /// The SQL so far.
    pub(crate) sql: String,
    binds: Vec<Bind>,
}

impl Builder {
    /// Starts with `sql`.
    pub(crate) fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_string(),
            binds: Vec::new(),
        }
    }

    /// Appends `sql`.
    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(crate) fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        self.sql.push_str(&format!("${}", self.binds.len()));
        self
    }

    /// The query, ready to run.
    pub(crate) fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query(&self.sql);
        for b in &self.binds {
            q = match b {
                Bind::Text(s) => q.bind(s.as_str()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        q
    }

    /// Runs a `SELECT COUNT(*) …` query.
    pub(crate) async fn count(
        &self,
        pool: &sqlx::AnyPool,
    ) -> std::result::Result<u64, sqlx::Error> {
        let row = self.query().fetch_one(pool).await?;
        let n: i64 = row.try_get(0)?;
        Ok(u64::try_from(n).unwrap_or_default())
    }
}

/// `'a', 'b'`: SQL literals of fixed names (never user input).
pub(crate) fn name_list(names: &[&'static str]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// True when `e` is a foreign-key violation (a task run of an unknown run).
pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::ForeignKeyViolation)
}

/// True when `e` is SQLite's "database is busy/locked" (SQLITE_BUSY, SQLITE_LOCKED and
/// their extended codes).
pub(crate) fn is_busy(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .and_then(|c| c.parse::<i64>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered_and_valid_run_ids() {
        let at = DateTime::from_timestamp_millis(1_740_830_400_000).unwrap_or_default();
        let id = new_id(at);
        assert!(id.starts_with("20250301T120000Z-"), "{id}");
        assert_eq!(id.len(), "20250301T120000Z-".len() + 8);
        assert!(tauro_exec::is_valid_run_id(&id));
        assert!(check_id("run", &id).is_ok());
        assert!(check_id("schedule", "nightly.sales_v2").is_ok());
        assert!(check_id("schedule", "a b").is_err());
        assert!(check_id("schedule", "").is_err());
    }

    #[test]
    fn builder_numbers_placeholders() {
        let mut b = Builder::new("SELECT 1 WHERE a = ");
        b.bind(Bind::Int(1)).push(" AND b IN (");
        b.bind(Bind::Text("x".into())).push(", ");
        b.bind(Bind::Text("y".into())).push(")");
        assert_eq!(b.sql, "SELECT 1 WHERE a = $1 AND b IN ($2, $3)");
    }

    #[test]
    fn times_keep_milliseconds() {
        let t = now();
        assert_eq!(t.timestamp_subsec_nanos() % 1_000_000, 0);
        assert_eq!(DateTime::from_timestamp_millis(millis(t)), Some(t));
        assert_eq!(name_list(&["a", "b"]), "'a', 'b'");
    }
}
