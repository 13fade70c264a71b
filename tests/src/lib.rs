//! The test kit (`failsoft-testkit`, dev-only): moto (serialised) found or started, SDK
//! clients for it, a fresh state table per test made from `infra/template.yaml`, a store
//! that counts its requests, the Lambda emulator, and fake dependencies with fault
//! injection. Nothing here ships: the functions and the operator CLI do not link it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{anyhow, bail, Context, Result};
use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use failsoft::breaker::{Applied, BreakerStore, Op, Record};
use failsoft::store::StoreError;
use failsoft::table::TableSpec;

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

static MOTO: OnceLock<std::result::Result<Moto, String>> = OnceLock::new();

/// The moto server for this test process: `FAILSOFT_MOTO_URL` if set, else one started
/// once (serialised) and stopped when this process exits.
pub fn moto() -> Result<&'static Moto> {
    MOTO.get_or_init(|| start_moto().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("moto: {e}"))
}

fn start_moto() -> Result<Moto> {
    if let Ok(url) = std::env::var("FAILSOFT_MOTO_URL") {
        return Ok(Moto { url, _child: None });
    }
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

pub fn template_spec() -> Result<TableSpec> {
    let yaml = std::fs::read_to_string(workspace_root().join("infra/template.yaml"))?;
    Ok(TableSpec::from_template(&yaml)?)
}

static TABLES: AtomicU64 = AtomicU64::new(0);

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

/// A free TCP port on loopback (released for the caller to bind).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Where the emulator builds the functions: beside the tests' own target dir.
pub fn emulator_target_dir() -> PathBuf {
    let base = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"));
    base.join("emulator")
}

/// The operator CLI's binary, built once into the emulator's target dir (`cargo test`
/// holds its own): for drills that run `failsoft` as an operator would.
pub fn cli_binary() -> Result<PathBuf> {
    static BUILT: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = emulator_target_dir();
            let status = Command::new("cargo")
                .args(["build", "-q", "-p", "failsoft-cli"])
                .current_dir(workspace_root())
                .env("CARGO_TARGET_DIR", &dir)
                .status()
                .map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("building failsoft-cli: {status}"));
            }
            Ok(dir.join("debug/failsoft"))
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// `cargo lambda watch`, the Lambda runtime emulator, running this workspace's functions
/// against moto. Stopped (its whole process group) on drop.
pub struct Emulator {
    pub port: u16,
    child: Child,
}

impl Emulator {
    pub fn start(envs: &[(&str, &str)]) -> Result<Emulator> {
        let log = std::env::var("FAILSOFT_EMULATOR_LOG")
            .ok()
            .map(PathBuf::from);
        Emulator::start_logged(envs, log)
    }

    /// Start, keeping the emulator's and functions' output in `log` if given.
    pub fn start_logged(envs: &[(&str, &str)], log: Option<PathBuf>) -> Result<Emulator> {
        use std::os::unix::process::CommandExt;
        let venv = ensure_venv()?;
        let port = free_port()?;
        let path = format!(
            "{}:{}",
            venv.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("cargo");
        cmd.args([
            "lambda",
            "watch",
            "--ignore-changes",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(port.to_string())
        .current_dir(workspace_root())
        .env("PATH", path)
        // `cargo test` holds the build lock of its own target dir while tests run, so
        // the emulator's `cargo run` builds into a directory of its own.
        .env("CARGO_TARGET_DIR", emulator_target_dir())
        .envs(envs.iter().copied())
        .process_group(0);
        // FAILSOFT_EMULATOR_RELEASE=1 runs optimised builds (the latency benchmark).
        if std::env::var_os("FAILSOFT_EMULATOR_RELEASE").is_some() {
            cmd.arg("--release");
        }
        // FAILSOFT_EMULATOR_LOG=path keeps the emulator's and functions' output.
        match log.and_then(|p| std::fs::File::create(p).ok()) {
            Some(f) => {
                cmd.stdout(f.try_clone()?).stderr(f);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let child = cmd.spawn().context("starting cargo lambda watch")?;
        let emu = Emulator { port, child };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(emu);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        bail!("cargo lambda watch did not listen on {port}")
    }

    /// Invoke `function` with `event` the way Lambda's Invoke API does.
    pub async fn invoke(
        &self,
        function: &str,
        event: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        self.invoke_raw(function, event.to_string().into_bytes())
            .await
    }

    /// Invoke `function` with exactly these bytes as the payload, readable or not.
    pub async fn invoke_raw(&self, function: &str, body: Vec<u8>) -> Result<serde_json::Value> {
        let url = format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{function}/invocations",
            self.port
        );
        // The first invocation may compile the function.
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(900))
            .build()?;
        let resp = client
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        let body = resp.text().await?;
        if !status.is_success() {
            bail!("{function} answered {status}: {body}");
        }
        serde_json::from_str(&body).with_context(|| format!("{function} answered {body:?}"))
    }

    /// Kill `function`'s process (SIGKILL) inside this emulator, as a crash would:
    /// whatever it was doing stops, and it answers nothing.
    pub fn kill_function(&self, function: &str) -> Result<bool> {
        let parent_of = |pid: u32| -> Option<u32> {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces, so split after the ')'.
            stat.rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        };
        let ours = |mut pid: u32| {
            for _ in 0..16 {
                match parent_of(pid) {
                    Some(p) if p == self.child.id() => return true,
                    Some(p) if p > 1 => pid = p,
                    _ => return false,
                }
            }
            false
        };
        let mut killed = false;
        for entry in std::fs::read_dir("/proc")?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == function && ours(pid) {
                killed |= Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status()?
                    .success();
            }
        }
        Ok(killed)
    }

    /// The environment functions need to reach moto and the table.
    pub fn aws_env<'a>(moto_url: &'a str, table: &'a str) -> Vec<(&'static str, &'a str)> {
        vec![
            ("AWS_ENDPOINT_URL", moto_url),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("STATE_TABLE", table),
        ]
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{pgid}")])
            .status();
        let _ = self.child.wait();
    }
}
pub mod contract;
pub mod fake_aws;
pub mod fake_genesys;
pub mod fake_http;
pub mod fake_pagerduty;
pub mod fake_salesforce;
pub mod sqs_pump;
pub mod stream_pump;

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

/// Debian's Chromium, which `scripts/chromium.sh` installs (scripts/test.sh runs it).
pub fn chromium() -> Result<PathBuf> {
    let bin = PathBuf::from("/usr/bin/chromium");
    if !bin.exists() {
        bail!("no {}: run `bash scripts/chromium.sh`", bin.display());
    }
    Ok(bin)
}

/// Run headless Chromium on `url` with the flags this machine needs, plus `extra`.
pub fn headless(url: &str, extra: &[&str]) -> Result<String> {
    let profile =
        std::env::temp_dir().join(format!("failsoft-chromium-{:x}", rand::random::<u32>()));
    let out = Command::new(chromium()?)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stderr(Stdio::null())
        .output()?;
    let _ = std::fs::remove_dir_all(profile);
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

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
