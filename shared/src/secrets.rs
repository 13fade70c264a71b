//! Secrets Manager JSON secrets, read once per instance. A failed read is not cached:
//! the next call tries again. Secret values never appear in errors or logs.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SecretError {
    #[error("secret {id} could not be read: {why}")]
    Unavailable { id: String, why: String },
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
                SecretError::Unavailable {
                    id: id.to_string(),
                    why: e.code().unwrap_or("network").to_string(),
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

pub struct SecretCache {
    source: Arc<dyn SecretSource>,
    cache: Mutex<HashMap<String, Value>>,
}

impl SecretCache {
    pub fn new(source: Arc<dyn SecretSource>) -> SecretCache {
        SecretCache {
            source,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub async fn get(&self, id: &str, deadline: Instant) -> Result<Value, SecretError> {
        if let Some(v) = self.cache.lock().await.get(id) {
            return Ok(v.clone());
        }
        let v = tokio::time::timeout_at(deadline, self.source.secret_json(id))
            .await
            .map_err(|_| SecretError::Timeout { id: id.to_string() })??;
        self.cache.lock().await.insert(id.to_string(), v.clone());
        Ok(v)
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
