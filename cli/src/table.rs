//! `failsoft table create`: the state table from the SAM template's definition, for
//! local stand-ins.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::json;

#[derive(Subcommand)]
pub enum Cmd {
    /// Create the state table from the SAM template's definition (for local stand-ins).
    Create {
        /// Table name; defaults to STATE_TABLE.
        #[arg(long, env = "STATE_TABLE")]
        name: String,
        #[arg(long, default_value = "infra/template.yaml")]
        template: PathBuf,
    },
}

pub async fn exec(cmd: Cmd) -> Result<()> {
    let Cmd::Create { name, template } = cmd;
    let yaml = std::fs::read_to_string(&template)
        .with_context(|| format!("reading {}", template.display()))?;
    let spec = failsoft::table::TableSpec::from_template(&yaml)?;
    let config = failsoft::aws::sdk_config().await;
    spec.create(&failsoft::aws::dynamodb(&config), &name)
        .await?;
    println!("{}", json!({"created": name}));
    Ok(())
}
