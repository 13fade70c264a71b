//! Headless Chromium (Debian's, installed by `scripts/chromium.sh`), for the status
//! board's browser test.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{bail, Result};

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
