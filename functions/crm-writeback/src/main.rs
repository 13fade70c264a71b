//! crm-writeback: after-call records from the write-back queue to the CRM, exactly
//! once, deferred (never lost) while the CRM or its auth is down.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use failsoft::config::ProcessEnv;
use failsoft::service::Services;
use failsoft::writeback::WriteBack;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use tokio::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Error> {
    failsoft::logging::init();
    let services = Services::from_env(&ProcessEnv).await?;
    let writeback = &WriteBack::build(&services, &ProcessEnv)?;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<SqsEvent>| async move {
        // Inside the function's 60 s timeout, with room to answer.
        let budget = Duration::from_secs(50);
        let left = ev
            .context
            .deadline()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or(budget)
            .saturating_sub(Duration::from_secs(3));
        let deadline = Instant::now() + budget.min(left);
        Ok::<SqsBatchResponse, Error>(writeback.on_event(&ev.payload, deadline).await)
    }))
    .await
}
