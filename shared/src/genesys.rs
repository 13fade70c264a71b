//! The Genesys Cloud API of the org's region, the one home of its client: requests
//! paced under the platform's per-token rate limit, with the fleet's Genesys token, and
//! a 429's `Retry-After` honoured within the caller's deadline. The campaign pause and
//! the regional overflow make their calls through it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::{ConfigError, Env};
use crate::http::{self, HttpError};
use crate::service::{InitError, Services};
use crate::token::{genesys_environment, TokenCache, TokenConfig};

/// Requests a minute per instance unless `CAMPAIGN_REQUESTS_PER_MINUTE` says otherwise:
/// Genesys allows about 300 per token, shared with routing and the probe.
pub const DEFAULT_PER_MINUTE: u32 = 120;

/// An entity's `name`, clipped: it goes into records, pages and the board.
pub fn entity_name(body: &Value) -> String {
    body.get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .take(120)
        .collect()
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ApiError {
    #[error("no Genesys token: {0}")]
    Auth(String),
    #[error("Genesys API: {0}")]
    Http(#[from] HttpError),
    #[error("Genesys API answered without the expected fields")]
    Malformed,
    /// The version sent is not the current one: 409, or a 400 whose message says the
    /// version "does not match the current version", as Genesys's own Terraform
    /// provider reads it (`genesyscloud/util/util_retries.go`, `IsVersionMismatch`).
    /// Either way the caller re-reads and tries again.
    #[error("Genesys API: the version sent is not the current one (HTTP {0})")]
    VersionConflict(u16),
}

/// The words of Genesys's 400 for a stale version.
const STALE_VERSION: &str = "does not match the current version";

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Http(e) => e.status(),
            _ => None,
        }
    }

    /// A stale version (409, or Genesys's 400 that says so): re-read and try again.
    pub fn is_version_conflict(&self) -> bool {
        matches!(self, ApiError::VersionConflict(_))
    }

    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            ApiError::Http(HttpError::Status {
                status: 429,
                retry_after_s,
            }) => Some(retry_after_s.unwrap_or(60)),
            _ => None,
        }
    }
}

/// `GENESYS_API_URL`, or the API base of `GENESYS_ENVIRONMENT`.
pub fn api_base(env: &dyn Env) -> Result<String, ConfigError> {
    if let Some(url) = env.get("GENESYS_API_URL") {
        return Ok(url);
    }
    Ok(api_base_of(&genesys_environment(env)?))
}

/// The API base of a Genesys region given by its host suffix (`mypurecloud.com.au`).
pub fn api_base_of(environment: &str) -> String {
    format!("https://api.{environment}")
}

/// A Genesys API URL: every one is built here (the client's requests, the analytics
/// query, the health check, the backup region's reads), so a base with or without a
/// trailing slash is handled once.
pub fn url(base: &str, path_and_query: &str) -> String {
    format!("{}{path_and_query}", base.trim_end_matches('/'))
}

/// The Genesys API through the fleet's token cache. One request at a time per instance,
/// at least `min_interval` apart: a pause of fifty campaigns, or an overflow switch
/// retried against a failing region, must not spend the token's 300 requests a minute
/// that routing and the probe also use.
pub struct GenesysApi {
    pub http: reqwest::Client,
    pub base_url: String,
    pub tokens: Arc<TokenCache>,
    pub min_interval: Duration,
    next_slot: Mutex<Instant>,
}

/// A 429's `Retry-After` longer than this ends the attempt: the action is retried later.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(5);

impl GenesysApi {
    pub fn new(
        http: reqwest::Client,
        base_url: String,
        tokens: Arc<TokenCache>,
        per_minute: u32,
    ) -> GenesysApi {
        GenesysApi {
            http,
            base_url,
            tokens,
            min_interval: Duration::from_millis(60_000 / u64::from(per_minute.max(1))),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// The client a function builds once, with the fleet's Genesys token
    /// (`GENESYS_SECRET_ID`, `GENESYS_API_URL` or `GENESYS_ENVIRONMENT`), shared by the
    /// campaign pause and the overflow so that both keep to one pace.
    pub fn build(
        services: &Services,
        env: &impl Env,
        per_minute: u32,
    ) -> Result<GenesysApi, InitError> {
        let tokens = TokenConfig::from_env(env)?;
        let provider = tokens.provider("genesys", "GENESYS_SECRET_ID")?;
        let cache = Arc::new(services.token_cache(provider, &tokens, env)?);
        let env: &dyn Env = env;
        Ok(GenesysApi::new(
            services.http.clone(),
            api_base(env)?,
            cache,
            per_minute,
        ))
    }

    /// Wait for this instance's next request slot, or fail if it is past `deadline`.
    async fn pace(&self, deadline: Instant) -> Result<(), ApiError> {
        let mut slot = self.next_slot.lock().await;
        let at = (*slot).max(Instant::now());
        if at >= deadline {
            return Err(ApiError::Http(HttpError::Timeout));
        }
        *slot = at + self.min_interval;
        drop(slot);
        tokio::time::sleep_until(at).await;
        Ok(())
    }

    /// One Genesys API request, paced, with this instance's token and a 429 waited out
    /// when it fits the deadline.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Value, ApiError> {
        loop {
            self.pace(deadline).await?;
            let (token, _) = self
                .tokens
                .get(deadline)
                .await
                .map_err(|e| ApiError::Auth(e.to_string()))?;
            let url = url(&self.base_url, path);
            let mut req = self
                .http
                .request(method.clone(), url)
                .bearer_auth(&token.access_token);
            if let Some(b) = body {
                req = req.json(b);
            }
            match http::send_json_explained(req, deadline).await {
                Err((HttpError::Status { status: 409, .. }, _)) => {
                    return Err(ApiError::VersionConflict(409))
                }
                Err((HttpError::Status { status: 400, .. }, Some(m)))
                    if m.to_ascii_lowercase().contains(STALE_VERSION) =>
                {
                    return Err(ApiError::VersionConflict(400))
                }
                Err((e @ HttpError::Status { status: 429, .. }, _)) => {
                    let wait = Duration::from_secs(
                        ApiError::Http(e.clone()).retry_after_s().unwrap_or(60),
                    );
                    // Honoured here when it fits; otherwise the caller defers the action.
                    if wait > MAX_INLINE_WAIT || Instant::now() + wait >= deadline {
                        return Err(ApiError::Http(e));
                    }
                    tracing::warn!(
                        path,
                        wait_s = wait.as_secs(),
                        "Genesys rate limit; waiting as told"
                    );
                    tokio::time::sleep(wait).await;
                }
                r => return r.map_err(|(e, _)| ApiError::Http(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_its_base_and_path_whatever_the_base_s_trailing_slash() {
        for base in [
            "https://api.mypurecloud.com",
            "https://api.mypurecloud.com/",
        ] {
            assert_eq!(
                url(base, "/api/v2/date"),
                "https://api.mypurecloud.com/api/v2/date"
            );
        }
        assert_eq!(api_base_of("mypurecloud.de"), "https://api.mypurecloud.de");
    }

    #[test]
    fn the_api_base_is_the_url_given_or_the_environment_s() {
        let env = |k: &str| match k {
            "GENESYS_ENVIRONMENT" => Some("usw2.pure.cloud".to_string()),
            _ => None,
        };
        assert_eq!(
            api_base(&env).ok().as_deref(),
            Some("https://api.usw2.pure.cloud")
        );
        let given = |k: &str| (k == "GENESYS_API_URL").then(|| "http://127.0.0.1:9".to_string());
        assert_eq!(api_base(&given).ok().as_deref(), Some("http://127.0.0.1:9"));
    }
}
