//! The actions a transition records with itself when its breaker pauses campaigns (or
//! switches the overflow): a pause when an outage begins, a resume after the delay when
//! it ends, one slot each, never folded into a page summary.

use failsoft::breaker::{
    outbox, step, Action, CallResult, Event, Op, Policy, Record, State, Ticket, TripPolicy,
};
use failsoft::dependency::{CAMPAIGN_PAUSE, OVERFLOW};

const DELAY: i64 = 300_000;

fn pausing() -> Policy {
    Policy {
        trip: TripPolicy::ConsecutiveFailures { threshold: 1 },
        effects: vec![(&CAMPAIGN_PAUSE, DELAY)],
        ..Policy::default()
    }
}

/// Step and apply, as one winning writer would.
fn run(r: &Record, e: &Event, now: i64, policy: &Policy) -> Record {
    let s = step(r, e, now, policy);
    s.op.as_ref()
        .and_then(|op| op.apply(r))
        .unwrap_or_else(|| panic!("{e:?} applies"))
}

fn fail(r: &Record) -> Event {
    Event::Outcome {
        ticket: Ticket {
            generation: r.generation,
            state: r.state,
            trial: None,
        },
        result: CallResult::Failure {
            latency_ms: 5,
            error: "HTTP 503".into(),
        },
        unflushed_calls: 0,
    }
}

/// The outage ends: an operator forces the breaker closed, then lets go of it.
fn recover(r: &Record, now: i64, policy: &Policy) -> Record {
    let forced = Event::ForceClosed {
        by: "ops".into(),
        until: None,
    };
    let r = run(r, &forced, now, policy);
    run(&r, &Event::Release { by: "ops".into() }, now, policy)
}

fn kinds(r: &Record) -> Vec<(String, Action)> {
    r.outbox
        .values()
        .map(|a| (a.id.clone(), a.action))
        .collect()
}

#[test]
fn an_outage_records_its_pause_in_the_same_write_as_the_trip() {
    let r = Record::new("crm");
    let s = step(&r, &fail(&r), 1_000, &pausing());
    let Some(Op::Transition { alerts, .. }) = &s.op else {
        panic!("the failure trips the breaker");
    };
    let episode = s.next.episode.clone().unwrap_or_default();
    let pause = alerts
        .iter()
        .find(|a| a.action == Action::Effect(CAMPAIGN_PAUSE.on))
        .unwrap_or_else(|| panic!("a pause is written with the trip: {alerts:?}"));
    assert_eq!(
        (pause.id.as_str(), pause.dedup_key.as_str()),
        (CAMPAIGN_PAUSE.on_id, episode.as_str())
    );
    assert_eq!(pause.next_ms, 1_000, "a pause is due at once");
    assert!(alerts.iter().any(|a| a.action == Action::Trigger));
}

#[test]
fn without_the_setting_a_transition_calls_for_pages_only() {
    let policy = Policy {
        effects: Vec::new(),
        ..pausing()
    };
    let r = Record::new("crm");
    let open = run(&r, &fail(&r), 1_000, &policy);
    assert!(
        open.outbox.values().all(|a| a.action.is_page()),
        "{:?}",
        kinds(&open)
    );
}

#[test]
fn recovery_resumes_after_the_delay_and_the_unstarted_pause_goes() {
    let r = Record::new("crm");
    let open = run(&r, &fail(&r), 1_000, &pausing());
    let closed = recover(&open, 5_000, &pausing());
    assert_eq!(closed.state, State::Closed);
    let resume = closed
        .outbox
        .get(CAMPAIGN_PAUSE.off_id)
        .unwrap_or_else(|| panic!("a resume is queued: {:?}", kinds(&closed)));
    assert_eq!(resume.action, Action::Effect(CAMPAIGN_PAUSE.off));
    assert!(
        resume.next_ms >= 5_000 + DELAY,
        "not before the delay: {}",
        resume.next_ms
    );
    assert!(
        !closed.outbox.contains_key(CAMPAIGN_PAUSE.on_id),
        "{:?}",
        kinds(&closed)
    );
}

#[test]
fn an_outage_within_the_delay_cancels_the_waiting_resume() {
    let r = Record::new("crm");
    let open = run(&r, &fail(&r), 1_000, &pausing());
    let closed = recover(&open, 2_000, &pausing());
    assert!(closed.outbox.contains_key(CAMPAIGN_PAUSE.off_id));
    let again = run(&closed, &fail(&closed), 3_000, &pausing());
    assert_eq!(again.state, State::Open);
    assert!(
        !again.outbox.contains_key(CAMPAIGN_PAUSE.off_id),
        "{:?}",
        kinds(&again)
    );
    assert!(again.outbox.contains_key(CAMPAIGN_PAUSE.on_id));
}

#[test]
fn a_resume_being_carried_out_is_not_cancelled_under_its_executor() {
    let r = Record::new("crm");
    let open = run(&r, &fail(&r), 1_000, &pausing());
    let mut closed = recover(&open, 2_000, &pausing());
    let claim = Op::ClaimEntry {
        id: CAMPAIGN_PAUSE.off_id.into(),
        owner: "executor".into(),
        now: 2_000 + DELAY,
        until: 2_000 + DELAY + 60_000,
    };
    closed = claim.apply(&closed).unwrap_or_else(|| panic!("claims"));
    let s = step(&closed, &fail(&closed), 2_001 + DELAY, &pausing());
    let Some(Op::Transition { drop_alerts, .. }) = &s.op else {
        panic!("trips");
    };
    assert!(!drop_alerts.contains(&CAMPAIGN_PAUSE.off_id.to_string()));
}

#[test]
fn flapping_never_grows_the_outbox_past_its_cap_and_the_two_campaign_slots() {
    let policy = pausing();
    let mut r = Record::new("crm");
    let mut now = 1_000;
    // Nobody executes anything: 200 outages, each begun and ended.
    for _ in 0..200 {
        r = run(&r, &fail(&r), now, &policy);
        now += 1_000;
        r = recover(&r, now, &policy);
        now += 1_000;
    }
    let campaign = r.outbox.values().filter(|a| !a.action.is_page()).count();
    assert!(campaign <= 2, "{:?}", kinds(&r));
    assert!(r.outbox.len() <= outbox::MAX_ENTRIES + 2, "{:?}", kinds(&r));
}

#[test]
fn a_campaign_action_is_never_folded_into_the_page_summary() {
    let mut r = Record::new("crm");
    let policy = pausing();
    r = run(&r, &fail(&r), 1_000, &policy);
    // The pause has failed many times and is a day old: still not a page to fold.
    if let Some(p) = r.outbox.get_mut(CAMPAIGN_PAUSE.on_id) {
        p.attempts = 60;
        p.created_ms -= 2 * outbox::MAX_AGE_MS;
    }
    let c = outbox::compact(
        "crm",
        &r.outbox,
        &[],
        r.episode.as_deref(),
        1_000 + outbox::MAX_AGE_MS,
    );
    assert!(
        !c.drop.contains(&CAMPAIGN_PAUSE.on_id.to_string()),
        "{:?}",
        c.drop
    );
}

/// The regional overflow's slots follow the same rules beside the campaign pause's: on
/// with the trip, off after its own delay on recovery, a new outage within that delay
/// cancelling the waiting restore; one slot each.
#[test]
fn the_overflow_is_switched_on_with_the_trip_and_off_after_its_own_delay() {
    const RESTORE: i64 = 600_000;
    let policy = Policy {
        effects: vec![(&CAMPAIGN_PAUSE, DELAY), (&OVERFLOW, RESTORE)],
        ..pausing()
    };
    let r = Record::new("genesys-api");
    let open = run(&r, &fail(&r), 1_000, &policy);
    let on = open.outbox.get(OVERFLOW.on_id).cloned();
    assert_eq!(
        on.as_ref().map(|a| (a.action, a.next_ms)),
        Some((Action::Effect(OVERFLOW.on), 1_000))
    );
    assert!(
        open.outbox.contains_key(CAMPAIGN_PAUSE.on_id),
        "beside the pause"
    );
    // Done by an executor: the slot empties.
    let done = Op::DropEntry {
        id: OVERFLOW.on_id.into(),
        owner: "ex".into(),
    };
    let claim = Op::ClaimEntry {
        id: OVERFLOW.on_id.into(),
        owner: "ex".into(),
        now: 2_000,
        until: 120_000,
    };
    let open = claim
        .apply(&open)
        .and_then(|r| done.apply(&r))
        .unwrap_or_else(|| panic!("claimed and dropped"));
    let closed = recover(&open, 10_000, &policy);
    let off = closed.outbox.get(OVERFLOW.off_id).cloned();
    assert_eq!(
        off.as_ref().map(|a| (a.action, a.next_ms)),
        Some((Action::Effect(OVERFLOW.off), 10_000 + RESTORE)),
        "{:?}",
        kinds(&closed)
    );
    assert_eq!(
        closed.outbox.get(CAMPAIGN_PAUSE.off_id).map(|a| a.next_ms),
        Some(10_000 + DELAY),
        "each kind keeps its own delay"
    );
    // Down again within the delay: the restore waiting is cancelled, the overflow is on.
    let again = run(&closed, &fail(&closed), 20_000, &policy);
    assert!(
        !again.outbox.contains_key(OVERFLOW.off_id),
        "{:?}",
        kinds(&again)
    );
    assert_eq!(
        again.outbox.get(OVERFLOW.on_id).map(|a| a.action),
        Some(Action::Effect(OVERFLOW.on))
    );
    assert_eq!(again.state, State::Open);
}

/// The breaker is generic: any effect its user registers is scheduled the same way, by
/// its own slots and names, and stored and read back as it was named; nothing in the
/// breaker knows the campaign pause or the overflow.
#[test]
fn an_effect_the_user_registers_is_scheduled_like_any_other() {
    use failsoft::breaker::{Name, PairedEffect};
    static NOTICE: PairedEffect = PairedEffect {
        on_id: "notice-on",
        off_id: "notice-off",
        on: Name::new("post_notice"),
        off: Name::new("take_notice_down"),
        on_text: "post the outage notice",
        off_text: "take the notice down",
    };
    let policy = Policy {
        effects: vec![(&NOTICE, 45_000)],
        ..pausing()
    };
    let r = Record::new("crm");
    let open = run(&r, &fail(&r), 1_000, &policy);
    let on = open.outbox.get("notice-on").cloned();
    assert_eq!(on.as_ref().map(|a| a.action.as_str()), Some("post_notice"));
    assert!(
        !open.outbox.contains_key(CAMPAIGN_PAUSE.on_id),
        "only what is registered"
    );
    let closed = recover(&open, 10_000, &policy);
    let off = closed.outbox.get("notice-off").cloned();
    assert_eq!(
        off.map(|a| (a.action, a.next_ms)),
        Some((Action::Effect(NOTICE.off), 55_000))
    );
    // Stored as its name, and read back as the same effect.
    assert_eq!(
        Action::parse("take_notice_down"),
        Some(Action::Effect(NOTICE.off))
    );
    assert_eq!(Action::parse("Not A Name"), None);
}
