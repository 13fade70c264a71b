//! outage-actions: runs what breaker transitions call for (pages, campaign pauses and
//! resumes) as soon as they are written, from the state table's stream, whichever
//! function won the transition. health-probe runs the same executor every minute as the
//! backstop.

use std::time::Duration;

use failsoft::actions::{Executor, StreamEvent};
use failsoft::config::ProcessEnv;
use failsoft::service::Services;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tokio::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Error> {
    failsoft::logging::init();
    let services = Services::from_env(&ProcessEnv).await?;
    let executor = &Executor::build(&services, &ProcessEnv, "stream")?;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<StreamEvent>| async move {
        // Inside the function's 90 s timeout, with room to record the last outcome.
        let budget = Duration::from_secs(80);
        let deadline = (Instant::now() + budget).min(
            Instant::now()
                + ev.context
                    .deadline()
                    .duration_since(std::time::SystemTime::now())
                    .unwrap_or(budget)
                    .saturating_sub(Duration::from_secs(2)),
        );
        Ok::<Value, Error>(executor.on_stream(&ev.payload, deadline).await)
    }))
    .await
}
