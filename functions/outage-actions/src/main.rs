//! outage-actions: runs what breaker transitions call for (pages, campaign pauses and
//! resumes) as soon as they are written, from the state table's stream, whichever
//! function won the transition. health-probe runs the same executor every minute as the
//! backstop.

use failsoft::actions::{Executor, StreamEvent};
use failsoft::config::ProcessEnv;
use failsoft::lambda;
use failsoft::service::Services;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    failsoft::logging::init();
    let services = Services::from_env(&ProcessEnv).await?;
    let executor = &Executor::build(&services, &ProcessEnv, "stream")?;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<StreamEvent>| async move {
        let deadline = lambda::deadline(&ev.context, lambda::OUTAGE_ACTIONS);
        Ok::<Value, Error>(executor.on_stream(&ev.payload, deadline).await)
    }))
    .await
}
