//! The DynamoDB breaker store against moto over HTTP: the same semantics as the
//! reference ops, and exactly-once transitions under 32–64 concurrent clients.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use failsoft::breaker::{
    count_key, key, step, to_items, Admission, Applied, Breaker, BreakerStore, CallResult,
    Decision, DynamoBreakerStore, Event, GuardSettings, MemoryStore, Policy, Record, State, Ticket,
    TripPolicy,
};
use failsoft::clock::{Clock, ManualClock};
use failsoft_testkit::{fresh_table, moto, private_moto, sdk_config};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

const T0: i64 = 1_800_000_000_000;

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

async fn store() -> anyhow::Result<(Arc<DynamoBreakerStore>, String)> {
    store_on(&moto()?.url).await
}

/// A fresh table and its store on the moto at `url`.
async fn store_on(url: &str) -> anyhow::Result<(Arc<DynamoBreakerStore>, String)> {
    let (client, table) = fresh_table(url).await?;
    Ok((
        Arc::new(DynamoBreakerStore::new(client, table.clone())),
        table,
    ))
}

/// A store client of its own, as a separate Lambda instance would have.
async fn own_store(table: &str) -> anyhow::Result<Arc<DynamoBreakerStore>> {
    own_store_on(&moto()?.url, table).await
}

/// The same, on the moto at `url`.
async fn own_store_on(url: &str, table: &str) -> anyhow::Result<Arc<DynamoBreakerStore>> {
    let conf = sdk_config(url).await;
    Ok(Arc::new(DynamoBreakerStore::new(
        aws_sdk_dynamodb::Client::new(&conf),
        table,
    )))
}

fn guard(store: Arc<dyn BreakerStore>, clock: Arc<ManualClock>, policy: Policy) -> Breaker {
    // Generous store timeout: 64 requests queue behind moto's lock, and these tests are
    // about correctness, not latency (a timeout would fall back to the local view).
    let settings = GuardSettings {
        store_timeout_ms: 30_000,
        ..GuardSettings::default()
    };
    Breaker::new("crm", policy, settings, store, clock)
}

fn failure() -> CallResult {
    CallResult::Failure {
        latency_ms: 5,
        error: "crm down".into(),
    }
}

/// Random histories, including replays of stale steps, applied to both moto and the
/// reference semantics: every write must win or lose alike and leave equal records.
#[tokio::test]
async fn dynamo_store_matches_reference_semantics() -> anyhow::Result<()> {
    let (dynamo, table) = store().await?;
    let raw = aws_sdk_dynamodb::Client::new(&sdk_config(&moto()?.url).await);
    for seed in 0..4u64 {
        let name = format!("diff-{seed}");
        let memory = MemoryStore::new();
        let mut rng = StdRng::seed_from_u64(seed);
        let policy = Policy {
            trip: if seed % 2 == 0 {
                TripPolicy::ConsecutiveFailures { threshold: 3 }
            } else {
                TripPolicy::FailureRate {
                    rate: 0.5,
                    min_calls: 4,
                    window_ms: 60_000,
                    buckets: 6,
                }
            },
            half_open_max_trials: 2,
            ..Policy::default()
        };
        let mut now = T0;
        let mut tickets: Vec<Ticket> = Vec::new();
        let mut old_views: Vec<Record> = vec![Record::new(&name)];
        for i in 0..120 {
            // Act on the current record or, sometimes, on an old view (a stale instance).
            let view = if rng.random_bool(0.25) {
                old_views[rng.random_range(0..old_views.len())].clone()
            } else {
                memory.get(&name)
            };
            let event = match rng.random_range(0..10) {
                0..=3 => Event::Admit {
                    owner: format!("o{i}"),
                },
                4..=7 if !tickets.is_empty() => {
                    let t = tickets.remove(rng.random_range(0..tickets.len()));
                    let result = if rng.random_bool(0.5) {
                        CallResult::Success { latency_ms: 1 }
                    } else {
                        failure()
                    };
                    Event::Outcome {
                        ticket: t,
                        result,
                        unflushed_calls: rng.random_range(0..if seed % 2 == 0 { 15 } else { 2 }),
                    }
                }
                8 => {
                    now += [700, 11_000, 31_000][rng.random_range(0..3)];
                    continue;
                }
                9 if !tickets.is_empty() && rng.random_bool(0.5) => Event::Abandon {
                    ticket: tickets.remove(rng.random_range(0..tickets.len())),
                },
                _ => Event::Evaluate,
            };
            let s = step(&view, &event, now, &policy);
            if let Decision::Admit(t) = &s.decision {
                tickets.push(t.clone());
            }
            let Some(op) = &s.op else { continue };
            let want = memory.apply_now(&name, op)?;
            let got = dynamo.apply(&name, op).await?;
            assert_eq!(
                matches!(want, Applied::Won(_)),
                matches!(got, Applied::Won(_)),
                "seed {seed} step {i}: {op:?}"
            );
            assert_eq!(want.record(), got.record(), "seed {seed} step {i}: {op:?}");
            assert_eq!(
                &dynamo.load(&name).await?,
                want.record(),
                "seed {seed} step {i}: read back"
            );
            // The stored items are exactly the layout of the record: nothing left behind
            // (old window buckets and counts, old trial leases, folded alerts) to grow
            // without end. Counter writes leave defaults unwritten, so the stored
            // attributes are a subset of the layout, and `item_size(to_items(..))` bounds
            // the real sizes.
            let layout = to_items(want.record());
            for (pk, layout) in [
                (key(&name), &layout.main),
                (count_key(&name), &layout.count),
            ] {
                let raw = raw
                    .get_item()
                    .table_name(&table)
                    .key("pk", AttributeValue::S(pk.clone()))
                    .consistent_read(true)
                    .send()
                    .await?;
                let extra: Vec<String> = raw
                    .item()
                    .map(|i| {
                        i.keys()
                            .filter(|k| !layout.contains_key(*k))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                assert!(
                    extra.is_empty(),
                    "seed {seed} step {i}: {pk} left behind {extra:?}"
                );
            }
            old_views.push(want.record().clone());
        }
    }
    Ok(())
}

/// 64 writers, each with its own client, count failures at once: none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_failure_count_is_lost_with_64_writers() -> anyhow::Result<()> {
    // 64 clients at once: a moto of their own (see `private_moto`).
    let m = private_moto()?;
    let (_, table) = store_on(&m.url).await?;
    let clock = Arc::new(ManualClock::new(T0));
    let policy = Policy {
        trip: TripPolicy::ConsecutiveFailures { threshold: 100_000 },
        ..Policy::default()
    };
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let s = own_store_on(&m.url, &table).await?;
        let (clock, policy) = (clock.clone(), policy.clone());
        tasks.push(tokio::spawn(async move {
            let b = guard(s, clock, policy);
            for _ in 0..3 {
                if let Admission::Admitted(t) = b.admit(deadline()).await {
                    b.record(t, failure(), deadline()).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let rec = own_store_on(&m.url, &table).await?.load("crm").await?;
    assert_eq!(rec.state, State::Closed);
    assert_eq!(rec.failures, 64 * 3, "failure counts were lost");
    Ok(())
}

/// Episode after episode, 32 instances race every step: each episode has exactly one
/// CLOSED→OPEN, one probe per half-open window, and one HALF_OPEN→CLOSED.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_winner_per_transition_across_32_instances() -> anyhow::Result<()> {
    let (_, table) = store().await?;
    let clock = Arc::new(ManualClock::new(T0));
    let policy = Policy {
        success_threshold: 1,
        ..Policy::default()
    };
    let mut guards = Vec::new();
    for _ in 0..32 {
        guards.push(Arc::new(guard(
            own_store(&table).await?,
            clock.clone(),
            policy.clone(),
        )));
    }
    for episode in 0..3 {
        // Everyone's call fails at once, twice over: 64 failures against a threshold of 5.
        let outcomes = race(&guards, |b| async move {
            let mut n = 0;
            for _ in 0..2 {
                if let Admission::Admitted(t) = b.admit(deadline()).await {
                    b.record(t, failure(), deadline()).await;
                    n += 1;
                }
            }
            n
        })
        .await?;
        assert!(outcomes.iter().sum::<i32>() >= 5);
        assert_eq!(
            won(&guards, State::Closed, State::Open),
            1,
            "episode {episode}: CLOSED->OPEN winners"
        );

        // An instance whose failures all landed before the trip may still hold a cached
        // CLOSED view; within the staleness bound (1 s) every instance refuses.
        clock.advance(1_001);
        let admitted = race(&guards, |b| async move {
            matches!(b.admit(deadline()).await, Admission::Admitted(_))
        })
        .await?;
        assert_eq!(
            admitted.iter().filter(|a| **a).count(),
            0,
            "episode {episode}: admitted while OPEN"
        );

        // Past the recovery timeout, all 32 ask at once: exactly one probe.
        clock.advance(policy.recovery_timeout_ms + 1);
        let tickets = race(&guards, |b| async move {
            match b.admit(deadline()).await {
                Admission::Admitted(t) => Some(t),
                Admission::Rejected(_) => None,
            }
        })
        .await?;
        let probes: Vec<(usize, Ticket)> = tickets
            .into_iter()
            .enumerate()
            .filter_map(|(i, t)| t.map(|t| (i, t)))
            .collect();
        assert_eq!(
            probes.len(),
            1,
            "episode {episode}: probes admitted in one half-open window"
        );
        assert_eq!(won(&guards, State::Open, State::HalfOpen), 1);

        let (i, t) = probes
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("no probe"))?;
        guards[i]
            .record(t, CallResult::Success { latency_ms: 3 }, deadline())
            .await;
        assert_eq!(won(&guards, State::HalfOpen, State::Closed), 1);
        clock.advance(2_000); // past every cache
        let rec = own_store(&table).await?.load("crm").await?;
        assert_eq!(
            (rec.state, rec.generation),
            (State::Closed, 3 * (episode + 1))
        );
    }
    Ok(())
}

/// A probe whose lease expired reports late: its result can neither close nor reopen
/// the newer probe's window.
#[tokio::test]
async fn a_stale_trial_result_is_fenced_off() -> anyhow::Result<()> {
    let (_, table) = store().await?;
    let clock = Arc::new(ManualClock::new(T0));
    let policy = Policy {
        trip: TripPolicy::ConsecutiveFailures { threshold: 1 },
        success_threshold: 1,
        ..Policy::default()
    };
    let a = guard(own_store(&table).await?, clock.clone(), policy.clone());
    let b = guard(own_store(&table).await?, clock.clone(), policy.clone());
    let Admission::Admitted(t) = a.admit(deadline()).await else {
        anyhow::bail!("closed refused")
    };
    a.record(t, failure(), deadline()).await;
    clock.advance(policy.recovery_timeout_ms + 1);
    let Admission::Admitted(old) = a.admit(deadline()).await else {
        anyhow::bail!("no first probe")
    };
    assert!(old.trial.is_some());
    clock.advance(policy.trial_lease_ms + 1);
    let Admission::Admitted(new) = b.admit(deadline()).await else {
        anyhow::bail!("no second probe")
    };
    assert!(new.trial.is_some());

    // The old probe's success, and then its failure, change nothing.
    assert_eq!(
        a.record(
            old.clone(),
            CallResult::Success { latency_ms: 1 },
            deadline()
        )
        .await,
        Decision::Stale
    );
    assert_eq!(a.record(old, failure(), deadline()).await, Decision::Stale);
    let rec = own_store(&table).await?.load("crm").await?;
    assert_eq!(rec.state, State::HalfOpen);
    assert!(rec.holds_lease(
        new.trial.as_ref().map(|p| p.slot).unwrap_or(0),
        &new.trial
            .as_ref()
            .map(|p| p.owner.clone())
            .unwrap_or_default(),
        clock.now_ms()
    ));
    assert!(a
        .take_transitions()
        .iter()
        .all(|t| t.from != State::HalfOpen));

    b.record(new, CallResult::Success { latency_ms: 1 }, deadline())
        .await;
    assert_eq!(
        own_store(&table).await?.load("crm").await?.state,
        State::Closed
    );
    Ok(())
}

async fn race<T, F, Fut>(guards: &[Arc<Breaker>], f: F) -> anyhow::Result<Vec<T>>
where
    F: Fn(Arc<Breaker>) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = guards.iter().map(|g| tokio::spawn(f(g.clone()))).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await?);
    }
    Ok(out)
}

/// How many instances won a `from → to` transition since last asked.
fn won(guards: &[Arc<Breaker>], from: State, to: State) -> usize {
    guards
        .iter()
        .flat_map(|g| g.take_transitions())
        .filter(|t| t.from == from && t.to == to)
        .count()
}

/// Found by the fault matrix: a health check's note creates the item without a failure
/// count, and a threshold-1 trip is conditional on `failures >= 0`, which DynamoDB
/// reads as false for a missing attribute. The CRM hung, and its breaker never opened.
#[tokio::test]
async fn a_threshold_of_one_trips_an_item_only_a_health_check_touched() -> anyhow::Result<()> {
    let (store, _) = store().await?;
    let clock = Arc::new(ManualClock::new(T0));
    let note = failsoft::breaker::Op::NoteHealthCheck {
        at: T0,
        healthy: true,
    };
    store.apply("crm", &note).await?;
    let policy = Policy {
        trip: TripPolicy::ConsecutiveFailures { threshold: 1 },
        ..Policy::default()
    };
    let g = guard(store.clone(), clock, policy);
    let Admission::Admitted(t) = g.admit(deadline()).await else {
        anyhow::bail!("closed refused")
    };
    g.record(t, failure(), deadline()).await;
    let rec = store.load("crm").await?;
    assert_eq!((rec.state, rec.failures), (State::Open, 1), "{rec:?}");
    Ok(())
}

/// A raw client on the test's table, to write and read items as they are stored.
async fn raw_client() -> anyhow::Result<aws_sdk_dynamodb::Client> {
    Ok(aws_sdk_dynamodb::Client::new(
        &sdk_config(&moto()?.url).await,
    ))
}

async fn raw_item(
    raw: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
) -> anyhow::Result<Option<std::collections::HashMap<String, AttributeValue>>> {
    let out = raw
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.to_string()))
        .consistent_read(true)
        .send()
        .await?;
    Ok(out.item().cloned())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn st(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

/// A failure is written to the count item alone, whatever the main item holds: with
/// six long pages pending in the outbox (PagerDuty down), the main item is byte for
/// byte as it was, and the count item the failure paid for stays one write unit.
#[tokio::test]
async fn a_failure_write_leaves_the_main_item_alone() -> anyhow::Result<()> {
    let (store, table) = store().await?;
    let raw = raw_client().await?;
    let long = "x".repeat(400);
    for what in ["a", "b", "c", "d", "e", "f"] {
        let mut alert = failsoft::breaker::outbox::work_fault("crm", what, &long, &long, T0);
        alert.id = format!("work-{what}");
        let page = failsoft::breaker::Op::Page {
            alert,
            now: T0,
            every_ms: 0,
        };
        store.apply("crm", &page).await?;
    }
    let before = raw_item(&raw, &table, &key("crm")).await?;
    let main_size = before.as_ref().map(failsoft::breaker::item_size);
    assert!(main_size.is_some_and(|s| s > 3 * 1024), "{main_size:?}");
    let clock = Arc::new(ManualClock::new(T0));
    let g = guard(store.clone(), clock, Policy::default());
    for _ in 0..2 {
        let Admission::Admitted(t) = g.admit(deadline()).await else {
            anyhow::bail!("closed refused")
        };
        g.record(t, failure(), deadline()).await;
    }
    assert_eq!(raw_item(&raw, &table, &key("crm")).await?, before);
    let count = raw_item(&raw, &table, &count_key("crm")).await?;
    let count_size = count.as_ref().map(failsoft::breaker::item_size);
    assert!(count_size.is_some_and(|s| s <= 1024), "{count:?}");
    let rec = store.load("crm").await?;
    assert_eq!(
        (rec.state, rec.failures, rec.outbox.len()),
        (State::Closed, 2, 6)
    );
    Ok(())
}

/// A table written before the count item: a CLOSED breaker with failures in the main
/// item counts again from zero in a count item of its own (a trip could not check the
/// old count), trips at the threshold, and the trip removes the old count and error
/// from the main item. An OPEN one keeps showing the count it opened on.
#[tokio::test]
async fn a_breaker_stored_before_the_count_item_still_counts_and_trips() -> anyhow::Result<()> {
    let (store, table) = store().await?;
    let raw = raw_client().await?;
    for (name, state, failures) in [("crm", "CLOSED", 2), ("crm-auth", "OPEN", 7)] {
        raw.put_item()
            .table_name(&table)
            .item("pk", st(&key(name)))
            .item("state", st(state))
            .item("gen", n(3))
            .item("since", n(T0))
            .item("failures", n(failures))
            .item("last_error", st("503"))
            .item("wc_3_1", n(9))
            .send()
            .await?;
    }
    let open = store.load("crm-auth").await?;
    assert_eq!((open.state, open.failures), (State::Open, 7));
    assert_eq!(store.load("crm").await?.failures, 0);
    let clock = Arc::new(ManualClock::new(T0));
    let policy = Policy {
        trip: TripPolicy::ConsecutiveFailures { threshold: 3 },
        ..Policy::default()
    };
    let g = guard(store.clone(), clock, policy);
    for _ in 0..3 {
        let Admission::Admitted(t) = g.admit(deadline()).await else {
            anyhow::bail!("refused before the threshold")
        };
        g.record(t, failure(), deadline()).await;
    }
    let rec = store.load("crm").await?;
    assert_eq!(
        (rec.state, rec.generation, rec.failures),
        (State::Open, 4, 3)
    );
    let main = raw_item(&raw, &table, &key("crm"))
        .await?
        .unwrap_or_default();
    for old in ["failures", "last_error"] {
        assert!(!main.contains_key(old), "{old} left in {main:?}");
    }
    // The old generation's window buckets are named by nobody the trip knows of: they
    // stay, read by nothing (at most two per bucket of the policy, once).
    assert!(rec.window.is_empty(), "{rec:?}");
    Ok(())
}

/// A count item behind the main item (an older version's transitions moved the main
/// item on during a rolling deploy) is taken over by the first failure of the current
/// generation, counting from zero: the breaker still trips, and no old count carries
/// over into it.
#[tokio::test]
async fn a_count_item_left_behind_is_taken_over_from_zero() -> anyhow::Result<()> {
    let (store, table) = store().await?;
    let raw = raw_client().await?;
    raw.put_item()
        .table_name(&table)
        .item("pk", st(&key("crm")))
        .item("state", st("CLOSED"))
        .item("gen", n(5))
        .item("since", n(T0))
        .send()
        .await?;
    raw.put_item()
        .table_name(&table)
        .item("pk", st(&count_key("crm")))
        .item("state", st("OPEN"))
        .item("gen", n(3))
        .item("f_3", n(40))
        .send()
        .await?;
    assert_eq!(store.load("crm").await?.failures, 0);
    let clock = Arc::new(ManualClock::new(T0));
    let policy = Policy {
        trip: TripPolicy::ConsecutiveFailures { threshold: 3 },
        ..Policy::default()
    };
    let g = guard(store.clone(), clock, policy);
    for i in 1..=3u32 {
        let Admission::Admitted(t) = g.admit(deadline()).await else {
            anyhow::bail!("refused after {i} failures")
        };
        g.record(t, failure(), deadline()).await;
        let rec = store.load("crm").await?;
        let want = if i < 3 {
            (State::Closed, i)
        } else {
            (State::Open, 3)
        };
        assert_eq!((rec.state, rec.failures), want, "after {i} failures");
    }
    Ok(())
}
