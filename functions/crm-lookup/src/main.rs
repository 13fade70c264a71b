//! crm-lookup: the Genesys Data Action that answers "who is calling?" inside its budget.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use failsoft::config::ProcessEnv;
use failsoft::crm::lookup::{CrmLookup, Incoming};
use failsoft::service::Services;
use lambda_runtime::{service_fn, Context, Error, LambdaEvent};
use tokio::time::Instant;

/// The invocation's own deadline (epoch ms in the context) as an Instant. Lambda sends
/// an epoch time; cargo-lambda's emulator sends a duration (600000), which is no
/// deadline at all and is ignored: `LOOKUP_DEADLINE_MS` still bounds the answer.
fn hard_deadline(ctx: &Context) -> Option<Instant> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    let plausible = ctx.deadline > now_ms.saturating_sub(60_000);
    plausible.then(|| Instant::now() + Duration::from_millis(ctx.deadline.saturating_sub(now_ms)))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    failsoft::logging::init();
    let services = Services::from_env(&ProcessEnv).await?;
    let lookup = &CrmLookup::build(&services, &ProcessEnv)?;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Incoming>| async move {
        let answer = lookup.answer_incoming(&ev.payload, hard_deadline(&ev.context));
        Ok::<_, Error>(answer.await)
    }))
    .await
}
