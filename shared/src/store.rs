//! What every state-table adapter shares: the one neutral store error, expression
//! placeholders, and the classification of SDK errors. The breaker, token, metrics and
//! board adapters all report a failing table the same way, so a token log never says
//! "breaker store".

use std::collections::HashMap;
use std::fmt::Debug;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::time::Instant;

/// The state table failed to answer. Neutral on purpose: the caller says what it was
/// doing; this says only how the table failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    #[error("state table throttled: {0}")]
    Throttled(String),
    #[error("state table unavailable: {0}")]
    Unavailable(String),
    #[error("state table timed out")]
    Timeout,
    #[error("state table item is malformed: {0}")]
    Corrupt(String),
}

/// How long one state-table request may take where no breaker's `STORE_TIMEOUT_MS`
/// applies (alert delivery): the breaker's default.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(250);

/// When a state-table request must end: the caller's deadline or `REQUEST_TIMEOUT`.
pub fn request_deadline(deadline: Instant) -> Instant {
    deadline.min(tokio::time::Instant::now() + REQUEST_TIMEOUT)
}

/// Run one table request within `deadline` and the request timeout.
pub async fn bounded<T, F>(deadline: Instant, f: F) -> Result<T, StoreError>
where
    F: std::future::Future<Output = Result<T, StoreError>>,
{
    tokio::time::timeout_at(request_deadline(deadline), f)
        .await
        .unwrap_or(Err(StoreError::Timeout))
}

/// A conditional write whose condition did not hold: another writer got there first.
pub fn lost_race<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

/// Run one conditional request within `deadline` and the request timeout: true if it
/// applied, false if its condition did not hold (another run got there first).
pub async fn conditional<O, E, R>(
    deadline: Instant,
    req: impl std::future::Future<Output = Result<O, aws_sdk_dynamodb::error::SdkError<E, R>>>,
) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    bounded(deadline, async {
        match req.await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(lost_race) => Ok(false),
            Err(e) => Err(classify_sdk_error(e)),
        }
    })
    .await
}

impl StoreError {
    /// Whether a write that ended in this error may still have been applied: a request
    /// that timed out or failed on the way may have reached the table. Throttling and a
    /// malformed item are definite refusals.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, StoreError::Timeout | StoreError::Unavailable(_))
    }
}

/// Expression attribute names and values, with placeholders allocated on demand.
#[derive(Default)]
pub struct Expr {
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Expr {
    /// The placeholder for attribute `attr` (reused if it was named before).
    pub fn name(&mut self, attr: &str) -> String {
        if let Some((k, _)) = self.names.iter().find(|(_, v)| v.as_str() == attr) {
            return k.clone();
        }
        let k = format!("#a{}", self.names.len());
        self.names.insert(k.clone(), attr.to_string());
        k
    }

    pub fn value(&mut self, v: AttributeValue) -> String {
        let k = format!(":v{}", self.values.len());
        self.values.insert(k.clone(), v);
        k
    }
}

/// Throttling and capacity errors are `Throttled`; everything else that failed to reach
/// an answer is `Unavailable`.
pub fn classify_sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + Debug,
    R: Debug,
{
    let code = err.code().unwrap_or_default().to_string();
    let msg = err.message().unwrap_or_default().to_string();
    match &err {
        SdkError::TimeoutError(_) => StoreError::Timeout,
        _ if code.contains("Throttl")
            || code.contains("ProvisionedThroughputExceeded")
            || code.contains("RequestLimitExceeded") =>
        {
            StoreError::Throttled(code)
        }
        SdkError::ServiceError(_) => StoreError::Unavailable(format!("{code}: {msg}")),
        other => StoreError::Unavailable(format!("{other}")),
    }
}
