//! Example-based tests of the pure core (`machine::step`, `Op::apply`, the record's
//! helpers), one behaviour each, at the boundaries the property tests rarely hit. They
//! are what `cargo mutants` on machine.rs and op.rs is measured against
//! (docs/reliability.md).

use failsoft::breaker::{
    outbox, step, Action, CallResult, Decision, Event, Op, Policy, Record, State, Ticket,
    TripPolicy,
};

const NAME: &str = "crm";

fn consecutive(threshold: u32) -> Policy {
    Policy {
        trip: TripPolicy::ConsecutiveFailures { threshold },
        ..Policy::default()
    }
}

fn closed(failures: u32) -> Record {
    Record {
        failures,
        ..Record::new(NAME)
    }
}

fn apply(op: &Option<Op>, on: &Record) -> Option<Record> {
    op.as_ref().and_then(|op| op.apply(on))
}

fn failure(ticket: Ticket) -> Event {
    Event::Outcome {
        ticket,
        result: CallResult::Failure {
            latency_ms: 5,
            error: "down".into(),
        },
        unflushed_calls: 0,
    }
}

fn ticket_of(view: &Record) -> Ticket {
    Ticket {
        generation: view.generation,
        state: view.state,
        trial: None,
    }
}

/// Found by the protocol model: an instance that counted the threshold's failure reads
/// the record back and decides to trip; meanwhile a success resets the count. The trip
/// must not land on a count that no longer stands.
#[test]
fn a_trip_decided_on_a_count_since_reset_does_not_land() {
    let policy = consecutive(2);
    let seen = closed(2);
    let s = step(&seen, &Event::Evaluate, 1_000, &policy);
    assert!(s.transition.is_some(), "two failures of two trip");
    let reset = closed(0);
    assert_eq!(
        apply(&s.op, &reset),
        None,
        "a success reset the count since"
    );
}

/// The same trip, after others counted more failures: the OPEN record keeps the stored
/// count, not the view's.
#[test]
fn a_trip_keeps_every_failure_counted_since_it_was_decided() {
    let policy = consecutive(2);
    let s = step(&closed(2), &Event::Evaluate, 1_000, &policy);
    let open = apply(&s.op, &closed(5)).expect("the count still stands");
    assert_eq!(open.state, State::Open);
    assert_eq!(open.failures, 5);
}

/// The failure that crosses the threshold trips in its own write, adding itself to
/// whatever the store holds by then.
#[test]
fn the_tripping_failure_adds_itself_to_the_stored_count() {
    let policy = consecutive(3);
    let view = closed(2);
    let s = step(&view, &failure(ticket_of(&view)), 1_000, &policy);
    assert_eq!(s.transition.as_ref().map(|t| t.to), Some(State::Open));
    let open = apply(&s.op, &closed(4)).expect("count at least threshold - 1");
    assert_eq!(open.failures, 5);
    assert_eq!(
        apply(&s.op, &closed(1)),
        None,
        "below threshold - 1 it waits"
    );
    assert!(matches!(s.decision, Decision::Recorded));
}

/// A forced close is an episode of its own, like a forced open: paged when forced,
/// reminded while it lasts, resolved when released. A breaker left forced closed by
/// mistake no longer goes unnoticed.
#[test]
fn a_forced_close_is_paged_reminded_and_resolved() {
    let policy = Policy::default();
    let hour = 3_600_000;
    let force = Event::ForceClosed {
        by: "ops".into(),
        until: None,
    };
    let s = step(&Record::new(NAME), &force, 1_000, &policy);
    let t = s.transition.clone().expect("forcing is a transition");
    let episode = t
        .started_episode
        .clone()
        .expect("forcing starts an episode");
    let forced = apply(&s.op, &Record::new(NAME)).expect("applies");
    assert_eq!(forced.episode.as_deref(), Some(episode.as_str()));
    let trigger = forced
        .outbox
        .values()
        .next()
        .expect("the trigger is queued");
    assert!(outbox::is_forced_closed(trigger), "{}", trigger.summary);

    assert_eq!(outbox::reminder(&forced, 1_000 + hour - 1, hour), None);
    let reminder = outbox::reminder(&forced, 1_000 + hour, hour).expect("an hour on");
    assert_eq!(reminder.dedup_key, episode);
    assert!(outbox::is_forced_closed(&reminder), "{}", reminder.summary);

    let release = step(
        &forced,
        &Event::Release { by: "ops".into() },
        2_000,
        &policy,
    );
    let t = release.transition.expect("release is a transition");
    assert_eq!(t.ended_episode.as_deref(), Some(episode.as_str()));
    let released = apply(&release.op, &forced).expect("applies");
    assert_eq!(released.episode, None);
    assert!(released
        .outbox
        .values()
        .any(|a| a.action == Action::Resolve && a.dedup_key == episode));
}

fn success(ticket: Ticket, latency_ms: i64) -> Event {
    Event::Outcome {
        ticket,
        result: CallResult::Success { latency_ms },
        unflushed_calls: 0,
    }
}

fn admit(owner: &str) -> Event {
    Event::Admit {
        owner: owner.into(),
    }
}

/// An OPEN breaker at generation 1, waiting until `until`.
fn open_until(until: i64) -> Record {
    Record {
        state: State::Open,
        generation: 1,
        failures: 5,
        open_until_ms: until,
        episode: Some("crm/1/0".into()),
        ..Record::new(NAME)
    }
}

/// A HALF_OPEN breaker at generation 2 with `successes` in and slot 0 held by `owner`
/// until `expires`.
fn half_open(successes: u32, owner: &str, expires: i64) -> Record {
    let mut r = Record {
        state: State::HalfOpen,
        generation: 2,
        successes,
        episode: Some("crm/1/0".into()),
        ..Record::new(NAME)
    };
    r.trials.insert(
        0,
        failsoft::breaker::Lease {
            owner: owner.into(),
            expires_ms: expires,
            generation: 2,
        },
    );
    r
}

fn trial(owner: &str) -> Ticket {
    Ticket {
        generation: 2,
        state: State::HalfOpen,
        trial: Some(failsoft::breaker::TrialTicket {
            slot: 0,
            owner: owner.into(),
        }),
    }
}

#[test]
fn an_open_breaker_admits_a_trial_from_the_moment_its_wait_ends() {
    let policy = Policy::default();
    let r = open_until(10_000);
    let early = step(&r, &admit("a"), 9_999, &policy);
    assert_eq!(
        early.decision,
        Decision::Reject(failsoft::breaker::Rejection::Open)
    );
    assert!(early.op.is_none());
    let on_time = step(&r, &admit("a"), 10_000, &policy);
    let t = on_time.transition.expect("OPEN→HALF_OPEN");
    assert_eq!((t.from, t.to), (State::Open, State::HalfOpen));
    let lease = &on_time.next.trials[&0];
    assert_eq!(lease.expires_ms, 10_000 + policy.trial_lease_ms);
    assert_eq!((lease.owner.as_str(), lease.generation), ("a", 2));
}

#[test]
fn a_trial_lease_lasts_the_policys_lease_from_admission() {
    let policy = Policy::default();
    let r = half_open(0, "old", 4_999);
    let s = step(&r, &admit("b"), 5_000, &policy);
    let Some(Op::AcquireTrial { lease, slot, .. }) = &s.op else {
        panic!("an expired lease frees the slot: {:?}", s.op);
    };
    assert_eq!(*slot, 0);
    assert_eq!(lease.expires_ms, 5_000 + policy.trial_lease_ms);
    assert_eq!(lease.generation, 2);
    let held = step(&half_open(0, "old", 5_000), &admit("b"), 5_000, &policy);
    assert_eq!(
        held.decision,
        Decision::Reject(failsoft::breaker::Rejection::HalfOpenBusy),
        "a lease is still held at its expiry instant"
    );
}

#[test]
fn a_call_slower_than_the_limit_is_a_failure_and_one_at_the_limit_is_not() {
    let policy = Policy {
        slow_call_ms: Some(100),
        ..consecutive(5)
    };
    let r = closed(1);
    let at_limit = step(&r, &success(ticket_of(&r), 100), 0, &policy);
    assert!(
        matches!(at_limit.op, Some(Op::ResetFailures { .. })),
        "{:?}",
        at_limit.op
    );
    let faster = step(&r, &success(ticket_of(&r), 99), 0, &policy);
    assert!(matches!(faster.op, Some(Op::ResetFailures { .. })));
    let slow = step(&r, &success(ticket_of(&r), 101), 0, &policy);
    let Some(Op::CountFailure { error, .. }) = &slow.op else {
        panic!("a slow call counts: {:?}", slow.op);
    };
    assert_eq!(error, "slow call: 101 ms > 100 ms");
}

#[test]
fn a_forced_closed_breaker_records_outcomes_without_counting() {
    let policy = consecutive(1);
    let r = Record {
        state: State::ForcedClosed,
        generation: 1,
        ..Record::new(NAME)
    };
    let s = step(&r, &failure(ticket_of(&r)), 0, &policy);
    assert_eq!(s.decision, Decision::Recorded);
    assert!(s.op.is_none() && s.transition.is_none());
}

#[test]
fn half_open_closes_on_the_threshold_success_and_not_before() {
    let policy = Policy {
        success_threshold: 3,
        ..consecutive(5)
    };
    // First of three: counted, lease freed, no transition.
    let s = step(
        &half_open(0, "a", 9_000),
        &success(trial("a"), 5),
        1_000,
        &policy,
    );
    assert!(s.transition.is_none());
    assert_eq!(s.next.successes, 1);
    assert!(s.next.trials.is_empty());
    let Some(op) = &s.op else {
        panic!("a trial success is written")
    };
    let after = op.apply(&half_open(0, "a", 9_000)).expect("lease held");
    assert_eq!(after.successes, 1);
    // Second of three: still counted.
    let s = step(
        &half_open(1, "a", 9_000),
        &success(trial("a"), 5),
        1_000,
        &policy,
    );
    assert!(s.transition.is_none());
    assert_eq!(s.next.successes, 2);
    // Third: closes, conditional on the two before it.
    let s = step(
        &half_open(2, "a", 9_000),
        &success(trial("a"), 5),
        1_000,
        &policy,
    );
    let t = s.transition.clone().expect("closes");
    assert_eq!(t.to, State::Closed);
    assert_eq!(apply(&s.op, &half_open(1, "a", 9_000)), None);
    assert!(apply(&s.op, &half_open(2, "a", 9_000)).is_some());
}

#[test]
fn evaluate_closes_a_half_open_breaker_only_at_its_threshold() {
    let policy = Policy {
        success_threshold: 2,
        ..consecutive(5)
    };
    let below = step(&half_open(1, "a", 0), &Event::Evaluate, 1_000, &policy);
    assert_eq!(below.decision, Decision::Unchanged);
    assert!(below.op.is_none());
    let at = step(&half_open(2, "a", 0), &Event::Evaluate, 1_000, &policy);
    assert_eq!(at.transition.map(|t| t.to), Some(State::Closed));
}

#[test]
fn only_the_holder_of_a_live_trial_may_give_it_back() {
    let policy = Policy::default();
    let r = half_open(0, "a", 9_000);
    let give_back = |r: &Record, t: Ticket| step(r, &Event::Abandon { ticket: t }, 1_000, &policy);
    let s = give_back(&r, trial("a"));
    assert!(matches!(s.op, Some(Op::ReleaseTrial { slot: 0, .. })));
    assert!(s.next.trials.is_empty());
    // Another generation's ticket, the same owner and slot: not this lease.
    let mut older = trial("a");
    older.generation = 1;
    assert_eq!(give_back(&r, older).decision, Decision::Unchanged);
    // A breaker no longer HALF_OPEN at this generation (a lease left in the record).
    let reopened = Record {
        state: State::Open,
        ..r.clone()
    };
    assert_eq!(
        give_back(&reopened, trial("a")).decision,
        Decision::Unchanged
    );
    // Someone else's lease.
    assert_eq!(give_back(&r, trial("b")).decision, Decision::Unchanged);
    // A ticket that was no trial.
    assert_eq!(
        give_back(&r, ticket_of(&closed(0))).decision,
        Decision::Unchanged
    );
}

fn rate() -> Policy {
    Policy {
        trip: TripPolicy::FailureRate {
            rate: 0.5,
            min_calls: 4,
            window_ms: 10_000,
            buckets: 10,
        },
        ..Policy::default()
    }
}

/// CLOSED with `failures` failures among `calls` calls in the bucket of `at`.
fn windowed(at: i64, calls: u32, failures: u32) -> Record {
    let mut r = Record::new(NAME);
    let bucket = rate().bucket_of(at).unwrap_or_default();
    r.window
        .insert(bucket, failsoft::breaker::Counts { calls, failures });
    r
}

fn successes_after(r: &Record, unflushed: u32, now: i64) -> failsoft::breaker::Step {
    step(
        r,
        &Event::Outcome {
            ticket: ticket_of(r),
            result: CallResult::Success { latency_ms: 1 },
            unflushed_calls: unflushed,
        },
        now,
        &rate(),
    )
}

#[test]
fn successes_are_flushed_in_batches_only_while_the_window_holds_failures() {
    let batch = failsoft::breaker::machine::FLUSH_BATCH;
    let now = 5_500;
    let r = windowed(now, 3, 1);
    // A batch: the unflushed successes and this one are written together.
    let s = successes_after(&r, batch - 1, now);
    let Some(Op::CountCalls { calls, bucket, .. }) = &s.op else {
        panic!("a full batch is flushed: {:?}", s.op);
    };
    assert_eq!(*calls, batch);
    assert_eq!(Some(*bucket), rate().bucket_of(now));
    assert_eq!(s.next.window[bucket].calls, 3 + batch);
    let applied = apply(&s.op, &r).expect("applies");
    assert_eq!(applied.window[bucket].calls, 3 + batch);
    assert_eq!(applied.window[bucket].failures, 1);
    // One short of a batch: kept in memory.
    let short = successes_after(&r, batch - 2, now);
    assert!(short.op.is_none());
    assert_eq!(short.decision, Decision::Recorded);
    // No failures in the window: the healthy path writes nothing, however many.
    let healthy = successes_after(&windowed(now, 50, 0), batch * 3, now);
    assert!(healthy.op.is_none());
}

#[test]
fn a_flush_prunes_buckets_that_left_the_window() {
    let now = 50_500;
    let mut r = windowed(now, 3, 1);
    r.window.insert(
        rate().bucket_of(now - 10_000).unwrap_or_default(),
        Default::default(),
    );
    r.window.insert(
        rate().bucket_of(now - 9_000).unwrap_or_default(),
        Default::default(),
    );
    let batch = failsoft::breaker::machine::FLUSH_BATCH;
    let s = successes_after(&r, batch, now);
    let Some(Op::CountCalls { prune, .. }) = &s.op else {
        panic!("flushed: {:?}", s.op);
    };
    assert_eq!(
        prune,
        &vec![rate().bucket_of(now - 10_000).unwrap_or_default()]
    );
    let applied = apply(&s.op, &r).expect("applies");
    assert_eq!(applied.window.len(), 2, "{:?}", applied.window);
}
