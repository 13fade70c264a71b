//! Alert delivery: the breaker outbox to the PagerDuty Events API v2. An entry leaves the
//! outbox only when PagerDuty accepted it (202) or refused it for good (400); 429, 5xx
//! and timeouts are retried later with backoff. A sender claims an entry before sending,
//! so concurrent senders never send it twice.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::breaker::{Action, Alert, Applied, BreakerStore, Millis, Op};
use crate::http::{self, HttpError};
use crate::metrics;
use crate::secrets::{field, SecretCache};

pub const DEFAULT_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// At most this many events per delivery run: PagerDuty allows about 120 a minute per key.
pub const MAX_PER_RUN: usize = 20;
const CLAIM_MS: Millis = 15_000;

pub struct PagerDuty {
    pub http: reqwest::Client,
    pub url: String,
    pub secrets: Arc<SecretCache>,
    pub secret_id: String,
}

#[derive(Debug, PartialEq, Eq)]
enum Sent {
    Accepted,
    Refused(u16),
    Retry { after_s: Option<u64>, why: String },
}

/// What a delivery run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    pub sent: u32,
    pub pending: u32,
}

impl std::ops::AddAssign for Delivery {
    fn add_assign(&mut self, o: Delivery) {
        self.sent += o.sent;
        self.pending += o.pending;
    }
}

/// The Events API v2 body for an alert.
pub fn event(routing_key: &str, breaker: &str, a: &Alert) -> Value {
    match a.action {
        Action::Resolve => {
            json!({"routing_key": routing_key, "event_action": "resolve", "dedup_key": a.dedup_key})
        }
        Action::Trigger => {
            let summary: String = a.summary.chars().take(1024).collect();
            json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": a.dedup_key,
                "payload": {
                    "summary": summary,
                    "source": "failsoft",
                    "severity": "critical",
                    "timestamp": crate::clock::iso8601(a.created_ms),
                    "component": breaker,
                    "group": "failsoft",
                    "class": "circuit_breaker",
                    "custom_details": {"circuit": breaker, "failure_count": a.failures,
                                       "last_error": a.last_error, "alert_id": a.id},
                }
            })
        }
    }
}

impl PagerDuty {
    /// The sender configured by `ALERT_SECRET_ID` and `PAGERDUTY_EVENTS_URL`, if any.
    pub fn from_env(
        services: &crate::service::Services,
        env: &dyn crate::config::Env,
    ) -> Option<PagerDuty> {
        env.get("ALERT_SECRET_ID").map(|secret_id| PagerDuty {
            http: services.http.clone(),
            url: env
                .get("PAGERDUTY_EVENTS_URL")
                .unwrap_or_else(|| DEFAULT_EVENTS_URL.into()),
            secrets: services.secrets.clone(),
            secret_id,
        })
    }

    async fn send(&self, breaker: &str, a: &Alert, deadline: Instant) -> Sent {
        let key = match self
            .secrets
            .get(&self.secret_id, deadline)
            .await
            .and_then(|s| field(&s, &self.secret_id, "routing_key"))
        {
            Ok(k) => k,
            Err(e) => {
                return Sent::Retry {
                    after_s: None,
                    why: e.to_string(),
                }
            }
        };
        let req = self.http.post(&self.url).json(&event(&key, breaker, a));
        match http::send_json(req, deadline).await {
            Ok(_) => Sent::Accepted,
            // A 2xx with a body that is not JSON still means accepted.
            Err(HttpError::Garbage(_)) => Sent::Accepted,
            Err(HttpError::Status { status: 400, .. }) => Sent::Refused(400),
            Err(HttpError::Status {
                status,
                retry_after_s,
            }) => Sent::Retry {
                after_s: retry_after_s,
                why: format!("HTTP {status}"),
            },
            Err(e) => Sent::Retry {
                after_s: None,
                why: e.to_string(),
            },
        }
    }

    /// Send what is due in `breaker`'s outbox. Entries of one episode go in order.
    pub async fn deliver(
        &self,
        store: &dyn BreakerStore,
        breaker: &str,
        owner: &str,
        now: Millis,
        deadline: Instant,
    ) -> Delivery {
        let rec = match tokio::time::timeout_at(deadline, store.load(breaker)).await {
            Ok(Ok(r)) => r,
            _ => return Delivery::default(),
        };
        let mut entries: Vec<&Alert> = rec.outbox.values().collect();
        entries.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        let mut blocked: HashSet<&str> = HashSet::new();
        let mut done = Delivery::default();
        let mut attempts = 0;
        for a in entries {
            let due = a.next_ms <= now && !a.claimed_by_other(owner, now);
            if !due
                || blocked.contains(a.dedup_key.as_str())
                || attempts >= MAX_PER_RUN
                || Instant::now() >= deadline
            {
                blocked.insert(&a.dedup_key);
                done.pending += 1;
                continue;
            }
            let claim = Op::ClaimAlert {
                id: a.id.clone(),
                owner: owner.to_string(),
                now,
                until: now + CLAIM_MS,
            };
            if !matches!(store.apply(breaker, &claim).await, Ok(Applied::Won(_))) {
                blocked.insert(&a.dedup_key);
                done.pending += 1;
                continue;
            }
            attempts += 1;
            let send_deadline = deadline.min(Instant::now() + Duration::from_secs(5));
            let result = self.send(breaker, a, send_deadline).await;
            let op = match &result {
                Sent::Accepted | Sent::Refused(_) => Op::DropAlert {
                    id: a.id.clone(),
                    owner: owner.to_string(),
                },
                Sent::Retry { after_s, .. } => {
                    let backoff = (10_000i64 << a.attempts.min(5)).min(300_000);
                    let after = after_s
                        .map(|s| s as Millis * 1000)
                        .unwrap_or(0)
                        .max(backoff);
                    Op::DeferAlert {
                        id: a.id.clone(),
                        owner: owner.to_string(),
                        attempts: a.attempts + 1,
                        next_ms: now + after,
                    }
                }
            };
            let _ = store.apply(breaker, &op).await;
            match result {
                Sent::Accepted => {
                    done.sent += 1;
                    tracing::info!(breaker, alert = %a.id, action = a.action.as_str(), dedup_key = %a.dedup_key, "alert delivered");
                    metrics::emit(
                        &[("Breaker", breaker)],
                        &[metrics::count("AlertsSent", 1.0)],
                    );
                }
                Sent::Refused(status) => {
                    tracing::error!(breaker, alert = %a.id, status, "PagerDuty refused the alert; dropped, not retried");
                    metrics::emit(
                        &[("Breaker", breaker)],
                        &[metrics::count("AlertsRejected", 1.0)],
                    );
                }
                Sent::Retry { why, .. } => {
                    blocked.insert(&a.dedup_key);
                    done.pending += 1;
                    tracing::warn!(breaker, alert = %a.id, attempt = a.attempts + 1, error = %why, "alert delivery failed; will retry");
                }
            }
        }
        metrics::emit(
            &[("Breaker", breaker)],
            &[metrics::count("AlertsPending", f64::from(done.pending))],
        );
        done
    }
}
