//! The Genesys side as code (`infra/genesys/`), checked though `terraform` and `archy`
//! cannot run here:
//! - `terraform`: a root module parsed with `hcl-rs`, checked against the provider's
//!   recorded schema (`contract::terraform`), every reference resolved, values evaluated;
//! - `archy`: a flow file with its substitutions filled, checked against the record of
//!   Archy's format (`contract::archy`).
//!
//! The tests that use them are in `tests/tests/cx_as_code.rs`.

pub mod archy;
pub mod terraform;

use std::collections::BTreeMap;
use std::path::PathBuf;

/// `infra/genesys/`.
pub fn genesys_dir() -> PathBuf {
    crate::workspace_root().join("infra/genesys")
}

/// Values for the variables that have no default, as an operator's tfvars would give
/// them from the stack's outputs: the primary org's module (`terraform/`) and the
/// backup org's (`terraform/backup/`).
pub fn example_vars() -> BTreeMap<String, hcl::Value> {
    [
        ("genesys_region", "us-east-1"),
        ("genesys_org_id", "7d2e5f3a-0000-4000-8000-00000000c0de"),
        (
            "crm_lookup_function_arn",
            "arn:aws:lambda:us-east-1:123456789012:function:failsoft-CrmLookupFunction-abc",
        ),
        (
            "genesys_invoke_role_arn",
            "arn:aws:iam::123456789012:role/failsoft-GenesysInvokeRole-abc",
        ),
        ("aws_account_id", "123456789012"),
        ("aws_region", "us-east-1"),
        ("queue_name", "Backup Support"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), hcl::Value::String(v.to_string())))
    .collect()
}
