//! The port every breaker store implements.

use async_trait::async_trait;

use super::op::Op;
use super::record::Record;
use crate::store::StoreError;

/// The result of a conditional write that reached the store.
#[derive(Clone, Debug, PartialEq)]
pub enum Applied {
    /// The condition held; the record as written.
    Won(Record),
    /// The condition failed; the record that made it fail, as the store holds it.
    Lost(Record),
}

impl Applied {
    pub fn record(&self) -> &Record {
        match self {
            Applied::Won(r) | Applied::Lost(r) => r,
        }
    }
}

#[async_trait]
pub trait BreakerStore: Send + Sync {
    /// A strongly consistent read; a breaker never written reads as `Record::new`.
    async fn load(&self, name: &str) -> Result<Record, StoreError>;
    /// Apply one conditional write atomically.
    async fn apply(&self, name: &str, op: &Op) -> Result<Applied, StoreError>;
    /// Every breaker the store holds, by name.
    async fn list(&self) -> Result<Vec<Record>, StoreError>;
}
