//! The token services down: cached tokens serve until they really expire, then callers
//! get `auth_unavailable` at once; the token endpoints are spared; recovery needs no one.

use std::time::{Duration, Instant};

use failsoft::clock::iso8601;
use failsoft_testkit::fakes::http::{FakeServer, Fault, Response};
use failsoft_testkit::fakes::salesforce::TOKEN_PATH;
use serde_json::{json, Value};

use crate::report::{check, Observation, Scenario};
use crate::stage::{is_fallback, within_deadline, Stage};
use crate::Options;

/// The Genesys token's life: short, so that it passes its refresh point (half its life)
/// and its expiry inside the scenario, on the real clock.
const GENESYS_TOKEN_S: u64 = 6;
const LOGIN_PATH: &str = "/oauth/token";

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What the drill saw of one phase of the scenario.
#[derive(Default)]
struct Seen {
    lookups: Vec<(Observation, Value)>,
    /// token-cache's Genesys row, and the wall-clock time the request for it was sent:
    /// the row was made after it, so a token in a row asked for before its expiry was
    /// not served past it, and one asked for after was.
    reports: Vec<(Observation, Value, i64)>,
}

struct Play<'a> {
    st: &'a Stage,
    emu: &'a failsoft_testkit::Emulator,
}

impl Play<'_> {
    async fn lookup(&self, seen: &mut Seen) -> anyhow::Result<()> {
        let (o, v) = self.st.lookup(self.emu, "crm-lookup", "crm-auth").await?;
        seen.lookups.push((o, v));
        Ok(())
    }

    async fn genesys_token(&self, seen: &mut Seen) -> anyhow::Result<()> {
        let asked_at = wall_ms();
        let t = Instant::now();
        let out = self
            .emu
            .invoke("token-cache", &json!({"provider": "genesys"}))
            .await?;
        let latency_ms = t.elapsed().as_millis() as u64;
        let row = out["providers"][0].clone();
        let answer = match row["source"].as_str() {
            Some(s) => format!(
                "genesys token: {s}, expires {}",
                row["expiresAt"].as_str().unwrap_or("?")
            ),
            None => format!(
                "genesys token: none ({})",
                row["error"].as_str().unwrap_or("?")
            ),
        };
        seen.reports.push((
            Observation {
                t_ms: self.st.t_ms(),
                what: "token-cache".into(),
                answer,
                latency_ms,
                dependency: "genesys-auth".into(),
                breaker: self.st.state("genesys-auth").await,
                alerts: self.st.pd.incidents().len(),
            },
            row,
            asked_at,
        ));
        Ok(())
    }
}

pub async fn down(opts: &Options) -> anyhow::Result<Scenario> {
    let mut st = Stage::new().await?;
    let login = FakeServer::start(|req, _| {
        if req.path == LOGIN_PATH && req.method == "POST" {
            return Response::json(
                200,
                &json!({"access_token": "gc-token", "token_type": "bearer", "expires_in": GENESYS_TOKEN_S}),
            );
        }
        Response::json(404, &json!({"message": "not found"}))
    })
    .await?;
    let secret = st.genesys_secret().await?;
    let login_url = format!("{}{LOGIN_PATH}", login.url);
    let env = [
        ("GENESYS_SECRET_ID", secret.as_str()),
        ("GENESYS_LOGIN_URL", login_url.as_str()),
        ("BREAKER_CRM_AUTH_RECOVERY_TIMEOUT_S", "1"),
        ("BREAKER_GENESYS_AUTH_RECOVERY_TIMEOUT_S", "1"),
    ];
    let emu = st.emulator(&env, opts).await?;
    emu.invoke("crm-lookup", &json!({"ani": "anonymous"}))
        .await?; // warm: may build
    st.start_clock();
    let play = Play { st: &st, emu: &emu };

    // Healthy: both tokens fetched once and cached.
    let mut before = Seen::default();
    play.genesys_token(&mut before).await?;
    play.lookup(&mut before).await?;

    // Both token services go down. Salesforce's session lives on for a while; the
    // Genesys token runs out on its own clock.
    st.sf.fault(TOKEN_PATH, Fault::Status(503), None);
    login.fault(LOGIN_PATH, Fault::Status(503), None);
    let outage = Instant::now();
    let mut cached = Seen::default();
    while outage.elapsed() < Duration::from_millis(GENESYS_TOKEN_S * 1000 + 1_500) {
        play.lookup(&mut cached).await?;
        play.genesys_token(&mut cached).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let sf_tokens_cached = st.sf.count(TOKEN_PATH);

    // The Salesforce session times out: the CRM refuses the cached token (401).
    st.sessions.end();
    let mut expired = Seen::default();
    let mut sf_tokens_at_open = None;
    for _ in 0..8 {
        play.lookup(&mut expired).await?;
        if sf_tokens_at_open.is_none() && st.state("crm-auth").await == "OPEN" {
            sf_tokens_at_open = Some(st.sf.count(TOKEN_PATH));
        }
    }
    let sf_tokens_expired = st.sf.count(TOKEN_PATH);

    // The token services return. Nobody acts: the next scheduled probe closes the breakers.
    st.sf.clear_faults();
    login.clear_faults();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (probe_obs, probe_out) = st.probe(&emu, "health-probe", "crm-auth").await?;
    let mut after = Seen::default();
    play.lookup(&mut after).await?;
    play.genesys_token(&mut after).await?;

    let all_lookups: Vec<Observation> = [&before, &cached, &expired, &after]
        .iter()
        .flat_map(|s| s.lookups.iter().map(|(o, _)| o.clone()))
        .collect();
    let served_cached = cached
        .lookups
        .iter()
        .all(|(o, _)| o.answer.starts_with("found"));
    let stale_then_expired = {
        let with_token: Vec<_> = cached
            .reports
            .iter()
            .filter(|(_, r, _)| r["source"].is_string())
            .collect();
        let none: Vec<_> = cached
            .reports
            .iter()
            .filter(|(_, r, _)| r["source"].is_null())
            .collect();
        let served_before_expiry = with_token.iter().all(|(_, r, at)| {
            r["expiresAt"]
                .as_str()
                .is_some_and(|e| e > iso8601(*at).as_str())
        });
        let stale = with_token.iter().any(|(_, r, _)| r["source"] == "stale");
        let refused_after = none.iter().all(|(_, r, _)| r["degraded"] == true)
            && none.last().is_some_and(|(_, _, at)| {
                with_token
                    .first()
                    .and_then(|(_, r, _)| {
                        r["expiresAt"].as_str().map(|e| iso8601(*at).as_str() >= e)
                    })
                    .unwrap_or(false)
            });
        // The times, so that a failure says which condition missed.
        let expiry = with_token
            .first()
            .and_then(|(_, r, _)| r["expiresAt"].as_str())
            .unwrap_or("?");
        let last_none = none
            .last()
            .map_or("none".to_string(), |(_, _, at)| iso8601(*at));
        let errors: Vec<&str> = none
            .iter()
            .filter_map(|(_, r, _)| r["error"].as_str())
            .collect();
        (served_before_expiry && stale && refused_after, format!(
            "{} reports with the token ({} stale), all asked for before its expiry: {served_before_expiry}; {} after it, none with a token: {refused_after} (expiry {expiry}, last without a token asked {last_none}; {errors:?})",
            with_token.len(),
            with_token.iter().filter(|(_, r, _)| r["source"] == "stale").count(),
            none.len()
        ))
    };
    let auth_unavailable = expired
        .lookups
        .iter()
        .all(|(_, v)| is_fallback(v) && v["degradedReason"] == "auth_unavailable");
    let paged = |b: &str| {
        let inc = st.incidents(b);
        let runbook_ok = inc.iter().all(|i| {
            i.trigger["payload"]["custom_details"]["runbook"]
                .as_str()
                .is_some_and(|r| r.ends_with("token-outage.md"))
        });
        (inc.len() == 1 && inc[0].triggers == 1 && runbook_ok, inc)
    };
    let (crm_paged, crm_inc) = paged("crm-auth");
    let (gc_paged, gc_inc) = paged("genesys-auth");
    // A token failure must not count against the CRM: its breaker never moved.
    let crm = st.record("crm").await;
    let (crm_transitions, crm_failures) =
        crm.as_ref().map_or((0, 0), |r| (r.generation, r.failures));
    let recovered = after
        .lookups
        .iter()
        .all(|(o, _)| o.answer.starts_with("found"))
        && after
            .reports
            .iter()
            .all(|(_, r, _)| r["source"].is_string())
        && st.state("crm-auth").await == "CLOSED"
        && st.state("genesys-auth").await == "CLOSED";
    let resolved = crm_inc.iter().chain(gc_inc.iter()).all(|i| i.resolved);
    let checks = vec![
        within_deadline(&all_lookups),
        check(
            "cached CRM token serves calls through the outage",
            served_cached && !cached.lookups.is_empty(),
            format!(
                "{} calls during the token outage answered with the CRM record; {} token requests",
                cached.lookups.len(),
                sf_tokens_cached
            ),
        ),
        check(
            "stale Genesys token served until its real expiry",
            stale_then_expired.0,
            stale_then_expired.1,
        ),
        check(
            "auth_unavailable once the token expired",
            auth_unavailable && !expired.lookups.is_empty(),
            format!(
                "after the session ended: {}",
                expired
                    .lookups
                    .iter()
                    .map(|(o, _)| o.answer.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        check(
            "token endpoint spared once crm-auth opened",
            sf_tokens_at_open.is_some_and(|n| n == sf_tokens_expired),
            match sf_tokens_at_open {
                Some(n) => format!(
                    "{} token requests after the breaker opened",
                    sf_tokens_expired - n
                ),
                None => "crm-auth never opened".into(),
            },
        ),
        check(
            "CRM not blamed for the token outage",
            crm_transitions == 0 && crm_failures == 0,
            format!("crm breaker: {crm_transitions} transitions, {crm_failures} failures counted"),
        ),
        check(
            "paged once per token service, with the token-outage runbook",
            crm_paged && gc_paged,
            format!(
                "crm-auth: {} incident(s); genesys-auth: {} incident(s)",
                crm_inc.len(),
                gc_inc.len()
            ),
        ),
        check(
            "recovers with no one acting",
            recovered && resolved,
            format!(
                "probe: {}; incidents resolved: {resolved}",
                probe_out["dependencies"]
            ),
        ),
    ];
    let mut timeline: Vec<Observation> = [&before, &cached, &expired]
        .iter()
        .flat_map(|s| {
            s.lookups
                .iter()
                .map(|(o, _)| o.clone())
                .chain(s.reports.iter().map(|(o, _, _)| o.clone()))
        })
        .collect();
    timeline.push(probe_obs);
    timeline.extend(after.lookups.into_iter().map(|(o, _)| o));
    timeline.extend(after.reports.into_iter().map(|(o, _, _)| o));
    timeline.sort_by_key(|o| o.t_ms);
    Ok(Scenario::new(
        "token-down",
        "Guide: OAuth token service down → serve cached tokens until they really expire, then answer auth_unavailable and route without CRM context; page; recover unattended.",
        checks,
        timeline,
    )
    .with_marks(st.page_marks()))
}
