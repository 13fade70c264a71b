//! 16 separate processes race on one breaker through moto: exactly one of them wins each
//! transition, exactly one is admitted as the probe, and no failure count is lost.

use std::process::Stdio;
use std::time::{SystemTime, UNIX_EPOCH};

use failsoft::breaker::{BreakerStore, DynamoBreakerStore, State};
use failsoft_testkit::{fresh_table, moto};
use serde_json::Value;
use tokio::process::Command;

const PROCESSES: usize = 16;
const T0: i64 = 1_800_000_000_000;

async fn race(
    url: &str,
    table: &str,
    action: &str,
    count: u32,
    now_ms: i64,
    threshold: u32,
) -> anyhow::Result<Vec<Value>> {
    let wall = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
    let start_at = wall + 1_500; // time for every process to start and connect
    let mut children = Vec::new();
    for _ in 0..PROCESSES {
        let child = Command::new(env!("CARGO_BIN_EXE_breaker-racer"))
            .args([
                action,
                &count.to_string(),
                &now_ms.to_string(),
                &start_at.to_string(),
                &threshold.to_string(),
            ])
            .env("AWS_ENDPOINT_URL", url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("STATE_TABLE", table)
            .env("RUST_LOG", "off")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        children.push(child);
    }
    let mut out = Vec::new();
    for c in children {
        let o = c.wait_with_output().await?;
        anyhow::ensure!(o.status.success(), "racer failed: {:?}", o.status);
        let text = String::from_utf8(o.stdout)?;
        // EMF metric lines share stdout; the racer's answer is the line with "admitted".
        let line = text
            .lines()
            .find(|l| l.contains("\"admitted\""))
            .unwrap_or_default();
        out.push(serde_json::from_str(line)?);
    }
    Ok(out)
}

fn wins(results: &[Value], label: &str) -> usize {
    results
        .iter()
        .flat_map(|r| r["transitions"].as_array().cloned().unwrap_or_default())
        .filter(|t| t == label)
        .count()
}

#[tokio::test]
async fn sixteen_processes_one_winner_each_transition() -> anyhow::Result<()> {
    let m = moto()?;
    let (client, table) = fresh_table(&m.url).await?;
    let store = DynamoBreakerStore::new(client, table.clone());

    // Failures from every process: exactly one trips the breaker.
    let r = race(&m.url, &table, "fail", 2, T0, 5).await?;
    assert_eq!(wins(&r, "CLOSED->OPEN"), 1, "{r:?}");
    let rec = store.load("crm").await?;
    assert_eq!((rec.state, rec.generation), (State::Open, 1));

    // Past the recovery timeout every process asks 3 times: exactly one probe.
    let r = race(&m.url, &table, "admit", 3, T0 + 31_000, 5).await?;
    let admitted: u64 = r.iter().map(|v| v["admitted"].as_u64().unwrap_or(0)).sum();
    assert_eq!(admitted, 1, "{r:?}");
    assert_eq!(wins(&r, "OPEN->HALF_OPEN"), 1);
    assert_eq!(store.load("crm").await?.state, State::HalfOpen);
    Ok(())
}

#[tokio::test]
async fn sixteen_processes_lose_no_failure_count() -> anyhow::Result<()> {
    let m = moto()?;
    let (client, table) = fresh_table(&m.url).await?;
    let r = race(&m.url, &table, "fail", 4, T0, 1_000_000).await?;
    assert_eq!(wins(&r, "CLOSED->OPEN"), 0);
    let rec = DynamoBreakerStore::new(client, table).load("crm").await?;
    assert_eq!(rec.failures as usize, PROCESSES * 4);
    Ok(())
}
