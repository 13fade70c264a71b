//! Failsoft: the domain, ports and adapters shared by the Lambda functions.

pub mod alert;
pub mod aws;
pub mod breaker;
pub mod clock;
pub mod config;
pub mod crm;
pub mod dynamo_expr;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod probe;
pub mod queues;
pub mod secrets;
pub mod service;
pub mod status;
pub mod table;
pub mod token;
