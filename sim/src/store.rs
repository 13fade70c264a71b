//! The state table as the fleet meets it: the real `Op::apply` on each record, stored
//! as the DynamoDB adapter stores it (a main item and a count item, `to_items`), each
//! op charged as the adapter sends it: a counter write on the count item with a read of
//! the main item, any other single-item write on the main item with a read of the count
//! item, a transition as a read of both and, if its condition holds, a transaction over
//! both (twice the units, as transactional writes cost), a load as two reads. Conditional writes are serialised
//! per item, capacity charged by item size (`capacity`), throttles answered as DynamoDB
//! answers them and retried as the SDK is configured to, with the latencies a scenario
//! asks for. One store is shared by every simulated instance.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use failsoft::breaker::{count_key, item_size, key, to_items, Applied, BreakerStore, Op, Record};
use failsoft::store::StoreError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use crate::capacity::{rcu, wcu, Meters, Units};
use crate::clock::SimClock;

/// A latency, drawn per request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    /// Uniform between the two, in milliseconds.
    Between(u64, u64),
}

impl Latency {
    fn draw(self, rng: &mut StdRng) -> Duration {
        match self {
            Latency::Between(lo, hi) if hi > lo => Duration::from_millis(rng.random_range(lo..=hi)),
            Latency::Between(lo, _) => Duration::from_millis(lo),
        }
    }
}

/// How the table behaves in a scenario.
#[derive(Clone, Debug)]
pub struct StoreModel {
    /// A read's round trip (a strongly consistent `GetItem`).
    pub read: Latency,
    /// A write's round trip, not counting the wait behind earlier writes to its item.
    pub write: Latency,
    /// How long the item is held by one conditional write (its serialisation).
    pub per_write: Duration,
    /// Charge capacity and throttle past the partition's limits.
    pub limits: bool,
    /// Attempts per request (the SDK's standard retry mode, as `failsoft::aws` sets it: 2),
    /// with its backoff: `random(0..1) × min(1 s × 2^(attempt-1), 20 s)`.
    pub sdk_attempts: u32,
    /// From this simulated millisecond on, every request is refused.
    pub down_from_ms: Option<i64>,
    /// Bytes the breaker's main item carries beyond what the run puts in it: outbox
    /// entries left pending by a PagerDuty outage, say (3.2 KB measured in all).
    pub pad_bytes: usize,
}

impl StoreModel {
    /// A slow store as measured on one machine at 32 processes: every request, reads too,
    /// queued 200–700 ms.
    pub fn slow() -> StoreModel {
        StoreModel {
            read: Latency::Between(200, 700),
            write: Latency::Between(200, 700),
            ..StoreModel::fast()
        }
    }

    /// A store that refuses everything from the start.
    pub fn down() -> StoreModel {
        StoreModel {
            down_from_ms: Some(0),
            ..StoreModel::fast()
        }
    }

    /// DynamoDB in the same region: single-digit milliseconds.
    pub fn fast() -> StoreModel {
        StoreModel {
            read: Latency::Between(3, 8),
            write: Latency::Between(4, 10),
            per_write: Duration::from_millis(2),
            limits: true,
            sdk_attempts: 2,
            down_from_ms: None,
            pad_bytes: 0,
        }
    }
}

/// What the store counted over a run.
#[derive(Clone, Debug, Default)]
pub struct StoreStats {
    pub meters: Meters,
    pub reads: u64,
    pub writes: u64,
    pub writes_won: u64,
    /// Throttled attempts, by the item's kind ("breaker", "token").
    pub throttles: BTreeMap<&'static str, u64>,
    /// Requests that ran out of attempts throttled.
    pub throttled_requests: BTreeMap<&'static str, u64>,
    /// The largest main item and count item written.
    pub largest_item: usize,
    pub largest_count: usize,
    /// Requests begun, and answered (the rest were given up by their caller).
    pub begun: u64,
    pub answered: u64,
}

struct Inner {
    items: BTreeMap<String, Record>,
    busy_until: BTreeMap<String, Instant>,
    stats: StoreStats,
    rng: StdRng,
}

/// The shared table.
#[derive(Clone)]
pub struct SimStore {
    model: Arc<StoreModel>,
    clock: Arc<SimClock>,
    inner: Arc<Mutex<Inner>>,
}

/// The token item's size: the sealed token, its provider binding and times (measured
/// in the tests at about 700 bytes: one RCU).
const TOKEN_ITEM: usize = 700;

impl SimStore {
    pub fn new(model: StoreModel, clock: Arc<SimClock>, seed: u64) -> SimStore {
        SimStore {
            model: Arc::new(model),
            clock,
            inner: Arc::new(Mutex::new(Inner {
                items: BTreeMap::new(),
                busy_until: BTreeMap::new(),
                stats: StoreStats::default(),
                rng: StdRng::seed_from_u64(seed ^ 0x5709_e5e5),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Plain data; a panic elsewhere cannot leave it half-written.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn stats(&self) -> StoreStats {
        self.lock().stats.clone()
    }

    /// The record as stored now, read for free (the simulation's observer, not a client).
    pub fn peek(&self, name: &str) -> Record {
        self.lock()
            .items
            .get(name)
            .cloned()
            .unwrap_or_else(|| Record::new(name))
    }

    /// The sizes of a record's main item (with the scenario's padding) and count item.
    fn sizes(&self, r: &Record) -> (usize, usize) {
        let items = to_items(r);
        (
            item_size(&items.main) + self.model.pad_bytes,
            item_size(&items.count),
        )
    }

    /// Charge a whole record's read: both items, each a consistent read.
    fn charge_load(&self, name: &str, rec: &Record) -> bool {
        let (main, count) = self.sizes(rec);
        self.charge(&key(name), Units::Read, rcu(main), "breaker")
            && self.charge(&count_key(name), Units::Read, rcu(count), "breaker")
    }

    fn draw(&self, l: Latency) -> Duration {
        l.draw(&mut self.lock().rng)
    }

    fn down(&self) -> bool {
        self.model
            .down_from_ms
            .is_some_and(|at| self.clock.elapsed_ms() >= at)
    }

    /// The SDK's wait before attempt `attempt` (2, 3, ...).
    fn backoff(&self, attempt: u32) -> Duration {
        let cap = (1_000u64 << (attempt - 2).min(5)).min(20_000);
        let jitter: f64 = self.lock().rng.random();
        Duration::from_millis((cap as f64 * jitter) as u64)
    }

    /// Charge `units` on `item`; false and counted if throttled.
    fn charge(&self, item: &str, kind: Units, units: u32, what: &'static str) -> bool {
        if !self.model.limits {
            return true;
        }
        let now = self.clock.elapsed_ms();
        let mut inner = self.lock();
        if inner.stats.meters.charge(now, item, kind, units) {
            return true;
        }
        *inner.stats.throttles.entry(what).or_default() += 1;
        false
    }

    /// One request through the SDK's attempts: `attempt` runs at the server and says
    /// whether it was throttled (None) or answered.
    async fn request<T>(
        &self,
        latency: Latency,
        what: &'static str,
        mut attempt: impl FnMut(&SimStore) -> Attempt<T>,
    ) -> Result<T, StoreError> {
        self.lock().stats.begun += 1;
        let r = self.attempts(latency, what, &mut attempt).await;
        self.lock().stats.answered += 1;
        r
    }

    async fn attempts<T>(
        &self,
        latency: Latency,
        what: &'static str,
        attempt: &mut impl FnMut(&SimStore) -> Attempt<T>,
    ) -> Result<T, StoreError> {
        for n in 1..=self.model.sdk_attempts.max(1) {
            if n > 1 {
                tokio::time::sleep(self.backoff(n)).await;
            }
            let rtt = self.draw(latency);
            tokio::time::sleep(rtt / 2).await;
            if self.down() {
                tokio::time::sleep(rtt / 2).await;
                return Err(StoreError::Unavailable("refused".into()));
            }
            let answer = match attempt(self) {
                Attempt::Now(v) => Some(v),
                Attempt::Throttled => None,
                Attempt::After(wait, v) => {
                    tokio::time::sleep_until(wait).await;
                    Some(v)
                }
            };
            tokio::time::sleep(rtt / 2).await;
            if let Some(v) = answer {
                return Ok(v);
            }
        }
        *self
            .lock()
            .stats
            .throttled_requests
            .entry(what)
            .or_default() += 1;
        Err(StoreError::Throttled(
            "ProvisionedThroughputExceededException".into(),
        ))
    }

    /// A token item read (`token#<provider>`): a cold instance's, or one whose copy in
    /// memory ran out. It shares the partition with the breaker items.
    pub async fn read_token(&self, provider: &str) -> Result<(), StoreError> {
        let item = format!("token#{provider}");
        self.request(self.model.read, "token", |s| {
            if s.charge(&item, Units::Read, rcu(TOKEN_ITEM), "token") {
                s.lock().stats.reads += 1;
                Attempt::Now(())
            } else {
                Attempt::Throttled
            }
        })
        .await
    }
}

/// What one attempt at the server came to.
enum Attempt<T> {
    /// Answered at once.
    Now(T),
    /// Answered once the item is free at this instant (serialised writes).
    After(Instant, T),
    Throttled,
}

/// Which items an op writes, as the DynamoDB adapter plans it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Items {
    Main,
    Count,
    Both,
}

fn items_of(op: &Op) -> Items {
    match op {
        Op::CountFailure { .. } | Op::CountCalls { .. } | Op::ResetFailures { .. } => Items::Count,
        Op::Transition { .. } => Items::Both,
        _ => Items::Main,
    }
}

#[async_trait]
impl BreakerStore for SimStore {
    async fn load(&self, name: &str) -> Result<Record, StoreError> {
        self.request(self.model.read, "breaker", |s| {
            let rec = s.peek(name);
            if s.charge_load(name, &rec) {
                s.lock().stats.reads += 1;
                Attempt::Now(rec)
            } else {
                Attempt::Throttled
            }
        })
        .await
    }

    async fn apply(&self, name: &str, op: &Op) -> Result<Applied, StoreError> {
        let (main_key, count_key) = (key(name), count_key(name));
        let per_write = self.model.per_write;
        let items = items_of(op);
        self.request(self.model.write, "breaker", |s| {
            // Judged and applied on arrival, in arrival order; the answer waits for the
            // items' turn (writes to one item are serialised).
            let current = s.peek(name);
            let next = op.apply(&current);
            let (main_before, count_before) = s.sizes(&current);
            let (main_after, count_after) = next.as_ref().map_or((0, 0), |n| s.sizes(n));
            let main = wcu(main_before.max(main_after));
            let count = wcu(count_before.max(count_after));
            // A transition is read first and sent only if its condition holds then: a
            // lost one costs the read (judged here at the same instant, a round trip
            // shorter than the adapter's).
            if items == Items::Both && next.is_none() {
                if !s.charge_load(name, &current) {
                    return Attempt::Throttled;
                }
                s.lock().stats.reads += 1;
                return Attempt::Now(Applied::Lost(current));
            }
            let charged = match items {
                Items::Count => {
                    s.charge(&count_key, Units::Write, count, "breaker")
                        && s.charge(&main_key, Units::Read, rcu(main_before), "breaker")
                }
                Items::Main => {
                    s.charge(&main_key, Units::Write, main, "breaker")
                        && s.charge(&count_key, Units::Read, rcu(count_before), "breaker")
                }
                Items::Both => {
                    s.charge_load(name, &current)
                        && s.charge(&main_key, Units::Write, 2 * main, "breaker")
                        && s.charge(&count_key, Units::Write, 2 * count, "breaker")
                }
            };
            if !charged {
                return Attempt::Throttled;
            }
            let mut inner = s.lock();
            let now = Instant::now();
            let written: &[&String] = match items {
                Items::Count => &[&count_key],
                Items::Main => &[&main_key],
                Items::Both => &[&main_key, &count_key],
            };
            let start = written
                .iter()
                .filter_map(|k| inner.busy_until.get(*k).copied())
                .fold(now, Instant::max);
            let done = start + per_write;
            for k in written {
                inner.busy_until.insert((*k).clone(), done);
            }
            inner.stats.writes += 1;
            if items != Items::Count {
                inner.stats.largest_item =
                    inner.stats.largest_item.max(main_before.max(main_after));
            }
            if items != Items::Main {
                inner.stats.largest_count =
                    inner.stats.largest_count.max(count_before.max(count_after));
            }
            let applied = match next {
                Some(next) => {
                    inner.items.insert(name.to_string(), next.clone());
                    inner.stats.writes_won += 1;
                    Applied::Won(next)
                }
                None => Applied::Lost(current),
            };
            Attempt::After(done, applied)
        })
        .await
    }

    async fn list(&self) -> Result<Vec<Record>, StoreError> {
        Ok(self.lock().items.values().cloned().collect())
    }
}
