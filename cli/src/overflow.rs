//! `failsoft overflow`: the Architect emergency group that sends callers to the backup
//! region, read and switched in one command, with a reason that is recorded and paged.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use failsoft::config::ProcessEnv;
use failsoft::dependency::Dependency;
use failsoft::overflow::{Mode, Overflow, OverflowError, Request};
use failsoft::service::Services;
use serde_json::json;

use crate::render;

#[derive(Subcommand)]
pub enum Cmd {
    /// The group (enabled or not, its IVRs and flows), who switched it last and when,
    /// and whether the backup region is ready.
    Status {
        /// The group's id or exact name (default: OVERFLOW_EMERGENCY_GROUP_ID).
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Enable the group: IVR traffic goes to its emergency flows (the backup region).
    Activate(SwitchArgs),
    /// Disable the group: IVR traffic returns to the normal flows.
    Deactivate(SwitchArgs),
}

#[derive(clap::Args)]
pub struct SwitchArgs {
    /// The group's id or exact name (default: OVERFLOW_EMERGENCY_GROUP_ID).
    #[arg(long)]
    group: Option<String>,
    /// Why: recorded, shown on the board and paged. Required.
    #[arg(long)]
    reason: String,
    /// Show what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long, env = "USER", default_value = "operator")]
    by: String,
    /// Do not ask for confirmation (for scripts).
    #[arg(long)]
    yes: bool,
    #[arg(long)]
    json: bool,
}

/// The carrier/SBC steps, printed when the switch itself cannot be made.
const SBC_STEPS: &str =
    "The emergency group could not be switched through the primary region's API.
Re-route at the carrier/SBC now (infra/runbooks/regional-overflow.md, \"SBC fallback\"):
  1. Open the carrier portal or SBC console (contacts: the telephony team's table).
  2. Point the main DIDs' routing at the backup region's trunk (the pre-provisioned BACKUP_DIDS).
  3. Place a test call to the main number and hear the backup flow answer.
  4. Record the time and what you changed in the incident; undo it the same way on return.";

/// Run one `failsoft overflow` command.
pub async fn exec(cmd: Cmd) -> Result<()> {
    let services = Services::from_env(&ProcessEnv).await?;
    let api = std::sync::Arc::new(failsoft::genesys::GenesysApi::build(
        &services,
        &ProcessEnv,
        failsoft::genesys::DEFAULT_PER_MINUTE,
    )?);
    let o = Overflow::build(&services, &ProcessEnv, &api)?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(50);
    match cmd {
        Cmd::Status { group, json } => status(&services, &o, group, json, deadline).await,
        Cmd::Activate(a) => switch(&o, a, true, deadline).await,
        Cmd::Deactivate(a) => switch(&o, a, false, deadline).await,
    }
}

/// The group as Genesys has it, the last switch as the table has it, and the backup's
/// readiness. The state table may be down (the outage may be ours): say so, show the rest.
async fn status(
    services: &Services,
    o: &Overflow,
    group: Option<String>,
    json: bool,
    deadline: tokio::time::Instant,
) -> Result<()> {
    let now = failsoft::clock::Clock::now_ms(&failsoft::clock::SystemClock);
    let group = o.group_or_default(group.as_deref())?;
    let (last, record_error) = match o.switches.load(deadline).await {
        Ok(l) => (l, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let backup = services
        .store
        .load(Dependency::GenesysBackup.name())
        .await
        .ok()
        .and_then(|r| failsoft::overflow::readiness(&r, now));
    let read = o.read(&group, deadline).await;
    if json {
        let view = match &read {
            Ok(g) => json!({"id": g.id, "name": g.name, "enabled": g.enabled, "version": g.version,
                            "ivrs": g.ivrs(), "flows": g.flows()}),
            Err(e) => json!({"error": e.to_string()}),
        };
        let v = json!({"group": view, "lastSwitch": last.as_ref().map(|s| s.view()),
                       "recordError": record_error, "backup": backup});
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let read = read.map_err(|e| e.to_string());
        print!(
            "{}",
            render::overflow(
                &group,
                &read,
                last.as_ref(),
                record_error.as_deref(),
                backup.as_ref(),
                now
            )
        );
    }
    Ok(())
}

/// Enable or disable the group: read it, say what will change, ask, switch, report.
async fn switch(
    o: &Overflow,
    args: SwitchArgs,
    enabled: bool,
    deadline: tokio::time::Instant,
) -> Result<()> {
    if args.reason.trim().is_empty() {
        bail!("--reason must say why; nothing changed");
    }
    let group = o.group_or_default(args.group.as_deref())?;
    let g = o.read_patiently(&group, deadline).await.with_context(|| {
        format!(
            "reading emergency group {group:?}{}",
            if enabled {
                format!("\n{SBC_STEPS}")
            } else {
                String::new()
            }
        )
    })?;
    let verb = if enabled { "enable" } else { "disable" };
    let ivrs: Vec<String> = g.ivrs().into_iter().collect();
    let plan = if g.enabled == enabled {
        format!("Emergency group {} ({}) is already {verb}d; the switch will only be recorded as yours.", g.name, g.id)
    } else {
        format!(
            "Will {verb} emergency group {} ({}), version {}: {} IVR(s) [{}] {} the emergency flows [{}].",
            g.name,
            g.id,
            g.version,
            ivrs.len(),
            ivrs.join(", "),
            if enabled { "go to" } else { "leave" },
            g.flows().join(", ")
        )
    };
    if args.dry_run {
        if args.json {
            println!(
                "{}",
                json!({"dryRun": true, "plan": plan, "enabled": g.enabled, "ivrs": ivrs})
            );
        } else {
            println!("{plan}\ndry run: nothing changed");
        }
        return Ok(());
    }
    if !args.json {
        println!("{plan}");
    }
    crate::confirm(&format!("{plan} Go on?"), args.yes)?;
    let req = Request {
        group: g.id.clone(),
        enabled,
        mode: Mode::Manual,
        by: args.by.clone(),
        reason: args.reason.trim().to_string(),
        breaker: Dependency::GenesysApi.name().to_string(),
        confirm_only: false,
    };
    let owner = format!("cli-{}-{}", args.by, std::process::id());
    match o.switch(&req, &owner, deadline).await {
        Ok(r) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                if !r.recorded {
                    eprintln!("WARNING: the state table is unavailable: this switch is NOT recorded, NOT on the board and NOT paged.");
                }
            } else {
                println!(
                    "{} {}d in {:.1} s: {} of {} IVR link(s) kept, version {}{}.",
                    r.group,
                    verb,
                    r.elapsed_ms as f64 / 1000.0,
                    r.ivrs_after,
                    r.ivrs_before,
                    r.version,
                    if r.changed { "" } else { " (it already was)" }
                );
                if r.recorded {
                    println!("Recorded; the on-call is told (low-urgency page).");
                } else {
                    eprintln!("WARNING: the state table is unavailable: this switch is NOT recorded, NOT on the board and NOT paged. Tell the on-call yourself, and run `failsoft overflow status` once the table is back.");
                }
            }
            Ok(())
        }
        // Someone else's switch holds the group (Failsoft's own, or another person's):
        // nothing failed, and the carrier is not the next step.
        Err(e @ OverflowError::Busy(_)) => bail!(
            "{e}: nothing changed. `failsoft overflow status` shows its outcome; run this again if the group is not {verb}d within a minute"
        ),
        Err(e) if enabled => bail!("{e}\n{SBC_STEPS}"),
        Err(e) => bail!("{e}"),
    }
}
