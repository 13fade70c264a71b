//! health-probe: every minute, probe every dependency through its breaker, remind about
//! long episodes, and deliver pending alerts to PagerDuty.

use std::time::Duration;

use failsoft::config::ProcessEnv;
use failsoft::probe::Prober;
use failsoft::service::Services;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tokio::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Error> {
    failsoft::logging::init();
    let services = Services::from_env().await?;
    let prober = Prober::from_env(&services, &ProcessEnv)?;
    let prober = &prober;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        // Well inside the schedule's one-minute period and the function's timeout.
        let deadline = Instant::now() + Duration::from_secs(25);
        Ok::<Value, Error>(prober.run(deadline).await)
    }))
    .await
}
