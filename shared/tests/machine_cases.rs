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
