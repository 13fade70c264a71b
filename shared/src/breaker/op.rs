//! The conditional writes a breaker needs, and what each one means. `Op::apply` is the
//! reference semantics: the in-memory store runs it, and the DynamoDB adapter is tested
//! against it.

use super::record::{Lease, OutboxEntry, Record, State};
use crate::clock::Millis;

/// What must still hold for a transition to apply.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Expect {
    pub generation: u64,
    pub state: State,
    pub min_failures: Option<u32>,
    pub min_successes: Option<u32>,
    /// A trial lease (slot, owner) that must still be held, live at `now`.
    pub lease: Option<(u32, String, Millis)>,
    /// Outbox entries that must still be there with no live claim at `.1`: the ones a
    /// transition folds into the summary (a sender may have delivered them meanwhile).
    pub unclaimed: (Vec<String>, Millis),
}

impl Expect {
    pub fn of(view: &Record) -> Expect {
        Expect {
            generation: view.generation,
            state: view.state,
            min_failures: None,
            min_successes: None,
            lease: None,
            unclaimed: (Vec::new(), 0),
        }
    }
    pub fn with_min_failures(mut self, n: u32) -> Expect {
        self.min_failures = Some(n);
        self
    }
    pub fn with_min_successes(mut self, n: u32) -> Expect {
        self.min_successes = Some(n);
        self
    }
    pub fn with_lease(mut self, slot: u32, owner: &str, now: Millis) -> Expect {
        self.lease = Some((slot, owner.to_string(), now));
        self
    }

    pub fn with_unclaimed(mut self, ids: Vec<String>, now: Millis) -> Expect {
        self.unclaimed = (ids, now);
        self
    }

    pub fn holds(&self, current: &Record) -> bool {
        let (ids, at) = &self.unclaimed;
        let unclaimed = ids.iter().all(|id| {
            current
                .outbox
                .get(id)
                .is_some_and(|a| a.claim.as_ref().is_none_or(|(_, until)| until < at))
        });
        unclaimed
            && current.generation == self.generation
            && current.state == self.state
            && self.min_failures.is_none_or(|m| current.failures >= m)
            && self.min_successes.is_none_or(|m| current.successes >= m)
            && self
                .lease
                .as_ref()
                .is_none_or(|(slot, owner, now)| current.holds_lease(*slot, owner, *now))
    }
}

/// What a transition does to the stored failure count. A trip never takes the count of
/// the view it was decided on: others may have counted since, and the OPEN record
/// carries every failure counted, by whichever instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tally {
    /// Take `next`'s count (a recovery, a forced state).
    Set,
    /// Leave the stored count as it is (a trip decided on a record already counted).
    Keep,
    /// Add this failure to the stored count (a trip by the failure that crosses it).
    AddOne,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Replace the breaker's fields with `next` (generation + 1) if `expect` holds, and
    /// add `alerts` to the outbox (entries already there are left as they are). `tally`
    /// says what happens to the failure count.
    /// `drop_alerts` leave the outbox (folded into a summary among `alerts`), and the
    /// failure-rate window buckets `clear_window` of the old generation are removed, as
    /// are the trial slots `clear_trials` (leases of the old generation).
    Transition {
        expect: Expect,
        next: Box<Record>,
        alerts: Vec<OutboxEntry>,
        tally: Tally,
        drop_alerts: Vec<String>,
        clear_window: Vec<i64>,
        clear_trials: Vec<u32>,
    },
    /// Add a reminder if the episode is still open and none was sent for `every_ms`.
    Remind {
        episode: String,
        alert: OutboxEntry,
        now: Millis,
        every_ms: Millis,
    },
    /// Claim an outbox entry for sending, if nobody else holds a live claim.
    ClaimEntry {
        id: String,
        owner: String,
        now: Millis,
        until: Millis,
    },
    /// Delivered (or refused for good): remove the entry, if `owner` still claims it.
    DropEntry { id: String, owner: String },
    /// Note a health check result, unless a later one is already noted.
    NoteHealthCheck { at: Millis, healthy: bool },
    /// A configuration fault: page it (`alert`, one slot) unless it was paged less than
    /// `every_ms` ago.
    FlagConfigFault {
        alert: OutboxEntry,
        now: Millis,
        every_ms: Millis,
    },
    /// The configuration fault is fixed: resolve its page (`alert`), once.
    ClearConfigFault { alert: OutboxEntry },
    /// Page `alert` (a fault of Failsoft's own work, such as a write-back sent to the
    /// DLQ) unless one with its id was paged less than `every_ms` ago. The ids are a
    /// fixed few, so the record stays bounded.
    Page {
        alert: OutboxEntry,
        now: Millis,
        every_ms: Millis,
    },
    /// Delivery failed: count the attempt, not before `next_ms`, and release the claim.
    DeferEntry {
        id: String,
        owner: String,
        attempts: u32,
        next_ms: Millis,
    },
    /// CLOSED, this generation: add one failure (and window counts), remember the error.
    CountFailure {
        generation: u64,
        error: String,
        bucket: Option<i64>,
        calls: u32,
        prune: Vec<i64>,
    },
    /// CLOSED, this generation: add successful calls to the failure-rate window.
    CountCalls {
        generation: u64,
        bucket: i64,
        calls: u32,
        prune: Vec<i64>,
    },
    /// CLOSED, this generation, with failures > 0: set failures to 0.
    ResetFailures { generation: u64 },
    /// HALF_OPEN, this generation, slot free or expired at `now`: take it.
    AcquireTrial {
        generation: u64,
        slot: u32,
        lease: Lease,
        now: Millis,
    },
    /// HALF_OPEN, this generation, the lease still `owner`'s: free the slot, counting
    /// nothing (the trial never reached the dependency).
    ReleaseTrial {
        generation: u64,
        slot: u32,
        owner: String,
    },
    /// HALF_OPEN, this generation, lease still held at `now`: add a success, free the slot.
    TrialSuccess {
        generation: u64,
        slot: u32,
        owner: String,
        now: Millis,
    },
}

impl Op {
    /// Mark a transition as this writer's, with a token unique to the write, so that
    /// `took_effect` can tell it from another writer's identical one.
    pub fn stamp(&mut self, token: &str) {
        if let Op::Transition { next, .. } = self {
            next.writer = Some(token.to_string());
        }
    }

    /// Whether this op is visible in `rec`, a record read after a write whose outcome
    /// was unknown: `Some(true)` it was applied, `Some(false)` it was not, `None` the
    /// record cannot tell (a counter, or a later transition that hides ours).
    pub fn took_effect(&self, rec: &Record) -> Option<bool> {
        match self {
            Op::Transition { next, .. } => match rec.generation.cmp(&next.generation) {
                std::cmp::Ordering::Less => Some(false),
                std::cmp::Ordering::Equal => Some(
                    rec.writer == next.writer
                        && rec.state == next.state
                        && rec.since_ms == next.since_ms
                        && rec.episode == next.episode
                        && rec.trials == next.trials,
                ),
                std::cmp::Ordering::Greater => None,
            },
            Op::AcquireTrial {
                generation,
                slot,
                lease,
                ..
            } => Some(
                rec.generation == *generation
                    && rec.trials.get(slot).is_some_and(|l| l.owner == lease.owner),
            ),
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Op::Transition { .. } => "transition",
            Op::Remind { .. } => "remind",
            Op::NoteHealthCheck { .. } => "note_health_check",
            Op::FlagConfigFault { .. } => "flag_config_fault",
            Op::ClearConfigFault { .. } => "clear_config_fault",
            Op::Page { .. } => "page",
            Op::ClaimEntry { .. } => "claim_alert",
            Op::DropEntry { .. } => "drop_alert",
            Op::DeferEntry { .. } => "defer_alert",
            Op::CountFailure { .. } => "count_failure",
            Op::CountCalls { .. } => "count_calls",
            Op::ResetFailures { .. } => "reset_failures",
            Op::AcquireTrial { .. } => "acquire_trial",
            Op::TrialSuccess { .. } => "trial_success",
            Op::ReleaseTrial { .. } => "release_trial",
        }
    }

    /// Apply to `current` atomically: the new record, or `None` when the condition fails.
    /// Over 100 lines on purpose: this is the reference semantics, one table with every
    /// op's condition and effect side by side, as the model, the differential test and a
    /// reviewer read it against `dynamo::Plan`; split, it would hide that.
    pub fn apply(&self, current: &Record) -> Option<Record> {
        let closed_at = |g: u64| current.state == State::Closed && current.generation == g;
        let mut next = current.clone();
        match self {
            Op::Transition {
                expect,
                next: n,
                alerts,
                tally,
                drop_alerts,
                clear_window: _,
                clear_trials: _,
            } => {
                if !expect.holds(current) {
                    return None;
                }
                next = (**n).clone();
                match tally {
                    Tally::Set => {}
                    Tally::Keep => next.failures = current.failures,
                    Tally::AddOne => next.failures = current.failures.saturating_add(1),
                }
                next.outbox = current.outbox.clone();
                for id in drop_alerts {
                    next.outbox.remove(id);
                }
                next.last_check = current.last_check;
                next.config_fault = current.config_fault;
                next.paged = current.paged.clone();
                for a in alerts {
                    next.outbox.insert(a.id.clone(), a.clone());
                }
            }
            Op::FlagConfigFault {
                alert,
                now,
                every_ms,
            } => {
                if current.config_fault.is_some_and(|t| t > now - every_ms) {
                    return None;
                }
                next.config_fault = Some(*now);
                next.outbox.insert(alert.id.clone(), alert.clone());
            }
            Op::Page {
                alert,
                now,
                every_ms,
            } => {
                if current
                    .paged
                    .get(&alert.id)
                    .is_some_and(|t| *t > now - every_ms)
                {
                    return None;
                }
                next.paged.insert(alert.id.clone(), *now);
                next.outbox.insert(alert.id.clone(), alert.clone());
            }
            Op::ClearConfigFault { alert } => {
                current.config_fault?;
                next.config_fault = None;
                next.outbox.insert(alert.id.clone(), alert.clone());
            }
            Op::NoteHealthCheck { at, healthy } => {
                if current.last_check.is_some_and(|(t, _)| t > *at) {
                    return None;
                }
                next.last_check = Some((*at, *healthy));
            }
            Op::Remind {
                episode,
                alert,
                now,
                every_ms,
            } => {
                if current.episode.as_ref() != Some(episode) || current.reminded_ms > now - every_ms
                {
                    return None;
                }
                next.reminded_ms = *now;
                next.outbox.insert(alert.id.clone(), alert.clone());
            }
            Op::ClaimEntry {
                id,
                owner,
                now,
                until,
            } => {
                let a = next.outbox.get_mut(id)?;
                if a.claim.as_ref().is_some_and(|(_, u)| u >= now) {
                    return None;
                }
                a.claim = Some((owner.clone(), *until));
            }
            Op::DropEntry { id, owner } => {
                if current.outbox.get(id)?.claim.as_ref().map(|(o, _)| o) != Some(owner) {
                    return None;
                }
                next.outbox.remove(id);
            }
            Op::DeferEntry {
                id,
                owner,
                attempts,
                next_ms,
            } => {
                let a = next.outbox.get_mut(id)?;
                if a.claim.as_ref().map(|(o, _)| o) != Some(owner) {
                    return None;
                }
                a.attempts = *attempts;
                a.next_ms = *next_ms;
                a.claim = None;
            }
            Op::CountFailure {
                generation,
                error,
                bucket,
                calls,
                prune,
            } => {
                if !closed_at(*generation) {
                    return None;
                }
                next.failures = next.failures.saturating_add(1);
                next.last_error = Some(error.clone());
                for b in prune {
                    next.window.remove(b);
                }
                if let Some(b) = bucket {
                    let c = next.window.entry(*b).or_default();
                    c.calls = c.calls.saturating_add(*calls);
                    c.failures = c.failures.saturating_add(1);
                }
            }
            Op::CountCalls {
                generation,
                bucket,
                calls,
                prune,
            } => {
                if !closed_at(*generation) {
                    return None;
                }
                for b in prune {
                    next.window.remove(b);
                }
                let c = next.window.entry(*bucket).or_default();
                c.calls = c.calls.saturating_add(*calls);
            }
            Op::ResetFailures { generation } => {
                if !closed_at(*generation) || current.failures == 0 {
                    return None;
                }
                next.failures = 0;
            }
            Op::AcquireTrial {
                generation,
                slot,
                lease,
                now,
            } => {
                let free = match current.trials.get(slot) {
                    None => true,
                    Some(l) => l.expires_ms < *now || l.generation != *generation,
                };
                if current.state != State::HalfOpen || current.generation != *generation || !free {
                    return None;
                }
                next.trials.insert(*slot, lease.clone());
            }
            Op::ReleaseTrial {
                generation,
                slot,
                owner,
            } => {
                if current.state != State::HalfOpen
                    || current.generation != *generation
                    || !current.owns_trial(*slot, owner)
                {
                    return None;
                }
                next.trials.remove(slot);
            }
            Op::TrialSuccess {
                generation,
                slot,
                owner,
                now,
            } => {
                if current.state != State::HalfOpen
                    || current.generation != *generation
                    || !current.holds_lease(*slot, owner, *now)
                {
                    return None;
                }
                next.successes = next.successes.saturating_add(1);
                next.trials.remove(slot);
            }
        }
        Some(next)
    }
}
