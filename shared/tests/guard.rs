//! The per-instance guard over the in-memory store, with time injected.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use failsoft::breaker::{
    Admission, Breaker, CallError, CallResult, Classify, GuardSettings, MemoryStore, Policy,
    Rejection, State,
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
    fn counts(&self) -> bool {
        true
    }
}

/// An HTTP status: only a 5xx is the dependency's fault.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {0}")]
struct Status(u16);

impl Classify for Status {
    fn counts(&self) -> bool {
        self.0 >= 500
    }
}

fn setup(policy: Policy) -> (Arc<MemoryStore>, Arc<ManualClock>, Breaker) {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(T0));
    let b = Breaker::new(
        "crm",
        policy,
        GuardSettings::default(),
        store.clone(),
        clock.clone(),
    );
    (store, clock, b)
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
async fn probe_successes_close_and_a_probe_failure_reopens_with_backoff() {
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
