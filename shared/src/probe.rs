//! The health probe: every dependency checked through the same breaker code the
//! functions use, so OPEN and HALF_OPEN breakers move with no traffic at all; then
//! reminders for long episodes, and delivery of every pending alert.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::alert::{Delivery, PagerDuty};
use crate::breaker::{outbox, Breaker, BreakerStore, Guarded, Millis, Op, State, Transition};
use crate::clock::Clock;
use crate::http::{self, HttpError};
use crate::metrics;
use crate::token::TokenCache;

pub enum Check {
    /// GET `url`; healthy on 2xx.
    Http { url: String },
    /// GET `<instance_url><path>` with the crm token; healthy on 2xx.
    Crm {
        tokens: Arc<TokenCache>,
        path: String,
    },
    /// A token endpoint, through its provider's own `<name>-auth` breaker.
    Token(Arc<TokenCache>),
}

pub struct Dependency {
    pub breaker: Breaker,
    pub check: Check,
}

pub struct Prober {
    pub dependencies: Vec<Dependency>,
    pub store: Arc<dyn BreakerStore>,
    pub http: reqwest::Client,
    pub pagerduty: Option<PagerDuty>,
    pub clock: Arc<dyn Clock>,
    pub timeout: Duration,
    pub reminder_ms: Millis,
    pub instance: String,
}

impl Prober {
    /// Err((why, counts)): `counts` is false when the dependency itself was not reached
    /// (no token), so its breaker does not count it.
    async fn check(&self, check: &Check, deadline: Instant) -> Result<(), (String, bool)> {
        let get = |url: String, bearer: Option<String>| async move {
            let mut req = self.http.get(url);
            if let Some(b) = bearer {
                req = req.bearer_auth(b);
            }
            match http::send_json(req, deadline).await {
                // Health pages need not be JSON: any 2xx is healthy.
                Ok(_) | Err(HttpError::Garbage(_)) => Ok(()),
                Err(e) => Err((e.to_string(), true)),
            }
        };
        match check {
            Check::Http { url } => get(url.clone(), None).await,
            Check::Crm { tokens, path } => {
                let (t, _) = tokens
                    .get(deadline)
                    .await
                    .map_err(|e| (e.to_string(), false))?;
                let base = t.instance_url.clone().unwrap_or_default();
                get(
                    format!("{}{path}", base.trim_end_matches('/')),
                    Some(t.access_token),
                )
                .await
            }
            Check::Token(tc) => tc
                .probe(deadline)
                .await
                .map(|_| ())
                .map_err(|e| (e.to_string(), true)),
        }
    }

    /// Probe one dependency. While HALF_OPEN keeps succeeding it probes again, up to the
    /// success threshold, so a recovered dependency closes in one run.
    async fn probe(&self, d: &Dependency, deadline: Instant) -> Value {
        let started = Instant::now();
        let b = match &d.check {
            Check::Token(tc) => tc.breaker(),
            _ => &d.breaker,
        };
        let mut healthy = None;
        for _ in 0..=b.policy().success_threshold {
            let probe_deadline = deadline.min(Instant::now() + self.timeout);
            let r = match &d.check {
                // The token cache guards its endpoint itself.
                Check::Token(_) => match self.check(&d.check, probe_deadline).await {
                    Ok(()) => Guarded::Ok(()),
                    Err(e) => Guarded::Failed {
                        error: e,
                        counted: true,
                    },
                },
                c => {
                    let run = || self.check(c, probe_deadline);
                    b.call(
                        probe_deadline,
                        deadline,
                        run,
                        |e: &(String, bool)| e.1,
                        |e: &(String, bool)| e.0.clone(),
                    )
                    .await
                }
            };
            match r {
                Guarded::Ok(()) => healthy = Some(true),
                Guarded::Rejected(_) => {
                    // OPEN and not yet due, or forced: the breaker is left alone, but the
                    // report still says how the dependency is doing.
                    if healthy.is_none() {
                        healthy = Some(self.check(&d.check, probe_deadline).await.is_ok());
                    }
                    break;
                }
                Guarded::Failed { .. } | Guarded::TimedOut => {
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
        let note = Op::NoteProbe {
            at: self.clock.now_ms(),
            healthy,
        };
        let _ = tokio::time::timeout_at(deadline, self.store.apply(b.name(), &note)).await;
        let state = b.current(deadline).await.state;
        metrics::emit(
            &[("Dependency", b.name())],
            &[
                metrics::millis("ProbeLatency", latency_ms as f64),
                metrics::count("ProbeHealthy", if healthy { 1.0 } else { 0.0 }),
            ],
        );
        json!({"name": b.name(), "healthy": healthy, "latencyMs": latency_ms, "state": state, "transition": transition})
    }

    /// Queue a reminder for every breaker whose episode has gone unannounced too long.
    async fn remind(&self) {
        let now = self.clock.now_ms();
        let Ok(all) = self.store.list().await else {
            return;
        };
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
                let _ = self.store.apply(&r.name, &op).await;
            }
        }
    }

    /// Deliver every breaker's pending alerts.
    pub async fn deliver_all(&self, deadline: Instant) -> Delivery {
        let mut total = Delivery::default();
        let Ok(all) = self.store.list().await else {
            return total;
        };
        for r in all.iter().filter(|r| !r.outbox.is_empty()) {
            match &self.pagerduty {
                Some(pd) => {
                    total += pd
                        .deliver(
                            self.store.as_ref(),
                            &r.name,
                            &self.instance,
                            self.clock.now_ms(),
                            deadline,
                        )
                        .await
                }
                None => {
                    tracing::error!(breaker = %r.name, pending = r.outbox.len(), "alerts pending and ALERT_SECRET_ID is not set");
                    total.pending += r.outbox.len() as u32;
                }
            }
        }
        total
    }

    /// One scheduled run: the contract's probe output.
    pub async fn run(&self, deadline: Instant) -> Value {
        let mut deps = Vec::new();
        for d in &self.dependencies {
            deps.push(self.probe(d, deadline).await);
        }
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

/// The probe knobs (variable, default, meaning), as documented in the README.
pub const KNOBS: &[(&str, &str, &str)] = &[
    ("PROBE_TIMEOUT_MS", "3000", "one probe request's timeout"),
    (
        "PROBE_CRM_PATH",
        "/services/data/",
        "probed on the CRM instance (with the crm token)",
    ),
    (
        "GENESYS_API_URL",
        "https://api.<GENESYS_ENVIRONMENT>",
        "the Genesys API base of the org's region",
    ),
    (
        "PROBE_GENESYS_API_PATH",
        "/api/v2/health/check",
        "probed on the Genesys API (breaker genesys-api)",
    ),
    (
        "ALERT_SECRET_ID",
        "unset",
        "Secrets Manager secret {routing_key}; unset: alerts stay pending, logged as errors",
    ),
    (
        "PAGERDUTY_EVENTS_URL",
        "https://events.pagerduty.com/v2/enqueue",
        "PagerDuty Events API v2 endpoint",
    ),
    (
        "ALERT_BACKOFF_S",
        "10",
        "first retry of a failed delivery after this; doubles per failure, at most 300 s; a longer Retry-After wins",
    ),
    (
        "RUNBOOK_BASE_URL",
        "unset",
        "where infra/runbooks/ is published; a trigger links its breaker's runbook (unset: names the file)",
    ),
    (
        "ALERT_REMINDER_S",
        "3600",
        "an episode still open this long alerts again (same dedup_key)",
    ),
];

impl Prober {
    /// Dependencies from what is configured: the CRM and its token endpoint with
    /// `CRM_SECRET_ID`, the Genesys token endpoint with `GENESYS_SECRET_ID`, the Genesys API
    /// with `GENESYS_ENVIRONMENT` or `GENESYS_API_URL`.
    pub fn from_env(
        services: &crate::service::Services,
        env: &dyn crate::config::Env,
    ) -> Result<Prober, crate::service::InitError> {
        use crate::config::parsed;
        let mut dependencies = Vec::new();
        for provider in crate::token::providers_from_env(env)? {
            let tokens = Arc::new(services.token_cache(provider.clone(), env)?);
            if provider.name() == "crm" {
                let path = env
                    .get("PROBE_CRM_PATH")
                    .unwrap_or_else(|| "/services/data/".into());
                dependencies.push(Dependency {
                    breaker: services.breaker("crm", env)?,
                    check: Check::Crm {
                        tokens: tokens.clone(),
                        path,
                    },
                });
            }
            dependencies.push(Dependency {
                breaker: services.breaker(&format!("{}-auth", provider.name()), env)?,
                check: Check::Token(tokens),
            });
        }
        let api = env.get("GENESYS_API_URL").or_else(|| {
            env.get("GENESYS_ENVIRONMENT")
                .map(|e| format!("https://api.{e}"))
        });
        if let Some(base) = api {
            let path = env
                .get("PROBE_GENESYS_API_PATH")
                .unwrap_or_else(|| "/api/v2/health/check".into());
            dependencies.push(Dependency {
                breaker: services.breaker("genesys-api", env)?,
                check: Check::Http {
                    url: format!("{}{path}", base.trim_end_matches('/')),
                },
            });
        }
        let pagerduty = PagerDuty::from_env(services, env)?;
        Ok(Prober {
            dependencies,
            store: services.store.clone(),
            http: services.http.clone(),
            pagerduty,
            clock: services.clock.clone(),
            timeout: Duration::from_millis(parsed(env, "PROBE_TIMEOUT_MS", 3_000u64)?),
            reminder_ms: parsed::<i64>(env, "ALERT_REMINDER_S", 3_600)?.max(60) * 1000,
            instance: format!("probe-{:016x}", rand::random::<u64>()),
        })
    }
}
