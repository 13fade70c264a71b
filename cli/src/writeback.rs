//! `failsoft writeback`: the after-call backlog, and moving the DLQ back to the queue.

use anyhow::{bail, Result};
use clap::Subcommand;
use failsoft::config::ProcessEnv;
use failsoft::dependency::Dependency;
use failsoft::service::Services;
use serde_json::json;

use crate::render;

#[derive(Subcommand)]
pub enum Cmd {
    /// Queue depth, the oldest message's age, the DLQ's depth and the CRM breakers.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Move messages from the DLQ back to the queue (receive, send, delete: a crash
    /// duplicates one, which the upsert makes harmless, and never loses one).
    Redrive {
        /// At most this many (default: all).
        #[arg(long)]
        max: Option<usize>,
        /// Do not ask for confirmation (for scripts).
        #[arg(long)]
        yes: bool,
    },
}

/// Run one `failsoft writeback` command.
pub async fn exec(cmd: Cmd) -> Result<()> {
    let services = Services::from_env(&ProcessEnv).await?;
    let watch = failsoft::writeback::Watch::from_env(&services, &ProcessEnv)?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let now = failsoft::clock::Clock::now_ms(&failsoft::clock::SystemClock);
    match cmd {
        Cmd::Status { json } => {
            let status = watch.status(now, deadline).await;
            let mut breakers = Vec::new();
            for d in [
                Dependency::Crm,
                Dependency::CrmAuth,
                Dependency::CrmApiLimit,
            ] {
                let r = services.store.load(d.name()).await?;
                breakers.push((d.name(), r.state.as_str()));
            }
            if json {
                let b: serde_json::Map<String, serde_json::Value> = breakers
                    .iter()
                    .map(|(n, s)| (n.to_string(), json!(s)))
                    .collect();
                let v = json!({"writeback": status, "breakers": b});
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", render::writeback(&status, &breakers));
            }
            if !status.errors.is_empty() {
                bail!("part of the status could not be read");
            }
            Ok(())
        }
        Cmd::Redrive { max, yes } => {
            let (_, dlq) = watch.queues.depths(deadline).await?;
            let n = max.unwrap_or(usize::MAX).min(dlq.total() as usize);
            if n == 0 {
                println!("{}", json!({"moved": 0, "dlq": dlq.total()}));
                return Ok(());
            }
            crate::confirm(
                &format!(
                    "Move {n} of the {} message(s) in {} back to {}? Fix their cause first, or they come back.",
                    dlq.total(),
                    watch.queues.dlq_url,
                    watch.queues.url
                ),
                yes,
            )?;
            let moved = watch.queues.redrive(n, deadline).await?;
            println!("{}", json!({"moved": moved}));
            Ok(())
        }
    }
}
