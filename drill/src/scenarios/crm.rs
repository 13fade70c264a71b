//! The CRM down and the CRM slow.

use std::time::Duration;

use failsoft_testkit::fakes::http::Fault;
use failsoft_testkit::fakes::salesforce::API_PREFIX;
use serde_json::{json, Value};

use crate::report::{check, Check, Observation, Scenario};
use crate::stage::{is_fallback, within_deadline, Stage};
use crate::Options;

/// After the breaker opened, the CRM got no more calls.
fn spared(obs: &[(Observation, Value)], crm_calls: &[usize]) -> Check {
    match obs.iter().position(|(o, _)| o.breaker == "OPEN") {
        Some(i) => {
            let (at, end) = (crm_calls[i], crm_calls.last().copied().unwrap_or(0));
            check(
                "CRM spared once open",
                end == at,
                format!("{} CRM calls after the breaker opened", end - at),
            )
        }
        None => check("CRM spared once open", false, "the breaker never opened"),
    }
}

fn observed(obs: &[(Observation, Value)]) -> Vec<Observation> {
    obs.iter().map(|(o, _)| o.clone()).collect()
}

pub async fn down(opts: &Options) -> anyhow::Result<Scenario> {
    let mut st = Stage::new().await?;
    st.sf.fault(API_PREFIX, Fault::Status(503), None);
    let emu = st.emulator(&[], opts).await?;
    emu.invoke("crm-lookup", &json!({"ani": "anonymous"}))
        .await?; // warm: may build
    st.start_clock();
    let mut crm_calls = Vec::new();
    let obs = st.calls(&emu, 10, &mut crm_calls).await?;
    let incidents = st.incidents_within("crm", 1, Duration::from_secs(5)).await;
    let checks = vec![
        within_deadline(&observed(&obs)),
        check(
            "calls route without CRM context",
            obs.iter().all(|(_, v)| is_fallback(v)),
            "every answer: Unknown, standard, dataActionFailed",
        ),
        check(
            "breaker opened",
            obs.iter().any(|(o, _)| o.breaker == "OPEN"),
            format!("final state {}", st.state("crm").await),
        ),
        spared(&obs, &crm_calls),
        check(
            "on-call paged once",
            incidents.len() == 1 && incidents.iter().all(|i| i.triggers == 1),
            format!(
                "{} PagerDuty incidents, {} trigger events",
                incidents.len(),
                incidents.iter().map(|i| i.triggers).sum::<u32>()
            ),
        ),
    ];
    Ok(Scenario::new(
        "crm-down",
        "Guide: CRM API down → route to an agent without CRM context; page the on-call engineer.",
        checks,
        observed(&obs),
    )
    .with_marks(st.page_marks()))
}

pub async fn slow(opts: &Options) -> anyhow::Result<Scenario> {
    let mut st = Stage::new().await?;
    st.sf
        .fault(API_PREFIX, Fault::Slow(Duration::from_millis(1_200)), None);
    let emu = st
        .emulator(&[("BREAKER_CRM_SLOW_CALL_MS", "800")], opts)
        .await?;
    emu.invoke("crm-lookup", &json!({"ani": "anonymous"}))
        .await?;
    st.start_clock();
    let mut crm_calls = Vec::new();
    let obs = st.calls(&emu, 9, &mut crm_calls).await?;
    let last_error = st
        .record("crm")
        .await
        .and_then(|r| r.last_error)
        .unwrap_or_default();
    let open_fast = obs
        .iter()
        .filter(|(o, _)| o.answer == "fallback circuit_open")
        .all(|(o, _)| o.latency_ms < 200);
    let checks = vec![
        within_deadline(&observed(&obs)),
        check(
            "breaker opens on slow calls",
            last_error.contains("slow call") && obs.iter().any(|(o, _)| o.breaker == "OPEN"),
            format!("last error: {last_error}"),
        ),
        check(
            "open answers are immediate",
            open_fast && obs.iter().any(|(o, _)| o.answer == "fallback circuit_open"),
            "circuit_open answers under 200 ms",
        ),
        spared(&obs, &crm_calls),
    ];
    Ok(Scenario::new("crm-slow", "Guide: a slow CRM makes Data Actions pile up → every answer within the deadline, and the breaker opens on slow calls.", checks, observed(&obs))
    .with_marks(st.page_marks()))
}
