//! The breaker as a pure state machine: `step(record, event, now, policy)` gives the
//! next record, the one conditional write that makes it durable, and the effects the
//! winner of that write acts on. No IO and no clock: callers pass `now`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::op::{Expect, Op, Tally};
use super::outbox::{alerts_for, compact, paired_actions, SUMMARY_ID};
use super::policy::{Policy, TripPolicy};
use super::record::{self, Lease, Record, State, Transition};
use crate::clock::Millis;

/// What an admitted call carries until its outcome is recorded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ticket {
    pub generation: u64,
    pub state: State,
    pub trial: Option<TrialTicket>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrialTicket {
    pub slot: u32,
    pub owner: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CallResult {
    Success { latency_ms: Millis },
    Failure { latency_ms: Millis, error: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// A call asks to pass. `owner` must be unique per admission (it names the trial lease).
    Admit {
        owner: String,
    },
    /// An admitted call ended. `unflushed_calls` are this instance's successes not yet
    /// written to the failure-rate window.
    Outcome {
        ticket: Ticket,
        result: CallResult,
        unflushed_calls: u32,
    },
    /// An admitted call never reached the dependency: a trial gives its lease back,
    /// counting neither a success nor a failure.
    Abandon {
        ticket: Ticket,
    },
    /// Look at an authoritative record (just returned by a write) for a threshold crossed.
    Evaluate,
    /// Hold OPEN; with `until`, the first admission after it releases the breaker.
    ForceOpen {
        by: String,
        until: Option<Millis>,
    },
    /// Hold CLOSED; with `until`, likewise released when it passes.
    ForceClosed {
        by: String,
        until: Option<Millis>,
    },
    Release {
        by: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    Open,
    HalfOpenBusy,
    ForcedOpen,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    Admit(Ticket),
    Reject(Rejection),
    /// The outcome was counted (or needed no write).
    Recorded,
    /// The outcome belongs to an older generation or an expired lease: ignored.
    Stale,
    /// Nothing to do (for example releasing a breaker that is not forced).
    Unchanged,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Step {
    pub next: Record,
    pub op: Option<Op>,
    pub decision: Decision,
    /// Effective only if `op` is applied.
    pub transition: Option<Transition>,
}

impl Step {
    fn stay(view: &Record, decision: Decision) -> Step {
        Step {
            next: view.clone(),
            op: None,
            decision,
            transition: None,
        }
    }
}

const MAX_ERROR_LEN: usize = 512;

fn clip(error: &str) -> String {
    record::clip(error, MAX_ERROR_LEN).to_string()
}

/// One pure step of the breaker.
pub fn step(view: &Record, event: &Event, now: Millis, policy: &Policy) -> Step {
    match event {
        Event::Admit { owner } => admit(view, owner, now, policy),
        Event::Outcome {
            ticket,
            result,
            unflushed_calls,
        } => outcome(view, ticket, result, *unflushed_calls, now, policy),
        Event::Abandon { ticket } => abandon(view, ticket),
        Event::Evaluate => evaluate(view, now, policy),
        Event::ForceOpen { by, until } => force(view, State::ForcedOpen, by, *until, now, policy),
        Event::ForceClosed { by, until } => {
            force(view, State::ForcedClosed, by, *until, now, policy)
        }
        Event::Release { by } => match view.state {
            State::ForcedOpen | State::ForcedClosed => {
                force(view, State::Closed, by, None, now, policy)
            }
            _ => Step::stay(view, Decision::Unchanged),
        },
    }
}

fn admit(view: &Record, owner: &str, now: Millis, policy: &Policy) -> Step {
    // A forced state past its `until` ends with the first admission: the write releases
    // it, and the call goes through in CLOSED.
    let forced = matches!(view.state, State::ForcedOpen | State::ForcedClosed);
    if forced && view.forced_until.is_some_and(|u| now >= u) {
        let mut s = force(view, State::Closed, "its --until", None, now, policy);
        s.decision = Decision::Admit(Ticket {
            generation: s.next.generation,
            state: State::Closed,
            trial: None,
        });
        return s;
    }
    let normal = Ticket {
        generation: view.generation,
        state: view.state,
        trial: None,
    };
    match view.state {
        State::Closed | State::ForcedClosed => Step::stay(view, Decision::Admit(normal)),
        State::ForcedOpen => Step::stay(view, Decision::Reject(Rejection::ForcedOpen)),
        State::Open if now < view.open_until_ms => {
            Step::stay(view, Decision::Reject(Rejection::Open))
        }
        State::Open => {
            // The write that moves OPEN→HALF_OPEN also hands its winner the first trial.
            let mut next = transitioned(view, State::HalfOpen, now);
            let lease = Lease {
                owner: owner.to_string(),
                expires_ms: now + policy.trial_lease_ms,
                generation: next.generation,
            };
            next.trials.insert(0, lease);
            let ticket = trial_ticket(&next, 0, owner);
            transition_step(
                view,
                next,
                Expect::of(view),
                Decision::Admit(ticket),
                now,
                policy,
            )
        }
        State::HalfOpen => match view.free_trial_slot(policy, now) {
            None => Step::stay(view, Decision::Reject(Rejection::HalfOpenBusy)),
            Some(slot) => {
                let lease = Lease {
                    owner: owner.to_string(),
                    expires_ms: now + policy.trial_lease_ms,
                    generation: view.generation,
                };
                let mut next = view.clone();
                next.trials.insert(slot, lease.clone());
                Step {
                    decision: Decision::Admit(trial_ticket(&next, slot, owner)),
                    next,
                    op: Some(Op::AcquireTrial {
                        generation: view.generation,
                        slot,
                        lease,
                        now,
                    }),
                    transition: None,
                }
            }
        },
    }
}

fn trial_ticket(rec: &Record, slot: u32, owner: &str) -> Ticket {
    Ticket {
        generation: rec.generation,
        state: State::HalfOpen,
        trial: Some(TrialTicket {
            slot,
            owner: owner.to_string(),
        }),
    }
}

fn outcome(
    view: &Record,
    ticket: &Ticket,
    result: &CallResult,
    unflushed_calls: u32,
    now: Millis,
    policy: &Policy,
) -> Step {
    if ticket.generation != view.generation || ticket.state != view.state {
        return Step::stay(view, Decision::Stale);
    }
    let failure = match result {
        CallResult::Failure { error, .. } => Some(clip(error)),
        CallResult::Success { latency_ms } => policy
            .slow_call_ms
            .filter(|limit| latency_ms > limit)
            .map(|limit| format!("slow call: {latency_ms} ms > {limit} ms")),
    };
    match (view.state, &ticket.trial) {
        (State::HalfOpen, Some(trial)) => {
            if !view.holds_lease(trial.slot, &trial.owner, now) {
                return Step::stay(view, Decision::Stale);
            }
            let expect = Expect::of(view).with_lease(trial.slot, &trial.owner, now);
            match failure {
                Some(error) => reopen(view, expect, error, now, policy),
                None if view.successes + 1 >= policy.success_threshold => {
                    let expect = expect.with_min_successes(policy.success_threshold - 1);
                    close(view, expect, now, policy)
                }
                None => {
                    let mut next = view.clone();
                    next.successes += 1;
                    next.trials.remove(&trial.slot);
                    Step {
                        next,
                        op: Some(Op::TrialSuccess {
                            generation: view.generation,
                            slot: trial.slot,
                            owner: trial.owner.clone(),
                            now,
                        }),
                        decision: Decision::Recorded,
                        transition: None,
                    }
                }
            }
        }
        (State::Closed, None) => match failure {
            Some(error) => closed_failure(view, error, unflushed_calls, now, policy),
            None => closed_success(view, unflushed_calls, now, policy),
        },
        // FORCED_CLOSED counts nothing; any other pairing is not a live ticket.
        (State::ForcedClosed, None) => Step::stay(view, Decision::Recorded),
        _ => Step::stay(view, Decision::Stale),
    }
}

fn abandon(view: &Record, ticket: &Ticket) -> Step {
    let held = ticket.generation == view.generation
        && view.state == State::HalfOpen
        && ticket
            .trial
            .as_ref()
            .is_some_and(|t| view.owns_trial(t.slot, &t.owner));
    match (&ticket.trial, held) {
        (Some(t), true) => {
            let mut next = view.clone();
            next.trials.remove(&t.slot);
            Step {
                next,
                op: Some(Op::ReleaseTrial {
                    generation: view.generation,
                    slot: t.slot,
                    owner: t.owner.clone(),
                }),
                decision: Decision::Recorded,
                transition: None,
            }
        }
        _ => Step::stay(view, Decision::Unchanged),
    }
}

fn closed_failure(
    view: &Record,
    error: String,
    unflushed_calls: u32,
    now: Millis,
    policy: &Policy,
) -> Step {
    let bucket = policy.bucket_of(now);
    let mut next = view.clone();
    next.failures = view.failures.saturating_add(1);
    next.last_error = Some(error.clone());
    if let Some(b) = bucket {
        let c = next.window.entry(b).or_default();
        c.calls = c.calls.saturating_add(unflushed_calls.saturating_add(1));
        c.failures = c.failures.saturating_add(1);
    }
    // Consecutive policy: when this failure reaches the threshold, count it and trip in
    // one write, conditional on the count the threshold needs.
    if let TripPolicy::ConsecutiveFailures { threshold } = policy.trip {
        if next.failures >= threshold {
            let mut open = opened(view, &next, now, policy);
            open.last_error = Some(error);
            let expect = Expect::of(view).with_min_failures(threshold.saturating_sub(1));
            let mut s = transition_step(view, open, expect, Decision::Recorded, now, policy);
            // Others may have counted since this view: the stored count is the truth.
            if let Some(Op::Transition { tally, .. }) = &mut s.op {
                *tally = Tally::AddOne;
            }
            return s;
        }
    }
    let prune = view.stale_buckets(policy, now);
    for b in &prune {
        next.window.remove(b);
    }
    Step {
        next,
        op: Some(Op::CountFailure {
            generation: view.generation,
            error,
            bucket,
            calls: unflushed_calls.saturating_add(1),
            prune,
        }),
        decision: Decision::Recorded,
        transition: None,
    }
}

fn closed_success(view: &Record, unflushed_calls: u32, now: Millis, policy: &Policy) -> Step {
    match policy.trip {
        TripPolicy::ConsecutiveFailures { .. } if view.failures > 0 => {
            let mut next = view.clone();
            next.failures = 0;
            Step {
                next,
                op: Some(Op::ResetFailures {
                    generation: view.generation,
                }),
                decision: Decision::Recorded,
                transition: None,
            }
        }
        TripPolicy::FailureRate { .. } => {
            // Successes only matter while the window holds failures; then they are
            // flushed in batches so the healthy path stays write-free.
            let totals = view.window_totals(policy, now);
            let calls = unflushed_calls.saturating_add(1);
            match policy.bucket_of(now) {
                Some(bucket) if totals.failures > 0 && calls >= FLUSH_BATCH => {
                    let mut next = view.clone();
                    next.window.entry(bucket).or_default().calls += calls;
                    let prune = view.stale_buckets(policy, now);
                    for b in &prune {
                        next.window.remove(b);
                    }
                    Step {
                        next,
                        op: Some(Op::CountCalls {
                            generation: view.generation,
                            bucket,
                            calls,
                            prune,
                        }),
                        decision: Decision::Recorded,
                        transition: None,
                    }
                }
                _ => Step::stay(view, Decision::Recorded),
            }
        }
        TripPolicy::ConsecutiveFailures { .. } => Step::stay(view, Decision::Recorded),
    }
}

/// Successes an instance keeps before it writes them to a window that holds failures.
pub const FLUSH_BATCH: u32 = 10;

fn evaluate(view: &Record, now: Millis, policy: &Policy) -> Step {
    match view.state {
        State::Closed => {
            let trips = match policy.trip {
                TripPolicy::ConsecutiveFailures { threshold } => view.failures >= threshold,
                TripPolicy::FailureRate { .. } => {
                    let t = view.window_totals(policy, now);
                    policy.rate_trips(u64::from(t.calls), u64::from(t.failures))
                }
            };
            if trips {
                // The trip holds only if the count it saw still stands (a success may
                // have reset it since), and keeps the stored count (others may have
                // added to it).
                let expect = match policy.trip {
                    TripPolicy::ConsecutiveFailures { .. } => {
                        Expect::of(view).with_min_failures(view.failures)
                    }
                    TripPolicy::FailureRate { .. } => Expect::of(view),
                };
                let open = opened(view, view, now, policy);
                let mut s = transition_step(view, open, expect, Decision::Recorded, now, policy);
                if let Some(Op::Transition { tally, .. }) = &mut s.op {
                    *tally = Tally::Keep;
                }
                s
            } else {
                Step::stay(view, Decision::Unchanged)
            }
        }
        State::HalfOpen if view.successes >= policy.success_threshold => {
            close(view, Expect::of(view), now, policy)
        }
        _ => Step::stay(view, Decision::Unchanged),
    }
}

fn force(
    view: &Record,
    to: State,
    by: &str,
    until: Option<Millis>,
    now: Millis,
    policy: &Policy,
) -> Step {
    if view.state == to {
        return Step::stay(view, Decision::Unchanged);
    }
    let mut next = transitioned(view, to, now);
    next.last_error = Some(format!("{} by {}", to, clip(by)));
    next.forced_until = until;
    transition_step(
        view,
        next,
        Expect::of(view),
        Decision::Unchanged,
        now,
        policy,
    )
}

fn reopen(view: &Record, expect: Expect, error: String, now: Millis, policy: &Policy) -> Step {
    let mut next = transitioned(view, State::Open, now);
    next.reopens = view.reopens.saturating_add(1);
    next.open_until_ms = now + policy.open_timeout_ms(next.reopens);
    next.last_error = Some(error);
    transition_step(view, next, expect, Decision::Recorded, now, policy)
}

fn close(view: &Record, expect: Expect, now: Millis, policy: &Policy) -> Step {
    let next = transitioned(view, State::Closed, now);
    transition_step(view, next, expect, Decision::Recorded, now, policy)
}

/// The OPEN record a CLOSED breaker trips to; `counted` carries the failure count.
fn opened(view: &Record, counted: &Record, now: Millis, policy: &Policy) -> Record {
    let mut next = transitioned(view, State::Open, now);
    next.failures = counted.failures;
    next.last_error = counted.last_error.clone();
    next.open_until_ms = now + policy.open_timeout_ms(0);
    next
}

/// The record after a transition: next generation, per-state counters cleared, and the
/// episode carried, started or ended as the states require.
fn transitioned(view: &Record, to: State, now: Millis) -> Record {
    let generation = view.generation + 1;
    // A forced state is an episode of its own: the operator's override, not the outage.
    let forced = matches!(to, State::ForcedOpen | State::ForcedClosed);
    let starts = forced || (to == State::Open && view.state == State::Closed);
    let episode = if starts {
        Some(format!("{}/{}/{}", view.name, generation, now))
    } else if to.in_episode() {
        view.episode.clone()
    } else {
        None
    };
    Record {
        name: view.name.clone(),
        state: to,
        generation,
        since_ms: now,
        failures: if to == State::Closed {
            0
        } else {
            view.failures
        },
        successes: 0,
        open_until_ms: if to == State::Open {
            view.open_until_ms
        } else {
            0
        },
        reopens: if to.is_degraded() && to != State::ForcedOpen {
            view.reopens
        } else {
            0
        },
        episode,
        last_error: if to == State::Closed {
            None
        } else {
            view.last_error.clone()
        },
        trials: BTreeMap::new(),
        window: BTreeMap::new(),
        forced_until: None,
        reminded_ms: if starts { now } else { view.reminded_ms },
        outbox: view.outbox.clone(),
        last_check: view.last_check,
        config_fault: view.config_fault,
        paged: view.paged.clone(),
        // The writer stamps its own token on the op (the machine has no randomness).
        writer: None,
    }
}

fn transition_step(
    view: &Record,
    next: Record,
    expect: Expect,
    decision: Decision,
    now: Millis,
    policy: &Policy,
) -> Step {
    let started = next
        .episode
        .clone()
        .filter(|e| view.episode.as_ref() != Some(e));
    let ended = view
        .episode
        .clone()
        .filter(|e| next.episode.as_ref() != Some(e));
    let transition = Transition {
        breaker: view.name.clone(),
        from: view.state,
        to: next.state,
        generation: next.generation,
        at_ms: now,
        failures: next.failures,
        last_error: next.last_error.clone(),
        started_episode: started,
        ended_episode: ended,
    };
    let mut alerts = alerts_for(&transition, &next);
    let folded = compact(
        &view.name,
        &view.outbox,
        &alerts,
        next.episode.as_deref(),
        now,
    );
    let mut unclaimed = folded.drop.clone();
    if view.outbox.contains_key(SUMMARY_ID) && folded.summary.is_some() {
        unclaimed.push(SUMMARY_ID.to_string());
    }
    // The registered effects go with the pages, in the same write; the slot each
    // empties goes only if nobody is working on it.
    let mut drop = folded.drop.clone();
    let mut paired = Vec::new();
    for (kind, delay) in &policy.effects {
        let (actions, empties) = paired_actions(kind, &transition, &next, Some(*delay));
        paired.extend(actions);
        if view.outbox.get(empties).is_some_and(|a| a.is_free(now)) {
            drop.push(empties.to_string());
            unclaimed.push(empties.to_string());
        }
    }
    let expect = if unclaimed.is_empty() {
        expect
    } else {
        expect.with_unclaimed(unclaimed, now)
    };
    // PagerDuty never heard of a folded episode: no resolve for it.
    alerts.retain(|a| !folded.episodes.contains(&a.dedup_key));
    alerts.extend(folded.summary);
    alerts.extend(paired);
    let mut next = next;
    for id in &drop {
        next.outbox.remove(id);
    }
    for a in &alerts {
        next.outbox.insert(a.id.clone(), a.clone());
    }
    // The old generation's window goes with it: buckets this view knows, and the
    // recent ones others may have written since it was read.
    let mut clear_window: Vec<i64> = view.window.keys().copied().collect();
    if let Some(current) = policy.bucket_of(now) {
        clear_window.extend(current - policy.window_buckets()..=current);
    }
    clear_window.sort_unstable();
    clear_window.dedup();
    let clear_trials: Vec<u32> = (0..policy.half_open_max_trials.max(1))
        .chain(view.trials.keys().copied())
        .filter(|slot| !next.trials.contains_key(slot))
        .collect::<std::collections::BTreeSet<u32>>()
        .into_iter()
        .collect();
    Step {
        op: Some(Op::Transition {
            expect,
            next: Box::new(next.clone()),
            alerts,
            tally: Tally::Set,
            drop_alerts: drop,
            clear_window,
            clear_trials,
        }),
        next,
        decision,
        transition: Some(transition),
    }
}
