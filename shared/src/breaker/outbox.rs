//! Alerts waiting to be delivered, kept in the breaker item itself so that a transition
//! and its alert are written in one conditional write.

use serde::Serialize;

use super::machine::{Record, Transition};
use super::policy::Millis;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Trigger,
    Resolve,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Trigger => "trigger",
            Action::Resolve => "resolve",
        }
    }
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "trigger" => Some(Action::Trigger),
            "resolve" => Some(Action::Resolve),
            _ => None,
        }
    }
}

/// One alert in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// Unique within the breaker: `<generation>-<action>` or `<generation>-reminder-<ms>`.
    pub id: String,
    pub action: Action,
    /// The episode: one PagerDuty incident from trigger to resolve.
    pub dedup_key: String,
    pub summary: String,
    pub failures: u32,
    pub last_error: Option<String>,
    pub created_ms: Millis,
    pub attempts: u32,
    /// Not before this (backoff after a failed delivery).
    pub next_ms: Millis,
    /// A sender's claim on it: (owner, until).
    pub claim: Option<(String, Millis)>,
}

impl Alert {
    fn new(
        id: String,
        action: Action,
        dedup_key: &str,
        summary: String,
        r: &Record,
        now: Millis,
    ) -> Alert {
        Alert {
            id,
            action,
            dedup_key: dedup_key.to_string(),
            summary,
            failures: r.failures,
            last_error: r.last_error.clone(),
            created_ms: now,
            attempts: 0,
            next_ms: now,
            claim: None,
        }
    }

    pub fn claimed_by_other(&self, owner: &str, now: Millis) -> bool {
        self.claim
            .as_ref()
            .is_some_and(|(o, until)| o != owner && *until >= now)
    }
}

/// What an open breaker means for the contact center, in the page's words.
pub fn impact(breaker: &str) -> &'static str {
    match breaker {
        "crm" => "callers route without CRM context (dataActionFailed)",
        "genesys-api" => {
            "the Genesys region looks unhealthy; decide on overflow to the backup region"
        }
        "genesys-analytics" => "supervisor dashboards show cached or zeroed queue metrics",
        b if b.ends_with("-auth") => {
            "cached tokens serve until they expire, then the dependency's callers get the fallback"
        }
        _ => "callers get the fallback",
    }
}

/// The alerts a transition owes: a trigger when it starts an episode, a resolve when it
/// ends one. A reopening inside an episode owes nothing (the incident is already open).
pub fn alerts_for(t: &Transition, next: &Record) -> Vec<Alert> {
    let mut out = Vec::new();
    if let Some(ep) = &t.ended_episode {
        let summary = format!("{}: recovered ({})", t.breaker, t.label());
        out.push(Alert::new(
            format!("{}-resolve", t.generation),
            Action::Resolve,
            ep,
            summary,
            next,
            t.at_ms,
        ));
    }
    if let Some(ep) = &t.started_episode {
        let summary = match t.to {
            super::State::ForcedOpen => format!(
                "{}: forced OPEN by an operator; {}",
                t.breaker,
                impact(&t.breaker)
            ),
            _ => format!(
                "{}: circuit OPEN after {} failures; {}. Last error: {}",
                t.breaker,
                t.failures,
                impact(&t.breaker),
                t.last_error.as_deref().unwrap_or("none")
            ),
        };
        out.push(Alert::new(
            format!("{}-trigger", t.generation),
            Action::Trigger,
            ep,
            summary,
            next,
            t.at_ms,
        ));
    }
    out
}

/// A reminder for an episode still open at `now`, or None if none is due.
pub fn reminder(r: &Record, now: Millis, every_ms: Millis) -> Option<Alert> {
    let ep = r.episode.as_ref()?;
    if !(r.state.is_degraded() && now - r.reminded_ms >= every_ms) {
        return None;
    }
    let minutes = (now - r.reminded_ms) / 60_000;
    let summary = format!(
        "{}: still {} (episode {ep}, {minutes}+ min since the last alert); {}",
        r.name,
        r.state,
        impact(&r.name)
    );
    Some(Alert::new(
        format!("{}-reminder-{now}", r.generation),
        Action::Trigger,
        ep,
        summary,
        r,
        now,
    ))
}
