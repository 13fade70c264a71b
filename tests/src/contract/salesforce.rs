//! Salesforce REST API: the operations Failsoft calls, from the REST API Developer
//! Guide ("OAuth 2.0 Client Credentials Flow", "Versions", "Search", "Upsert Records
//! Using sObject Rows by External ID", "Upsert Records Using sObject Collections",
//! "Composite Batch", "Send Multiple Requests Using Composite", "Describe an Object",
//! "Status Codes and Error Responses") and the Object Reference for Task.

use super::shape::{opt, req, Shape, Ty};
use super::{Answer, Body, Operation, Param, Perms};

const STR: Ty = Ty::Str;

/// An error answer: a list of `{message, errorCode, fields}`.
static ERROR: Shape = Shape {
    name: "Error",
    fields: &[
        opt("message", STR),
        req("errorCode", STR),
        opt("fields", Ty::Arr(&STR)),
    ],
    open: false,
};

/// The client-credentials answer: no `expires_in`, no refresh token.
static TOKEN: Shape = Shape {
    name: "TokenResponse",
    fields: &[
        req("access_token", STR),
        req("instance_url", STR),
        opt("id", STR),
        opt("token_type", Ty::Enum(&["Bearer"])),
        opt("issued_at", STR),
        opt("signature", STR),
        opt("scope", STR),
        opt("api_instance_url", STR),
    ],
    open: false,
};
static OAUTH_ERROR: Shape = Shape {
    name: "OAuthError",
    fields: &[opt("error", STR), opt("error_description", STR)],
    open: false,
};

static ATTRIBUTES: Shape = Shape {
    name: "attributes",
    fields: &[req("type", STR), opt("url", STR)],
    open: false,
};

/// A Contact as the search returns it: `Id`, `Name`, `AccountId`, `LastModifiedDate`,
/// and the configured tier field path (a relationship, so open).
static CONTACT: Shape = Shape {
    name: "Contact",
    fields: &[
        opt("attributes", Ty::Obj(&ATTRIBUTES)),
        req("Id", STR),
        opt("Name", STR),
        opt("AccountId", STR),
        opt("LastModifiedDate", Ty::DateTime),
    ],
    open: true,
};

static SEARCH: Shape = Shape {
    name: "SearchResult",
    fields: &[
        req("searchRecords", Ty::Arr(&Ty::Obj(&CONTACT))),
        opt("metadata", Ty::Any),
    ],
    open: false,
};

/// Task's picklists (Object Reference, "Task").
pub const TASK_SUBTYPES: &[&str] = &["Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"];
pub const CALL_TYPES: &[&str] = &["Internal", "Inbound", "Outbound"];

/// A Task as the write-back sends it: the standard fields typed (Object Reference,
/// "Task"), with the fake org's external id field. Open: an org has custom fields of
/// its own, and whether one exists is the org's answer (400 `INVALID_FIELD`), not the
/// definition's.
static TASK: Shape = Shape {
    name: "Task",
    fields: &[
        opt("attributes", Ty::Obj(&ATTRIBUTES)),
        opt("Subject", STR),
        opt("Status", STR),
        opt("TaskSubtype", Ty::Enum(TASK_SUBTYPES)),
        opt("ActivityDate", STR),
        opt("WhoId", STR),
        opt("WhatId", STR),
        opt("Description", STR),
        opt("CallObject", STR),
        opt("CallDisposition", STR),
        opt("CallDurationInSeconds", Ty::Int),
        opt("CallType", Ty::Enum(CALL_TYPES)),
        opt("Priority", STR),
        opt("OwnerId", STR),
        opt("Genesys_Interaction_Id__c", STR),
    ],
    open: true,
};

static UPSERT_RESULT: Shape = Shape {
    name: "UpsertResult",
    fields: &[
        opt("id", STR),
        req("success", Ty::Bool),
        opt("created", Ty::Bool),
        opt("errors", Ty::Arr(&Ty::Obj(&RECORD_ERROR))),
    ],
    open: false,
};
static RECORD_ERROR: Shape = Shape {
    name: "RecordError",
    fields: &[
        req("statusCode", STR),
        opt("message", STR),
        opt("fields", Ty::Arr(&STR)),
    ],
    open: false,
};

static COLLECTION: Shape = Shape {
    name: "SObjectCollection",
    fields: &[
        opt("allOrNone", Ty::Bool),
        req("records", Ty::Arr(&Ty::Obj(&TASK))),
    ],
    open: false,
};

static SUBREQUEST: Shape = Shape {
    name: "Subrequest",
    fields: &[
        req(
            "method",
            Ty::Enum(&["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"]),
        ),
        req("url", STR),
        opt("richInput", Ty::Any),
        opt("binaryPartName", STR),
        opt("binaryPartNameAlias", STR),
    ],
    open: false,
};
static BATCH: Shape = Shape {
    name: "BatchRequest",
    fields: &[
        req("batchRequests", Ty::Arr(&Ty::Obj(&SUBREQUEST))),
        opt("haltOnError", Ty::Bool),
    ],
    open: false,
};
static BATCH_RESULT: Shape = Shape {
    name: "BatchResult",
    fields: &[req("statusCode", Ty::Int), opt("result", Ty::Any)],
    open: false,
};
static BATCH_RESPONSE: Shape = Shape {
    name: "BatchResponse",
    fields: &[
        req("hasErrors", Ty::Bool),
        req("results", Ty::Arr(&Ty::Obj(&BATCH_RESULT))),
    ],
    open: false,
};

static DESCRIBE: Shape = Shape {
    name: "DescribeSObjectResult",
    fields: &[
        req("name", STR),
        opt("createable", Ty::Bool),
        opt("updateable", Ty::Bool),
        req("fields", Ty::Arr(&Ty::Obj(&DESCRIBE_FIELD))),
    ],
    open: true,
};
static DESCRIBE_FIELD: Shape = Shape {
    name: "Field",
    fields: &[
        req("name", STR),
        opt("type", STR),
        opt("externalId", Ty::Bool),
        opt("unique", Ty::Bool),
        opt("createable", Ty::Bool),
        opt("updateable", Ty::Bool),
        opt("picklistValues", Ty::Any),
    ],
    open: true,
};

static VERSION: Shape = Shape {
    name: "Version",
    fields: &[req("version", STR), req("url", STR), opt("label", STR)],
    open: false,
};

/// A documented answer with a body of type `ty`.
const fn ok(status: u16, ty: Option<Ty>, meaning: &'static str) -> Answer {
    Answer {
        status,
        body: ty,
        meaning,
    }
}

/// An error answer: a list of `Error`.
const ERRORS: Ty = Ty::Arr(&Ty::Obj(&ERROR));

/// The successes given, then the errors any data call may answer ("Status Codes and
/// Error Responses"): 300 only where said.
macro_rules! answers {
    ($($ok:expr),* $(,)?) => {
        &[
            $($ok,)*
            ok(400, Some(ERRORS), "the request is malformed, or a record is refused"),
            ok(401, Some(ERRORS), "the session is expired or invalid"),
            ok(403, Some(ERRORS), "REQUEST_LIMIT_EXCEEDED, or a permission is missing"),
            ok(404, Some(ERRORS), "the resource does not exist"),
            ok(500, Some(ERRORS), "Salesforce failed"),
            ok(503, None, "Salesforce unavailable"),
        ]
    };
}

const fn q(name: &'static str, ty: Ty, required: bool) -> Param {
    Param { name, ty, required }
}

/// Every Salesforce operation Failsoft calls.
pub static OPERATIONS: &[Operation] = &[
    Operation {
        name: "OAuth 2.0 client credentials",
        method: "POST",
        path: "/services/oauth2/token",
        permissions: Perms::None,
        query: &[],
        request: Body::Form(&[
            q("grant_type", Ty::Enum(&["client_credentials"]), true),
            q("client_id", STR, true),
            q("client_secret", STR, true),
        ]),
        answers: &[
            ok(200, Some(Ty::Obj(&TOKEN)), "a token"),
            ok(400, Some(Ty::Obj(&OAUTH_ERROR)), "invalid client or grant"),
            ok(401, Some(Ty::Obj(&OAUTH_ERROR)), "invalid client"),
            ok(503, None, "unavailable"),
        ],
        source: "REST API Developer Guide / Salesforce Help: OAuth 2.0 Client Credentials Flow",
    },
    Operation {
        name: "Versions",
        method: "GET",
        path: "/services/data/",
        permissions: Perms::None,
        query: &[],
        request: Body::None,
        answers: answers![ok(200, Some(Ty::Arr(&Ty::Obj(&VERSION))), "the API versions")],
        source: "REST API Developer Guide: List Available REST API Versions",
    },
    Operation {
        name: "Search",
        method: "GET",
        path: "/services/data/{version}/search/",
        permissions: Perms::None,
        query: &[q("q", STR, true)],
        request: Body::None,
        answers: answers![ok(200, Some(Ty::Obj(&SEARCH)), "the records found")],
        source: "REST API Developer Guide: Search; SOQL and SOSL Reference: FIND, RETURNING",
    },
    Operation {
        name: "Upsert Records Using sObject Rows by External ID",
        method: "PATCH",
        path: "/services/data/{version}/sobjects/{sObject}/{fieldName}/{fieldValue}",
        permissions: Perms::None,
        query: &[],
        request: Body::Json(&TASK),
        answers: answers![
            ok(200, Some(Ty::Obj(&UPSERT_RESULT)), "updated"),
            ok(201, Some(Ty::Obj(&UPSERT_RESULT)), "created"),
            ok(204, None, "updated"),
            ok(300, Some(Ty::Any), "several records match; nothing changed"),
        ],
        source: "REST API Developer Guide: Upsert Records Using sObject Rows by External ID (300: several match)",
    },
    Operation {
        name: "Upsert Records Using sObject Collections",
        method: "PATCH",
        path: "/services/data/{version}/composite/sobjects/{sObject}/{fieldName}",
        permissions: Perms::None,
        query: &[],
        request: Body::Json(&COLLECTION),
        answers: answers![ok(
            200,
            Some(Ty::Arr(&Ty::Obj(&UPSERT_RESULT))),
            "one UpsertResult per record"
        )],
        source: "REST API Developer Guide: Upsert Records Using sObject Collections (DUPLICATE_VALUE for one external id twice)",
    },
    Operation {
        name: "Composite Batch",
        method: "POST",
        path: "/services/data/{version}/composite/batch",
        permissions: Perms::None,
        query: &[],
        request: Body::Json(&BATCH),
        answers: answers![ok(
            200,
            Some(Ty::Obj(&BATCH_RESPONSE)),
            "one result per subrequest"
        )],
        source: "REST API Developer Guide: Composite Batch; Batch Request Body (25 subrequests; Search supported; each counts against limits)",
    },
    Operation {
        name: "Describe an Object",
        method: "GET",
        path: "/services/data/{version}/sobjects/{sObject}/describe",
        permissions: Perms::None,
        query: &[],
        request: Body::None,
        answers: answers![ok(200, Some(Ty::Obj(&DESCRIBE)), "the object's fields")],
        source: "REST API Developer Guide: Get Field and Other Metadata for an Object (sObject Describe)",
    },
];
