//! `failsoft-sim`: a fleet of breaker instances on a simulated clock, to see what the
//! design does at the scale of the largest contact centers before they do.
//!
//! It is not a re-model: every instance is the real `failsoft::breaker::Breaker` (its
//! cache, staleness bound, store timeout and local view), stepping the real
//! `machine::step`, against a table that applies the real `Op::apply`. What is modelled
//! is what surrounds them:
//! - `clock`: tokio's paused clock as the wall clock, so a run of minutes takes seconds
//!   and is the same for a seed;
//! - `capacity`: DynamoDB's units and per-partition limits;
//! - `store`: the table (latencies, serialised writes, throttles, the SDK's retries);
//! - `traffic`: calls arriving, and the dependency failing;
//! - `fleet`: the instances, Lambda's routing, and the [`Report`];
//! - `writeback`: a large center's write-back through a long CRM outage;
//! - `cost`: the monthly AWS bill at a center's volume;
//! - `tables`: the runs behind `docs/performance.md`'s tables.

pub mod capacity;
pub mod clock;
pub mod cost;
pub mod fleet;
pub mod store;
pub mod tables;
pub mod traffic;
pub mod writeback;

pub use fleet::{run, Report, Scenario, Traffic};
pub use store::{Latency, StoreModel};
pub use traffic::{Arrivals, Failure, Outage};
