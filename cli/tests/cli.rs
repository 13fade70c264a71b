//! The `failsoft` binary against moto: list, show, force open/closed, release.

use std::process::Command;

use failsoft::breaker::{BreakerStore, DynamoBreakerStore, State};
use failsoft_testkit::{fresh_table, moto, workspace_root};
use serde_json::Value;

fn run(url: &str, table: &str, args: &[&str]) -> anyhow::Result<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_failsoft"))
        .args(args)
        .current_dir(workspace_root())
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("STATE_TABLE", table)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "failsoft {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[tokio::test]
async fn operator_forces_and_releases_a_breaker() -> anyhow::Result<()> {
    let m = moto()?;
    let (client, table) = fresh_table(&m.url).await?;
    let store = DynamoBreakerStore::new(client, table.clone());

    let v = run(
        &m.url,
        &table,
        &["breaker", "force-open", "crm", "--by", "maint-window"],
    )?;
    assert_eq!(v["transition"], "CLOSED->FORCED_OPEN");
    let rec = store.load("crm").await?;
    assert_eq!(rec.state, State::ForcedOpen);
    assert!(
        rec.episode.is_some(),
        "a forced open is an episode of its own"
    );

    let v = run(&m.url, &table, &["breaker", "force-open", "crm"])?;
    assert_eq!(
        v["transition"],
        Value::Null,
        "forcing again changes nothing"
    );

    let v = run(&m.url, &table, &["breaker", "list"])?;
    assert_eq!(v[0]["name"], "crm");
    assert_eq!(v[0]["state"], "FORCED_OPEN");

    let v = run(&m.url, &table, &["breaker", "show", "crm"])?;
    assert_eq!(v["generation"], 1);

    let v = run(&m.url, &table, &["breaker", "force-closed", "crm"])?;
    assert_eq!(v["transition"], "FORCED_OPEN->FORCED_CLOSED");
    let v = run(&m.url, &table, &["breaker", "release", "crm"])?;
    assert_eq!(v["transition"], "FORCED_CLOSED->CLOSED");
    let v = run(&m.url, &table, &["breaker", "release", "crm"])?;
    assert_eq!(
        v["transition"],
        Value::Null,
        "release of an unforced breaker is a no-op"
    );
    let rec = store.load("crm").await?;
    assert_eq!(
        (rec.state, rec.generation, rec.episode),
        (State::Closed, 3, None)
    );
    Ok(())
}

#[tokio::test]
async fn table_create_uses_the_template() -> anyhow::Result<()> {
    let m = moto()?;
    let name = format!("cli-made-{:x}", std::process::id());
    let v = run(&m.url, &name, &["table", "create"])?;
    assert_eq!(v["created"], name);
    let conf = failsoft_testkit::sdk_config(&m.url).await;
    let client = aws_sdk_dynamodb::Client::new(&conf);
    let d = client.describe_table().table_name(&name).send().await?;
    let keys: Vec<String> = d
        .table()
        .map(|t| {
            t.key_schema()
                .iter()
                .map(|k| k.attribute_name().to_string())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(keys, ["pk"]);
    Ok(())
}
