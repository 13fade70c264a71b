//! Genesys Cloud's Terraform provider (CX as Code), `mypurecloud/genesyscloud` at the
//! version the module pins: the schema of the provider block and of every resource the
//! module in `infra/genesys/terraform/` uses. Taken from the provider's generated docs
//! (`docs/index.md` and `docs/resources/<name>.md`, the "Schema" section: Required,
//! Optional, Read-Only and the nested blocks) in `MyPureCloud/terraform-provider-genesyscloud`
//! at tag v1.84.1 (commit f955430e6bd4c0b56708d3abc06fb25a1e9031b7). Names, types and
//! block limits are the facts recorded; the descriptions are not copied.
//!
//! Facts the provider's schema does not hold, each with its source, are in `VALUES`:
//! the integration and credential type names the module sets.

/// The provider's registry address and pinned version.
pub const SOURCE: &str = "mypurecloud/genesyscloud";
pub const VERSION: &str = "1.84.1";

/// An argument's type, as the docs write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    String,
    Number,
    Bool,
    MapOfString,
    SetOfString,
    ListOfString,
}

/// Whether the configuration must, may or must not set an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    Required,
    Optional,
    /// Computed by the provider: it may be referenced, never set.
    ReadOnly,
}

#[derive(Debug)]
pub struct Arg {
    pub name: &'static str,
    pub ty: Ty,
    pub need: Need,
}

/// A nested block: "Block List, Max: 1", "Block Set", "Block Set, Min: 1".
#[derive(Debug)]
pub struct Block {
    pub name: &'static str,
    pub min: usize,
    pub max: Option<usize>,
    pub body: Schema,
}

#[derive(Debug)]
pub struct Schema {
    pub args: &'static [Arg],
    pub blocks: &'static [Block],
}

impl Schema {
    pub fn arg(&self, name: &str) -> Option<&Arg> {
        self.args.iter().find(|a| a.name == name)
    }
    pub fn block(&self, name: &str) -> Option<&Block> {
        self.blocks.iter().find(|b| b.name == name)
    }
}

/// A resource type of the provider, with the doc page it was taken from.
#[derive(Debug)]
pub struct Resource {
    pub name: &'static str,
    pub doc: &'static str,
    pub schema: Schema,
}

const fn req(name: &'static str, ty: Ty) -> Arg {
    Arg {
        name,
        ty,
        need: Need::Required,
    }
}
const fn opt(name: &'static str, ty: Ty) -> Arg {
    Arg {
        name,
        ty,
        need: Need::Optional,
    }
}
const fn out(name: &'static str, ty: Ty) -> Arg {
    Arg {
        name,
        ty,
        need: Need::ReadOnly,
    }
}
const ID: Arg = out("id", Ty::String);
const NO_BLOCKS: &[Block] = &[];

/// The provider block (`docs/index.md`). Its blocks (`gateway`, `proxy`) are not used
/// and not recorded, so using one fails the check until it is.
pub const PROVIDER: Schema = Schema {
    args: &[
        opt("access_token", Ty::String),
        opt("aws_region", Ty::String),
        opt("custom_retry_timeout", Ty::String),
        opt("log_stack_traces", Ty::Bool),
        opt("log_stack_traces_file_path", Ty::String),
        opt("max_concurrent_pages", Ty::Number),
        opt("oauthclient_id", Ty::String),
        opt("oauthclient_secret", Ty::String),
        opt("sdk_client_pool_debug", Ty::Bool),
        opt("sdk_debug", Ty::Bool),
        opt("sdk_debug_file_path", Ty::String),
        opt("sdk_debug_format", Ty::String),
        opt("token_acquire_timeout", Ty::String),
        opt("token_init_timeout", Ty::String),
        opt("token_pool_size", Ty::Number),
    ],
    blocks: NO_BLOCKS,
};

pub static RESOURCES: &[Resource] = &[
    Resource {
        name: "genesyscloud_integration",
        doc: "docs/resources/integration.md",
        schema: Schema {
            args: &[
                req("integration_type", Ty::String),
                opt("intended_state", Ty::String),
                ID,
            ],
            blocks: &[Block {
                name: "config",
                min: 0,
                max: Some(1),
                body: Schema {
                    args: &[
                        opt("advanced", Ty::String),
                        opt("credentials", Ty::MapOfString),
                        opt("name", Ty::String),
                        opt("notes", Ty::String),
                        opt("properties", Ty::String),
                    ],
                    blocks: NO_BLOCKS,
                },
            }],
        },
    },
    Resource {
        name: "genesyscloud_integration_credential",
        doc: "docs/resources/integration_credential.md",
        schema: Schema {
            args: &[
                req("credential_type_name", Ty::String),
                opt("fields", Ty::MapOfString),
                opt("name", Ty::String),
                ID,
            ],
            blocks: NO_BLOCKS,
        },
    },
    Resource {
        name: "genesyscloud_integration_action",
        doc: "docs/resources/integration_action.md",
        schema: Schema {
            args: &[
                req("category", Ty::String),
                req("contract_input", Ty::String),
                req("contract_output", Ty::String),
                req("integration_id", Ty::String),
                req("name", Ty::String),
                opt("config_timeout_seconds", Ty::Number),
                opt("secure", Ty::Bool),
                ID,
            ],
            blocks: &[
                Block {
                    name: "config_request",
                    min: 0,
                    max: Some(1),
                    body: Schema {
                        args: &[
                            req("request_type", Ty::String),
                            opt("headers", Ty::MapOfString),
                            opt("request_template", Ty::String),
                            opt("request_url_template", Ty::String),
                        ],
                        blocks: NO_BLOCKS,
                    },
                },
                Block {
                    name: "config_response",
                    min: 0,
                    max: Some(1),
                    body: Schema {
                        args: &[
                            opt("success_template", Ty::String),
                            opt("translation_map", Ty::MapOfString),
                            opt("translation_map_defaults", Ty::MapOfString),
                        ],
                        blocks: NO_BLOCKS,
                    },
                },
                Block {
                    name: "function_config",
                    min: 0,
                    max: Some(1),
                    body: Schema {
                        args: &[
                            req("file_path", Ty::String),
                            opt("description", Ty::String),
                            opt("handler", Ty::String),
                            opt("runtime", Ty::String),
                            opt("timeout_seconds", Ty::Number),
                            opt("zip_id", Ty::String),
                        ],
                        blocks: NO_BLOCKS,
                    },
                },
            ],
        },
    },
    Resource {
        name: "genesyscloud_oauth_client",
        doc: "docs/resources/oauth_client.md",
        schema: Schema {
            args: &[
                req("authorized_grant_type", Ty::String),
                req("name", Ty::String),
                opt("access_token_validity_seconds", Ty::Number),
                opt("client_secret", Ty::String),
                opt("description", Ty::String),
                opt("directory_client_secret", Ty::String),
                opt("expose_client_secret", Ty::Bool),
                opt("integration_credential_name", Ty::String),
                opt("registered_redirect_uris", Ty::SetOfString),
                opt("scopes", Ty::SetOfString),
                opt("state", Ty::String),
                out("client_id", Ty::String),
                ID,
                out("integration_credential_id", Ty::String),
            ],
            blocks: &[Block {
                name: "roles",
                min: 0,
                max: None,
                body: Schema {
                    args: &[req("role_id", Ty::String), opt("division_id", Ty::String)],
                    blocks: NO_BLOCKS,
                },
            }],
        },
    },
    Resource {
        name: "genesyscloud_auth_role",
        doc: "docs/resources/auth_role.md",
        schema: Schema {
            args: &[
                req("name", Ty::String),
                opt("default_role_id", Ty::String),
                opt("description", Ty::String),
                opt("permissions", Ty::SetOfString),
                ID,
            ],
            blocks: &[Block {
                name: "permission_policies",
                min: 0,
                max: None,
                body: Schema {
                    args: &[
                        req("action_set", Ty::SetOfString),
                        req("domain", Ty::String),
                        req("entity_name", Ty::String),
                    ],
                    // `conditions` is not used and not recorded.
                    blocks: NO_BLOCKS,
                },
            }],
        },
    },
    Resource {
        name: "genesyscloud_architect_emergencygroup",
        doc: "docs/resources/architect_emergencygroup.md",
        schema: Schema {
            args: &[
                req("name", Ty::String),
                opt("description", Ty::String),
                opt("division_id", Ty::String),
                opt("enabled", Ty::Bool),
                ID,
            ],
            blocks: &[Block {
                name: "emergency_call_flows",
                min: 0,
                max: None,
                body: Schema {
                    args: &[
                        req("emergency_flow_id", Ty::String),
                        req("ivr_ids", Ty::SetOfString),
                    ],
                    blocks: NO_BLOCKS,
                },
            }],
        },
    },
    Resource {
        name: "genesyscloud_flow",
        doc: "docs/resources/flow.md",
        schema: Schema {
            args: &[
                req("filepath", Ty::String),
                opt("force_unlock", Ty::Bool),
                opt("name", Ty::String),
                opt("substitutions", Ty::MapOfString),
                opt("type", Ty::String),
                opt("update_trigger_hash", Ty::String),
                out("file_content_hash", Ty::String),
                ID,
            ],
            blocks: NO_BLOCKS,
        },
    },
    Resource {
        name: "genesyscloud_architect_ivr",
        doc: "docs/resources/architect_ivr.md",
        schema: Schema {
            args: &[
                req("name", Ty::String),
                opt("closed_hours_flow_id", Ty::String),
                opt("description", Ty::String),
                opt("division_id", Ty::String),
                opt("dnis", Ty::SetOfString),
                opt("holiday_hours_flow_id", Ty::String),
                opt("open_hours_flow_id", Ty::String),
                opt("schedule_group_id", Ty::String),
                ID,
            ],
            blocks: NO_BLOCKS,
        },
    },
];

pub fn resource(name: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.name == name)
}

/// A value the provider passes to Genesys unchecked, with where it is defined.
#[derive(Debug)]
pub struct Value {
    pub resource: &'static str,
    pub argument: &'static str,
    pub allowed: &'static [&'static str],
    pub source: &'static str,
}

/// The type names the module sets, which Genesys, not the provider, defines.
pub static VALUES: &[Value] = &[
    Value {
        resource: "genesyscloud_integration",
        argument: "integration_type",
        allowed: &["aws-lambda-data-actions", "amazon-eventbridge-source"],
        source: "Genesys's Data Action export (integrationType); GenesysCloudDevOps/integration-lambda-module \
                 integrations.tf and GenesysCloudDevOps/aws-event-bridge-module main.tf",
    },
    Value {
        resource: "genesyscloud_integration",
        argument: "intended_state",
        allowed: &["ENABLED", "DISABLED"],
        source: "docs/resources/integration.md",
    },
    Value {
        resource: "genesyscloud_integration_credential",
        argument: "credential_type_name",
        allowed: &["amazonWebServicesARN"],
        source: "GenesysCloudDevOps/integration-lambda-module integrations.tf (field ARN; the integration's \
                 credentials key AmazonWebServicesARN)",
    },
    Value {
        resource: "genesyscloud_oauth_client",
        argument: "authorized_grant_type",
        allowed: &["CODE", "TOKEN", "SAML2-BEARER", "PASSWORD", "CLIENT-CREDENTIALS"],
        source: "docs/resources/oauth_client.md",
    },
];

/// Terraform's own meta-arguments and meta-blocks, allowed in every resource block
/// (Terraform's language docs, "Meta-Arguments").
pub const META_ARGS: &[&str] = &["count", "for_each", "depends_on", "provider"];
pub const LIFECYCLE_ARGS: &[&str] = &[
    "create_before_destroy",
    "prevent_destroy",
    "ignore_changes",
    "replace_triggered_by",
];
pub const LIFECYCLE_BLOCKS: &[&str] = &["precondition", "postcondition"];
