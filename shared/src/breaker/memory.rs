//! An in-memory store with the reference semantics of each write. For unit tests, the
//! property tests and as the model the DynamoDB adapter is compared against.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;

use super::op::Op;
use super::record::Record;
use super::store::{Applied, BreakerStore};
use crate::store::StoreError;

#[derive(Default)]
pub struct MemoryStore {
    records: Mutex<BTreeMap<String, Record>>,
    failing: Mutex<Option<StoreError>>,
    pub reads: AtomicU64,
    pub writes: AtomicU64,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Make every following request fail with `err` (None: work again).
    pub fn set_failing(&self, err: Option<StoreError>) {
        if let Ok(mut f) = self.failing.lock() {
            *f = err;
        }
    }

    pub fn get(&self, name: &str) -> Record {
        self.records
            .lock()
            .ok()
            .and_then(|m| m.get(name).cloned())
            .unwrap_or_else(|| Record::new(name))
    }

    /// Apply synchronously: the same semantics as `apply`, for pure tests.
    pub fn apply_now(&self, name: &str, op: &Op) -> Result<Applied, StoreError> {
        self.check()?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut map = self
            .records
            .lock()
            .map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let current = map.get(name).cloned().unwrap_or_else(|| Record::new(name));
        Ok(match op.apply(&current) {
            Some(next) => {
                map.insert(name.to_string(), next.clone());
                Applied::Won(next)
            }
            None => Applied::Lost(current),
        })
    }

    fn check(&self) -> Result<(), StoreError> {
        match self.failing.lock() {
            Ok(f) => f.clone().map_or(Ok(()), Err),
            Err(_) => Err(StoreError::Unavailable("poisoned".into())),
        }
    }
}

#[async_trait]
impl BreakerStore for MemoryStore {
    async fn load(&self, name: &str) -> Result<Record, StoreError> {
        self.check()?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self.get(name))
    }

    async fn apply(&self, name: &str, op: &Op) -> Result<Applied, StoreError> {
        self.apply_now(name, op)
    }

    async fn list(&self) -> Result<Vec<Record>, StoreError> {
        self.check()?;
        let map = self
            .records
            .lock()
            .map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        Ok(map.values().cloned().collect())
    }
}
