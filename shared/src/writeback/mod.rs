//! After-call write-back (issue 15, in progress): the activity record of each
//! interaction written to the CRM, exactly once, whatever the outage. This is its pure
//! core and Salesforce adapter: reading the after-call-work event (`event`), and
//! upserting the Task by its external id (`upsert`), and how long a message waits while
//! the breakers are open (`defer`). The `crm-writeback` function, its
//! queue and the breakers' deferral are not built yet.

pub mod defer;
pub mod event;
pub mod upsert;

pub use event::{AfterCall, Poison};
pub use upsert::{FieldMap, Target, WriteError, Written};

use crate::config::{parsed, ConfigError, Env};

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
