//! Archy's YAML format for call flows: the parts the flows in `infra/genesys/flows/` use.
//! Archy itself cannot run here (it needs an org), so the flows are checked against this
//! record: the keys each element takes, the outputs each action has, the forms a value
//! takes. Sources, each named on its entry:
//! - Genesys's Terraform provider's example flows
//!   (`examples/resources/genesyscloud_flow/*.yaml`, `examples/resources/genesyscloud_architect_ivr/*.yaml`,
//!   MyPureCloud/terraform-provider-genesyscloud v1.84.1), which the provider's tests publish;
//! - Genesys's published blueprints: `GenesysCloudBlueprints/design-architect-flow-data-actions-for-resiliency`
//!   (`blueprint/src/CacheExampleFlow.yaml`: `callData`, `updateData`, `decision`,
//!   `transferToAcd`, task variables), `GenesysCloudBlueprints/dr-fallback-ivr`
//!   (`DR-Fallback-Ivr.yaml`: tasks, `playAudio`, `disconnect`), `GenesysCloudBlueprints/genesys-cloud-call-park`;
//! - Archy's action reference (developer.genesys.cloud/devapps/archy) for
//!   `setParticipantData` and `transferToNumber`, which no stored example shows: these two
//!   are marked `confirmed: false`, and `docs/reliability.md` says so.

/// A mapping's keys: those it must have and those it may have.
#[derive(Debug)]
pub struct Keys {
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

impl Keys {
    pub fn allows(&self, key: &str) -> bool {
        self.required.contains(&key) || self.optional.contains(&key)
    }
}

/// A flow type: the one top-level key of a flow file.
#[derive(Debug)]
pub struct FlowType {
    pub key: &'static str,
    /// The flow type Genesys's API lists it under (`GET /api/v2/flows?type=`).
    pub api_type: &'static str,
    pub keys: Keys,
    pub source: &'static str,
}

pub static FLOW_TYPES: &[FlowType] = &[FlowType {
    key: "inboundCall",
    api_type: "inboundcall",
    keys: Keys {
        required: &["name", "defaultLanguage", "startUpRef"],
        optional: &[
            "description",
            "division",
            "initialGreeting",
            "supportedLanguages",
            "settingsActionDefaults",
            "settingsErrorHandling",
            "settingsMenu",
            "settingsPrompts",
            "settingsSpeechRec",
            "menus",
            "tasks",
        ],
    },
    source: "the provider's examples/resources/genesyscloud_architect_ivr/openhours_flow.yaml; dr-fallback-ivr",
}];

/// A reusable task, the element of `tasks:` (`- task: …`).
pub const TASK: Keys = Keys {
    required: &["name", "refId", "actions"],
    optional: &["variables"],
};

/// Task variables (`variables: - stringVariable: …`) with the JSON Schema type a Data
/// Action output must have to be stored in one.
pub static VARIABLE_TYPES: &[(&str, &str)] = &[
    ("stringVariable", "string"),
    ("booleanVariable", "boolean"),
    ("integerVariable", "integer"),
];
pub const VARIABLE: Keys = Keys {
    required: &["name"],
    optional: &["initialValue"],
};

/// `updateData` statements (`statements: - string: {variable, value}`), by type.
pub static STATEMENT_TYPES: &[&str] = &["string", "boolean", "integer"];
pub const STATEMENT: Keys = Keys {
    required: &["variable", "value"],
    optional: &[],
};

/// The forms of a value: a literal, an expression or a variable; `noValue: true`.
pub static VALUE_FORMS: &[&str] = &["lit", "exp", "var", "noValue"];
/// The forms of audio (`initialGreeting`, `audio`, `preTransferAudio`, …).
pub static AUDIO_FORMS: &[&str] = &["tts", "exp", "prompt"];

/// An action of a task's `actions:` list, each item a one-key mapping.
#[derive(Debug)]
pub struct Action {
    pub name: &'static str,
    pub keys: Keys,
    /// The paths under `outputs:`, each `{actions: [...]}`.
    pub outputs: &'static [&'static str],
    pub confirmed: bool,
    pub source: &'static str,
}

pub static ACTIONS: &[Action] = &[
    Action {
        name: "callData",
        keys: Keys {
            required: &["category"],
            optional: &["name", "processingPrompt", "outputs"],
        },
        outputs: &["success", "failure", "timeout"],
        confirmed: true,
        source: "CacheExampleFlow.yaml (category → <category> → dataAction → <action name> → inputs, successOutputs); \
                 the three outputs: Genesys's Call Data Action help page",
    },
    Action {
        name: "updateData",
        keys: Keys {
            required: &["statements"],
            optional: &["name"],
        },
        outputs: &[],
        confirmed: true,
        source: "CacheExampleFlow.yaml",
    },
    Action {
        name: "decision",
        keys: Keys {
            required: &["condition"],
            optional: &["name", "outputs"],
        },
        outputs: &["yes", "no"],
        confirmed: true,
        source: "CacheExampleFlow.yaml",
    },
    Action {
        name: "playAudio",
        keys: Keys {
            required: &["audio"],
            optional: &["name"],
        },
        outputs: &[],
        confirmed: true,
        source: "dr-fallback-ivr DR-Fallback-Ivr.yaml; genesys-cloud-call-park",
    },
    Action {
        name: "transferToAcd",
        keys: Keys {
            required: &["targetQueue"],
            optional: &[
                "name",
                "preTransferAudio",
                "failureTransferAudio",
                "priority",
                "preferredAgents",
                "languageSkill",
                "failureOutputs",
                "outputs",
            ],
        },
        outputs: &["failure"],
        confirmed: true,
        source: "CacheExampleFlow.yaml; genesys-cloud-call-park (menuTransferToAcd's keys)",
    },
    Action {
        name: "disconnect",
        keys: Keys {
            required: &[],
            optional: &["name", "none"],
        },
        outputs: &[],
        confirmed: true,
        source: "dr-fallback-ivr DR-Fallback-Ivr.yaml; CacheExampleFlow.yaml",
    },
    Action {
        name: "setParticipantData",
        keys: Keys {
            required: &["attributes"],
            optional: &["name"],
        },
        outputs: &[],
        confirmed: false,
        source: "Archy's action reference: attributes: - attribute: {name, value}",
    },
    Action {
        name: "transferToNumber",
        keys: Keys {
            required: &["targetNumber"],
            optional: &[
                "name",
                "preTransferAudio",
                "failureTransferAudio",
                "failureOutputs",
                "outputs",
            ],
        },
        outputs: &["failure"],
        confirmed: false,
        source: "Archy's action reference",
    },
];

pub fn action(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// `callData`'s action, under `category: {<category>: {dataAction: {<name>: …}}}`.
pub const DATA_ACTION: Keys = Keys {
    required: &[],
    optional: &["inputs", "successOutputs", "failureOutputs"],
};

/// `setParticipantData`'s `attributes: - attribute: {name, value}`.
pub const ATTRIBUTE: Keys = Keys {
    required: &["name", "value"],
    optional: &[],
};
