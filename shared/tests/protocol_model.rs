//! The breaker protocol, model-checked with stateright.
//!
//! Instances with stale views, skewed clocks and crashes drive the real `machine::step`
//! against one store that applies the real `Op::apply`: nothing here re-models the
//! breaker. What the model adds is the world around it: which write reaches the store
//! when, whether its writer hears back, a dependency that goes up and down, a lossy
//! PagerDuty, operator commands and time. It mirrors `guard::Breaker::drive` round by
//! round (win, loss and re-step, unknown outcome and re-read).
//!
//! Safety properties are `always` invariants over every reachable state. The liveness
//! ones ("every alert is eventually delivered or summarised", "HALF_OPEN is never stuck
//! while health checks run") are checked from every reachable state by a fair
//! continuation: instances stop, the dependency and PagerDuty work, and the health
//! check runs once a minute, through the same `next_state`; then the outbox must be
//! empty and the breaker neither OPEN nor HALF_OPEN.
//!
//! `FAILSOFT_MODEL_DEPTH` deepens the search (docs/reliability.md gives the figures).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use failsoft::breaker::{
    item_size, outbox, step, to_items, CallResult, Decision, Event, Op, Policy, Record, State,
    Step, Tally, Ticket, Transition, TripPolicy,
};
use failsoft::clock::Millis;
use stateright::{Checker, Model, Property};

const NAME: &str = "crm";
/// Time advances in ticks of true time.
const TICK: Millis = 500;
/// Instance clocks differ from true time by at most this (the stated skew bound).
const SKEW: Millis = 250;
/// An admitted call ends within this much true time (the caller's deadline).
const CALL_BUDGET: Millis = 1_000;
/// How long a sender's claim on an outbox entry lasts, and the retry delay after a
/// failed delivery.
const CLAIM_MS: Millis = 2_000;
const RETRY_MS: Millis = 1_000;
/// Rounds of re-stepping after a lost write, as the guard allows.
const MAX_ROUNDS: u8 = 4;
/// Writes a writer gave up on that may still land, at most this many at a time.
const MAX_INFLIGHT: usize = 1;
/// Operator commands per history.
const MAX_COMMANDS: u8 = 1;
/// The largest item the design allows (docs/architecture.md).
const ITEM_LIMIT: usize = 8 * 1024;
/// The count item, which every failure writes: one write unit.
const COUNT_LIMIT: usize = 1024;

/// What one instance is doing.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Phase {
    Idle,
    /// An admitted call to the dependency, started at true time `since`.
    Calling {
        ticket: Ticket,
        since: Millis,
    },
    /// A conditional write sent for `event`; `step` made it; `round` counts retries.
    Writing {
        event: Event,
        step: Box<Step>,
        round: u8,
    },
    /// An outbox entry claimed by `owner`, being sent to PagerDuty.
    Sending {
        id: String,
        owner: String,
    },
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Instance {
    /// The record as this instance last saw it (possibly stale).
    view: Record,
    phase: Phase,
    /// Admissions so far, so that every trial lease has a unique owner.
    seq: u32,
    /// Restarts, so that a restarted instance is a new owner.
    life: u32,
}

impl Instance {
    fn new() -> Instance {
        Instance {
            view: Record::new(NAME),
            phase: Phase::Idle,
            seq: 0,
            life: 0,
        }
    }
}

/// What the properties need to know beyond the store: facts about the history.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq)]
struct Ghost {
    /// Instances that acted as the winner of the transition to each generation.
    winners: BTreeMap<u64, u8>,
    /// Failures written to the store in the current CLOSED generation.
    counted: u32,
    /// A CLOSED→OPEN record whose count differed from the failures written, or that
    /// had fewer than the threshold behind it: (stored, counted).
    lost_count: Option<(u32, u32)>,
    /// Trial successes that reached the dependency, written in this HALF_OPEN generation.
    reached: u32,
    /// A HALF_OPEN→CLOSED transition without enough successes that reached the dependency.
    false_close: bool,
    /// Generations whose transition was applied.
    applied: BTreeSet<u64>,
    /// Entries PagerDuty accepted: (entry id, dedup key).
    delivered: Vec<(String, String)>,
    /// An entry that reached PagerDuty or the store without an applied transition.
    orphan_alert: bool,
    commands: u8,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct World {
    /// True time.
    now: Millis,
    store: Record,
    dependency_up: bool,
    pagerduty_up: bool,
    instances: Vec<Instance>,
    /// Writes whose writer stopped waiting, with what the writer was driving: they may
    /// still be applied, or never.
    inflight: Vec<(Op, Event)>,
    ghost: Ghost,
}

/// How a sent write ends, as seen from the store and from its writer.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum Write {
    /// Applied (or refused by its condition) and answered.
    Answered,
    /// Applied, but the answer came too late: the writer re-reads the record.
    AppliedThenReread,
    /// Still queued when the writer gave up; the writer re-reads (before it lands).
    QueuedThenReread,
    /// Still queued, and the re-read is not answered either: the outcome is unknown.
    QueuedUnknown,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Act {
    Tick,
    ToggleDependency,
    TogglePagerDuty,
    /// An instance reads the store (its cache expired).
    Refresh(usize),
    Admit(usize),
    /// The call reached the dependency (answered as the dependency is now), or never
    /// reached it (no token, no secret).
    CallEnds(usize, bool),
    Write(usize, Write),
    /// The instance dies; a write it sent may still land.
    Crash(usize),
    LateApply,
    LateDrop,
    Claim(usize),
    Send(usize),
    Remind,
    Command(Command),
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Command {
    ForceOpen,
    ForceClosed,
    Release,
}

struct Protocol {
    policy: Policy,
    instances: usize,
    max_time: Millis,
    /// Checked by the fair continuation; switched off to measure the safety search alone.
    liveness: bool,
}

impl Protocol {
    fn clock(&self, w: &World, i: usize) -> Millis {
        // Instance 0 runs SKEW fast; instances 1 and 2 agree to the millisecond, so two
        // writers can make identical records.
        let skew = [SKEW, 0, 0];
        w.now + skew[i % skew.len()]
    }

    fn owner(&self, w: &World, i: usize) -> String {
        let inst = &w.instances[i];
        format!("i{i}.{}:{}", inst.life, inst.seq)
    }

    /// Apply `op` to the store, keeping the history facts. `cause` is what the writer was
    /// driving (None for alert delivery and reminders).
    fn store_apply(&self, w: &mut World, op: &Op, cause: Option<&Event>) -> bool {
        let before = w.store.clone();
        let Some(after) = op.apply(&before) else {
            return false;
        };
        let g = &mut w.ghost;
        let reached_success = matches!(
            cause,
            Some(Event::Outcome {
                result: CallResult::Success { .. },
                ..
            })
        );
        match op {
            Op::CountFailure { .. } => g.counted += 1,
            Op::ResetFailures { .. } => g.counted = 0,
            Op::TrialSuccess { .. } if reached_success => g.reached += 1,
            Op::Transition {
                tally,
                next,
                alerts,
                ..
            } => {
                if *tally == Tally::AddOne {
                    g.counted += 1;
                }
                let consecutive =
                    matches!(self.policy.trip, TripPolicy::ConsecutiveFailures { .. });
                let threshold = match self.policy.trip {
                    TripPolicy::ConsecutiveFailures { threshold } => threshold,
                    TripPolicy::FailureRate { .. } => 0,
                };
                if before.state == State::Closed
                    && after.state == State::Open
                    && consecutive
                    && (after.failures != g.counted || g.counted < threshold)
                {
                    g.lost_count = Some((after.failures, g.counted));
                }
                if before.state == State::HalfOpen && after.state == State::Closed {
                    let reached = g.reached + u32::from(reached_success);
                    if reached < self.policy.success_threshold {
                        g.false_close = true;
                    }
                }
                g.reached = 0;
                if after.state == State::Closed {
                    g.counted = 0;
                }
                g.applied.insert(next.generation);
                for a in alerts {
                    if !self.has_cause(g, a) {
                        g.orphan_alert = true;
                    }
                }
            }
            _ => {}
        }
        w.store = after;
        true
    }

    /// An alert's cause is the applied transition its id names (`<generation>-<action>`);
    /// reminders and summaries stand for an episode some applied transition started.
    fn has_cause(&self, g: &Ghost, a: &failsoft::breaker::OutboxEntry) -> bool {
        match a.id.split_once('-') {
            Some((gen, _)) => gen.parse::<u64>().is_ok_and(|n| g.applied.contains(&n)),
            None => {
                a.dedup_key
                    .split('/')
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|n| g.applied.contains(&n))
                    || a.id == outbox::SUMMARY_ID
            }
        }
    }

    /// One round of the guard's `drive`: step the view; write if the step asks to.
    fn drive(&self, w: &mut World, i: usize, event: Event, round: u8) {
        let now = self.clock(w, i);
        let view = w.instances[i].view.clone();
        let mut s = step(&view, &event, now, &self.policy);
        // The guard stamps every write with a token of its own.
        if let Some(op) = s.op.as_mut() {
            op.stamp(&format!("{}:w", self.owner(w, i)));
            w.instances[i].seq += 1;
        }
        if s.op.is_none() {
            self.finish(w, i, &event, &s.decision);
            return;
        }
        if round >= MAX_ROUNDS {
            // Still contended: not admitted, nothing recorded.
            w.instances[i].phase = Phase::Idle;
            return;
        }
        w.instances[i].phase = Phase::Writing {
            event,
            step: Box::new(s),
            round,
        };
    }

    /// The write of instance `i` is known to have been applied (`won`) or not, and the
    /// store's record is `rec`.
    fn learned(&self, w: &mut World, i: usize, won: bool, event: Event, s: &Step, round: u8) {
        let rec = w.store.clone();
        w.instances[i].view = rec;
        if won {
            if let Some(t) = &s.transition {
                self.won(w, t);
            }
            // A counter write may have crossed a threshold others pushed it to.
            if s.transition.is_none() && matches!(event, Event::Outcome { .. }) {
                self.drive(w, i, Event::Evaluate, round + 1);
                return;
            }
            self.finish(w, i, &event, &s.decision);
        } else if matches!(event, Event::Evaluate) {
            w.instances[i].phase = Phase::Idle;
        } else {
            self.drive(w, i, event, round + 1);
        }
    }

    fn won(&self, w: &mut World, t: &Transition) {
        *w.ghost.winners.entry(t.generation).or_default() += 1;
    }

    /// The decision of a finished drive: an admission becomes a call; anything else
    /// leaves the instance idle.
    fn finish(&self, w: &mut World, i: usize, event: &Event, decision: &Decision) {
        w.instances[i].phase = match (event, decision) {
            (Event::Admit { .. }, Decision::Admit(ticket)) => Phase::Calling {
                ticket: ticket.clone(),
                since: w.now,
            },
            _ => Phase::Idle,
        };
    }

    fn write(&self, w: &mut World, i: usize, how: Write) {
        let Phase::Writing { event, step, round } = w.instances[i].phase.clone() else {
            return;
        };
        let Some(op) = step.op.clone() else {
            return;
        };
        match how {
            Write::Answered => {
                let won = self.store_apply(w, &op, Some(&event));
                self.learned(w, i, won, event, &step, round);
            }
            Write::AppliedThenReread | Write::QueuedThenReread => {
                if how == Write::AppliedThenReread {
                    self.store_apply(w, &op, Some(&event));
                } else {
                    w.inflight.push((op.clone(), event.clone()));
                }
                // The guard's `learn_outcome`: read again, ask the record.
                let rec = w.store.clone();
                match op.took_effect(&rec) {
                    Some(won) => self.learned(w, i, won, event, &step, round),
                    None if step.transition.is_none() => {
                        w.instances[i].view = rec;
                        if matches!(event, Event::Outcome { .. }) {
                            self.drive(w, i, Event::Evaluate, round + 1);
                        } else {
                            self.finish(w, i, &event, &step.decision);
                        }
                    }
                    // A later transition hides ours: not ours to claim.
                    None => self.learned(w, i, false, event, &step, round),
                }
            }
            Write::QueuedUnknown => {
                w.inflight.push((op, event.clone()));
                // The guard's `unknown_outcome`: no trial on an unknown election; anything
                // else goes on on the local view, claiming nothing.
                match &step.decision {
                    Decision::Admit(t) if t.trial.is_some() => {
                        w.instances[i].phase = Phase::Idle;
                    }
                    d => {
                        w.instances[i].view = step.next.clone();
                        self.finish(w, i, &event, d);
                    }
                }
            }
        }
    }

    fn send(&self, w: &mut World, i: usize) {
        let Phase::Sending { id, owner } = w.instances[i].phase.clone() else {
            return;
        };
        let now = self.clock(w, i);
        let Some(entry) = w.store.outbox.get(&id).cloned() else {
            w.instances[i].phase = Phase::Idle;
            return;
        };
        let op = if w.pagerduty_up {
            if !self.has_cause(&w.ghost, &entry) {
                w.ghost.orphan_alert = true;
            }
            w.ghost
                .delivered
                .push((id.clone(), entry.dedup_key.clone()));
            Op::DropEntry { id, owner }
        } else {
            Op::DeferEntry {
                id,
                owner,
                attempts: entry.attempts + 1,
                next_ms: now + RETRY_MS,
            }
        };
        self.store_apply(w, &op, None);
        w.instances[i].phase = Phase::Idle;
    }

    fn claim(&self, w: &mut World, i: usize) {
        let now = self.clock(w, i);
        let due =
            w.store.outbox.values().find(|a| {
                a.next_ms <= now && a.claim.as_ref().is_none_or(|(_, until)| *until < now)
            });
        let Some(id) = due.map(|a| a.id.clone()) else {
            return;
        };
        let owner = self.owner(w, i);
        w.instances[i].seq += 1;
        let op = Op::ClaimEntry {
            id: id.clone(),
            owner: owner.clone(),
            now,
            until: now + CLAIM_MS,
        };
        if self.store_apply(w, &op, None) {
            w.instances[i].phase = Phase::Sending { id, owner };
        }
    }

    fn command(&self, w: &mut World, c: &Command) {
        // The CLI: read the store, step, one conditional write, retried on a lost race.
        let now = w.now;
        let event = match c {
            Command::ForceOpen => Event::ForceOpen {
                by: "op".into(),
                until: Some(now + 2 * TICK),
            },
            Command::ForceClosed => Event::ForceClosed {
                by: "op".into(),
                until: Some(now + 2 * TICK),
            },
            Command::Release => Event::Release { by: "op".into() },
        };
        w.ghost.commands += 1;
        let s = step(&w.store, &event, now, &self.policy);
        if let Some(op) = &s.op {
            if self.store_apply(w, op, Some(&event)) {
                if let Some(t) = &s.transition {
                    self.won(w, t);
                }
            }
        }
    }

    fn remind(&self, w: &mut World) {
        let now = self.clock(w, 0);
        let every = 4 * TICK;
        if let (Some(alert), Some(episode)) = (
            outbox::reminder(&w.store, now, every),
            w.store.episode.clone(),
        ) {
            let op = Op::Remind {
                episode,
                alert,
                now,
                every_ms: every,
            };
            self.store_apply(w, &op, None);
        }
    }

    fn run(&self, w: &World, acts: &[Act]) -> World {
        acts.iter().fold(w.clone(), |w, a| {
            self.next_state(&w, a.clone())
                .unwrap_or_else(|| panic!("{a:?} is not enabled in {w:?}"))
        })
    }

    /// From `w`, a fair future: every instance stops (writes in flight are lost), the
    /// dependency and PagerDuty work, and the health check runs once a minute on a fresh
    /// instance, delivering alerts as it goes. What it leaves is what the world settles to.
    fn settle(&self, w: &World) -> World {
        let mut w = w.clone();
        for inst in &mut w.instances {
            inst.phase = Phase::Idle;
            inst.life += 1;
        }
        w.inflight.clear();
        w.dependency_up = true;
        w.pagerduty_up = true;
        for _ in 0..8 {
            w.now += 60_000;
            let acts = [
                Act::Refresh(0),
                Act::Admit(0),
                Act::Write(0, Write::Answered),
                Act::CallEnds(0, true),
                Act::Write(0, Write::Answered),
                Act::Write(0, Write::Answered),
            ];
            for a in acts {
                if let Some(next) = self.next_state(&w, a) {
                    w = next;
                }
            }
            while !w.store.outbox.is_empty() {
                let Some(claimed) = self.next_state(&w, Act::Claim(0)) else {
                    break;
                };
                let Some(sent) = self.next_state(&claimed, Act::Send(0)) else {
                    break;
                };
                w = sent;
            }
        }
        w
    }
}

impl Model for Protocol {
    type State = World;
    type Action = Act;

    /// A fresh breaker, and four points of its life reached from it through
    /// `next_state` (so they are reachable, with their history facts): a trip being
    /// written, just tripped, a trial in flight, and one trial success in. The search
    /// starts from each.
    fn init_states(&self) -> Vec<World> {
        let fresh = World {
            now: 1_000,
            store: Record::new(NAME),
            dependency_up: false,
            pagerduty_up: false,
            instances: (0..self.instances).map(|_| Instance::new()).collect(),
            inflight: Vec::new(),
            ghost: Ghost::default(),
        };
        let answered = |i| Act::Write(i, Write::Answered);
        // Instance 1 counted the second failure on a stale view, read the record back
        // and is writing the trip.
        let tripping = self.run(
            &fresh,
            &[
                Act::Admit(0),
                Act::CallEnds(0, true),
                answered(0),
                Act::Admit(1),
                Act::CallEnds(1, true),
                answered(1),
            ],
        );
        let tripped = self.run(&tripping, &[answered(1)]);
        let trial = self.run(
            &tripped,
            &[
                Act::Tick,
                Act::Tick,
                Act::ToggleDependency,
                Act::Refresh(0),
                Act::Admit(0),
                answered(0),
            ],
        );
        let one_success = self.run(&trial, &[Act::CallEnds(0, true), answered(0)]);
        vec![fresh, tripping, tripped, trial, one_success]
    }

    fn actions(&self, w: &World, out: &mut Vec<Act>) {
        let calls_in_budget = w.instances.iter().all(|inst| match &inst.phase {
            Phase::Calling { since, .. } => w.now + TICK - since <= CALL_BUDGET,
            _ => true,
        });
        if calls_in_budget {
            out.push(Act::Tick);
        }
        out.push(Act::ToggleDependency);
        out.push(Act::TogglePagerDuty);
        for (i, inst) in w.instances.iter().enumerate() {
            match &inst.phase {
                Phase::Idle => {
                    if inst.view != w.store {
                        out.push(Act::Refresh(i));
                    }
                    out.push(Act::Admit(i));
                    if !w.store.outbox.is_empty() {
                        out.push(Act::Claim(i));
                    }
                }
                Phase::Calling { .. } => {
                    out.push(Act::CallEnds(i, true));
                    out.push(Act::CallEnds(i, false));
                    out.push(Act::Crash(i));
                }
                Phase::Writing { .. } => {
                    out.push(Act::Write(i, Write::Answered));
                    out.push(Act::Write(i, Write::AppliedThenReread));
                    if w.inflight.len() < MAX_INFLIGHT {
                        out.push(Act::Write(i, Write::QueuedThenReread));
                        out.push(Act::Write(i, Write::QueuedUnknown));
                    }
                    out.push(Act::Crash(i));
                }
                Phase::Sending { .. } => {
                    out.push(Act::Send(i));
                    out.push(Act::Crash(i));
                }
            }
        }
        if !w.inflight.is_empty() {
            out.push(Act::LateApply);
            out.push(Act::LateDrop);
        }
        if w.store.episode.is_some() {
            out.push(Act::Remind);
        }
        if w.ghost.commands < MAX_COMMANDS {
            out.push(Act::Command(Command::ForceOpen));
            out.push(Act::Command(Command::ForceClosed));
            out.push(Act::Command(Command::Release));
        }
    }

    fn next_state(&self, last: &World, act: Act) -> Option<World> {
        let mut w = last.clone();
        match act {
            Act::Tick => w.now += TICK,
            Act::ToggleDependency => w.dependency_up = !w.dependency_up,
            Act::TogglePagerDuty => w.pagerduty_up = !w.pagerduty_up,
            Act::Refresh(i) => w.instances[i].view = w.store.clone(),
            Act::Admit(i) => {
                if w.instances[i].phase != Phase::Idle {
                    return None;
                }
                let owner = self.owner(&w, i);
                w.instances[i].seq += 1;
                self.drive(&mut w, i, Event::Admit { owner }, 0);
            }
            Act::CallEnds(i, reached) => {
                let Phase::Calling { ticket, since } = w.instances[i].phase.clone() else {
                    return None;
                };
                let latency_ms = w.now - since;
                let event = if !reached {
                    Event::Abandon { ticket }
                } else if w.dependency_up {
                    Event::Outcome {
                        ticket,
                        result: CallResult::Success { latency_ms },
                        unflushed_calls: 0,
                    }
                } else {
                    Event::Outcome {
                        ticket,
                        result: CallResult::Failure {
                            latency_ms,
                            error: "down".into(),
                        },
                        unflushed_calls: 0,
                    }
                };
                self.drive(&mut w, i, event, 0);
            }
            Act::Write(i, how) => self.write(&mut w, i, how),
            Act::Crash(i) => {
                if let Phase::Writing { step, event, .. } = &w.instances[i].phase {
                    if let Some(op) = &step.op {
                        if w.inflight.len() < MAX_INFLIGHT {
                            w.inflight.push((op.clone(), event.clone()));
                        }
                    }
                }
                let life = w.instances[i].life + 1;
                w.instances[i] = Instance {
                    life,
                    ..Instance::new()
                };
            }
            Act::LateApply => {
                let (op, cause) = w.inflight.remove(0);
                self.store_apply(&mut w, &op, Some(&cause));
            }
            Act::LateDrop => {
                w.inflight.remove(0);
            }
            Act::Claim(i) if w.instances[i].phase == Phase::Idle => self.claim(&mut w, i),
            Act::Send(i) if matches!(w.instances[i].phase, Phase::Sending { .. }) => {
                self.send(&mut w, i)
            }
            Act::Claim(_) | Act::Send(_) => return None,
            Act::Remind => self.remind(&mut w),
            Act::Command(c) => self.command(&mut w, &c),
        }
        Some(w)
    }

    fn within_boundary(&self, w: &World) -> bool {
        w.now <= self.max_time
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut props = vec![
            Property::always("one winner per transition", |_, w: &World| {
                w.ghost.winners.values().all(|n| *n <= 1)
            }),
            Property::always("no lost failure count", |_, w: &World| {
                w.ghost.lost_count.is_none()
                    && (w.store.state != State::Closed || w.store.failures == w.ghost.counted)
            }),
            Property::always(
                "at most one trial per half-open generation",
                |m: &Protocol, w: &World| {
                    let mut per_generation: BTreeMap<u64, u32> = BTreeMap::new();
                    for inst in &w.instances {
                        if let Phase::Calling { ticket, .. } = &inst.phase {
                            if ticket.trial.is_some() {
                                *per_generation.entry(ticket.generation).or_default() += 1;
                            }
                        }
                    }
                    per_generation
                        .values()
                        .all(|n| *n <= m.policy.half_open_max_trials)
                },
            ),
            Property::always("no close without a success that reached", |_, w: &World| {
                !w.ghost.false_close
            }),
            Property::always(
                "no alert without its transition",
                |m: &Protocol, w: &World| {
                    !w.ghost.orphan_alert
                        && w.store.outbox.values().all(|a| m.has_cause(&w.ghost, a))
                },
            ),
            Property::always("the items stay bounded", |_, w: &World| {
                let items = to_items(&w.store);
                w.store.outbox.len() <= outbox::MAX_ENTRIES
                    && item_size(&items.main) <= ITEM_LIMIT
                    && item_size(&items.count) <= COUNT_LIMIT
            }),
            Property::sometimes("a trial closes the breaker", |_, w: &World| {
                w.ghost.applied.len() >= 3 && w.store.state == State::Closed
            }),
        ];
        if self.liveness {
            props.push(Property::always(
                "every alert delivered or summarised, and HALF_OPEN never stuck",
                |m: &Protocol, w: &World| {
                    let settled = m.settle(w);
                    settled.store.outbox.is_empty()
                        && !matches!(settled.store.state, State::Open | State::HalfOpen)
                },
            ));
        }
        props
    }
}

fn policy() -> Policy {
    Policy {
        trip: TripPolicy::ConsecutiveFailures { threshold: 2 },
        slow_call_ms: None,
        recovery_timeout_ms: 2 * TICK,
        success_threshold: 2,
        half_open_max_trials: 1,
        // Longer than a call's budget plus the skew between two instances.
        trial_lease_ms: CALL_BUDGET + 2 * SKEW + TICK,
        backoff: None,
        effects: Vec::new(),
    }
}

/// A counterexample, one line per step: the action, then the store and the instances.
fn describe(path: stateright::Path<World, Act>) -> String {
    let states = path.clone().into_states();
    let actions = path.into_actions();
    let line = |w: &World| {
        let phases: Vec<String> = w
            .instances
            .iter()
            .map(|i| match &i.phase {
                Phase::Idle => format!("idle(g{})", i.view.generation),
                Phase::Calling { ticket, .. } => format!(
                    "calling(g{}{})",
                    ticket.generation,
                    if ticket.trial.is_some() { " trial" } else { "" }
                ),
                Phase::Writing { step, .. } => format!(
                    "writing({})",
                    step.op.as_ref().map(|o| o.kind()).unwrap_or("-")
                ),
                Phase::Sending { id, .. } => format!("sending({id})"),
            })
            .collect();
        format!(
            "t={} store={} g{} failures={} successes={} trials={:?} outbox={:?} | {} | inflight={:?} | ghost counted={} winners={:?} delivered={:?}",
            w.now,
            w.store.state,
            w.store.generation,
            w.store.failures,
            w.store.successes,
            w.store.trials.values().map(|l| &l.owner).collect::<Vec<_>>(),
            w.store.outbox.keys().collect::<Vec<_>>(),
            phases.join(" "),
            w.inflight.iter().map(|(o, _)| o.kind()).collect::<Vec<_>>(),
            w.ghost.counted,
            w.ghost.winners,
            w.ghost.delivered.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        )
    };
    let mut out = format!("  start: {}\n", line(&states[0]));
    for (a, w) in actions.iter().zip(&states[1..]) {
        out.push_str(&format!("  {a:?}: {}\n", line(w)));
    }
    out
}

fn depth() -> usize {
    std::env::var("FAILSOFT_MODEL_DEPTH")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(6)
}

#[test]
fn the_breaker_protocol_keeps_its_invariants() {
    let model = Protocol {
        policy: policy(),
        instances: 3,
        max_time: 1_000 + 8 * TICK,
        liveness: true,
    };
    let started = Instant::now();
    let checker = model
        .checker()
        .threads(2)
        .target_max_depth(depth())
        .spawn_bfs()
        .join();
    eprintln!(
        "protocol model: {} states, depth {}, {:.1} s",
        checker.unique_state_count(),
        checker.max_depth(),
        started.elapsed().as_secs_f64()
    );
    for name in [
        "one winner per transition",
        "no lost failure count",
        "at most one trial per half-open generation",
        "no close without a success that reached",
        "no alert without its transition",
        "the item stays bounded",
        "every alert delivered or summarised, and HALF_OPEN never stuck",
    ] {
        if let Some(path) = checker.discovery(name) {
            panic!("{name}: counterexample\n{}", describe(path));
        }
    }
    assert!(
        checker.discovery("a trial closes the breaker").is_some(),
        "the search never got as far as a recovery"
    );
}
