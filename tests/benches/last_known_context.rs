//! The last-known caller context's cost to a healthy call, and what it buys in an
//! outage. Two crm-lookups in one process and one run, the context off ("before") and on
//! ("after"), each given the same 600 calls at 100 a second (each started on time), 30 %
//! of them from callers already seen, against moto and the fake Salesforce answering in
//! 50 ms. Both reach DynamoDB through a counting front, so the context table's reads and
//! writes per call are counted at the wire. Then the CRM fails (503) and every VIP seen
//! calls again. In process rather than under the emulator: the emulator takes a few
//! concurrent invocations, not a hundred a second, and the context's cost is the
//! function's own.
//!
//! Run: `cargo bench -p failsoft-testkit --bench last_known_context`

use std::time::{Duration, Instant};

use std::sync::Arc;

use failsoft::clock::SystemClock;
use failsoft::crm::lookup::{ContextSource, CrmLookup};
use failsoft_testkit::fakes::aws::{dynamo_requests, front};
use failsoft_testkit::fakes::http::Fault;
use failsoft_testkit::fakes::salesforce::{contact, FakeContact, API_PREFIX};
use failsoft_testkit::{create_secret, fresh_context_table, World};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const CALLS: usize = 600;
const REPEAT: f64 = 0.3;
const CRM_TIME: Duration = Duration::from_millis(50);

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// 600 callers; one in five a VIP.
fn contacts() -> Vec<FakeContact> {
    (0..CALLS)
        .map(|i| {
            let tier = (i % 5 == 0).then_some("Platinum");
            let phone = format!("1317556{i:04}");
            contact(
                &format!("003B{i:05}"),
                "Bench Caller",
                &phone,
                "2026-01-01T00:00:00.000+0000",
                tier,
            )
        })
        .collect()
}

/// The calls' numbers: 30 % repeat a caller already seen, the rest a new one.
fn callers(seed: u64) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut seen, mut next, mut out) = (Vec::new(), 0usize, Vec::new());
    for _ in 0..CALLS {
        let c = if !seen.is_empty() && rng.random_bool(REPEAT) {
            seen[rng.random_range(0..seen.len())]
        } else {
            next += 1;
            seen.push(next - 1);
            next - 1
        };
        out.push(c);
    }
    out
}

fn ani(i: usize) -> String {
    format!("tel:+1317556{i:04}")
}

/// Play the calls at 100 a second (each started on time, whether or not the ones before
/// have answered); the answer times, sorted.
async fn play(lookup: &CrmLookup, calls: &[usize]) -> anyhow::Result<Vec<f64>> {
    let start = tokio::time::Instant::now();
    let one = |n: usize, i: usize| async move {
        tokio::time::sleep_until(start + Duration::from_millis(10 * n as u64)).await;
        let t = Instant::now();
        let a = lookup.answer(&json!({ "ani": ani(i) }), None).await;
        anyhow::ensure!(a.found, "{}: {a:?}", ani(i));
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    let all = futures::future::join_all(calls.iter().enumerate().map(|(n, i)| one(n, *i))).await;
    let mut out = all.into_iter().collect::<anyhow::Result<Vec<f64>>>()?;
    out.sort_by(|a, b| a.total_cmp(b));
    Ok(out)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let calls = callers(7);
    let mut w = World::builder()
        .contacts(contacts())
        .var("CRM_TIER_MAP", "Platinum=vip")
        .build()
        .await?;
    let table = fresh_context_table(&w.url).await?;
    let secret = format!("ctx-{table}");
    let key = json!({"hmacKey": "bench-key-0123456789abcdef0123456789abcdef"});
    create_secret(&w.url, &secret, &key).await?;
    w.set_var("CONTEXT_TABLE", table.clone());
    w.set_var("LAST_KNOWN_KEY_SECRET_ID", secret);
    // Timed against moto directly; counted through a front (a blocking forwarder, too
    // slow to time through) in a second pass of the same calls on a table of its own.
    let services = failsoft_testkit::services(&w.url, &w.table, Arc::new(SystemClock)).await;
    let before = CrmLookup::build(&services, &w.env())?;
    w.set_var("LAST_KNOWN_CONTEXT", "on");
    let after = CrmLookup::build(&services, &w.env())?;
    let dynamo = front(&w.url).await?;
    let counted_table = fresh_context_table(&w.url).await?;
    w.set_var("CONTEXT_TABLE", counted_table.clone());
    let through = failsoft_testkit::services(&dynamo.url, &w.table, Arc::new(SystemClock)).await;
    let counted = CrmLookup::build(&through, &w.env())?;
    // Salesforce's search takes tens of milliseconds or more; DynamoDB's read a few.
    w.sf.fault(API_PREFIX, Fault::Slow(CRM_TIME), None);
    // Warm: a token and the breakers' records in both.
    before.answer(&json!({"ani": "anonymous"}), None).await;
    after.answer(&json!({"ani": "anonymous"}), None).await;
    // Interleaved halves, so that both meet the same machine.
    let half = calls.len() / 2;
    let mut off = play(&before, &calls[..half]).await?;
    let mut on = play(&after, &calls[..half]).await?;
    on.extend(play(&after, &calls[half..]).await?);
    off.extend(play(&before, &calls[half..]).await?);
    off.sort_by(|a, b| a.total_cmp(b));
    on.sort_by(|a, b| a.total_cmp(b));
    counted.answer(&json!({"ani": "anonymous"}), None).await;
    for i in &calls {
        let a = counted.answer(&json!({ "ani": ani(*i) }), None).await;
        anyhow::ensure!(a.found, "{}: {a:?}", ani(*i));
    }
    let (reads, writes) = (
        dynamo_requests(&dynamo, &counted_table, "GetItem"),
        dynamo_requests(&dynamo, &counted_table, "PutItem"),
    );
    let distinct = {
        let mut c = calls.clone();
        c.sort();
        c.dedup();
        c.len()
    };
    println!(
        "| context | calls | p50 ms | p99 ms | context reads / call | context writes / call |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| off (before) | {} | {:.1} | {:.1} | 0 | 0 |",
        off.len(),
        pct(&off, 0.5),
        pct(&off, 0.99)
    );
    println!(
        "| on (after) | {} | {:.1} | {:.1} | {:.2} | {:.2} ({writes} writes, {distinct} distinct callers) |",
        on.len(),
        pct(&on, 0.5),
        pct(&on, 0.99),
        reads as f64 / on.len() as f64,
        writes as f64 / on.len() as f64,
    );
    println!(
        "after / before: p50 {:.2}, p99 {:.2}",
        pct(&on, 0.5) / pct(&off, 0.5),
        pct(&on, 0.99) / pct(&off, 0.99)
    );

    // The CRM fails: every VIP seen calls again.
    w.sf.fault(API_PREFIX, Fault::Status(503), None);
    let mut vips: Vec<usize> = calls.iter().copied().filter(|i| i % 5 == 0).collect();
    vips.sort();
    vips.dedup();
    let mut kept = 0;
    for i in &vips {
        let a = after.answer(&json!({"ani": ani(*i)}), None).await;
        if a.account_tier == "vip" && a.context_source == ContextSource::LastKnown {
            kept += 1;
        }
    }
    println!(
        "CRM down: {kept} of {} VIP callers seen routed VIP ({:.0} %)",
        vips.len(),
        100.0 * kept as f64 / vips.len().max(1) as f64
    );
    Ok(())
}
