//! crm-lookup: for now it answers with the state of the breakers it depends on, read through
//! the shared breaker code; its own behaviour lands with its issue.

use failsoft::config::ProcessEnv;
use failsoft::service::Services;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    failsoft::logging::init();
    let services = Services::from_env().await?;
    let breakers = ["crm", "crm-auth"]
        .map(|name| services.breaker(name, &ProcessEnv))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let breakers = &breakers;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(failsoft::status::report("crm-lookup", breakers).await)
    }))
    .await
}
