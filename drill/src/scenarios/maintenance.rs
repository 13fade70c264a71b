//! The guide's edge case 1: the CRM's 2–4 AM maintenance with no calls at all. The
//! one-minute probe alone opens the breaker, keeps it honest through the window, and
//! closes it at 4 AM, so morning agents start with CRM data.
//!
//! Simulated time, on the real clock: one scheduled probe run per simulated minute,
//! `TICK_MS` apart, and the breaker's recovery timeout scaled by the same factor (30 s of
//! a 60 s minute). Everything else is the real binaries doing what they do.

use std::time::{Duration, Instant};

use failsoft_testkit::fakes::http::Fault;
use failsoft_testkit::fakes::salesforce::API_PREFIX;

use crate::report::{check, Clock, Observation, Scenario};
use crate::stage::{until, Stage};
use crate::Options;

/// One simulated minute.
const TICK_MS: u64 = 250;
const FIRST: u32 = 118; // 01:58
const WINDOW: (u32, u32) = (120, 240); // 02:00–04:00
const LAST: u32 = 245; // 04:05
const MORNING: u32 = 480; // 08:00

fn hhmm(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

pub async fn window(opts: &Options) -> anyhow::Result<Scenario> {
    let mut st = Stage::new().await?;
    let recovery_s = format!("{}", 30.0 * TICK_MS as f64 / 60_000.0);
    let emu = st
        .emulator(&[("BREAKER_CRM_RECOVERY_TIMEOUT_S", &recovery_s)], opts)
        .await?;
    emu.invoke("health-probe", &serde_json::json!({})).await?; // warm: may build
    st.start_clock();
    let searches = |st: &Stage| {
        st.sf
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/search/"))
            .count()
    };
    let searches_before = searches(&st);
    let mut obs: Vec<(u32, Observation)> = Vec::new();
    let mut next = Instant::now();
    for minute in FIRST..=LAST {
        // A full tick between runs even when a run is slow, so a due recovery timeout
        // stays due (30 s of the 60 s between real runs).
        until(next).await;
        next = Instant::now() + Duration::from_millis(TICK_MS);
        if minute == WINDOW.0 {
            st.sf.fault(API_PREFIX, Fault::Status(503), None);
        }
        if minute == WINDOW.1 {
            st.sf.clear_faults();
        }
        let (o, _) = st
            .probe(&emu, &format!("{} health-probe", hhmm(minute)), "crm")
            .await?;
        obs.push((minute, o));
    }
    let night_searches = searches(&st) - searches_before;
    let (morning, v) = st
        .lookup(&emu, &format!("{} first call", hhmm(MORNING)), "crm")
        .await?;

    let first =
        |pred: &dyn Fn(&(u32, Observation)) -> bool| obs.iter().find(|x| pred(x)).map(|(m, _)| *m);
    let opened = first(&|(m, o)| *m >= WINDOW.0 && o.breaker == "OPEN");
    let closed = first(&|(m, o)| *m >= WINDOW.1 && o.breaker == "CLOSED");
    let closing = obs
        .iter()
        .find(|(m, _)| Some(*m) == closed)
        .map(|(_, o)| o.answer.clone())
        .unwrap_or_default();
    let degraded_in_window = obs
        .iter()
        .filter(|(m, _)| (WINDOW.0 + 5..WINDOW.1).contains(m))
        .all(|(_, o)| o.breaker == "OPEN" || o.breaker == "HALF_OPEN");
    let after_close_ok = obs
        .iter()
        .filter(|(m, _)| closed.is_some_and(|c| *m >= c))
        .all(|(_, o)| o.breaker == "CLOSED");
    let incidents = st.incidents("crm");
    let checks = vec![
        check(
            "no calls all night",
            night_searches == 0,
            format!(
                "{night_searches} CRM searches between {} and {}",
                hhmm(FIRST),
                hhmm(LAST)
            ),
        ),
        check(
            "probe opens the breaker in the window",
            opened.is_some_and(|m| m <= WINDOW.0 + 5) && degraded_in_window,
            format!(
                "OPEN at {}; OPEN or HALF_OPEN through the window: {degraded_in_window}",
                opened.map(hhmm).unwrap_or("never".into())
            ),
        ),
        check(
            "probe alone closes it after the window",
            closed.is_some_and(|m| m <= WINDOW.1 + 1)
                && closing.contains("->CLOSED")
                && after_close_ok,
            format!(
                "CLOSED at {} ({closing}); stays CLOSED: {after_close_ok}",
                closed.map(hhmm).unwrap_or("never".into())
            ),
        ),
        check(
            "morning agents get CRM data",
            v["found"] == true,
            morning.answer.clone(),
        ),
        check(
            "paged once, resolved once",
            incidents.len() == 1
                && incidents
                    .iter()
                    .all(|i| i.triggers == 1 && i.resolves == 1 && i.resolved),
            format!(
                "{} incident(s); triggers {:?}, resolves {:?}",
                incidents.len(),
                incidents.iter().map(|i| i.triggers).collect::<Vec<_>>(),
                incidents.iter().map(|i| i.resolves).collect::<Vec<_>>()
            ),
        ),
    ];
    // The axis reads in the night's own hours: each probe run at its simulated minute.
    let mut anchors: Vec<(u64, f64)> = obs.iter().map(|(m, o)| (o.t_ms, f64::from(*m))).collect();
    anchors.push((morning.t_ms, f64::from(MORNING)));
    let mut timeline: Vec<Observation> = obs.into_iter().map(|(_, o)| o).collect();
    timeline.push(morning);
    Ok(Scenario::new(
        "crm-maintenance",
        &format!(
            "Guide, edge case 1: CRM maintenance 2–4 AM with no calls → the scheduled probe alone closes the breaker at 4 AM. Simulated time: one probe run per simulated minute, at least {TICK_MS} ms apart on the real clock; the recovery timeout scaled alike (30 s of a minute = {recovery_s} s). Ticks after {} are not played; the first call comes at {}.",
            hhmm(LAST),
            hhmm(MORNING)
        ),
        checks,
        timeline,
    )
    .with_marks(st.page_marks())
    .on_clock(Clock::Simulated { anchors }))
}
