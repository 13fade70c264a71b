//! Salesforce sessions by the client-credentials flow, kept in process memory.
//! Salesforce gives no `expires_in`: a configured lifetime bounds reuse, and a 401 from
//! the API invalidates the session at once. (The fleet-wide token cache replaces this.)

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::salesforce::Session;
use crate::http::{self, HttpError};
use crate::secrets::{field, SecretCache, SecretError};

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("token endpoint: {0}")]
    Http(#[from] HttpError),
    #[error("token endpoint answered without access_token or instance_url")]
    Malformed,
}

pub struct SessionSource {
    http: reqwest::Client,
    secrets: Arc<SecretCache>,
    secret_id: String,
    lifetime: Duration,
    current: Mutex<Option<(Session, Instant)>>,
}

impl SessionSource {
    pub fn new(
        http: reqwest::Client,
        secrets: Arc<SecretCache>,
        secret_id: String,
        lifetime: Duration,
    ) -> Self {
        SessionSource {
            http,
            secrets,
            secret_id,
            lifetime,
            current: Mutex::new(None),
        }
    }

    pub async fn get(&self, deadline: Instant) -> Result<Session, AuthError> {
        let mut cur = self.current.lock().await;
        if let Some((s, at)) = cur.as_ref() {
            if at.elapsed() < self.lifetime {
                return Ok(s.clone());
            }
        }
        let s = self.fetch(deadline).await?;
        *cur = Some((s.clone(), Instant::now()));
        Ok(s)
    }

    /// Forget a session the API refused.
    pub async fn invalidate(&self) {
        *self.current.lock().await = None;
    }

    async fn fetch(&self, deadline: Instant) -> Result<Session, AuthError> {
        let id = &self.secret_id;
        let secret = self.secrets.get(id, deadline).await?;
        let (url, client_id, client_secret) = (
            field(&secret, id, "token_url")?,
            field(&secret, id, "client_id")?,
            field(&secret, id, "client_secret")?,
        );
        let req = self.http.post(url).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
        ]);
        let body = http::send_json(req, deadline).await?;
        let get = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        match (get("access_token"), get("instance_url")) {
            (Some(access_token), Some(instance_url)) => Ok(Session {
                access_token,
                instance_url,
            }),
            _ => Err(AuthError::Malformed),
        }
    }
}
