//! The distributed circuit breaker, knowing nothing of contact centres.
//!
//! Layers, bottom up (each imports only those below it):
//! - `effect`: the names of the effects a user registers, and their pairs (do on a
//!   trip, undo after recovery); the breaker schedules them and knows no more;
//! - `policy`: trip and recovery numbers, the registered effects, and `BreakerConfig`
//!   from the environment;
//! - `record`: the data (states, record, trial leases, outbox entries, transitions);
//! - `outbox`: the alerts a transition owes; `op`: the conditional writes and their
//!   reference semantics (`Op::apply`); `machine`: the pure `step`;
//! - `store`: the port; `dynamo` and `memory`: its adapters;
//! - `guard`: the per-instance handle, `Breaker::call → Result<T, CallError<E>>`.

mod dynamo;
pub mod effect;
mod guard;
pub mod machine;
#[cfg(any(test, feature = "testkit"))]
mod memory;
pub mod op;
pub mod outbox;
mod policy;
mod record;
mod store;

pub use dynamo::{
    count_key, from_items, item_size, key, parse_key, to_items, DynamoBreakerStore, Item, Items,
    COUNT_SUFFIX, PREFIX,
};
pub use effect::{Name, PairedEffect};
pub use guard::{Admission, Breaker, CallError, Classify, Verdict};
pub use machine::{step, CallResult, Decision, Event, Rejection, Step, Ticket, TrialTicket};
#[cfg(any(test, feature = "testkit"))]
pub use memory::MemoryStore;
pub use op::{Expect, Op, Tally};
pub use policy::{
    breaker_list, breaker_var, Backoff, BreakerConfig, Defaults, GuardSettings, Policy, TripPolicy,
};
pub use record::{clip, Action, Counts, Lease, OutboxEntry, Record, State, Transition};
pub use store::{Applied, BreakerStore};
