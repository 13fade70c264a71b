//! OAuth tokens shared by the fleet: refreshed ahead of expiry by one instance at a time
//! (a conditional lease in the state table), kept in process memory while fresh, and
//! served from cache until they really expire when the token service is down.

pub mod provider;
pub mod store;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::breaker::{outbox, Breaker, CallError, Classify, Op, State, Verdict};
use crate::clock::{Clock, Millis};
use crate::config::{number, parsed, ConfigError, Env};
use crate::metrics;
use crate::secrets::SecretCache;
pub use provider::{FetchError, Provider};
pub use store::{DynamoTokenStore, KmsSeal, Token, TokenRecord, TokenStore};

/// A configuration fault still there is paged again after this long.
const CONFIG_PAGE_EVERY_MS: Millis = 3_600_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Fresh, from memory or the table.
    Cache,
    /// Fetched by this call.
    Refreshed,
    /// Past its refresh point, not yet expired: served because refreshing failed or
    /// another instance is refreshing.
    Stale,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    #[error("{provider} token unavailable: {reason}")]
    Unavailable {
        provider: &'static str,
        reason: String,
    },
}

#[derive(Clone, Debug)]
pub struct TokenSettings {
    /// Refresh this long before expiry.
    pub margin_ms: Millis,
    /// How long a refresh lease lasts.
    pub lease_ms: Millis,
    /// How often a waiting instance looks for the winner's token.
    pub poll_ms: u64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            margin_ms: 600_000,
            lease_ms: 5_000,
            poll_ms: 100,
        }
    }
}

pub struct TokenCache {
    pub provider: Provider,
    store: Arc<dyn TokenStore>,
    breaker: Breaker,
    http: reqwest::Client,
    secrets: Arc<SecretCache>,
    clock: Arc<dyn Clock>,
    settings: TokenSettings,
    memory: Mutex<Option<Token>>,
    instance: String,
    seq: AtomicU64,
}

/// Keep back this much of the deadline for saving a fetched token.
const SAVE_RESERVE: Duration = Duration::from_millis(150);

impl TokenCache {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        provider: Provider,
        store: Arc<dyn TokenStore>,
        breaker: Breaker,
        http: reqwest::Client,
        secrets: Arc<SecretCache>,
        clock: Arc<dyn Clock>,
        settings: TokenSettings,
    ) -> TokenCache {
        TokenCache {
            provider,
            store,
            breaker,
            http,
            secrets,
            clock,
            settings,
            memory: Mutex::new(None),
            instance: format!("{:016x}", rand::random::<u64>()),
            seq: AtomicU64::new(0),
        }
    }

    pub fn name(&self) -> &'static str {
        self.provider.name()
    }

    fn fresh(&self, t: &Token, now: Millis) -> bool {
        now < t.expires_ms - self.margin(t)
    }

    /// The margin never eats more than half a token's life (Genesys allows 300 s tokens).
    fn margin(&self, t: &Token) -> Millis {
        self.settings
            .margin_ms
            .min((t.expires_ms - t.issued_ms).max(0) / 2)
    }

    fn remembered(&self) -> Option<Token> {
        self.memory.lock().ok().and_then(|m| m.clone())
    }

    fn remember(&self, t: &Token) {
        if let Ok(mut m) = self.memory.lock() {
            *m = Some(t.clone());
        }
    }

    fn unavailable(&self, reason: impl Into<String>) -> TokenError {
        TokenError::Unavailable {
            provider: self.name(),
            reason: reason.into(),
        }
    }

    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// A usable token for a call that must finish by `deadline`.
    pub async fn get(&self, deadline: Instant) -> Result<(Token, Source), TokenError> {
        self.obtain(deadline, false).await
    }

    /// For the health probe: while the `<provider>-auth` breaker is not CLOSED, refresh
    /// even a fresh token, so the breaker sees the endpoint recover with no traffic.
    pub async fn health_check(&self, deadline: Instant) -> Result<(Token, Source), TokenError> {
        let closed = self.breaker.current(deadline).await.state == State::Closed;
        self.obtain(deadline, !closed).await
    }

    async fn obtain(&self, deadline: Instant, force: bool) -> Result<(Token, Source), TokenError> {
        let now = self.clock.now_ms();
        let fresh = |t: &Token| !force && self.fresh(t, now);
        if let Some(t) = self.remembered().filter(|t| fresh(t)) {
            return Ok((t, Source::Cache));
        }
        let rec = match self.load(deadline).await {
            Ok(r) => r,
            // The table is unreachable: single flight is lost, availability is not.
            Err(e) => return self.refresh(None, self.remembered(), deadline, &e).await,
        };
        if let Some(t) = rec.token.clone().filter(|t| fresh(t)) {
            self.remember(&t);
            return Ok((t, Source::Cache));
        }
        let valid = rec
            .token
            .clone()
            .filter(|t| now < t.expires_ms)
            .or_else(|| self.remembered().filter(|t| now < t.expires_ms));
        if now < rec.not_before_ms {
            let wait_s = (rec.not_before_ms - now + 999) / 1000;
            return self.fallback(valid, format!("token endpoint asked to wait {wait_s} s"));
        }
        let owner = format!(
            "{}:{}",
            self.instance,
            self.seq.fetch_add(1, Ordering::Relaxed)
        );
        let until = now + self.settings.lease_ms;
        let lease = tokio::time::timeout_at(
            self.breaker.store_deadline(deadline),
            self.store.try_lease(self.name(), &owner, now, until),
        )
        .await;
        match lease {
            Ok(Ok(true)) => self.refresh(Some(&owner), valid, deadline, "").await,
            Ok(Ok(false)) => match valid {
                Some(t) => Ok((t, Source::Stale)),
                None => self.wait_for_winner(rec.fetched_ms, deadline).await,
            },
            Ok(Err(e)) => self.refresh(None, valid, deadline, &e.to_string()).await,
            // The lease's outcome is unknown: refresh without claiming it.
            Err(_) => {
                self.refresh(None, valid, deadline, "state table timed out")
                    .await
            }
        }
    }

    async fn load(&self, deadline: Instant) -> Result<TokenRecord, String> {
        let until = self.breaker.store_deadline(deadline);
        match tokio::time::timeout_at(until, self.store.load(self.name())).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("state table timed out".into()),
        }
    }

    /// Another instance holds the lease and there is no valid token: wait for its token,
    /// no longer than the caller's deadline.
    async fn wait_for_winner(
        &self,
        seen_fetch: Millis,
        deadline: Instant,
    ) -> Result<(Token, Source), TokenError> {
        loop {
            let next = Instant::now() + Duration::from_millis(self.settings.poll_ms);
            if next >= deadline {
                return Err(self.unavailable(
                    "another instance is refreshing; no valid token before the deadline",
                ));
            }
            tokio::time::sleep_until(next).await;
            let now = self.clock.now_ms();
            if let Ok(rec) = self.load(deadline).await {
                if let Some(t) = rec
                    .token
                    .filter(|t| now < t.expires_ms && rec.fetched_ms > seen_fetch)
                {
                    self.remember(&t);
                    return Ok((t, Source::Cache));
                }
                if rec.lease.as_ref().is_none_or(|(_, exp)| *exp < now) {
                    return Err(self.unavailable("the refreshing instance gave up"));
                }
            }
        }
    }

    /// Page a configuration fault (a secret that cannot be used) on the
    /// `<provider>-auth` breaker, at most once an hour while it lasts, whichever
    /// instance meets it: the page is written with the flag, in one conditional write.
    async fn flag_config_fault(&self, what: &str, deadline: Instant) {
        let now = self.clock.now_ms();
        let op = Op::FlagConfigFault {
            alert: outbox::config_fault(self.breaker.name(), what, now),
            now,
            every_ms: CONFIG_PAGE_EVERY_MS,
        };
        if let Err(e) = self.breaker.note(&op, deadline).await {
            tracing::warn!(provider = self.name(), error = %e, "configuration fault not recorded");
        }
    }

    /// A token was fetched: if a configuration fault was paged, resolve it, once.
    async fn clear_config_fault(&self, deadline: Instant) {
        if self.breaker.current(deadline).await.config_fault.is_none() {
            return;
        }
        let op = Op::ClearConfigFault {
            alert: outbox::config_fixed(self.breaker.name(), self.clock.now_ms()),
        };
        if let Err(e) = self.breaker.note(&op, deadline).await {
            tracing::warn!(provider = self.name(), error = %e, "configuration fault not cleared");
        }
    }

    /// Fetch through the `<provider>-auth` breaker. `owner` holds the lease, if any.
    async fn refresh(
        &self,
        owner: Option<&str>,
        valid: Option<Token>,
        deadline: Instant,
        why_no_lease: &str,
    ) -> Result<(Token, Source), TokenError> {
        if owner.is_none() {
            tracing::warn!(provider = self.name(), error = %why_no_lease, "token store unavailable; fetching without a lease");
        }
        let now = self.clock.now_ms();
        let call_deadline = deadline.checked_sub(SAVE_RESERVE).unwrap_or(deadline);
        let r = self
            .breaker
            .call(call_deadline, deadline, || {
                self.provider
                    .fetch(&self.http, &self.secrets, now, call_deadline)
            })
            .await;
        let (outcome, not_before, reason) = match r {
            Ok(t) => {
                self.remember(&t);
                if let Some(o) = owner {
                    let until = self.breaker.store_deadline(deadline);
                    let saved =
                        tokio::time::timeout_at(until, self.store.save(self.name(), o, &t, now))
                            .await;
                    if !matches!(saved, Ok(Ok(true))) {
                        tracing::warn!(
                            provider = self.name(),
                            "fetched token not saved to the table"
                        );
                        // Refused (a sealed item and no key here, or the lease lost):
                        // the lease is let go at once rather than at its expiry, so the
                        // fleet's next refresh does not wait on it.
                        if matches!(saved, Ok(Ok(false))) {
                            let until = self.breaker.store_deadline(deadline);
                            let _ = tokio::time::timeout_at(
                                until,
                                self.store.release(self.name(), o, None),
                            )
                            .await;
                        }
                    }
                }
                metrics::emit(
                    &[("Provider", self.name())],
                    &[metrics::count("TokenRefreshes", 1.0)],
                );
                self.clear_config_fault(deadline).await;
                return Ok((t, Source::Refreshed));
            }
            Err(CallError::Rejected(r)) => (
                "rejected",
                None,
                format!("{} breaker {r:?}", self.provider.auth()),
            ),
            Err(CallError::TimedOut) => ("timeout", None, "token endpoint timed out".to_string()),
            Err(CallError::Failed(error)) => {
                let nb = error.retry_after_s().map(|s| now + (s as Millis) * 1000);
                // Not counted (nothing was reached), but paged: someone must fix it.
                if error.verdict() == Verdict::NotReached {
                    self.flag_config_fault(&error.to_string(), deadline).await;
                }
                ("failed", nb, error.to_string())
            }
        };
        tracing::warn!(provider = self.name(), outcome, error = %reason, "token refresh failed");
        metrics::emit(
            &[("Provider", self.name())],
            &[metrics::count("TokenRefreshFailures", 1.0)],
        );
        metrics::emit(&[], &[metrics::count("TokenRefreshFailuresTotal", 1.0)]);
        if let Some(o) = owner {
            let until = self.breaker.store_deadline(deadline);
            let _ = tokio::time::timeout_at(until, self.store.release(self.name(), o, not_before))
                .await;
        }
        self.fallback(valid, reason)
    }

    fn fallback(
        &self,
        valid: Option<Token>,
        reason: String,
    ) -> Result<(Token, Source), TokenError> {
        let now = self.clock.now_ms();
        match valid.filter(|t| now < t.expires_ms) {
            Some(t) => Ok((t, Source::Stale)),
            None => Err(self.unavailable(reason)),
        }
    }

    /// The API refused `token` (a 401): forget it here and in the table, so the next
    /// `get` refreshes. A newer token in the table is left alone.
    pub async fn invalidate(&self, token: &Token, deadline: Instant) {
        if let Ok(mut m) = self.memory.lock() {
            if m.as_ref() == Some(token) {
                *m = None;
            }
        }
        let until = self.breaker.store_deadline(deadline);
        let _ = tokio::time::timeout_at(until, self.store.invalidate(self.name(), token)).await;
    }
}

/// The token settings and the providers this deployment has secrets for: `crm` with
/// `CRM_SECRET_ID`, `genesys` with `GENESYS_SECRET_ID`.
#[derive(Clone, Debug)]
pub struct TokenConfig {
    pub settings: TokenSettings,
    pub providers: Vec<Provider>,
}

impl TokenConfig {
    pub fn from_env(env: &impl Env) -> Result<TokenConfig, ConfigError> {
        let env: &dyn Env = env;
        let settings = TokenSettings {
            margin_ms: number(env, "TOKEN_REFRESH_MARGIN_S", 600i64, 0, 86_400)? * 1000,
            lease_ms: number(env, "TOKEN_LEASE_MS", 5_000i64, 100, 60_000)?,
            poll_ms: 100,
        };
        let mut providers = Vec::new();
        if let Some(secret_id) = env.get("CRM_SECRET_ID") {
            let lifetime_s: i64 = number(env, "CRM_TOKEN_LIFETIME_S", 1_800, 60, 172_800)?;
            providers.push(Provider::Salesforce {
                secret_id,
                lifetime_ms: lifetime_s * 1000,
            });
        }
        if let Some(secret_id) = env.get("GENESYS_SECRET_ID") {
            providers.push(Provider::Genesys {
                secret_id,
                token_url: genesys_login_url(env)?,
            });
        }
        Ok(TokenConfig {
            settings,
            providers,
        })
    }

    /// The provider named `name`, or `Missing` naming the secret variable that enables it.
    pub fn provider(&self, name: &str, var: &str) -> Result<Provider, ConfigError> {
        self.providers
            .iter()
            .find(|p| p.name() == name)
            .cloned()
            .ok_or_else(|| ConfigError::Missing {
                var: var.to_string(),
            })
    }
}

/// `GENESYS_LOGIN_URL`, or the token URL of `GENESYS_ENVIRONMENT`.
fn genesys_login_url(env: &dyn Env) -> Result<String, ConfigError> {
    if let Some(url) = env.get("GENESYS_LOGIN_URL") {
        return Ok(url);
    }
    Ok(format!(
        "https://login.{}/oauth/token",
        genesys_environment(env)?
    ))
}

/// `GENESYS_ENVIRONMENT` (default `mypurecloud.com`), checked to be a host suffix.
pub fn genesys_environment(env: &dyn Env) -> Result<String, ConfigError> {
    let e = parsed(env, "GENESYS_ENVIRONMENT", "mypurecloud.com".to_string())?;
    if e.is_empty()
        || !e
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(ConfigError::Invalid {
            var: "GENESYS_ENVIRONMENT".into(),
            value: e,
            why: "expected a host suffix such as mypurecloud.com".into(),
        });
    }
    Ok(e)
}

/// The token-cache function's answer: each selected provider refreshed ahead of expiry
/// if due. Never the token itself.
pub async fn refresh_report(
    caches: &[TokenCache],
    only: Option<&str>,
    deadline: Instant,
) -> serde_json::Value {
    use serde_json::json;
    let mut out = Vec::new();
    for c in caches.iter().filter(|c| only.is_none_or(|o| o == c.name())) {
        out.push(match c.get(deadline).await {
            Ok((t, source)) => json!({
                "name": c.name(),
                "expiresAt": crate::clock::iso8601(t.expires_ms),
                "source": source,
                "degraded": source == Source::Stale,
            }),
            Err(e) => json!({"name": c.name(), "expiresAt": null, "source": null, "degraded": true, "error": e.to_string()}),
        });
    }
    json!({"providers": out})
}
