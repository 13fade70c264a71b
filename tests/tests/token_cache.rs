//! The fleet token cache against moto and a fake token endpoint that counts requests.
//! Time is injected: a 10-minute outage passes without waiting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use failsoft::breaker::{
    Breaker, BreakerStore, DynamoBreakerStore, GuardSettings, Policy, State, TripPolicy,
};
use failsoft::clock::Clock;
use failsoft::secrets::{SecretCache, SecretsManager};
use failsoft::token::{DynamoTokenStore, Provider, Source, TokenCache, TokenError, TokenSettings};
use failsoft_testkit::fakes::http::{parse_form, FakeServer, Fault, Response};
use failsoft_testkit::{create_secret, sdk_config, World, T0};
use serde_json::json;
use tokio::time::Instant;

const MIN: i64 = 60_000;

/// A token endpoint (Salesforce or Genesys shape) issuing `tok-1`, `tok-2`, ...
async fn token_endpoint() -> anyhow::Result<FakeServer> {
    let n = Arc::new(AtomicU64::new(0));
    FakeServer::start(move |req, base| {
        let form = parse_form(&req.body);
        if !form.iter().any(|(k, v)| k == "grant_type" && v == "client_credentials") {
            return Response::json(400, &json!({"error": "unsupported_grant_type"}));
        }
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        Response::json(200, &json!({"access_token": format!("tok-{i}"), "instance_url": base, "token_type": "Bearer", "expires_in": 600}))
    })
    .await
}

/// A world with a token endpoint of its own, which numbers the tokens it issues.
struct Tokens {
    world: World,
    endpoint: FakeServer,
}

impl std::ops::Deref for Tokens {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

async fn world() -> anyhow::Result<Tokens> {
    let world = World::builder().build().await?;
    let endpoint = token_endpoint().await?;
    create_secret(
        &world.url,
        &format!("sf-{}", world.table),
        &json!({"token_url": format!("{}/services/oauth2/token", endpoint.url), "client_id": "id", "client_secret": "s3cr3t-value"}),
    )
    .await?;
    Ok(Tokens { world, endpoint })
}

impl Tokens {
    /// One instance's cache: its own clients, as a separate Lambda instance would have.
    async fn cache(&self, provider: Provider) -> TokenCache {
        let conf = sdk_config(&self.url).await;
        let dynamo = aws_sdk_dynamodb::Client::new(&conf);
        let policy = Policy {
            trip: TripPolicy::ConsecutiveFailures { threshold: 3 },
            recovery_timeout_ms: 60_000,
            success_threshold: 1,
            ..Policy::default()
        };
        let settings = GuardSettings {
            store_timeout_ms: 30_000,
            ..GuardSettings::default()
        };
        let breaker = Breaker::new(
            format!("{}-auth", provider.name()),
            policy,
            settings,
            Arc::new(DynamoBreakerStore::new(dynamo.clone(), &self.table)),
            self.clock.clone(),
        );
        let secrets = Arc::new(SecretCache::with_clock(
            Arc::new(SecretsManager(aws_sdk_secretsmanager::Client::new(&conf))),
            self.clock.clone(),
        ));
        TokenCache::new(
            provider,
            Arc::new(DynamoTokenStore::new(dynamo, &self.table)),
            breaker,
            reqwest::Client::new(),
            secrets,
            self.clock.clone(),
            TokenSettings {
                margin_ms: 15 * MIN,
                lease_ms: 5_000,
                poll_ms: 50,
            },
        )
    }

    fn salesforce(&self, lifetime_min: i64) -> Provider {
        Provider::Salesforce {
            secret_id: format!("sf-{}", self.table),
            lifetime_ms: lifetime_min * MIN,
        }
    }

    fn requests(&self) -> usize {
        self.endpoint.count("/")
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_cold_instances_make_one_token_request() -> anyhow::Result<()> {
    let w = world().await?;
    w.endpoint
        .fault("/", Fault::Slow(Duration::from_millis(400)), None); // widen the race
    let mut caches = Vec::new();
    for _ in 0..32 {
        caches.push(Arc::new(w.cache(w.salesforce(60)).await));
    }
    let handles: Vec<_> = caches
        .iter()
        .map(|c| {
            let c = c.clone();
            tokio::spawn(async move { c.get(deadline()).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for h in handles {
        let (t, _) = h.await??;
        tokens.push(t.access_token);
    }
    assert_eq!(w.requests(), 1, "token requests from 32 cold instances");
    assert!(tokens.iter().all(|t| t == "tok-1"), "{tokens:?}");
    // Warm calls need neither the endpoint nor the table.
    for c in &caches {
        assert_eq!(c.get(deadline()).await?.1, Source::Cache);
    }
    assert_eq!(w.requests(), 1);
    Ok(())
}

#[tokio::test]
async fn an_outage_is_served_from_cache_until_the_token_really_expires() -> anyhow::Result<()> {
    let w = world().await?;
    let a = w.cache(w.salesforce(60)).await;
    let b = w.cache(w.salesforce(60)).await;
    let (t, s) = a.get(deadline()).await?;
    assert_eq!((t.access_token.as_str(), s), ("tok-1", Source::Refreshed));

    // Into the refresh window (15 min before expiry), the endpoint goes down for 10 min.
    w.clock.set(T0 + 45 * MIN + 1);
    w.endpoint.fault("/", Fault::Status(503), None);
    let before = w.requests();
    for step in 0..20 {
        for c in [&a, &b] {
            let r = c.get(deadline()).await;
            assert!(
                matches!(&r, Ok((t, Source::Stale)) if t.access_token == "tok-1"),
                "step {step}: {r:?}"
            );
        }
        w.clock.advance(30_000);
    }
    // 3 failures open crm-auth; after that at most one probe a minute: no hammering.
    let during = w.requests() - before;
    assert!(
        (3..=3 + 10).contains(&during),
        "{during} token requests during a 10 min outage"
    );

    // Past the real expiry: a prompt, typed failure, not a wait for the deadline.
    w.clock.set(T0 + 60 * MIN + 1);
    let started = std::time::Instant::now();
    let r = a.get(Instant::now() + Duration::from_secs(4)).await;
    assert!(
        matches!(
            r,
            Err(TokenError::Unavailable {
                provider: "crm",
                ..
            })
        ),
        "{r:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited {:?}",
        started.elapsed()
    );

    // The endpoint recovers: the next probe brings a new token.
    w.endpoint.clear_faults();
    w.clock.advance(61_000);
    let (t, s) = b.get(deadline()).await?;
    assert_eq!(s, Source::Refreshed);
    assert_ne!(t.access_token, "tok-1");
    Ok(())
}

#[tokio::test]
async fn retry_after_is_honoured_by_every_instance() -> anyhow::Result<()> {
    let w = world().await?;
    let a = w.cache(w.salesforce(60)).await;
    let b = w.cache(w.salesforce(60)).await;
    w.endpoint
        .fault("/", Fault::TooMany { retry_after_s: 120 }, Some(1));
    assert!(a.get(deadline()).await.is_err());
    assert_eq!(w.requests(), 1);
    for at in [1_000, 30_000, 90_000, 119_000] {
        w.clock.set(T0 + at);
        for c in [&a, &b] {
            let r = c.get(deadline()).await;
            assert!(
                matches!(&r, Err(TokenError::Unavailable { reason, .. }) if reason.contains("wait")),
                "{r:?}"
            );
        }
    }
    assert_eq!(w.requests(), 1, "a request went out inside Retry-After");
    w.clock.set(T0 + 121_000);
    assert_eq!(b.get(deadline()).await?.1, Source::Refreshed);
    assert_eq!(w.requests(), 2);
    Ok(())
}

#[tokio::test]
async fn a_refused_token_is_dropped_fleet_wide_but_a_newer_one_is_kept() -> anyhow::Result<()> {
    let w = world().await?;
    let a = w.cache(w.salesforce(60)).await;
    let b = w.cache(w.salesforce(60)).await;
    let (t1, _) = a.get(deadline()).await?;
    assert_eq!(b.get(deadline()).await?.0, t1);
    a.invalidate(&t1, deadline()).await;
    let (t2, s) = a.get(deadline()).await?;
    assert_eq!((t2.access_token.as_str(), s), ("tok-2", Source::Refreshed));
    // b's stale 401 for t1 arrives late: t2 stays.
    b.invalidate(&t1, deadline()).await;
    assert_eq!(b.get(deadline()).await?.0.access_token, "tok-2");
    assert_eq!(w.requests(), 2);
    Ok(())
}

#[tokio::test]
async fn a_missing_secret_degrades_and_the_next_call_tries_again() -> anyhow::Result<()> {
    let w = world().await?;
    let provider = Provider::Salesforce {
        secret_id: format!("late-{}", w.table),
        lifetime_ms: 60 * MIN,
    };
    let c = w.cache(provider).await;
    let r = c.get(deadline()).await;
    assert!(
        matches!(&r, Err(TokenError::Unavailable { reason, .. }) if reason.contains("secret")),
        "{r:?}"
    );
    assert_eq!(w.requests(), 0);
    // Not counted against the token service, but paged, as its own incident.
    let store = DynamoBreakerStore::new(
        aws_sdk_dynamodb::Client::new(&sdk_config(&w.url).await),
        &w.table,
    );
    let auth = store.load("crm-auth").await?;
    assert_eq!((auth.state, auth.failures), (State::Closed, 0));
    assert_eq!(auth.config_fault, Some(w.clock.now_ms()));
    let page = auth.outbox.get("config").cloned();
    assert_eq!(
        page.as_ref().map(|p| (p.action, p.dedup_key.as_str())),
        Some((failsoft::breaker::Action::Trigger, "crm-auth/config"))
    );
    // Met again within the hour (by any instance): no second page.
    w.clock.advance(MIN);
    assert!(c.get(deadline()).await.is_err());
    let again = store.load("crm-auth").await?;
    assert_eq!(again.outbox.get("config"), page.as_ref());
    assert_eq!(again.config_fault, auth.config_fault);
    create_secret(
        &w.url,
        &format!("late-{}", w.table),
        &json!({"token_url": format!("{}/services/oauth2/token", w.endpoint.url), "client_id": "id", "client_secret": "x"}),
    )
    .await?;
    // A missing secret is a configuration fault that Secrets Manager answers at once:
    // it is read again on the next call, so the fix is picked up without waiting.
    assert_eq!(c.get(deadline()).await?.1, Source::Refreshed);
    // Fixed: the page is resolved, once.
    let fixed = store.load("crm-auth").await?;
    assert_eq!(fixed.config_fault, None);
    assert_eq!(
        fixed
            .outbox
            .get("config-resolve")
            .map(|a| (a.action, a.dedup_key.as_str())),
        Some((failsoft::breaker::Action::Resolve, "crm-auth/config"))
    );
    Ok(())
}

/// Finding 4: a hanging Secrets Manager made every call take its whole budget and answer
/// auth_unavailable, with every breaker CLOSED. Now one request costs at most 1 s, the
/// failure is remembered briefly, and it counts against the token service's breaker.
#[tokio::test]
async fn a_hanging_secrets_manager_is_bounded_remembered_and_blamed_on_auth() -> anyhow::Result<()>
{
    use failsoft::breaker::BreakerStore;
    let w = world().await?;
    let sm = FakeServer::start(|_, _| Response::json(200, &json!({}))).await?;
    sm.fault("/", Fault::Hang, None);
    let conf = sdk_config(&w.url).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&conf);
    let breaker = Breaker::new(
        "crm-auth",
        Policy::default(),
        GuardSettings::default(),
        Arc::new(DynamoBreakerStore::new(dynamo.clone(), &w.table)),
        w.clock.clone(),
    );
    let hanging = aws_sdk_secretsmanager::Client::new(&sdk_config(&sm.url).await);
    let secrets = SecretCache::with_clock(Arc::new(SecretsManager(hanging)), w.clock.clone());
    let cache = TokenCache::new(
        w.salesforce(60),
        Arc::new(DynamoTokenStore::new(dynamo.clone(), &w.table)),
        breaker,
        reqwest::Client::new(),
        Arc::new(secrets),
        w.clock.clone(),
        TokenSettings::default(),
    );
    let budget = Duration::from_millis(2_500);
    let t = Instant::now();
    assert!(cache.get(Instant::now() + budget).await.is_err());
    assert!(
        t.elapsed() < Duration::from_millis(1_600),
        "{:?}",
        t.elapsed()
    );
    let t = Instant::now();
    assert!(cache.get(Instant::now() + budget).await.is_err());
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "remembered: {:?}",
        t.elapsed()
    );
    let store = DynamoBreakerStore::new(dynamo, &w.table);
    assert_eq!(
        store.load("crm-auth").await?.failures,
        2,
        "counted against crm-auth"
    );
    Ok(())
}

#[tokio::test]
async fn genesys_tokens_use_basic_auth_and_honour_expires_in() -> anyhow::Result<()> {
    let w = world().await?;
    let secret = format!("gc-basic-{}", w.table);
    create_secret(
        &w.url,
        &secret,
        &json!({"client_id": "gc-id", "client_secret": "gc-secret"}),
    )
    .await?;
    let c = w
        .cache(Provider::Genesys {
            secret_id: secret,
            token_url: format!("{}/oauth/token", w.endpoint.url),
        })
        .await;
    let (t, s) = c.get(deadline()).await?;
    assert_eq!(s, Source::Refreshed);
    assert_eq!(
        t.expires_ms,
        w.clock.now_ms() + 600_000,
        "expires_in honoured"
    );
    let req = w
        .endpoint
        .requests()
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no request"))?;
    // base64("gc-id:gc-secret")
    assert_eq!(
        req.header("authorization"),
        Some("Basic Z2MtaWQ6Z2Mtc2VjcmV0")
    );
    assert!(
        !req.body.contains("gc-secret"),
        "the secret went in the body"
    );
    // A 600 s token refreshes at half its life (the 15 min margin is capped).
    w.clock.advance(299_000);
    assert_eq!(c.get(deadline()).await?.1, Source::Cache);
    w.clock.advance(2_000);
    assert_eq!(c.get(deadline()).await?.1, Source::Refreshed);
    Ok(())
}

/// The token-cache function under the emulator: refreshes on request, answers with
/// expiry and source, and neither its answer nor its logs hold a token or secret.
#[tokio::test]
async fn the_function_refreshes_and_never_shows_the_token() -> anyhow::Result<()> {
    let w = world().await?;
    let secret = format!("sf-{}", w.table);
    let key = kms_key(&w.url).await?;
    let mut env = failsoft_testkit::Emulator::aws_env(&w.url, &w.table);
    env.push(("CRM_SECRET_ID", secret.as_str()));
    env.push(("TOKEN_KMS_KEY_ID", key.as_str()));
    // The save (KMS, then DynamoDB) gets the breaker's store timeout, 250 ms by default;
    // a moto loaded by the rest of the suite can miss it (the token then lives only in
    // memory, as it should). What is tested here is the sealing, not that budget.
    env.push(("BREAKER_CRM_AUTH_STORE_TIMEOUT_MS", "5000"));
    let log = std::env::temp_dir().join(format!("failsoft-token-{}.log", w.table));
    let emu = failsoft_testkit::Emulator::start_logged(&env, Some(log.clone()))?;
    let first = emu
        .invoke("token-cache", &json!({"provider": "crm"}))
        .await?;
    let p = &first["providers"][0];
    assert_eq!(
        (
            p["name"].as_str(),
            p["source"].as_str(),
            p["degraded"].as_bool()
        ),
        (Some("crm"), Some("refreshed"), Some(false)),
        "{first}"
    );
    assert!(
        p["expiresAt"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z') && s.len() == 24),
        "{first}"
    );
    // The scheduled run finds it fresh: no second request.
    let second = emu
        .invoke("token-cache", &json!({"source": "aws.scheduler"}))
        .await?;
    assert_eq!(second["providers"][0]["source"], "cache", "{second}");
    assert_eq!(w.requests(), 1);
    let text = std::fs::read_to_string(&log)?;
    // The table holds the token sealed: no plain text in the item.
    let item = raw_item(&w, "token#crm").await?;
    assert!(
        matches!(
            item.get("token"),
            Some(aws_sdk_dynamodb::types::AttributeValue::B(_))
        ),
        "{item:?}"
    );
    assert!(!format!("{item:?}").contains("tok-1"), "{item:?}");
    for leaked in ["tok-1", "s3cr3t-value"] {
        assert!(
            !first.to_string().contains(leaked) && !second.to_string().contains(leaked),
            "{leaked} in an answer"
        );
        assert!(!text.contains(leaked), "{leaked} in the logs");
    }
    Ok(())
}

/// Finding 2: with DynamoDB accepting requests and never answering, a cold instance spent
/// its whole budget on the token item and answered auth_unavailable, though the token
/// endpoint was healthy. Each state-table request now costs at most the store timeout.
#[tokio::test]
async fn a_hanging_state_table_costs_only_the_store_timeout() -> anyhow::Result<()> {
    let w = world().await?;
    let table = FakeServer::start(|_, _| Response::json(200, &json!({}))).await?;
    table.fault("/", Fault::Hang, None);
    let conf = sdk_config(&w.url).await;
    let hanging = aws_sdk_dynamodb::Client::new(&sdk_config(&table.url).await);
    let breaker = Breaker::new(
        "crm-auth",
        Policy::default(),
        GuardSettings::default(),
        Arc::new(DynamoBreakerStore::new(hanging.clone(), &w.table)),
        w.clock.clone(),
    );
    let secrets = Arc::new(SecretCache::new(Arc::new(SecretsManager(
        aws_sdk_secretsmanager::Client::new(&conf),
    ))));
    let cache = TokenCache::new(
        w.salesforce(60),
        Arc::new(DynamoTokenStore::new(hanging, &w.table)),
        breaker,
        reqwest::Client::new(),
        secrets,
        w.clock.clone(),
        TokenSettings::default(),
    );
    let budget = Duration::from_millis(2_500);
    let started = Instant::now();
    let got = cache.get(Instant::now() + budget).await;
    let took = started.elapsed();
    assert!(matches!(got, Ok((_, Source::Refreshed))), "{got:?}");
    assert!(
        took < Duration::from_millis(1_500),
        "took {took:?} of {budget:?}"
    );
    // Past its refresh point, the token still in memory is refreshed the same way.
    w.clock.advance(55 * MIN);
    let started = Instant::now();
    let got = cache.get(Instant::now() + budget).await;
    assert!(got.is_ok(), "{got:?}");
    assert!(started.elapsed() < Duration::from_millis(1_500));
    assert!(table.count("/") >= 2, "the table was asked");
    Ok(())
}

/// A KMS key in moto, for sealing tokens.
async fn kms_key(url: &str) -> anyhow::Result<String> {
    let kms = aws_sdk_kms::Client::new(&sdk_config(url).await);
    let key = kms.create_key().send().await?;
    key.key_metadata()
        .map(|m| m.key_id().to_string())
        .ok_or_else(|| anyhow::anyhow!("no key id"))
}

async fn raw_item(
    w: &World,
    pk: &str,
) -> anyhow::Result<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config(&w.url).await);
    let out = client
        .get_item()
        .table_name(&w.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
        .send()
        .await?;
    Ok(out.item().cloned().unwrap_or_default())
}

/// Finding 9: bearer tokens sat in plain text in the table (and in 35 days of backups).
/// Sealed with KMS, bound to their provider: the item holds ciphertext, every instance
/// opens it, a token sealed for one provider opens for no other, a plain token written
/// before sealing still reads, and a refused token is dropped fleet-wide all the same.
#[tokio::test]
async fn tokens_are_sealed_in_the_table_and_bound_to_their_provider() -> anyhow::Result<()> {
    use failsoft::token::{KmsSeal, Token, TokenStore};
    let w = world().await?;
    let conf = sdk_config(&w.url).await;
    let key = kms_key(&w.url).await?;
    let dynamo = aws_sdk_dynamodb::Client::new(&conf);
    let sealed = || {
        DynamoTokenStore::new(dynamo.clone(), &w.table)
            .sealed_with(KmsSeal::new(aws_sdk_kms::Client::new(&conf), &key))
    };
    let token = Token {
        access_token: "00Dsecret!bearer".into(),
        instance_url: Some("https://example.my.salesforce.com".into()),
        expires_ms: T0 + 3_600_000,
        issued_ms: T0,
    };
    let a = sealed();
    assert!(a.try_lease("crm", "a", T0, T0 + 5_000).await?);
    assert!(a.save("crm", "a", &token, T0).await?);
    let item = raw_item(&w, "token#crm").await?;
    assert!(!format!("{item:?}").contains("00Dsecret"), "{item:?}");
    // Another instance opens it.
    assert_eq!(sealed().load("crm").await?.token, Some(token.clone()));
    // Moved under another provider's key, it does not open: the context binds it.
    let client = aws_sdk_dynamodb::Client::new(&conf);
    let mut moved = item.clone();
    moved.insert(
        "pk".into(),
        aws_sdk_dynamodb::types::AttributeValue::S("token#genesys".into()),
    );
    client
        .put_item()
        .table_name(&w.table)
        .set_item(Some(moved))
        .send()
        .await?;
    assert!(sealed().load("genesys").await.is_err());
    // A refused token is dropped by expiry and issue time, sealed or not.
    sealed().invalidate("crm", &token).await?;
    let after = sealed().load("crm").await?;
    assert_eq!(after.token.map(|t| t.expires_ms), Some(0));
    // A plain token from before sealing still reads.
    let plain = DynamoTokenStore::new(dynamo.clone(), &w.table);
    assert!(plain.try_lease("old", "p", T0, T0 + 5_000).await?);
    assert!(plain.save("old", "p", &token, T0).await?);
    assert_eq!(sealed().load("old").await?.token, Some(token));
    Ok(())
}

/// A process without the key (the operator's CLI run without `TOKEN_KMS_KEY_ID`) reads
/// a sealed token as none and fetches its own; it never writes it over the fleet's
/// sealed item in clear text (into the table and 35 days of backups). A plain item, or
/// none, it may still write.
#[tokio::test]
async fn a_process_without_the_key_never_overwrites_a_sealed_token() -> anyhow::Result<()> {
    use failsoft::token::{KmsSeal, Token, TokenStore};
    let w = world().await?;
    let conf = sdk_config(&w.url).await;
    let key = kms_key(&w.url).await?;
    let dynamo = aws_sdk_dynamodb::Client::new(&conf);
    let sealed = DynamoTokenStore::new(dynamo.clone(), &w.table)
        .sealed_with(KmsSeal::new(aws_sdk_kms::Client::new(&conf), &key));
    let plain = DynamoTokenStore::new(dynamo.clone(), &w.table);
    let fleet = Token {
        access_token: "00Dfleet!sealed".into(),
        instance_url: Some("https://example.my.salesforce.com".into()),
        expires_ms: T0 + 3_600_000,
        issued_ms: T0,
    };
    assert!(sealed.try_lease("crm", "fleet", T0, T0 + 5_000).await?);
    assert!(sealed.save("crm", "fleet", &fleet, T0).await?);
    // The keyless process cannot open it, so it fetched a token of its own.
    assert_eq!(plain.load("crm").await?.token, None);
    let cli = Token {
        access_token: "00Dcli!plaintext".into(),
        ..fleet.clone()
    };
    assert!(
        plain
            .try_lease("crm", "cli", T0 + 10_000, T0 + 15_000)
            .await?
    );
    assert!(
        !plain.save("crm", "cli", &cli, T0 + 10_000).await?,
        "refused: the item is sealed"
    );
    let item = raw_item(&w, "token#crm").await?;
    assert!(!format!("{item:?}").contains("00Dcli"), "{item:?}");
    assert_eq!(sealed.load("crm").await?.token, Some(fleet.clone()));
    // Where nothing is sealed, a keyless process still keeps the token.
    assert!(plain.try_lease("genesys", "cli", T0, T0 + 5_000).await?);
    assert!(plain.save("genesys", "cli", &cli, T0).await?);
    Ok(())
}
