//! crm-lookup answer times through the Lambda runtime emulator, in three regimes:
//! healthy, CRM hanging before the breaker opens, and breaker open. Each figure is the
//! client-side time of one Invoke request (emulator included).
//!
//! Run: `cargo bench -p failsoft-testkit --bench crm_lookup_latency`

use std::time::{Duration, Instant};

use failsoft_testkit::crm_rig;
use failsoft_testkit::fakes::http::Fault;
use failsoft_testkit::fakes::salesforce::API_PREFIX;
use serde_json::json;

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

async fn measure(r: &crm_rig::CrmRig, n: usize, expect: &str) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let v = r.lookup(&json!({"ani": "tel:+13175550123"})).await?;
        out.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(
            v["degradedReason"] == expect,
            "expected {expect:?}, got {v}"
        );
    }
    out.sort_by(|a, b| a.total_cmp(b));
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Hanging: a threshold out of reach, so every call waits for the deadline.
    let hanging = crm_rig::start(&[("BREAKER_CRM_FAILURE_THRESHOLD", "100000")]).await?;
    let healthy = measure(&hanging, 300, "").await?;
    hanging.sf.fault(API_PREFIX, Fault::Hang, None);
    let hang = measure(&hanging, 12, "timeout").await?;

    let open = crm_rig::start(&[("BREAKER_CRM_FAILURE_THRESHOLD", "5")]).await?;
    open.sf.fault(API_PREFIX, Fault::Status(500), None);
    measure(&open, 5, "crm_error").await?;
    let opened = measure(&open, 300, "circuit_open").await?;

    println!("| regime | calls | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    for (name, v) in [
        ("healthy", &healthy),
        ("CRM hanging (breaker closed)", &hang),
        ("breaker open", &opened),
    ] {
        println!(
            "| {name} | {} | {:.1} | {:.1} | {:.1} |",
            v.len(),
            pct(v, 0.5),
            pct(v, 0.99),
            pct(v, 1.0)
        );
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
