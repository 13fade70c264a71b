//! The vendors' fakes: real local HTTP servers that answer as each vendor's published
//! definition says (checked against the record in `contract`), with fault injection.
//!
//! - `http`: the server underneath, and its faults (hang, slow, any status, garbage,
//!   reset);
//! - `salesforce`, `genesys`, `pagerduty`: the vendors;
//! - `aws`: a fault front before moto, for our own infrastructure's faults.

pub mod aws;
pub mod genesys;
pub mod http;
pub mod pagerduty;
pub mod salesforce;
