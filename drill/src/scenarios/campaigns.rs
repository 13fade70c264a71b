//! The guide's third promise: outbound campaigns pause safely. The CRM goes down and the
//! campaigns that are dialing are turned off within seconds; recovery, after the resume
//! delay, turns back on exactly those nobody touched meanwhile.
//!
//! Four campaigns: three `on` (two voice, one messaging) and one `off` that a person
//! paused before the outage. Mid-outage a supervisor turns the messaging campaign back
//! on by hand. One 409 (a version that moved) meets the pause on the way. Verdicts come
//! from the fake Genesys's request log and the campaign ledger.

use std::time::{Duration, Instant};

use failsoft::campaign::ledger::{Ledger, Stage as LedgerStage};
use failsoft_testkit::fakes::genesys::{FakeGenesys, MESSAGING, VOICE};
use failsoft_testkit::fakes::http::{Fault, Response};
use failsoft_testkit::fakes::salesforce::API_PREFIX;
use failsoft_testkit::sdk_config;
use serde_json::json;

use crate::report::{check, Mark, MarkKind, Observation, Scenario};
use crate::stage::{is_fallback, within_deadline, Stage};
use crate::Options;

const RESUME_DELAY_S: u64 = 3;
const DIALING: [(&str, &str); 3] = [
    (VOICE, "renewals"),
    (VOICE, "winback"),
    (MESSAGING, "reminders"),
];

/// Every PUT Genesys received, as a mark on the timeline.
fn campaign_marks(g: &FakeGenesys, started: Instant) -> Vec<Mark> {
    g.server
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.at >= started)
        .filter_map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.body).ok()?;
            let status = v["campaignStatus"].as_str()?.to_string();
            let id = r.path.rsplit('/').next().unwrap_or_default();
            Some(Mark {
                t_ms: r.at.duration_since(started).as_millis() as u64,
                kind: if status == "on" {
                    MarkKind::SwitchedOn
                } else {
                    MarkKind::SwitchedOff
                },
                label: format!("PUT {id} {status} (version {})", v["version"]),
            })
        })
        .collect()
}

/// When each PUT of `status` reached campaign `id`, since `started`.
fn put_times(g: &FakeGenesys, path: &str, id: &str, status: &str, started: Instant) -> Vec<u64> {
    let p = format!("{path}/{id}");
    g.server
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path == p && r.body.contains(&format!("\"{status}\"")))
        .map(|r| r.at.saturating_duration_since(started).as_millis() as u64)
        .collect()
}

pub async fn pause(opts: &Options) -> anyhow::Result<Scenario> {
    let mut st = Stage::new().await?;
    let g = FakeGenesys::start().await?;
    g.add(VOICE, "renewals", "Renewals", "on", "d1");
    g.add(VOICE, "winback", "Win-back", "on", "d1");
    g.add(MESSAGING, "reminders", "SMS reminders", "on", "d1");
    g.add(VOICE, "survey", "Survey", "off", "d1");
    let secret = st.genesys_secret().await?;
    let login = format!("{}/oauth/token", g.server.url);
    let delay = RESUME_DELAY_S.to_string();
    let env = [
        ("GENESYS_SECRET_ID", secret.as_str()),
        ("GENESYS_LOGIN_URL", login.as_str()),
        ("GENESYS_API_URL", g.server.url.as_str()),
        ("CAMPAIGN_PAUSE_ON", "crm"),
        ("CAMPAIGN_RESUME_DELAY_S", delay.as_str()),
        ("CAMPAIGN_REQUESTS_PER_MINUTE", "3000"),
        ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "1"),
    ];
    let emu = st.emulator(&env, opts).await?;
    emu.invoke("crm-lookup", &json!({"ani": "anonymous"}))
        .await?; // warm: may build
    emu.invoke("health-probe", &json!({"source": "schedule"}))
        .await?;
    st.start_clock();
    let mut obs: Vec<Observation> = Vec::new();
    let conflict = Response::json(
        409,
        &json!({"message": "version must match", "code": "conflict"}),
    );
    g.server
        .faults_in_turn(&format!("{VOICE}/winback"), &[Fault::Respond(conflict)]);

    // The CRM goes down: calls fall back, the breaker opens, the stream pauses.
    st.sf.fault(API_PREFIX, Fault::Status(503), None);
    let mut lookups = Vec::new();
    let mut opened_ms = None;
    for _ in 0..8 {
        let (o, v) = st.lookup(&emu, "crm-lookup", "crm").await?;
        if opened_ms.is_none() && o.breaker == "OPEN" {
            opened_ms = Some(o.t_ms);
        }
        lookups.push(v);
        obs.push(o);
    }
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end && DIALING.iter().any(|(p, id)| g.status(p, id) != "off") {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let paused_ms = st.t_ms();
    let all_off = DIALING.iter().all(|(p, id)| g.status(p, id) == "off");

    // Mid-outage a supervisor turns SMS reminders back on by hand.
    g.person_sets(MESSAGING, "reminders", "on", "2026-11-28T02:41:00Z");
    for _ in 0..2 {
        let (o, v) = st.lookup(&emu, "crm-lookup", "crm").await?;
        lookups.push(v);
        obs.push(o);
    }

    // The CRM recovers; the one-minute probe (here every half second) closes the breaker
    // and, after the delay, runs the resume.
    st.sf.clear_faults();
    let mut closed_ms = None;
    let end = Instant::now() + Duration::from_secs(RESUME_DELAY_S + 20);
    while Instant::now() < end {
        let (o, _) = st.probe(&emu, "health-probe", "crm").await?;
        if closed_ms.is_none() && o.breaker == "CLOSED" {
            closed_ms = Some(o.t_ms);
        }
        obs.push(o);
        let resumed = ["renewals", "winback"]
            .iter()
            .all(|id| g.status(VOICE, id) == "on");
        if resumed && closed_ms.is_some_and(|c| st.t_ms() > c + RESUME_DELAY_S * 1000 + 1_000) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (o, v) = st.lookup(&emu, "crm-lookup", "crm").await?;
    lookups.push(v);
    obs.push(o);

    let started = st.started;
    let ledger = Ledger {
        client: aws_sdk_dynamodb::Client::new(&sdk_config(&st.moto_url).await),
        table: st.table.clone(),
    };
    let entries = ledger
        .list(tokio::time::Instant::now() + Duration::from_secs(5))
        .await
        .unwrap_or_default();
    let left = entries.iter().find(|e| e.id == "reminders");
    let left_note = left.and_then(|e| e.note.clone()).unwrap_or_default();
    let puts = |p: &str, id: &str| g.puts(p, id);
    let first_on = |id: &str| put_times(&g, VOICE, id, "on", started).first().copied();
    // The close as the breaker recorded it (the probe's answer comes later, the longer
    // its run): the resume is due a delay after the transition itself.
    let wall_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let epoch_at_start = wall_ms - st.t_ms() as i64;
    let closed_at = st
        .record("crm")
        .await
        .filter(|r| r.state.as_str() == "CLOSED" && r.since_ms > 0)
        .map(|r| (r.since_ms - epoch_at_start).max(0) as u64);
    let resumed_after_delay = ["renewals", "winback"].iter().all(|id| {
        first_on(id)
            .zip(closed_at)
            .is_some_and(|(on, c)| on + 20 >= c + RESUME_DELAY_S * 1000)
    });
    let incidents = st.incidents_within("crm", 1, Duration::from_secs(5)).await;
    let off_by = DIALING
        .iter()
        .filter_map(|(p, id)| put_times(&g, p, id, "off", started).last().copied())
        .max()
        .unwrap_or(u64::MAX);
    let mut checks = vec![
        within_deadline(&obs.iter().filter(|o| o.what == "crm-lookup").cloned().collect::<Vec<_>>()),
        check(
            "calls route without CRM context",
            lookups[..10].iter().all(is_fallback),
            "every answer during the outage: Unknown, standard, dataActionFailed",
        ),
        check(
            "dialing campaigns paused within seconds",
            all_off && opened_ms.is_some_and(|o| off_by <= o + 5_000),
            format!(
                "breaker OPEN at {} ms; the last pause PUT at {off_by} ms; all three off by {paused_ms} ms: {all_off}",
                opened_ms.map(|o| o.to_string()).unwrap_or("never".into())
            ),
        ),
        check(
            "a 409 is re-read and retried",
            puts(VOICE, "winback") == ["off", "off", "on"],
            format!("PUTs to win-back: {:?}", puts(VOICE, "winback")),
        ),
        check(
            "resumed after the delay, exactly the untouched two",
            resumed_after_delay
                && puts(VOICE, "renewals") == ["off", "on"]
                && g.status(VOICE, "renewals") == "on"
                && g.status(VOICE, "winback") == "on",
            format!(
                "closed at {} ms (seen by the probe at {} ms); resumes at {:?} and {:?} ms (delay {RESUME_DELAY_S} s)",
                closed_at.map(|c| c.to_string()).unwrap_or("never".into()),
                closed_ms.map(|c| c.to_string()).unwrap_or("never".into()),
                first_on("renewals"),
                first_on("winback")
            ),
        ),
        check(
            "the person's choices stand",
            puts(MESSAGING, "reminders") == ["off"]
                && g.status(MESSAGING, "reminders") == "on"
                && puts(VOICE, "survey").is_empty()
                && g.status(VOICE, "survey") == "off",
            format!(
                "SMS reminders: PUTs {:?}, now {}; survey: PUTs {:?}, now {}",
                puts(MESSAGING, "reminders"),
                g.status(MESSAGING, "reminders"),
                puts(VOICE, "survey"),
                g.status(VOICE, "survey")
            ),
        ),
        check(
            "the ledger says what was left, and why",
            entries.len() == 1
                && left.is_some_and(|e| e.stage == LedgerStage::Left)
                && left_note.contains("by someone at 2026-11-28T02:41:00Z"),
            format!("{} ledger item(s); {left_note}", entries.len()),
        ),
        check(
            "paged once, resolved once",
            incidents.len() == 1 && incidents.iter().all(|i| i.triggers == 1 && i.resolves == 1),
            format!(
                "{} incident(s); triggers {:?}, resolves {:?}",
                incidents.len(),
                incidents.iter().map(|i| i.triggers).collect::<Vec<_>>(),
                incidents.iter().map(|i| i.resolves).collect::<Vec<_>>()
            ),
        ),
    ];
    checks.push(retrip_during_resume(&st, &emu, &g, &mut obs).await?);
    let mut marks = st.page_marks();
    marks.extend(campaign_marks(&g, started));
    marks.sort_by_key(|m| m.t_ms);
    Ok(Scenario::new(
        "campaign-pause",
        &format!("Guide: outbound campaigns pause safely. The CRM goes down → the three dialing campaigns are turned off within seconds (one 409 on the way); a supervisor turns one back on mid-outage; the CRM recovers → after the {RESUME_DELAY_S} s resume delay exactly the two untouched campaigns are turned back on, and a campaign a person had paused before is never touched. Then a second outage, whose recovery's resume meets a re-trip (resuming dialling is load on the CRM): every campaign stays off for the third outage, and is turned on after it. Real time; the probe runs every half second."),
        checks,
        obs,
    )
    .with_marks(marks))
}

/// The CRM fails until the breaker is OPEN.
async fn fail_until_open(
    st: &Stage,
    emu: &failsoft_testkit::Emulator,
    obs: &mut Vec<Observation>,
) -> anyhow::Result<bool> {
    st.sf.fault(API_PREFIX, Fault::Status(503), None);
    for _ in 0..12 {
        let (o, _) = st.lookup(emu, "crm-lookup", "crm").await?;
        let open = o.breaker == "OPEN";
        obs.push(o);
        if open {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A second outage; its recovery's resume, slowed by a degraded Genesys, meets a
/// re-trip of the CRM after its first PUT `on`. The third outage's pause holds every
/// campaign: none dials through it (checked for ten seconds), and its own recovery
/// turns them all on.
async fn retrip_during_resume(
    st: &Stage,
    emu: &failsoft_testkit::Emulator,
    g: &FakeGenesys,
    obs: &mut Vec<Observation>,
) -> anyhow::Result<crate::report::Check> {
    let dialing = |g: &FakeGenesys| {
        DIALING
            .iter()
            .filter(|(p, id)| g.status(p, id) == "on")
            .count()
    };
    let opened = fail_until_open(st, emu, obs).await?;
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end && dialing(g) > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let paused = dialing(g) == 0;
    // Recovery, with a slow Genesys: the resume takes seconds.
    g.server
        .fault(VOICE, Fault::Slow(Duration::from_millis(700)), None);
    st.sf.clear_faults();
    let resume_began = Instant::now();
    let on_puts = |g: &FakeGenesys| {
        DIALING
            .iter()
            .map(|(p, id)| put_times(g, p, id, "on", resume_began).len())
            .sum::<usize>()
    };
    let end = Instant::now() + Duration::from_secs(RESUME_DELAY_S + 20);
    while Instant::now() < end && on_puts(g) == 0 {
        let (o, _) = st.probe(emu, "health-probe", "crm").await?;
        obs.push(o);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first_on = on_puts(g) > 0;
    // The re-trip, while the resume is under way.
    let reopened = fail_until_open(st, emu, obs).await?;
    let mut worst = 0;
    let end = Instant::now() + Duration::from_secs(10);
    let mut held_since: Option<Instant> = None;
    while Instant::now() < end {
        let on = dialing(g);
        if on == 0 && held_since.is_none() {
            held_since = Some(Instant::now());
        }
        if held_since.is_some_and(|t| t.elapsed() > Duration::from_secs(3)) {
            worst = worst.max(on);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let held = held_since.is_some() && worst == 0 && dialing(g) == 0;
    // The third outage ends: every campaign back on.
    g.server.clear_faults();
    st.sf.clear_faults();
    let end = Instant::now() + Duration::from_secs(RESUME_DELAY_S + 25);
    while Instant::now() < end && dialing(g) < DIALING.len() {
        let (o, _) = st.probe(emu, "health-probe", "crm").await?;
        obs.push(o);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let back = dialing(g) == DIALING.len();
    Ok(check(
        "a re-trip during the resume keeps every campaign off",
        opened && paused && first_on && reopened && held && back,
        format!(
            "second outage paused all: {paused}; its resume's first PUT on seen: {first_on}; re-tripped: {reopened}; all off within 3 s of the re-trip and for the rest of 10 s: {held} (most on meanwhile: {worst}); all on after the third outage: {back}"
        ),
    ))
}
