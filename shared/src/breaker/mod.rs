//! The distributed circuit breaker, knowing nothing of contact centres.
//!
//! Layers, bottom up (each imports only those below it):
//! - `record`: the data (states, record, trial leases, outbox entries, transitions);
//! - `policy`: trip and recovery numbers, and `BreakerConfig` from the environment;
//! - `outbox`: the alerts a transition owes; `op`: the conditional writes and their
//!   reference semantics (`Op::apply`); `machine`: the pure `step`;
//! - `store`: the port; `dynamo` and `memory`: its adapters;
//! - `guard`: the per-instance handle, `Breaker::call → Result<T, CallError<E>>`.

mod dynamo;
mod guard;
pub mod machine;
#[cfg(any(test, feature = "testkit"))]
mod memory;
pub mod op;
pub mod outbox;
mod policy;
mod record;
mod store;

pub use dynamo::{from_item, item_size, key, to_item, DynamoBreakerStore, PREFIX};
pub use guard::{Admission, Breaker, CallError, Classify, Verdict};
pub use machine::{step, CallResult, Decision, Event, Rejection, Step, Ticket, TrialTicket};
#[cfg(any(test, feature = "testkit"))]
pub use memory::MemoryStore;
pub use op::{Expect, Op, Tally};
pub use policy::{
    breaker_list, breaker_var, campaign_pause_on, overflow_auto_on, Backoff, BreakerConfig,
    Defaults, GuardSettings, Policy, TripPolicy,
};
pub use record::{clip, Action, Alert, Counts, Lease, Record, State, Transition};
pub use store::{Applied, BreakerStore};
