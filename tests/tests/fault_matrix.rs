//! The fault matrix: every function, under the Lambda emulator, against each fault of
//! its own infrastructure (DynamoDB, Secrets Manager) and of its dependencies (token
//! endpoint, CRM, Genesys analytics, PagerDuty). crm-writeback gets one new after-call
//! event per cell through the test kit's SQS mapping (moto's SQS, not faulted here).
//!
//! Faults go through real endpoints: a front that forwards to moto or fails the way the
//! service can (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`), and
//! the fake dependencies' fault injection. Each row is a fresh world: table, secrets,
//! fakes and emulator. A warm row first serves every function once while all is well
//! (tokens and secrets in memory), then applies its fault; a cold row applies it first.
//!
//! Each cell records the answer and its reason, the latency against the function's
//! deadline, the breakers that moved in the store, whether PagerDuty was paged, the
//! alarm metrics the function emitted, and whether anything was lost. The table goes to
//! `target/fault-matrix.md` and into docs/reliability.md.

use failsoft_testkit::fakes;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use failsoft::breaker::{BreakerStore, DynamoBreakerStore, Record};
use failsoft::dependency::Dependency;
use failsoft_testkit::fakes::aws::{internal_error, throttled};
use failsoft_testkit::fakes::http::{FakeServer, Fault};
use failsoft_testkit::fakes::salesforce::{API_PREFIX, TOKEN_PATH};
use failsoft_testkit::sqs_pump::{acw_event, SqsPump};
use failsoft_testkit::{sdk_config, Emulator, World};
use serde_json::{json, Value};

/// Past the deadline, an answer may take this much more (the bound we hold it to), emulator
/// included.
const SLACK_MS: u64 = 100;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Func {
    CrmLookup,
    TokenCache,
    HealthProbe,
    QueueMetrics,
    OutageActions,
    CrmWriteback,
}

const FUNCS: [Func; 6] = [
    Func::CrmLookup,
    Func::TokenCache,
    Func::HealthProbe,
    Func::QueueMetrics,
    Func::OutageActions,
    Func::CrmWriteback,
];

impl Func {
    fn name(self) -> &'static str {
        match self {
            Func::CrmLookup => "crm-lookup",
            Func::TokenCache => "token-cache",
            Func::HealthProbe => "health-probe",
            Func::QueueMetrics => "queue-metrics",
            Func::OutageActions => "outage-actions",
            Func::CrmWriteback => "crm-writeback",
        }
    }

    /// The deadline each function holds itself to (its configuration here).
    fn deadline_ms(self) -> u64 {
        match self {
            Func::CrmLookup | Func::QueueMetrics => 2_500,
            Func::TokenCache => 10_000,
            Func::HealthProbe => 25_000,
            // Its budget is 80 s (a pause of many campaigns); a stream batch that cannot
            // read its breaker must hand it back long before.
            Func::OutageActions => 5_000,
            // Its budget is 50 s (a hundred records); one record must not take long.
            Func::CrmWriteback => 5_000,
        }
    }
}

#[derive(Clone, Debug)]
enum RowFault {
    None,
    Dynamo(DynamoFault),
    Secrets(SecretsFault),
    TokenEndpointDown,
    CrmHanging,
    AnalyticsDown,
    PagerDutyDown,
}

#[derive(Clone, Copy, Debug)]
enum DynamoFault {
    Refused,
    Hanging,
    Slow,
    Throttled,
    Error500,
}

#[derive(Clone, Copy, Debug)]
enum SecretsFault {
    Refused,
    Hanging,
    Malformed,
}

struct Row {
    label: &'static str,
    fault: RowFault,
    /// Serve everything once, healthy, before the fault.
    warm: bool,
}

fn rows() -> Vec<Row> {
    use DynamoFault as D;
    use SecretsFault as S;
    let row = |label, fault, warm| Row { label, fault, warm };
    vec![
        row("none (baseline)", RowFault::None, true),
        row("DynamoDB refused", RowFault::Dynamo(D::Refused), true),
        row("DynamoDB hanging", RowFault::Dynamo(D::Hanging), true),
        row("DynamoDB 1 s slow", RowFault::Dynamo(D::Slow), true),
        row("DynamoDB throttled", RowFault::Dynamo(D::Throttled), true),
        row("DynamoDB 500", RowFault::Dynamo(D::Error500), true),
        row(
            "Secrets Manager refused (cold)",
            RowFault::Secrets(S::Refused),
            false,
        ),
        row(
            "Secrets Manager hanging (cold)",
            RowFault::Secrets(S::Hanging),
            false,
        ),
        row(
            "secret malformed (cold)",
            RowFault::Secrets(S::Malformed),
            false,
        ),
        row(
            "token endpoints 503 (cold)",
            RowFault::TokenEndpointDown,
            false,
        ),
        row("CRM hanging", RowFault::CrmHanging, true),
        row("Genesys analytics 503", RowFault::AnalyticsDown, true),
        row("PagerDuty 500, CRM hanging", RowFault::PagerDutyDown, true),
    ]
}

/// A world whose functions run under the emulator behind fault fronts for DynamoDB and
/// Secrets Manager, with the write-back fed by the test kit's SQS mapping.
struct Matrix {
    world: World,
    /// The store as the test reads it: straight to moto, past the fronts.
    store: DynamoBreakerStore,
    dynamo: FakeServer,
    secrets: FakeServer,
    emu: Emulator,
    log: std::path::PathBuf,
    pump: SqsPump,
    sqs: aws_sdk_sqs::Client,
    /// After-call events sent so far (one per crm-writeback cell).
    sent: std::sync::atomic::AtomicUsize,
}

impl std::ops::Deref for Matrix {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

async fn world(row: usize) -> anyhow::Result<Matrix> {
    let world = World::builder()
        .contacts(vec![fakes::salesforce::pat_platinum()])
        .queues(60)
        .var("CRM_TIER_MAP", "Platinum=vip")
        .var("LOOKUP_DEADLINE_MS", "2500")
        .var("METRICS_DEADLINE_MS", "2500")
        .var("BOARD_QUEUE_IDS", "q-sales")
        // One CRM failure opens its breaker, so a CRM fault is paged within the row.
        .var("BREAKER_CRM_FAILURE_THRESHOLD", "1")
        .var("RUST_LOG", "info")
        .build()
        .await?;
    let dynamo = fakes::aws::front(&world.url).await?;
    let secrets = fakes::aws::front(&world.url).await?;
    let mut env = world.lambda_env();
    env.push(("AWS_ENDPOINT_URL_DYNAMODB".into(), dynamo.url.clone()));
    env.push((
        "AWS_ENDPOINT_URL_SECRETS_MANAGER".into(),
        secrets.url.clone(),
    ));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let log = std::env::temp_dir().join(format!("failsoft-matrix-{row}-{}.log", world.table));
    let emu = Emulator::start_logged(&env, Some(log.clone()))?;
    Ok(Matrix {
        store: DynamoBreakerStore::new(world.dynamo().await, &world.table),
        dynamo,
        secrets,
        emu,
        log,
        pump: SqsPump::new(&world.url, &world.queues()?.queue, "crm-writeback").await?,
        sqs: aws_sdk_sqs::Client::new(&sdk_config(&world.url).await),
        sent: Default::default(),
        world,
    })
}

/// One cell of the matrix.
struct Cell {
    answer: String,
    ms: u64,
    ok: bool,
}

impl Matrix {
    async fn invoke(&self, f: Func) -> Cell {
        let t = Instant::now();
        let result = match f {
            Func::CrmLookup => {
                self.emu
                    .invoke("crm-lookup", &json!({"ani": "tel:+13175550123"}))
                    .await
            }
            Func::TokenCache => {
                self.emu
                    .invoke("token-cache", &json!({"source": "aws.scheduler"}))
                    .await
            }
            Func::HealthProbe => self.emu.invoke("health-probe", &json!({})).await,
            Func::QueueMetrics => self.queues().await,
            // A stream batch as the mapping delivers it: crm's outbox changed.
            Func::OutageActions => {
                let record = json!({"eventName": "MODIFY", "dynamodb": {
                    "Keys": {"pk": {"S": "breaker#crm"}},
                    "NewImage": {"pk": {"S": "breaker#crm"}, "alert_probe": {"M": {}}},
                    "SequenceNumber": "100"}});
                self.emu
                    .invoke("outage-actions", &json!({"Records": [record]}))
                    .await
            }
            Func::CrmWriteback => self.write_back().await,
        };
        let ms = t.elapsed().as_millis() as u64;
        match result {
            Ok(v) => Cell {
                answer: summarise(f, &v),
                ms,
                ok: true,
            },
            Err(e) => Cell {
                answer: format!("ERROR {e:#}").chars().take(120).collect(),
                ms,
                ok: false,
            },
        }
    }

    /// One new after-call event, delivered by the test kit's mapping: written (the
    /// Task is in the org), kept in the queue, or an error.
    async fn write_back(&self) -> anyhow::Result<Value> {
        let n = self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let ext = format!("conv-{n}:agent-{n}");
        let body = acw_event(
            &format!("conv-{n}"),
            &format!("agent-{n}"),
            "tel:+13175550123",
            "notes",
        );
        self.sqs
            .send_message()
            .queue_url(&self.pump.queue_url)
            .message_body(body.to_string())
            .send()
            .await?;
        let r = self.pump.round(&self.emu).await?;
        anyhow::ensure!(!r.errored, "function error");
        Ok(
            json!({"received": r.received, "kept": r.kept.len(), "deleted": r.deleted,
                  "written": self.org.tasks().contains_key(&ext)}),
        )
    }

    async fn queues(&self) -> anyhow::Result<Value> {
        let url = format!(
            "http://127.0.0.1:{}/lambda-url/queue-metrics/queues?ids=q-sales",
            self.emu.port
        );
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(900))
            .build()?;
        let resp = client.get(url).send().await?;
        let status = resp.status();
        let v: Value = resp.json().await?;
        anyhow::ensure!(status.is_success(), "{status}: {v}");
        Ok(v)
    }

    /// Every registered breaker, read from moto directly (never through the front).
    async fn breakers(&self) -> Vec<Record> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut out = Vec::new();
        for d in Dependency::ALL {
            if let Ok(r) = tokio::time::timeout_at(deadline, self.store.load(d.name())).await {
                out.extend(r.ok());
            }
        }
        out
    }

    fn log_len(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .map(|s| s.len())
            .unwrap_or(0)
    }

    /// Alarm metrics the functions emitted since `from` (bytes into the log).
    fn alarms_since(&self, from: usize) -> Vec<&'static str> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail = text.get(from..).unwrap_or_default();
        // Each has an alarm in the template; a zero is no news.
        [
            "StateTableErrors",
            "TokenRefreshFailuresTotal",
            "AlertsRejectedTotal",
            "AlertsPendingTotal",
        ]
        .into_iter()
        .filter(|m| {
            let key = format!("\"{m}\":");
            tail.match_indices(&key).any(|(i, _)| {
                !tail[i + key.len()..].starts_with("0.0,")
                    && !tail[i + key.len()..].starts_with("0,")
            })
        })
        .collect()
    }

    async fn apply(&self, fault: &RowFault) -> anyhow::Result<()> {
        match fault {
            RowFault::None => {}
            RowFault::Dynamo(d) => match d {
                DynamoFault::Refused => self.dynamo.refuse(true).await?,
                DynamoFault::Hanging => self.dynamo.fault("/", Fault::Hang, None),
                DynamoFault::Slow => {
                    self.dynamo
                        .fault("/", Fault::Slow(Duration::from_secs(1)), None)
                }
                DynamoFault::Throttled => self.dynamo.fault("/", throttled(), None),
                DynamoFault::Error500 => self.dynamo.fault("/", internal_error(), None),
            },
            RowFault::Secrets(s) => match s {
                SecretsFault::Refused => self.secrets.refuse(true).await?,
                SecretsFault::Hanging => self.secrets.fault("/", Fault::Hang, None),
                SecretsFault::Malformed => {
                    let conf = failsoft_testkit::sdk_config(&self.url).await;
                    aws_sdk_secretsmanager::Client::new(&conf)
                        .put_secret_value()
                        .secret_id(self.var("CRM_SECRET_ID"))
                        .secret_string("{\"token_url\": ")
                        .send()
                        .await?;
                }
            },
            RowFault::TokenEndpointDown => {
                self.sf.fault(TOKEN_PATH, Fault::Status(503), None);
                self.genesys
                    .server
                    .fault("/oauth/", Fault::Status(503), None);
            }
            RowFault::CrmHanging => self.sf.fault(API_PREFIX, Fault::Hang, None),
            RowFault::AnalyticsDown => self.genesys.server.fault("/api/", Fault::Status(503), None),
            RowFault::PagerDutyDown => {
                self.sf.fault(API_PREFIX, Fault::Hang, None);
                self.pd.server.fault("/", Fault::Status(500), None);
            }
        }
        Ok(())
    }

    async fn clear(&self) -> anyhow::Result<()> {
        self.dynamo.refuse(false).await?;
        self.secrets.refuse(false).await?;
        for s in [&self.dynamo, &self.secrets, &self.sf, &self.genesys.server] {
            s.clear_faults();
        }
        self.pd.server.clear_faults();
        Ok(())
    }
}

/// The answer in a few words: what a caller or an operator would read.
fn summarise(f: Func, v: &Value) -> String {
    match f {
        Func::CrmLookup => match v["found"].as_bool() {
            Some(true) => format!("found {}", v["customerName"].as_str().unwrap_or("?")),
            _ => format!(
                "fallback: {}",
                v["degradedReason"].as_str().unwrap_or("none")
            ),
        },
        Func::TokenCache => v["providers"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        let how = match (p["source"].as_str(), p["degraded"].as_bool()) {
                            (Some(s), Some(false)) => s.to_string(),
                            (Some(s), _) => format!("{s} (degraded)"),
                            (None, _) => "error".to_string(),
                        };
                        format!("{} {how}", p["name"].as_str().unwrap_or("?"))
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        Func::HealthProbe => {
            let unhealthy: Vec<String> = v["dependencies"]
                .as_array()
                .map(|ds| {
                    ds.iter()
                        .filter(|d| d["healthy"] == false)
                        .filter_map(|d| d["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let alerts = &v["alerts"];
            let health = if unhealthy.is_empty() {
                "all healthy".to_string()
            } else {
                format!("unhealthy: {}", unhealthy.join(", "))
            };
            format!(
                "{health}; alerts sent {} pending {}",
                alerts["sent"], alerts["pending"]
            )
        }
        // Earlier cells' events may come back with this one (deferred ones reappear).
        Func::CrmWriteback => match (v["written"].as_bool(), v["kept"].as_u64()) {
            (Some(true), _) => "written".to_string(),
            (Some(false), Some(k)) if k > 0 => "kept in the queue".to_string(),
            _ => format!("not written, not kept: {v}"),
        },
        Func::OutageActions => match v["batchItemFailures"].as_array().map(Vec::len) {
            Some(0) => "done".to_string(),
            Some(n) => format!("{n} record(s) handed back to the stream"),
            None => format!("unexpected: {v}"),
        },
        Func::QueueMetrics => {
            let q = &v["queues"][0];
            match q["isDegraded"].as_bool() {
                Some(false) => "live".to_string(),
                _ => format!(
                    "degraded: {}",
                    q["degradedMessage"]
                        .as_str()
                        .unwrap_or("?")
                        .chars()
                        .take(40)
                        .collect::<String>()
                ),
            }
        }
    }
}

/// Breakers whose record moved between two readings.
fn moved(before: &[Record], after: &[Record]) -> Vec<String> {
    after
        .iter()
        .filter(|a| {
            let b = before.iter().find(|b| b.name == a.name);
            b.is_none_or(|b| (b.generation, b.failures) != (a.generation, a.failures))
                && (a.generation, a.failures) != (0, 0)
        })
        .map(|a| {
            if a.state == failsoft::breaker::State::Closed {
                format!("{} (+{})", a.name, a.failures)
            } else {
                format!("{} {}", a.name, a.state)
            }
        })
        .collect()
}

struct RowResult {
    label: &'static str,
    cells: Vec<Cell>,
    blamed: Vec<String>,
    paged: Vec<String>,
    alarms: Vec<&'static str>,
    /// Triggers of episodes this row started that neither reached PagerDuty nor wait in
    /// an outbox.
    lost: Vec<String>,
}

async fn run_row(i: usize, row: &Row) -> anyhow::Result<RowResult> {
    let w = world(i).await?;
    if row.warm {
        // Every function serves once while all is well: tokens and secrets in memory.
        for f in FUNCS {
            w.invoke(f).await;
        }
        let before = (w.breakers().await, w.pd.requests().len(), w.log_len());
        w.apply(&row.fault).await?;
        return measure(&w, row, before).await;
    }
    // Cold: the fault is there from the start. A function's first invocation also
    // starts its process (and may build it), so it is shown but not timed.
    let before = (w.breakers().await, w.pd.requests().len(), w.log_len());
    w.apply(&row.fault).await?;
    let mut first = Vec::new();
    for f in FUNCS {
        first.push(w.invoke(f).await);
    }
    let mut r = measure(&w, row, before).await?;
    for (cell, cold) in r.cells.iter_mut().zip(first) {
        if cold.answer != cell.answer {
            cell.answer = format!("{} (first call: {})", cell.answer, cold.answer);
        }
    }
    Ok(r)
}

/// Invoke every function once under the fault; `before` is (breakers, PagerDuty
/// requests, log length) from before the fault.
async fn measure(
    w: &Matrix,
    row: &Row,
    before: (Vec<Record>, usize, usize),
) -> anyhow::Result<RowResult> {
    let (before, pd_before, log_from) = before;
    let mut cells = Vec::new();
    for f in FUNCS {
        cells.push(w.invoke(f).await);
    }
    let alarms = w.alarms_since(log_from);
    w.clear().await?;
    let after = w.breakers().await;
    if std::env::var_os("FAILSOFT_MATRIX_DEBUG").is_some() {
        eprintln!("{}: before {before:#?}\nafter {after:#?}", row.label);
        for r in w.dynamo.requests() {
            eprintln!(
                "DDB {:?} {}",
                r.header("x-amz-target"),
                r.body.chars().take(300).collect::<String>()
            );
        }
    }
    let accepted: Vec<String> =
        w.pd.incidents()
            .iter()
            .map(|i| i.dedup_key.clone())
            .collect();
    let paged: Vec<String> = w.pd.requests()[pd_before..]
        .iter()
        .map(|(action, key)| {
            let breaker = key.split('/').next().unwrap_or("?");
            match accepted.contains(key) {
                true => format!("{action} {breaker}"),
                false => format!("{action} {breaker} (refused)"),
            }
        })
        .collect();
    let lost = after
        .iter()
        .filter_map(|r| r.episode.clone())
        .filter(|ep| {
            let waiting = after
                .iter()
                .any(|r| r.outbox.values().any(|a| &a.dedup_key == ep));
            !waiting && !accepted.contains(ep)
        })
        .collect();
    Ok(RowResult {
        label: row.label,
        cells,
        blamed: moved(&before, &after),
        paged,
        alarms,
        lost,
    })
}

fn table(results: &[RowResult]) -> String {
    let mut t = String::from("| fault | ");
    for f in FUNCS {
        let _ = write!(t, "{} (deadline {} ms) | ", f.name(), f.deadline_ms());
    }
    t.push_str("breakers moved | PagerDuty | alarm metrics | lost |\n|---|");
    for _ in FUNCS {
        t.push_str("---|");
    }
    t.push_str("---|---|---|---|\n");
    for r in results {
        let _ = write!(t, "| {} | ", r.label);
        for c in &r.cells {
            let _ = write!(t, "{}, {} ms | ", c.answer, c.ms);
        }
        let or_none = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        let _ = writeln!(
            t,
            "{} | {} | {} | {} |",
            or_none(&r.blamed),
            or_none(&r.paged),
            if r.alarms.is_empty() {
                "none".to_string()
            } else {
                r.alarms.join(", ")
            },
            or_none(&r.lost)
        );
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_function_survives_every_fault() -> anyhow::Result<()> {
    // FAILSOFT_MATRIX_ONLY=<text> runs the rows whose label contains it.
    let only = std::env::var("FAILSOFT_MATRIX_ONLY").unwrap_or_default();
    let rows: Vec<Row> = rows()
        .into_iter()
        .filter(|r| r.label.contains(&only))
        .collect();
    let mut results = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        results.push(run_row(i, row).await?);
    }
    let t = table(&results);
    eprintln!("{t}");
    let out = failsoft_testkit::workspace_root().join("target/fault-matrix.md");
    let _ = std::fs::write(out, &t);

    let mut failures = Vec::new();
    for r in &results {
        for (f, c) in FUNCS.iter().zip(&r.cells) {
            if !c.ok {
                failures.push(format!(
                    "{} / {}: no answer: {}",
                    r.label,
                    f.name(),
                    c.answer
                ));
            }
            if c.ms > f.deadline_ms() + SLACK_MS {
                failures.push(format!("{} / {}: {} ms", r.label, f.name(), c.ms));
            }
        }
        if !r.lost.is_empty() {
            failures.push(format!("{}: lost {:?}", r.label, r.lost));
        }
    }
    let row = |label: &str| results.iter().find(|r| r.label == label);
    for label in [
        "DynamoDB refused",
        "DynamoDB hanging",
        "DynamoDB 1 s slow",
        "DynamoDB throttled",
        "DynamoDB 500",
    ] {
        let Some(r) = row(label) else { continue };
        // A warm instance with a valid token loses nothing but the store timeout.
        if !r.cells[0].answer.starts_with("found") {
            failures.push(format!("{label}: crm-lookup {}", r.cells[0].answer));
        }
        if !r.blamed.is_empty() {
            failures.push(format!("{label}: blamed {:?}", r.blamed));
        }
        if !r.alarms.contains(&"StateTableErrors") {
            failures.push(format!("{label}: no StateTableErrors metric"));
        }
        // The stream batch whose breaker cannot be read goes back to the stream (Lambda
        // retries it, the probe is the backstop): nothing is acted on blind, or lost.
        if r.cells[4].answer != "1 record(s) handed back to the stream" {
            failures.push(format!("{label}: outage-actions {}", r.cells[4].answer));
        }
        // A warm write-back writes through a failing table: its breakers fall back to the
        // local view, its token is in memory, and the backlog note is only logged.
        if r.cells[5].answer != "written" {
            failures.push(format!("{label}: crm-writeback {}", r.cells[5].answer));
        }
    }
    // Nothing is lost: every after-call event is written or still in its queue.
    for r in &results {
        let c = &r.cells[5];
        if !(c.answer.starts_with("written") || c.answer.starts_with("kept in the queue")) {
            failures.push(format!("{}: crm-writeback {}", r.label, c.answer));
        }
    }
    if let Some(r) = row("CRM hanging") {
        if !r.blamed.iter().any(|b| b.starts_with("crm OPEN")) {
            failures.push(format!("CRM hanging: blamed {:?}", r.blamed));
        }
        if !r.paged.iter().any(|p| p == "trigger crm") {
            failures.push(format!("CRM hanging: paged {:?}", r.paged));
        }
    }
    if let Some(r) = row("PagerDuty 500, CRM hanging") {
        if !r.cells[2].answer.contains("pending 1") || !r.alarms.contains(&"AlertsPendingTotal") {
            failures.push(format!(
                "PagerDuty down: {} {:?}",
                r.cells[2].answer, r.alarms
            ));
        }
    }
    // Only what reached a dependency speaks for it: the CRM is blamed in the CRM rows
    // alone; a Secrets Manager outage counts against the auth breakers, a malformed
    // secret against nobody.
    let blamed = |r: &RowResult, b: &str| r.blamed.iter().any(|x| x.split(' ').next() == Some(b));
    for r in &results {
        let crm_row = r.label.contains("CRM");
        if blamed(r, "crm") != crm_row {
            failures.push(format!("{}: crm blamed {:?}", r.label, r.blamed));
        }
    }
    for label in [
        "Secrets Manager refused (cold)",
        "Secrets Manager hanging (cold)",
    ] {
        if let Some(r) = row(label) {
            if !blamed(r, "crm-auth") || !r.alarms.contains(&"TokenRefreshFailuresTotal") {
                failures.push(format!("{label}: blamed {:?} {:?}", r.blamed, r.alarms));
            }
        }
    }
    if let Some(r) = row("secret malformed (cold)") {
        if !r.blamed.is_empty() || !r.alarms.contains(&"TokenRefreshFailuresTotal") {
            failures.push(format!("malformed: blamed {:?} {:?}", r.blamed, r.alarms));
        }
        // Not counted, but paged: a configuration fault of its own.
        if !r.paged.iter().any(|p| p == "trigger crm-auth") {
            failures.push(format!("malformed: paged {:?}", r.paged));
        }
    }
    if let Some(r) = row("token endpoints 503 (cold)") {
        if !r.paged.iter().any(|p| p == "trigger crm-auth") {
            failures.push(format!("token endpoints: paged {:?}", r.paged));
        }
    }
    if let Some(r) = row("Genesys analytics 503") {
        if !blamed(r, "genesys-analytics") || !r.cells[3].answer.starts_with("degraded") {
            failures.push(format!("analytics: {:?} {}", r.blamed, r.cells[3].answer));
        }
    }
    assert!(failures.is_empty(), "{}\n{t}", failures.join("\n"));
    Ok(())
}
