//! The last-known caller context's cost to a healthy call, and what it buys in an
//! outage. Two crm-lookup rigs in one run, the context off ("before") and on ("after"),
//! each given the same 600 calls at 100 a second, 30 % of them from callers already
//! seen. The "after" rig reaches DynamoDB through a counting front, so the context
//! table's reads and writes per call are counted at the wire. Then the CRM fails (503)
//! and every VIP seen calls again.
//!
//! Run: `FAILSOFT_EMULATOR_RELEASE=1 cargo bench -p failsoft-testkit --bench last_known_context`

use std::time::{Duration, Instant};

use failsoft_testkit::fakes::aws::front;
use failsoft_testkit::fakes::http::{FakeServer, Fault};
use failsoft_testkit::fakes::salesforce::{contact, FakeContact, API_PREFIX};
use failsoft_testkit::{create_secret, crm_rig, fresh_context_table, moto};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const CALLS: usize = 600;
const REPEAT: f64 = 0.3;

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

/// Play the calls at 100 a second; the answer times, sorted.
async fn play(rig: &crm_rig::CrmRig, calls: &[usize]) -> anyhow::Result<Vec<f64>> {
    let start = Instant::now();
    let mut out = Vec::with_capacity(calls.len());
    for (n, i) in calls.iter().enumerate() {
        let due = start + Duration::from_millis(10 * n as u64);
        tokio::time::sleep_until(due.into()).await;
        let t = Instant::now();
        let v = rig.lookup(&json!({"ani": ani(*i)})).await?;
        out.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(v["found"] == true, "{}: {v}", ani(*i));
    }
    out.sort_by(|a, b| a.total_cmp(b));
    Ok(out)
}

/// The context table's requests of one kind, as the front saw them.
fn count(front: &FakeServer, table: &str, op: &str) -> usize {
    let target = format!("DynamoDB_20120810.{op}");
    front
        .requests()
        .iter()
        .filter(|r| r.body.contains(table))
        .filter(|r| {
            r.headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("x-amz-target") && *v == target)
        })
        .count()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let m = moto()?;
    let calls = callers(7);
    let before = crm_rig::start_with(contacts(), &[]).await?;
    let table = fresh_context_table(&m.url).await?;
    let secret = format!("ctx-{table}");
    create_secret(
        &m.url,
        &secret,
        &json!({"hmacKey": "bench-key-0123456789abcdef0123456789abcdef"}),
    )
    .await?;
    let dynamo = front(&m.url).await?;
    let after = crm_rig::start_with(
        contacts(),
        &[
            ("LAST_KNOWN_CONTEXT", "on"),
            ("CONTEXT_TABLE", table.as_str()),
            ("LAST_KNOWN_KEY_SECRET_ID", secret.as_str()),
            ("AWS_ENDPOINT_URL_DYNAMODB", dynamo.url.as_str()),
        ],
    )
    .await?;
    // Interleaved halves, so that both rigs meet the same machine.
    let half = calls.len() / 2;
    let mut off = play(&before, &calls[..half]).await?;
    let mut on = play(&after, &calls[..half]).await?;
    on.extend(play(&after, &calls[half..]).await?);
    off.extend(play(&before, &calls[half..]).await?);
    off.sort_by(|a, b| a.total_cmp(b));
    on.sort_by(|a, b| a.total_cmp(b));
    let (reads, writes) = (
        count(&dynamo, &table, "GetItem"),
        count(&dynamo, &table, "PutItem"),
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
    println!("p50 after / before: {:.2}", pct(&on, 0.5) / pct(&off, 0.5));

    // The CRM fails: every VIP seen calls again.
    after.sf.fault(API_PREFIX, Fault::Status(503), None);
    let mut vips: Vec<usize> = calls.iter().copied().filter(|i| i % 5 == 0).collect();
    vips.sort();
    vips.dedup();
    let mut kept = 0;
    for i in &vips {
        let v = after.lookup(&json!({"ani": ani(*i)})).await?;
        if v["accountTier"] == "vip" && v["contextSource"] == "last_known" {
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
