//! A Durable Object's SQLite with the runtime's errors turned into internal ones.

use worker::{SqlStorage, SqlStorageValue};

use crate::domain::GateError;

/// Runs a statement.
pub fn exec(
    sql: &SqlStorage,
    query: &str,
    bindings: Vec<SqlStorageValue>,
) -> Result<(), GateError> {
    sql.exec(query, bindings).map(drop).map_err(error)
}

/// Runs a query and reads every row.
pub fn rows<T: serde::de::DeserializeOwned>(
    sql: &SqlStorage,
    query: &str,
    bindings: Vec<SqlStorageValue>,
) -> Result<Vec<T>, GateError> {
    sql.exec(query, bindings)
        .and_then(|cursor| cursor.to_array())
        .map_err(error)
}

/// A storage failure, as an internal error.
pub fn error(e: impl std::fmt::Display) -> GateError {
    GateError::Internal(format!("SQL: {e}"))
}
