//! `failsoft breaker`: list, show, force open or closed, release, prune an outbox entry.
//! Only names the dependency registry knows; every change asks first.

use anyhow::{bail, Result};
use clap::Subcommand;
use failsoft::breaker::{Applied, Event, Op};
use failsoft::clock::Millis;
use failsoft::config::ProcessEnv;
use failsoft::dependency::Dependency;
use failsoft::service::Services;
use serde_json::json;

use crate::render;

#[derive(Subcommand)]
pub enum Cmd {
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
pub struct Force {
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

/// The registry's dependency of that name; anything else is refused, so a typo never
/// creates a breaker (and pages for it).
pub fn known(name: &str) -> Result<Dependency> {
    match Dependency::parse(name) {
        Some(d) => Ok(d),
        None => {
            let known: Vec<&str> = Dependency::ALL.iter().map(|d| d.name()).collect();
            bail!("unknown breaker {name:?}; known: {}", known.join(", "))
        }
    }
}

/// Run one `failsoft breaker` command.
pub async fn exec(cmd: Cmd) -> Result<()> {
    let services = Services::from_env(&ProcessEnv).await?;
    let now = failsoft::clock::Clock::now_ms(&failsoft::clock::SystemClock);
    let by = |f: &Force| f.by.clone();
    let (force, event) = match cmd {
        Cmd::List { json } => return list(&services, json, now).await,
        Cmd::Show { name, json } => return show(&services, &name, json, now).await,
        Cmd::PruneAlert { name, id, yes } => return prune(&services, &name, &id, yes, now).await,
        Cmd::ForceOpen(f) => {
            let until = f.until.map(|ms| now + ms);
            let by = by(&f);
            (f, Event::ForceOpen { by, until })
        }
        Cmd::ForceClosed(f) => {
            let until = f.until.map(|ms| now + ms);
            let by = by(&f);
            (f, Event::ForceClosed { by, until })
        }
        Cmd::Release(f) => {
            let by = by(&f);
            (f, Event::Release { by })
        }
    };
    command(&services, force, event, now).await
}

async fn list(services: &Services, json: bool, now: Millis) -> Result<()> {
    let all = services.store.list().await?;
    if json {
        let v: Vec<_> = all.iter().map(render::summary).collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", render::breakers(&all, now));
    }
    Ok(())
}

async fn show(services: &Services, name: &str, json: bool, now: Millis) -> Result<()> {
    known(name)?;
    let r = services.store.load(name).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", render::breaker(&r, now));
    }
    Ok(())
}

/// Remove one outbox entry, claimed first like any sender, so one being sent is left
/// alone.
async fn prune(services: &Services, name: &str, id: &str, yes: bool, now: Millis) -> Result<()> {
    known(name)?;
    let rec = services.store.load(name).await?;
    let Some(alert) = rec.outbox.get(id) else {
        bail!("{name} has no pending alert {id:?}");
    };
    crate::confirm(
        &format!(
            "Remove pending alert {id} of {name} ({} {}); it will not be sent.",
            alert.action.as_str(),
            alert.dedup_key
        ),
        yes,
    )?;
    let owner = format!("cli-{}", std::process::id());
    let claim = Op::ClaimEntry {
        id: id.to_string(),
        owner: owner.clone(),
        now,
        until: now + 60_000,
    };
    if !matches!(services.store.apply(name, &claim).await?, Applied::Won(_)) {
        bail!("alert {id} is being sent right now; nothing removed");
    }
    let drop = Op::DropEntry {
        id: id.to_string(),
        owner,
    };
    services.store.apply(name, &drop).await?;
    println!("{name}: pending alert {id} removed");
    Ok(())
}

/// Force open, force closed or release: say what it means, ask, then command the
/// breaker as any instance would (so the transition pages as it must).
async fn command(services: &Services, force: Force, event: Event, now: Millis) -> Result<()> {
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
    crate::confirm(&what, force.yes)?;
    let b = services.breaker(dependency, &ProcessEnv)?;
    let t = b.command(event).await?;
    let after = services.store.load(&force.name).await?;
    if force.json {
        let v = json!({"transition": t.map(|t| t.label()), "breaker": render::summary(&after)});
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        match t {
            Some(t) => println!("{}: {}", force.name, t.label()),
            None => println!("{}: unchanged ({})", force.name, after.state),
        }
        print!("{}", render::breakers(std::slice::from_ref(&after), now));
    }
    Ok(())
}
