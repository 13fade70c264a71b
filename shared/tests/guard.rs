//! The per-instance guard over the in-memory store, with time injected.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use failsoft::breaker::{
    Admission, Applied, Breaker, BreakerStore, CallError, CallResult, Classify, GuardSettings,
    MemoryStore, Op, Policy, Record, Rejection, State, Verdict,
};
use failsoft::clock::ManualClock;
use failsoft::store::StoreError;
use tokio::time::Instant;

const T0: i64 = 1_800_000_000_000;

/// A dependency that answered with an error: counted.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Down(String);

impl Classify for Down {
    fn verdict(&self) -> Verdict {
        Verdict::Failed
    }
}

/// An HTTP status: only a 5xx is the dependency's fault.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {0}")]
struct Status(u16);

impl Classify for Status {
    fn verdict(&self) -> Verdict {
        match self.0 {
            500.. => Verdict::Failed,
            0 => Verdict::NotReached,
            _ => Verdict::Answered,
        }
    }
}

fn setup(policy: Policy) -> (Arc<MemoryStore>, Arc<ManualClock>, Breaker) {
    let store = Arc::new(MemoryStore::new());
    let (clock, b) = breaker_on(store.clone(), policy);
    (store, clock, b)
}

/// Breaker `crm` over `store`, the guard's default settings, on a clock at `T0`.
fn breaker_on(store: Arc<dyn BreakerStore>, policy: Policy) -> (Arc<ManualClock>, Breaker) {
    let clock = Arc::new(ManualClock::new(T0));
    let b = Breaker::new(
        "crm",
        policy,
        GuardSettings::default(),
        store,
        clock.clone(),
    );
    (clock, b)
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

#[tokio::test]
async fn healthy_calls_write_nothing_and_read_once_per_cache_period() {
    let (store, clock, b) = setup(Policy::default());
    for _ in 0..1_000 {
        let r: Result<u32, CallError<Down>> =
            b.call(deadline(), deadline(), || async { Ok(7) }).await;
        assert!(matches!(r, Ok(7)));
        clock.advance(10); // 100 calls per second
    }
    assert_eq!(store.writes.load(Ordering::SeqCst), 0);
    let reads = store.reads.load(Ordering::SeqCst);
    assert!((9..=11).contains(&reads), "{reads} reads for 10 s of calls");
}

#[tokio::test]
async fn failures_open_then_calls_are_refused_without_running() {
    let (store, _clock, b) = setup(Policy::default());
    for _ in 0..5 {
        let r: Result<(), CallError<Down>> = b
            .call(deadline(), deadline(), || async { Err(Down("500".into())) })
            .await;
        assert!(matches!(r, Err(CallError::Failed(Down(_)))));
    }
    assert_eq!(store.get("crm").state, State::Open);
    assert_eq!(
        store.writes.load(Ordering::SeqCst),
        5,
        "one write per failure, the trip included"
    );
    let ran = std::sync::atomic::AtomicBool::new(false);
    let r: Result<(), CallError<Down>> = b
        .call(deadline(), deadline(), || async {
            ran.store(true, Ordering::SeqCst);
            Ok(())
        })
        .await;
    assert!(matches!(r, Err(CallError::Rejected(Rejection::Open))));
    assert!(!ran.load(Ordering::SeqCst));
    let t = b.take_transitions();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].from, t[0].to, t[0].failures),
        (State::Closed, State::Open, 5)
    );
    assert!(t[0].started_episode.is_some());
}

#[tokio::test]
async fn uncounted_errors_do_not_trip() {
    let (store, _clock, b) = setup(Policy::default());
    for _ in 0..10 {
        let r: Result<(), CallError<Status>> = b
            .call(deadline(), deadline(), || async { Err(Status(404)) })
            .await;
        assert!(matches!(r, Err(CallError::Failed(Status(404)))));
    }
    assert_eq!(store.get("crm").state, State::Closed);
    assert_eq!(store.writes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_hanging_call_times_out_and_counts() {
    let (store, _clock, b) = setup(Policy::default());
    let call_deadline = Instant::now() + Duration::from_millis(50);
    let r: Result<(), CallError<Down>> = b
        .call(
            call_deadline,
            deadline(),
            std::future::pending::<Result<(), Down>>,
        )
        .await;
    assert!(matches!(r, Err(CallError::TimedOut)));
    assert_eq!(store.get("crm").failures, 1);
    assert_eq!(store.get("crm").last_error.as_deref(), Some("timed out"));
}

#[tokio::test]
async fn store_outage_never_blocks_and_runs_on_the_local_view() {
    let (store, clock, b) = setup(Policy::default());
    store.set_failing(Some(StoreError::Throttled("ThrottlingException".into())));
    // Calls still pass while the store is down...
    assert!(matches!(b.admit(deadline()).await, Admission::Admitted(_)));
    // ...and the local view still protects the dependency.
    for _ in 0..5 {
        if let Admission::Admitted(t) = b.admit(deadline()).await {
            b.record(
                t,
                CallResult::Failure {
                    latency_ms: 1,
                    error: "down".into(),
                },
                deadline(),
            )
            .await;
        }
        clock.advance(10);
    }
    assert_eq!(
        b.admit(deadline()).await,
        Admission::Rejected(Rejection::Open)
    );
    assert!(
        b.take_transitions().is_empty(),
        "a local transition is nobody's win: no alert"
    );
    assert_eq!(
        store.get("crm").state,
        State::Closed,
        "nothing reached the store"
    );

    // The failed reads were not cached: once the retry pause passes, the store is read.
    store.set_failing(None);
    let reads = store.reads.load(Ordering::SeqCst);
    clock.advance(1_500);
    assert_eq!(b.current(deadline()).await.state, State::Closed);
    assert_eq!(store.reads.load(Ordering::SeqCst), reads + 1);
}

#[tokio::test]
async fn trial_successes_close_and_a_trial_failure_reopens_with_backoff() {
    let policy = Policy {
        backoff: Some(failsoft::breaker::Backoff {
            multiplier: 2.0,
            max_ms: 100_000,
        }),
        ..Policy::default()
    };
    let (store, clock, b) = setup(policy);
    let fail = || CallResult::Failure {
        latency_ms: 1,
        error: "down".into(),
    };
    for _ in 0..5 {
        if let Admission::Admitted(t) = b.admit(deadline()).await {
            b.record(t, fail(), deadline()).await;
        }
    }
    clock.advance(30_001);
    let Admission::Admitted(probe) = b.admit(deadline()).await else {
        panic!("no probe")
    };
    b.record(probe, fail(), deadline()).await;
    let rec = store.get("crm");
    assert_eq!((rec.state, rec.reopens), (State::Open, 1));
    assert_eq!(
        rec.open_until_ms - clock_now(&clock),
        60_000,
        "backed off to twice the timeout"
    );
    clock.advance(60_001);
    for _ in 0..2 {
        let Admission::Admitted(p) = b.admit(deadline()).await else {
            panic!("no probe")
        };
        b.record(p, CallResult::Success { latency_ms: 1 }, deadline())
            .await;
    }
    assert_eq!(store.get("crm").state, State::Closed);
    let labels: Vec<String> = b.take_transitions().iter().map(|t| t.label()).collect();
    assert_eq!(
        labels,
        [
            "CLOSED->OPEN",
            "OPEN->HALF_OPEN",
            "HALF_OPEN->OPEN",
            "OPEN->HALF_OPEN",
            "HALF_OPEN->CLOSED"
        ]
    );
}

fn clock_now(c: &ManualClock) -> i64 {
    use failsoft::clock::Clock;
    c.now_ms()
}

#[tokio::test]
async fn a_spent_deadline_is_not_blamed_on_the_store() {
    let (store, clock, b) = setup(Policy::default());
    b.current(deadline()).await;
    clock.advance(1_500); // the cached view is stale
    let reads = store.reads.load(Ordering::SeqCst);
    assert_eq!(b.current(Instant::now()).await.state, State::Closed);
    assert_eq!(
        store.reads.load(Ordering::SeqCst),
        reads,
        "no read with no time left"
    );
    // The store was not marked down: the next call with time reads it at once.
    b.current(deadline()).await;
    assert_eq!(store.reads.load(Ordering::SeqCst), reads + 1);
}

/// Finding: a trial whose error was not counted used to count as a success, so a
/// breaker closed while the dependency was unreachable (a false recovery).
#[tokio::test]
async fn a_trial_that_never_reached_the_dependency_gives_its_lease_back_counting_nothing() {
    let (store, clock, b) = setup(Policy::default());
    for _ in 0..5 {
        let _: Result<(), CallError<Down>> = b
            .call(deadline(), deadline(), || async { Err(Down("503".into())) })
            .await;
    }
    assert_eq!(store.get("crm").state, State::Open);
    clock.advance(31_000);
    for _ in 0..3 {
        // No token: the dependency was never reached.
        let r: Result<(), CallError<Status>> = b
            .call(deadline(), deadline(), || async { Err(Status(0)) })
            .await;
        assert!(matches!(r, Err(CallError::Failed(Status(0)))));
        let rec = store.get("crm");
        assert_eq!(
            (rec.state, rec.successes, rec.trials.len()),
            (State::HalfOpen, 0, 0),
            "neither a success nor a failure, and the lease is free again"
        );
        clock.advance(1_100);
    }
    // The next trial is admitted at once; an answer that refuses the request (a 404)
    // still proves the dependency is up, and two successes close the breaker.
    let ok: Result<(), CallError<Status>> =
        b.call(deadline(), deadline(), || async { Ok(()) }).await;
    assert!(ok.is_ok());
    assert_eq!(store.get("crm").successes, 1);
    clock.advance(1_100);
    let answered: Result<(), CallError<Status>> = b
        .call(deadline(), deadline(), || async { Err(Status(404)) })
        .await;
    assert!(matches!(answered, Err(CallError::Failed(Status(404)))));
    assert_eq!(store.get("crm").state, State::Closed);
}

/// A store whose writes are applied at once but answered only after `write_delay`
/// (longer than the guard's store timeout), as a throttled or stalled DynamoDB does;
/// reads answer at once unless `reads_fail`.
struct StalledWrites {
    inner: MemoryStore,
    write_delay: Duration,
    apply: bool,
    reads_fail: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl BreakerStore for StalledWrites {
    async fn load(&self, name: &str) -> Result<Record, StoreError> {
        if self.reads_fail.load(Ordering::SeqCst) {
            return Err(StoreError::Timeout);
        }
        self.inner.load(name).await
    }
    async fn apply(&self, name: &str, op: &Op) -> Result<Applied, StoreError> {
        let r = if self.apply {
            self.inner.apply_now(name, op)
        } else {
            Ok(Applied::Lost(self.inner.get(name)))
        };
        tokio::time::sleep(self.write_delay).await;
        r
    }
    async fn list(&self) -> Result<Vec<Record>, StoreError> {
        self.inner.list().await
    }
}

fn stalled(apply: bool) -> (Arc<StalledWrites>, Arc<ManualClock>, Breaker) {
    stalled_for(apply, Duration::from_millis(400))
}

/// As `stalled`, with writes answered after `write_delay`.
fn stalled_for(
    apply: bool,
    write_delay: Duration,
) -> (Arc<StalledWrites>, Arc<ManualClock>, Breaker) {
    let store = Arc::new(StalledWrites {
        inner: MemoryStore::new(),
        write_delay,
        apply,
        reads_fail: false.into(),
    });
    let (clock, b) = breaker_on(store.clone(), Policy::default());
    (store, clock, b)
}

/// Finding: a write that outlived the store timeout was taken as won, so no instance
/// learned that the breaker had opened in the store, and trials were granted on
/// elections nobody knew the result of. The re-read tells the truth.
#[tokio::test(start_paused = true)]
async fn a_timed_out_write_that_was_applied_is_learned_by_reading_again() {
    let (store, clock, b) = stalled(true);
    for _ in 0..5 {
        let _: Result<(), CallError<Down>> = b
            .call(deadline(), deadline(), || async { Err(Down("503".into())) })
            .await;
        // Past the local pause that a store failure starts.
        clock.advance(1_100);
    }
    let stored = store.inner.get("crm");
    assert_eq!((stored.state, stored.failures), (State::Open, 5));
    let won = b.take_transitions();
    assert_eq!(
        won.iter().map(|t| (t.from, t.to)).collect::<Vec<_>>(),
        vec![(State::Closed, State::Open)],
        "the instance learns that its timed-out write opened the breaker"
    );
    // The OPEN→HALF_OPEN election times out too, but was won: exactly one trial.
    clock.advance(31_000);
    let first = b.admit(deadline()).await;
    assert!(
        matches!(first, Admission::Admitted(ref t) if t.trial.is_some()),
        "{first:?}"
    );
    assert_eq!(store.inner.get("crm").trials.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn no_trial_is_granted_on_an_election_whose_result_is_unknown() {
    // Writes outlast even an election's longer wait and, once the instance has seen the
    // OPEN record, reads fail too: the outcome of the election cannot be learned.
    let (store, clock, b) = stalled_for(true, Duration::from_secs(30));
    let rec = Record {
        state: State::Open,
        generation: 1,
        open_until_ms: T0,
        ..Record::new("crm")
    };
    store
        .inner
        .apply_now(
            "crm",
            &Op::Transition {
                expect: failsoft::breaker::Expect::of(&Record::new("crm")),
                next: Box::new(rec),
                alerts: vec![],
                tally: failsoft::breaker::Tally::Set,
                drop_alerts: vec![],
                clear_window: vec![],
                clear_trials: vec![],
            },
        )
        .ok();
    assert_eq!(b.current(deadline()).await.state, State::Open);
    store.reads_fail.store(true, Ordering::SeqCst);
    clock.advance(1_000);
    let a = b.admit(deadline()).await;
    assert_eq!(a, Admission::Rejected(Rejection::HalfOpenBusy));
}

/// Finding: the tripping write set the stored count back to the threshold, hiding the
/// failures other instances had counted meanwhile.
#[test]
fn the_open_record_carries_every_failure_counted() {
    let store = MemoryStore::new();
    let policy = Policy::default();
    let failure = |view: &Record| {
        failsoft::breaker::step(
            view,
            &failsoft::breaker::Event::Outcome {
                ticket: failsoft::breaker::Ticket {
                    generation: 0,
                    state: State::Closed,
                    trial: None,
                },
                result: CallResult::Failure {
                    latency_ms: 1,
                    error: "503".into(),
                },
                unflushed_calls: 0,
            },
            T0,
            &policy,
        )
    };
    // Four failures counted; this instance reads that view.
    for _ in 0..4 {
        let op = failure(&Record::new("crm")).op;
        op.map(|op| store.apply_now("crm", &op));
    }
    let view = store.get("crm");
    // Meanwhile two instances with older views count two more.
    for _ in 0..2 {
        let op = failure(&Record::new("crm")).op;
        op.map(|op| store.apply_now("crm", &op));
    }
    // This instance's fifth failure trips the breaker.
    let trip = failure(&view);
    assert!(trip.transition.is_some());
    let applied = trip.op.map(|op| store.apply_now("crm", &op));
    assert!(matches!(applied, Some(Ok(Applied::Won(_)))));
    let rec = store.get("crm");
    assert_eq!((rec.state, rec.failures), (State::Open, 7));
}

/// An operator's `--until`: the forced state refuses calls until then, and the first
/// admission after it releases the breaker (and resolves the forced episode).
#[tokio::test]
async fn a_forced_state_with_until_releases_itself() {
    let (store, clock, b) = setup(Policy::default());
    let until = Some(T0 + 60_000);
    let t = b
        .command(failsoft::breaker::Event::ForceOpen {
            by: "maintenance".into(),
            until,
        })
        .await;
    assert!(matches!(t, Ok(Some(_))));
    assert_eq!(store.get("crm").forced_until, until);
    clock.advance(30_000);
    assert_eq!(
        b.admit(deadline()).await,
        Admission::Rejected(Rejection::ForcedOpen)
    );
    clock.advance(31_000);
    let a = b.admit(deadline()).await;
    assert!(
        matches!(a, Admission::Admitted(ref t) if t.state == State::Closed),
        "{a:?}"
    );
    let rec = store.get("crm");
    assert_eq!(
        (rec.state, rec.forced_until, rec.episode),
        (State::Closed, None, None)
    );
    assert!(
        rec.outbox
            .values()
            .any(|a| a.action == failsoft::breaker::Action::Resolve),
        "the forced episode is resolved"
    );
}

/// Record one failure through `b`, if it admits the call.
async fn fail_once(b: &Breaker) -> bool {
    let r: Result<(), CallError<Down>> = b
        .call(deadline(), deadline(), || async { Err(Down("503".into())) })
        .await;
    !matches!(r, Err(CallError::Rejected(_)))
}

/// Finding (fleet simulation, a slow store): blind instances each ran the whole
/// threshold against a dependency that was down, 5,742 failures for 1,000 instances.
/// Blind, an instance trips its own view after two.
#[tokio::test]
async fn a_blind_instance_trips_its_own_view_after_two_failures() {
    let (store, clock, b) = setup(Policy::default());
    store.set_failing(Some(StoreError::Unavailable("refused".into())));
    assert!(fail_once(&b).await);
    clock.advance(10);
    assert!(fail_once(&b).await);
    clock.advance(10);
    assert_eq!(
        b.admit(deadline()).await,
        Admission::Rejected(Rejection::Open),
        "threshold 5, but two failures while blind open the local view"
    );
}

/// A local OPEN is not undone by a CLOSED read the fleet has not moved past: that CLOSED
/// is the failures not yet counted, not the dependency recovered. A later generation
/// (an operator's release, say) is.
#[tokio::test]
async fn a_local_open_holds_against_a_closed_read_until_the_fleet_moves_on() {
    let (store, clock, b) = setup(Policy::default());
    store.set_failing(Some(StoreError::Unavailable("refused".into())));
    fail_once(&b).await;
    fail_once(&b).await;
    store.set_failing(None);
    clock.advance(1_500);
    assert_eq!(
        b.current(deadline()).await.state,
        State::Closed,
        "the store"
    );
    assert_eq!(
        b.admit(deadline()).await,
        Admission::Rejected(Rejection::Open),
        "held"
    );
    b.command(failsoft::breaker::Event::ForceClosed {
        by: "op".into(),
        until: None,
    })
    .await
    .ok();
    clock.advance(1_500);
    assert!(matches!(b.admit(deadline()).await, Admission::Admitted(_)));
}

/// The store merely slow (it answered within the recovery timeout): no trial on the
/// local view. Down for good (silent a whole recovery timeout): one local trial, then
/// none until another recovery timeout has passed.
#[tokio::test]
async fn local_trials_wait_for_a_silent_store_and_come_once_per_recovery_timeout() {
    let (store, clock, b) = setup(Policy::default());
    store.set_failing(Some(StoreError::Unavailable("refused".into())));
    fail_once(&b).await;
    fail_once(&b).await;
    // 29 s on, the store answers once (the hold keeps the local OPEN)...
    clock.advance(29_000);
    store.set_failing(None);
    b.current(deadline()).await;
    // ...and fails again: past the local OPEN's 30 s, no trial on a store heard 2 s ago.
    store.set_failing(Some(StoreError::Unavailable("refused".into())));
    clock.advance(2_000);
    assert_eq!(
        b.admit(deadline()).await,
        Admission::Rejected(Rejection::HalfOpenBusy)
    );
    // Failing for a whole recovery timeout, three requests in a row: one trial, and no
    // second one soon after.
    for _ in 0..3 {
        clock.advance(10_000);
        b.current(deadline()).await;
    }
    let first = b.admit(deadline()).await;
    assert!(
        matches!(first, Admission::Admitted(ref t) if t.trial.is_some()),
        "{first:?}"
    );
    clock.advance(1_100);
    let again = b.admit(deadline()).await;
    assert!(
        !matches!(again, Admission::Admitted(ref t) if t.trial.is_some()),
        "{again:?}"
    );
}

/// A store that answers reads after `delay` (longer than the store timeout).
struct SlowReads {
    inner: MemoryStore,
    delay: Duration,
}

#[async_trait::async_trait]
impl BreakerStore for SlowReads {
    async fn load(&self, name: &str) -> Result<Record, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.load(name).await
    }
    async fn apply(&self, name: &str, op: &Op) -> Result<Applied, StoreError> {
        self.inner.apply(name, op).await
    }
    async fn list(&self) -> Result<Vec<Record>, StoreError> {
        self.inner.list().await
    }
}

/// Finding (fleet simulation): behind a store answering in 200–700 ms, a 250 ms timeout
/// made every instance blind. After a timeout the next request waits longer (up to four
/// times, within a third of the caller's budget), so a slow store is still read.
#[tokio::test(start_paused = true)]
async fn a_slow_store_is_waited_for_longer_after_a_timeout() {
    let store = Arc::new(SlowReads {
        inner: MemoryStore::new(),
        delay: Duration::from_millis(400),
    });
    let (clock, b) = breaker_on(store.clone(), Policy::default());
    b.current(deadline()).await;
    assert_eq!(
        store.inner.reads.load(Ordering::SeqCst),
        0,
        "timed out at 250 ms"
    );
    clock.advance(1_100);
    b.current(deadline()).await;
    assert_eq!(
        store.inner.reads.load(Ordering::SeqCst),
        1,
        "read within the longer wait"
    );
}
