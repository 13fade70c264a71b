//! `failsoft-sim`: run the tables of `docs/performance.md`, or one scenario.
//!
//! ```text
//! cargo run -p failsoft-sim --release -- calibrate
//! cargo run -p failsoft-sim --release -- limits
//! cargo run -p failsoft-sim --release -- outage --instances 1000 --rate 500
//! ```

use clap::{Parser, Subcommand};
use failsoft_sim::{tables, StoreModel};

#[derive(Parser)]
#[command(
    name = "failsoft-sim",
    about = "A fleet of breakers on a simulated clock"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The multi-process test's races, measured and simulated side by side.
    Calibrate {
        #[arg(long, default_value_t = 5)]
        seeds: u64,
    },
    /// A CRM outage at every fleet size and rate of the limits table.
    Limits {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// A large center's write-back through CRM outages of 4, 8 and 24 hours.
    Writeback {
        #[arg(long, default_value_t = 50_000.0)]
        per_hour: f64,
    },
    /// Traffic shapes (steady, peak, burst) against failure shapes (down, slow,
    /// flapping) at 1,000 instances.
    Shapes {
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The monthly AWS bill at 10,000, 100,000 and 1,000,000 calls a day.
    Cost,
    /// One CRM outage (30 s healthy, 60 s down, 90 s after).
    Outage {
        #[arg(long, default_value_t = 1000)]
        instances: usize,
        #[arg(long, default_value_t = 500.0)]
        rate: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        store: StoreArgs,
        /// Simulated seconds (the outage is always from 30 s to 90 s).
        #[arg(long, default_value_t = 180.0)]
        seconds: f64,
    },
}

/// The table a run meets.
#[derive(clap::Args)]
struct StoreArgs {
    /// fast (same-region DynamoDB), slow (every request 200–700 ms), down (refusing
    /// everything).
    #[arg(long, default_value = "fast")]
    store: String,
    /// Bytes the breaker item carries beyond the run's own (pending outbox entries).
    #[arg(long, default_value_t = 0)]
    pad_bytes: usize,
}

impl StoreArgs {
    fn model(&self) -> anyhow::Result<StoreModel> {
        let mut model = match self.store.as_str() {
            "fast" => StoreModel::fast(),
            "slow" => StoreModel::slow(),
            "down" => StoreModel::down(),
            other => anyhow::bail!("no store model {other:?}: fast, slow or down"),
        };
        model.pad_bytes = self.pad_bytes;
        Ok(model)
    }
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Calibrate { seeds } => {
            let rows = tables::calibration(seeds)?;
            print!("{}", tables::calibration_table(&rows));
        }
        Command::Limits { seed, store } => {
            let model = store.model()?;
            let mut runs = Vec::new();
            for n in [100, 300, 1_000, 3_000] {
                for rate in [100.0, 500.0, 1_000.0] {
                    let r = failsoft_sim::run(&tables::outage(n, rate, model.clone(), seed))?;
                    eprintln!("{n} instances, {rate} calls/s: done");
                    runs.push((n, rate, r));
                }
            }
            print!("{}", tables::limits_table(&runs));
        }
        Command::Shapes { seed } => {
            print!("{}", tables::shapes_table(&tables::shapes(seed)?));
        }
        Command::Cost => {
            println!(
                "Prices: us-east-1 list prices as of {}.",
                failsoft_sim::cost::PRICES_AS_OF
            );
            print!("{}", failsoft_sim::cost::table());
        }
        Command::Writeback { per_hour } => {
            let mut runs = Vec::new();
            for hours in [4, 8, 24] {
                for concurrency in [5, 20] {
                    let b = failsoft_sim::writeback::Backlog {
                        per_hour,
                        outage_s: hours * 3600,
                        concurrency,
                        batch: 100,
                        seed: 1,
                    };
                    runs.push((b, failsoft_sim::writeback::model(&b)));
                }
            }
            print!("{}", failsoft_sim::writeback::table(&runs));
        }
        Command::Outage {
            instances,
            rate,
            seed,
            store,
            seconds,
        } => {
            let model = store.model()?;
            let started = std::time::Instant::now();
            let mut s = tables::outage(instances, rate, model, seed);
            s.seconds = seconds;
            let r = failsoft_sim::run(&s)?;
            print!("{}", tables::limits_table(&[(instances, rate, r.clone())]));
            eprintln!(
                "{} calls, {} lookups, {:.2} store requests a call, {} fallbacks, {} trials ({} on a local view), {} of {} store requests given up; {:.1} s of wall time",
                r.calls,
                r.lookups,
                r.requests_per_call(),
                r.fallbacks,
                r.trials(),
                r.local_trials,
                r.store.begun - r.store.answered,
                r.store.begun,
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
