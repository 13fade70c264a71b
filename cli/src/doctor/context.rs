//! The last-known caller context, when `LAST_KNOWN_CONTEXT=on`: its HMAC key readable
//! and long enough, and its table readable, as crm-lookup will need them.

use std::sync::Arc;

use failsoft::clock::SystemClock;
use failsoft::crm::last_known::{ContextError, LastKnown, LastKnownConfig, KEY_FIELD};
use failsoft::secrets::{SecretCache, SecretsManager};

use super::{Check, Ctx};

const ITEM: &str = "last-known context";

pub async fn check(ctx: &Ctx, out: &mut Vec<Check>) {
    let config = match LastKnownConfig::from_env(&ctx.env) {
        Ok(Some(c)) => c,
        Ok(None) => {
            out.push(Check::skip(ITEM, "LAST_KNOWN_CONTEXT is off"));
            return;
        }
        Err(e) => {
            out.push(Check::fail(
                ITEM,
                e.to_string(),
                "set CONTEXT_TABLE and LAST_KNOWN_KEY_SECRET_ID to the stack's ContextTable and ContextKeySecret",
            ));
            return;
        }
    };
    let (table, secret) = (config.table.clone(), config.key_secret.clone());
    let context = LastKnown {
        config,
        dynamo: failsoft::aws::dynamodb(&ctx.sdk),
        secrets: Arc::new(SecretCache::new(Arc::new(SecretsManager(
            failsoft::aws::secretsmanager(&ctx.sdk),
        )))),
        clock: Arc::new(SystemClock),
    };
    out.push(match context.reachable(ctx.deadline()).await {
        Ok(()) => Check::ok(ITEM, format!("key {secret} readable, table {table} answers")),
        Err(e @ (ContextError::Key(_) | ContextError::ShortKey)) => Check::fail(
            ITEM,
            e.to_string(),
            format!("{secret} must hold {{\"{KEY_FIELD}\": at least 32 characters}}, readable by crm-lookup (the stack generates it)"),
        ),
        Err(e) => Check::fail(
            ITEM,
            e.to_string(),
            format!("check that {table} exists and that crm-lookup may GetItem and PutItem on it (ctx#* keys)"),
        ),
    });
}
