//! The Lambda runtime emulator (`cargo lambda watch`) running this workspace's real
//! function binaries against moto, and the operator CLI's binary built beside it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context, Result};

use crate::moto::ensure_venv;
use crate::workspace_root;

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
