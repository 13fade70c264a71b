//! Breaker cost against moto (serialised): DynamoDB requests per guarded call in three
//! regimes, and guarded-call latency beside an unguarded call in the same run.
//!
//! Run: `cargo bench -p failsoft-testkit --bench breaker_requests` (moto is started as in
//! the tests, or taken from FAILSOFT_MOTO_URL). Simulated time: 100 calls per second in
//! one instance, the clock advanced 10 ms per call, so cache expiry happens as in
//! production without the benchmark waiting for it.

use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use failsoft::breaker::{Breaker, CallError, DynamoBreakerStore, GuardSettings, Policy};
use failsoft::clock::ManualClock;
use failsoft_testkit::Down;
use failsoft_testkit::{fresh_table, moto, CountingStore};
use tokio::time::Instant;

const CALLS: usize = 3_000;
const STEP_MS: i64 = 10;

fn dl() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

async fn dependency(ok: bool) -> Result<u64, Down> {
    // Stands in for the real call; cheap, so the breaker's own cost shows.
    std::hint::black_box(if ok { Ok(1) } else { Err(Down("503".into())) })
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

struct Row {
    regime: &'static str,
    calls: usize,
    reads: u64,
    writes: u64,
    failures: usize,
    lat_us: Vec<f64>,
}

async fn regime(url: &str, regime: &'static str, ok: bool, pre_open: bool) -> anyhow::Result<Row> {
    let (client, table) = fresh_table(url).await?;
    let counting = Arc::new(CountingStore::new(Arc::new(DynamoBreakerStore::new(
        client, table,
    ))));
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let policy = Policy {
        recovery_timeout_ms: 3_600_000,
        ..Policy::default()
    };
    let b = Breaker::new(
        "crm",
        policy,
        GuardSettings::default(),
        counting.clone(),
        clock.clone(),
    );
    if pre_open {
        for _ in 0..5 {
            let _: Result<u64, CallError<Down>> = b.call(dl(), dl(), || dependency(false)).await;
        }
    }
    let (r0, w0) = counting.counts();
    let mut lat = Vec::with_capacity(CALLS);
    let mut failures = 0;
    for _ in 0..CALLS {
        let t = StdInstant::now();
        let r: Result<u64, CallError<Down>> = b.call(dl(), dl(), || dependency(ok)).await;
        lat.push(t.elapsed().as_secs_f64() * 1e6);
        if matches!(r, Err(CallError::Failed(_) | CallError::TimedOut)) {
            failures += 1;
        }
        clock.advance(STEP_MS);
    }
    let (r1, w1) = counting.counts();
    lat.sort_by(|a, b| a.total_cmp(b));
    Ok(Row {
        regime,
        calls: CALLS,
        reads: r1 - r0,
        writes: w1 - w0,
        failures,
        lat_us: lat,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = moto()?.url.clone();
    // Unguarded baseline in the same run.
    let mut base = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = StdInstant::now();
        let _ = dependency(true).await;
        base.push(t.elapsed().as_secs_f64() * 1e6);
    }
    base.sort_by(|a, b| a.total_cmp(b));

    let rows = vec![
        regime(&url, "healthy", true, false).await?,
        // Failing from a CLOSED start: counts until it opens, then refuses.
        regime(&url, "failing", false, false).await?,
        regime(&url, "open", true, true).await?,
    ];
    println!("| regime | calls | failures | reads/call | writes/call | writes/failure | p50 µs | p99 µs | mean µs |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| unguarded | {CALLS} | 0 | 0 | 0 | – | {:.2} | {:.2} | {:.2} |",
        pct(&base, 0.5),
        pct(&base, 0.99),
        base.iter().sum::<f64>() / base.len() as f64
    );
    for r in &rows {
        let per_failure = if r.failures > 0 {
            format!("{:.3}", r.writes as f64 / r.failures as f64)
        } else {
            "–".into()
        };
        println!(
            "| {} | {} | {} | {:.4} | {:.4} | {} | {:.1} | {:.1} | {:.1} |",
            r.regime,
            r.calls,
            r.failures,
            r.reads as f64 / r.calls as f64,
            r.writes as f64 / r.calls as f64,
            per_failure,
            pct(&r.lat_us, 0.5),
            pct(&r.lat_us, 0.99),
            r.lat_us.iter().sum::<f64>() / r.lat_us.len() as f64
        );
    }
    Ok(())
}
