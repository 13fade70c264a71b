//! crm-writeback: after-call records from the write-back queue to the CRM, exactly
//! once, deferred (never lost) while the CRM or its auth is down.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use failsoft::config::ProcessEnv;
use failsoft::lambda;
use failsoft::service::Services;
use failsoft::writeback::WriteBack;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    failsoft::logging::init();
    let services = Services::from_env(&ProcessEnv).await?;
    let writeback = &WriteBack::build(&services, &ProcessEnv)?;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<SqsEvent>| async move {
        let deadline = lambda::deadline(&ev.context, lambda::CRM_WRITEBACK);
        Ok::<SqsBatchResponse, Error>(writeback.on_event(&ev.payload, deadline).await)
    }))
    .await
}
