//! Example-based tests of the pure core (`machine::step`, `Op::apply`, the record's
//! helpers), one behaviour each, at the boundaries the property tests rarely hit. They
//! are what `cargo mutants` on machine.rs and op.rs is measured against
//! (docs/reliability.md).

use failsoft::breaker::{
    step, CallResult, Decision, Event, Op, Policy, Record, State, Ticket, TripPolicy,
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
    assert_eq!(apply(&s.op, &reset), None, "a success reset the count since");
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
    assert_eq!(apply(&s.op, &closed(1)), None, "below threshold - 1 it waits");
    assert!(matches!(s.decision, Decision::Recorded));
}
