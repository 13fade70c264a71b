//! Secrets Manager JSON secrets, cached per instance with a TTL; failed reads are cached
//! briefly. Secret values never appear in errors or logs.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::Mutex;

use tokio::time::Instant;

use crate::clock::{Clock, Millis, SystemClock};

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SecretError {
    /// Secrets Manager did not answer, or failed: an outage.
    #[error("secret {id} could not be read: {why}")]
    Unavailable { id: String, why: String },
    /// Secrets Manager answered no (missing, access denied, cannot decrypt): a
    /// configuration fault, not an outage.
    #[error("secret {id} was refused: {why}")]
    Refused { id: String, why: String },
    #[error("secret {id} is not the expected JSON object")]
    Malformed { id: String },
    #[error("secret {id} timed out")]
    Timeout { id: String },
}

#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn secret_json(&self, id: &str) -> Result<Value, SecretError>;
}

pub struct SecretsManager(pub aws_sdk_secretsmanager::Client);

#[async_trait]
impl SecretSource for SecretsManager {
    async fn secret_json(&self, id: &str) -> Result<Value, SecretError> {
        let out = self
            .0
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
                let (id, why) = (id.to_string(), e.code().unwrap_or("network").to_string());
                match why.as_str() {
                    "ResourceNotFoundException"
                    | "AccessDeniedException"
                    | "DecryptionFailure"
                    | "InvalidRequestException"
                    | "InvalidParameterException" => SecretError::Refused { id, why },
                    _ => SecretError::Unavailable { id, why },
                }
            })?;
        let text = out
            .secret_string()
            .ok_or_else(|| SecretError::Malformed { id: id.to_string() })?;
        serde_json::from_str::<Value>(text)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| SecretError::Malformed { id: id.to_string() })
    }
}

/// Secrets read per instance, each kept for `ttl` (a fixed secret is picked up without
/// recycling the instance), and a failed read kept for `retry_after`, so a Secrets
/// Manager that hangs costs one call in that window, not every call its whole budget.
pub struct SecretCache {
    source: Arc<dyn SecretSource>,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<String, Remembered>>,
}

/// A read's result and when it was made.
type Remembered = (Result<Value, SecretError>, Millis);

/// How long a secret is trusted before it is read again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// How long a failed read is remembered.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Longest one Secrets Manager request may take, inside the caller's deadline.
pub const REQUEST_TIMEOUT: Duration = Duration::from_millis(1_000);

impl SecretCache {
    pub fn new(source: Arc<dyn SecretSource>) -> SecretCache {
        SecretCache::with_clock(source, Arc::new(SystemClock))
    }

    /// The cache on an injected clock, so tests move time instead of sleeping.
    pub fn with_clock(source: Arc<dyn SecretSource>, clock: Arc<dyn Clock>) -> SecretCache {
        SecretCache {
            source,
            clock,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub async fn get(&self, id: &str, deadline: Instant) -> Result<Value, SecretError> {
        let now = self.clock.now_ms();
        if let Some((r, at)) = self.cache.lock().await.get(id) {
            let keep = if r.is_ok() {
                DEFAULT_TTL
            } else {
                DEFAULT_RETRY_AFTER
            };
            if now >= *at && now - at < keep.as_millis() as Millis {
                return r.clone();
            }
        }
        let until = deadline.min(Instant::now() + REQUEST_TIMEOUT);
        let r = match tokio::time::timeout_at(until, self.source.secret_json(id)).await {
            Ok(r) => r,
            Err(_) => Err(SecretError::Timeout { id: id.to_string() }),
        };
        self.cache
            .lock()
            .await
            .insert(id.to_string(), (r.clone(), now));
        r
    }

    /// Forget `id`: the next `get` reads it again (a malformed secret, or credentials a
    /// token endpoint refused, may have been fixed).
    pub async fn invalidate(&self, id: &str) {
        self.cache.lock().await.remove(id);
    }
}

/// A string field of a secret, or `Malformed` (naming the secret, never the value).
pub fn field(secret: &Value, id: &str, key: &str) -> Result<String, SecretError> {
    secret
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| SecretError::Malformed { id: id.to_string() })
}
