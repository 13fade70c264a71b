//! `failsoft doctor`: the check an integration engineer runs after `sam deploy` and
//! before an outage. Against the deployed stack and the real orgs, with the same
//! settings the functions have (the stack's environment), it tries each thing an outage
//! will need and says, one line per item, whether it works and how to fix it if not.
//! It changes nothing: every call is a read, a token request, or a dry-run invoke.
//!
//! - `secrets`: each secret is readable and has the fields its client needs, and each
//!   token is obtainable;
//! - `genesys`: each permission a configured feature needs, tried with a harmless read;
//! - `salesforce`: the search, and the write-back object described;
//! - `context`: the last-known caller context's key and table, when it is on;
//! - `aws`: the Data Action's function, the write-back's queues and mapping, the partner
//!   bus rule, the alarm topic's subscribers, and every registered breaker's state.

mod aws;
mod context;
mod genesys;
mod salesforce;
mod secrets;

use std::time::Duration;

use anyhow::Result;
use failsoft::config::{Env, ProcessEnv};
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;

/// `failsoft doctor`'s arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Print the checks as JSON, for scripts.
    #[arg(long)]
    pub json: bool,
    /// How long one check may take, in seconds.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
}

/// One item's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Fail,
    /// Not configured, so not needed.
    Skip,
    /// Cannot be tried without a change; said so, not counted.
    Note,
}

/// One line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub item: String,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(item: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            item: item.into(),
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn fail(
        item: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            item: item.into(),
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn skip(item: impl Into<String>, why: impl Into<String>) -> Check {
        Check {
            item: item.into(),
            status: Status::Skip,
            detail: why.into(),
            fix: None,
        }
    }

    pub fn note(item: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            item: item.into(),
            status: Status::Note,
            detail: detail.into(),
            fix: None,
        }
    }
}

/// What every check gets: the environment, one HTTP client, the SDK config and a
/// deadline per check.
pub struct Ctx {
    pub env: ProcessEnv,
    pub http: reqwest::Client,
    pub sdk: aws_config::SdkConfig,
    pub per_check: Duration,
}

impl Ctx {
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.per_check
    }

    pub fn var(&self, k: &str) -> Option<String> {
        self.env.get(k).filter(|v| !v.trim().is_empty())
    }
}

/// Run every check, print the report, and fail (non-zero exit) if any item fails.
pub async fn exec(args: Args) -> Result<()> {
    let ctx = Ctx {
        env: ProcessEnv,
        http: failsoft::http::client()?,
        sdk: failsoft::aws::sdk_config().await,
        per_check: Duration::from_secs(args.timeout.clamp(1, 120)),
    };
    let checks = run(&ctx).await;
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"ok": failed == 0, "failed": failed, "checks": checks})
            )?
        );
    } else {
        print!("{}", render(&checks));
    }
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// Every check, in the order an outage would need them.
pub async fn run(ctx: &Ctx) -> Vec<Check> {
    let mut out = Vec::new();
    let tokens = secrets::check(ctx, &mut out).await;
    genesys::check(ctx, &tokens, &mut out).await;
    salesforce::check(ctx, &tokens, &mut out).await;
    context::check(ctx, &mut out).await;
    aws::check(ctx, &mut out).await;
    out
}

/// The report people read: a summary line, then one line per item, the fix under each
/// failure.
pub fn render(checks: &[Check]) -> String {
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
    let mut out = format!(
        "failsoft doctor: {} ok, {} failed, {} skipped, {} notes\n",
        count(Status::Ok),
        count(Status::Fail),
        count(Status::Skip),
        count(Status::Note)
    );
    for c in checks {
        let mark = match c.status {
            Status::Ok => "[ ok ]",
            Status::Fail => "[FAIL]",
            Status::Skip => "[skip]",
            Status::Note => "[note]",
        };
        out.push_str(&format!("{mark} {}: {}\n", c.item, c.detail));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("       fix: {fix}\n"));
        }
    }
    out
}
