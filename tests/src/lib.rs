//! The test kit (`failsoft-testkit`, dev-only). Nothing here ships: the functions and the
//! operator CLI do not link it.
//!
//! - `moto`: moto (serialised) found or started, SDK clients for it, a fresh state table
//!   per test made from `infra/template.yaml`, secrets;
//! - `emulator`: the Lambda runtime emulator running the real function binaries, and the
//!   operator CLI's binary;
//! - `browser`: headless Chromium, for the status board;
//! - `fakes`: the vendors' fakes with fault injection (`fakes::http` underneath), checked
//!   against the record of the vendors' definitions (`contract`);
//! - `cx_as_code`: the Genesys side as code (Terraform module, Archy flows), checked
//!   against the records of the provider's schema and Archy's format;
//! - `world`: one configurable world (moto, table, clock, the fakes, their secrets,
//!   queues) that the in-process tests build from;
//! - `sqs_pump`, `stream_pump`: the event source mappings Lambda would run, played
//!   against moto; `crm_rig`: crm-lookup with its fakes;
//! - here: a store that counts its requests, breaker helpers, the Data Action's output
//!   contract.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;
use failsoft::breaker::{Applied, BreakerStore, Op, Record};
use failsoft::store::StoreError;

/// A dependency that answered with an error, which its breaker counts: for tests that
/// drive a breaker with calls of their own.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Down(pub String);

impl failsoft::breaker::Classify for Down {
    fn verdict(&self) -> failsoft::breaker::Verdict {
        failsoft::breaker::Verdict::Failed
    }
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every client against moto, as `Services::build` makes them in a function, with the
/// clock the test injects: for building the domain objects in-process.
pub async fn services(
    url: &str,
    table: &str,
    clock: std::sync::Arc<dyn failsoft::clock::Clock>,
) -> failsoft::service::Services {
    use failsoft::secrets::{SecretCache, SecretsManager};
    use std::sync::Arc;
    let conf = sdk_config(url).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&conf);
    failsoft::service::Services {
        store: Arc::new(failsoft::breaker::DynamoBreakerStore::new(
            dynamo.clone(),
            table,
        )),
        clock,
        table: table.to_string(),
        secrets: Arc::new(SecretCache::new(Arc::new(SecretsManager(
            aws_sdk_secretsmanager::Client::new(&conf),
        )))),
        http: reqwest::Client::new(),
        tokens: Arc::new(failsoft::token::DynamoTokenStore::new(
            dynamo.clone(),
            table,
        )),
        dynamo,
        sqs: aws_sdk_sqs::Client::new(&conf),
    }
}

/// Hold `b` OPEN as an operator's drill would.
pub async fn force_open(b: &failsoft::breaker::Breaker) -> Result<()> {
    b.command(failsoft::breaker::Event::ForceOpen {
        by: "drill".into(),
        until: None,
    })
    .await?;
    Ok(())
}

/// End `b`'s forced state: it returns to CLOSED.
pub async fn release(b: &failsoft::breaker::Breaker) -> Result<()> {
    b.command(failsoft::breaker::Event::Release { by: "drill".into() })
        .await?;
    Ok(())
}

/// A store decorator that counts reads and writes, for the benchmark and tests.
pub struct CountingStore {
    inner: Arc<dyn BreakerStore>,
    pub reads: AtomicU64,
    pub writes: AtomicU64,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn BreakerStore>) -> CountingStore {
        CountingStore {
            inner,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        }
    }
    pub fn counts(&self) -> (u64, u64) {
        (
            self.reads.load(Ordering::SeqCst),
            self.writes.load(Ordering::SeqCst),
        )
    }
}

#[async_trait]
impl BreakerStore for CountingStore {
    async fn load(&self, name: &str) -> std::result::Result<Record, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(name).await
    }
    async fn apply(&self, name: &str, op: &Op) -> std::result::Result<Applied, StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.apply(name, op).await
    }
    async fn list(&self) -> std::result::Result<Vec<Record>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.list().await
    }
}

pub mod browser;
pub mod contract;
pub mod cx_as_code;
pub mod emulator;
pub mod fakes;
pub mod moto;
pub mod sqs_pump;
pub mod stream_pump;
pub mod world;

pub use browser::{chromium, headless};
pub use emulator::{cli_binary, emulator_target_dir, free_port, Emulator};
pub use moto::{
    create_secret, ensure_venv, fresh_context_table, fresh_table, moto, private_moto, sdk_config,
    template_spec, venv_dir, Moto,
};
pub use world::{World, T0};

/// The output contract from the Data Action export, as a validator.
pub fn crm_output_validator() -> Result<jsonschema_shim::Validator> {
    jsonschema_shim::output_validator()
}

#[doc(hidden)]
pub mod jsonschema_shim {
    pub use jsonschema::Validator;
    pub fn output_validator() -> anyhow::Result<Validator> {
        let path = super::workspace_root().join("infra/genesys/crm-lookup.data-action.json");
        let export: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        let schema = &export["contract"]["output"]["successSchema"];
        jsonschema::validator_for(schema).map_err(|e| anyhow::anyhow!("schema: {e}"))
    }
}
pub mod crm_rig;

/// An operator command (force open/closed, release) on breaker `name`, as the CLI does.
pub async fn operator_command(
    client: aws_sdk_dynamodb::Client,
    table: &str,
    name: &str,
    event: failsoft::breaker::Event,
) -> Result<Option<failsoft::breaker::Transition>> {
    use failsoft::breaker::{Breaker, DynamoBreakerStore, GuardSettings, Policy};
    let store = Arc::new(DynamoBreakerStore::new(client, table));
    let b = Breaker::new(
        name,
        Policy::default(),
        GuardSettings::default(),
        store,
        Arc::new(failsoft::clock::SystemClock),
    );
    Ok(b.command(event).await?)
}
