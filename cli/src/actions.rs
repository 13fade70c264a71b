//! `failsoft actions`: what outages called for (every breaker's outbox), what was done,
//! and the campaigns held off.

use anyhow::Result;
use failsoft::config::ProcessEnv;
use failsoft::dependency::Dependency;
use failsoft::service::Services;
use serde_json::json;

use crate::render;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    json: bool,
}

/// Read the outboxes, the history and the ledger; print them.
pub async fn exec(args: Args) -> Result<()> {
    let services = Services::from_env(&ProcessEnv).await?;
    let now = failsoft::clock::Clock::now_ms(&failsoft::clock::SystemClock);
    let (history, ledger) = (services.history(), services.ledger());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let (mut views, mut done) = (Vec::new(), Vec::new());
    for d in Dependency::ALL {
        let r = services.store.load(d.name()).await?;
        views.extend(failsoft::actions::views(&r, now));
        done.extend(history.recent(d.name(), deadline).await?);
    }
    done.sort_by_key(|d| std::cmp::Reverse(d.at_ms));
    let campaigns = ledger.list(deadline).await?;
    if args.json {
        let c: Vec<_> = campaigns.iter().map(|e| e.view()).collect();
        let v = json!({"actions": views, "done": done, "campaigns": c});
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", render::actions(&views, &done, &campaigns));
    }
    Ok(())
}
