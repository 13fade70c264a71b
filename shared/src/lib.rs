//! Failsoft: the domain, ports and adapters shared by the Lambda functions.
//!
//! Modules import downward only (`docs/architecture.md` has the map and the check):
//! - [`board`]: the status board, above everything it shows;
//! - what each function does, in the guide's words: [`crm`], [`token`], [`queues`],
//!   [`health_check`], [`alert`] (pages), [`actions`] (the outage actions), [`campaign`]
//!   (the campaign pause), [`overflow`] (the regional overflow) and [`writeback`];
//! - one home per external API's client: [`genesys`] (the paced Genesys client), the CRM's
//!   in [`crm`], PagerDuty's in [`alert`];
//! - [`service`]: the clients a function builds once; [`dependency`]: the registry of
//!   what is protected, with each one's breaker defaults, health check, runbook and
//!   page text;
//! - [`breaker`]: the generic distributed circuit breaker;
//! - at the bottom: [`config`] (the only reader of the environment), [`store`] (the
//!   neutral state-table error and DynamoDB helpers), [`clock`], [`http`], [`secrets`],
//!   [`metrics`], [`logging`], [`aws`], [`lambda`] (the invocation's deadline).
//!
//! Features: `testkit` adds the test doubles (`MemoryStore`, `ManualClock`); `table`
//! adds the state table's definition read from the SAM template, for the operator CLI
//! and the tests. Neither is in a Lambda's build.

pub mod actions;
pub mod alert;
pub mod aws;
pub mod board;
pub mod breaker;
pub mod campaign;
pub mod clock;
pub mod config;
pub mod crm;
pub mod dependency;
pub mod genesys;
pub mod health_check;
pub mod http;
pub mod lambda;
pub mod logging;
pub mod metrics;
pub mod overflow;
pub mod queues;
pub mod secrets;
pub mod service;
pub mod store;
#[cfg(feature = "table")]
pub mod table;
pub mod token;
pub mod writeback;
