//! Each configured secret is readable and has the fields its client reads; each token
//! is obtainable with it. The tokens go on to the permission checks.

use std::sync::Arc;

use failsoft::clock::{Clock, SystemClock};
use failsoft::http::HttpError;
use failsoft::overflow::backup::BackupConfig;
use failsoft::secrets::{SecretCache, SecretError, SecretsManager};
use failsoft::token::provider::FetchError;
use failsoft::token::{Provider, TokenConfig};

use super::{Check, Ctx};

/// The tokens the later checks use: None where a token could not be had (already
/// reported).
#[derive(Default)]
pub struct Tokens {
    pub genesys: Option<String>,
    pub backup: Option<String>,
    /// (access token, instance URL).
    pub salesforce: Option<(String, String)>,
}

/// (variable, what it holds, the fields its client reads).
const SECRETS: [(&str, &str, &[&str]); 4] = [
    (
        "CRM_SECRET_ID",
        "Salesforce client credentials",
        &["token_url", "client_id", "client_secret"],
    ),
    (
        "GENESYS_SECRET_ID",
        "Genesys client credentials",
        &["client_id", "client_secret"],
    ),
    (
        "BACKUP_GENESYS_SECRET_ID",
        "the backup org's client credentials",
        &["client_id", "client_secret"],
    ),
    (
        "ALERT_SECRET_ID",
        "the PagerDuty routing key",
        &["routing_key"],
    ),
];

pub async fn check(ctx: &Ctx, out: &mut Vec<Check>) -> Tokens {
    let secrets = Arc::new(SecretCache::new(Arc::new(SecretsManager(
        aws_sdk_secretsmanager::Client::new(&ctx.sdk),
    ))));
    let mut readable = Vec::new();
    for (var, what, fields) in SECRETS {
        let item = format!("secret {var}");
        let Some(id) = ctx.var(var) else {
            out.push(Check::skip(item, format!("not set: no {what}")));
            continue;
        };
        match secrets.get(&id, ctx.deadline()).await {
            Ok(v) => {
                let missing: Vec<&str> = fields
                    .iter()
                    .copied()
                    .filter(|f| v.get(*f).and_then(|x| x.as_str()).is_none_or(str::is_empty))
                    .collect();
                if missing.is_empty() {
                    out.push(Check::ok(item, format!("{id} readable ({what})")));
                    readable.push(var);
                } else {
                    out.push(Check::fail(
                        item,
                        format!("{id} lacks {}", missing.join(", ")),
                        format!(
                            "store JSON with {} in {id} (aws secretsmanager put-secret-value)",
                            fields.join(", ")
                        ),
                    ));
                }
            }
            Err(e) => out.push(Check::fail(item, e.to_string(), secret_fix(&e, &id))),
        }
    }
    let mut tokens = Tokens::default();
    let config = match TokenConfig::from_env(&ctx.env) {
        Ok(c) => c,
        Err(e) => {
            out.push(Check::fail(
                "token settings",
                e.to_string(),
                "set the variable as docs/configuration.md says",
            ));
            return tokens;
        }
    };
    for provider in &config.providers {
        let var = match provider {
            Provider::Salesforce { .. } => "CRM_SECRET_ID",
            Provider::Genesys { .. } => "GENESYS_SECRET_ID",
        };
        if !readable.contains(&var) {
            continue;
        }
        let item = format!("token {}", provider.name());
        match fetch(ctx, provider, &secrets).await {
            Ok(t) => {
                out.push(Check::ok(item, "obtained".to_string()));
                match provider {
                    Provider::Salesforce { .. } => {
                        tokens.salesforce =
                            Some((t.access_token, t.instance_url.unwrap_or_default()))
                    }
                    Provider::Genesys { .. } => tokens.genesys = Some(t.access_token),
                }
            }
            Err(e) => out.push(Check::fail(item, e.to_string(), token_fix(&e, var))),
        }
    }
    match BackupConfig::from_env(&ctx.env) {
        Ok(Some(b)) if readable.contains(&"BACKUP_GENESYS_SECRET_ID") => {
            let provider = Provider::Genesys {
                secret_id: b.secret_id.clone(),
                token_url: b.token_url.clone(),
            };
            match fetch(ctx, &provider, &secrets).await {
                Ok(t) => {
                    out.push(Check::ok("token genesys-backup", "obtained"));
                    tokens.backup = Some(t.access_token);
                }
                Err(e) => out.push(Check::fail(
                    "token genesys-backup",
                    e.to_string(),
                    token_fix(&e, "BACKUP_GENESYS_SECRET_ID"),
                )),
            }
        }
        Ok(_) => {}
        Err(e) => out.push(Check::fail(
            "backup region settings",
            e.to_string(),
            "set the BACKUP_* variables as docs/configuration.md says",
        )),
    }
    tokens
}

async fn fetch(
    ctx: &Ctx,
    provider: &Provider,
    secrets: &Arc<SecretCache>,
) -> Result<failsoft::token::store::Token, FetchError> {
    provider
        .fetch(&ctx.http, secrets, SystemClock.now_ms(), ctx.deadline())
        .await
}

fn secret_fix(e: &SecretError, id: &str) -> String {
    match e {
        SecretError::Refused { .. } => format!(
            "check that {id} exists (aws secretsmanager describe-secret --secret-id {id}), that the stack's parameter names it, and that you (and the function's role) may read it"
        ),
        SecretError::Malformed { .. } => format!("store a JSON object in {id}"),
        SecretError::Unavailable { .. } | SecretError::Timeout { .. } => {
            "Secrets Manager did not answer: try again, and check the region and endpoint".into()
        }
    }
}

fn token_fix(e: &FetchError, var: &str) -> String {
    match e {
        FetchError::Http(HttpError::Status {
            status: 400 | 401 | 403,
            ..
        }) => format!(
            "the token endpoint refused the client: check client_id and client_secret in {var}'s secret, and that the OAuth client (connected app) is active and allows client credentials"
        ),
        FetchError::Http(HttpError::Connect(_) | HttpError::Timeout) => {
            "the token endpoint did not answer: check the environment or token URL".into()
        }
        _ => "the token endpoint answered without a token: check the token URL".into(),
    }
}
