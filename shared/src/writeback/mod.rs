//! After-call write-back: the activity record of each interaction written to
//! the CRM exactly once, whatever the outage. Genesys → EventBridge → SQS →
//! `crm-writeback` → Salesforce.
//!
//! - `event`: the after-call-work event read from its envelope, or why it is poison;
//! - `upsert` and `collections`: the Task upserted by its external id, one by one or
//!   200 to a request, and the contacts found by ANI;
//! - `defer`: how long a message waits while the breakers are open;
//! - `queue`: the queue and its DLQ; `backlog`: what the function last saw of it;
//!   `status`: both, as the board and the CLI show them;
//! - `writer`: one batch, end to end.

pub mod backlog;
pub mod collections;
pub mod defer;
pub mod event;
pub mod queue;
pub mod status;
pub mod upsert;
pub mod writer;

pub use event::{AfterCall, Direction, MediaType, Poison};
pub use upsert::{FieldMap, Target, WriteError, Written};
pub use writer::{Batching, MediaTypes, Message, Report, Settings, WriteBack};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use tokio::time::Instant;

use crate::config::{number, parsed, required, ConfigError, Env};
use crate::crm::CrmConfig;
use crate::dependency::Dependency;
use crate::service::{InitError, Services};
use crate::token::TokenConfig;

/// The field map when `WRITEBACK_FIELD_MAP` is unset: standard Task fields.
pub const DEFAULT_FIELD_MAP: &str =
    "queue=CallObject,wrapup=CallDisposition,notes=Description,duration=CallDurationInSeconds,direction=CallType";

/// `WRITEBACK_OBJECT`, `WRITEBACK_EXTERNAL_ID_FIELD`, `WRITEBACK_FIELD_MAP`; the API
/// version is crm-lookup's (`CRM_API_VERSION`).
pub fn target_from_env(env: &impl Env) -> Result<Target, ConfigError> {
    let env: &dyn Env = env;
    let invalid = |var: &str, value: String, why: String| ConfigError::Invalid {
        var: var.into(),
        value,
        why,
    };
    let name = |var: &str, default: &str| -> Result<String, ConfigError> {
        let v: String = parsed(env, var, default.to_string())?;
        if upsert::api_name(&v) {
            Ok(v)
        } else {
            Err(invalid(var, v, "not a Salesforce API name".into()))
        }
    };
    let map: String = parsed(env, "WRITEBACK_FIELD_MAP", DEFAULT_FIELD_MAP.to_string())?;
    let fields =
        FieldMap::parse(&map).map_err(|why| invalid("WRITEBACK_FIELD_MAP", map.clone(), why))?;
    Ok(Target {
        api_version: crate::crm::api_version(env)?,
        object: name("WRITEBACK_OBJECT", "Task")?,
        external_id_field: name("WRITEBACK_EXTERNAL_ID_FIELD", "Genesys_Interaction_Id__c")?,
        fields,
    })
}

/// `WRITEBACK_MAX_AGE_S` (default an hour), `WRITEBACK_BATCHING` (`collections`, the
/// default, or `single`), `WRITEBACK_MEDIA_TYPES` (`all`, the default, or a list) and
/// the deferral schedule (`WRITEBACK_DEFER_FIRST_S`, `_MAX_S`).
pub fn settings_from_env(env: &impl Env) -> Result<Settings, ConfigError> {
    let env: &dyn Env = env;
    let max_age_s: i64 = number(env, "WRITEBACK_MAX_AGE_S", 3_600, 60, 14 * 86_400)?;
    let batching = match parsed(env, "WRITEBACK_BATCHING", "collections".to_string())?.as_str() {
        "collections" => Batching::Collections,
        "single" => Batching::Single,
        other => {
            return Err(ConfigError::Invalid {
                var: "WRITEBACK_BATCHING".into(),
                value: other.into(),
                why: "expected collections or single".into(),
            })
        }
    };
    let first_s: u64 = number(env, "WRITEBACK_DEFER_FIRST_S", defer::FIRST_WAIT_S, 1, 900)?;
    let max_s: u64 = number(
        env,
        "WRITEBACK_DEFER_MAX_S",
        defer::MAX_WAIT_S,
        first_s,
        defer::MAX_CONFIGURED_WAIT_S,
    )?;
    let media: String = parsed(env, "WRITEBACK_MEDIA_TYPES", "all".to_string())?;
    let media = MediaTypes::parse(&media).map_err(|why| ConfigError::Invalid {
        var: "WRITEBACK_MEDIA_TYPES".into(),
        value: media.clone(),
        why,
    })?;
    Ok(Settings {
        batching,
        media,
        max_age_ms: max_age_s * 1000,
        schedule: defer::Schedule { first_s, max_s },
    })
}

/// The queue and its DLQ: `WRITEBACK_QUEUE_URL`, `WRITEBACK_DLQ_URL`.
pub fn queue_urls(env: &impl Env) -> Result<(String, String), ConfigError> {
    Ok((
        required(env, "WRITEBACK_QUEUE_URL")?,
        required(env, "WRITEBACK_DLQ_URL")?,
    ))
}

/// What the board and the CLI read: the queues (when `WRITEBACK_QUEUE_URL` and
/// `WRITEBACK_DLQ_URL` are set) and the backlog note.
#[derive(Clone, Debug)]
pub struct Watch {
    pub queues: queue::Queues,
    pub backlog: backlog::BacklogStore,
}

impl Watch {
    pub fn from_env(services: &Services, env: &impl Env) -> Result<Watch, ConfigError> {
        let (url, dlq) = queue_urls(env)?;
        Ok(Watch {
            queues: queue::Queues::new(services.sqs.clone(), url, dlq),
            backlog: backlog::BacklogStore {
                client: services.dynamo.clone(),
                table: services.table.clone(),
            },
        })
    }

    pub async fn status(&self, now: crate::clock::Millis, deadline: Instant) -> status::Status {
        status::status(&self.queues, &self.backlog, now, deadline).await
    }
}

impl WriteBack {
    /// The write-back behind `crm`, `crm-auth` (its token) and `crm-api-limit`, with
    /// crm-lookup's search settings for the contact lookup.
    pub fn build(services: &Services, env: &impl Env) -> Result<WriteBack, InitError> {
        let tokens = TokenConfig::from_env(env)?;
        let provider = tokens.provider("crm", "CRM_SECRET_ID")?;
        let watch = Watch::from_env(services, env)?;
        Ok(WriteBack {
            crm: services.breaker(Dependency::Crm, env)?,
            limit: services.breaker(Dependency::CrmApiLimit, env)?,
            tokens: services.token_cache(provider, &tokens, env)?,
            http: services.http.clone(),
            target: target_from_env(env)?,
            search: CrmConfig::from_env(env)?.salesforce,
            queues: watch.queues,
            backlog: watch.backlog,
            clock: services.clock.clone(),
            settings: settings_from_env(env)?,
        })
    }

    /// Lambda's SQS event in, the partial batch response out: only the messages that
    /// were not written (nor sent to the DLQ) are kept by the queue.
    pub async fn on_event(&self, event: &SqsEvent, deadline: Instant) -> SqsBatchResponse {
        let messages: Vec<Message> = event.records.iter().filter_map(Message::from_sqs).collect();
        let report = self.handle(&messages, deadline).await;
        SqsBatchResponse {
            batch_item_failures: report
                .failed
                .into_iter()
                .map(|item_identifier| BatchItemFailure { item_identifier })
                .collect(),
        }
    }
}
