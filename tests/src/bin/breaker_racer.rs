//! One racing "instance" for the multi-process test: it builds its own SDK client from
//! the standard AWS variables (AWS_ENDPOINT_URL included), waits for a common start
//! time, acts on breaker `crm` and prints what it won as one JSON line.
//!
//! Usage: breaker-racer ACTION COUNT NOW_MS START_AT_MS [THRESHOLD]
//!   ACTION: fail (record COUNT failures) | admit (ask COUNT times)

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use failsoft::breaker::{
    Admission, Breaker, CallResult, DynamoBreakerStore, GuardSettings, Policy, TripPolicy,
};
use failsoft::clock::ManualClock;
use failsoft::config::ProcessEnv;
use failsoft::service::ServiceConfig;
use serde_json::json;
use tokio::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("missing argument {i}"))
    };
    let action = arg(1)?;
    let count: u32 = arg(2)?.parse()?;
    let now_ms: i64 = arg(3)?.parse()?;
    let start_at: u64 = arg(4)?.parse()?;
    let threshold: u32 = args.get(5).map(|s| s.parse()).transpose()?.unwrap_or(5);

    let config = failsoft::aws::sdk_config().await;
    let store = Arc::new(DynamoBreakerStore::new(
        failsoft::aws::dynamodb(&config),
        ServiceConfig::from_env(&ProcessEnv)?.table,
    ));
    let policy = Policy {
        trip: TripPolicy::ConsecutiveFailures { threshold },
        ..Policy::default()
    };
    // RACER_STORE_TIMEOUT_MS: the guard's store timeout (default 30 s: moto's lock queues
    // 32 requests, and most races are about correctness, not latency).
    let store_timeout_ms = std::env::var("RACER_STORE_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let settings = GuardSettings {
        store_timeout_ms,
        ..GuardSettings::default()
    };
    let breaker = Breaker::new(
        "crm",
        policy,
        settings,
        store,
        Arc::new(ManualClock::new(now_ms)),
    );

    let wall = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
    tokio::time::sleep(Duration::from_millis(start_at.saturating_sub(wall))).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut admitted, mut trials) = (0, 0);
    for _ in 0..count {
        if let Admission::Admitted(t) = breaker.admit(deadline).await {
            admitted += 1;
            if t.trial.is_some() {
                trials += 1;
            }
            if action == "fail" {
                let failure = CallResult::Failure {
                    latency_ms: 1,
                    error: "down".into(),
                };
                breaker.record(t, failure, deadline).await;
            }
        }
    }
    let won: Vec<String> = breaker
        .take_transitions()
        .iter()
        .map(|t| t.label())
        .collect();
    println!(
        "{}",
        json!({"admitted": admitted, "trials": trials, "transitions": won})
    );
    Ok(())
}
