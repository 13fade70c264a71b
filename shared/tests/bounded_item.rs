//! The breaker's items stay bounded: 10,000 random episodes with PagerDuty down (every
//! delivery fails, so nothing ever leaves the outbox by being sent) never take the main
//! item past 8 KB, nor the count item, which every failure writes, past 1 KB (1 WCU).
//! Pure: the machine and the reference semantics, with time injected; the sizes are
//! the DynamoDB items the adapter writes (`to_items`, checked against moto by the
//! differential test).

use failsoft::breaker::{
    item_size, outbox, step, to_items, Applied, CallResult, Decision, Event, MemoryStore, Op,
    Policy, Record, TripPolicy,
};
use failsoft::dependency::{CAMPAIGN_PAUSE, OVERFLOW};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const NAME: &str = "crm";
const LIMIT: usize = 8 * 1024;
/// One write unit: what a failure written to the count item costs.
const COUNT_LIMIT: usize = 1024;

thread_local! {
    /// The largest main item seen after any write of this thread's run.
    static LARGEST: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// The largest count item.
    static LARGEST_COUNT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Apply one write and note the items' sizes after it.
fn apply(store: &MemoryStore, op: &Op) -> Option<Applied> {
    let r = store.apply_now(NAME, op).ok();
    let items = to_items(&store.get(NAME));
    LARGEST.with(|l| l.set(l.get().max(item_size(&items.main))));
    LARGEST_COUNT.with(|l| l.set(l.get().max(item_size(&items.count))));
    r
}

fn policy(rate: bool) -> Policy {
    Policy {
        trip: if rate {
            TripPolicy::FailureRate {
                rate: 0.5,
                min_calls: 4,
                window_ms: 60_000,
                buckets: 6,
            }
        } else {
            TripPolicy::ConsecutiveFailures { threshold: 3 }
        },
        half_open_max_trials: 2,
        // Everything a transition can call for: the campaign and overflow slots too.
        effects: vec![(&CAMPAIGN_PAUSE, 300_000), (&OVERFLOW, 600_000)],
        ..Policy::default()
    }
}

/// Drive one instance's event through the store, as the guard would (no cache).
fn drive(store: &MemoryStore, event: &Event, now: i64, policy: &Policy) -> Decision {
    let view = store.get(NAME);
    let s = step(&view, event, now, policy);
    if let Some(op) = &s.op {
        if let Some(Applied::Won(rec)) = apply(store, op) {
            if s.transition.is_none() && matches!(event, Event::Outcome { .. }) {
                let e = step(&rec, &Event::Evaluate, now, policy);
                if let Some(op) = &e.op {
                    apply(store, op);
                }
            }
        }
    }
    s.decision
}

/// A delivery run with PagerDuty down: every due entry is claimed, fails, is deferred.
fn failed_delivery(store: &MemoryStore, now: i64, owner: &str) {
    for a in store.get(NAME).outbox.values() {
        let claim = Op::ClaimEntry {
            id: a.id.clone(),
            owner: owner.into(),
            now,
            until: now + 15_000,
        };
        if matches!(apply(store, &claim), Some(Applied::Won(_))) {
            apply(
                store,
                &Op::DeferEntry {
                    id: a.id.clone(),
                    owner: owner.into(),
                    attempts: a.attempts + 1,
                    next_ms: now + 10_000,
                },
            );
        }
    }
}

/// One episode: trip, some half-open trials, reminders and failed deliveries, recover
/// (or, sometimes, an operator forces it open and releases it).
fn episode(store: &MemoryStore, policy: &Policy, now: &mut i64, seed: u64, i: u64) {
    let fail = |t| Event::Outcome {
        ticket: t,
        result: CallResult::Failure {
            latency_ms: 5,
            error: "HTTP 503 ".repeat(60),
        },
        unflushed_calls: (seed % 7) as u32,
    };
    let ok = |t| Event::Outcome {
        ticket: t,
        result: CallResult::Success { latency_ms: 5 },
        unflushed_calls: 0,
    };
    if seed.is_multiple_of(11) {
        // A secret that cannot be used, met by some instance: its page, hourly at most.
        let now_ms = *now;
        apply(
            store,
            &Op::FlagConfigFault {
                alert: outbox::config_fault(NAME, &"secret malformed ".repeat(30), now_ms),
                now: now_ms,
                every_ms: 3_600_000,
            },
        );
    }
    if seed.is_multiple_of(13) {
        drive(
            store,
            &Event::ForceOpen {
                by: "op".into(),
                until: None,
            },
            *now,
            policy,
        );
        *now += 3_600_000;
        failed_delivery(store, *now, "probe");
        drive(store, &Event::Release { by: "op".into() }, *now, policy);
        *now += 1_000;
        return;
    }
    for _ in 0..12 {
        if let Decision::Admit(t) = drive(
            store,
            &Event::Admit {
                owner: format!("a{i}"),
            },
            *now,
            policy,
        ) {
            drive(store, &fail(t), *now, policy);
        }
        *now += 700;
    }
    failed_delivery(store, *now, "lookup");
    for round in 0..(1 + seed % 4) {
        *now += 31_000 + (seed % 3) as i64 * 40_000;
        if let Some(alert) = outbox::reminder(&store.get(NAME), *now, 60_000) {
            let ep = store.get(NAME).episode.unwrap_or_default();
            apply(
                store,
                &Op::Remind {
                    episode: ep,
                    alert,
                    now: *now,
                    every_ms: 60_000,
                },
            );
        }
        failed_delivery(store, *now, "probe");
        let owner = format!("t{i}-{round}");
        if let Decision::Admit(t) = drive(store, &Event::Admit { owner }, *now, policy) {
            let last = round == seed % 4;
            drive(store, &if last { ok(t) } else { fail(t) }, *now, policy);
        }
    }
    for k in 0..3 {
        if let Decision::Admit(t) = drive(
            store,
            &Event::Admit {
                owner: format!("c{i}-{k}"),
            },
            *now,
            policy,
        ) {
            drive(store, &ok(t), *now, policy);
        }
        *now += 500;
    }
}

#[test]
fn ten_thousand_episodes_with_pagerduty_down_stay_under_8_kb() {
    // Two runs of 5,000 episodes: the consecutive policy and the failure-rate policy.
    for (run, rate) in [(0u64, false), (1, true)] {
        let mut rng = StdRng::seed_from_u64(run);
        let store = MemoryStore::new();
        let policy = policy(rate);
        let mut now = 1_800_000_000_000i64;
        LARGEST.with(|l| l.set(0));
        for i in 0..5_000u64 {
            episode(&store, &policy, &mut now, rng.random(), i);
            let largest = LARGEST.with(|l| l.get());
            let rec = store.get(NAME);
            assert!(
                largest < LIMIT,
                "run {run}, episode {i}: {largest} bytes, outbox {:?}",
                rec.outbox.keys().collect::<Vec<_>>()
            );
        }
        let largest = LARGEST.with(|l| l.get());
        let counts = LARGEST_COUNT.with(|l| l.get());
        assert!(
            counts <= COUNT_LIMIT,
            "run {run}: count item {counts} bytes"
        );
        eprintln!("run {run}: largest count item: {counts} bytes");
        let rec = store.get(NAME);
        // The pages' cap, the campaign and overflow slots and the configuration fault's.
        assert!(
            rec.outbox.len() <= outbox::MAX_ENTRIES + 5,
            "{:?}",
            rec.outbox.keys()
        );
        // On top, every page of Failsoft's own work pending at once, each with its
        // longest text and its `paged_<id>` time: still under the limit.
        let long = "x".repeat(400);
        for id in [
            "work-writeback-poison",
            "work-writeback-backlog",
            "work-overflow-on",
            "work-overflow-off",
            "work-overflow-failed",
            "work-overflow-ivrs",
        ] {
            let mut alert = outbox::work_fault(NAME, &id[5..], &long, &long, now);
            alert.id = id.to_string();
            apply(
                &store,
                &Op::Page {
                    alert,
                    now,
                    every_ms: 0,
                },
            );
        }
        let worst = LARGEST.with(|l| l.get());
        assert!(
            worst < LIMIT,
            "run {run}: {worst} bytes with every work page"
        );
        eprintln!("run {run}: with every work page pending: {worst} bytes");
        let summary = rec.outbox.get(outbox::SUMMARY_ID);
        assert!(
            summary.is_some_and(|s| s.failures > 1_000),
            "the backlog is summarised: {summary:?}"
        );
        eprintln!("run {run}: largest item over 5,000 episodes: {largest} bytes");
    }
}

#[test]
fn a_fresh_record_round_trips_through_the_item_layout() {
    let r = Record::new(NAME);
    let items = to_items(&r);
    let back = failsoft::breaker::from_items(NAME, Some(&items.main), Some(&items.count));
    assert_eq!(back.ok(), Some(r));
}

/// By construction: the longest error the machine keeps (512 bytes, and a forced
/// state's "X by <operator>") and a full default window (6 buckets and the current one,
/// calls and failures in each, at today's bucket numbers) still make a count item of
/// one write unit. `WINDOW_BUCKETS=60`, the most allowed, makes it 5.
#[test]
fn the_largest_count_item_is_one_write_unit_with_the_default_window() {
    let sizes: Vec<usize> = [6i64, 60]
        .iter()
        .map(|buckets| {
            let mut r = Record::new("genesys-analytics");
            r.generation = u64::from(u32::MAX);
            r.failures = u32::MAX;
            // The machine keeps 512 bytes of an operator's name, as of any error.
            r.last_error = Some(format!("FORCED_OPEN by {}", "é".repeat(256)));
            let first = 1_800_000_000_000i64 / 10_000;
            for b in first..=first + buckets {
                let c = failsoft::breaker::Counts {
                    calls: u32::MAX,
                    failures: u32::MAX,
                };
                r.window.insert(b, c);
            }
            item_size(&to_items(&r).count)
        })
        .collect();
    eprintln!(
        "largest count item: {} bytes (6 buckets), {} (60)",
        sizes[0], sizes[1]
    );
    assert!(sizes[0] <= COUNT_LIMIT, "{sizes:?}");
    assert!(sizes[1] <= 5 * COUNT_LIMIT, "{sizes:?}");
}
