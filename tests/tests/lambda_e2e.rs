//! crm-lookup, token-cache and health-probe under the Lambda runtime emulator against
//! moto, reading the same state table through `AWS_ENDPOINT_URL`.

use failsoft::breaker::Event;
use failsoft_testkit::{fresh_table, moto, Emulator};
use serde_json::json;

#[tokio::test]
async fn every_function_runs_under_the_emulator() -> anyhow::Result<()> {
    let m = moto()?;
    let (client, table) = fresh_table(&m.url).await?;
    // An operator holds the CRM breaker open; the functions must see it.
    failsoft_testkit::operator_command(
        client,
        &table,
        "crm",
        Event::ForceOpen {
            by: "e2e".into(),
            until: None,
        },
    )
    .await?;

    let mut env = Emulator::aws_env(&m.url, &table);
    env.push(("CRM_SECRET_ID", "never-read-for-a-withheld-number"));
    let emu = Emulator::start(&env)?;
    // crm-lookup answers a withheld number without touching the CRM or its secret; with
    // the breaker forced open, a real number gets the circuit_open fallback.
    let v = emu
        .invoke("crm-lookup", &json!({"ani": "anonymous"}))
        .await?;
    assert_eq!(
        (v["found"].as_bool(), v["dataActionFailed"].as_bool()),
        (Some(false), Some(false)),
        "{v}"
    );
    let v = emu
        .invoke("crm-lookup", &json!({"ani": "tel:+13175550123"}))
        .await?;
    assert_eq!(v["degradedReason"], "circuit_open", "{v}");
    // token-cache: the crm secret does not exist, so the answer is a typed, degraded
    // error for that provider (and the function keeps running); genesys is not configured.
    let v = emu.invoke("token-cache", &json!({})).await?;
    let p = &v["providers"];
    assert_eq!(p.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(
        (p[0]["name"].as_str(), p[0]["degraded"].as_bool()),
        (Some("crm"), Some(true)),
        "{v}"
    );
    assert!(
        p[0]["error"].as_str().is_some_and(|e| e.contains("secret")),
        "{v}"
    );
    let v = emu
        .invoke("token-cache", &json!({"provider": "genesys"}))
        .await?;
    assert_eq!(v, json!({"providers": []}));
    // health-probe: the forced breaker is left alone; the missing crm secret makes the
    // token endpoint unhealthy, and the crm probe is not counted against the CRM.
    let v = emu.invoke("health-probe", &json!({})).await?;
    let deps = v["dependencies"].as_array().cloned().unwrap_or_default();
    let row = |n: &str| {
        deps.iter()
            .find(|d| d["name"] == n)
            .cloned()
            .unwrap_or(json!(null))
    };
    assert_eq!(row("crm")["state"], "FORCED_OPEN", "{v}");
    assert_eq!(
        (
            row("crm-auth")["healthy"].as_bool(),
            row("crm-auth")["state"].as_str()
        ),
        (Some(false), Some("CLOSED")),
        "{v}"
    );
    // Two pages wait (no ALERT_SECRET_ID here): the forced open's trigger, and the
    // missing crm secret's configuration fault.
    assert_eq!(
        v["alerts"],
        json!({"sent": 0, "pending": 2}),
        "the pages wait: no ALERT_SECRET_ID"
    );
    // queue-metrics runs under the emulator in board_browser.rs (it needs a Genesys secret).
    Ok(())
}
