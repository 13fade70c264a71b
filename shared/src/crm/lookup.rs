//! "Who is calling?": validate, normalise, look up behind the `crm` breaker, and always
//! answer inside the deadline, with the real record or the fallback.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use super::last_known::{Kept, LastKnown};
use super::phone::{normalise, Digits};
use super::salesforce::Session;
use super::salesforce::{search, Contact, SalesforceConfig, MIN_ATTEMPT};
use crate::breaker::{Breaker, CallError, Classify, Verdict};
use crate::http::HttpError;
use crate::logging::mask_ani;
use crate::metrics;
use crate::token::{TokenCache, TokenError};

pub const MAX_ANI_LEN: usize = 256;
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    #[serde(rename = "")]
    None,
    CircuitOpen,
    Timeout,
    CrmError,
    AuthUnavailable,
    InvalidInput,
}

impl Reason {
    /// Every reason, for the contract test: a new one must be added to the Data
    /// Action's schema too.
    pub const ALL: [Reason; 6] = [
        Reason::None,
        Reason::CircuitOpen,
        Reason::Timeout,
        Reason::CrmError,
        Reason::AuthUnavailable,
        Reason::InvalidInput,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::None => "",
            Reason::CircuitOpen => "circuit_open",
            Reason::Timeout => "timeout",
            Reason::CrmError => "crm_error",
            Reason::AuthUnavailable => "auth_unavailable",
            Reason::InvalidInput => "invalid_input",
        }
    }
}

/// Where the answer's tier comes from: the CRM now, the last-known context (the CRM
/// could not answer, and a lookup within the TTL confirmed this caller's tier), or
/// nowhere (the default tier).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextSource {
    Crm,
    LastKnown,
    None,
}

impl ContextSource {
    /// Every source, for the contract test.
    pub const ALL: [ContextSource; 3] = [
        ContextSource::Crm,
        ContextSource::LastKnown,
        ContextSource::None,
    ];
}

/// The Data Action's output contract: flat, every field always present.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub found: bool,
    pub customer_name: String,
    pub account_tier: String,
    pub account_id: String,
    pub contact_id: String,
    pub data_action_failed: bool,
    pub degraded_reason: Reason,
    pub context_source: ContextSource,
    /// `last_known` only: seconds since the CRM confirmed the tier; 0 otherwise.
    pub context_age_s: u64,
}

impl Answer {
    pub fn unknown(failed: bool, reason: Reason) -> Answer {
        Answer {
            found: false,
            customer_name: "Unknown".into(),
            account_tier: "standard".into(),
            account_id: String::new(),
            contact_id: String::new(),
            data_action_failed: failed,
            degraded_reason: reason,
            context_source: ContextSource::None,
            context_age_s: 0,
        }
    }
    fn found(c: Contact) -> Answer {
        Answer {
            found: true,
            customer_name: c.name,
            account_tier: c.tier,
            account_id: c.account_id,
            contact_id: c.id,
            data_action_failed: false,
            degraded_reason: Reason::None,
            context_source: ContextSource::Crm,
            context_age_s: 0,
        }
    }

    /// A fallback that keeps the caller's last-known tier, saying so and how old it is;
    /// still a failed Data Action with its reason.
    fn with_last_known(mut self, kept: &Kept, now: crate::clock::Millis) -> Answer {
        self.account_tier = kept.tier.clone();
        self.context_source = ContextSource::LastKnown;
        self.context_age_s = kept.age_s(now);
        self
    }

    /// The outcome name used in logs and metrics.
    pub fn outcome(&self) -> &'static str {
        match (self.found, self.data_action_failed) {
            (true, _) => "found",
            (false, false) => "not_found",
            (false, true) => self.degraded_reason.as_str(),
        }
    }
}

/// The Data Action's event as it arrived: JSON, or why it could not be read. Reading
/// never fails, so an event serde cannot take (nesting past its limit, a lone
/// surrogate, a truncated or empty body) still gets `invalid_input` inside the
/// deadline, not a function error that Architect would take as a Failure.
#[derive(Debug)]
pub enum Incoming {
    Json(Value),
    Unreadable(String),
}

impl<'de> serde::Deserialize<'de> for Incoming {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Incoming, D::Error> {
        Ok(match <Value as serde::Deserialize>::deserialize(d) {
            Ok(v) => Incoming::Json(v),
            Err(e) => Incoming::Unreadable(e.to_string()),
        })
    }
}

/// Why the input breaks the contract, for the warning log (never the input itself).
fn invalid(event: &Value) -> Option<&'static str> {
    let Some(obj) = event.as_object() else {
        return Some("event is not an object");
    };
    if serde_json::to_vec(event)
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
        > MAX_EVENT_BYTES
    {
        return Some("event over 64 KiB");
    }
    match obj.get("ani") {
        None | Some(Value::Null) => Some("ani missing"),
        Some(Value::String(s)) if s.len() > MAX_ANI_LEN => Some("ani over 256 characters"),
        Some(Value::String(_)) => match obj.get("conversationId") {
            None | Some(Value::Null) | Some(Value::String(_)) => None,
            Some(_) => Some("conversationId not a string"),
        },
        Some(_) => Some("ani not a string"),
    }
}

/// Why one lookup failed. Its text goes to logs and the breaker's last error, so it holds
/// no token, secret or caller data.
#[derive(Debug, thiserror::Error)]
enum LookupError {
    #[error("auth: {0}")]
    Auth(TokenError),
    #[error("crm: {0}")]
    Crm(HttpError),
}

impl Classify for LookupError {
    /// Without a token the CRM was never reached: an auth failure is the token
    /// service's, and says nothing about the CRM.
    fn verdict(&self) -> Verdict {
        match self {
            LookupError::Crm(_) => Verdict::Failed,
            LookupError::Auth(_) => Verdict::NotReached,
        }
    }
}

pub struct CrmLookup {
    pub breaker: Breaker,
    pub tokens: TokenCache,
    pub http: reqwest::Client,
    pub salesforce: SalesforceConfig,
    pub deadline: Duration,
    /// The last-known caller context, when `LAST_KNOWN_CONTEXT=on`.
    pub last_known: Option<LastKnown>,
}

/// Time kept back from the call for recording its outcome in the breaker.
const RECORD_RESERVE: Duration = Duration::from_millis(150);

impl CrmLookup {
    /// Answer an event as it arrived, readable or not.
    pub async fn answer_incoming(
        &self,
        event: &Incoming,
        hard_deadline: Option<Instant>,
    ) -> Answer {
        match event {
            Incoming::Json(v) => self.answer(v, hard_deadline).await,
            Incoming::Unreadable(why) => {
                // serde's message names a position, never the content.
                tracing::warn!(why = %why, "event is not readable JSON");
                self.answer(&Value::Null, hard_deadline).await
            }
        }
    }

    /// Answer `event`; `hard_deadline` is the Lambda context's deadline, if known.
    pub async fn answer(&self, event: &Value, hard_deadline: Option<Instant>) -> Answer {
        let started = Instant::now();
        let mut deadline = started + self.deadline;
        if let Some(hard) = hard_deadline {
            deadline = deadline.min(hard.checked_sub(Duration::from_millis(100)).unwrap_or(hard));
        }
        let ani = event.get("ani").and_then(Value::as_str).unwrap_or_default();
        let answer = match invalid(event) {
            Some(why) => {
                tracing::warn!(why, "input breaks the contract");
                Answer::unknown(true, Reason::InvalidInput)
            }
            None => match normalise(ani) {
                Err(_) => Answer::unknown(false, Reason::None),
                Ok(digits) => self.with_context(&digits, deadline).await,
            },
        };
        let latency_ms = started.elapsed().as_millis() as u64;
        let state = self.breaker.current(deadline).await.state;
        tracing::info!(
            ani = %mask_ani(if ani.len() > MAX_ANI_LEN { "" } else { ani }),
            outcome = answer.outcome(),
            breaker = %state,
            latency_ms,
            "crm lookup"
        );
        // The count by outcome; the latency once, whatever the outcome: a latency per
        // outcome is a custom metric more for each, billed while it is sent, and the
        // outcome's latency is in the log line above.
        metrics::emit(
            &[("Function", "crm-lookup"), ("Outcome", answer.outcome())],
            &[metrics::count("Lookups", 1.0)],
        );
        metrics::emit(
            &[("Function", "crm-lookup")],
            &[metrics::millis("LookupLatency", latency_ms as f64)],
        );
        if answer.data_action_failed {
            metrics::emit(
                &[("Function", "crm-lookup")],
                &[metrics::count("Fallbacks", 1.0)],
            );
        }
        answer
    }

    /// The lookup, with the last-known context read beside it when it is on. A healthy
    /// answer never waits for the context: a read still running when the CRM answered
    /// is left (and so is the write it would have decided). A fallback waits for the
    /// read, which its own timeout and the deadline bound.
    async fn with_context(&self, digits: &Digits, deadline: Instant) -> Answer {
        let Some(context) = &self.last_known else {
            return self.guarded(digits, deadline).await;
        };
        let read = context.read(digits, deadline);
        let crm = self.guarded(digits, deadline);
        tokio::pin!(read, crm);
        let mut kept = None;
        let answer = loop {
            tokio::select! {
                a = &mut crm => break a,
                k = &mut read, if kept.is_none() => kept = Some(k),
            }
        };
        let now = context.clock.now_ms();
        if answer.found {
            match kept {
                Some(Ok(previous)) => {
                    let tier = &answer.account_tier;
                    let wrote = context.keep(digits, tier, previous.as_ref(), deadline);
                    if let Err(e) = wrote.await {
                        context_failed("keep", &e);
                    }
                }
                Some(Err(e)) => context_failed("read", &e),
                None => {}
            }
            return answer;
        }
        if !answer.data_action_failed || answer.degraded_reason == Reason::InvalidInput {
            return answer;
        }
        let kept = match kept {
            Some(k) => k,
            None => read.await,
        };
        match kept {
            Ok(Some(k)) => answer.with_last_known(&k, now),
            Ok(None) => answer,
            Err(e) => {
                context_failed("read", &e);
                answer
            }
        }
    }

    async fn guarded(&self, digits: &Digits, deadline: Instant) -> Answer {
        let call_deadline = deadline.checked_sub(RECORD_RESERVE).unwrap_or(deadline);
        let r = self
            .breaker
            .call(call_deadline, deadline, || {
                self.fetch(digits, call_deadline)
            })
            .await;
        if let Err(CallError::Failed(error)) = &r {
            tracing::warn!(%error, counted = error.counts(), "crm lookup failed");
        }
        match r {
            Ok(Some(c)) => Answer::found(c),
            Ok(None) => Answer::unknown(false, Reason::None),
            Err(CallError::Rejected(_)) => Answer::unknown(true, Reason::CircuitOpen),
            Err(CallError::TimedOut | CallError::Failed(LookupError::Crm(HttpError::Timeout))) => {
                Answer::unknown(true, Reason::Timeout)
            }
            Err(CallError::Failed(LookupError::Auth(_))) => {
                Answer::unknown(true, Reason::AuthUnavailable)
            }
            Err(CallError::Failed(LookupError::Crm(_))) => Answer::unknown(true, Reason::CrmError),
        }
    }

    /// One logical lookup: at most one retry, only for a retryable failure or a 401
    /// (after a session refresh), and only while the budget allows another attempt.
    async fn fetch(
        &self,
        digits: &Digits,
        deadline: Instant,
    ) -> Result<Option<Contact>, LookupError> {
        let mut retried = false;
        loop {
            let (token, _) = self.tokens.get(deadline).await.map_err(LookupError::Auth)?;
            let session = Session {
                access_token: token.access_token.clone(),
                instance_url: token.instance_url.clone().unwrap_or_default(),
            };
            match search(&self.http, &session, digits, &self.salesforce, deadline).await {
                Ok(c) => return Ok(c),
                Err(e) => {
                    let unauthorized = e.status() == Some(401);
                    if unauthorized {
                        // Not the CRM's failure: the token is dropped fleet-wide and the
                        // one retry gets a new one.
                        self.tokens.invalidate(&token, deadline).await;
                    }
                    let room = deadline.saturating_duration_since(Instant::now()) >= MIN_ATTEMPT;
                    if retried || !room || !(unauthorized || e.retryable()) {
                        return Err(if unauthorized {
                            LookupError::Auth(TokenError::Unavailable {
                                provider: "crm",
                                reason: "the CRM refused a fresh token (401)".into(),
                            })
                        } else {
                            LookupError::Crm(e)
                        });
                    }
                    retried = true;
                }
            }
        }
    }
}

/// The context's faults are logged and counted, never passed to the caller: the answer
/// is the guide's fallback without it.
fn context_failed(what: &'static str, e: &super::last_known::ContextError) {
    tracing::warn!(what, error = %e, "last-known context unavailable");
    metrics::emit(
        &[("Function", "crm-lookup")],
        &[metrics::count("ContextErrors", 1.0)],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contract_violations() {
        assert!(invalid(&json!({"ani": "tel:+13175550123"})).is_none());
        assert!(invalid(&json!({"ani": "", "conversationId": "c-1"})).is_none());
        for bad in [
            json!([1]),
            json!("x"),
            json!({"ani": 5}),
            json!({}),
            json!({"ani": "1".repeat(257)}),
        ] {
            assert!(invalid(&bad).is_some(), "{bad}");
        }
        assert!(invalid(&json!({"ani": "1", "pad": "x".repeat(70_000)})).is_some());
    }

    /// As lambda_runtime 0.14 reads a payload: one value from the bytes, no end check.
    fn read(raw: &[u8]) -> Result<Incoming, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(raw);
        <Incoming as serde::Deserialize>::deserialize(&mut de)
    }

    #[test]
    fn unreadable_events_are_read_as_such() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for raw in [
            deep.as_str(),
            r#"{"ani": "\ud800"}"#,
            r#"{"ani": "+1317"#,
            "",
        ] {
            let r = read(raw.as_bytes());
            assert!(matches!(r, Ok(Incoming::Unreadable(_))), "{raw:.30}: {r:?}");
        }
        assert!(matches!(read(br#"{"ani": "1"}"#), Ok(Incoming::Json(_))));
    }

    #[test]
    fn fallback_shape() {
        let v =
            serde_json::to_value(Answer::unknown(true, Reason::CircuitOpen)).unwrap_or_default();
        assert_eq!(
            v,
            json!({"found": false, "customerName": "Unknown", "accountTier": "standard", "accountId": "",
                   "contactId": "", "dataActionFailed": true, "degradedReason": "circuit_open",
                   "contextSource": "none", "contextAgeS": 0})
        );
        let v = serde_json::to_value(Answer::unknown(false, Reason::None)).unwrap_or_default();
        assert_eq!(v["degradedReason"], "");
    }
}
