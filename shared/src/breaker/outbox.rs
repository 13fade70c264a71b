//! The alerts a transition owes, kept in the breaker item itself so that a transition
//! and its alert are written in one conditional write. The text here is generic: what an
//! open breaker means to people is the dependency registry's to say, at delivery.

use std::collections::{BTreeMap, BTreeSet};

use super::effect::PairedEffect;
use super::record::{clip, Action, OutboxEntry, Record, State, Transition};
use crate::clock::{iso8601, Millis};

/// At most this many entries wait in a breaker's outbox; beyond it the oldest resolves
/// are folded into the summary.
pub const MAX_ENTRIES: usize = 6;
/// An entry undelivered this long, or after this many attempts, is folded into the
/// summary: it can no longer help the on-call engineer as itself.
pub const MAX_AGE_MS: Millis = 24 * 3_600_000;
pub const MAX_ATTEMPTS: u32 = 50;
/// A trigger that waited this long for its first delivery is not waiting for a sender.
pub const FOLD_AFTER_MS: Millis = 15 * 60_000;
/// The id of the one reminder slot and of the one summary entry.
pub const REMINDER_ID: &str = "reminder";
pub const SUMMARY_ID: &str = "summary";
/// The configuration fault's page and its resolve (one slot each).
pub const CONFIG_ID: &str = "config";
pub const CONFIG_RESOLVE_ID: &str = "config-resolve";
/// Pages of the user's own work rather than of a dependency's state: their ids start
/// so, one slot per kind.
pub const WORK_PREFIX: &str = "work-";
/// What a forced close's trigger says, after the breaker's name.
const FORCED_CLOSED_TEXT: &str =
    "forced CLOSED by an operator; the breaker no longer protects callers";

/// Whether an alert announces an operator's forced close (an override, not an outage),
/// recognised by the text `alerts_for` and `reminder` write: delivery pages it as a
/// warning, without the outage's impact.
pub fn is_forced_closed(a: &OutboxEntry) -> bool {
    a.summary.contains(FORCED_CLOSED_TEXT) || a.summary.contains("still FORCED_CLOSED")
}

/// Summaries and reminders stay short, whatever they count.
const MAX_TEXT: usize = 300;

/// The alerts a transition owes: a trigger when it starts an episode, a resolve when it
/// ends one. A reopening inside an episode owes nothing (the incident is already open).
pub fn alerts_for(t: &Transition, next: &Record) -> Vec<OutboxEntry> {
    let mut out = Vec::new();
    if let Some(ep) = &t.ended_episode {
        let summary = format!("{}: recovered ({})", t.breaker, t.label());
        out.push(OutboxEntry::new(
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
            State::ForcedClosed => format!("{}: {FORCED_CLOSED_TEXT}", t.breaker),
            _ => format!(
                "{}: circuit OPEN after {} failures. Last error: {}",
                t.breaker,
                t.failures,
                clip(t.last_error.as_deref().unwrap_or("none"), 160)
            ),
        };
        out.push(OutboxEntry::new(
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

/// The actions of `kind` a transition calls for when its breaker has them (`delay_ms`
/// is Some: how long after recovery the undo waits), and the slot it empties if nobody
/// is working on it. An outage that begins does, and cancels an undo still waiting out
/// its delay; an episode that ends undoes after the delay, and a do not yet begun is not
/// needed.
pub fn paired_actions(
    kind: &PairedEffect,
    t: &Transition,
    next: &Record,
    delay_ms: Option<Millis>,
) -> (Vec<OutboxEntry>, &'static str) {
    let Some(delay) = delay_ms else {
        return (Vec::new(), "");
    };
    if let (Some(ep), true) = (&t.started_episode, next.state.is_degraded()) {
        let summary = format!("{}: {} ({})", t.breaker, kind.on_text, t.label());
        let on = OutboxEntry::new(
            kind.on_id.into(),
            Action::Effect(kind.on),
            ep,
            summary,
            next,
            t.at_ms,
        );
        return (vec![on], kind.off_id);
    }
    match &t.ended_episode {
        Some(ep) if !next.state.is_degraded() => {
            let summary = format!("{}: {}", t.breaker, kind.off_text);
            let mut off = OutboxEntry::new(
                kind.off_id.into(),
                Action::Effect(kind.off),
                ep,
                summary,
                next,
                t.at_ms,
            );
            off.next_ms = t.at_ms.saturating_add(delay);
            (vec![off], kind.on_id)
        }
        _ => (Vec::new(), ""),
    }
}

/// The page for a configuration fault of `breaker` (a secret that cannot be used):
/// its own incident, `<breaker>/config`, apart from any outage.
pub fn config_fault(breaker: &str, what: &str, now: Millis) -> OutboxEntry {
    OutboxEntry {
        id: CONFIG_ID.into(),
        action: Action::Trigger,
        dedup_key: format!("{breaker}/config"),
        summary: format!(
            "{breaker}: configuration fault, not an outage: {}. Tokens cannot be fetched until it is fixed; it is not counted against the token service.",
            clip(what, 200)
        ),
        failures: 0,
        last_error: Some(clip(what, 256).to_string()),
        created_ms: now,
        attempts: 0,
        next_ms: now,
        claim: None,
    }
}

/// A page about Failsoft's own work on `breaker`'s dependency, of kind `what` (a fixed
/// name: `writeback-poison`, `writeback-backlog`): its own incident, `<breaker>/<what>`.
pub fn work_fault(
    breaker: &str,
    what: &str,
    summary: &str,
    detail: &str,
    now: Millis,
) -> OutboxEntry {
    OutboxEntry {
        id: format!("{WORK_PREFIX}{what}"),
        action: Action::Trigger,
        dedup_key: format!("{breaker}/{what}"),
        summary: clip(summary, MAX_TEXT).to_string(),
        failures: 0,
        last_error: Some(clip(detail, 256).to_string()),
        created_ms: now,
        attempts: 0,
        next_ms: now,
        claim: None,
    }
}

/// The resolve of `breaker`'s configuration fault page, once it is fixed.
pub fn config_fixed(breaker: &str, now: Millis) -> OutboxEntry {
    OutboxEntry {
        id: CONFIG_RESOLVE_ID.into(),
        action: Action::Resolve,
        dedup_key: format!("{breaker}/config"),
        summary: format!("{breaker}: configuration fixed"),
        failures: 0,
        last_error: None,
        created_ms: now,
        attempts: 0,
        next_ms: now,
        claim: None,
    }
}

/// A reminder for an episode still open at `now`, or None if none is due.
pub fn reminder(r: &Record, now: Millis, every_ms: Millis) -> Option<OutboxEntry> {
    let ep = r.episode.as_ref()?;
    if !(r.state.in_episode() && now - r.reminded_ms >= every_ms) {
        return None;
    }
    let minutes = (now - r.reminded_ms) / 60_000;
    let summary = format!(
        "{}: still {} (episode {ep}, {minutes}+ min since the last alert)",
        r.name, r.state
    );
    Some(OutboxEntry::new(
        REMINDER_ID.to_string(),
        Action::Trigger,
        ep,
        summary,
        r,
        now,
    ))
}

/// What a transition does to the outbox beyond adding its own alerts, so that the
/// breaker item never grows with episodes, reminders or failed deliveries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Compaction {
    /// Entries folded away (each present and unclaimed in the view).
    pub drop: Vec<String>,
    /// The summary entry, new or updated, when anything was folded.
    pub summary: Option<OutboxEntry>,
    /// Episodes folded whole: their resolve is owed to nobody.
    pub episodes: BTreeSet<String>,
}

/// Fold what cannot help as itself into one summary entry: every entry of an episode
/// that ended while its trigger could not get through (delivery was tried and failed, or
/// it waited past `FOLD_AFTER_MS`: the on-call never heard of it, and it is over),
/// entries past their age or attempts, and, beyond the cap, the oldest ended episodes
/// and then the oldest resolves. Claimed entries are being sent and are left alone.
/// `adding` are the alerts the transition writes; `open_episode` is the episode after it.
pub fn compact(
    breaker: &str,
    outbox: &BTreeMap<String, OutboxEntry>,
    adding: &[OutboxEntry],
    open_episode: Option<&str>,
    now: Millis,
) -> Compaction {
    let free = |a: &OutboxEntry| a.claim.as_ref().is_none_or(|(_, until)| *until < now);
    // Effects have their own slots and are never folded into a page.
    let pages: BTreeMap<String, OutboxEntry> = outbox
        .iter()
        .filter(|(_, a)| a.action.is_page())
        .map(|(k, a)| (k.clone(), a.clone()))
        .collect();
    let outbox = &pages;
    // An episode with an entry being sent stays whole: its trigger may be reaching
    // PagerDuty right now, and would then need its resolve.
    let claimed: BTreeSet<&str> = outbox
        .values()
        .filter(|a| !free(a))
        .map(|a| a.dedup_key.as_str())
        .collect();
    // Ended episodes whose trigger is still waiting, with that trigger.
    let waiting: BTreeMap<&str, &OutboxEntry> = outbox
        .values()
        .filter(|a| a.action == Action::Trigger && a.id != REMINDER_ID)
        .filter(|a| open_episode != Some(a.dedup_key.as_str()))
        .filter(|a| !claimed.contains(a.dedup_key.as_str()))
        .map(|a| (a.dedup_key.as_str(), a))
        .collect();
    let undeliverable = |t: &OutboxEntry| t.attempts > 0 || t.created_ms < now - FOLD_AFTER_MS;
    let mut episodes: BTreeSet<String> = waiting
        .iter()
        .filter(|(_, t)| undeliverable(t))
        .map(|(k, _)| k.to_string())
        .collect();
    // Over the cap: the oldest ended episodes go whole, whatever their attempts.
    let in_episodes = |eps: &BTreeSet<String>| {
        outbox
            .values()
            .filter(|a| eps.contains(&a.dedup_key))
            .count()
    };
    let mut by_age: Vec<&&OutboxEntry> = waiting.values().collect();
    by_age.sort_by_key(|t| (t.created_ms, t.id.clone()));
    for t in by_age {
        if outbox.len() - in_episodes(&episodes) + adding.len() < MAX_ENTRIES {
            break;
        }
        episodes.insert(t.dedup_key.clone());
    }
    let mut drop: Vec<String> = Vec::new();
    let (mut stale, mut unresolved) = (0u32, 0u32);
    let mut first = Millis::MAX;
    for a in outbox.values().filter(|a| a.id != SUMMARY_ID && free(a)) {
        let ended = open_episode != Some(a.dedup_key.as_str());
        // A reminder of an episode that is over has nothing left to remind of.
        let spent_reminder = ended && a.id == REMINDER_ID;
        let too_old = a.created_ms < now - MAX_AGE_MS || a.attempts >= MAX_ATTEMPTS;
        let held = claimed.contains(a.dedup_key.as_str());
        let whole = episodes.contains(&a.dedup_key) || spent_reminder;
        let expired = too_old && !held;
        if !whole && !expired {
            continue;
        }
        if !whole {
            stale += 1;
        }
        first = first.min(a.created_ms);
        drop.push(a.id.clone());
    }
    // Still over the cap: the oldest resolves go; their incidents are named.
    let kept = outbox.len() - drop.len() + adding.len() + 1;
    for a in oldest_resolves(outbox, &drop, &free, kept.saturating_sub(MAX_ENTRIES)) {
        unresolved += 1;
        first = first.min(a.created_ms);
        drop.push(a.id.clone());
    }
    // A summary being sent is left alone: the folding waits for the next transition.
    let summary_busy = outbox.get(SUMMARY_ID).is_some_and(|a| !free(a));
    if drop.is_empty() || summary_busy {
        return Compaction::default();
    }
    let folded = Folded {
        episodes: episodes.len() as u32,
        stale,
        unresolved,
        first,
    };
    let summary = summary_entry(breaker, outbox.get(SUMMARY_ID), &folded, now);
    Compaction {
        drop,
        summary: Some(summary),
        episodes,
    }
}

/// The `n` oldest resolves that are free and not dropped already.
fn oldest_resolves<'a>(
    outbox: &'a BTreeMap<String, OutboxEntry>,
    drop: &[String],
    free: &dyn Fn(&OutboxEntry) -> bool,
    n: usize,
) -> Vec<&'a OutboxEntry> {
    let mut resolves: Vec<&OutboxEntry> = outbox
        .values()
        .filter(|a| a.action == Action::Resolve && free(a) && !drop.contains(&a.id))
        .collect();
    resolves.sort_by_key(|a| (a.created_ms, a.id.clone()));
    resolves.truncate(n);
    resolves
}

/// What one compaction folded: whole episodes, stale entries, resolves given up, and
/// the oldest of them.
struct Folded {
    episodes: u32,
    stale: u32,
    unresolved: u32,
    first: Millis,
}

/// The summary entry that stands for what was folded, counted on from `previous`.
fn summary_entry(
    breaker: &str,
    previous: Option<&OutboxEntry>,
    f: &Folded,
    now: Millis,
) -> OutboxEntry {
    let (mut total, since) = match previous {
        Some(p) => (p.failures, p.created_ms.min(f.first)),
        None => (0, f.first),
    };
    total = total.saturating_add(f.episodes + f.stale + f.unresolved);
    let mut text = format!(
        "{breaker}: {total} page(s) could not be delivered as themselves since {}",
        iso8601(since)
    );
    if f.episodes > 0 {
        text.push_str(&format!(
            "; {} episode(s) began and ended before paging got through",
            f.episodes
        ));
    }
    if f.unresolved > 0 {
        text.push_str(&format!(
            "; {} incident(s) may need resolving by hand",
            f.unresolved
        ));
    }
    text.truncate(MAX_TEXT);
    OutboxEntry {
        id: SUMMARY_ID.to_string(),
        action: Action::Summary,
        dedup_key: format!("{breaker}/summary/{since}"),
        summary: text,
        failures: total,
        last_error: None,
        created_ms: since,
        attempts: 0,
        next_ms: now,
        claim: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(episode: &str, created_ms: Millis, attempts: u32) -> OutboxEntry {
        OutboxEntry {
            id: format!("{episode}-trigger"),
            action: Action::Trigger,
            dedup_key: episode.to_string(),
            summary: "crm: circuit OPEN".into(),
            failures: 5,
            last_error: None,
            created_ms,
            attempts,
            next_ms: created_ms,
            claim: None,
        }
    }

    fn outbox(entries: Vec<OutboxEntry>) -> BTreeMap<String, OutboxEntry> {
        entries.into_iter().map(|a| (a.id.clone(), a)).collect()
    }

    const NOW: Millis = 1_800_000_000_000;

    #[test]
    fn a_trigger_not_yet_tried_keeps_its_episode_whole() {
        // Ended a minute after it began, before any sender ran: trigger, then resolve.
        let ob = outbox(vec![trigger("crm/1", NOW - 60_000, 0)]);
        let c = compact("crm", &ob, &[], None, NOW);
        assert_eq!(c, Compaction::default());
    }

    #[test]
    fn an_episode_whose_trigger_could_not_get_through_is_summarised() {
        let ob = outbox(vec![
            trigger("crm/1", NOW - 60_000, 3),
            trigger("crm/2", NOW - FOLD_AFTER_MS - 1, 0),
            trigger("crm/3", NOW - 1_000, 1),
        ]);
        let c = compact("crm", &ob, &[], Some("crm/3"), NOW);
        assert_eq!(c.drop, vec!["crm/1-trigger", "crm/2-trigger"]);
        assert_eq!(c.episodes.len(), 2);
        let s = c.summary.unwrap_or_else(|| trigger("none", 0, 0));
        assert_eq!((s.action, s.failures), (Action::Summary, 2));
        assert!(
            s.summary.contains("2 episode(s) began and ended"),
            "{}",
            s.summary
        );
    }

    #[test]
    fn a_claimed_entry_is_never_folded() {
        let mut t = trigger("crm/1", NOW - 60_000, 3);
        t.claim = Some(("sender".into(), NOW + 10_000));
        let c = compact("crm", &outbox(vec![t]), &[], None, NOW);
        assert!(c.drop.is_empty() && c.episodes.is_empty());
    }
}
