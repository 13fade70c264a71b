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

fn alert(id: &str, claim: Option<(&str, i64)>) -> failsoft::breaker::OutboxEntry {
    let mut a = failsoft::breaker::OutboxEntry::new(
        id.into(),
        Action::Trigger,
        "crm/1/0",
        "crm: circuit OPEN".into(),
        &Record::new(NAME),
        0,
    );
    a.claim = claim.map(|(o, u)| (o.to_string(), u));
    a
}

fn with_alert(a: failsoft::breaker::OutboxEntry) -> Record {
    let mut r = Record::new(NAME);
    r.episode = Some("crm/1/0".into());
    r.outbox.insert(a.id.clone(), a);
    r
}

#[test]
fn a_fold_waits_for_entries_whose_claim_is_still_live() {
    let expect = |at| {
        failsoft::breaker::Expect::of(&Record::new(NAME))
            .with_unclaimed(vec!["1-trigger".into()], at)
    };
    let claimed = with_alert(alert("1-trigger", Some(("sender", 1_000))));
    assert!(!expect(1_000).holds(&claimed), "live at its last instant");
    assert!(!expect(999).holds(&claimed));
    assert!(expect(1_001).holds(&claimed), "expired");
    assert!(expect(0).holds(&with_alert(alert("1-trigger", None))));
    assert!(!expect(0).holds(&Record::new(NAME)), "already gone");
}

#[test]
fn a_re_read_tells_a_transition_applied_from_one_that_was_not() {
    let policy = consecutive(1);
    let view = closed(0);
    let s = step(&view, &failure(ticket_of(&view)), 1_000, &policy);
    let op = s.op.clone().expect("trips");
    let applied = op.apply(&view).expect("applies");
    assert_eq!(op.took_effect(&applied), Some(true));
    assert_eq!(op.took_effect(&view), Some(false), "an older generation");
    // The same generation reached by someone else's transition: not ours.
    let other = Record {
        state: State::ForcedOpen,
        ..applied.clone()
    };
    assert_eq!(op.took_effect(&other), Some(false));
    let other = Record {
        since_ms: 7,
        ..applied.clone()
    };
    assert_eq!(op.took_effect(&other), Some(false));
    let other = Record {
        episode: Some("crm/1/7".into()),
        ..applied.clone()
    };
    assert_eq!(op.took_effect(&other), Some(false));
    let mut other = applied.clone();
    other.trials.insert(
        0,
        failsoft::breaker::Lease {
            owner: "x".into(),
            expires_ms: 0,
            generation: 1,
        },
    );
    assert_eq!(op.took_effect(&other), Some(false));
    let later = Record {
        generation: applied.generation + 1,
        ..applied
    };
    assert_eq!(
        op.took_effect(&later),
        None,
        "a later transition hides ours"
    );
}

#[test]
fn a_re_read_tells_whose_trial_it_is() {
    let policy = Policy::default();
    let r = half_open(0, "old", 0);
    let s = step(&r, &admit("me"), 5_000, &policy);
    let op = s.op.clone().expect("takes the expired slot");
    let mine = op.apply(&r).expect("applies");
    assert_eq!(op.took_effect(&mine), Some(true));
    assert_eq!(op.took_effect(&r), Some(false), "still the old lease");
    let next_generation = Record {
        generation: 3,
        ..mine.clone()
    };
    assert_eq!(op.took_effect(&next_generation), Some(false));
    // Counters cannot tell.
    let count = Op::ResetFailures { generation: 0 };
    assert_eq!(count.took_effect(&closed(0)), None);
}

#[test]
fn every_op_has_its_own_name_for_logs_and_metrics() {
    let lease = failsoft::breaker::Lease {
        owner: "o".into(),
        expires_ms: 0,
        generation: 0,
    };
    let trip = step(
        &closed(0),
        &failure(ticket_of(&closed(0))),
        0,
        &consecutive(1),
    )
    .op
    .expect("trips");
    let ops = vec![
        trip,
        Op::Remind {
            episode: "e".into(),
            alert: alert("reminder", None),
            now: 0,
            every_ms: 1,
        },
        Op::NoteHealthCheck {
            at: 0,
            healthy: true,
        },
        Op::ClaimEntry {
            id: "a".into(),
            owner: "o".into(),
            now: 0,
            until: 1,
        },
        Op::DropEntry {
            id: "a".into(),
            owner: "o".into(),
        },
        Op::DeferEntry {
            id: "a".into(),
            owner: "o".into(),
            attempts: 1,
            next_ms: 1,
        },
        Op::CountFailure {
            generation: 0,
            error: "e".into(),
            bucket: None,
            calls: 1,
            prune: vec![],
        },
        Op::CountCalls {
            generation: 0,
            bucket: 0,
            calls: 1,
            prune: vec![],
        },
        Op::ResetFailures { generation: 0 },
        Op::AcquireTrial {
            generation: 0,
            slot: 0,
            lease,
            now: 0,
        },
        Op::TrialSuccess {
            generation: 0,
            slot: 0,
            owner: "o".into(),
            now: 0,
        },
        Op::ReleaseTrial {
            generation: 0,
            slot: 0,
            owner: "o".into(),
        },
        Op::FlagConfigFault {
            alert: outbox::config_fault(NAME, "secret malformed", 0),
            now: 0,
            every_ms: 1,
        },
        Op::ClearConfigFault {
            alert: outbox::config_fixed(NAME, 0),
        },
    ];
    let kinds: Vec<&str> = ops.iter().map(Op::kind).collect();
    assert_eq!(
        kinds,
        [
            "transition",
            "remind",
            "note_health_check",
            "claim_alert",
            "drop_alert",
            "defer_alert",
            "count_failure",
            "count_calls",
            "reset_failures",
            "acquire_trial",
            "trial_success",
            "release_trial",
            "flag_config_fault",
            "clear_config_fault"
        ]
    );
}

/// A secret that cannot be used is not counted, but paged: once an hour while
/// it lasts, as its own incident, carried through transitions, and resolved once.
#[test]
fn a_configuration_fault_is_paged_hourly_and_resolved_once() {
    let hour = 3_600_000;
    let flag = |now| Op::FlagConfigFault {
        alert: outbox::config_fault(NAME, "secret crm is malformed", now),
        now,
        every_ms: hour,
    };
    let flagged = flag(1_000).apply(&Record::new(NAME)).expect("first");
    assert_eq!(flagged.config_fault, Some(1_000));
    assert_eq!(flagged.failures, 0, "not counted");
    let page = flagged.outbox.get(outbox::CONFIG_ID).expect("paged");
    assert_eq!(
        (page.action, page.dedup_key.as_str()),
        (Action::Trigger, "crm/config")
    );
    assert_eq!(
        flag(1_000 + hour - 1).apply(&flagged),
        None,
        "within the hour"
    );
    let again = flag(1_000 + hour).apply(&flagged).expect("an hour on");
    assert_eq!(again.config_fault, Some(1_000 + hour));
    // A transition keeps it.
    let open = step(
        &again,
        &failure(ticket_of(&again)),
        2 * hour,
        &consecutive(1),
    );
    let opened = apply(&open.op, &again).expect("trips");
    assert_eq!(opened.config_fault, Some(1_000 + hour));
    let clear = Op::ClearConfigFault {
        alert: outbox::config_fixed(NAME, 3 * hour),
    };
    let fixed = clear.apply(&opened).expect("resolves");
    assert_eq!(fixed.config_fault, None);
    assert_eq!(
        fixed
            .outbox
            .get(outbox::CONFIG_RESOLVE_ID)
            .map(|a| a.action),
        Some(Action::Resolve)
    );
    assert_eq!(clear.apply(&fixed), None, "resolved once");
}

#[test]
fn a_health_check_note_never_overwrites_a_later_one() {
    let note = |at| Op::NoteHealthCheck {
        at,
        healthy: at % 2 == 0,
    };
    let noted = note(100).apply(&Record::new(NAME)).expect("first note");
    assert_eq!(noted.last_check, Some((100, true)));
    assert_eq!(note(99).apply(&noted), None, "an older check");
    assert_eq!(
        note(100).apply(&noted).map(|r| r.last_check),
        Some(Some((100, true))),
        "the same instant again"
    );
    assert_eq!(
        note(101).apply(&noted).map(|r| r.last_check),
        Some(Some((101, false)))
    );
}

#[test]
fn a_reminder_is_added_once_per_interval_and_only_to_its_episode() {
    let every = 3_600_000;
    let mut r = with_alert(alert("1-trigger", None));
    r.reminded_ms = 1_000;
    let remind = |episode: &str, now| Op::Remind {
        episode: episode.into(),
        alert: alert("reminder", None),
        now,
        every_ms: every,
    };
    let due = remind("crm/1/0", 1_000 + every)
        .apply(&r)
        .expect("due exactly an interval on");
    assert_eq!(due.reminded_ms, 1_000 + every);
    assert!(due.outbox.contains_key("reminder"));
    assert_eq!(remind("crm/1/0", 1_000 + every - 1).apply(&r), None);
    assert_eq!(
        remind("crm/2/0", 1_000 + every).apply(&r),
        None,
        "another episode"
    );
}

#[test]
fn a_claim_is_taken_only_from_an_expired_claim_and_dropped_only_by_its_owner() {
    let claim = |now| Op::ClaimEntry {
        id: "1-trigger".into(),
        owner: "b".into(),
        now,
        until: now + 10,
    };
    let r = with_alert(alert("1-trigger", Some(("a", 500))));
    assert_eq!(claim(500).apply(&r), None, "a's claim is live at 500");
    let taken = claim(501).apply(&r).expect("expired");
    assert_eq!(
        taken.outbox["1-trigger"].claim,
        Some(("b".to_string(), 511))
    );
    assert_eq!(claim(0).apply(&Record::new(NAME)), None, "nothing to claim");
    let drop = |owner: &str| Op::DropEntry {
        id: "1-trigger".into(),
        owner: owner.into(),
    };
    assert_eq!(drop("a").apply(&taken), None, "a lost its claim");
    let dropped = drop("b").apply(&taken).expect("b's to drop");
    assert!(dropped.outbox.is_empty());
    assert_eq!(drop("b").apply(&with_alert(alert("1-trigger", None))), None);
}

#[test]
fn calls_are_counted_only_into_the_closed_generation_they_were_seen_in() {
    let count = |generation| Op::CountCalls {
        generation,
        bucket: 5,
        calls: 3,
        prune: vec![1],
    };
    let mut r = closed(0);
    r.window.insert(1, Default::default());
    r.window.insert(
        5,
        failsoft::breaker::Counts {
            calls: 2,
            failures: 1,
        },
    );
    let counted = count(0).apply(&r).expect("CLOSED, generation 0");
    assert_eq!(counted.window.len(), 1);
    assert_eq!(counted.window[&5].calls, 5);
    assert_eq!(count(1).apply(&r), None, "another generation");
    let open = Record {
        state: State::Open,
        ..r
    };
    assert_eq!(count(0).apply(&open), None, "not CLOSED");
}

#[test]
fn each_transition_carries_or_clears_what_its_state_needs() {
    let policy = Policy {
        success_threshold: 1,
        ..consecutive(3)
    };
    // OPEN→HALF_OPEN: the wait is over (0), the count and error and reopens carry.
    let mut open = open_until(10_000);
    open.reopens = 2;
    open.last_error = Some("down".into());
    let ho = step(&open, &admit("a"), 10_000, &policy).next;
    assert_eq!(ho.state, State::HalfOpen);
    assert_eq!(
        (ho.open_until_ms, ho.failures, ho.reopens, ho.successes),
        (0, 5, 2, 0)
    );
    assert_eq!(ho.last_error.as_deref(), Some("down"));
    assert_eq!(ho.since_ms, 10_000);
    // HALF_OPEN→OPEN: one more reopening, a new wait, the count carried.
    let failed = step(&ho, &failure(trial("a")), 10_100, &policy).next;
    assert_eq!(failed.state, State::Open);
    assert_eq!((failed.reopens, failed.failures), (3, 5));
    assert_eq!(
        failed.episode, ho.episode,
        "a reopening stays in its episode: no new page"
    );
    let t = step(&ho, &failure(trial("a")), 10_100, &policy)
        .transition
        .expect("reopens");
    assert_eq!((t.started_episode, t.ended_episode), (None, None));
    assert_eq!(failed.open_until_ms, 10_100 + policy.open_timeout_ms(3));
    assert_eq!(failed.last_error.as_deref(), Some("down"));
    // HALF_OPEN→CLOSED: counts, error and reopens cleared, the episode ended.
    let closed_again = step(&ho, &success(trial("a"), 5), 10_100, &policy).next;
    assert_eq!(closed_again.state, State::Closed);
    assert_eq!(
        (
            closed_again.failures,
            closed_again.reopens,
            closed_again.open_until_ms
        ),
        (0, 0, 0)
    );
    assert_eq!(closed_again.last_error, None);
    assert_eq!(closed_again.episode, None);
    // Forced open: an episode of its own, no reopenings.
    let forced = step(
        &failed,
        &Event::ForceOpen {
            by: "ops".into(),
            until: None,
        },
        11_000,
        &policy,
    )
    .next;
    assert_eq!((forced.state, forced.reopens), (State::ForcedOpen, 0));
    assert_ne!(forced.episode, failed.episode);
}

#[test]
fn a_transition_clears_the_old_window_and_other_trial_slots_but_keeps_its_own_lease() {
    let policy = Policy {
        half_open_max_trials: 3,
        ..rate()
    };
    let now = 55_500;
    let current = policy.bucket_of(now).unwrap_or_default();
    // CLOSED→OPEN by rate: every bucket of the window is cleared, known or not.
    let r = windowed(now, 10, 9);
    let s = step(&r, &Event::Evaluate, now, &policy);
    let Some(Op::Transition { clear_window, .. }) = &s.op else {
        panic!("trips: {:?}", s.op);
    };
    let want: Vec<i64> = (current - policy.window_buckets()..=current).collect();
    assert_eq!(clear_window, &want);
    // OPEN→HALF_OPEN: the winner's new lease (slot 0) stays, the other slots go.
    let s = step(&open_until(0), &admit("a"), now, &policy);
    let Some(Op::Transition { clear_trials, .. }) = &s.op else {
        panic!("half-opens: {:?}", s.op);
    };
    assert_eq!(clear_trials, &vec![1, 2]);
}

#[test]
fn trial_ops_hold_only_for_their_generation_state_and_lease() {
    let r = half_open(0, "a", 5_000);
    let lease = |owner: &str, exp| failsoft::breaker::Lease {
        owner: owner.into(),
        expires_ms: exp,
        generation: 2,
    };
    let acquire = |generation, now| Op::AcquireTrial {
        generation,
        slot: 0,
        lease: lease("b", now + 10),
        now,
    };
    assert_eq!(
        acquire(2, 5_000).apply(&r),
        None,
        "a's lease is live at 5000"
    );
    assert!(acquire(2, 5_001).apply(&r).is_some(), "expired");
    assert_eq!(acquire(1, 5_001).apply(&r), None, "another generation");
    let open = Record {
        state: State::Open,
        ..r.clone()
    };
    assert_eq!(acquire(2, 5_001).apply(&open), None, "not HALF_OPEN");
    // A lease left by an older generation is free.
    let mut stale = r.clone();
    stale.generation = 3;
    assert!(acquire(3, 0).apply(&stale).is_some());

    let release = |generation, owner: &str| Op::ReleaseTrial {
        generation,
        slot: 0,
        owner: owner.into(),
    };
    assert!(release(2, "a")
        .apply(&r)
        .is_some_and(|x| x.trials.is_empty()));
    assert_eq!(release(2, "b").apply(&r), None, "not b's");
    assert_eq!(release(1, "a").apply(&r), None, "another generation");
    assert_eq!(release(2, "a").apply(&open), None, "not HALF_OPEN");

    let success = |generation, owner: &str, now| Op::TrialSuccess {
        generation,
        slot: 0,
        owner: owner.into(),
        now,
    };
    let counted = success(2, "a", 5_000)
        .apply(&r)
        .expect("live at its expiry");
    assert_eq!((counted.successes, counted.trials.len()), (1, 0));
    assert_eq!(success(2, "a", 5_001).apply(&r), None, "expired: fenced");
    assert_eq!(success(2, "b", 0).apply(&r), None, "not b's");
    assert_eq!(success(1, "a", 0).apply(&r), None, "another generation");
    assert_eq!(success(2, "a", 0).apply(&open), None, "not HALF_OPEN");
}

#[test]
fn failures_and_resets_count_only_in_their_closed_generation() {
    let fail = |generation| Op::CountFailure {
        generation,
        error: "down".into(),
        bucket: None,
        calls: 1,
        prune: vec![],
    };
    let counted = fail(0).apply(&closed(2)).expect("CLOSED, generation 0");
    assert_eq!(counted.failures, 3);
    assert_eq!(counted.last_error.as_deref(), Some("down"));
    assert_eq!(fail(1).apply(&closed(2)), None);
    let reset = Op::ResetFailures { generation: 0 };
    assert_eq!(reset.apply(&closed(2)).map(|r| r.failures), Some(0));
    assert_eq!(reset.apply(&closed(0)), None, "nothing to reset: no write");
    assert_eq!(Op::ResetFailures { generation: 1 }.apply(&closed(2)), None);
}

/// Two instances tripping in the same millisecond make identical records: only the
/// writer's token tells whose write landed.
#[test]
fn a_stamped_transition_is_known_by_its_writer_alone() {
    let policy = consecutive(1);
    let view = closed(0);
    let trip = || {
        step(&view, &failure(ticket_of(&view)), 1_000, &policy)
            .op
            .expect("trips")
    };
    let (mut a, mut b) = (trip(), trip());
    a.stamp("a:w0");
    b.stamp("b:w0");
    let landed = a.apply(&view).expect("applies");
    assert_eq!(landed.writer.as_deref(), Some("a:w0"));
    assert_eq!(a.took_effect(&landed), Some(true));
    assert_eq!(b.took_effect(&landed), Some(false), "identical, but a's");
}

/// A page of Failsoft's own work (a write-back sent to the DLQ) is written at
/// most once per `every_ms` per kind, survives transitions, and keeps the record bounded.
#[test]
fn a_work_page_is_written_at_most_once_an_hour_per_kind() {
    let hour = 3_600_000;
    let page = |what: &str, now| Op::Page {
        alert: outbox::work_fault(NAME, what, "a record is in the DLQ", "not JSON", now),
        now,
        every_ms: hour,
    };
    let paged = page("writeback-poison", 1_000)
        .apply(&Record::new(NAME))
        .expect("first");
    let alert = paged.outbox.get("work-writeback-poison").expect("paged");
    assert_eq!(alert.dedup_key, "crm/writeback-poison");
    assert_eq!(
        page("writeback-poison", 1_000 + hour - 1).apply(&paged),
        None
    );
    let other = page("writeback-backlog", 2_000)
        .apply(&paged)
        .expect("its own kind");
    assert_eq!(other.paged.len(), 2);
    let open = step(&other, &failure(ticket_of(&other)), 3_000, &consecutive(1));
    let opened = apply(&open.op, &other).expect("trips");
    assert_eq!(opened.paged, other.paged, "a transition keeps it");
    let again = page("writeback-poison", 1_000 + hour)
        .apply(&opened)
        .expect("an hour on");
    assert_eq!(again.paged.len(), 2, "bounded by the kinds, not the pages");
}
