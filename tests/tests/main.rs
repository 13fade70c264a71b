//! The integration tests in one binary, so the AWS SDK is linked once instead of once per
//! file: moto, the vendor fakes, the emulator and the browser. Run one file's tests by
//! its module: `cargo test -p failsoft-testkit --test integration outage_actions::`.

mod backup_region;
mod board_browser;
mod breaker_dynamo;
mod breaker_processes;
mod conformance;
mod crm_lookup_e2e;
mod crm_writeback;
mod cx_as_code;
mod fault_matrix;
mod health_probe;
mod lambda_e2e;
mod last_known;
mod outage_actions;
mod overflow;
mod overflow_actions;
mod queue_metrics;
mod template;
mod token_cache;
mod writeback;
