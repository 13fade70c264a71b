//! An Architect emergency group switched on or off, safely. A PUT replaces the whole
//! group and disconnects every IVR whose id it does not carry (Genesys's own blueprint
//! warns of it), so a switch reads the group, changes `enabled` alone, PUTs the whole
//! object back with the version it read, and checks that the IVR links after equal
//! those before. If they do not, it restores them at once and says so.

use std::collections::BTreeSet;

use serde_json::Value;
use tokio::time::Instant;

use crate::genesys::{ApiError, GenesysApi};

pub const PATH: &str = "/api/v2/architect/emergencygroups";
/// A stale version (409, or Genesys's 400 that says so) is re-read and tried again this
/// many times.
const MAX_CONFLICTS: u32 = 3;

/// One emergency group as read: the whole body is kept, because a PUT replaces it.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub version: i64,
    pub enabled: bool,
    body: Value,
}

impl Group {
    pub fn from_body(body: Value) -> Option<Group> {
        let id = body.get("id")?.as_str()?.to_string();
        // Ids go into URL paths: a GUID's characters only.
        if !crate::http::genesys_id(&id) {
            return None;
        }
        Some(Group {
            name: crate::genesys::entity_name(&body),
            version: body.get("version").and_then(Value::as_i64)?,
            enabled: body
                .get("enabled")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            id,
            body,
        })
    }

    /// Every IVR linked through the group's emergency call flows, by id.
    pub fn ivrs(&self) -> BTreeSet<String> {
        self.body["emergencyCallFlows"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|f| f["ivrs"].as_array().cloned().unwrap_or_default())
            .filter_map(|i| i["id"].as_str().map(str::to_string))
            .collect()
    }

    /// The emergency flows the group sends calls to, by name (or id when unnamed).
    pub fn flows(&self) -> Vec<String> {
        self.body["emergencyCallFlows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| {
                let flow = &f["emergencyFlow"];
                flow["name"]
                    .as_str()
                    .or(flow["id"].as_str())
                    .map(str::to_string)
            })
            .collect()
    }

    /// The whole group with `enabled` set, at the version it was read with.
    pub fn switched(&self, enabled: bool) -> Value {
        let mut b = self.body.clone();
        if let Some(o) = b.as_object_mut() {
            o.insert("enabled".into(), Value::Bool(enabled));
            o.insert("version".into(), Value::from(self.version));
        }
        b
    }

    /// `self`'s call flows (with their IVRs) put back on `now`, at `now`'s version.
    fn restored_onto(&self, now: &Group) -> Value {
        let mut b = now.body.clone();
        if let Some(o) = b.as_object_mut() {
            o.insert(
                "emergencyCallFlows".into(),
                self.body["emergencyCallFlows"].clone(),
            );
            o.insert("version".into(), Value::from(now.version));
        }
        b
    }
}

/// What a switch did.
#[derive(Clone, Debug, PartialEq)]
pub struct Switched {
    pub before: Group,
    pub after: Group,
    /// False when the group was already as asked: nothing was PUT.
    pub changed: bool,
}

impl Switched {
    /// Nothing to change: the group as it is.
    pub fn unchanged(g: &Group) -> Switched {
        Switched {
            before: g.clone(),
            after: g.clone(),
            changed: false,
        }
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum SwitchError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("the group's version kept moving ({0} conflicts)")]
    Conflict(u32),
    /// The PUT lost IVR links. `restored`: they were put back (a page is still due).
    #[error("the switch disconnected IVRs {lost:?}; restored: {restored}")]
    IvrsLost { lost: Vec<String>, restored: bool },
    #[error("no emergency group is named {0:?}")]
    Unknown(String),
    #[error("{1} emergency groups are named {0:?}; give its id")]
    Ambiguous(String, usize),
}

/// Group `id` as Genesys holds it now.
pub async fn get(api: &GenesysApi, id: &str, deadline: Instant) -> Result<Group, SwitchError> {
    let body = api
        .request(
            reqwest::Method::GET,
            &format!("{PATH}/{id}"),
            None,
            deadline,
        )
        .await?;
    Group::from_body(body).ok_or(SwitchError::Api(ApiError::Malformed))
}

/// The group named `id_or_name`: read by id when it looks like one, else found by its
/// exact name. An unknown or ambiguous name is refused, never guessed.
pub async fn find(
    api: &GenesysApi,
    id_or_name: &str,
    deadline: Instant,
) -> Result<Group, SwitchError> {
    if crate::http::genesys_id(id_or_name) {
        match get(api, id_or_name, deadline).await {
            Err(SwitchError::Api(e)) if e.status() == Some(404) => {}
            r => return r,
        }
    }
    let name: String = id_or_name.chars().take(120).collect();
    let query = format!(
        "{PATH}?pageSize=100&name={}",
        url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
    );
    let body = api
        .request(reqwest::Method::GET, &query, None, deadline)
        .await?;
    let found: Vec<Group> = body["entities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["name"].as_str() == Some(name.as_str()))
        .filter_map(|e| Group::from_body(e.clone()))
        .collect();
    match found.as_slice() {
        [one] => get(api, &one.id, deadline).await,
        [] => Err(SwitchError::Unknown(name)),
        _ => Err(SwitchError::Ambiguous(name, found.len())),
    }
}

async fn put(
    api: &GenesysApi,
    id: &str,
    body: &Value,
    deadline: Instant,
) -> Result<Group, ApiError> {
    let body = api
        .request(
            reqwest::Method::PUT,
            &format!("{PATH}/{id}"),
            Some(body),
            deadline,
        )
        .await?;
    Group::from_body(body).ok_or(ApiError::Malformed)
}

/// Switch group `id` on or off, keeping its IVR links; within `deadline`.
pub async fn set_enabled(
    api: &GenesysApi,
    id: &str,
    enabled: bool,
    deadline: Instant,
) -> Result<Switched, SwitchError> {
    let mut conflicts = 0;
    loop {
        let before = get(api, id, deadline).await?;
        if before.enabled == enabled {
            return Ok(Switched::unchanged(&before));
        }
        let after = match put(api, id, &before.switched(enabled), deadline).await {
            Err(e) if e.is_version_conflict() && conflicts < MAX_CONFLICTS => {
                conflicts += 1;
                continue;
            }
            Err(e) if e.is_version_conflict() => return Err(SwitchError::Conflict(conflicts + 1)),
            Err(e) => return Err(e.into()),
            Ok(g) => g,
        };
        // What Genesys holds now, not what the PUT echoed.
        let now = get(api, id, deadline).await?;
        let lost: Vec<String> = before.ivrs().difference(&now.ivrs()).cloned().collect();
        if lost.is_empty() {
            // What Genesys holds now, at the version our PUT produced: a later version
            // is somebody's change after ours (a person switching it off and on again),
            // which the restore must see as theirs.
            let produced = after.version;
            return Ok(Switched {
                before,
                after: if now.version >= produced {
                    Group {
                        version: produced,
                        ..now
                    }
                } else {
                    after
                },
                changed: true,
            });
        }
        tracing::error!(group = %id, ?lost, "the emergency group switch disconnected IVRs; restoring them");
        let restored = match put(api, id, &before.restored_onto(&now), deadline).await {
            Ok(_) => get(api, id, deadline)
                .await
                .is_ok_and(|g| before.ivrs().is_subset(&g.ivrs())),
            Err(_) => false,
        };
        return Err(SwitchError::IvrsLost { lost, restored });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn group() -> Group {
        Group::from_body(json!({"id": "eg-1", "name": "Storm", "version": 4, "enabled": false, "state": "active",
            "division": {"id": "d1"},
            "emergencyCallFlows": [{"emergencyFlow": {"id": "f1"}, "ivrs": [{"id": "ivr-a"}, {"id": "ivr-b"}]},
                                   {"emergencyFlow": {"id": "f2"}, "ivrs": [{"id": "ivr-c"}]}]}))
        .expect("a group")
    }

    #[test]
    fn a_switch_sends_the_whole_group_with_every_ivr_and_the_version_read() {
        let g = group();
        assert_eq!(
            g.ivrs().into_iter().collect::<Vec<_>>(),
            ["ivr-a", "ivr-b", "ivr-c"]
        );
        let body = g.switched(true);
        assert_eq!(body["enabled"], true);
        assert_eq!(body["version"], 4);
        assert_eq!(body["emergencyCallFlows"], g.body["emergencyCallFlows"]);
        assert_eq!(body["division"]["id"], "d1");
        assert!(Group::from_body(json!({"id": "../x", "version": 1})).is_none());
    }
}
