//! N instances of crm-lookup's breaker, each the real `Breaker` (its cache, staleness
//! bound, store timeout and local view) on the simulated clock, sharing one simulated
//! table. Calls go to an idle instance as Lambda routes them; an instance serves one at
//! a time. What the run saw comes back as a [`Report`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use failsoft::breaker::{Admission, Breaker, CallResult, GuardSettings, Policy, State, Ticket};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::clock::SimClock;
use crate::store::{SimStore, StoreModel, StoreStats};
use crate::traffic::{meets, Arrivals, Meets, Outage};

/// Where the simulated clock starts (the machine's `now`).
const EPOCH_MS: i64 = 1_800_000_000_000;
/// The breaker under load: crm-lookup's.
const BREAKER: &str = "crm";

/// What a run is.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub instances: usize,
    pub seconds: f64,
    pub traffic: Traffic,
    pub outage: Option<Outage>,
    pub store: StoreModel,
    pub settings: GuardSettings,
    pub policy: Policy,
    pub seed: u64,
    /// crm-lookup's deadline (`LOOKUP_DEADLINE_MS`); the CRM call gets it less 500 ms.
    pub lookup_deadline: Duration,
    /// Share of calls that land on a new (cold) instance: a fresh breaker view and a
    /// token read before the lookup.
    pub cold_share: f64,
    /// How long a token read from the table lives in an instance's memory.
    pub token_memory: Duration,
}

/// How the calls come.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Traffic {
    /// Calls arriving at a rate, each making 1–3 lookups.
    Calls(Arrivals),
    /// The multi-process test's race: at `at_s`, every instance at once records
    /// `count` failures (`fail`) or asks `count` times (`!fail`).
    Race { at_s: f64, count: u32, fail: bool },
}

impl Scenario {
    /// crm-lookup's defaults: the registry's policy for `crm`, the guard's settings, and
    /// both paired effects on `crm` (the campaign pause and the overflow), so that the
    /// item carries everything it can: the largest item is the costliest write.
    pub fn crm(instances: usize, seconds: f64, traffic: Traffic, seed: u64) -> Scenario {
        let env = |k: &str| -> Option<String> {
            matches!(k, "CAMPAIGN_PAUSE_ON" | "OVERFLOW_AUTO_ON").then(|| "crm".to_string())
        };
        let policy = failsoft::dependency::Dependency::Crm
            .breaker_config(&env)
            .map(|c| c.policy)
            .unwrap_or_default();
        Scenario {
            instances,
            seconds,
            traffic,
            outage: None,
            store: StoreModel::fast(),
            settings: GuardSettings::default(),
            policy,
            seed,
            lookup_deadline: Duration::from_millis(2_500),
            cold_share: 0.002,
            token_memory: Duration::from_secs(45 * 60),
        }
    }
}

/// What a run saw.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub calls: u64,
    pub lookups: u64,
    /// Calls admitted to the dependency while it was failing (trials included).
    pub failures_executed: u64,
    /// Of those, when the last that was not a trial began (ms after the outage began):
    /// when the OPEN was seen fleet-wide.
    pub open_seen_ms: Option<i64>,
    /// From the outage's start to the first OPEN in the table.
    pub time_to_open_ms: Option<i64>,
    /// From the outage's end to CLOSED in the table.
    pub time_to_close_ms: Option<i64>,
    /// Trial admissions, by the generation of their half-open window.
    pub trials_by_window: BTreeMap<u64, u32>,
    /// The most trials running at one moment.
    pub trials_at_once: u32,
    /// Each instance's trial starts (ms), for trials per instance per recovery timeout.
    pub trial_starts: BTreeMap<usize, Vec<i64>>,
    /// Lookups admitted and refused from 30 s after the outage ended: whether the fleet
    /// recovered, as callers see it.
    pub after_recovery: (u64, u64),
    /// Transitions instances believe they won, by label.
    pub won: BTreeMap<String, u32>,
    /// Failures the record held when it opened.
    pub failures_at_open: Option<u32>,
    pub fallbacks: u64,
    /// Trials the table holds no lease for: run on an instance's own view.
    pub local_trials: u64,
    /// Instance lives: the instances at the start, and every cold start after.
    pub lives: u64,
    /// Token reads from the table that failed (throttled, refused or too slow): each
    /// costs its call a fetch from the token endpoint.
    pub token_failures: u64,
    pub store: StoreStats,
}

impl Report {
    pub fn max_trials_per_window(&self) -> u32 {
        self.trials_by_window.values().copied().max().unwrap_or(0)
    }

    pub fn trials(&self) -> u32 {
        self.trials_by_window.values().sum()
    }

    /// The most trials one instance started within any `window_ms`.
    pub fn trials_per_instance_within(&self, window_ms: i64) -> usize {
        self.trial_starts
            .values()
            .map(|starts| {
                starts
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| {
                        starts[i..]
                            .iter()
                            .take_while(|&&u| u < t + window_ms)
                            .count()
                    })
                    .max()
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0)
    }

    /// The share of lookups admitted from 30 s after the outage ended.
    pub fn admitted_after_recovery(&self) -> f64 {
        let (admitted, refused) = self.after_recovery;
        admitted as f64 / (admitted + refused).max(1) as f64
    }

    /// Store requests per call (reads and writes, breaker and token).
    pub fn requests_per_call(&self) -> f64 {
        (self.store.reads + self.store.writes) as f64 / self.calls.max(1) as f64
    }
}

/// Run `s` to its end on a paused clock. Deterministic for `s.seed`.
pub fn run(s: &Scenario) -> anyhow::Result<Report> {
    failsoft::metrics::set_sink(failsoft::metrics::Sink::Off);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    Ok(rt.block_on(simulate(s)))
}

/// Everything the instances and the observer share.
struct Shared {
    s: Scenario,
    clock: Arc<SimClock>,
    store: SimStore,
    rng: Mutex<StdRng>,
    report: Mutex<Report>,
    in_flight_trials: Mutex<u32>,
    idle: Mutex<Vec<usize>>,
}

impl Shared {
    fn t_s(&self) -> f64 {
        self.clock.elapsed_ms() as f64 / 1000.0
    }

    fn report(&self) -> std::sync::MutexGuard<'_, Report> {
        self.report.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn rng(&self) -> std::sync::MutexGuard<'_, StdRng> {
        self.rng.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn breaker(&self, instance: usize, life: u32) -> Breaker {
        self.report().lives += 1;
        Breaker::new(
            BREAKER,
            self.s.policy.clone(),
            self.s.settings.clone(),
            Arc::new(self.store.clone()),
            self.clock.clone(),
        )
        .with_instance(format!("i{instance}-{life}"))
    }

    fn outage_ms(&self) -> Option<i64> {
        self.s.outage.map(|o| (o.from_s * 1000.0) as i64)
    }
}

/// One call for an instance: how many lookups, and whether it lands cold.
struct Call {
    lookups: u32,
    cold: bool,
}

async fn simulate(s: &Scenario) -> Report {
    let clock = Arc::new(SimClock::new(EPOCH_MS));
    let shared = Arc::new(Shared {
        store: SimStore::new(s.store.clone(), clock.clone(), s.seed),
        clock,
        rng: Mutex::new(StdRng::seed_from_u64(s.seed)),
        report: Mutex::new(Report::default()),
        in_flight_trials: Mutex::new(0),
        idle: Mutex::new((0..s.instances).rev().collect()),
        s: s.clone(),
    });
    let end = Instant::now() + Duration::from_secs_f64(s.seconds);
    let observer = tokio::spawn(observe(shared.clone(), end));
    match s.traffic {
        Traffic::Calls(arrivals) => calls(&shared, arrivals, end).await,
        Traffic::Race { at_s, count, fail } => race(&shared, at_s, count, fail).await,
    }
    tokio::time::sleep_until(end).await;
    let _ = observer.await;
    let mut r = shared.report().clone();
    r.store = shared.store.stats();
    r
}

/// Arrivals until `end`, each to an idle instance (Lambda's routing), or to a busy one
/// when all are busy (the fleet is at its concurrency).
async fn calls(shared: &Arc<Shared>, arrivals: Arrivals, end: Instant) {
    let mut queues = Vec::new();
    for i in 0..shared.s.instances {
        let (tx, rx) = mpsc::unbounded_channel::<Call>();
        queues.push(tx);
        tokio::spawn(instance(shared.clone(), i, rx));
    }
    loop {
        let gap = arrivals.next_gap(shared.t_s(), &mut shared.rng());
        tokio::time::sleep(gap).await;
        if Instant::now() >= end {
            break;
        }
        let (lookups, cold, pick) = {
            let mut rng = shared.rng();
            let lookups = rng.random_range(1..=3);
            let cold = rng.random_bool(shared.s.cold_share.clamp(0.0, 1.0));
            let pick: f64 = rng.random();
            (lookups, cold, pick)
        };
        let i = {
            let mut idle = shared.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.is_empty() {
                (pick * shared.s.instances as f64) as usize % shared.s.instances.max(1)
            } else {
                let k = (pick * idle.len() as f64) as usize % idle.len();
                idle.swap_remove(k)
            }
        };
        shared.report().calls += 1;
        let _ = queues[i].send(Call { lookups, cold });
    }
}

/// One Lambda instance: one call at a time, its own breaker view and token in memory.
async fn instance(shared: Arc<Shared>, i: usize, mut rx: mpsc::UnboundedReceiver<Call>) {
    let mut life = 0;
    let mut breaker = shared.breaker(i, life);
    let mut token_until: Option<Instant> = None;
    while let Some(call) = rx.recv().await {
        if call.cold {
            life += 1;
            breaker = shared.breaker(i, life);
            token_until = None;
        }
        if token_until.is_none_or(|t| Instant::now() >= t) {
            token(&shared).await;
            token_until = Some(Instant::now() + shared.s.token_memory);
        }
        for _ in 0..call.lookups {
            lookup(&shared, i, &breaker, false).await;
        }
        shared
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(i);
    }
}

/// A token for an instance without one in memory: read from the table within the store
/// timeout; when that fails (throttled, refused, slow), fetched from the token endpoint
/// (200–400 ms), as the token cache does, and counted.
async fn token(shared: &Shared) {
    let read = tokio::time::timeout(
        Duration::from_millis(shared.s.settings.store_timeout_ms as u64),
        shared.store.read_token("salesforce"),
    )
    .await;
    if !matches!(read, Ok(Ok(()))) {
        shared.report().token_failures += 1;
        let fetch = shared.rng().random_range(200..=400);
        tokio::time::sleep(Duration::from_millis(fetch)).await;
    }
}

/// The race of the multi-process test: every instance at once.
async fn race(shared: &Arc<Shared>, at_s: f64, count: u32, fail: bool) {
    tokio::time::sleep(Duration::from_secs_f64(at_s)).await;
    let mut tasks = Vec::new();
    for i in 0..shared.s.instances {
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move {
            let breaker = shared.breaker(i, 0);
            for _ in 0..count {
                if fail {
                    lookup(&shared, i, &breaker, true).await;
                } else {
                    let deadline = Instant::now() + Duration::from_secs(30);
                    if let Admission::Admitted(t) = breaker.admit(deadline).await {
                        note_trial(&shared, &t);
                    }
                }
            }
            note_won(&shared, &breaker);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

fn note_trial(shared: &Shared, t: &Ticket) {
    if t.trial.is_some() {
        *shared
            .report()
            .trials_by_window
            .entry(t.generation)
            .or_default() += 1;
    }
}

fn note_won(shared: &Shared, breaker: &Breaker) {
    let won = breaker.take_transitions();
    let mut r = shared.report();
    for t in won {
        *r.won.entry(t.label()).or_default() += 1;
    }
}

/// One CRM lookup through the breaker, as crm-lookup makes it: admit, call within the
/// deadline, record. `failing` forces a failure (the race's `fail`).
async fn lookup(shared: &Shared, i: usize, breaker: &Breaker, failing: bool) {
    let deadline = Instant::now() + shared.s.lookup_deadline;
    let call_deadline = deadline - Duration::from_millis(500);
    shared.report().lookups += 1;
    let admission = breaker.admit(deadline).await;
    let recovered = shared
        .s
        .outage
        .is_some_and(|o| shared.t_s() >= o.to_s + 30.0);
    if recovered {
        let mut r = shared.report();
        match admission {
            Admission::Admitted(_) => r.after_recovery.0 += 1,
            Admission::Rejected(_) => r.after_recovery.1 += 1,
        }
    }
    let ticket = match admission {
        Admission::Admitted(t) => t,
        Admission::Rejected(_) => {
            shared.report().fallbacks += 1;
            return;
        }
    };
    let trial = ticket.trial.is_some();
    note_trial(shared, &ticket);
    if let Some(tt) = &ticket.trial {
        let now = shared.clock.elapsed_ms();
        let elected = shared
            .store
            .peek(BREAKER)
            .trials
            .values()
            .any(|l| l.owner == tt.owner);
        let mut r = shared.report();
        r.trial_starts.entry(i).or_default().push(now);
        if !elected {
            r.local_trials += 1;
        }
    }
    if trial {
        let mut n = shared
            .in_flight_trials
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *n += 1;
        let at_once = *n;
        drop(n);
        let mut r = shared.report();
        r.trials_at_once = r.trials_at_once.max(at_once);
    }
    let started = Instant::now();
    let t_s = shared.t_s();
    let met = if failing {
        Meets::Fail(Duration::from_millis(1))
    } else {
        let outage = shared.s.outage;
        meets(outage.as_ref(), t_s, &mut shared.rng())
    };
    let ok = match met {
        Meets::Answer(d) if started + d <= call_deadline => {
            tokio::time::sleep(d).await;
            true
        }
        Meets::Answer(_) => {
            tokio::time::sleep_until(call_deadline).await;
            false
        }
        Meets::Fail(d) => {
            tokio::time::sleep(d.min(call_deadline - started)).await;
            false
        }
    };
    if !ok {
        let since = shared
            .outage_ms()
            .map_or(0, |o| shared.clock.elapsed_ms() - o);
        let mut r = shared.report();
        r.failures_executed += 1;
        if !trial {
            r.open_seen_ms = Some(r.open_seen_ms.unwrap_or(0).max(since));
        }
    }
    // A trial ends when the dependency has answered; recording it is the store's time.
    if trial {
        let mut n = shared
            .in_flight_trials
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
    }
    let latency_ms = started.elapsed().as_millis() as i64;
    let result = if ok {
        CallResult::Success { latency_ms }
    } else {
        CallResult::Failure {
            latency_ms,
            error: "crm: 503".into(),
        }
    };
    breaker.record(ticket, result, deadline).await;
    note_won(shared, breaker);
}

/// Watch the table (for free) every 50 ms: when it opened, when it closed again.
async fn observe(shared: Arc<Shared>, end: Instant) {
    let from = shared.outage_ms();
    let to = shared.s.outage.map(|o| (o.to_s * 1000.0) as i64);
    let mut was = State::Closed;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let rec = shared.store.peek(BREAKER);
        let now = shared.clock.elapsed_ms();
        let mut r = shared.report();
        if rec.state == State::Open && was == State::Closed && r.time_to_open_ms.is_none() {
            r.time_to_open_ms = Some(now - from.unwrap_or(0));
            r.failures_at_open = Some(rec.failures);
        }
        if let (Some(to), State::Closed) = (to, rec.state) {
            if was != State::Closed && r.time_to_close_ms.is_none() && now >= to {
                r.time_to_close_ms = Some(now - to);
            }
        }
        was = rec.state;
    }
}
