//! `failsoft-drill`: play outage scenarios against the real functions, locally (moto,
//! fake dependencies, the Lambda runtime emulator). `bash scripts/drill.sh` runs it.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Parser;
use failsoft_drill::{report, run, Options, SCENARIOS};

#[derive(Parser)]
#[command(
    name = "failsoft-drill",
    version,
    about = "Play Failsoft's outage scenarios against the real functions, locally",
    after_help = format!("Scenarios: {}", SCENARIOS.join(", "))
)]
struct Cli {
    /// Scenarios to run (default: all); repeat for several. See the list below.
    #[arg(long = "scenario", value_parser = clap::builder::PossibleValuesParser::new(SCENARIOS))]
    scenarios: Vec<String>,
    /// Print machine-readable results instead of the table.
    #[arg(long)]
    json: bool,
    /// Where to write the Markdown report (with SVG timelines).
    #[arg(long, default_value = "drill-output/report.md")]
    report: PathBuf,
}

#[tokio::main]
async fn main() -> Result<()> {
    failsoft::metrics::set_sink(failsoft::metrics::Sink::Stderr);
    let cli = Cli::parse();
    let results = run(&cli.scenarios, &Options::default()).await?;
    if let Some(dir) = cli.report.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&cli.report, report::markdown(&results))?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        print!("{}", report::table(&results));
        println!("report: {}", cli.report.display());
    }
    if results.iter().any(|r| !r.passed) {
        bail!("the drill found degraded behaviour that does not meet the guide");
    }
    Ok(())
}
