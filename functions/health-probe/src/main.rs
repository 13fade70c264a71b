//! health-probe: every minute, check every dependency through its breaker, remind about
//! long episodes, and deliver pending alerts to PagerDuty.

use std::time::Duration;

use failsoft::config::ProcessEnv;
use failsoft::health_check::HealthChecker;
use failsoft::service::Services;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tokio::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Error> {
    failsoft::logging::init();
    let services = Services::from_env(&ProcessEnv).await?;
    let checker = &HealthChecker::build(&services, &ProcessEnv)?;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        // Well inside the schedule's one-minute period and the function's timeout.
        let deadline = Instant::now() + Duration::from_secs(25);
        Ok::<Value, Error>(checker.run(deadline).await)
    }))
    .await
}
