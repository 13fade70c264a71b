//! The outage drill: plays the guide's failure scenarios against the real function
//! binaries under the Lambda runtime emulator, with moto and fake dependencies whose
//! faults it controls, and judges each from what it observed.

pub mod report;
mod scenarios;
mod stage;

use report::Scenario;

/// Every scenario, in the order `failsoft drill` plays them.
pub const SCENARIOS: &[&str] = &[
    "crm-down",
    "crm-slow",
    "token-down",
    "analytics-down",
    "region-unhealthy",
    "crm-maintenance",
    "pagerduty-flapping",
    "campaign-pause",
    "writeback-outage",
    "region-overflow",
    "backup-not-ready",
    "vip-during-outage",
];

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Extra environment for every function: how a test breaks the system on purpose.
    pub extra_env: Vec<(String, String)>,
}

/// Run the named scenarios (all when `names` is empty), one after another.
pub async fn run(names: &[String], opts: &Options) -> anyhow::Result<Vec<Scenario>> {
    let names: Vec<String> = if names.is_empty() {
        SCENARIOS.iter().map(|s| s.to_string()).collect()
    } else {
        names.to_vec()
    };
    if let Some(other) = names.iter().find(|n| !SCENARIOS.contains(&n.as_str())) {
        anyhow::bail!(
            "unknown scenario {other:?}; known: {}",
            SCENARIOS.join(", ")
        );
    }
    let mut out = Vec::new();
    for n in &names {
        let t = std::time::Instant::now();
        eprintln!("drill: {n} …");
        let r = match n.as_str() {
            "crm-down" => scenarios::crm::down(opts).await?,
            "crm-slow" => scenarios::crm::slow(opts).await?,
            "token-down" => scenarios::tokens::down(opts).await?,
            "analytics-down" => scenarios::analytics::down(opts).await?,
            "region-unhealthy" => scenarios::region::unhealthy(opts).await?,
            "crm-maintenance" => scenarios::maintenance::window(opts).await?,
            "campaign-pause" => scenarios::campaigns::pause(opts).await?,
            "writeback-outage" => scenarios::writeback::outage(opts).await?,
            "region-overflow" => scenarios::overflow::region_overflow(opts).await?,
            "backup-not-ready" => scenarios::overflow::backup_not_ready(opts).await?,
            "vip-during-outage" => scenarios::context::vip_during_outage(opts).await?,
            _ => scenarios::flapping::pagerduty(opts).await?,
        };
        let verdict = if r.passed { "PASS" } else { "FAIL" };
        eprintln!("drill: {n} {verdict} in {:.1} s", t.elapsed().as_secs_f64());
        out.push(r);
    }
    Ok(out)
}
