//! `failsoft context`: the last-known caller context (`LAST_KNOWN_CONTEXT=on`): forget
//! one caller (a privacy request), and what is kept. Reads `CONTEXT_TABLE` and
//! `LAST_KNOWN_KEY_SECRET_ID` (the stack's outputs).

use std::sync::Arc;

use anyhow::{bail, Result};
use clap::Subcommand;
use failsoft::clock::SystemClock;
use failsoft::config::ProcessEnv;
use failsoft::crm::last_known::{LastKnown, LastKnownConfig};
use failsoft::crm::phone::normalise;
use failsoft::logging::mask_ani;
use failsoft::service::Services;
use serde_json::json;

#[derive(Subcommand)]
pub enum Cmd {
    /// Remove what is kept for a caller's number: its tier and when it was confirmed.
    /// Asks first.
    Forget {
        /// The number as the caller's ANI gives it (tel:+1..., +1..., digits).
        #[arg(long)]
        ani: String,
        /// Do not ask for confirmation (for scripts).
        #[arg(long)]
        yes: bool,
    },
    /// How many callers are kept, by tier and by the age of their confirmation.
    Stats {
        #[arg(long)]
        json: bool,
    },
}

/// Run one `failsoft context` command.
pub async fn exec(cmd: Cmd) -> Result<()> {
    let services = Services::from_env(&ProcessEnv).await?;
    let context = LastKnown {
        config: LastKnownConfig::for_operator(&ProcessEnv)?,
        dynamo: services.dynamo.clone(),
        secrets: services.secrets.clone(),
        clock: Arc::new(SystemClock),
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(300);
    match cmd {
        Cmd::Forget { ani, yes } => {
            // A number that does not normalise is refused: nothing could be kept for it,
            // and a typo must not read as "forgotten".
            let Ok(digits) = normalise(&ani) else {
                bail!("{} is not a phone number; nothing changed", mask_ani(&ani));
            };
            crate::confirm(
                &format!(
                    "Forget the last-known tier of the caller {} (table {})?",
                    mask_ani(&ani),
                    context.config.table
                ),
                yes,
            )?;
            let forgotten = context.forget(&digits, deadline).await?;
            println!("{}", json!({"forgotten": forgotten}));
            Ok(())
        }
        Cmd::Stats { json } => {
            let stats = context.stats(deadline).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                println!(
                    "{} caller(s) kept in {}: {} confirmed within a day, {} within a week, {} older; {} past their TTL awaiting deletion{}",
                    stats.kept,
                    context.config.table,
                    stats.within_day,
                    stats.within_week,
                    stats.older,
                    stats.expired,
                    if stats.unreadable > 0 {
                        format!(", {} unreadable", stats.unreadable)
                    } else {
                        String::new()
                    }
                );
                for (tier, n) in &stats.by_tier {
                    println!("  {tier}: {n}");
                }
            }
            Ok(())
        }
    }
}
