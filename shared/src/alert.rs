//! Pages: one outbox entry as a PagerDuty Events API v2 event, and what PagerDuty made
//! of it. Accepted (202) and refused for good (400) are final; 429, 5xx and timeouts are
//! retried later with backoff. `actions` decides when, claims, and records the outcome.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::breaker::{outbox, Action, OutboxEntry};
use crate::clock::Millis;
use crate::config::{parsed, seconds_ms, ConfigError, Env};
use crate::dependency::Dependency;
use crate::http::{self, HttpError};
use crate::secrets::{field, SecretCache};

pub const DEFAULT_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// The first retry waits this long; each further failure doubles it, up to MAX_BACKOFF_MS.
pub const DEFAULT_BACKOFF_MS: Millis = 10_000;
const MAX_BACKOFF_MS: Millis = 300_000;

pub struct PagerDuty {
    pub http: reqwest::Client,
    pub url: String,
    pub secrets: Arc<SecretCache>,
    pub secret_id: String,
    pub runbooks: Runbooks,
    pub backoff_ms: Millis,
}

/// The runbook each breaker's page links to, so the on-call engineer lands on the steps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Runbooks {
    /// Where the runbook files are published, e.g. a repository's `infra/runbooks/` URL.
    /// Empty: the page names the file in the repository instead of linking to it.
    pub base_url: String,
}

impl Runbooks {
    /// The runbook's URL, or its repository path when no base URL is configured.
    pub fn for_breaker(&self, breaker: &str) -> Option<String> {
        let file = Dependency::parse(breaker)?.runbook();
        Some(if self.base_url.is_empty() {
            format!("infra/runbooks/{file}")
        } else {
            format!("{}/{file}", self.base_url.trim_end_matches('/'))
        })
    }
}

/// What PagerDuty made of one event.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    Accepted,
    Refused(u16),
    Retry { after_s: Option<u64>, why: String },
}

/// The Events API v2 body for an alert. A trigger names its runbook in `custom_details`
/// and, when it is a URL, links to it.
pub fn event(routing_key: &str, breaker: &str, a: &OutboxEntry, runbook: Option<&str>) -> Value {
    match a.action {
        Action::Resolve => {
            json!({"routing_key": routing_key, "event_action": "resolve", "dedup_key": a.dedup_key})
        }
        // Pages that could not be delivered as themselves: one low-urgency event, so a
        // PagerDuty outage becomes one line, not N incidents, and nothing is silently lost.
        Action::Summary => low_urgency(
            routing_key,
            breaker,
            a,
            ("warning", "paging_backlog"),
            json!({"circuit": breaker, "undelivered": a.failures, "alert_id": a.id}),
        ),
        // An outage action that keeps failing: someone must do it by hand.
        Action::Effect(_) => low_urgency(
            routing_key,
            breaker,
            a,
            ("error", "outage_action"),
            json!({"circuit": breaker, "action": a.action.as_str(),
                   "attempts": a.attempts, "last_error": a.last_error}),
        ),
        // Failsoft's own work needs someone (a write-back in the DLQ), or tells of a
        // switch it made (the regional overflow): no outage impact of its own.
        Action::Trigger if a.id.starts_with(outbox::WORK_PREFIX) => {
            let kind = &a.id[outbox::WORK_PREFIX.len()..];
            let (severity, class, runbook_file) = match kind {
                "overflow-on" => ("info", "overflow", "regional-overflow.md"),
                // The switch could not be made: the SBC re-route is now the only way.
                "overflow-failed" => ("critical", "overflow", "regional-overflow.md"),
                "overflow-ivrs" => ("error", "overflow", "regional-overflow.md"),
                // An outage action that keeps failing, queued when its page was not heard.
                k if k.starts_with("failing-") => ("error", "outage_action", "outage-actions.md"),
                _ => ("error", "writeback", "crm-writeback.md"),
            };
            let mut ev = low_urgency(
                routing_key,
                breaker,
                a,
                (severity, class),
                json!({"circuit": breaker, "kind": kind, "last_error": a.last_error,
                       "runbook": format!("infra/runbooks/{runbook_file}")}),
            );
            // The breaker's own runbook is the overflow's (genesys-api): link it.
            if let Some(href) = runbook.filter(|r| {
                class == "overflow" && r.ends_with(runbook_file) && r.starts_with("http")
            }) {
                ev["links"] = json!([{"href": href, "text": "Runbook: regional overflow"}]);
            }
            ev
        }
        Action::Trigger => {
            // The breaker says what happened; the registry says what it means to people.
            // A forced close is an operator's override: a warning, with no outage impact.
            let forced_closed = outbox::is_forced_closed(a);
            // A secret that cannot be used: someone must fix it, though nothing failed.
            let config = a.id == outbox::CONFIG_ID;
            let summary = match Dependency::parse(breaker) {
                Some(d) if !forced_closed => format!("{}. Impact: {}", a.summary, d.impact()),
                _ => a.summary.clone(),
            };
            // A backup that would not take calls hurts nobody yet: low urgency.
            let backup = breaker == Dependency::GenesysBackup.name();
            let (severity, class) = if forced_closed {
                ("warning", "breaker_override")
            } else if config {
                ("error", "configuration")
            } else if backup {
                ("warning", "backup_readiness")
            } else {
                ("critical", "circuit_breaker")
            };
            let summary: String = summary.chars().take(1024).collect();
            let links: Vec<Value> = runbook
                .filter(|r| r.starts_with("https://") || r.starts_with("http://"))
                .map(|href| json!({"href": href, "text": format!("Runbook: {breaker}")}))
                .into_iter()
                .collect();
            json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": a.dedup_key,
                "links": links,
                "payload": {
                    "summary": summary,
                    "source": "failsoft",
                    "severity": severity,
                    "timestamp": crate::clock::iso8601(a.created_ms),
                    "component": breaker,
                    "group": "failsoft",
                    "class": class,
                    "custom_details": {"circuit": breaker, "failure_count": a.failures,
                                       "last_error": a.last_error, "alert_id": a.id,
                                       "runbook": runbook},
                }
            })
        }
    }
}

/// A trigger with no runbook and no impact text: the summary of what could not be
/// delivered, or an outage action that keeps failing.
fn low_urgency(
    routing_key: &str,
    breaker: &str,
    a: &OutboxEntry,
    (severity, class): (&str, &str),
    details: Value,
) -> Value {
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": a.dedup_key,
        "payload": {
            "summary": a.summary.chars().take(1024).collect::<String>(),
            "source": "failsoft",
            "severity": severity,
            "timestamp": crate::clock::iso8601(a.created_ms),
            "component": breaker,
            "group": "failsoft",
            "class": class,
            "custom_details": details,
        }
    })
}

/// How long to wait before the next attempt, after `attempts` failed ones: `base_ms`
/// doubling, at most 5 minutes; a longer Retry-After wins.
pub fn retry_in(base_ms: Millis, attempts: u32, retry_after_s: Option<u64>) -> Millis {
    let backoff = base_ms
        .saturating_mul(1 << attempts.min(10))
        .min(MAX_BACKOFF_MS);
    retry_after_s
        .map(|s| (s as Millis).saturating_mul(1000))
        .unwrap_or(0)
        .max(backoff)
}

/// Where and how pages go: `ALERT_SECRET_ID`, `PAGERDUTY_EVENTS_URL`,
/// `RUNBOOK_BASE_URL` and `ALERT_BACKOFF_S`. None without `ALERT_SECRET_ID`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertConfig {
    pub secret_id: String,
    pub url: String,
    pub runbooks: Runbooks,
    pub backoff_ms: Millis,
}

impl AlertConfig {
    pub fn from_env(env: &impl Env) -> Result<Option<AlertConfig>, ConfigError> {
        let env: &dyn Env = env;
        let Some(secret_id) = env.get("ALERT_SECRET_ID") else {
            return Ok(None);
        };
        let backoff_ms = seconds_ms(
            "ALERT_BACKOFF_S",
            parsed(env, "ALERT_BACKOFF_S", DEFAULT_BACKOFF_MS as f64 / 1000.0)?,
        )?
        .min(MAX_BACKOFF_MS);
        Ok(Some(AlertConfig {
            secret_id,
            url: env
                .get("PAGERDUTY_EVENTS_URL")
                .unwrap_or_else(|| DEFAULT_EVENTS_URL.into()),
            runbooks: Runbooks {
                base_url: env.get("RUNBOOK_BASE_URL").unwrap_or_default(),
            },
            backoff_ms,
        }))
    }
}

impl PagerDuty {
    /// The sender, with the instance's HTTP client and secret cache.
    pub fn new(services: &crate::service::Services, config: AlertConfig) -> PagerDuty {
        PagerDuty {
            http: services.http.clone(),
            url: config.url,
            secrets: services.secrets.clone(),
            secret_id: config.secret_id,
            runbooks: config.runbooks,
            backoff_ms: config.backoff_ms,
        }
    }

    /// How long to wait before the next attempt, after `attempts` failed ones; a longer
    /// Retry-After wins.
    pub fn retry_in(&self, attempts: u32, retry_after_s: Option<u64>) -> Millis {
        retry_in(self.backoff_ms, attempts, retry_after_s)
    }

    /// Send one event for `a`, within `deadline`.
    pub async fn send(&self, breaker: &str, a: &OutboxEntry, deadline: Instant) -> Sent {
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
        let runbook = self.runbooks.for_breaker(breaker);
        let body = event(&key, breaker, a, runbook.as_deref());
        let req = self.http.post(&self.url).json(&body);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::Action;
    use crate::secrets::{SecretError, SecretSource};

    struct NoSecrets;

    #[async_trait::async_trait]
    impl SecretSource for NoSecrets {
        async fn secret_json(&self, id: &str) -> Result<Value, SecretError> {
            Err(SecretError::Malformed { id: id.into() })
        }
    }

    fn trigger() -> OutboxEntry {
        OutboxEntry {
            id: "3-trigger".into(),
            action: Action::Trigger,
            dedup_key: "genesys-api/3".into(),
            summary: "genesys-api: circuit OPEN".into(),
            failures: 5,
            last_error: Some("HTTP 503".into()),
            created_ms: 0,
            attempts: 0,
            next_ms: 0,
            claim: None,
        }
    }

    #[test]
    fn a_region_page_links_the_overflow_runbook() {
        let rb = Runbooks {
            base_url: "https://wiki.example/failsoft/runbooks/".into(),
        };
        let url = rb.for_breaker("genesys-api");
        let ev = event("k", "genesys-api", &trigger(), url.as_deref());
        let want = "https://wiki.example/failsoft/runbooks/regional-overflow.md";
        assert_eq!(ev["payload"]["custom_details"]["runbook"], want);
        assert_eq!(
            ev["links"],
            json!([{"href": want, "text": "Runbook: genesys-api"}])
        );
    }

    #[test]
    fn without_a_base_url_the_page_names_the_file_and_links_nothing() {
        let rb = Runbooks::default();
        let path = rb.for_breaker("crm-auth");
        let ev = event("k", "crm-auth", &trigger(), path.as_deref());
        assert_eq!(
            ev["payload"]["custom_details"]["runbook"],
            "infra/runbooks/token-outage.md"
        );
        assert_eq!(ev["links"], json!([]));
        assert_eq!(rb.for_breaker("some-other"), None);
    }

    #[test]
    fn a_trigger_says_what_the_open_breaker_means() {
        let ev = event("k", "genesys-api", &trigger(), None);
        let summary = ev["payload"]["summary"].as_str().unwrap_or_default();
        assert!(
            summary.starts_with("genesys-api: circuit OPEN"),
            "{summary}"
        );
        assert!(
            summary.ends_with(Dependency::GenesysApi.impact()),
            "{summary}"
        );
    }

    #[test]
    fn a_forced_close_pages_a_warning_without_the_outage_impact() {
        let rec = crate::breaker::Record::new("crm");
        let s = crate::breaker::step(
            &rec,
            &crate::breaker::Event::ForceClosed {
                by: "ops".into(),
                until: None,
            },
            1_000,
            &crate::breaker::Policy::default(),
        );
        let Some(crate::breaker::Op::Transition { alerts, .. }) = s.op else {
            panic!("forcing closed is a transition");
        };
        let ev = event("k", "crm", &alerts[0], None);
        assert_eq!(ev["payload"]["severity"], "warning");
        assert_eq!(ev["payload"]["class"], "breaker_override");
        let summary = ev["payload"]["summary"].as_str().unwrap_or_default();
        assert!(!summary.contains("Impact"), "{summary}");
        let open = event("k", "crm", &trigger(), None);
        assert_eq!(open["payload"]["severity"], "critical");
    }

    #[test]
    fn overflow_pages_say_how_urgent_they_are() {
        let page = |id: &str| {
            let mut a = outbox::work_fault("genesys-api", "overflow", "overflow", "why", 0);
            a.id = id.into();
            let url = "https://wiki.example/runbooks/regional-overflow.md";
            event("k", "genesys-api", &a, Some(url))
        };
        let on = page("work-overflow-on");
        assert_eq!(
            (&on["payload"]["severity"], &on["payload"]["class"]),
            (&json!("info"), &json!("overflow"))
        );
        assert_eq!(
            on["links"][0]["href"],
            "https://wiki.example/runbooks/regional-overflow.md"
        );
        // The switch could not be made: the SBC re-route is someone's job right now.
        assert_eq!(
            page("work-overflow-failed")["payload"]["severity"],
            "critical"
        );
        assert_eq!(page("work-overflow-ivrs")["payload"]["severity"], "error");
        // A backup that is not ready: a warning, with what it would mean.
        let ev = event("k", "genesys-backup", &trigger(), None);
        assert_eq!(ev["payload"]["severity"], "warning");
        assert_eq!(ev["payload"]["class"], "backup_readiness");
        let summary = ev["payload"]["summary"].as_str().unwrap_or_default();
        assert!(
            summary.contains("overflow to the backup region would fail"),
            "{summary}"
        );
    }

    #[test]
    fn retries_back_off_doubling_and_a_longer_retry_after_wins() {
        let pd = PagerDuty {
            http: reqwest::Client::new(),
            url: String::new(),
            secrets: Arc::new(SecretCache::new(Arc::new(NoSecrets))),
            secret_id: String::new(),
            runbooks: Runbooks::default(),
            backoff_ms: 1_000,
        };
        let waits: Vec<Millis> = (0..4).map(|n| pd.retry_in(n, None)).collect();
        assert_eq!(waits, vec![1_000, 2_000, 4_000, 8_000]);
        assert_eq!(pd.retry_in(0, Some(30)), 30_000);
        assert_eq!(pd.retry_in(3, Some(1)), 8_000);
        assert_eq!(pd.retry_in(40, None), MAX_BACKOFF_MS);
    }
}
