//! Nothing silently lost: after-call records keep arriving through a 2-minute CRM
//! outage with a token outage inside it. The write-back makes no CRM call while a CRM
//! breaker is not CLOSED, keeps every record in its queue, drains the backlog once the
//! CRM is back, and writes each record exactly once, linked to its caller's contact.
//! One malformed event goes to the DLQ, and is paged, once.
//!
//! Real time, compressed where the deployment's numbers are long: the probe runs every
//! half second (not every minute), deferrals wait 2–8 s (not 30 s–30 min), and the crm
//! token lives a minute and is refreshed after 30 s, so that its refresh falls inside
//! the token outage.

use std::time::{Duration, Instant};

use failsoft::writeback::queue::REASON_ATTRIBUTE;
use failsoft_testkit::fakes::http::Fault;
use failsoft_testkit::fakes::salesforce::{API_PREFIX, TOKEN_PATH};
use failsoft_testkit::sdk_config;
use failsoft_testkit::sqs_pump::{acw_event, create_queues, Round, SqsPump};
use serde_json::{json, Value};

use crate::report::{check, Observation, Scenario};
use crate::stage::{Functions, Stage};
use crate::Options;

const EVENTS: usize = 200;
const OUTAGE: Duration = Duration::from_secs(120);
const TOKEN_DOWN: (Duration, Duration) = (Duration::from_secs(40), Duration::from_secs(80));
/// Callers: Pat and Gil are contacts; the third number is nobody the CRM knows.
const CALLERS: [(&str, Option<&str>); 3] = [
    ("tel:+13175550123", Some("003PAT")),
    ("tel:+13175550999", Some("003GIL")),
    ("tel:+14155550000", None),
];

struct Play<'a> {
    st: &'a Stage,
    emu: &'a Functions,
    pump: SqsPump,
    board: String,
    http: reqwest::Client,
    obs: Vec<Observation>,
    max_receives: u32,
    /// When `crm-auth` was first seen OPEN.
    auth_opened_ms: Option<u64>,
}

impl Play<'_> {
    async fn round(&mut self) -> anyhow::Result<Round> {
        let t = Instant::now();
        let r = self.pump.round(self.emu).await?;
        if r.received > 0 {
            self.max_receives = self.max_receives.max(r.max_receives);
            let answer = if r.errored {
                format!("{} received: function error", r.received)
            } else {
                format!(
                    "{} received: {} let go, {} kept",
                    r.received,
                    r.deleted,
                    r.kept.len()
                )
            };
            self.obs.push(Observation {
                t_ms: self.st.t_ms(),
                what: "crm-writeback".into(),
                answer,
                latency_ms: t.elapsed().as_millis() as u64,
                dependency: "crm".into(),
                breaker: self.st.state("crm").await,
                alerts: self.st.pd.incidents().len(),
            });
        }
        Ok(r)
    }

    async fn probe(&mut self) -> anyhow::Result<()> {
        let (o, out) = self.st.probe(self.emu, "health-probe", "crm").await?;
        let moved = out["dependencies"]
            .as_array()
            .is_some_and(|d| d.iter().any(|r| !r["transition"].is_null()));
        if moved {
            self.obs.push(o);
        }
        if self.auth_opened_ms.is_none() && self.st.state("crm-auth").await == "OPEN" {
            self.auth_opened_ms = Some(self.st.t_ms());
        }
        Ok(())
    }

    async fn board(&self) -> anyhow::Result<Value> {
        let v: Value = self.http.get(&self.board).send().await?.json().await?;
        Ok(v["writeback"].clone())
    }
}

pub async fn outage(opts: &Options) -> anyhow::Result<Scenario> {
    let mut st = Stage::new().await?;
    let (queue, dlq) = create_queues(&st.moto_url, &format!("wb-{}", st.table), 30).await?;
    let genesys = st.genesys_secret().await?;
    let env = [
        ("WRITEBACK_QUEUE_URL", queue.as_str()),
        ("WRITEBACK_DLQ_URL", dlq.as_str()),
        ("WRITEBACK_DEFER_FIRST_S", "2"),
        ("WRITEBACK_DEFER_MAX_S", "8"),
        ("CRM_TOKEN_LIFETIME_S", "60"),
        ("TOKEN_REFRESH_MARGIN_S", "30"),
        ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "1"),
        ("BREAKER_CRM_AUTH_RECOVERY_TIMEOUT_S", "1"),
        ("GENESYS_SECRET_ID", genesys.as_str()),
        ("GENESYS_API_URL", "http://127.0.0.1:9"),
    ];
    let emu = st.emulator(&env, opts).await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(&st.moto_url).await);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(900))
        .build()?;
    let board = format!(
        "http://127.0.0.1:{}/lambda-url/queue-metrics/board.json",
        emu.port
    );
    // Warm: both built and running before the clock starts.
    emu.invoke("crm-writeback", &json!({"Records": []})).await?;
    http.get(&board).send().await?;
    emu.invoke("health-probe", &json!({"source": "schedule"}))
        .await?;
    let pump = SqsPump::new(&st.moto_url, &queue, "crm-writeback").await?;
    st.start_clock();
    let started = Instant::now();
    let mut play = Play {
        st: &st,
        emu: &emu,
        pump,
        board,
        http,
        obs: Vec::new(),
        max_receives: 0,
        auth_opened_ms: None,
    };

    // The CRM goes down; events keep coming, one every 0.6 s, and one malformed.
    st.sf.fault(API_PREFIX, Fault::Status(503), None);
    let (mut sent, mut token_down, mut token_up) = (0usize, false, false);
    let mut next_probe = Instant::now();
    let mut board_during = Value::Null;
    let mut malformed_sent = false;
    while started.elapsed() < OUTAGE {
        let due = (started.elapsed().as_millis() as usize * EVENTS / OUTAGE.as_millis() as usize
            + 1)
        .min(EVENTS);
        while sent < due {
            let (ani, _) = CALLERS[sent % CALLERS.len()];
            let body = acw_event(
                &format!("conv-{sent}"),
                &format!("agent-{sent}"),
                ani,
                "renewal discussed",
            );
            sqs.send_message()
                .queue_url(&queue)
                .message_body(body.to_string())
                .send()
                .await?;
            sent += 1;
        }
        if !malformed_sent && started.elapsed() > Duration::from_secs(30) {
            sqs.send_message()
                .queue_url(&queue)
                .message_body("{\"detail\": {\"topicName\": ")
                .send()
                .await?;
            malformed_sent = true;
        }
        if !token_down && started.elapsed() >= TOKEN_DOWN.0 {
            st.sf.fault(TOKEN_PATH, Fault::Status(503), None);
            token_down = true;
        }
        if !token_up && started.elapsed() >= TOKEN_DOWN.1 {
            st.sf.clear_faults();
            st.sf.fault(API_PREFIX, Fault::Status(503), None);
            token_up = true;
        }
        if started.elapsed() > Duration::from_secs(100) && board_during.is_null() {
            board_during = play.board().await?;
        }
        if Instant::now() >= next_probe {
            play.probe().await?;
            next_probe = Instant::now() + Duration::from_millis(500);
        }
        play.round().await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The CRM is back: the probe closes the breaker; the backlog drains.
    st.sf.clear_faults();
    let recovered_ms = st.t_ms();
    let mut closed_ms = None;
    let mut drained_ms = None;
    let end = Instant::now() + Duration::from_secs(90);
    while Instant::now() < end {
        if Instant::now() >= next_probe {
            play.probe().await?;
            next_probe = Instant::now() + Duration::from_millis(500);
        }
        if closed_ms.is_none() && st.state("crm").await == "CLOSED" {
            closed_ms = Some(st.t_ms());
        }
        play.round().await?;
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await?;
        let n = |k: &str| -> u64 {
            attrs
                .attributes()
                .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::from(k)))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1)
        };
        if closed_ms.is_some()
            && n("ApproximateNumberOfMessages") + n("ApproximateNumberOfMessagesNotVisible") == 0
        {
            drained_ms = Some(st.t_ms());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A last batch notes the empty queue for the board.
    let board_after = play.board().await?;

    // Verdicts: the fake org's request log and records, the DLQ, PagerDuty.
    let opened_ms = play
        .obs
        .iter()
        .find(|o| o.dependency == "crm" && o.breaker == "OPEN")
        .map(|o| o.t_ms);
    let during_outage: Vec<String> = st
        .sf
        .requests()
        .iter()
        .filter(|r| r.path.starts_with(API_PREFIX) && r.path != API_PREFIX)
        .filter(|r| {
            let t = r.at.saturating_duration_since(st.started).as_millis() as u64;
            opened_ms.is_some_and(|o| t >= o) && closed_ms.is_none_or(|c| t < c)
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let tasks = st.org.tasks();
    let wrong: Vec<String> = (0..EVENTS)
        .filter(|i| {
            let who = CALLERS[i % CALLERS.len()].1;
            match tasks.get(&format!("conv-{i}:agent-{i}")) {
                Some((t, 1)) => t.get("WhoId").and_then(Value::as_str) != who,
                _ => true,
            }
        })
        .map(|i| format!("conv-{i}"))
        .collect();
    let dead = sqs
        .receive_message()
        .queue_url(&dlq)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .message_attribute_names("All")
        .send()
        .await?;
    let reasons: Vec<String> = dead
        .messages()
        .iter()
        .map(|m| {
            m.message_attributes()
                .and_then(|a| a.get(REASON_ATTRIBUTE))
                .and_then(|v| v.string_value())
                .unwrap_or("no reason")
                .to_string()
        })
        .collect();
    let poison_pages: Vec<_> = st
        .pd
        .incidents()
        .into_iter()
        .filter(|i| i.dedup_key == "crm/writeback-poison")
        .collect();
    let age_during = board_during["oldestAgeS"].as_i64().unwrap_or(0);
    let checks = vec![
        check(
            "no CRM call by the write-back while a CRM breaker is not CLOSED",
            opened_ms.is_some() && closed_ms.is_some() && play.auth_opened_ms.is_some() && during_outage.is_empty(),
            format!(
                "crm OPEN at {} ms, crm-auth OPEN at {} ms (token endpoint down {}–{} s), crm CLOSED again at {} ms (CRM back at {recovered_ms} ms); Salesforce API requests in between other than the health check: {}",
                opened_ms.map_or("never".into(), |o| o.to_string()),
                play.auth_opened_ms.map_or("never".into(), |o| o.to_string()),
                TOKEN_DOWN.0.as_secs(),
                TOKEN_DOWN.1.as_secs(),
                closed_ms.map_or("never".into(), |c| c.to_string()),
                if during_outage.is_empty() { "none".to_string() } else { during_outage.join(", ") }
            ),
        ),
        check(
            "every record written exactly once, linked to its contact",
            tasks.len() == EVENTS && wrong.is_empty(),
            format!(
                "{} Tasks for {EVENTS} interactions (by external id); wrong or missing: {:?}; {} Salesforce API calls in all",
                tasks.len(),
                wrong.iter().take(5).collect::<Vec<_>>(),
                st.org.calls()
            ),
        ),
        check(
            "only the malformed event in the DLQ, paged once",
            reasons == ["the message is not JSON"]
                && poison_pages.len() == 1
                && poison_pages.iter().all(|i| i.triggers == 1),
            format!(
                "DLQ reasons {reasons:?}; poison incidents {} (triggers {:?})",
                poison_pages.len(),
                poison_pages.iter().map(|i| i.triggers).collect::<Vec<_>>()
            ),
        ),
        check(
            "the backlog drains, and the board shows its age",
            drained_ms.is_some() && board_during["queued"].as_u64().unwrap_or(0) > 0 && age_during > 0
                && board_after["queued"] == 0,
            format!(
                "board at 100 s: {} waiting, oldest {age_during} s; drained at {} ms; board after: {} waiting; at most {} receives per message",
                board_during["queued"],
                drained_ms.map_or("never".into(), |d| d.to_string()),
                board_after["queued"],
                play.max_receives
            ),
        ),
    ];
    let marks = st.page_marks();
    let obs = std::mem::take(&mut play.obs);
    drop(play);
    Ok(Scenario::new(
        "writeback-outage",
        &format!("Nothing silently lost: {EVENTS} after-call records arrive over a 2-minute CRM outage, with a 40 s token outage inside it, and one malformed event. The write-back calls nothing while a CRM breaker is not CLOSED, keeps every record in its queue, and drains once the CRM is back: each record written exactly once, linked to its contact; only the malformed event in the DLQ, paged once. Real time; the probe runs every half second and deferrals wait 2–8 s."),
        checks,
        obs,
    )
    .with_marks(marks))
}
