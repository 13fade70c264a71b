//! The scheduled health check (the health-probe function): every dependency checked
//! through the same breaker code the functions use, so OPEN and HALF_OPEN breakers move
//! with no traffic at all; then reminders for long episodes, and delivery of every
//! pending alert. The guide's edge case 1: no calls at 4 AM must not keep a breaker open.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::actions::{Delivery, Executor};
use crate::breaker::{
    outbox, Breaker, BreakerStore, CallError, Classify, Op, State, Transition, Verdict,
};
use crate::clock::{Clock, Millis};
use crate::config::{number, parsed, renamed, ConfigError, Env};
use crate::dependency::{Dependency, HealthCheck};
use crate::http::{self, HttpError};
use crate::metrics;
use crate::overflow::backup::{Backup, BackupConfig};
use crate::service::{InitError, Services};
use crate::token::{TokenCache, TokenConfig};

pub enum Check {
    /// GET `url`; healthy on 2xx.
    Http { url: String },
    /// GET `url` on the Genesys API with the fleet's Genesys token; healthy on 2xx. A
    /// token it cannot have, or one the API refuses (401), is the token's fault, not the
    /// API's.
    Genesys {
        tokens: Arc<TokenCache>,
        url: String,
    },
    /// GET `<instance_url><path>` with the crm token; healthy on 2xx.
    Crm {
        tokens: Arc<TokenCache>,
        path: String,
    },
    /// A token endpoint, through its provider's own `<name>-auth` breaker.
    Token(Arc<TokenCache>),
    /// The backup region's readiness for an overflow.
    Backup(Arc<Backup>),
}

/// One dependency to check, with the breaker its result moves.
pub struct Target {
    pub breaker: Breaker,
    pub check: Check,
}

/// Why a check failed. `reached` is false when the dependency itself was not reached
/// (no token), so its breaker does not count it.
#[derive(Debug, thiserror::Error)]
#[error("{why}")]
pub struct CheckError {
    why: String,
    reached: bool,
}

impl Classify for CheckError {
    fn verdict(&self) -> Verdict {
        if self.reached {
            Verdict::Failed
        } else {
            Verdict::NotReached
        }
    }
}

pub struct HealthChecker {
    pub targets: Vec<Target>,
    pub store: Arc<dyn BreakerStore>,
    pub http: reqwest::Client,
    /// Runs what transitions called for and nobody ran yet: the stream's backstop.
    pub actions: Executor,
    pub clock: Arc<dyn Clock>,
    pub timeout: Duration,
    pub reminder_ms: Millis,
}

impl HealthChecker {
    async fn check(&self, check: &Check, deadline: Instant) -> Result<(), CheckError> {
        let failed = |why: String, reached: bool| CheckError { why, reached };
        let get = |url: String, bearer: Option<String>| async move {
            let mut req = self.http.get(url);
            if let Some(b) = bearer {
                req = req.bearer_auth(b);
            }
            match http::send_json(req, deadline).await {
                // Health pages need not be JSON: any 2xx is healthy.
                Ok(_) | Err(HttpError::Garbage(_)) => Ok(()),
                Err(e) => Err(failed(e.to_string(), true)),
            }
        };
        match check {
            Check::Http { url } => get(url.clone(), None).await,
            Check::Genesys { tokens, url } => {
                let (t, _) = tokens
                    .get(deadline)
                    .await
                    .map_err(|e| failed(e.to_string(), false))?;
                let req = self.http.get(url.clone()).bearer_auth(&t.access_token);
                match http::send_json(req, deadline).await {
                    Ok(_) | Err(HttpError::Garbage(_)) => Ok(()),
                    Err(e @ HttpError::Status { status: 401, .. }) => {
                        // Dropped fleet-wide; the next check fetches a new one.
                        tokens.invalidate(&t, deadline).await;
                        Err(failed(format!("the Genesys token was refused: {e}"), false))
                    }
                    Err(e) => Err(failed(e.to_string(), true)),
                }
            }
            Check::Crm { tokens, path } => {
                let (t, _) = tokens
                    .get(deadline)
                    .await
                    .map_err(|e| failed(e.to_string(), false))?;
                let base = t.instance_url.clone().unwrap_or_default();
                get(
                    format!("{}{path}", base.trim_end_matches('/')),
                    Some(t.access_token),
                )
                .await
            }
            Check::Token(tc) => tc
                .health_check(deadline)
                .await
                .map(|_| ())
                .map_err(|e| failed(e.to_string(), true)),
            Check::Backup(b) => b
                .check(deadline)
                .await
                .map(|_| ())
                .map_err(|e| failed(e.why, e.reached)),
        }
    }

    /// Check one dependency. While HALF_OPEN keeps succeeding it checks again, up to the
    /// success threshold, so a recovered dependency closes in one run.
    async fn check_one(&self, d: &Target, deadline: Instant) -> Value {
        let started = Instant::now();
        let b = match &d.check {
            Check::Token(tc) => tc.breaker(),
            _ => &d.breaker,
        };
        let mut healthy = None;
        for _ in 0..=b.policy().success_threshold {
            let check_deadline = deadline.min(Instant::now() + self.timeout);
            let r = match &d.check {
                // The token cache guards its endpoint itself.
                Check::Token(_) => self
                    .check(&d.check, check_deadline)
                    .await
                    .map_err(CallError::Failed),
                c => {
                    b.call(check_deadline, deadline, || self.check(c, check_deadline))
                        .await
                }
            };
            match r {
                Ok(()) => healthy = Some(true),
                Err(CallError::Rejected(_)) => {
                    // OPEN and not yet due, or forced: the breaker is left alone, but the
                    // report still says how the dependency is doing.
                    if healthy.is_none() {
                        healthy = Some(self.check(&d.check, check_deadline).await.is_ok());
                    }
                    break;
                }
                Err(CallError::Failed(_) | CallError::TimedOut) => {
                    healthy = Some(false);
                    break;
                }
            }
            if b.current(deadline).await.state != State::HalfOpen {
                break;
            }
        }
        let latency_ms = started.elapsed().as_millis() as u64;
        let won: Vec<Transition> = b.take_transitions();
        let transition = match (won.first(), won.last()) {
            (Some(f), Some(l)) => Value::String(format!("{}->{}", f.from, l.to)),
            _ => Value::Null,
        };
        let healthy = healthy.unwrap_or(false);
        let note = Op::NoteHealthCheck {
            at: self.clock.now_ms(),
            healthy,
        };
        let until = crate::store::request_deadline(deadline);
        let _ = tokio::time::timeout_at(until, self.store.apply(b.name(), &note)).await;
        let state = b.current(deadline).await.state;
        // The latency is a log field, not a metric: a metric per dependency sent every
        // minute is a custom metric billed all month, and nothing alarms on it.
        tracing::info!(dependency = b.name(), healthy, latency_ms, "health check");
        metrics::emit(
            &[("Dependency", b.name())],
            &[metrics::count(
                "HealthCheckHealthy",
                if healthy { 1.0 } else { 0.0 },
            )],
        );
        json!({"name": b.name(), "healthy": healthy, "latencyMs": latency_ms, "state": state, "transition": transition})
    }

    /// Queue a reminder for every breaker whose episode has gone unannounced too long.
    async fn remind(&self) {
        let now = self.clock.now_ms();
        let all =
            crate::dependency::records(self.store.as_ref(), Instant::now() + self.timeout).await;
        for r in all {
            if let (Some(alert), Some(ep)) = (
                outbox::reminder(&r, now, self.reminder_ms),
                r.episode.clone(),
            ) {
                let op = Op::Remind {
                    episode: ep,
                    alert,
                    now,
                    every_ms: self.reminder_ms,
                };
                let until = crate::store::request_deadline(Instant::now() + self.timeout);
                let _ = tokio::time::timeout_at(until, self.store.apply(&r.name, &op)).await;
            }
        }
    }

    /// Run every breaker's pending actions (pages, campaign changes).
    pub async fn deliver_all(&self, deadline: Instant) -> Delivery {
        self.actions.run_all(deadline).await
    }

    /// One scheduled run: what the health check found.
    pub async fn run(&self, deadline: Instant) -> Value {
        // All at once: one slow dependency, or a slow state table, costs the run its
        // own wait once, not once per dependency.
        let deps: Vec<Value> =
            futures::future::join_all(self.targets.iter().map(|d| self.check_one(d, deadline)))
                .await;
        self.remind().await;
        let delivered = self.deliver_all(deadline).await;
        metrics::emit(
            &[("Function", "health-probe")],
            &[metrics::count(
                "AlertsPendingTotal",
                f64::from(delivered.pending),
            )],
        );
        json!({"dependencies": deps, "alerts": {"sent": delivered.sent, "pending": delivered.pending}})
    }
}

/// The Genesys API's health check: `GET /api/v2/date` ("Get the current system
/// date/time", SDK `UtilitiesApi.get_date`): documented, needs a token but no
/// permission, and reads nothing of the org. `/api/v2/health/check` is not in the
/// public API.
pub const GENESYS_API_CHECK_PATH: &str = "/api/v2/date";

/// The health check's own settings.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthCheckConfig {
    /// One check request's timeout.
    pub timeout: Duration,
    /// Checked on the CRM instance, with the crm token.
    pub crm_path: String,
    /// The Genesys API to check (`GENESYS_API_URL` or `GENESYS_ENVIRONMENT`), if any.
    pub genesys_api: Option<String>,
    pub reminder_ms: Millis,
}

impl HealthCheckConfig {
    pub fn from_env(env: &impl Env) -> Result<HealthCheckConfig, ConfigError> {
        let env: &dyn Env = env;
        let timeout = renamed(env, "HEALTH_CHECK_TIMEOUT_MS", "PROBE_TIMEOUT_MS");
        let crm_path = renamed(env, "HEALTH_CHECK_CRM_PATH", "PROBE_CRM_PATH");
        let api_path = renamed(
            env,
            "HEALTH_CHECK_GENESYS_API_PATH",
            "PROBE_GENESYS_API_PATH",
        );
        let configured =
            env.get("GENESYS_API_URL").is_some() || env.get("GENESYS_ENVIRONMENT").is_some();
        let genesys_api = match configured {
            false => None,
            true => {
                let base = crate::genesys::api_base(env)?;
                let path = parsed(env, &api_path, GENESYS_API_CHECK_PATH.to_string())?;
                Some(crate::genesys::url(&base, &path))
            }
        };
        Ok(HealthCheckConfig {
            timeout: Duration::from_millis(number(env, &timeout, 3_000u64, 100, 20_000)?),
            crm_path: parsed(env, &crm_path, "/services/data/".to_string())?,
            genesys_api,
            reminder_ms: number(env, "ALERT_REMINDER_S", 3_600i64, 60, 604_800)? * 1000,
        })
    }
}

impl HealthChecker {
    /// Targets from what is configured: the CRM and its token endpoint with
    /// `CRM_SECRET_ID`, the Genesys token endpoint with `GENESYS_SECRET_ID`, the Genesys
    /// API with `GENESYS_ENVIRONMENT` or `GENESYS_API_URL`, the backup region with
    /// `BACKUP_GENESYS_ENVIRONMENT`.
    pub fn build(services: &Services, env: &impl Env) -> Result<HealthChecker, InitError> {
        let config = HealthCheckConfig::from_env(env)?;
        let tokens = TokenConfig::from_env(env)?;
        let mut targets = Vec::new();
        let mut genesys_tokens = None;
        for provider in &tokens.providers {
            let cache = Arc::new(services.token_cache(provider.clone(), &tokens, env)?);
            let auth = provider.auth();
            if auth == Dependency::GenesysAuth {
                genesys_tokens = Some(cache.clone());
            }
            for d in Dependency::ALL {
                let check = match d.health_check() {
                    HealthCheck::CrmInstance if auth == Dependency::CrmAuth => Check::Crm {
                        tokens: cache.clone(),
                        path: config.crm_path.clone(),
                    },
                    HealthCheck::TokenEndpoint if d == auth => Check::Token(cache.clone()),
                    _ => continue,
                };
                targets.push(Target {
                    breaker: services.breaker(d, env)?,
                    check,
                });
            }
        }
        if let Some(backup) = BackupConfig::from_env(env)? {
            targets.push(Target {
                breaker: services.breaker(Dependency::GenesysBackup, env)?,
                check: Check::Backup(Arc::new(Backup::new(
                    backup,
                    services.http.clone(),
                    services.secrets.clone(),
                    services.clock.clone(),
                ))),
            });
        }
        if let Some(url) = &config.genesys_api {
            let check = match genesys_tokens {
                Some(tokens) => Check::Genesys {
                    tokens,
                    url: url.clone(),
                },
                // No Genesys client configured: a path that answers without a token.
                None => Check::Http { url: url.clone() },
            };
            targets.push(Target {
                breaker: services.breaker(Dependency::GenesysApi, env)?,
                check,
            });
        }
        Ok(HealthChecker {
            targets,
            store: services.store.clone(),
            http: services.http.clone(),
            actions: Executor::build(services, env, "probe")?,
            clock: services.clock.clone(),
            timeout: config.timeout,
            reminder_ms: config.reminder_ms,
        })
    }
}
