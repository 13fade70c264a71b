//! Token providers: where a token comes from and how long it lives.

use std::sync::Arc;

use serde_json::Value;
use tokio::time::Instant;

use super::store::Token;
use crate::breaker::{Classify, Verdict};
use crate::clock::Millis;
use crate::dependency::Dependency;
use crate::http::{self, HttpError};
use crate::secrets::{field, SecretCache, SecretError};

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum FetchError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("token endpoint: {0}")]
    Http(#[from] HttpError),
    #[error("token endpoint answered without the expected fields")]
    Malformed,
}

impl Classify for FetchError {
    /// Refused credentials (400/401/403) are a configuration problem of an endpoint that
    /// answered; a secret that cannot be read never reached the endpoint.
    fn verdict(&self) -> Verdict {
        match self {
            FetchError::Http(HttpError::Status {
                status: 400 | 401 | 403,
                ..
            }) => Verdict::Answered,
            FetchError::Http(_) | FetchError::Malformed => Verdict::Failed,
            // Secrets Manager down is an auth outage: the token cannot be had.
            FetchError::Secret(SecretError::Unavailable { .. } | SecretError::Timeout { .. }) => {
                Verdict::Failed
            }
            // A malformed, missing or forbidden secret is a configuration fault: logged,
            // not an outage.
            FetchError::Secret(SecretError::Malformed { .. } | SecretError::Refused { .. }) => {
                Verdict::NotReached
            }
        }
    }
}

impl FetchError {
    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            FetchError::Http(HttpError::Status {
                status: 429,
                retry_after_s,
            }) => Some(retry_after_s.unwrap_or(60)),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Provider {
    /// Salesforce client credentials: `{token_url, client_id, client_secret}`. The answer
    /// has no `expires_in`; `lifetime_ms` bounds it, and a 401 ends it sooner.
    Salesforce {
        secret_id: String,
        lifetime_ms: Millis,
    },
    /// Genesys Cloud client credentials: `{client_id, client_secret}`, Basic auth to
    /// `token_url`; honours `expires_in`.
    Genesys {
        secret_id: String,
        token_url: String,
    },
}

impl Provider {
    /// The name used in the token item and the `<name>-auth` breaker.
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Salesforce { .. } => "crm",
            Provider::Genesys { .. } => "genesys",
        }
    }

    /// The breaker of this provider's token endpoint.
    pub fn auth(&self) -> Dependency {
        match self {
            Provider::Salesforce { .. } => Dependency::CrmAuth,
            Provider::Genesys { .. } => Dependency::GenesysAuth,
        }
    }

    /// A token from the endpoint. Credentials the endpoint refuses (400/401), or a
    /// malformed secret, are read again from Secrets Manager next time.
    pub async fn fetch(
        &self,
        http_client: &reqwest::Client,
        secrets: &Arc<SecretCache>,
        now: Millis,
        deadline: Instant,
    ) -> Result<Token, FetchError> {
        let r = self.fetch_once(http_client, secrets, now, deadline).await;
        let reread = matches!(
            &r,
            Err(
                FetchError::Secret(SecretError::Malformed { .. } | SecretError::Refused { .. })
                    | FetchError::Http(HttpError::Status {
                        status: 400 | 401,
                        ..
                    })
            )
        );
        if reread {
            secrets.invalidate(self.secret_id()).await;
        }
        r
    }

    fn secret_id(&self) -> &str {
        match self {
            Provider::Salesforce { secret_id, .. } | Provider::Genesys { secret_id, .. } => {
                secret_id
            }
        }
    }

    async fn fetch_once(
        &self,
        http_client: &reqwest::Client,
        secrets: &Arc<SecretCache>,
        now: Millis,
        deadline: Instant,
    ) -> Result<Token, FetchError> {
        let str_field = |body: &Value, k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        match self {
            Provider::Salesforce {
                secret_id,
                lifetime_ms,
            } => {
                let secret = secrets.get(secret_id, deadline).await?;
                let url = field(&secret, secret_id, "token_url")?;
                let id = field(&secret, secret_id, "client_id")?;
                let key = field(&secret, secret_id, "client_secret")?;
                let req = http_client.post(url).form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", id.as_str()),
                    ("client_secret", key.as_str()),
                ]);
                let body = http::send_json(req, deadline).await?;
                match (
                    str_field(&body, "access_token"),
                    str_field(&body, "instance_url"),
                ) {
                    (Some(access_token), Some(url)) => Ok(Token {
                        access_token,
                        instance_url: Some(url),
                        expires_ms: now + lifetime_ms,
                        issued_ms: now,
                    }),
                    _ => Err(FetchError::Malformed),
                }
            }
            Provider::Genesys {
                secret_id,
                token_url,
            } => {
                let secret = secrets.get(secret_id, deadline).await?;
                let id = field(&secret, secret_id, "client_id")?;
                let key = field(&secret, secret_id, "client_secret")?;
                let req = http_client
                    .post(token_url)
                    .basic_auth(id, Some(key))
                    .form(&[("grant_type", "client_credentials")]);
                let body = http::send_json(req, deadline).await?;
                let expires_in = body
                    .get("expires_in")
                    .and_then(Value::as_i64)
                    .filter(|s| *s > 0);
                match (str_field(&body, "access_token"), expires_in) {
                    (Some(access_token), Some(s)) => Ok(Token {
                        access_token,
                        instance_url: None,
                        expires_ms: now + s * 1000,
                        issued_ms: now,
                    }),
                    _ => Err(FetchError::Malformed),
                }
            }
        }
    }
}
