//! `failsoft`: the operator's command line, against the state table named by
//! `STATE_TABLE` (AWS credentials and `AWS_ENDPOINT_URL` as usual).

mod doctor;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use failsoft::breaker::{Applied, Event, Op, Record};
use failsoft::config::ProcessEnv;
use failsoft::dependency::Dependency;
use failsoft::service::Services;
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "failsoft",
    version,
    about = "Operate Failsoft's breakers and state table"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Breakers: list, show, force open or closed, release.
    #[command(subcommand)]
    Breaker(BreakerCmd),
    /// The state table.
    #[command(subcommand)]
    Table(TableCmd),
    /// What outages called for: pending, in progress, waiting or failing actions (pages,
    /// campaign pauses and resumes), and the campaigns held off.
    Actions {
        #[arg(long)]
        json: bool,
    },
    /// The after-call write-back: its backlog, and moving the DLQ back to the queue.
    /// Reads WRITEBACK_QUEUE_URL and WRITEBACK_DLQ_URL (the stack's outputs).
    #[command(subcommand)]
    Writeback(WritebackCmd),
    /// Regional overflow: the Architect emergency group that sends callers to the backup
    /// region. Reads GENESYS_SECRET_ID, GENESYS_ENVIRONMENT and OVERFLOW_EMERGENCY_GROUP_ID.
    #[command(subcommand)]
    Overflow(OverflowCmd),
    /// After `sam deploy`, before an outage: try everything an outage will need (secrets,
    /// tokens, each permission, the function, queues, mapping, rule, alarm topic,
    /// breakers) and say what fails and how to fix it. Changes nothing; exit 1 if
    /// anything fails. Reads the stack's settings from the environment.
    Doctor(doctor::Args),
}

#[derive(Subcommand)]
enum OverflowCmd {
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
struct SwitchArgs {
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

#[derive(Subcommand)]
enum WritebackCmd {
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

#[derive(Subcommand)]
enum BreakerCmd {
    /// Every breaker: state, for how long, failures, episode, last health check.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One breaker's whole record, pending alerts included.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Hold a breaker OPEN (a maintenance window): calls get the fallback, checks stop.
    ForceOpen(Force),
    /// Hold a breaker CLOSED (manual override): every call goes through, nothing counts.
    ForceClosed(Force),
    /// End a forced state: the breaker returns to CLOSED.
    Release(Force),
    /// Remove one pending alert (see `show`), e.g. one PagerDuty keeps refusing. An
    /// alert being sent right now is not removed.
    PruneAlert {
        /// A breaker the dependency registry knows.
        name: String,
        /// The alert's id, as `show` lists it.
        id: String,
        #[arg(long)]
        yes: bool,
    },
}

/// What every command that changes a breaker takes.
#[derive(clap::Args)]
struct Force {
    /// A breaker the dependency registry knows.
    name: String,
    #[arg(long, env = "USER", default_value = "operator")]
    by: String,
    /// Do not ask for confirmation (for scripts).
    #[arg(long)]
    yes: bool,
    #[arg(long)]
    json: bool,
    /// How long a forced state lasts before it releases itself, e.g. 90m, 2h, 1d (at most
    /// 7 days). Without it, it lasts until `release`.
    #[arg(long, value_parser = parse_duration_ms)]
    until: Option<i64>,
}

/// "90m", "2h", "1d", "45s": milliseconds, at most 7 days.
fn parse_duration_ms(s: &str) -> std::result::Result<i64, String> {
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected e.g. 90m, 2h, 1d"))?;
    let ms = match unit {
        "s" => n * 1_000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        _ => return Err(format!("{s:?}: the unit is s, m, h or d")),
    };
    if ms <= 0 || ms > 7 * 86_400_000 {
        return Err(format!("{s:?}: between 1 s and 7 days"));
    }
    Ok(ms)
}

#[derive(Subcommand)]
enum TableCmd {
    /// Create the state table from the SAM template's definition (for local stand-ins).
    Create {
        /// Table name; defaults to STATE_TABLE.
        #[arg(long, env = "STATE_TABLE")]
        name: String,
        #[arg(long, default_value = "infra/template.yaml")]
        template: PathBuf,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    // The operator's terminal is no place for EMF lines: CloudWatch never reads them here.
    failsoft::metrics::set_sink(failsoft::metrics::Sink::Off);
    match Cli::parse().command {
        Command::Breaker(cmd) => breaker(cmd).await,
        Command::Actions { json } => actions(json).await,
        Command::Writeback(cmd) => writeback(cmd).await,
        Command::Overflow(cmd) => overflow(cmd).await,
        Command::Doctor(args) => doctor::exec(args).await,
        Command::Table(TableCmd::Create { name, template }) => {
            let yaml = std::fs::read_to_string(&template)
                .with_context(|| format!("reading {}", template.display()))?;
            let spec = failsoft::table::TableSpec::from_template(&yaml)?;
            let config = failsoft::aws::sdk_config().await;
            spec.create(&failsoft::aws::dynamodb(&config), &name)
                .await?;
            println!("{}", json!({"created": name}));
            Ok(())
        }
    }
}

/// The registry's dependency of that name; anything else is refused, so a typo never
/// creates a breaker (and pages for it).
fn known(name: &str) -> Result<Dependency> {
    match Dependency::parse(name) {
        Some(d) => Ok(d),
        None => {
            let known: Vec<&str> = Dependency::ALL.iter().map(|d| d.name()).collect();
            bail!("unknown breaker {name:?}; known: {}", known.join(", "))
        }
    }
}

fn summary(r: &Record) -> serde_json::Value {
    json!({
        "name": r.name, "state": r.state, "generation": r.generation, "since_ms": r.since_ms,
        "failures": r.failures, "episode": r.episode, "last_error": r.last_error,
        "pending_alerts": r.outbox.len(),
    })
}

/// The table people read: one line per breaker.
fn table(records: &[Record], now: i64) -> String {
    let mut out = format!(
        "{:<18} {:<13} {:<14} {:>8} {:<9} {}\n",
        "BREAKER", "STATE", "SINCE", "FAILURES", "ALERTS", "LAST HEALTH CHECK"
    );
    for r in records {
        let check = match r.last_check {
            Some((at, ok)) => format!(
                "{} ({})",
                failsoft::clock::ago(now, at),
                if ok { "healthy" } else { "failed" }
            ),
            None => "—".into(),
        };
        out.push_str(&format!(
            "{:<18} {:<13} {:<14} {:>8} {:<9} {}\n",
            r.name,
            r.state.as_str(),
            failsoft::clock::ago(now, r.since_ms),
            r.failures,
            format!("{} pending", r.outbox.len()),
            check
        ));
    }
    out
}

/// `failsoft actions`: every breaker's outbox and the campaign ledger.
async fn actions(as_json: bool) -> Result<()> {
    let services = Services::from_env(&ProcessEnv).await?;
    let now = failsoft::clock::Clock::now_ms(&failsoft::clock::SystemClock);
    let mut views = Vec::new();
    let mut done = Vec::new();
    let history = failsoft::actions::History {
        client: services.dynamo.clone(),
        table: services.table.clone(),
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    for d in Dependency::ALL {
        let r = services.store.load(d.name()).await?;
        views.extend(failsoft::actions::views(&r, now));
        done.extend(history.recent(d.name(), deadline).await?);
    }
    done.sort_by_key(|d| std::cmp::Reverse(d.at_ms));
    let ledger = failsoft::campaign::ledger::Ledger {
        client: services.dynamo.clone(),
        table: services.table.clone(),
    };
    let campaigns = ledger.list(deadline).await?;
    if as_json {
        let c: Vec<_> = campaigns.iter().map(|e| e.view()).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"actions": views, "done": done, "campaigns": c}))?
        );
        return Ok(());
    }
    println!(
        "{:<18} {:<17} {:<12} {:>8}  {:<25} EPISODE",
        "BREAKER", "ACTION", "STATUS", "ATTEMPTS", "NEXT"
    );
    for v in &views {
        println!(
            "{:<18} {:<17} {:<12} {:>8}  {:<25} {}",
            v.breaker, v.action, v.status, v.attempts, v.next_at, v.episode
        );
    }
    if views.is_empty() {
        println!("(no action pending)");
    }
    println!("\n{:<18} {:<17} {:<25} OUTCOME", "BREAKER", "DONE", "AT");
    for d in done.iter().take(20) {
        println!(
            "{:<18} {:<17} {:<25} {}",
            d.breaker, d.action, d.at, d.outcome
        );
    }
    if done.is_empty() {
        println!("(nothing done yet)");
    }
    println!("\n{:<45} {:<9} {:<22} NOTE", "CAMPAIGN", "STAGE", "HELD BY");
    for e in &campaigns {
        let holders: Vec<&str> = e.holds.keys().map(String::as_str).collect();
        println!(
            "{:<45} {:<9} {:<22} {}",
            format!("{} {} ({})", e.kind.as_str(), e.name, e.id),
            e.stage.as_str(),
            holders.join(","),
            e.note.as_deref().unwrap_or("")
        );
    }
    if campaigns.is_empty() {
        println!("(no campaign held off)");
    }
    Ok(())
}

/// `failsoft writeback status | redrive`.
async fn writeback(cmd: WritebackCmd) -> Result<()> {
    let services = Services::from_env(&ProcessEnv).await?;
    let watch = failsoft::writeback::Watch::from_env(&services, &ProcessEnv)?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let now = failsoft::clock::Clock::now_ms(&failsoft::clock::SystemClock);
    match cmd {
        WritebackCmd::Status { json } => {
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
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({"writeback": status, "breakers": b}))?
                );
            } else {
                let n = |v: Option<u64>| v.map_or("unknown".to_string(), |v| v.to_string());
                println!(
                    "queue:        {} waiting ({} deferred or in a batch)",
                    n(status.queued),
                    n(status.in_flight)
                );
                match status.oldest_age_s {
                    Some(s) => println!(
                        "oldest:       waited {s} s (as crm-writeback last saw it, {})",
                        status.seen_at.as_deref().unwrap_or("never")
                    ),
                    None => {
                        println!("oldest:       unknown (crm-writeback has not reported a batch)")
                    }
                }
                println!("dead letters: {}", n(status.dlq));
                for (name, state) in &breakers {
                    println!("breaker:      {name:<14} {state}");
                }
                for e in &status.errors {
                    println!("could not read: {e}");
                }
            }
            if !status.errors.is_empty() {
                bail!("part of the status could not be read");
            }
            Ok(())
        }
        WritebackCmd::Redrive { max, yes } => {
            let (_, dlq) = watch.queues.depths(deadline).await?;
            let n = max.unwrap_or(usize::MAX).min(dlq.total() as usize);
            if n == 0 {
                println!("{}", json!({"moved": 0, "dlq": dlq.total()}));
                return Ok(());
            }
            confirm(
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

/// The carrier/SBC steps, printed when the switch itself cannot be made.
const SBC_STEPS: &str =
    "The emergency group could not be switched through the primary region's API.
Re-route at the carrier/SBC now (infra/runbooks/regional-overflow.md, \"SBC fallback\"):
  1. Open the carrier portal or SBC console (contacts: the telephony team's table).
  2. Point the main DIDs' routing at the backup region's trunk (the pre-provisioned BACKUP_DIDS).
  3. Place a test call to the main number and hear the backup flow answer.
  4. Record the time and what you changed in the incident; undo it the same way on return.";

/// `failsoft overflow status | activate | deactivate`.
async fn overflow(cmd: OverflowCmd) -> Result<()> {
    use failsoft::overflow::{Mode, Overflow, Request};
    let services = Services::from_env(&ProcessEnv).await?;
    let api = std::sync::Arc::new(failsoft::genesys::GenesysApi::build(
        &services,
        &ProcessEnv,
        failsoft::genesys::DEFAULT_PER_MINUTE,
    )?);
    let o = Overflow::build(&services, &ProcessEnv, &api)?;
    let now = failsoft::clock::Clock::now_ms(&failsoft::clock::SystemClock);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(50);
    let (args, enabled) = match cmd {
        OverflowCmd::Status { group, json } => {
            let group = o.group_or_default(group.as_deref())?;
            // The state table may be down (the outage may be ours): say so, show the rest.
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
            let view = match &read {
                Ok(g) => {
                    json!({"id": g.id, "name": g.name, "enabled": g.enabled, "version": g.version,
                                "ivrs": g.ivrs(), "flows": g.flows()})
                }
                Err(e) => json!({"error": e.to_string()}),
            };
            if json {
                let v = json!({"group": view, "lastSwitch": last.as_ref().map(|s| s.view()),
                               "recordError": record_error, "backup": backup});
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                match &read {
                    Ok(g) => {
                        println!("group:       {} ({}), version {}", g.name, g.id, g.version);
                        println!(
                            "state:       {}",
                            if g.enabled {
                                "ACTIVE: calls go to the emergency flows"
                            } else {
                                "not active"
                            }
                        );
                        println!("flows:       {}", g.flows().join(", "));
                        let ivrs: Vec<String> = g.ivrs().into_iter().collect();
                        println!("IVRs:        {} ({})", ivrs.len(), ivrs.join(", "));
                    }
                    Err(e) => println!("group:       {group}: could not be read from Genesys: {e}"),
                }
                match &last {
                    Some(s) => println!(
                        "last switch: {} by {} ({}), {}, {}: {}{}",
                        if s.enabled { "enabled" } else { "disabled" },
                        s.by,
                        s.mode.as_str(),
                        failsoft::clock::iso8601(s.at_ms),
                        failsoft::clock::ago(now, s.at_ms),
                        s.reason,
                        s.note
                            .as_deref()
                            .map(|n| format!(" [{n}]"))
                            .unwrap_or_default()
                    ),
                    None => match &record_error {
                        Some(e) => println!("last switch: unknown (state table: {e})"),
                        None => println!("last switch: never switched by Failsoft"),
                    },
                }
                match &backup {
                    Some(b) => println!("{}", b["text"].as_str().unwrap_or_default()),
                    None => {
                        println!("Backup region: not checked (BACKUP_GENESYS_ENVIRONMENT not set)")
                    }
                }
            }
            return Ok(());
        }
        OverflowCmd::Activate(a) => (a, true),
        OverflowCmd::Deactivate(a) => (a, false),
    };
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
    confirm(&format!("{plan} Go on?"), args.yes)?;
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
        Err(e) if enabled => bail!("{e}\n{SBC_STEPS}"),
        Err(e) => bail!("{e}"),
    }
}

/// Ask on the terminal; `--yes` skips it. No terminal and no `--yes`: refuse.
fn confirm(what: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    eprint!("{what}\nType yes to go on: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        bail!("not confirmed; nothing changed (use --yes in scripts)");
    }
    Ok(())
}

async fn breaker(cmd: BreakerCmd) -> Result<()> {
    let services = Services::from_env(&ProcessEnv).await?;
    let now = failsoft::clock::Clock::now_ms(&failsoft::clock::SystemClock);
    let (force, event) = match cmd {
        BreakerCmd::List { json } => {
            let all = services.store.list().await?;
            if json {
                let v: Vec<_> = all.iter().map(summary).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", table(&all, now));
            }
            return Ok(());
        }
        BreakerCmd::Show { name, json } => {
            known(&name)?;
            let r = services.store.load(&name).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", table(std::slice::from_ref(&r), now));
                if let Some(u) = r.forced_until {
                    println!("releases itself at {}", failsoft::clock::iso8601(u));
                }
                if let Some(e) = &r.last_error {
                    println!("last error: {e}");
                }
                for a in r.outbox.values() {
                    println!(
                        "pending alert {}: {} {} (attempts {})",
                        a.id,
                        a.action.as_str(),
                        a.dedup_key,
                        a.attempts
                    );
                }
            }
            return Ok(());
        }
        BreakerCmd::PruneAlert { name, id, yes } => {
            known(&name)?;
            let rec = services.store.load(&name).await?;
            let Some(alert) = rec.outbox.get(&id) else {
                bail!("{name} has no pending alert {id:?}");
            };
            confirm(
                &format!(
                    "Remove pending alert {id} of {name} ({} {}); it will not be sent.",
                    alert.action.as_str(),
                    alert.dedup_key
                ),
                yes,
            )?;
            // Claimed first, like any sender, so an alert being sent is left alone.
            let owner = format!("cli-{}", std::process::id());
            let claim = Op::ClaimAlert {
                id: id.clone(),
                owner: owner.clone(),
                now,
                until: now + 60_000,
            };
            if !matches!(services.store.apply(&name, &claim).await?, Applied::Won(_)) {
                bail!("alert {id} is being sent right now; nothing removed");
            }
            services
                .store
                .apply(
                    &name,
                    &Op::DropAlert {
                        id: id.clone(),
                        owner,
                    },
                )
                .await?;
            println!("{name}: pending alert {id} removed");
            return Ok(());
        }
        BreakerCmd::ForceOpen(f) => {
            let until = f.until.map(|ms| now + ms);
            let e = Event::ForceOpen {
                by: f.by.clone(),
                until,
            };
            (f, e)
        }
        BreakerCmd::ForceClosed(f) => {
            let until = f.until.map(|ms| now + ms);
            let e = Event::ForceClosed {
                by: f.by.clone(),
                until,
            };
            (f, e)
        }
        BreakerCmd::Release(f) => {
            let e = Event::Release { by: f.by.clone() };
            (f, e)
        }
    };
    let dependency = known(&force.name)?;
    let before = services.store.load(&force.name).await?;
    let what = match &event {
        Event::ForceOpen { .. } => format!(
            "Force {} OPEN (now {}): {}; the on-call is paged.",
            force.name, before.state, dependency.fallback()
        ),
        Event::ForceClosed { .. } => format!(
            "Force {} CLOSED (now {}): every call goes through and nothing is counted; an open incident is resolved.",
            force.name, before.state
        ),
        _ => format!("Release {} (now {}) to CLOSED.", force.name, before.state),
    };
    confirm(&what, force.yes)?;
    let b = services.breaker(dependency, &ProcessEnv)?;
    let t = b.command(event).await?;
    let after = services.store.load(&force.name).await?;
    if force.json {
        let v = json!({"transition": t.map(|t| t.label()), "breaker": summary(&after)});
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        match t {
            Some(t) => println!("{}: {}", force.name, t.label()),
            None => println!("{}: unchanged ({})", force.name, after.state),
        }
        print!("{}", table(std::slice::from_ref(&after), now));
    }
    Ok(())
}
