//! `failsoft`: the operator's command line, against the state table named by
//! `STATE_TABLE` (AWS credentials and `AWS_ENDPOINT_URL` as usual).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use failsoft::breaker::{Event, Record};
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
}

#[derive(Subcommand)]
enum BreakerCmd {
    /// Every breaker in the table.
    List,
    /// One breaker's whole record.
    Show { name: String },
    /// Hold a breaker OPEN (a maintenance window): calls get the fallback, probes stop.
    ForceOpen {
        name: String,
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
    /// Hold a breaker CLOSED (manual override): every call goes through, nothing counts.
    ForceClosed {
        name: String,
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
    /// End a forced state: the breaker returns to CLOSED.
    Release {
        name: String,
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
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
    failsoft::metrics::set_sink(failsoft::metrics::Sink::Stderr);
    match Cli::parse().command {
        Command::Breaker(cmd) => breaker(cmd).await,
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

fn summary(r: &Record) -> serde_json::Value {
    json!({
        "name": r.name, "state": r.state, "generation": r.generation, "since_ms": r.since_ms,
        "failures": r.failures, "episode": r.episode, "last_error": r.last_error,
    })
}

async fn breaker(cmd: BreakerCmd) -> Result<()> {
    let services = Services::from_env(&ProcessEnv).await?;
    let (name, event) = match cmd {
        BreakerCmd::List => {
            let all: Vec<_> = services.store.list().await?.iter().map(summary).collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
            return Ok(());
        }
        BreakerCmd::Show { name } => {
            let r = services.store.load(&name).await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
            return Ok(());
        }
        BreakerCmd::ForceOpen { name, by } => (name, Event::ForceOpen { by }),
        BreakerCmd::ForceClosed { name, by } => (name, Event::ForceClosed { by }),
        BreakerCmd::Release { name, by } => (name, Event::Release { by }),
    };
    let Some(dependency) = Dependency::parse(&name) else {
        let known: Vec<&str> = Dependency::ALL.iter().map(|d| d.name()).collect();
        bail!("unknown breaker {name:?}; known: {}", known.join(", "));
    };
    let b = services.breaker(dependency, &ProcessEnv)?;
    let t = b.command(event).await?;
    let after = services.store.load(&name).await?;
    println!(
        "{}",
        serde_json::to_string_pretty(
            &json!({"transition": t.map(|t| t.label()), "breaker": summary(&after)})
        )?
    );
    Ok(())
}
