//! health-probe: every minute, check every dependency through its breaker, remind about
//! long episodes, and deliver pending alerts to PagerDuty.

use failsoft::config::ProcessEnv;
use failsoft::health_check::HealthChecker;
use failsoft::lambda;
use failsoft::service::Services;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    failsoft::logging::init();
    let services = Services::from_env(&ProcessEnv).await?;
    let checker = &HealthChecker::build(&services, &ProcessEnv)?;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        let deadline = lambda::deadline(&ev.context, lambda::HEALTH_PROBE);
        Ok::<Value, Error>(checker.run(deadline).await)
    }))
    .await
}
