//! crm-lookup under the emulator, against moto and a fake Salesforce: for the end-to-end
//! suite and the latency benchmark.

use crate::fakes;
use serde_json::{json, Value};

use crate::fakes::http::FakeServer;
use crate::fakes::salesforce::{contact, FakeContact};
use crate::{create_secret, fresh_table, moto, Emulator};

pub struct CrmRig {
    pub sf: FakeServer,
    pub emu: Emulator,
    /// Everything the emulator and the function printed.
    pub log: std::path::PathBuf,
    pub moto_url: String,
    pub table: String,
}

/// Start the rig; `env` adds or overrides crm-lookup's environment.
pub async fn start(env: &[(&str, &str)]) -> anyhow::Result<CrmRig> {
    start_with(default_contacts(), env).await
}

/// The rig with the CRM holding `contacts`.
pub async fn start_with(
    contacts: Vec<FakeContact>,
    env: &[(&str, &str)],
) -> anyhow::Result<CrmRig> {
    let m = moto()?;
    let (_, table) = fresh_table(&m.url).await?;
    let sf = fakes::salesforce::start(contacts).await?;
    let secret = format!("crm-{table}");
    let creds = fakes::salesforce::credentials(&sf.url);
    create_secret(&m.url, &secret, &creds).await?;
    let mut all = Emulator::aws_env(&m.url, &table);
    all.extend([
        ("CRM_SECRET_ID", secret.as_str()),
        ("CRM_TIER_MAP", "Platinum=vip,Gold=vip"),
        ("LOOKUP_DEADLINE_MS", "2500"),
        ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "3600"),
    ]);
    all.extend(env.iter().copied());
    let log = std::env::temp_dir().join(format!("failsoft-crm-{table}.log"));
    let emu = Emulator::start_logged(&all, Some(log.clone()))?;
    // The first invocation may build the function.
    emu.invoke("crm-lookup", &json!({"ani": "anonymous"}))
        .await?;
    Ok(CrmRig {
        sf,
        emu,
        log,
        moto_url: m.url.clone(),
        table,
    })
}

/// The contacts the end-to-end suite expects.
fn default_contacts() -> Vec<FakeContact> {
    vec![
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
    ]
}

impl CrmRig {
    pub async fn lookup(&self, event: &Value) -> anyhow::Result<Value> {
        self.emu.invoke("crm-lookup", event).await
    }
}
