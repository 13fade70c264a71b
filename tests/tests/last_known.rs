//! The last-known caller context against moto and the fake Salesforce, in process: a
//! VIP seen while the CRM was healthy is answered VIP while it is down, a demoted caller
//! standard, an unseen one standard; the stored items hold no number, name or CRM id;
//! writes follow callers, not calls; and the context table's faults (hanging, throttled,
//! failing, refused) and its key's (Secrets Manager hanging) never hold up an answer nor
//! change its fallback.

use std::time::{Duration, Instant};

use failsoft::crm::last_known::KEY_FIELD;
use failsoft::crm::lookup::{Answer, ContextSource, CrmLookup, Reason};
use failsoft_testkit::fakes::aws::{
    dynamo_requests, front, internal_error, refused_url, throttled,
};
use failsoft_testkit::fakes::http::{FakeServer, Fault};
use failsoft_testkit::fakes::salesforce::{contact, FakeContact, API_PREFIX};
use failsoft_testkit::{
    create_secret, crm_output_validator, fresh_context_table, sdk_config, World,
};
use serde_json::{json, Value};

const VIP: &str = "tel:+13175550123";
const DEMOTED: &str = "tel:+13175550456";
const UNSEEN: &str = "tel:+13175550999";
const DEADLINE: Duration = Duration::from_millis(2_000);
/// Salesforce's time to answer a search, as the cost model takes it (DynamoDB answers in
/// single-digit milliseconds): the context's read is done before the CRM answers, which
/// is when a healthy lookup keeps the tier it confirmed (a read still running then is not
/// waited for).
const CRM_TIME: Duration = Duration::from_millis(200);
/// A CRM that answers well within the context read's 250 ms bound.
const FAST_CRM: Duration = Duration::from_millis(20);

fn contacts(demoted_tier: Option<&str>) -> Vec<FakeContact> {
    let at = "2026-01-01T00:00:00.000+0000";
    vec![
        contact("003VIP", "Val Vip", "13175550123", at, Some("Platinum")),
        contact("003DEM", "Dee Demoted", "13175550456", at, demoted_tier),
    ]
}

/// A world whose crm-lookup keeps the last-known context in a table of its own.
async fn world() -> anyhow::Result<World> {
    let mut w = World::builder()
        .contacts(contacts(Some("Gold")))
        .var("CRM_TIER_MAP", "Platinum=vip,Gold=vip")
        .var("LOOKUP_DEADLINE_MS", DEADLINE.as_millis().to_string())
        .var("LAST_KNOWN_CONTEXT", "on")
        .build()
        .await?;
    let table = fresh_context_table(&w.url).await?;
    let secret = format!("ctx-{}", w.table);
    create_secret(&w.url, &secret, &json!({ KEY_FIELD: "k".repeat(64) })).await?;
    w.set_var("CONTEXT_TABLE", table);
    w.set_var("LAST_KNOWN_KEY_SECRET_ID", secret);
    crm_healthy(&w);
    Ok(w)
}

fn lookup(w: &World) -> anyhow::Result<CrmLookup> {
    Ok(CrmLookup::build(&w.services, &w.env())?)
}

/// The answer, checked against the Data Action's output contract, and its time.
async fn ask(l: &CrmLookup, ani: &str) -> anyhow::Result<(Answer, Duration)> {
    let started = Instant::now();
    let a = l.answer(&json!({"ani": ani}), None).await;
    let took = started.elapsed();
    let v = serde_json::to_value(&a)?;
    let validator = crm_output_validator()?;
    if let Err(e) = validator.validate(&v) {
        anyhow::bail!("{v} breaks the output contract: {e}");
    }
    Ok((a, took))
}

fn crm_down(w: &World) {
    w.sf.fault(API_PREFIX, Fault::Status(503), None);
}

fn crm_healthy(w: &World) {
    w.sf.fault(API_PREFIX, Fault::Slow(CRM_TIME), None);
}

async fn items(
    w: &World,
) -> anyhow::Result<Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>>
{
    let out = w
        .dynamo()
        .await
        .scan()
        .table_name(w.var("CONTEXT_TABLE"))
        .send()
        .await?;
    Ok(out.items().to_vec())
}

#[tokio::test]
async fn a_vip_seen_while_the_crm_was_healthy_is_answered_vip_while_it_is_down(
) -> anyhow::Result<()> {
    let w = world().await?;
    let l = lookup(&w)?;
    let (vip, _) = ask(&l, VIP).await?;
    assert_eq!(
        (vip.found, vip.account_tier.as_str(), vip.context_source),
        (true, "vip", ContextSource::Crm)
    );
    assert_eq!(ask(&l, DEMOTED).await?.0.account_tier, "vip");
    // The demoted caller's tier changes in the CRM; the next healthy lookup keeps it.
    w.org.set_contacts(contacts(None));
    w.clock.advance(60_000);
    assert_eq!(ask(&l, DEMOTED).await?.0.account_tier, "standard");

    crm_down(&w);
    w.clock.advance(2 * 86_400_000);
    for (ani, tier, source) in [
        (VIP, "vip", ContextSource::LastKnown),
        (DEMOTED, "standard", ContextSource::LastKnown),
        (UNSEEN, "standard", ContextSource::None),
    ] {
        let (a, took) = ask(&l, ani).await?;
        assert!(a.data_action_failed && !a.found, "{ani}: {a:?}");
        assert_ne!(a.degraded_reason, Reason::None, "{ani}: {a:?}");
        assert_eq!(
            (a.account_tier.as_str(), a.context_source),
            (tier, source),
            "{ani}"
        );
        assert_eq!(a.customer_name, "Unknown", "{ani}: no name is kept");
        assert!(took < DEADLINE, "{ani}: {took:?}");
    }
    let (vip, _) = ask(&l, VIP).await?;
    // Confirmed before the minute the demotion took, and two days.
    assert_eq!(vip.context_age_s, 2 * 86_400 + 60, "{vip:?}");
    // Past the TTL (30 days by default) nothing is used, though DynamoDB has not yet
    // deleted the item.
    w.clock.advance(29 * 86_400_000);
    assert_eq!(ask(&l, VIP).await?.0.context_source, ContextSource::None);
    Ok(())
}

/// What is stored: a keyed hash, the tier and two times, and nothing that names the
/// caller (the number in any form, the name, the CRM ids).
#[tokio::test]
async fn the_stored_item_holds_no_number_name_or_crm_id() -> anyhow::Result<()> {
    let w = world().await?;
    let l = lookup(&w)?;
    ask(&l, VIP).await?;
    ask(&l, DEMOTED).await?;
    let items = items(&w).await?;
    assert_eq!(items.len(), 2, "{items:?}");
    for item in &items {
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["confirmed_ms", "expires_at", "pk", "tier"]);
        let text = format!("{item:?}");
        for secret in [
            "3175550123",
            "5550123",
            "3175550456",
            "Val",
            "Vip",
            "Dee",
            "003VIP",
            "003DEM",
            "001",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    Ok(())
}

/// A lookup through a DynamoDB front (the breaker's items and the context's).
async fn through(w: &World, front: &FakeServer) -> anyhow::Result<CrmLookup> {
    let services = failsoft_testkit::services(&front.url, &w.table, w.clock.clone()).await;
    Ok(CrmLookup::build(&services, &w.env())?)
}

/// A caller who calls five times in an hour costs one write; a tier change one more;
/// the refresh one more after `LAST_KNOWN_REFRESH_HOURS`.
#[tokio::test]
async fn writes_follow_callers_not_calls() -> anyhow::Result<()> {
    let w = world().await?;
    let front = front(&w.url).await?;
    let l = through(&w, &front).await?;
    let table = w.var("CONTEXT_TABLE");
    for _ in 0..5 {
        ask(&l, VIP).await?;
        w.clock.advance(600_000);
    }
    assert_eq!(dynamo_requests(&front, &table, "PutItem"), 1);
    w.clock.advance(24 * 3_600_000);
    ask(&l, VIP).await?;
    assert_eq!(
        dynamo_requests(&front, &table, "PutItem"),
        2,
        "refreshed after 24 h"
    );
    Ok(())
}

/// Each fault of the context table, on its reads and writes: the healthy answer is the
/// CRM's and is not held up; with the CRM down, the answer is the guide's fallback
/// (standard, `none`), inside the deadline.
#[tokio::test]
async fn the_context_tables_faults_never_delay_or_change_an_answer() -> anyhow::Result<()> {
    let w = world().await?;
    // Kept while everything was healthy: the VIP is in the table.
    ask(&lookup(&w)?, VIP).await?;
    let table = w.var("CONTEXT_TABLE");
    let secret = w.var("LAST_KNOWN_KEY_SECRET_ID");
    let faults: Vec<(&str, Option<Fault>)> = vec![
        ("hanging", Some(Fault::Hang)),
        ("throttled", Some(throttled())),
        ("failing", Some(internal_error())),
        ("refused", None),
        ("key secret hanging", Some(Fault::Hang)),
    ];
    for (what, fault) in faults {
        let front = front(&w.url).await?;
        let mut l = through(&w, &front).await?;
        match fault {
            // Secrets Manager, through the same front: the HMAC key cannot be read.
            Some(f) if what.starts_with("key") => {
                let target = "secretsmanager.GetSecretValue";
                front.fault_if_body("X-Amz-Target", target, &secret, f);
            }
            Some(f) => {
                for op in ["GetItem", "PutItem"] {
                    let target = format!("DynamoDB_20120810.{op}");
                    front.fault_if_body("X-Amz-Target", &target, &table, f.clone());
                }
            }
            None => {
                let conf = sdk_config(&refused_url()?).await;
                if let Some(c) = l.last_known.as_mut() {
                    c.dynamo = aws_sdk_dynamodb::Client::new(&conf);
                }
            }
        }
        // A CRM quicker than the read's 250 ms bound, so that waiting for the read would
        // show.
        w.sf.fault(API_PREFIX, Fault::Slow(FAST_CRM), None);
        let (a, took) = ask(&l, "tel:+13175550777").await?;
        assert_eq!(
            (a.found, a.data_action_failed),
            (false, false),
            "{what}: {a:?}"
        );
        let (a, took_vip) = ask(&l, VIP).await?;
        assert_eq!(
            (a.found, a.context_source),
            (true, ContextSource::Crm),
            "{what}"
        );
        // Not held up by a hanging read: the CRM's answer goes when it comes, not after
        // the read's 250 ms (the faster of the two calls, so that one slow moment of a
        // loaded machine does not decide it).
        let limit = FAST_CRM + Duration::from_millis(150);
        assert!(took.min(took_vip) < limit, "{what}: {took:?} {took_vip:?}");
        assert!(
            took.max(took_vip) < DEADLINE,
            "{what}: {took:?} {took_vip:?}"
        );
        crm_down(&w);
        let (a, took) = ask(&l, VIP).await?;
        assert_eq!(
            (
                a.data_action_failed,
                a.account_tier.as_str(),
                a.context_source
            ),
            (true, "standard", ContextSource::None),
            "{what}: {a:?}"
        );
        // The fallback waits for the read at most its 250 ms, not the deadline.
        assert!(took < Duration::from_millis(1_000), "{what}: {took:?}");
    }
    Ok(())
}

/// Off by default: no context is read or kept, and the answer says `none` on a fallback.
#[tokio::test]
async fn off_by_default() -> anyhow::Result<()> {
    let mut w = world().await?;
    w.set_var("LAST_KNOWN_CONTEXT", "off");
    let l = lookup(&w)?;
    assert!(l.last_known.is_none());
    ask(&l, VIP).await?;
    crm_down(&w);
    let (a, _) = ask(&l, VIP).await?;
    assert_eq!(
        (a.account_tier.as_str(), a.context_source),
        ("standard", ContextSource::None)
    );
    assert!(items(&w).await?.is_empty());
    let _: Value = serde_json::to_value(&a)?;
    Ok(())
}
