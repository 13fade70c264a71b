//! Genesys Cloud Platform API: the operations Failsoft calls, from the platform SDK's
//! docs and models (`MyPureCloud/platform-client-sdk-python`, `build/docs/<Api>.md` for
//! paths, parameters and "Requires ANY/ALL permissions", `build/docs/<Model>.md` and
//! the models' `allowed_values` for fields and enums), the OAuth client-credentials
//! guide, and Genesys's Terraform provider where it records behaviour the SDK does not
//! (`genesyscloud/util/util_retries.go`: a stale version may be a 400).
//!
//! Entities Failsoft reads whole and PUTs back (campaigns, emergency groups) are open
//! shapes: the fields listed are checked, the rest is carried untouched.

use super::shape::{opt, req, Shape, Ty};
use super::{Answer, Body, Operation, Param, Perms};

/// The permissions of the main OAuth client (`GENESYS_SECRET_ID`), exactly as the
/// README's "Permissions" section lists them. The fake grants a client these and no
/// more, so a call the README does not account for is refused with 403.
pub const MAIN_CLIENT: &[&str] = &[
    "analytics:queueObservation:view",
    "outbound:campaign:view",
    "outbound:campaign:edit",
    "outbound:messagingCampaign:view",
    "outbound:messagingCampaign:edit",
    "routing:emergencyGroup:view",
    "routing:emergencyGroup:edit",
];

/// The backup region's read-only client (`BACKUP_GENESYS_SECRET_ID`), as the README
/// lists it.
pub const BACKUP_CLIENT: &[&str] = &["architect:flow:view", "routing:callRoute:view"];

const STR: Ty = Ty::Str;
const INT: Ty = Ty::Int;

static REF: Shape = Shape {
    name: "DomainEntityRef",
    fields: &[opt("id", STR), opt("name", STR), opt("selfUri", STR)],
    open: false,
};

/// `ErrorBody`: what every error answer carries.
static ERROR: Shape = Shape {
    name: "ErrorBody",
    fields: &[
        opt("message", STR),
        opt("code", STR),
        opt("status", INT),
        opt("entityId", STR),
        opt("entityName", STR),
        opt("messageWithParams", STR),
        opt("messageParams", Ty::Map),
        opt("contextId", STR),
        opt("details", Ty::Any),
        opt("errors", Ty::Any),
        opt("limit", Ty::Any),
    ],
    open: false,
};

/// The answers every Platform API call may give besides its success.
const fn e(status: u16, meaning: &'static str) -> Answer {
    Answer {
        status,
        body: Some(Ty::Obj(&ERROR)),
        meaning,
    }
}

const fn errors_and(success: Answer) -> [Answer; 8] {
    [
        success,
        e(
            400,
            "the request is wrong (or a stale version: see util_retries.go)",
        ),
        e(401, "no valid token"),
        e(403, "the client lacks the permission"),
        e(404, "no such entity"),
        e(429, "rate limited; Retry-After in seconds"),
        e(500, "Genesys failed"),
        e(503, "Genesys unavailable"),
    ]
}

const fn ok(body: &'static Shape) -> Answer {
    Answer {
        status: 200,
        body: Some(Ty::Obj(body)),
        meaning: "done",
    }
}

/// A paged listing of `entities` (`<Entity>EntityListing`, `<Entity>Listing`).
macro_rules! listing {
    ($name:literal, $entity:expr) => {
        Shape {
            name: $name,
            fields: &[
                opt("entities", Ty::Arr(&Ty::Obj($entity))),
                opt("pageSize", INT),
                opt("pageNumber", INT),
                opt("total", INT),
                opt("totalNumberOfEntities", INT),
                opt("firstUri", STR),
                opt("nextUri", STR),
                opt("previousUri", STR),
                opt("lastUri", STR),
                opt("selfUri", STR),
                opt("pageCount", INT),
            ],
            open: false,
        }
    };
}

pub const CAMPAIGN_STATUS: &[&str] = &[
    "on",
    "stopping",
    "off",
    "complete",
    "invalid",
    "forced_off",
    "forced_stopping",
];

/// `Campaign` (SDK model; `campaignStatus` and `dialingMode` from `allowed_values`).
static CAMPAIGN: Shape = Shape {
    name: "Campaign",
    fields: &[
        opt("id", STR),
        req("name", STR),
        opt("version", INT),
        opt("dateCreated", Ty::DateTime),
        opt("dateModified", Ty::DateTime),
        opt("campaignStatus", Ty::Enum(CAMPAIGN_STATUS)),
        opt(
            "dialingMode",
            Ty::Enum(&[
                "agentless",
                "preview",
                "power",
                "predictive",
                "progressive",
                "external",
            ]),
        ),
        opt("division", Ty::Obj(&REF)),
        opt("contactList", Ty::Obj(&REF)),
        opt("queue", Ty::Obj(&REF)),
        opt("maxCallsPerAgent", INT),
        opt("maxCallsPerAgentDecimal", Ty::Num),
        opt("selfUri", STR),
    ],
    open: true,
};

/// `MessagingCampaign`.
static MESSAGING_CAMPAIGN: Shape = Shape {
    name: "MessagingCampaign",
    fields: &[
        opt("id", STR),
        req("name", STR),
        opt("version", INT),
        opt("dateCreated", Ty::DateTime),
        opt("dateModified", Ty::DateTime),
        opt("campaignStatus", Ty::Enum(CAMPAIGN_STATUS)),
        opt("division", Ty::Obj(&REF)),
        opt("contactList", Ty::Obj(&REF)),
        opt("messagesPerMinute", INT),
        opt("selfUri", STR),
    ],
    open: true,
};

static CAMPAIGNS: Shape = listing!("CampaignEntityListing", &CAMPAIGN);
static MESSAGING_CAMPAIGNS: Shape = listing!("MessagingCampaignEntityListing", &MESSAGING_CAMPAIGN);

static CALL_FLOW: Shape = Shape {
    name: "EmergencyCallFlow",
    fields: &[
        opt("emergencyFlow", Ty::Obj(&REF)),
        opt("ivrs", Ty::Arr(&Ty::Obj(&REF))),
    ],
    open: false,
};

const STATE: Ty = Ty::Enum(&["active", "inactive", "deleted"]);

/// `EmergencyGroup`.
static EMERGENCY_GROUP: Shape = Shape {
    name: "EmergencyGroup",
    fields: &[
        opt("id", STR),
        req("name", STR),
        opt("division", Ty::Obj(&REF)),
        opt("description", STR),
        opt("version", INT),
        opt("dateCreated", Ty::DateTime),
        opt("dateModified", Ty::DateTime),
        opt("state", STATE),
        opt("enabled", Ty::Bool),
        opt("emergencyCallFlows", Ty::Arr(&Ty::Obj(&CALL_FLOW))),
        opt("selfUri", STR),
    ],
    open: true,
};

static EMERGENCY_GROUPS: Shape = listing!("EmergencyGroupListing", &EMERGENCY_GROUP);

static FLOW_VERSION: Shape = Shape {
    name: "FlowVersion",
    fields: &[opt("id", STR), opt("name", STR)],
    open: true,
};

/// `Flow` (`type` from `allowed_values`).
static FLOW: Shape = Shape {
    name: "Flow",
    fields: &[
        opt("id", STR),
        req("name", STR),
        opt(
            "type",
            Ty::Enum(&[
                "BOT",
                "COMMONMODULE",
                "DIGITALBOT",
                "EMAILSEND",
                "INBOUNDCALL",
                "INBOUNDCHAT",
                "INBOUNDEMAIL",
                "INBOUNDSHORTMESSAGE",
                "INQUEUECALL",
                "INQUEUEEMAIL",
                "INQUEUESHORTMESSAGE",
                "OUTBOUNDCALL",
                "SECURECALL",
                "SPEECH",
                "SURVEYINVITE",
                "VOICE",
                "VOICEMAIL",
                "VOICESURVEY",
                "WORKFLOW",
                "WORKITEM",
            ]),
        ),
        opt("deleted", Ty::Bool),
        opt("active", Ty::Bool),
        opt("publishedVersion", Ty::Obj(&FLOW_VERSION)),
        opt("savedVersion", Ty::Obj(&FLOW_VERSION)),
        opt("selfUri", STR),
    ],
    open: true,
};

static FLOWS: Shape = listing!("FlowEntityListing", &FLOW);

/// `IVR` (an IVR configuration, or call route: the numbers it answers in `dnis`).
static IVR: Shape = Shape {
    name: "IVR",
    fields: &[
        opt("id", STR),
        req("name", STR),
        opt("version", INT),
        opt("state", STATE),
        opt("dnis", Ty::Arr(&STR)),
        opt("openHoursFlow", Ty::Obj(&REF)),
        opt("closedHoursFlow", Ty::Obj(&REF)),
        opt("holidayHoursFlow", Ty::Obj(&REF)),
        opt("scheduleGroup", Ty::Obj(&REF)),
        opt("selfUri", STR),
    ],
    open: true,
};

static IVRS: Shape = listing!("IVREntityListing", &IVR);

/// `DID`.
static DID: Shape = Shape {
    name: "DID",
    fields: &[
        opt("id", STR),
        opt("name", STR),
        opt("phoneNumber", STR),
        opt("owner", Ty::Obj(&REF)),
        opt("ownerType", STR),
        opt("selfUri", STR),
    ],
    open: true,
};

static DIDS: Shape = listing!("DIDEntityListing", &DID);

/// `ServerDate`.
static SERVER_DATE: Shape = Shape {
    name: "ServerDate",
    fields: &[opt("currentDate", Ty::DateTime)],
    open: false,
};

static PREDICATE: Shape = Shape {
    name: "QueueObservationQueryPredicate",
    fields: &[
        opt("type", Ty::Enum(&["dimension", "property", "metric"])),
        opt("dimension", Ty::Enum(&["mediaType", "queueId"])),
        opt("operator", Ty::Enum(&["matches", "exists", "notExists"])),
        opt("value", STR),
    ],
    open: false,
};

static OBSERVATION_FILTER: Shape = Shape {
    name: "QueueObservationQueryFilter",
    fields: &[
        req("type", Ty::Enum(&["and", "or"])),
        opt("predicates", Ty::Arr(&Ty::Obj(&PREDICATE))),
    ],
    open: false,
};

/// Queue observation metrics (Genesys developer docs, "Queue observation query"):
/// `o`-metrics; `oWaiting` and `oInteracting` count conversations, the `...Users`
/// metrics count users.
pub const OBSERVATION_METRICS: &[&str] = &[
    "oActiveUsers",
    "oAlerting",
    "oInteracting",
    "oLongestInteracting",
    "oLongestWaiting",
    "oMemberUsers",
    "oOffQueueUsers",
    "oOnQueueUsers",
    "oUserPresences",
    "oUserRoutingStatuses",
    "oWaiting",
];

/// `QueueObservationQuery`.
static OBSERVATION_QUERY: Shape = Shape {
    name: "QueueObservationQuery",
    fields: &[
        req("filter", Ty::Obj(&OBSERVATION_FILTER)),
        req("metrics", Ty::Arr(&Ty::Enum(OBSERVATION_METRICS))),
        opt("detailMetrics", Ty::Arr(&STR)),
    ],
    open: false,
};

static STATS: Shape = Shape {
    name: "StatisticalSummary",
    fields: &[
        opt("max", Ty::Num),
        opt("min", Ty::Num),
        opt("count", INT),
        opt("sum", Ty::Num),
        opt("current", Ty::Num),
        opt("ratio", Ty::Num),
    ],
    open: true,
};

/// `ObservationMetricData`; for `oOnQueueUsers` the qualifier is a routing status.
static METRIC_DATA: Shape = Shape {
    name: "ObservationMetricData",
    fields: &[
        opt("metric", Ty::Enum(OBSERVATION_METRICS)),
        opt("qualifier", STR),
        opt("stats", Ty::Obj(&STATS)),
        opt("truncated", Ty::Bool),
        opt("observations", Ty::Any),
    ],
    open: false,
};

static OBSERVATION_CONTAINER: Shape = Shape {
    name: "QueueObservationDataContainer",
    fields: &[
        opt("group", Ty::Map),
        opt("data", Ty::Arr(&Ty::Obj(&METRIC_DATA))),
    ],
    open: false,
};

/// `QueueObservationQueryResponse`.
static OBSERVATIONS: Shape = Shape {
    name: "QueueObservationQueryResponse",
    fields: &[
        opt("systemToOrganizationMappings", Ty::Map),
        opt("results", Ty::Arr(&Ty::Obj(&OBSERVATION_CONTAINER))),
    ],
    open: false,
};

/// The client-credentials grant's answer.
static TOKEN: Shape = Shape {
    name: "ClientCredentialsToken",
    fields: &[
        req("access_token", STR),
        req("token_type", STR),
        req("expires_in", INT),
        opt("error", STR),
    ],
    open: false,
};

static OAUTH_ERROR: Shape = Shape {
    name: "OAuthError",
    fields: &[
        opt("error", STR),
        opt("description", STR),
        opt("error_description", STR),
    ],
    open: false,
};

const fn p(name: &'static str, ty: Ty) -> Param {
    Param {
        name,
        ty,
        required: false,
    }
}

const PAGING: [Param; 2] = [p("pageSize", INT), p("pageNumber", INT)];

static CAMPAIGN_ANSWERS: [Answer; 8] = errors_and(ok(&CAMPAIGN));
static MESSAGING_ANSWERS: [Answer; 8] = errors_and(ok(&MESSAGING_CAMPAIGN));
static GROUP_ANSWERS: [Answer; 8] = errors_and(ok(&EMERGENCY_GROUP));
/// A PUT's answers: a GET's, and 409 for a stale version (which may also come as the
/// 400 "does not match the current version").
const fn put_answers(success: Answer) -> [Answer; 9] {
    let [a, b, c, d, e, f, g, h] = errors_and(success);
    let stale = Answer {
        status: 409,
        body: Some(Ty::Obj(&ERROR)),
        meaning: "the version is not the current one",
    };
    [a, b, c, d, e, f, g, h, stale]
}

static GROUP_PUT_ANSWERS: [Answer; 9] = put_answers(ok(&EMERGENCY_GROUP));
static CAMPAIGN_PUT_ANSWERS: [Answer; 9] = put_answers(ok(&CAMPAIGN));
static MESSAGING_PUT_ANSWERS: [Answer; 9] = put_answers(ok(&MESSAGING_CAMPAIGN));

/// Every Genesys operation Failsoft calls (and the DID list, which it no longer does:
/// kept so that a call to it is recognised, and refused without `telephony:plugin:all`).
pub static OPERATIONS: &[Operation] = &[
    Operation {
        name: "oauth client credentials",
        method: "POST",
        path: "/oauth/token",
        permissions: Perms::None,
        query: &[],
        request: Body::Form(&[p_req("grant_type", Ty::Enum(&["client_credentials"]))]),
        answers: &[
            ok_token(),
            Answer {
                status: 400,
                body: Some(Ty::Obj(&OAUTH_ERROR)),
                meaning: "invalid grant",
            },
            Answer {
                status: 401,
                body: Some(Ty::Obj(&OAUTH_ERROR)),
                meaning: "invalid client",
            },
            Answer {
                status: 429,
                body: None,
                meaning: "rate limited",
            },
            Answer {
                status: 503,
                body: None,
                meaning: "unavailable",
            },
        ],
        source: "developer.genesys.cloud/authorization/platform-auth/use-client-credentials",
    },
    Operation {
        name: "UtilitiesApi.get_date",
        method: "GET",
        path: "/api/v2/date",
        permissions: Perms::None,
        query: &[],
        request: Body::None,
        answers: &errors_and(ok(&SERVER_DATE)),
        source: "SDK build/docs/UtilitiesApi.md get_date; ServerDate.md",
    },
    Operation {
        name: "AnalyticsApi.post_analytics_queues_observations_query",
        method: "POST",
        path: "/api/v2/analytics/queues/observations/query",
        permissions: Perms::Any(&["analytics:queueObservation:view"]),
        query: &[],
        request: Body::Json(&OBSERVATION_QUERY),
        answers: &errors_and(ok(&OBSERVATIONS)),
        source: "SDK build/docs/AnalyticsApi.md; QueueObservationQuery.md, ObservationMetricData.md",
    },
    Operation {
        name: "OutboundApi.get_outbound_campaigns",
        method: "GET",
        path: "/api/v2/outbound/campaigns",
        permissions: Perms::Any(&["outbound:campaign:view"]),
        query: &[PAGING[0], PAGING[1], p("divisionId", STR), p("name", STR), p("id", STR)],
        request: Body::None,
        answers: &errors_and(ok(&CAMPAIGNS)),
        source: "SDK build/docs/OutboundApi.md get_outbound_campaigns; CampaignEntityListing.md",
    },
    Operation {
        name: "OutboundApi.get_outbound_campaign",
        method: "GET",
        path: "/api/v2/outbound/campaigns/{campaignId}",
        permissions: Perms::Any(&["outbound:campaign:view"]),
        query: &[],
        request: Body::None,
        answers: &CAMPAIGN_ANSWERS,
        source: "SDK build/docs/OutboundApi.md get_outbound_campaign; Campaign.md",
    },
    Operation {
        name: "OutboundApi.put_outbound_campaign",
        method: "PUT",
        path: "/api/v2/outbound/campaigns/{campaignId}",
        permissions: Perms::All(&["outbound:campaign:edit"]),
        query: &[p("useMaxCallsPerAgentDecimal", Ty::Bool)],
        request: Body::Json(&CAMPAIGN),
        answers: &CAMPAIGN_PUT_ANSWERS,
        source: "SDK build/docs/OutboundApi.md put_outbound_campaign (useMaxCallsPerAgentDecimal); Campaign.md; terraform-provider-genesyscloud util_retries.go",
    },
    Operation {
        name: "OutboundApi.get_outbound_messagingcampaigns",
        method: "GET",
        path: "/api/v2/outbound/messagingcampaigns",
        permissions: Perms::Any(&[
            "outbound:messagingCampaign:view",
            "outbound:emailCampaign:view",
            "outbound:whatsAppCampaign:view",
        ]),
        query: &[PAGING[0], PAGING[1], p("divisionId", STR), p("name", STR)],
        request: Body::None,
        answers: &errors_and(ok(&MESSAGING_CAMPAIGNS)),
        source: "SDK build/docs/OutboundApi.md get_outbound_messagingcampaigns",
    },
    Operation {
        name: "OutboundApi.get_outbound_messagingcampaign",
        method: "GET",
        path: "/api/v2/outbound/messagingcampaigns/{messagingCampaignId}",
        permissions: Perms::Any(&[
            "outbound:messagingCampaign:view",
            "outbound:emailCampaign:view",
            "outbound:whatsAppCampaign:view",
        ]),
        query: &[],
        request: Body::None,
        answers: &MESSAGING_ANSWERS,
        source: "SDK build/docs/OutboundApi.md get_outbound_messagingcampaign; MessagingCampaign.md",
    },
    Operation {
        name: "OutboundApi.put_outbound_messagingcampaign",
        method: "PUT",
        path: "/api/v2/outbound/messagingcampaigns/{messagingCampaignId}",
        permissions: Perms::Any(&[
            "outbound:messagingCampaign:edit",
            "outbound:emailCampaign:edit",
            "outbound:whatsAppCampaign:edit",
        ]),
        query: &[],
        request: Body::Json(&MESSAGING_CAMPAIGN),
        answers: &MESSAGING_PUT_ANSWERS,
        source: "SDK build/docs/OutboundApi.md put_outbound_messagingcampaign",
    },
    Operation {
        name: "ArchitectApi.get_architect_emergencygroups",
        method: "GET",
        path: "/api/v2/architect/emergencygroups",
        permissions: Perms::All(&["routing:emergencyGroup:view"]),
        query: &[PAGING[0], PAGING[1], p("name", STR)],
        request: Body::None,
        answers: &errors_and(ok(&EMERGENCY_GROUPS)),
        source: "SDK build/docs/ArchitectApi.md get_architect_emergencygroups; EmergencyGroupListing.md",
    },
    Operation {
        name: "ArchitectApi.get_architect_emergencygroup",
        method: "GET",
        path: "/api/v2/architect/emergencygroups/{emergencyGroupId}",
        permissions: Perms::All(&["routing:emergencyGroup:view"]),
        query: &[],
        request: Body::None,
        answers: &GROUP_ANSWERS,
        source: "SDK build/docs/ArchitectApi.md get_architect_emergencygroup; EmergencyGroup.md",
    },
    Operation {
        name: "ArchitectApi.put_architect_emergencygroup",
        method: "PUT",
        path: "/api/v2/architect/emergencygroups/{emergencyGroupId}",
        permissions: Perms::All(&["routing:emergencyGroup:edit"]),
        query: &[],
        request: Body::Json(&EMERGENCY_GROUP),
        answers: &GROUP_PUT_ANSWERS,
        source: "SDK build/docs/ArchitectApi.md put_architect_emergencygroup; terraform-provider-genesyscloud util_retries.go",
    },
    Operation {
        name: "ArchitectApi.get_flows",
        method: "GET",
        path: "/api/v2/flows",
        permissions: Perms::Any(&["architect:flow:view"]),
        query: &[
            PAGING[0],
            PAGING[1],
            p("name", STR),
            p(
                "type",
                Ty::Enum(&[
                    "bot",
                    "commonmodule",
                    "digitalbot",
                    "emailsend",
                    "inboundcall",
                    "inboundchat",
                    "inboundemail",
                    "inboundshortmessage",
                    "outboundcall",
                    "inqueuecall",
                    "inqueueemail",
                    "inqueueshortmessage",
                    "speech",
                    "securecall",
                    "surveyinvite",
                    "voice",
                    "voicemail",
                    "voicesurvey",
                    "workflow",
                    "workitem",
                ]),
            ),
        ],
        request: Body::None,
        answers: &errors_and(ok(&FLOWS)),
        source: "SDK build/docs/ArchitectApi.md get_flows; FlowEntityListing.md, Flow.md",
    },
    Operation {
        name: "ArchitectApi.get_architect_ivrs",
        method: "GET",
        path: "/api/v2/architect/ivrs",
        permissions: Perms::All(&["routing:callRoute:view"]),
        query: &[PAGING[0], PAGING[1], p("name", STR), p("dnis", STR)],
        request: Body::None,
        answers: &errors_and(ok(&IVRS)),
        source: "SDK build/docs/ArchitectApi.md get_architect_ivrs; IVR.md, IVREntityListing.md",
    },
    Operation {
        name: "TelephonyProvidersEdgeApi.get_telephony_providers_edges_dids",
        method: "GET",
        path: "/api/v2/telephony/providers/edges/dids",
        permissions: Perms::Any(&["telephony:plugin:all"]),
        query: &[PAGING[0], PAGING[1], p("phoneNumber", STR)],
        request: Body::None,
        answers: &errors_and(ok(&DIDS)),
        source: "SDK build/docs/TelephonyProvidersEdgeApi.md get_telephony_providers_edges_dids",
    },
];

const fn p_req(name: &'static str, ty: Ty) -> Param {
    Param {
        name,
        ty,
        required: true,
    }
}

const fn ok_token() -> Answer {
    Answer {
        status: 200,
        body: Some(Ty::Obj(&TOKEN)),
        meaning: "a token",
    }
}

/// `mediaType` of the after-call-work event (SDK model
/// `AcwDetailEventTopicAfterCallWorkEvent`, `allowed_values`).
pub const ACW_MEDIA_TYPES: &[&str] = &[
    "UNKNOWN",
    "VOICE",
    "CHAT",
    "EMAIL",
    "CALLBACK",
    "COBROWSE",
    "VIDEO",
    "SCREENSHARE",
    "MESSAGE",
];
/// `direction` of the same event.
pub const ACW_DIRECTIONS: &[&str] = &["UNKNOWN", "INBOUND", "OUTBOUND"];

/// The after-call-work event's body (`v2.detail.events.conversation.{id}.acw`), as
/// the EventBridge integration delivers it in `detail.eventBody`. `eventTime` is an
/// integer (epoch milliseconds).
pub static ACW_EVENT: Shape = Shape {
    name: "AcwDetailEventTopicAfterCallWorkEvent",
    fields: &[
        opt("eventTime", INT),
        opt("conversationId", STR),
        opt("participantId", STR),
        opt("sessionId", STR),
        opt("mediaType", Ty::Enum(ACW_MEDIA_TYPES)),
        opt("provider", STR),
        opt("direction", Ty::Enum(ACW_DIRECTIONS)),
        opt("ani", STR),
        opt("dnis", STR),
        opt("addressTo", STR),
        opt("addressFrom", STR),
        opt("callbackUserName", STR),
        opt("callbackNumbers", Ty::Arr(&STR)),
        opt("callbackScheduledTime", INT),
        opt("subject", STR),
        opt(
            "messageType",
            Ty::Enum(&[
                "UNKNOWN",
                "SMS",
                "TWITTER",
                "FACEBOOK",
                "LINE",
                "WHATSAPP",
                "WEBMESSAGING",
                "OPEN",
                "INSTAGRAM",
            ]),
        ),
        opt("userId", STR),
        opt("queueId", STR),
        opt("wrapupCode", STR),
        opt("wrapupNotes", STR),
        opt("wrapupDurationMs", INT),
        opt("conversationExternalContactIds", Ty::Arr(&STR)),
        opt("conversationExternalOrganizationIds", Ty::Arr(&STR)),
    ],
    open: false,
};
