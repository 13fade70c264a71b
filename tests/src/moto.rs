//! moto, serialised (`tests/moto/serialised_moto.py`), found or started once per test
//! process; SDK clients for it; a fresh state table per test, made from the template;
//! secrets in it. The tools venv that holds moto and cargo-lambda.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use failsoft::table::TableSpec;

use crate::workspace_root;

static MOTO: OnceLock<std::result::Result<Moto, String>> = OnceLock::new();
/// A counter for unique table names within the process.
static TABLES: AtomicU64 = AtomicU64::new(0);

/// The venv holding moto and cargo-lambda: `FAILSOFT_VENV`, or a per-user cache.
pub fn venv_dir() -> PathBuf {
    if let Ok(v) = std::env::var("FAILSOFT_VENV") {
        return PathBuf::from(v);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    PathBuf::from(home).join(".cache/failsoft/venv")
}

/// The venv that `scripts/venv.sh` sets up (moto, cargo-lambda). The kit installs
/// nothing itself: a missing venv is an error that says which script makes it.
pub fn ensure_venv() -> Result<PathBuf> {
    let venv = venv_dir();
    if venv.join("bin/python").exists() && venv.join("bin/cargo-lambda").exists() {
        return Ok(venv);
    }
    bail!(
        "no tools venv at {}: run `source scripts/venv.sh` (scripts/test.sh does)",
        venv.display()
    )
}

pub struct Moto {
    pub url: String,
    _child: Option<Child>,
}

/// The moto server for this test process: `FAILSOFT_MOTO_URL` if set, else one started
/// once (serialised) and stopped when this process exits.
pub fn moto() -> Result<&'static Moto> {
    MOTO.get_or_init(|| start_moto().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("moto: {e}"))
}

/// A moto server of the caller's own (serialised), stopped when dropped: for the tests
/// that load moto hardest (dozens of processes or clients at once), so that their queue
/// never holds up, past its timeouts, a test sharing the suite's server.
pub fn private_moto() -> Result<Moto> {
    spawn_moto()
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(child) = self._child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_moto() -> Result<Moto> {
    if let Ok(url) = std::env::var("FAILSOFT_MOTO_URL") {
        return Ok(Moto { url, _child: None });
    }
    spawn_moto()
}

fn spawn_moto() -> Result<Moto> {
    let venv = ensure_venv()?;
    let script = workspace_root().join("tests/moto/serialised_moto.py");
    let mut child = Command::new(venv.join("bin/python"))
        .arg(&script)
        .arg("0")
        .arg("--parent-pid")
        .arg(std::process::id().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting moto")?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("moto has no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let port = line
        .trim()
        .strip_prefix("ready ")
        .ok_or_else(|| anyhow!("moto did not start: {line:?}"))?;
    Ok(Moto {
        url: format!("http://127.0.0.1:{port}"),
        _child: Some(child),
    })
}

/// SDK config pointed at `url`, with dummy credentials.
pub async fn sdk_config(url: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(failsoft::aws::http_client())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "failsoft-testkit",
        ))
        .load()
        .await
}

pub fn template_spec() -> Result<TableSpec> {
    let yaml = std::fs::read_to_string(workspace_root().join("infra/template.yaml"))?;
    Ok(TableSpec::from_template(&yaml)?)
}

/// A new, empty last-known context table, made from the template's `ContextTable`.
pub async fn fresh_context_table(url: &str) -> Result<String> {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config(url).await);
    let name = format!(
        "failsoft-ctx-{}-{}-{:x}",
        std::process::id(),
        TABLES.fetch_add(1, Ordering::SeqCst),
        rand::random::<u32>()
    );
    let yaml = std::fs::read_to_string(workspace_root().join("infra/template.yaml"))?;
    TableSpec::from_template_resource(&yaml, failsoft::table::CONTEXT_LOGICAL_ID)?
        .create(&client, &name)
        .await?;
    Ok(name)
}

/// A new, empty state table, made from the template.
pub async fn fresh_table(url: &str) -> Result<(aws_sdk_dynamodb::Client, String)> {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config(url).await);
    let name = format!(
        "failsoft-test-{}-{}-{:x}",
        std::process::id(),
        TABLES.fetch_add(1, Ordering::SeqCst),
        rand::random::<u32>()
    );
    template_spec()?.create(&client, &name).await?;
    Ok((client, name))
}

/// Create a Secrets Manager secret holding `value` (as JSON) in moto.
pub async fn create_secret(url: &str, name: &str, value: &serde_json::Value) -> Result<()> {
    let client = aws_sdk_secretsmanager::Client::new(&sdk_config(url).await);
    client
        .create_secret()
        .name(name)
        .secret_string(value.to_string())
        .send()
        .await
        .map_err(|e| anyhow!("create_secret: {:?}", e.into_service_error()))?;
    Ok(())
}
