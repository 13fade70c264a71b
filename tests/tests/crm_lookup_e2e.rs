//! crm-lookup end to end: the real binary under the Lambda runtime emulator, against
//! moto (state table, secret) and a fake Salesforce with injected faults. Every answer
//! must arrive inside the deadline and match the export's output contract.

use failsoft_testkit::fakes;
use std::time::{Duration, Instant};

use failsoft_testkit::fakes::http::{FakeServer, Fault};
use failsoft_testkit::fakes::salesforce::{API_PREFIX, TOKEN_PATH};
use failsoft_testkit::{crm_output_validator, crm_rig, Emulator};
use serde_json::{json, Value};

const DEADLINE_MS: u64 = 2_500;
/// What the emulator adds around the function: the answer must still be this quick.
const EMULATOR_SLACK_MS: u64 = 400;

struct Rig {
    moto_url: String,
    table: String,
    sf: FakeServer,
    emu: Emulator,
    log: std::path::PathBuf,
    validator: jsonschema::Validator,
}

async fn rig(threshold: &str) -> anyhow::Result<Rig> {
    let r = crm_rig::start(&[("BREAKER_CRM_FAILURE_THRESHOLD", threshold)]).await?;
    Ok(Rig {
        moto_url: r.moto_url,
        table: r.table,
        sf: r.sf,
        emu: r.emu,
        log: r.log,
        validator: crm_output_validator()?,
    })
}

impl Rig {
    /// No token or client secret in anything the function logged, and no ANI unmasked.
    fn assert_clean_logs(&self) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(&self.log)?;
        assert!(text.contains("crm lookup"), "no lookup log lines captured");
        for secret in [
            fakes::salesforce::ACCESS_TOKEN,
            fakes::salesforce::CLIENT_SECRET,
            "3175550123",
        ] {
            assert!(!text.contains(secret), "{secret:?} appears in the logs");
        }
        Ok(())
    }

    /// Invoke, check the deadline and the output contract, return the answer.
    async fn ask(&self, event: Value) -> anyhow::Result<Value> {
        let t = Instant::now();
        let v = self.emu.invoke("crm-lookup", &event).await?;
        let took = t.elapsed();
        anyhow::ensure!(
            took < Duration::from_millis(DEADLINE_MS + EMULATOR_SLACK_MS),
            "{event} took {took:?}: {v}"
        );
        if let Err(e) = self.validator.validate(&v) {
            anyhow::bail!("{event}: answer {v} breaks the output contract: {e}");
        }
        Ok(v)
    }

    async fn reason(&self, ani: &str) -> anyhow::Result<String> {
        let v = self.ask(json!({"ani": ani})).await?;
        Ok(v["degradedReason"].as_str().unwrap_or("?").to_string())
    }
}

fn degraded(v: &Value, reason: &str) -> bool {
    v["found"] == false
        && v["customerName"] == "Unknown"
        && v["accountTier"] == "standard"
        && v["accountId"] == ""
        && v["contactId"] == ""
        && v["dataActionFailed"] == true
        && v["degradedReason"] == reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_every_case_within_the_deadline() -> anyhow::Result<()> {
    let r = rig("1000").await?;
    const PAT: &str = "tel:+13175550123";

    // Found, from every ANI form; the newest of two matching contacts wins.
    for ani in [
        PAT,
        "sip:+13175550123@10.1.2.3;user=phone",
        "+1 (317) 555-0123",
        "3175550123",
    ] {
        let v = r.ask(json!({"ani": ani, "conversationId": "c-1"})).await?;
        assert_eq!(
            v,
            json!({"found": true, "customerName": "Pat Platinum", "accountTier": "vip", "accountId": "001003PAT",
                   "contactId": "003PAT", "dataActionFailed": false, "degradedReason": "",
                   "contextSource": "crm", "contextAgeS": 0}),
            "{ani}"
        );
    }
    // One token for all those lookups, shared through the state table.
    assert_eq!(r.sf.count(TOKEN_PATH), 1);
    let conf = failsoft_testkit::sdk_config(&r.moto_url).await;
    let item = aws_sdk_dynamodb::Client::new(&conf)
        .get_item()
        .table_name(&r.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("token#crm".into()),
        )
        .send()
        .await?;
    assert!(
        item.item().is_some_and(|i| i.contains_key("expires_ms")),
        "no token#crm item"
    );
    let v = r.ask(json!({"ani": "tel:+13175550777"})).await?;
    assert_eq!(
        (v["customerName"].as_str(), v["accountTier"].as_str()),
        (Some("Sam Standard"), Some("standard"))
    );

    // Not found, and numbers that are not there: no breaker effect, and a withheld
    // number makes no CRM call at all.
    let v = r.ask(json!({"ani": "tel:+14155550100"})).await?;
    assert_eq!(
        (
            v["found"].as_bool(),
            v["dataActionFailed"].as_bool(),
            v["degradedReason"].as_str()
        ),
        (Some(false), Some(false), Some(""))
    );
    let searches = r.sf.count(API_PREFIX);
    for ani in [
        "anonymous",
        "",
        "sip:anonymous@anonymous.invalid",
        "Restricted",
        "12",
    ] {
        let v = r.ask(json!({"ani": ani})).await?;
        assert_eq!(v["customerName"], "Unknown");
        assert_eq!(
            (
                v["dataActionFailed"].as_bool(),
                v["degradedReason"].as_str()
            ),
            (Some(false), Some("")),
            "{ani:?}"
        );
    }
    assert_eq!(
        r.sf.count(API_PREFIX),
        searches,
        "an unusable number reached the CRM"
    );

    // Payloads that break the input contract.
    for bad in [
        json!([1, 2]),
        json!("tel:+13175550123"),
        json!({"ani": 13175550123u64}),
        json!({}),
        json!({"ani": "1".repeat(300)}),
    ] {
        let v = r.ask(bad.clone()).await?;
        assert!(degraded(&v, "invalid_input"), "{bad}: {v}");
    }
    // Bytes serde cannot take still get an answer, not a function error (finding 6).
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    for raw in [
        deep.as_str(),
        r#"{"ani": "\ud800"}"#,
        r#"{"ani": "+1317555"#,
        "",
    ] {
        let t = Instant::now();
        let v = r
            .emu
            .invoke_raw("crm-lookup", raw.as_bytes().to_vec())
            .await?;
        assert!(
            t.elapsed() < Duration::from_millis(DEADLINE_MS + EMULATOR_SLACK_MS),
            "{raw:.40}"
        );
        assert!(degraded(&v, "invalid_input"), "{raw:.40}: {v}");
    }

    // Faults. Each is followed by a healthy lookup, which also resets the failure count.
    let cases: Vec<(Fault, Option<u32>, &str, usize)> = vec![
        (Fault::Hang, None, "timeout", 1),
        (
            Fault::Slow(Duration::from_millis(3_000)),
            None,
            "timeout",
            1,
        ),
        (Fault::Status(500), None, "crm_error", 1),
        (Fault::Status(503), None, "crm_error", 2), // retried once, then gave up
        (Fault::TooMany { retry_after_s: 30 }, None, "crm_error", 1), // never retried
        (Fault::Garbage, None, "crm_error", 1),
        (Fault::Reset, None, "crm_error", 2),
    ];
    for (fault, times, reason, attempts) in cases {
        r.sf.fault(API_PREFIX, fault.clone(), times);
        let before = r.sf.count(API_PREFIX);
        let v = r.ask(json!({"ani": PAT})).await?;
        assert!(degraded(&v, reason), "{fault:?}: {v}");
        assert_eq!(
            r.sf.count(API_PREFIX) - before,
            attempts,
            "{fault:?}: CRM attempts"
        );
        r.sf.clear_faults();
        assert_eq!(
            r.ask(json!({"ani": PAT})).await?["found"],
            true,
            "after {fault:?}"
        );
    }

    // Recoverable within the budget: a slow answer, one 503, one reset.
    for fault in [
        Fault::Slow(Duration::from_millis(400)),
        Fault::Status(503),
        Fault::Reset,
    ] {
        r.sf.fault(API_PREFIX, fault.clone(), Some(1));
        assert_eq!(
            r.ask(json!({"ani": PAT})).await?["found"],
            true,
            "{fault:?}"
        );
        r.sf.clear_faults();
    }

    // A 401 refreshes the session once and succeeds; it is not a CRM failure.
    let tokens = r.sf.count(TOKEN_PATH);
    r.sf.fault(API_PREFIX, Fault::Status(401), Some(1));
    assert_eq!(r.ask(json!({"ani": PAT})).await?["found"], true);
    assert_eq!(
        r.sf.count(TOKEN_PATH),
        tokens + 1,
        "401 must refresh the session"
    );

    // The token service is down when a new session is needed: auth_unavailable.
    r.sf.fault(API_PREFIX, Fault::Status(401), Some(1));
    r.sf.fault(TOKEN_PATH, Fault::Status(500), None);
    assert_eq!(r.reason(PAT).await?, "auth_unavailable");
    r.sf.clear_faults();
    assert_eq!(r.ask(json!({"ani": PAT})).await?["found"], true);

    // Injection attempts are refused before any query; every query Salesforce saw in this
    // whole run holds quoted digit strings only.
    let before = r.sf.count(API_PREFIX);
    for ani in [
        "3175550123' OR Name LIKE '%",
        "{3175550123}",
        "3175550123\\",
        "sip:3175550123'@x",
        "31755\"50123 OR *",
    ] {
        let v = r.ask(json!({"ani": ani})).await?;
        assert_eq!(
            (v["found"].as_bool(), v["dataActionFailed"].as_bool()),
            (Some(false), Some(false)),
            "{ani}"
        );
    }
    assert_eq!(
        r.sf.count(API_PREFIX),
        before,
        "an injection attempt reached Salesforce"
    );
    let queries: Vec<String> =
        r.sf.requests()
            .iter()
            .filter_map(|q| q.param("q").map(str::to_string))
            .collect();
    assert!(queries.len() > 10);
    for q in &queries {
        let terms = fakes::salesforce::find_terms(q);
        assert!(
            !terms.is_empty()
                && terms
                    .iter()
                    .all(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())),
            "{q}"
        );
        assert_eq!(q.matches('{').count(), 1, "{q}");
        assert!(!q.contains('\'') && !q.contains('\\'), "{q}");
    }
    r.assert_clean_logs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_opens_and_then_the_crm_is_not_called() -> anyhow::Result<()> {
    let r = rig("5").await?;
    r.sf.fault(API_PREFIX, Fault::Status(500), None);
    for _ in 0..5 {
        assert_eq!(r.reason("tel:+13175550123").await?, "crm_error");
    }
    let calls = r.sf.count(API_PREFIX);
    for _ in 0..10 {
        let t = Instant::now();
        let v = r.ask(json!({"ani": "tel:+13175550123"})).await?;
        assert!(degraded(&v, "circuit_open"), "{v}");
        assert!(
            t.elapsed() < Duration::from_millis(DEADLINE_MS),
            "open answers are immediate"
        );
    }
    assert_eq!(
        r.sf.count(API_PREFIX),
        calls,
        "the CRM was called while the breaker was open"
    );
    r.assert_clean_logs()
}
