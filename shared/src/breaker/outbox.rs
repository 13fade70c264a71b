//! The alerts a transition owes, kept in the breaker item itself so that a transition
//! and its alert are written in one conditional write. The text here is generic: what an
//! open breaker means to people is the dependency registry's to say, at delivery.

use super::record::{Action, Alert, Record, State, Transition};
use crate::clock::Millis;

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
            State::ForcedOpen => format!("{}: forced OPEN by an operator", t.breaker),
            _ => format!(
                "{}: circuit OPEN after {} failures. Last error: {}",
                t.breaker,
                t.failures,
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
        "{}: still {} (episode {ep}, {minutes}+ min since the last alert)",
        r.name, r.state
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
