//! Regional overflow. `region-overflow`: the primary region's API fails and
//! `genesys-api` opens; an operator runs `failsoft overflow activate` (the real binary),
//! timed from the command to the emergency group's PUT; the on-call hears of it (info
//! page) and the board shows it; the region recovers and the operator returns. Then the
//! same outage in automatic mode: the breaker's OPEN enables the group, its recovery
//! disables it after the delay; and once more with an operator taking over mid-outage,
//! whose activation the recovery leaves alone. `backup-not-ready`: the backup region's
//! flow is unpublished; one low-urgency page says so, and the board says why.

use std::process::Command;
use std::time::{Duration, Instant};

use failsoft_testkit::fakes::genesys::{FakeGenesys, EMERGENCY, HEALTH_PATH};
use failsoft_testkit::fakes::http::Fault;
use failsoft_testkit::{cli_binary, create_secret, Emulator};
use serde_json::{json, Value};

use crate::report::{check, Mark, MarkKind, Observation, Scenario};
use crate::stage::{Functions, Stage};
use crate::Options;

const GROUP: &str = "eg-1";
const IVRS: [&str; 3] = ["ivr-main", "ivr-sales", "ivr-support"];
const FLOW: &str = "Backup inbound";
const DIDS: &str = "+61290000000,+61290000001";
const RESTORE_DELAY_S: u64 = 3;
/// Two failed checks open `genesys-api` here (5 by default): the drill's time is short.
const THRESHOLD: usize = 2;

/// The primary region, the backup region, and what the functions and the CLI are told.
struct Regions {
    primary: FakeGenesys,
    backup: FakeGenesys,
    env: Vec<(String, String)>,
}

impl Regions {
    async fn new(st: &Stage) -> anyhow::Result<Regions> {
        let primary = FakeGenesys::start().await?;
        primary.add_group(GROUP, "Regional overflow", &IVRS);
        // The backup org's client is read-only, as the README says it may be.
        let backup =
            FakeGenesys::start_granted(failsoft_testkit::contract::genesys::BACKUP_CLIENT).await?;
        backup.set_flow(FLOW, true);
        for d in DIDS.split(',') {
            backup.set_did(d, true);
        }
        let secret = st.genesys_secret().await?;
        let backup_secret = format!("backup-{}", st.table);
        create_secret(
            &st.moto_url,
            &backup_secret,
            &json!({"client_id": "backup", "client_secret": "s"}),
        )
        .await?;
        let env = [
            ("GENESYS_SECRET_ID", secret),
            ("GENESYS_API_URL", primary.server.url.clone()),
            (
                "GENESYS_LOGIN_URL",
                format!("{}/oauth/token", primary.server.url),
            ),
            (
                "BREAKER_GENESYS_API_FAILURE_THRESHOLD",
                THRESHOLD.to_string(),
            ),
            ("BREAKER_GENESYS_API_RECOVERY_TIMEOUT_S", "1".into()),
            ("BREAKER_GENESYS_BACKUP_RECOVERY_TIMEOUT_S", "1".into()),
            ("OVERFLOW_EMERGENCY_GROUP_ID", GROUP.into()),
            ("OVERFLOW_RESTORE_DELAY_S", RESTORE_DELAY_S.to_string()),
            ("BACKUP_GENESYS_API_URL", backup.server.url.clone()),
            (
                "BACKUP_GENESYS_LOGIN_URL",
                format!("{}/oauth/token", backup.server.url),
            ),
            ("BACKUP_GENESYS_SECRET_ID", backup_secret),
            ("BACKUP_FLOW_NAME", FLOW.into()),
            ("BACKUP_DIDS", DIDS.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Ok(Regions {
            primary,
            backup,
            env,
        })
    }

    /// The functions, with `extra` (the automatic mode) on top.
    async fn functions(
        &self,
        st: &Stage,
        extra: &[(&str, &str)],
        opts: &Options,
    ) -> anyhow::Result<Functions> {
        let mut env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        env.extend(extra.iter().copied());
        let emu = st.emulator(&env, opts).await?;
        emu.invoke("health-probe", &json!({"source": "schedule"}))
            .await?;
        board(&emu).await?;
        Ok(emu)
    }

    fn enabled(&self) -> bool {
        self.primary.group(GROUP)["enabled"] == true
    }

    fn ivrs(&self) -> usize {
        self.primary.group(GROUP)["emergencyCallFlows"][0]["ivrs"]
            .as_array()
            .map_or(0, Vec::len)
    }

    /// Every PUT to the group since `started`: (when, enabled).
    fn puts(&self, started: Instant) -> Vec<(u64, bool)> {
        self.primary
            .server
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.path.starts_with(EMERGENCY) && r.at >= started)
            .map(|r| {
                let v: Value = serde_json::from_str(&r.body).unwrap_or_default();
                (
                    r.at.duration_since(started).as_millis() as u64,
                    v["enabled"] == true,
                )
            })
            .collect()
    }

    fn marks(&self, started: Instant) -> Vec<Mark> {
        self.puts(started)
            .into_iter()
            .map(|(t_ms, on)| Mark {
                t_ms,
                kind: if on {
                    MarkKind::SwitchedOn
                } else {
                    MarkKind::SwitchedOff
                },
                label: format!(
                    "emergency group {}",
                    if on { "enabled" } else { "disabled" }
                ),
            })
            .collect()
    }

    /// `failsoft overflow <args>` as an operator runs it: its output and how long it took.
    fn operator(&self, st: &Stage, args: &[&str]) -> anyhow::Result<(Value, Duration, bool)> {
        let started = Instant::now();
        let out = Command::new(cli_binary()?)
            .args(["overflow"])
            .args(args)
            .args(["--yes", "--json", "--by", "drill-operator"])
            .envs(Emulator::aws_env(&st.moto_url, &st.table))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::null())
            .output()?;
        let took = started.elapsed();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(
            |_| json!({"stderr": String::from_utf8_lossy(&out.stderr).to_string()}),
        );
        Ok((v, took, out.status.success()))
    }
}

async fn board(emu: &Emulator) -> anyhow::Result<Value> {
    let url = format!(
        "http://127.0.0.1:{}/lambda-url/queue-metrics/board.json",
        emu.port
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(900))
        .build()?;
    Ok(http.get(&url).send().await?.json().await?)
}

/// Probe until `dep` is in `state` (at most `n` runs); the observations.
async fn probe_until(
    st: &Stage,
    emu: &Emulator,
    dep: &str,
    state: &str,
    n: usize,
) -> anyhow::Result<Vec<Observation>> {
    let mut obs = Vec::new();
    for _ in 0..n {
        let (o, _) = st.probe(emu, "health-probe", dep).await?;
        let done = o.breaker == state;
        obs.push(o);
        if done {
            break;
        }
    }
    Ok(obs)
}

/// Wait (the drill's schedule) until the group is `enabled`, or `within` passes.
async fn group_becomes(r: &Regions, enabled: bool, within: Duration) -> Option<Duration> {
    let t = Instant::now();
    while t.elapsed() < within {
        if r.enabled() == enabled {
            return Some(t.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn note(st: &Stage, what: &str, answer: String) -> Observation {
    Observation {
        t_ms: st.t_ms(),
        what: what.into(),
        answer,
        latency_ms: 0,
        dependency: String::new(),
        breaker: String::new(),
        alerts: st.pd.incidents().len(),
    }
}

/// Whether PagerDuty received an `action` event of the overflow's incident, among its
/// requests from the `since`-th on, within `within`.
async fn overflow_event(st: &Stage, since: usize, action: &str, within: Duration) -> bool {
    let end = Instant::now() + within;
    loop {
        let seen = st.pd.requests()[since..]
            .iter()
            .any(|(a, key)| a == action && key == "genesys-api/overflow");
        if seen || Instant::now() > end {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn region_overflow(opts: &Options) -> anyhow::Result<Scenario> {
    let mut st = Stage::new().await?;
    let r = Regions::new(&st).await?;
    // Built before the clock starts: the operator's binary is on their laptop already.
    let _ = cli_binary()?;
    let mut obs: Vec<Observation> = Vec::new();

    // Run 1, by hand.
    let emu = r.functions(&st, &[], opts).await?;
    st.start_clock();
    let started = st.started;
    let (o, out) = st.probe(&emu, "health-probe", "genesys-api").await?;
    obs.push(o);
    let backup_ready = out["dependencies"].as_array().is_some_and(|d| {
        d.iter()
            .any(|x| x["name"] == "genesys-backup" && x["healthy"] == true)
    });
    r.primary
        .server
        .fault(HEALTH_PATH, Fault::Status(503), None);
    obs.extend(probe_until(&st, &emu, "genesys-api", "OPEN", THRESHOLD + 2).await?);
    let opened = st.state("genesys-api").await == "OPEN";
    let region_pages = st
        .incidents_within("genesys-api", 1, Duration::from_secs(10))
        .await;
    let critical = region_pages
        .iter()
        .filter(|i| i.trigger["payload"]["severity"] == "critical")
        .count();

    let cmd_at = Instant::now();
    let (report, took, ok) = r.operator(
        &st,
        &["activate", "--reason", "drill: primary region API failing"],
    )?;
    let to_put = r
        .puts(cmd_at)
        .first()
        .map(|(t, _)| Duration::from_millis(*t));
    obs.push(note(
        &st,
        "failsoft overflow activate",
        format!(
            "exit {}; group {} in {} ms (command {} ms); {} of {} IVRs",
            if ok { "0" } else { "1" },
            if r.enabled() {
                "enabled"
            } else {
                "NOT enabled"
            },
            to_put.map_or("—".into(), |d| d.as_millis().to_string()),
            took.as_millis(),
            report["ivrsAfter"],
            report["ivrsBefore"]
        ),
    ));
    let manual_ivrs = r.ivrs();
    let info = st
        .incidents_within("genesys-api", 2, Duration::from_secs(10))
        .await
        .into_iter()
        .find(|i| i.dedup_key == "genesys-api/overflow");
    let info_severity = info
        .as_ref()
        .map(|i| i.trigger["payload"]["severity"].clone())
        .unwrap_or(Value::Null);
    let b = board(&emu).await?;
    obs.push(note(
        &st,
        "status board",
        format!("overflow {}; {}", b["overflow"], b["backup"]["text"]),
    ));
    let board_shows = b["overflow"]["active"] == true
        && b["overflow"]["by"] == "drill-operator"
        && b["backup"]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Backup region: ready, checked"));

    // The region recovers; the operator returns callers to the primary.
    r.primary.server.clear_faults();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    obs.extend(probe_until(&st, &emu, "genesys-api", "CLOSED", 3).await?);
    let still_on_after_recovery = r.enabled();
    let (_, _, back_ok) = r.operator(&st, &["deactivate", "--reason", "drill: region healthy"])?;
    let returned = back_ok && !r.enabled() && r.ivrs() == IVRS.len();
    obs.push(note(
        &st,
        "failsoft overflow deactivate",
        format!(
            "group {}",
            if r.enabled() {
                "still enabled"
            } else {
                "disabled"
            }
        ),
    ));
    drop(emu);

    // Run 2: automatic mode.
    let emu = r
        .functions(&st, &[("OVERFLOW_AUTO_ON", "genesys-api")], opts)
        .await?;
    // A degraded region loses the switch's confirmation: the PUT lands and its answer
    // never comes (the connection resets), then the next two reads answer 503.
    let pages_before = st.pd.requests().len();
    r.primary.server.faults_in_turn(
        &format!("{EMERGENCY}/{GROUP}"),
        &[
            Fault::Slow(Duration::ZERO),
            Fault::Slow(Duration::ZERO),
            Fault::ResetAfterHandling,
            Fault::Status(503),
            Fault::Status(503),
        ],
    );
    r.primary
        .server
        .fault(HEALTH_PATH, Fault::Status(503), None);
    obs.extend(probe_until(&st, &emu, "genesys-api", "OPEN", THRESHOLD + 2).await?);
    let auto_on = group_becomes(&r, true, Duration::from_secs(15)).await;
    // Still Failsoft's switch: paged ACTIVE (and later resolved by the restore).
    let lost_paged = overflow_event(&st, pages_before, "trigger", Duration::from_secs(15)).await;
    obs.push(note(
        &st,
        "outage-actions (stream)",
        format!(
            "group {} {} ms after the breaker opened",
            if auto_on.is_some() {
                "enabled"
            } else {
                "NOT enabled"
            },
            auto_on.map_or(0, |d| d.as_millis())
        ),
    ));
    let auto_ivrs = r.ivrs();
    r.primary.server.clear_faults();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    obs.extend(probe_until(&st, &emu, "genesys-api", "CLOSED", 3).await?);
    let held_during_delay = r.enabled();
    tokio::time::sleep(Duration::from_secs(RESTORE_DELAY_S) + Duration::from_millis(300)).await;
    // The next scheduled probe runs the restore that is now due.
    let (o, _) = st.probe(&emu, "health-probe", "genesys-api").await?;
    obs.push(o);
    let auto_off = group_becomes(&r, false, Duration::from_secs(10))
        .await
        .is_some();
    let lost_resolved = overflow_event(&st, pages_before, "resolve", Duration::from_secs(10)).await;
    obs.push(note(
        &st,
        "restore after the delay",
        format!(
            "group {}",
            if r.enabled() {
                "still enabled"
            } else {
                "disabled"
            }
        ),
    ));

    // Once more, and an operator takes over mid-outage: their switch stands.
    r.primary
        .server
        .fault(HEALTH_PATH, Fault::Status(503), None);
    obs.extend(probe_until(&st, &emu, "genesys-api", "OPEN", THRESHOLD + 2).await?);
    let again_on = group_becomes(&r, true, Duration::from_secs(15))
        .await
        .is_some();
    let (_, _, took_over) = r.operator(
        &st,
        &["activate", "--reason", "drill: staying on the backup"],
    )?;
    r.primary.server.clear_faults();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    obs.extend(probe_until(&st, &emu, "genesys-api", "CLOSED", 3).await?);
    tokio::time::sleep(Duration::from_secs(RESTORE_DELAY_S) + Duration::from_millis(300)).await;
    let (o, _) = st.probe(&emu, "health-probe", "genesys-api").await?;
    obs.push(o);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let left_alone = r.enabled();
    obs.push(note(
        &st,
        "after the recovery and the delay",
        format!(
            "group {} (the operator's activation)",
            if left_alone {
                "still enabled"
            } else {
                "DISABLED"
            }
        ),
    ));
    let puts: Vec<bool> = r.puts(started).into_iter().map(|(_, on)| on).collect();
    let marks: Vec<Mark> = st
        .page_marks()
        .into_iter()
        .chain(r.marks(started))
        .collect();

    let checks = vec![
        check(
            "the region's failure opens genesys-api and pages",
            opened && critical == 1,
            format!("genesys-api opened: {opened}; {critical} critical incident(s)"),
        ),
        check(
            "one command enables the group, well under 30 s",
            ok && to_put.is_some_and(|d| d < Duration::from_secs(30)),
            format!(
                "`failsoft overflow activate`: PUT {} ms after the command, exit after {} ms",
                to_put.map_or("—".into(), |d| d.as_millis().to_string()),
                took.as_millis()
            ),
        ),
        check(
            "every IVR link intact",
            manual_ivrs == IVRS.len() && auto_ivrs == IVRS.len(),
            format!("after the manual switch {manual_ivrs}, after the automatic one {auto_ivrs} (of {})", IVRS.len()),
        ),
        check(
            "the on-call hears of the switch, and the board shows it",
            info_severity == "info" && board_shows,
            format!("info page severity {info_severity}; board {}", b["overflow"]),
        ),
        check(
            "the backup was proven ready",
            backup_ready && board_shows,
            format!("genesys-backup healthy at the first probe: {backup_ready}"),
        ),
        check(
            "a manual switch is never undone by recovery; the operator returns by command",
            still_on_after_recovery && returned,
            format!("still on after recovery: {still_on_after_recovery}; deactivated: {returned}"),
        ),
        check(
            "automatic mode: OPEN enables, recovery disables after the delay",
            auto_on.is_some() && held_during_delay && auto_off,
            format!(
                "enabled {} ms after OPEN; held through the {RESTORE_DELAY_S} s delay: {held_during_delay}; restored: {auto_off}",
                auto_on.map_or(0, |d| d.as_millis())
            ),
        ),
        check(
            "a switch whose confirmation is lost is still paged and undone",
            auto_on.is_some() && lost_paged && auto_off && lost_resolved,
            format!(
                "the PUT's answer lost, the next two reads 503: enabled {}; paged ACTIVE: {lost_paged}; restored: {auto_off}; page resolved: {lost_resolved}",
                auto_on.is_some()
            ),
        ),
        check(
            "an operator's takeover stands after recovery",
            again_on && took_over && left_alone,
            format!("auto on again: {again_on}; takeover: {took_over}; left enabled: {left_alone}"),
        ),
        check(
            "each switch made once",
            puts == [true, false, true, false, true],
            format!("PUTs to the group, in order (true = enable): {puts:?}"),
        ),
    ];
    Ok(Scenario::new(
        "region-overflow",
        "Guide: a partial regional outage → move callers to the backup region in under 5 minutes. Here one command does it in seconds, IVR links intact, and the automatic mode undoes only its own switch, even one whose confirmation the degraded region lost.",
        checks,
        obs,
    )
    .with_marks(marks))
}

pub async fn backup_not_ready(opts: &Options) -> anyhow::Result<Scenario> {
    let mut st = Stage::new().await?;
    let r = Regions::new(&st).await?;
    let emu = r.functions(&st, &[], opts).await?;
    st.start_clock();
    let mut obs: Vec<Observation> = Vec::new();
    obs.extend(probe_until(&st, &emu, "genesys-backup", "CLOSED", 1).await?);
    let ready_first = st.state("genesys-backup").await == "CLOSED";

    // Someone saves a draft over the backup flow and unpublishes it.
    r.backup.set_flow(FLOW, false);
    obs.extend(probe_until(&st, &emu, "genesys-backup", "OPEN", 3).await?);
    let opened = st.state("genesys-backup").await == "OPEN";
    let pages = st
        .incidents_within("genesys-backup", 1, Duration::from_secs(10))
        .await;
    let page = pages.first();
    let severity = page
        .map(|i| i.trigger["payload"]["severity"].clone())
        .unwrap_or(Value::Null);
    let summary = page
        .and_then(|i| i.trigger["payload"]["summary"].as_str().map(str::to_string))
        .unwrap_or_default();
    let b = board(&emu).await?;
    let text = b["backup"]["text"].as_str().unwrap_or_default().to_string();
    obs.push(note(&st, "status board", text.clone()));
    // Callers are not affected: the primary region is healthy, nothing critical paged.
    let primary_fine = st.state("genesys-api").await == "CLOSED"
        && st
            .pd
            .incidents()
            .iter()
            .all(|i| i.trigger["payload"]["severity"] != "critical");

    r.backup.set_flow(FLOW, true);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    obs.extend(probe_until(&st, &emu, "genesys-backup", "CLOSED", 3).await?);
    let resolved = st.incidents("genesys-backup").iter().all(|i| i.resolved)
        && st.state("genesys-backup").await == "CLOSED";

    let checks = vec![
        check(
            "a ready backup is proven so",
            ready_first,
            "genesys-backup CLOSED after the first probe (login, flow published, DIDs routed)"
                .to_string(),
        ),
        check(
            "an unpublished flow opens genesys-backup",
            opened,
            format!("genesys-backup {}", st.state("genesys-backup").await),
        ),
        check(
            "one low-urgency page that says why",
            pages.len() == 1
                && page.is_some_and(|p| p.triggers == 1)
                && severity == "warning"
                && summary
                    .contains("flow \"Backup inbound\" is not published in the backup region"),
            format!("{} page(s), severity {severity}: {summary:?}", pages.len()),
        ),
        check(
            "the board says why",
            text.starts_with("Backup region: NOT READY") && text.contains("not published"),
            text.clone(),
        ),
        check(
            "callers are not affected",
            primary_fine,
            "genesys-api CLOSED, no critical page".to_string(),
        ),
        check(
            "resolved once the flow is published again",
            resolved,
            format!("genesys-backup {}", st.state("genesys-backup").await),
        ),
    ];
    Ok(Scenario::new(
        "backup-not-ready",
        "Beyond the guide: the backup region is proven ready every minute, so an overflow never meets an untested backup. Here its flow is unpublished.",
        checks,
        obs,
    )
    .with_marks(st.page_marks()))
}
