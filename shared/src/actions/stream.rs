//! The state table's stream, as the outage-actions function receives it: which
//! breakers' outboxes changed, and the sequence numbers to report back as failed
//! (partial batch response) when their breaker could not be read.
//!
//! The event is read as JSON with the few fields used, rather than through a typed
//! stream model, because only the key, the two images' outbox attributes and the
//! sequence number matter here.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::breaker::parse_key;

#[derive(Debug, Default, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Deserialize)]
pub struct StreamRecord {
    #[serde(default)]
    pub dynamodb: Change,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Change {
    #[serde(default)]
    pub keys: Map<String, Value>,
    pub new_image: Option<Map<String, Value>>,
    pub old_image: Option<Map<String, Value>>,
    pub sequence_number: Option<String>,
}

/// The outbox entries of an image: the `alert_*` attributes.
fn outbox(image: &Option<Map<String, Value>>) -> Vec<(&String, &Value)> {
    image
        .iter()
        .flat_map(|m| m.iter())
        .filter(|(k, _)| k.starts_with("alert_"))
        .collect()
}

impl Change {
    /// The breaker this record is about, if it is a breaker's main item (its count
    /// item holds no actions, and changes with every failure counted).
    pub fn breaker(&self) -> Option<&str> {
        let pk = self.keys.get("pk")?.get("S")?.as_str()?;
        match parse_key(pk)? {
            (name, false) => Some(name),
            (_, true) => None,
        }
    }

    /// Whether the write changed what the breaker calls for. A failure counted or a
    /// health check noted leaves the outbox alone and needs no executor.
    pub fn actions_changed(&self) -> bool {
        let new = outbox(&self.new_image);
        !new.is_empty() && new != outbox(&self.old_image)
    }
}

impl StreamEvent {
    /// The breakers whose actions changed in this batch, each once, with the sequence
    /// numbers of their records (what a partial batch response names).
    pub fn changed(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut by_breaker: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for r in &self.records {
            let c = &r.dynamodb;
            if let (Some(b), true) = (c.breaker(), c.actions_changed()) {
                let seq = c.sequence_number.as_deref().unwrap_or_default();
                by_breaker.entry(b).or_default().push(seq);
            }
        }
        by_breaker
    }
}
