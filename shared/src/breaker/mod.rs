//! The distributed circuit breaker: a pure machine, its conditional writes, the store
//! port with its adapters, and the per-instance guard.

pub mod dynamo;
pub mod guard;
pub mod machine;
pub mod memory;
pub mod op;
pub mod outbox;
pub mod policy;
pub mod store;

pub use dynamo::DynamoBreakerStore;
pub use guard::{Admission, Breaker, GuardSettings, Guarded};
pub use machine::{
    step, CallResult, Decision, Event, Record, Rejection, State, Step, Ticket, Transition,
};
pub use memory::MemoryStore;
pub use op::{Expect, Op};
pub use outbox::{Action, Alert};
pub use policy::{Backoff, Millis, Policy, TripPolicy};
pub use store::{Applied, BreakerStore, StoreError};
