//! A function's answer about its breakers, as each instance sees them.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::breaker::Breaker;

pub async fn report(function: &str, breakers: &[Breaker]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut out = Vec::new();
    for b in breakers {
        let r = b.current(deadline).await;
        out.push(json!({"name": b.name(), "state": r.state, "generation": r.generation, "failures": r.failures}));
    }
    json!({"function": function, "breakers": out})
}
