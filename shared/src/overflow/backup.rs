//! The backup region's readiness, proven every minute by the health probe: its login
//! and API answer with the backup org's own client credentials, the overflow flow exists
//! and is published, and the backup DIDs route to a call flow. A failover is where an untested
//! backup fails, so a backup that would not take the calls is paged long before it is
//! needed (the `genesys-backup` breaker, at low urgency).

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::breaker::{Classify, Verdict};
use crate::clock::{Clock, Millis};
use crate::config::{required, ConfigError, Env};
use crate::http::{self, HttpError};
use crate::secrets::SecretCache;
use crate::token::provider::{FetchError, Provider};
use crate::token::store::Token;

/// `BACKUP_GENESYS_*`, `BACKUP_FLOW_NAME`, `BACKUP_DIDS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupConfig {
    pub api_url: String,
    pub token_url: String,
    pub secret_id: String,
    pub flow: Option<String>,
    /// E.164 numbers.
    pub dids: Vec<String>,
}

/// A flow name goes into a query: printable, bounded.
const MAX_FLOW_NAME: usize = 200;
/// A token is fetched again this long before it expires.
const TOKEN_MARGIN_MS: Millis = 300_000;

impl BackupConfig {
    /// None unless `BACKUP_GENESYS_ENVIRONMENT` (or `BACKUP_GENESYS_API_URL`) is set.
    pub fn from_env(env: &impl Env) -> Result<Option<BackupConfig>, ConfigError> {
        let env: &dyn Env = env;
        let host = env.get("BACKUP_GENESYS_ENVIRONMENT");
        if host.is_none() && env.get("BACKUP_GENESYS_API_URL").is_none() {
            return Ok(None);
        }
        let invalid = |var: &str, value: &str, why: &str| ConfigError::Invalid {
            var: var.into(),
            value: value.into(),
            why: why.into(),
        };
        if let Some(h) = &host {
            let ok = !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            if !ok {
                return Err(invalid(
                    "BACKUP_GENESYS_ENVIRONMENT",
                    h,
                    "expected a host suffix such as mypurecloud.com.au",
                ));
            }
        }
        let host = host.unwrap_or_default();
        let flow = env
            .get("BACKUP_FLOW_NAME")
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty());
        if let Some(f) = &flow {
            if f.chars().count() > MAX_FLOW_NAME || f.chars().any(char::is_control) {
                return Err(invalid(
                    "BACKUP_FLOW_NAME",
                    f,
                    "at most 200 printable characters",
                ));
            }
        }
        let mut dids = Vec::new();
        for d in env.get("BACKUP_DIDS").unwrap_or_default().split(',') {
            let d = d.trim();
            if d.is_empty() {
                continue;
            }
            let digits = d.strip_prefix('+').unwrap_or("");
            if !(8..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(invalid(
                    "BACKUP_DIDS",
                    d,
                    "expected E.164 numbers such as +61290000000",
                ));
            }
            dids.push(d.to_string());
        }
        if flow.is_none() && dids.is_empty() {
            return Err(ConfigError::Missing {
                var: "BACKUP_FLOW_NAME or BACKUP_DIDS".into(),
            });
        }
        Ok(Some(BackupConfig {
            api_url: env
                .get("BACKUP_GENESYS_API_URL")
                .unwrap_or_else(|| crate::genesys::api_base_of(&host)),
            token_url: env
                .get("BACKUP_GENESYS_LOGIN_URL")
                .unwrap_or_else(|| format!("https://login.{host}/oauth/token")),
            secret_id: required(env, "BACKUP_GENESYS_SECRET_ID")?,
            flow,
            dids,
        }))
    }
}

/// Why the backup is not ready. `reached` is false when the backup region itself was
/// not asked (its secret could not be read): that is not the backup's failure.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{why}")]
pub struct NotReady {
    pub why: String,
    pub reached: bool,
}

impl Classify for NotReady {
    fn verdict(&self) -> Verdict {
        if self.reached {
            Verdict::Failed
        } else {
            Verdict::NotReached
        }
    }
}

fn not_ready(why: impl Into<String>) -> NotReady {
    NotReady {
        why: why.into(),
        reached: true,
    }
}

/// The readiness check, with the backup org's token kept between runs.
pub struct Backup {
    pub config: BackupConfig,
    pub http: reqwest::Client,
    pub secrets: Arc<SecretCache>,
    pub clock: Arc<dyn Clock>,
    token: Mutex<Option<Token>>,
}

/// What a ready backup was found to have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ready {
    pub flow_version: Option<String>,
    pub dids: usize,
}

impl Backup {
    pub fn new(
        config: BackupConfig,
        http: reqwest::Client,
        secrets: Arc<SecretCache>,
        clock: Arc<dyn Clock>,
    ) -> Backup {
        Backup {
            config,
            http,
            secrets,
            clock,
            token: Mutex::new(None),
        }
    }

    /// Login, flow, DIDs: the first thing that would make an overflow fail.
    pub async fn check(&self, deadline: Instant) -> Result<Ready, NotReady> {
        let token = self.token(deadline).await?;
        let flow_version = match &self.config.flow {
            Some(name) => Some(self.flow(name, &token, deadline).await?),
            None => None,
        };
        for did in &self.config.dids {
            self.did(did, &token, deadline).await?;
        }
        Ok(Ready {
            flow_version,
            dids: self.config.dids.len(),
        })
    }

    async fn token(&self, deadline: Instant) -> Result<String, NotReady> {
        let now = self.clock.now_ms();
        let mut held = self.token.lock().await;
        if let Some(t) = held
            .as_ref()
            .filter(|t| t.expires_ms - TOKEN_MARGIN_MS > now)
        {
            return Ok(t.access_token.clone());
        }
        let provider = Provider::Genesys {
            secret_id: self.config.secret_id.clone(),
            token_url: self.config.token_url.clone(),
        };
        match provider
            .fetch(&self.http, &self.secrets, now, deadline)
            .await
        {
            Ok(t) => {
                let access = t.access_token.clone();
                *held = Some(t);
                Ok(access)
            }
            Err(e @ FetchError::Secret(_)) => Err(NotReady {
                why: format!("the backup region's credentials could not be read: {e}"),
                reached: false,
            }),
            Err(e) => Err(not_ready(format!("backup region login failed: {e}"))),
        }
    }

    async fn get(
        &self,
        path_and_query: &str,
        token: &str,
        deadline: Instant,
    ) -> Result<Value, NotReady> {
        let url = crate::genesys::url(&self.config.api_url, path_and_query);
        match http::send_json(self.http.get(url).bearer_auth(token), deadline).await {
            Ok(v) => Ok(v),
            Err(e @ HttpError::Status { status: 401, .. }) => {
                // A token revoked early: fetched again next run.
                *self.token.lock().await = None;
                Err(not_ready(format!(
                    "backup region API refused the token: {e}"
                )))
            }
            Err(e) => Err(not_ready(format!("backup region API: {e}"))),
        }
    }

    /// The inbound call flow named `name` exists and has a published version.
    async fn flow(&self, name: &str, token: &str, deadline: Instant) -> Result<String, NotReady> {
        let q: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        let body = self
            .get(
                &format!("/api/v2/flows?type=inboundcall&pageSize=25&name={q}"),
                token,
                deadline,
            )
            .await?;
        let flow = body["entities"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["name"].as_str() == Some(name))
            .ok_or_else(|| {
                not_ready(format!(
                    "overflow would fail: flow {name:?} does not exist in the backup region"
                ))
            })?;
        let published = &flow["publishedVersion"];
        if published.is_null() || flow["deleted"].as_bool() == Some(true) {
            return Err(not_ready(format!(
                "overflow would fail: flow {name:?} is not published in the backup region"
            )));
        }
        Ok(published["id"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_default())
    }

    /// The DID routes to a call flow in the backup org: an active IVR configuration
    /// lists it in `dnis` and has an open-hours flow. Read through the IVR list
    /// (`GET /api/v2/architect/ivrs?dnis=`, `routing:callRoute:view`, SDK
    /// `ArchitectApi.get_architect_ivrs`), so a read-only client will do: the DID list
    /// needs `telephony:plugin:all`, which is not a read-only permission.
    async fn did(&self, did: &str, token: &str, deadline: Instant) -> Result<(), NotReady> {
        let q: String = url::form_urlencoded::byte_serialize(did.as_bytes()).collect();
        let body = self
            .get(
                &format!("/api/v2/architect/ivrs?pageSize=25&dnis={q}"),
                token,
                deadline,
            )
            .await?;
        let routed = body["entities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["state"].as_str().is_none_or(|s| s == "active"))
            .filter(|i| {
                i["dnis"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|n| n.as_str() == Some(did)))
            })
            .any(|i| {
                i["openHoursFlow"]["id"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty())
            });
        if !routed {
            return Err(not_ready(format!(
                "overflow would fail: DID {did} is not routed to a call flow (no IVR configuration answers it) in the backup org"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env_of as env;

    #[test]
    fn off_unless_a_backup_region_is_named() {
        assert_eq!(BackupConfig::from_env(&env(&[])), Ok(None));
        let c = BackupConfig::from_env(&env(&[
            ("BACKUP_GENESYS_ENVIRONMENT", "mypurecloud.com.au"),
            ("BACKUP_GENESYS_SECRET_ID", "backup"),
            ("BACKUP_DIDS", "+61290000000, +61290000001"),
        ]));
        let Ok(Some(c)) = c else {
            panic!("{c:?}");
        };
        assert_eq!(c.api_url, "https://api.mypurecloud.com.au");
        assert_eq!(c.token_url, "https://login.mypurecloud.com.au/oauth/token");
        assert_eq!(c.dids.len(), 2);
    }

    #[test]
    fn refuses_what_cannot_be_checked() {
        for pairs in [
            vec![
                ("BACKUP_GENESYS_ENVIRONMENT", "x/y"),
                ("BACKUP_GENESYS_SECRET_ID", "s"),
                ("BACKUP_DIDS", "+61290000000"),
            ],
            vec![
                ("BACKUP_GENESYS_ENVIRONMENT", "a.b"),
                ("BACKUP_GENESYS_SECRET_ID", "s"),
            ],
            vec![
                ("BACKUP_GENESYS_ENVIRONMENT", "a.b"),
                ("BACKUP_DIDS", "+61290000000"),
            ],
            vec![
                ("BACKUP_GENESYS_ENVIRONMENT", "a.b"),
                ("BACKUP_GENESYS_SECRET_ID", "s"),
                ("BACKUP_DIDS", "0290000000"),
            ],
            vec![
                ("BACKUP_GENESYS_ENVIRONMENT", "a.b"),
                ("BACKUP_GENESYS_SECRET_ID", "s"),
                ("BACKUP_FLOW_NAME", "a\u{7}b"),
            ],
        ] {
            assert!(BackupConfig::from_env(&env(&pairs)).is_err(), "{pairs:?}");
        }
    }
}
