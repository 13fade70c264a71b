//! crm-lookup: the Genesys Data Action that answers "who is calling?" inside its budget.

use failsoft::config::ProcessEnv;
use failsoft::crm::lookup::{CrmLookup, Incoming};
use failsoft::service::Services;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    failsoft::logging::init();
    let services = Services::from_env(&ProcessEnv).await?;
    let lookup = &CrmLookup::build(&services, &ProcessEnv)?;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Incoming>| async move {
        // Its own budget is `LOOKUP_DEADLINE_MS`, inside the Data Action's 3 s.
        let answer = lookup.answer_incoming(
            &ev.payload,
            failsoft::lambda::invocation_deadline(&ev.context),
        );
        Ok::<_, Error>(answer.await)
    }))
    .await
}
