//! The breaker's data: its states, its durable record, the trial leases, the outbox of
//! alerts and the transition effect. Data only, at the bottom of the breaker: the machine,
//! the ops and the adapters all build on it, and it imports none of them.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

pub use super::effect::Name;

use super::policy::Policy;
use crate::clock::Millis;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Closed,
    Open,
    HalfOpen,
    ForcedOpen,
    ForcedClosed,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::ForcedClosed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Open => "OPEN",
            State::HalfOpen => "HALF_OPEN",
            State::ForcedOpen => "FORCED_OPEN",
            State::ForcedClosed => "FORCED_CLOSED",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// States in which the dependency is considered down (an incident is open).
    pub fn is_degraded(self) -> bool {
        matches!(self, State::Open | State::HalfOpen | State::ForcedOpen)
    }

    /// States that keep an episode (an incident the on-call is told of, and reminded
    /// of) open: the degraded ones, and FORCED_CLOSED, where the breaker no longer
    /// protects callers from a failing dependency.
    pub fn in_episode(self) -> bool {
        self.is_degraded() || self == State::ForcedClosed
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Permission to run a trial call in HALF_OPEN, valid for one generation until `expires_ms`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Lease {
    pub owner: String,
    pub expires_ms: Millis,
    pub generation: u64,
}

/// Calls and failures seen in one window bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Counts {
    pub calls: u32,
    pub failures: u32,
}

/// At most `max` bytes of `s`, cut at a character boundary (never inside a character).
pub fn clip(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The whole durable state of one breaker. Adapters map it to storage; nothing else
/// knows its storage layout.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Record {
    pub name: String,
    pub state: State,
    /// Bumped by every transition; every write is conditional on it.
    pub generation: u64,
    pub since_ms: Millis,
    /// CLOSED: consecutive failures so far. Elsewhere: the count when it opened.
    pub failures: u32,
    /// HALF_OPEN: trial successes in this generation.
    pub successes: u32,
    /// OPEN: the earliest time a trial may be admitted.
    pub open_until_ms: Millis,
    /// Reopenings from HALF_OPEN within the current episode (drives backoff).
    pub reopens: u32,
    /// Set from the start of an incident (CLOSED→OPEN or FORCED_OPEN) to its end.
    pub episode: Option<String>,
    pub last_error: Option<String>,
    /// HALF_OPEN trial slots, by slot number.
    pub trials: BTreeMap<u32, Lease>,
    /// Failure-rate window of the current generation, by bucket number.
    pub window: BTreeMap<i64, Counts>,
    /// FORCED_*: when the forced state ends by itself (the operator's `--until`).
    pub forced_until: Option<Millis>,
    /// When the open episode last alerted (its start, or its last reminder).
    pub reminded_ms: Millis,
    /// Alerts not yet delivered, by id.
    pub outbox: BTreeMap<String, OutboxEntry>,
    /// The last scheduled health check: (when, healthy).
    pub last_check: Option<(Millis, bool)>,
    /// When a configuration fault (a secret that cannot be used) was last paged; None
    /// once it is fixed and the page resolved. Not a failure of the dependency: it
    /// never counts, but people must hear of it.
    pub config_fault: Option<Millis>,
    /// When each page of Failsoft's own faults (`Op::Page`) was last written, by id.
    pub paged: BTreeMap<String, Millis>,
    /// Who wrote the last transition: a token unique to that write, so that a writer
    /// whose write timed out can tell its own from another's with the same content
    /// (two instances tripping in the same millisecond write the same record).
    pub writer: Option<String>,
}

impl Record {
    /// What a breaker that was never written looks like.
    pub fn new(name: &str) -> Record {
        Record {
            name: name.to_string(),
            state: State::Closed,
            generation: 0,
            since_ms: 0,
            failures: 0,
            successes: 0,
            open_until_ms: 0,
            reopens: 0,
            episode: None,
            last_error: None,
            trials: BTreeMap::new(),
            window: BTreeMap::new(),
            forced_until: None,
            reminded_ms: 0,
            outbox: BTreeMap::new(),
            last_check: None,
            config_fault: None,
            paged: BTreeMap::new(),
            writer: None,
        }
    }

    /// Totals over the window buckets that are still inside the window at `now`.
    pub fn window_totals(&self, policy: &Policy, now: Millis) -> Counts {
        let Some(current) = policy.bucket_of(now) else {
            return Counts::default();
        };
        let oldest = current - policy.window_buckets() + 1;
        self.window
            .range(oldest..=current)
            .fold(Counts::default(), |acc, (_, c)| Counts {
                calls: acc.calls.saturating_add(c.calls),
                failures: acc.failures.saturating_add(c.failures),
            })
    }

    /// Buckets too old to matter: a write may remove them on the way.
    pub fn stale_buckets(&self, policy: &Policy, now: Millis) -> Vec<i64> {
        let Some(current) = policy.bucket_of(now) else {
            return self.window.keys().copied().collect();
        };
        let oldest = current - policy.window_buckets() + 1;
        self.window.range(..oldest).map(|(b, _)| *b).collect()
    }

    /// The first slot a new trial may take: free, expired, or left from another generation.
    pub fn free_trial_slot(&self, policy: &Policy, now: Millis) -> Option<u32> {
        (0..policy.half_open_max_trials.max(1)).find(|slot| match self.trials.get(slot) {
            None => true,
            Some(l) => l.expires_ms < now || l.generation != self.generation,
        })
    }

    /// Whether `owner` holds trial slot `slot` in this generation, live or expired: what
    /// giving a lease back needs (an expired lease is still its owner's to return).
    pub fn owns_trial(&self, slot: u32, owner: &str) -> bool {
        self.trials
            .get(&slot)
            .is_some_and(|l| l.owner == owner && l.generation == self.generation)
    }

    /// Whether `lease` (slot, owner) is still held, live, in this generation at `now`.
    pub fn holds_lease(&self, slot: u32, owner: &str, now: Millis) -> bool {
        self.trials.get(&slot).is_some_and(|l| {
            l.owner == owner && l.generation == self.generation && l.expires_ms >= now
        })
    }
}

/// A state change, handed to the one instance whose write made it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Transition {
    pub breaker: String,
    pub from: State,
    pub to: State,
    pub generation: u64,
    pub at_ms: Millis,
    pub failures: u32,
    pub last_error: Option<String>,
    /// The incident this transition opens, if any (send a trigger).
    pub started_episode: Option<String>,
    /// The incident this transition ends, if any (send a resolve).
    pub ended_episode: Option<String>,
}

impl Transition {
    pub fn label(&self) -> String {
        format!("{}->{}", self.from, self.to)
    }
}

/// What an outbox entry is for: a page (the breaker's own: trigger, resolve, summary),
/// or an effect its user registered with the policy, by name. The breaker stores and
/// schedules effects and knows nothing of what they do (failsafe-rs's instrument, tower's
/// retry policy: the core carries the effect, the user supplies its meaning).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Trigger,
    Resolve,
    /// What could not be delivered in time, folded into one low-urgency event.
    Summary,
    /// A registered effect's do or undo, by its stored name (`PairedEffect`).
    Effect(Name),
}

impl Action {
    pub fn as_str(&self) -> &str {
        match self {
            Action::Trigger => "trigger",
            Action::Resolve => "resolve",
            Action::Summary => "summary",
            Action::Effect(n) => n.as_str(),
        }
    }

    /// A page to PagerDuty (folded into the summary when it cannot get through), as
    /// opposed to an effect (never folded: its user's own record says what to undo).
    pub fn is_page(self) -> bool {
        matches!(self, Action::Trigger | Action::Resolve | Action::Summary)
    }

    /// From its stored name: a page's, or any other short name as an effect (one this
    /// version does not register is its executor's to refuse, not the record's).
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "trigger" => Some(Action::Trigger),
            "resolve" => Some(Action::Resolve),
            "summary" => Some(Action::Summary),
            other => Name::parse(other).map(Action::Effect),
        }
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One entry in the outbox: an action a transition called for (a page, or a registered
/// effect's do or undo), with its own id, attempts and claim, written with the
/// transition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct OutboxEntry {
    /// Unique within the breaker: `<generation>-<action>`, `reminder` (one slot: a newer
    /// reminder replaces an undelivered one), `summary`, or a registered effect's slot
    /// (one each for its do and its undo: its user's record says what to undo).
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

impl OutboxEntry {
    pub fn new(
        id: String,
        action: Action,
        dedup_key: &str,
        summary: String,
        r: &Record,
        now: Millis,
    ) -> OutboxEntry {
        OutboxEntry {
            id,
            action,
            dedup_key: dedup_key.to_string(),
            summary,
            failures: r.failures,
            // The page carries the start of the error; the record keeps up to 512 bytes.
            last_error: r.last_error.as_deref().map(|e| clip(e, 256).to_string()),
            created_ms: now,
            attempts: 0,
            next_ms: now,
            claim: None,
        }
    }

    /// Nobody holds a live claim on it at `now`.
    pub fn is_free(&self, now: Millis) -> bool {
        self.claim.as_ref().is_none_or(|(_, until)| *until < now)
    }

    pub fn claimed_by_other(&self, owner: &str, now: Millis) -> bool {
        self.claim
            .as_ref()
            .is_some_and(|(o, until)| o != owner && *until >= now)
    }
}
