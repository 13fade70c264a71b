//! The core's tests in one binary, so the AWS SDK is linked once: properties, the models,
//! the guard against the in-memory store, and the checks of config and bounds. Run one
//! file's tests by its module: `cargo test -p failsoft --test failsoft_tests campaign_model::`.

mod bounded_item;
mod campaign_model;
mod config_documented;
mod data_action_contract;
mod guard;
mod injection;
mod machine_cases;
mod machine_props;
mod overflow_model;
mod protocol_model;
mod readme_layout;
mod transition_actions;
