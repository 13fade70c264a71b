//! Beyond the guide's edge case 3: with the last-known caller context on, a VIP who
//! calls while the CRM is down is still routed as a VIP.

use std::time::{Duration, Instant};

use failsoft_testkit::fakes::http::Fault;
use failsoft_testkit::fakes::salesforce::{contact, pat_platinum, API_PREFIX};
use failsoft_testkit::{create_secret, fresh_context_table, Emulator};
use serde_json::{json, Value};

use crate::report::{check, Observation, Scenario};
use crate::stage::{answer_of, within_deadline, Stage, PAT};
use crate::Options;

const GIL: &str = "tel:+13175550999";
const SAM: &str = "tel:+13175550777";
const UNSEEN: &str = "tel:+13175550444";

/// One lookup of `ani`, observed.
async fn ask(
    st: &Stage,
    emu: &Emulator,
    ani: &str,
    what: &str,
) -> anyhow::Result<(Observation, Value)> {
    let t = Instant::now();
    let v = emu.invoke("crm-lookup", &json!({ "ani": ani })).await?;
    let latency_ms = t.elapsed().as_millis() as u64;
    let source = v["contextSource"].as_str().unwrap_or("?");
    let tier = v["accountTier"].as_str().unwrap_or("?");
    Ok((
        Observation {
            t_ms: st.t_ms(),
            what: what.into(),
            answer: format!("{} ({tier}, {source})", answer_of(&v)),
            latency_ms,
            dependency: "crm".into(),
            breaker: st.state("crm").await,
            alerts: st.pd.incidents().len(),
        },
        v,
    ))
}

fn is(v: &Value, tier: &str, source: &str) -> bool {
    v["accountTier"] == tier && v["contextSource"] == source
}

pub async fn vip_during_outage(opts: &Options) -> anyhow::Result<Scenario> {
    let mut st = Stage::new().await?;
    let at = "2026-01-01T00:00:00.000+0000";
    let gil = |tier| contact("003GIL", "Gil Gold", "13175550999", at, tier);
    let sam = contact("003SAM", "Sam Standard", "13175550777", at, None);
    st.org
        .set_contacts(vec![pat_platinum(), gil(Some("Gold")), sam.clone()]);
    let table = fresh_context_table(&st.moto_url).await?;
    let secret = format!("ctx-{}", st.table);
    let key = json!({ "hmacKey": "drill-context-key-0123456789abcdef0123456789" });
    create_secret(&st.moto_url, &secret, &key).await?;
    let log = std::env::temp_dir().join(format!("failsoft-drill-ctx-{}.log", st.table));
    let env = [
        ("LAST_KNOWN_CONTEXT", "on"),
        ("CONTEXT_TABLE", table.as_str()),
        ("LAST_KNOWN_KEY_SECRET_ID", secret.as_str()),
        ("CRM_TIER_MAP", "Platinum=vip,Gold=vip"),
        ("RUST_LOG", "info"),
    ];
    let emu = st.emulator_logged(&env, opts, Some(log.clone())).await?;
    emu.invoke("crm-lookup", &json!({"ani": "anonymous"}))
        .await?;
    // Salesforce answers a search in about 200 ms (DynamoDB in a few): the context's
    // read is done before the CRM's answer, which is when a lookup keeps its tier.
    st.sf
        .fault(API_PREFIX, Fault::Slow(Duration::from_millis(200)), None);
    st.start_clock();
    let mut obs = Vec::new();
    // Healthy: three callers seen; then one of them is demoted in the CRM and calls again.
    for (ani, who) in [(PAT, "VIP"), (GIL, "VIP to be demoted"), (SAM, "standard")] {
        obs.push(ask(&st, &emu, ani, &format!("healthy: {who}")).await?);
    }
    st.org.set_contacts(vec![pat_platinum(), gil(None), sam]);
    obs.push(ask(&st, &emu, GIL, "healthy: demoted").await?);
    // The CRM fails.
    st.sf.fault(API_PREFIX, Fault::Status(503), None);
    let mut outage = Vec::new();
    for (ani, who) in [(PAT, "VIP"), (GIL, "demoted"), (UNSEEN, "unseen")] {
        let o = ask(&st, &emu, ani, &format!("CRM down: {who}")).await?;
        outage.push(o.1.clone());
        obs.push(o);
    }
    drop(emu);
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    let numbers = ["3175550123", "3175550999", "3175550777", "3175550444"];
    let leaked: Vec<&&str> = numbers.iter().filter(|n| logs.contains(**n)).collect();
    let lines = logs.lines().filter(|l| l.contains("crm lookup")).count();
    let honest = outage
        .iter()
        .all(|v| v["dataActionFailed"] == true && v["degradedReason"] != "" && v["found"] == false);
    let observed: Vec<Observation> = obs.iter().map(|(o, _)| o.clone()).collect();
    let checks = vec![
        within_deadline(&observed),
        check(
            "healthy answers are the CRM's",
            is(&obs[0].1, "vip", "crm") && is(&obs[3].1, "standard", "crm"),
            format!("{} / {}", obs[0].0.answer, obs[3].0.answer),
        ),
        check(
            "the VIP stays VIP",
            is(&outage[0], "vip", "last_known"),
            obs[4].0.answer.clone(),
        ),
        check(
            "the demoted caller is standard",
            is(&outage[1], "standard", "last_known"),
            obs[5].0.answer.clone(),
        ),
        check(
            "an unseen caller gets the guide's fallback",
            is(&outage[2], "standard", "none"),
            obs[6].0.answer.clone(),
        ),
        check(
            "degraded answers say so",
            honest,
            "dataActionFailed, a degradedReason, not found",
        ),
        check(
            "logs hold masked numbers only",
            leaked.is_empty() && lines >= obs.len(),
            format!("{lines} lookup lines; full numbers found: {leaked:?}"),
        ),
    ];
    Ok(Scenario::new(
        "vip-during-outage",
        "Beyond the guide's edge case 3: with LAST_KNOWN_CONTEXT=on, a VIP seen within the TTL is routed VIP while the CRM is down; honestly degraded.",
        checks,
        observed,
    )
    .with_marks(st.page_marks()))
}
