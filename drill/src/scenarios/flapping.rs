//! PagerDuty flapping: its endpoint fails, resets after taking an event, rate-limits and
//! fails again before it accepts. The on-call engineer still gets one incident, opened
//! once and resolved once, and nothing is sent again once PagerDuty has accepted it.

use std::time::Duration;

use failsoft_testkit::fakes::http::Fault;
use failsoft_testkit::fakes::pagerduty::EVENTS_PATH;
use failsoft_testkit::fakes::salesforce::API_PREFIX;
use failsoft_testkit::Emulator;

use crate::report::{check, Observation, Scenario};
use crate::stage::{within_deadline, Stage};
use crate::Options;

const TICK: Duration = Duration::from_millis(400);
/// Scheduled probe runs the drill waits for an outbox to drain.
const MAX_TICKS: usize = 60;

/// Run the probe every TICK until `crm`'s outbox is empty, then 3 more times. Returns
/// the ticks it took and the PagerDuty requests made after the outbox emptied.
async fn drain(
    st: &Stage,
    emu: &Emulator,
    obs: &mut Vec<Observation>,
) -> anyhow::Result<(Option<usize>, usize)> {
    let mut drained = None;
    for i in 0..MAX_TICKS {
        let (o, _) = st.probe(emu, "health-probe", "crm").await?;
        obs.push(o);
        if st.record("crm").await.is_some_and(|r| r.outbox.is_empty()) {
            drained = Some(i + 1);
            break;
        }
        tokio::time::sleep(TICK).await;
    }
    let at = st.pd.server.requests().len();
    for _ in 0..3 {
        tokio::time::sleep(TICK).await;
        let (o, _) = st.probe(emu, "health-probe", "crm").await?;
        obs.push(o);
    }
    Ok((drained, st.pd.server.requests().len() - at))
}

fn describe(f: &Fault) -> String {
    match f {
        Fault::Status(s) => format!("HTTP {s}"),
        Fault::ResetAfterHandling => "taken, then the connection reset".into(),
        Fault::TooMany { retry_after_s } => format!("429, Retry-After {retry_after_s}"),
        other => format!("{other:?}"),
    }
}

pub async fn pagerduty(opts: &Options) -> anyhow::Result<Scenario> {
    let mut st = Stage::new().await?;
    let env = [
        ("ALERT_BACKOFF_S", "0.5"),
        ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "1"),
    ];
    let emu = st.emulator(&env, opts).await?;
    emu.invoke("crm-lookup", &serde_json::json!({"ani": "anonymous"}))
        .await?; // warm: may build
    st.start_clock();
    let flaps = [
        Fault::Status(500),
        Fault::ResetAfterHandling,
        Fault::TooMany { retry_after_s: 1 },
        Fault::Status(503),
    ];
    st.pd.server.faults_in_turn(EVENTS_PATH, &flaps);
    st.sf.fault(API_PREFIX, Fault::Status(503), None);

    // The CRM fails; calls open the breaker, and the winner's first delivery fails.
    let mut calls = Vec::new();
    let mut crm_counts = Vec::new();
    calls.extend(st.calls(&emu, 6, &mut crm_counts).await?);
    let mut obs: Vec<Observation> = calls.iter().map(|(o, _)| o.clone()).collect();
    let (trigger_ticks, after_trigger) = drain(&st, &emu, &mut obs).await?;
    let trigger_requests = st.pd.server.requests().len();

    // The CRM recovers; the resolve meets a flapping PagerDuty too.
    st.pd.server.faults_in_turn(
        EVENTS_PATH,
        &[Fault::Status(502), Fault::ResetAfterHandling],
    );
    st.sf.clear_faults();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (resolve_ticks, after_resolve) = drain(&st, &emu, &mut obs).await?;
    let resolve_requests = st.pd.server.requests().len() - trigger_requests;

    // What each delivery attempt met, in arrival order (the faults are taken in turn).
    let met = flaps
        .iter()
        .map(describe)
        .chain(std::iter::repeat_n(
            "202 accepted".to_string(),
            trigger_requests.saturating_sub(flaps.len()),
        ))
        .chain([
            describe(&Fault::Status(502)),
            describe(&Fault::ResetAfterHandling),
        ])
        .chain(std::iter::repeat("202 accepted".to_string()));
    for (req, met) in st.pd.server.requests().iter().zip(met) {
        let action = serde_json::from_str::<serde_json::Value>(&req.body)
            .ok()
            .and_then(|v| v["event_action"].as_str().map(String::from))
            .unwrap_or_default();
        obs.push(Observation {
            t_ms: req.at.saturating_duration_since(st.started).as_millis() as u64,
            what: format!("PagerDuty ← {action}"),
            answer: met,
            latency_ms: 0,
            dependency: String::new(),
            breaker: String::new(),
            alerts: 0,
        });
    }
    obs.sort_by_key(|o| o.t_ms);

    let incidents = st.incidents("crm");
    let events = st.pd.requests();
    let keys: std::collections::BTreeSet<&str> = events.iter().map(|(_, k)| k.as_str()).collect();
    let lookups: Vec<Observation> = calls.iter().map(|(o, _)| o.clone()).collect();
    let checks = vec![
        within_deadline(&lookups),
        check(
            "PagerDuty flapped",
            trigger_requests > 2 && resolve_requests > 1,
            format!("{trigger_requests} attempts for the trigger ({} faults), {resolve_requests} for the resolve (2 faults)", flaps.len()),
        ),
        check(
            "one incident for the episode",
            incidents.len() == 1 && keys.len() == 1,
            format!(
                "{} incident(s) under {} dedup key(s); PagerDuty processed {} trigger event(s) for it (a reset hides an acceptance; the dedup_key absorbs the retry)",
                incidents.len(),
                keys.len(),
                incidents.iter().map(|i| i.triggers).sum::<u32>()
            ),
        ),
        check(
            "trigger and resolve both delivered",
            trigger_ticks.is_some() && resolve_ticks.is_some() && incidents.iter().all(|i| i.resolved),
            format!(
                "outbox drained after {} and {} probe runs; resolved: {}",
                trigger_ticks.map_or("no".into(), |n| n.to_string()),
                resolve_ticks.map_or("no".into(), |n| n.to_string()),
                incidents.iter().all(|i| i.resolved)
            ),
        ),
        check(
            "nothing sent again once accepted",
            after_trigger == 0 && after_resolve == 0,
            format!("{after_trigger} requests after the trigger was accepted, {after_resolve} after the resolve"),
        ),
        check(
            "breaker recovered",
            st.state("crm").await == "CLOSED",
            st.state("crm").await,
        ),
    ];
    Ok(Scenario::new(
        "pagerduty-flapping",
        "Guide, edge case 2: the page must reach the on-call engineer → delivered exactly once though PagerDuty fails (500), drops the answer after taking the event (reset), rate-limits (429) and fails again (503). Retries reuse the episode's dedup_key, so PagerDuty keeps one incident.",
        checks,
        obs,
    )
    .with_marks(st.page_marks()))
}
