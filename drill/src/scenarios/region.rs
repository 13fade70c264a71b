//! A Genesys region unhealthy: the probe pages with the overflow runbook, and resolves
//! when the region is back.

use std::path::Path;
use std::time::Duration;

use failsoft_testkit::fakes::genesys::HEALTH_PATH;
use failsoft_testkit::fakes::http::{FakeServer, Fault, Response};
use serde_json::json;

use crate::report::{check, Observation, Scenario};
use crate::stage::Stage;
use crate::Options;

const FAILURE_THRESHOLD: usize = 5;

pub async fn unhealthy(opts: &Options) -> anyhow::Result<Scenario> {
    let mut st = Stage::new().await?;
    let region = FakeServer::start(|req, _| {
        if req.path == HEALTH_PATH {
            return Response::json(200, &json!({"currentDate": "2026-11-28T02:41:00.000Z"}));
        }
        Response::json(404, &json!({"message": "not found"}))
    })
    .await?;
    let env = [
        ("GENESYS_API_URL", region.url.as_str()),
        ("BREAKER_GENESYS_API_RECOVERY_TIMEOUT_S", "1"),
    ];
    let emu = st.emulator(&env, opts).await?;
    emu.invoke("health-probe", &json!({"source": "schedule"}))
        .await?; // warm: may build
    st.start_clock();
    let mut obs: Vec<Observation> = Vec::new();
    let (o, _) = st.probe(&emu, "health-probe", "genesys-api").await?;
    obs.push(o);

    // The region degrades: its API answers 503 to every request.
    region.fault("/api/", Fault::Status(503), None);
    let mut opened_after = None;
    for i in 1..=FAILURE_THRESHOLD + 2 {
        let (o, _) = st.probe(&emu, "health-probe", "genesys-api").await?;
        if opened_after.is_none() && o.breaker == "OPEN" {
            opened_after = Some(i);
        }
        obs.push(o);
    }
    let incidents = st.incidents("genesys-api");
    let runbook = incidents
        .first()
        .and_then(|i| {
            i.trigger["payload"]["custom_details"]["runbook"]
                .as_str()
                .map(String::from)
        })
        .unwrap_or_default();
    let runbook_file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(&runbook);
    let runbook_text = std::fs::read_to_string(&runbook_file).unwrap_or_default();
    let summary = incidents
        .first()
        .and_then(|i| i.trigger["payload"]["summary"].as_str().map(String::from))
        .unwrap_or_default();

    // The region recovers: the next scheduled probe after the recovery timeout closes it.
    region.clear_faults();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (o, _) = st.probe(&emu, "health-probe", "genesys-api").await?;
    obs.push(o);
    let resolved = st.incidents("genesys-api").iter().all(|i| i.resolved);
    let slowest = obs.iter().map(|o| o.latency_ms).max().unwrap_or(0);

    let checks = vec![
        check(
            "region alert raised by the probe alone",
            opened_after == Some(FAILURE_THRESHOLD) && incidents.len() == 1,
            format!(
                "genesys-api OPEN after {} failed probes (threshold {FAILURE_THRESHOLD}); {} incident(s)",
                opened_after.map_or("more".into(), |n| n.to_string()),
                incidents.len()
            ),
        ),
        check(
            "alert carries the overflow runbook",
            runbook.ends_with("regional-overflow.md")
                && summary.contains("genesys-api")
                && summary.contains("overflow"),
            format!("runbook {runbook:?}; summary {summary:?}"),
        ),
        check(
            "runbook gives the re-route steps",
            runbook_text.contains("backup DID") && runbook_text.contains("under 5 minutes"),
            format!("{runbook}: {} bytes in the repository", runbook_text.len()),
        ),
        check(
            "paged once for the episode",
            incidents.iter().all(|i| i.triggers == 1),
            format!("{} trigger event(s)", incidents.iter().map(|i| i.triggers).sum::<u32>()),
        ),
        check(
            "resolved when the region recovers",
            resolved && st.state("genesys-api").await == "CLOSED",
            format!("breaker {}; incident resolved: {resolved}", st.state("genesys-api").await),
        ),
        check(
            "probe runs inside its budget",
            slowest < 25_000,
            format!("slowest probe run {slowest} ms (budget 25 s)"),
        ),
    ];
    Ok(Scenario::new(
        "region-unhealthy",
        "Guide: Genesys partial regional outage → activate overflow routing to the backup region; the page must carry the runbook that does it in under 5 minutes.",
        checks,
        obs,
    )
    .with_marks(st.page_marks()))
}
