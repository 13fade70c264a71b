//! crm-lookup end to end: the real binary under the Lambda runtime emulator, against
//! moto (state table, secret) and a fake Salesforce with injected faults. Every answer
//! must arrive inside the deadline and match the export's output contract.

use std::time::{Duration, Instant};

use failsoft_tests::fake_http::{FakeServer, Fault};
use failsoft_tests::fake_salesforce::{
    self, contact, API_PREFIX, CLIENT_ID, CLIENT_SECRET, TOKEN_PATH,
};
use failsoft_tests::{create_secret, crm_output_validator, fresh_table, moto, Emulator};
use serde_json::{json, Value};

const DEADLINE_MS: u64 = 2_500;
/// What the emulator adds around the function: the answer must still be this quick.
const EMULATOR_SLACK_MS: u64 = 400;

struct Rig {
    sf: FakeServer,
    emu: Emulator,
    validator: jsonschema::Validator,
}

async fn rig(threshold: &str) -> anyhow::Result<Rig> {
    let m = moto()?;
    let (_, table) = fresh_table(&m.url).await?;
    let sf = fake_salesforce::start(vec![
        contact(
            "003OLD",
            "Pat Previous",
            "13175550123",
            "2025-01-01T00:00:00.000+0000",
            Some("Gold"),
        ),
        contact(
            "003PAT",
            "Pat Platinum",
            "3175550123",
            "2026-06-01T00:00:00.000+0000",
            Some("Platinum"),
        ),
        contact(
            "003GLD",
            "Gil Gold",
            "13175550999",
            "2026-01-01T00:00:00.000+0000",
            Some("Gold"),
        ),
        contact(
            "003STD",
            "Sam Standard",
            "13175550777",
            "2026-01-01T00:00:00.000+0000",
            None,
        ),
    ])
    .await?;
    let secret = format!("crm-{table}");
    let creds = json!({"token_url": format!("{}{TOKEN_PATH}", sf.url), "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET});
    create_secret(&m.url, &secret, &creds).await?;
    let mut env = Emulator::aws_env(&m.url, &table);
    env.extend([
        ("CRM_SECRET_ID", secret.as_str()),
        ("CRM_TIER_MAP", "Platinum=vip,Gold=vip"),
        ("LOOKUP_DEADLINE_MS", "2500"),
        ("BREAKER_CRM_FAILURE_THRESHOLD", threshold),
        ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "3600"),
    ]);
    let emu = Emulator::start(&env)?;
    // The first invocation may build the function: it is not timed.
    emu.invoke("crm-lookup", &json!({"ani": "anonymous"}))
        .await?;
    Ok(Rig {
        sf,
        emu,
        validator: crm_output_validator()?,
    })
}

impl Rig {
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
                   "contactId": "003PAT", "dataActionFailed": false, "degradedReason": ""}),
            "{ani}"
        );
    }
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
    Ok(())
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
    Ok(())
}
