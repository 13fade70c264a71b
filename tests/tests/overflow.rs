//! An Architect emergency group switched on and off against a
//! fake Genesys whose PUT replaces the whole group, as the real API does. A naive PUT
//! (`{enabled: true}`) disconnects every IVR; the switch keeps them, re-reads a moved
//! version, and restores links that a PUT lost.

use std::sync::Arc;
use std::time::Duration;

use failsoft::breaker::{Breaker, DynamoBreakerStore, GuardSettings, Policy};
use failsoft::clock::SystemClock;
use failsoft::genesys::GenesysApi;
use failsoft::overflow::{set_enabled, SwitchError};
use failsoft::secrets::{SecretCache, SecretsManager};
use failsoft::token::{DynamoTokenStore, Provider, TokenCache, TokenSettings};
use failsoft_testkit::fakes::genesys::{FakeGenesys, Stale, EMERGENCY};
use failsoft_testkit::fakes::http::{Fault, Response};
use failsoft_testkit::{create_secret, fresh_table, moto, sdk_config};
use serde_json::{json, Value};
use tokio::time::Instant;

const IVRS: [&str; 3] = ["ivr-main", "ivr-sales", "ivr-support"];

async fn world() -> anyhow::Result<(FakeGenesys, GenesysApi)> {
    let m = moto()?;
    let (_, table) = fresh_table(&m.url).await?;
    let g = FakeGenesys::start().await?;
    g.add_group("eg-1", "Regional overflow", &IVRS);
    let secret = format!("gc-{table}");
    create_secret(
        &m.url,
        &secret,
        &json!({"client_id": "id", "client_secret": "s"}),
    )
    .await?;
    let conf = sdk_config(&m.url).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&conf);
    let clock = Arc::new(SystemClock);
    let tokens = TokenCache::new(
        Provider::Genesys {
            secret_id: secret,
            token_url: format!("{}/oauth/token", g.server.url),
        },
        Arc::new(DynamoTokenStore::new(dynamo.clone(), &table)),
        Breaker::new(
            "genesys-auth",
            Policy::default(),
            GuardSettings::default(),
            Arc::new(DynamoBreakerStore::new(dynamo, &table)),
            clock.clone(),
        ),
        reqwest::Client::new(),
        Arc::new(SecretCache::new(Arc::new(SecretsManager(
            aws_sdk_secretsmanager::Client::new(&conf),
        )))),
        clock,
        TokenSettings::default(),
    );
    let api = GenesysApi::new(
        reqwest::Client::new(),
        g.server.url.clone(),
        Arc::new(tokens),
        6_000,
    );
    Ok((g, api))
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

fn ivrs_of(group: &Value) -> Vec<String> {
    let mut out: Vec<String> = group["emergencyCallFlows"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["ivrs"].as_array().cloned().unwrap_or_default())
        .filter_map(|i| i["id"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_naive_put_disconnects_the_ivrs_and_the_switch_keeps_them() -> anyhow::Result<()> {
    let (g, api) = world().await?;
    // The pitfall, shown on the fake: only `enabled` (and the version and the required
    // name) sent.
    let naive = api
        .request(
            reqwest::Method::PUT,
            &format!("{EMERGENCY}/eg-1"),
            Some(&json!({"name": "Regional overflow", "enabled": true, "version": 1})),
            deadline(),
        )
        .await?;
    assert_eq!(naive["enabled"], true);
    assert!(
        ivrs_of(&g.group("eg-1")).is_empty(),
        "a naive PUT dropped every IVR link"
    );

    // The switch, on a fresh group: the whole object back, every link kept.
    g.add_group("eg-1", "Regional overflow", &IVRS);
    let on = set_enabled(&api, "eg-1", true, deadline()).await?;
    assert!(on.changed && on.after.enabled);
    assert_eq!(ivrs_of(&g.group("eg-1")), IVRS);
    assert_eq!(g.group("eg-1")["enabled"], true);
    assert_eq!(g.group("eg-1")["version"], 2);
    // Again: nothing to change, nothing PUT.
    let puts = g
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .count();
    let again = set_enabled(&api, "eg-1", true, deadline()).await?;
    assert!(!again.changed);
    assert_eq!(
        g.server
            .requests()
            .iter()
            .filter(|r| r.method == "PUT")
            .count(),
        puts
    );
    // And off, links intact.
    let off = set_enabled(&api, "eg-1", false, deadline()).await?;
    assert!(off.changed && !off.after.enabled);
    assert_eq!(ivrs_of(&g.group("eg-1")), IVRS);
    Ok(())
}

#[tokio::test]
async fn a_moved_version_is_read_again() -> anyhow::Result<()> {
    let (g, api) = world().await?;
    let conflict = Response::json(409, &json!({"message": "version mismatch"}));
    // The GET passes; the PUT finds the version moved (409); the switch reads again.
    g.server.faults_in_turn(
        &format!("{EMERGENCY}/eg-1"),
        &[Fault::Slow(Duration::ZERO), Fault::Respond(conflict)],
    );
    let on = set_enabled(&api, "eg-1", true, deadline()).await?;
    assert!(on.changed && on.after.enabled);
    let puts = g
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .count();
    assert_eq!(puts, 2, "one refused, one taken");
    assert_eq!(ivrs_of(&g.group("eg-1")), IVRS);
    Ok(())
}

#[tokio::test]
async fn links_a_put_lost_are_restored_at_once_and_reported() -> anyhow::Result<()> {
    let (g, api) = world().await?;
    if let Ok(mut b) = g.book.lock() {
        b.lose_ivrs_once = true;
    }
    let r = set_enabled(&api, "eg-1", true, deadline()).await;
    match r {
        Err(SwitchError::IvrsLost { lost, restored }) => {
            assert_eq!(lost, IVRS);
            assert!(restored, "put back at once");
        }
        other => panic!("expected IvrsLost, got {other:?}"),
    }
    assert_eq!(ivrs_of(&g.group("eg-1")), IVRS, "the links are back");
    Ok(())
}

/// Genesys may answer a stale version with 400 "does not match the current version"
/// instead of 409 (Genesys's own Terraform provider retries both): the switch reads
/// again and goes through, where it used to fail at once and page for the SBC re-route.
#[tokio::test]
async fn a_stale_version_answered_400_is_read_again_too() -> anyhow::Result<()> {
    let (g, api) = world().await?;
    g.server.faults_in_turn(
        &format!("{EMERGENCY}/eg-1"),
        &[
            Fault::Slow(Duration::ZERO),
            Fault::Respond(Stale::BadRequest400.answer()),
        ],
    );
    let on = set_enabled(&api, "eg-1", true, deadline()).await?;
    assert!(on.changed && on.after.enabled);
    assert_eq!(g.group("eg-1")["enabled"], true);
    assert_eq!(ivrs_of(&g.group("eg-1")), IVRS);
    // The fake answers a real stale PUT the same way.
    g.answer_stale_with(Stale::BadRequest400);
    let stale = api
        .request(
            reqwest::Method::PUT,
            &format!("{EMERGENCY}/eg-1"),
            Some(&json!({"name": "Regional overflow", "enabled": false, "version": 1})),
            deadline(),
        )
        .await;
    assert!(
        stale.as_ref().is_err_and(|e| e.is_version_conflict()),
        "{stale:?}"
    );
    Ok(())
}
