//! `failsoft`: the operator's command line, against the state table named by
//! `STATE_TABLE` (AWS credentials and `AWS_ENDPOINT_URL` as usual).
//!
//! One module per command, each with its arguments and `exec` (cargo's
//! `src/bin/cargo/commands/` layout); `render` turns what they read into what people
//! read. Commands know only the registry's names, and every change asks first.

mod actions;
mod breaker;
mod context;
mod doctor;
mod overflow;
mod render;
mod table;
mod writeback;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};

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
    Breaker(breaker::Cmd),
    /// The state table.
    #[command(subcommand)]
    Table(table::Cmd),
    /// What outages called for: pending, in progress, waiting or failing actions (pages,
    /// campaign pauses and resumes), and the campaigns held off.
    Actions(actions::Args),
    /// The after-call write-back: its backlog, and moving the DLQ back to the queue.
    /// Reads WRITEBACK_QUEUE_URL and WRITEBACK_DLQ_URL (the stack's outputs).
    #[command(subcommand)]
    Writeback(writeback::Cmd),
    /// Regional overflow: the Architect emergency group that sends callers to the backup
    /// region. Reads GENESYS_SECRET_ID, GENESYS_ENVIRONMENT and OVERFLOW_EMERGENCY_GROUP_ID.
    #[command(subcommand)]
    Overflow(overflow::Cmd),
    /// The last-known caller context: forget a caller (a privacy request), or count
    /// what is kept. Reads CONTEXT_TABLE and LAST_KNOWN_KEY_SECRET_ID.
    #[command(subcommand)]
    Context(context::Cmd),
    /// After `sam deploy`, before an outage: try everything an outage will need (secrets,
    /// tokens, each permission, the function, queues, mapping, rule, alarm topic,
    /// breakers) and say what fails and how to fix it. Changes nothing; exit 1 if
    /// anything fails. Reads the stack's settings from the environment.
    Doctor(doctor::Args),
}

#[tokio::main]
async fn main() -> Result<()> {
    // The operator's terminal is no place for EMF lines: CloudWatch never reads them here.
    failsoft::metrics::set_sink(failsoft::metrics::Sink::Off);
    match Cli::parse().command {
        Command::Breaker(cmd) => breaker::exec(cmd).await,
        Command::Table(cmd) => table::exec(cmd).await,
        Command::Actions(args) => actions::exec(args).await,
        Command::Writeback(cmd) => writeback::exec(cmd).await,
        Command::Overflow(cmd) => overflow::exec(cmd).await,
        Command::Context(cmd) => context::exec(cmd).await,
        Command::Doctor(args) => doctor::exec(args).await,
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
