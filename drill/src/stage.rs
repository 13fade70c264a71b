//! The stage a scenario plays on: moto with the template's table and the secrets, a fake
//! Salesforce (with its token endpoint and sessions), a fake PagerDuty that keeps
//! incidents, and the real functions under the emulator. It observes; it never stands in
//! for a function.

use failsoft_testkit::fakes;
use std::sync::Arc;
use std::time::{Duration, Instant};

use failsoft::breaker::{BreakerStore, DynamoBreakerStore, Record};
use failsoft_testkit::fakes::http::FakeServer;
use failsoft_testkit::fakes::pagerduty::{FakePagerDuty, Incident};
use failsoft_testkit::fakes::salesforce::{Org, Sessions, API_PREFIX};
use failsoft_testkit::stream_pump::StreamPump;
use failsoft_testkit::{create_secret, fresh_table, moto, Emulator};
use serde_json::{json, Value};

use crate::report::{check, Check, Mark, MarkKind, Observation};
use crate::Options;

pub const PAT: &str = "tel:+13175550123";
pub const DEADLINE_MS: u64 = 2_500;
/// What the emulator adds around a function's own deadline.
pub const SLACK_MS: u64 = 400;

/// The functions under the emulator, with the stream pump that feeds outage-actions.
pub struct Functions {
    pub emu: Arc<Emulator>,
    _pump: StreamPump,
}

impl std::ops::Deref for Functions {
    type Target = Emulator;
    fn deref(&self) -> &Emulator {
        &self.emu
    }
}

pub struct Stage {
    pub moto_url: String,
    pub table: String,
    pub sf: FakeServer,
    pub sessions: Sessions,
    /// What the fake org holds (the write-back's Tasks) and its API calls.
    pub org: Org,
    pub pd: FakePagerDuty,
    pub store: DynamoBreakerStore,
    pub started: Instant,
}

/// A crm-lookup answer in a few words.
pub fn answer_of(v: &Value) -> String {
    if v["found"] == true {
        format!("found {}", v["customerName"].as_str().unwrap_or(""))
    } else {
        format!("fallback {}", v["degradedReason"].as_str().unwrap_or(""))
    }
}

/// Every crm-lookup answer arrived within the deadline (plus the emulator's overhead).
pub fn within_deadline(obs: &[Observation]) -> Check {
    let worst = obs.iter().map(|o| o.latency_ms).max().unwrap_or(0);
    check(
        "no dead air",
        !obs.is_empty() && worst < DEADLINE_MS + SLACK_MS,
        format!(
            "slowest of {} answers {worst} ms (deadline {DEADLINE_MS} ms + {SLACK_MS} ms emulator)",
            obs.len()
        ),
    )
}

/// The fallback the guide asks for: route without CRM context, and say so.
pub fn is_fallback(v: &Value) -> bool {
    v["customerName"] == "Unknown"
        && v["accountTier"] == "standard"
        && v["dataActionFailed"] == true
        && v["found"] == false
}

impl Stage {
    pub async fn new() -> anyhow::Result<Stage> {
        let m = moto()?;
        let (client, table) = fresh_table(&m.url).await?;
        let (sf, org) = fakes::salesforce::start_org(vec![
            fakes::salesforce::pat_platinum(),
            fakes::salesforce::contact(
                "003GIL",
                "Gil Gold",
                "13175550999",
                "2026-01-01T00:00:00.000+0000",
                Some("Gold"),
            ),
        ])
        .await?;
        let sessions = org.sessions.clone();
        let pd = FakePagerDuty::start().await?;
        let creds = fakes::salesforce::credentials(&sf.url);
        create_secret(&m.url, &format!("crm-{table}"), &creds).await?;
        create_secret(
            &m.url,
            &format!("pd-{table}"),
            &json!({"routing_key": "drill"}),
        )
        .await?;
        Ok(Stage {
            moto_url: m.url.clone(),
            store: DynamoBreakerStore::new(client, table.clone()),
            table,
            sf,
            sessions,
            org,
            pd,
            started: Instant::now(),
        })
    }

    /// Genesys client credentials in Secrets Manager; returns the secret's id.
    pub async fn genesys_secret(&self) -> anyhow::Result<String> {
        let id = format!("gc-{}", self.table);
        create_secret(
            &self.moto_url,
            &id,
            &json!({"client_id": "id", "client_secret": "s"}),
        )
        .await?;
        Ok(id)
    }

    /// The functions under the emulator, with the stage's wiring, then `env`, then the
    /// options' extra environment; and the state table's stream delivered to
    /// outage-actions, as deployed (pages and campaign changes go that way).
    pub async fn emulator(
        &self,
        env: &[(&str, &str)],
        opts: &Options,
    ) -> anyhow::Result<Functions> {
        self.emulator_logged(env, opts, None).await
    }

    /// The same, keeping everything the functions print in `log` (for a scenario that
    /// judges the logs).
    pub async fn emulator_logged(
        &self,
        env: &[(&str, &str)],
        opts: &Options,
        log: Option<std::path::PathBuf>,
    ) -> anyhow::Result<Functions> {
        let (crm, pd_secret, pd_url) = (
            format!("crm-{}", self.table),
            format!("pd-{}", self.table),
            self.pd.events_url(),
        );
        let mut all: Vec<(&str, &str)> = Emulator::aws_env(&self.moto_url, &self.table);
        all.extend([
            ("CRM_SECRET_ID", crm.as_str()),
            ("ALERT_SECRET_ID", pd_secret.as_str()),
            ("PAGERDUTY_EVENTS_URL", pd_url.as_str()),
            ("CRM_TIER_MAP", "Platinum=vip"),
            ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "3600"),
            ("PROBE_TIMEOUT_MS", "1000"),
            ("RUST_LOG", "warn"),
        ]);
        all.extend(env.iter().copied());
        all.extend(opts.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let emu = Arc::new(match log {
            Some(log) => Emulator::start_logged(&all, Some(log))?,
            None => Emulator::start(&all)?,
        });
        // Built and warm before the scenario's clock starts.
        emu.invoke("outage-actions", &json!({"Records": []}))
            .await?;
        let pump =
            StreamPump::start(&self.moto_url, &self.table, emu.clone(), "outage-actions").await?;
        Ok(Functions { emu, _pump: pump })
    }

    /// `breaker`'s incidents once at least `n` have opened, or after `within`: pages
    /// leave through the stream, a moment after the transition that calls for them.
    pub async fn incidents_within(
        &self,
        breaker: &str,
        n: usize,
        within: Duration,
    ) -> Vec<Incident> {
        let end = Instant::now() + within;
        loop {
            let got = self.incidents(breaker);
            if got.len() >= n || Instant::now() >= end {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Reset the scenario clock: observations count from here.
    pub fn start_clock(&mut self) {
        self.started = Instant::now();
    }

    pub fn t_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub async fn record(&self, name: &str) -> Option<Record> {
        self.store.load(name).await.ok()
    }

    pub async fn state(&self, name: &str) -> String {
        match self.store.load(name).await {
            Ok(r) => r.state.to_string(),
            Err(e) => format!("unknown ({e})"),
        }
    }

    /// Every page PagerDuty accepted, as marks on the scenario's timeline.
    pub fn page_marks(&self) -> Vec<Mark> {
        self.pd
            .server
            .requests()
            .iter()
            .filter(|r| r.at >= self.started)
            .filter_map(|r| {
                let v: Value = serde_json::from_str(&r.body).ok()?;
                let kind = match v["event_action"].as_str()? {
                    "trigger" => MarkKind::PageTrigger,
                    "resolve" => MarkKind::PageResolve,
                    _ => return None,
                };
                let key = v["dedup_key"].as_str().unwrap_or_default();
                let what = v
                    .pointer("/payload/summary")
                    .and_then(Value::as_str)
                    .unwrap_or(key);
                Some(Mark {
                    t_ms: r.at.duration_since(self.started).as_millis() as u64,
                    kind,
                    label: format!(
                        "{} {}",
                        v["event_action"].as_str().unwrap_or_default(),
                        what
                    ),
                })
            })
            .collect()
    }

    /// PagerDuty incidents of one breaker (its episodes' dedup keys are `<name>/...`).
    pub fn incidents(&self, breaker: &str) -> Vec<Incident> {
        let prefix = format!("{breaker}/");
        self.pd
            .incidents()
            .into_iter()
            .filter(|i| i.dedup_key.starts_with(&prefix))
            .collect()
    }

    /// One crm-lookup invocation, observed with `breaker`'s state.
    pub async fn lookup(
        &self,
        emu: &Emulator,
        what: &str,
        breaker: &str,
    ) -> anyhow::Result<(Observation, Value)> {
        let t = Instant::now();
        let v = emu.invoke("crm-lookup", &json!({"ani": PAT})).await?;
        let latency_ms = t.elapsed().as_millis() as u64;
        Ok((
            Observation {
                t_ms: self.t_ms(),
                what: what.into(),
                answer: answer_of(&v),
                latency_ms,
                dependency: breaker.into(),
                breaker: self.state(breaker).await,
                alerts: self.pd.incidents().len(),
            },
            v,
        ))
    }

    /// `n` crm-lookup calls; `crm_calls` gets the CRM's request count after each.
    pub async fn calls(
        &self,
        emu: &Emulator,
        n: usize,
        crm_calls: &mut Vec<usize>,
    ) -> anyhow::Result<Vec<(Observation, Value)>> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(self.lookup(emu, "crm-lookup", "crm").await?);
            crm_calls.push(self.sf.count(API_PREFIX));
        }
        Ok(out)
    }

    /// One health-probe run (what the one-minute schedule does), observed for `dep`.
    pub async fn probe(
        &self,
        emu: &Emulator,
        what: &str,
        dep: &str,
    ) -> anyhow::Result<(Observation, Value)> {
        let t = Instant::now();
        let out = emu
            .invoke("health-probe", &json!({"source": "schedule"}))
            .await?;
        let latency_ms = t.elapsed().as_millis() as u64;
        let row = out["dependencies"]
            .as_array()
            .and_then(|d| d.iter().find(|r| r["name"] == dep))
            .cloned()
            .unwrap_or(Value::Null);
        let answer = match (&row["healthy"], &row["transition"]) {
            (Value::Bool(h), Value::String(t)) => {
                format!("{dep} {} ({t})", if *h { "healthy" } else { "unhealthy" })
            }
            (Value::Bool(h), _) => format!("{dep} {}", if *h { "healthy" } else { "unhealthy" }),
            _ => format!("no {dep} row: {out}"),
        };
        Ok((
            Observation {
                t_ms: self.t_ms(),
                what: what.into(),
                answer,
                latency_ms,
                dependency: dep.into(),
                breaker: self.state(dep).await,
                alerts: self.pd.incidents().len(),
            },
            out,
        ))
    }
}

/// Sleep until `at` (no-op if it has passed): the drill's schedule, not a test's wait.
pub async fn until(at: Instant) {
    tokio::time::sleep(at.saturating_duration_since(Instant::now())).await;
}
