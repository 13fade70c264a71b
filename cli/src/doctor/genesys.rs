//! Each Genesys permission a configured feature needs, tried with a harmless read: the
//! region's API, the campaigns the pause would list, the emergency group the overflow
//! would switch, the queues the board shows, and in the backup org the flow and the
//! call routes of its DIDs. A permission that only a write uses cannot be tried without
//! a change: it is named as a note.

use serde_json::{json, Value};

use failsoft::http::{self, HttpError};
use failsoft::overflow::backup::BackupConfig;

use super::secrets::Tokens;
use super::{Check, Ctx};

/// A GET or POST with a bearer token; the status of a refusal, or 0 with why.
async fn call(
    ctx: &Ctx,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<&Value>,
) -> Result<Value, (u16, String)> {
    let mut req = ctx.http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(b);
    }
    http::send_json(req, ctx.deadline())
        .await
        .map_err(|e| match e {
            HttpError::Status { status, .. } => (status, e.to_string()),
            other => (0, other.to_string()),
        })
}

/// A read that needs `permission`: ok with `detail`, or why not and the fix.
fn verdict(
    item: &str,
    permission: &str,
    client: &str,
    r: &Result<Value, (u16, String)>,
    detail: impl FnOnce(&Value) -> Result<String, String>,
) -> Check {
    match r {
        Ok(v) => match detail(v) {
            Ok(d) => Check::ok(item, d),
            Err(why) => Check::fail(item, why.clone(), why_fix(&why)),
        },
        Err((403, _)) => Check::fail(
            item,
            format!("403: the {client} lacks {permission}"),
            format!("add {permission} to a role of the {client} (Admin → Roles/Permissions, then the OAuth client's roles)"),
        ),
        Err((401, why)) => Check::fail(item, why.clone(), "the token was refused: check the OAuth client and its org"),
        Err((_, why)) => Check::fail(item, why.clone(), "the API did not answer as documented: check the environment and try again"),
    }
}

fn why_fix(why: &str) -> String {
    if why.contains("deleted") || why.contains("no emergency group") {
        "create the emergency group in Architect, or set OVERFLOW_EMERGENCY_GROUP_ID to one that exists".into()
    } else {
        "see the detail".into()
    }
}

pub async fn check(ctx: &Ctx, tokens: &Tokens, out: &mut Vec<Check>) {
    let env = &ctx.env;
    let configured =
        ctx.var("GENESYS_API_URL").is_some() || ctx.var("GENESYS_ENVIRONMENT").is_some();
    match (configured, &tokens.genesys) {
        (false, _) => out.push(Check::skip("genesys", "GENESYS_ENVIRONMENT not set")),
        (true, None) => out.push(Check::skip(
            "genesys permissions",
            "no Genesys token (see above)",
        )),
        (true, Some(token)) => match failsoft::genesys::api_base(env) {
            Ok(base) => main_org(ctx, &base, token, out).await,
            Err(e) => out.push(Check::fail(
                "genesys settings",
                e.to_string(),
                "set GENESYS_ENVIRONMENT or GENESYS_API_URL",
            )),
        },
    }
    match (BackupConfig::from_env(env), &tokens.backup) {
        (Ok(Some(b)), Some(token)) => backup_org(ctx, &b, token, out).await,
        (Ok(Some(_)), None) => out.push(Check::skip(
            "backup permissions",
            "no backup-org token (see above)",
        )),
        _ => {}
    }
}

/// The main org's client, as the functions use it: its base URL and token.
struct Org<'a> {
    ctx: &'a Ctx,
    base: &'a str,
    token: &'a str,
}

/// Who the main org's checks are about, in every verdict.
const CLIENT: &str = "main OAuth client (GENESYS_SECRET_ID)";

impl Org<'_> {
    async fn get(&self, path: String) -> Result<Value, (u16, String)> {
        let url = failsoft::genesys::url(self.base, &path);
        call(self.ctx, reqwest::Method::GET, url, self.token, None).await
    }
}

/// Each feature's read, with the permission it needs: what the main client must hold.
async fn main_org(ctx: &Ctx, base: &str, token: &str, out: &mut Vec<Check>) {
    let org = Org { ctx, base, token };
    health_check(&org, out).await;
    campaign_pause(&org, out).await;
    emergency_group(&org, out).await;
    status_board(&org, out).await;
}

async fn health_check(org: &Org<'_>, out: &mut Vec<Check>) {
    let r = org
        .get(failsoft::health_check::GENESYS_API_CHECK_PATH.to_string())
        .await;
    out.push(verdict(
        "genesys-api health check",
        "no permission",
        CLIENT,
        &r,
        |_| Ok("GET /api/v2/date answers".into()),
    ));
}

async fn campaign_pause(org: &Org<'_>, out: &mut Vec<Check>) {
    let ctx = org.ctx;
    let pause_on = failsoft::dependency::campaign_pause_on(&ctx.env);
    if pause_on.is_empty() {
        out.push(Check::skip("campaign pause", "CAMPAIGN_PAUSE_ON is empty"));
    } else {
        let divisions: String = ctx
            .var("CAMPAIGN_DIVISION_IDS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|d| http::genesys_id(d))
            .map(|d| format!("&divisionId={d}"))
            .collect();
        for (item, path, permission) in [
            (
                "campaign pause: voice campaigns",
                "/api/v2/outbound/campaigns",
                "outbound:campaign:view",
            ),
            (
                "campaign pause: messaging campaigns",
                "/api/v2/outbound/messagingcampaigns",
                "outbound:messagingCampaign:view",
            ),
        ] {
            let r = org
                .get(format!("{path}?pageSize=1&pageNumber=1{divisions}"))
                .await;
            out.push(verdict(item, permission, CLIENT, &r, |v| {
                Ok(format!(
                    "listed ({} in the divisions)",
                    v["total"].as_u64().unwrap_or(0)
                ))
            }));
        }
        out.push(Check::note(
            "campaign pause: edit",
            "outbound:campaign:edit and outbound:messagingCampaign:edit are used only by a change, so they are not tried; grant them as docs/deploy.md's Permissions says",
        ));
    }
}

async fn emergency_group(org: &Org<'_>, out: &mut Vec<Check>) {
    match org.ctx.var("OVERFLOW_EMERGENCY_GROUP_ID") {
        None => out.push(Check::skip(
            "regional overflow",
            "OVERFLOW_EMERGENCY_GROUP_ID not set",
        )),
        Some(id) if !http::genesys_id(&id) => out.push(Check::fail(
            "regional overflow: emergency group",
            format!("{id:?} is not a Genesys id"),
            "set OVERFLOW_EMERGENCY_GROUP_ID to the group's id",
        )),
        Some(id) => {
            let r = org
                .get(format!("/api/v2/architect/emergencygroups/{id}"))
                .await;
            let r = match r {
                Err((404, _)) => Ok(json!({"deleted": true})),
                other => other,
            };
            out.push(verdict(
                "regional overflow: emergency group",
                "routing:emergencyGroup:view",
                CLIENT,
                &r,
                |g| {
                    if g["deleted"] == true || g["state"] == "deleted" {
                        return Err(format!("emergency group {id} does not exist (deleted?)"));
                    }
                    let ivrs: usize = g["emergencyCallFlows"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|f| f["ivrs"].as_array().map_or(0, Vec::len))
                        .sum();
                    Ok(format!(
                        "{:?}, {}, {ivrs} IVRs linked",
                        g["name"].as_str().unwrap_or(""),
                        if g["enabled"] == true {
                            "ENABLED"
                        } else {
                            "not enabled"
                        }
                    ))
                },
            ));
            out.push(Check::note(
                "regional overflow: edit",
                "routing:emergencyGroup:edit is used only by a switch, so it is not tried",
            ));
        }
    }
}

async fn status_board(org: &Org<'_>, out: &mut Vec<Check>) {
    let queues: Vec<String> = org
        .ctx
        .var("BOARD_QUEUE_IDS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|q| failsoft::queues::analytics::valid_queue_id(q))
        .map(str::to_string)
        .collect();
    if queues.is_empty() {
        out.push(Check::skip("status board", "BOARD_QUEUE_IDS not set"));
    } else {
        let query = failsoft::queues::analytics::query(&queues);
        let r = call(
            org.ctx,
            reqwest::Method::POST,
            format!("{}{}", org.base, failsoft::queues::analytics::QUERY_PATH),
            org.token,
            Some(&query),
        )
        .await;
        out.push(verdict(
            "status board: queue observations",
            "analytics:queueObservation:view",
            CLIENT,
            &r,
            |v| {
                let seen = failsoft::queues::analytics::parse(v, &queues).unwrap_or_default();
                let missing: Vec<&str> = seen
                    .iter()
                    .filter(|(_, c)| c.is_none())
                    .map(|(q, _)| q.as_str())
                    .collect();
                if missing.is_empty() {
                    Ok(format!("{} queues observed", queues.len()))
                } else {
                    Err(format!(
                        "queues not in the answer (unknown, or not visible to the client): {}",
                        missing.join(", ")
                    ))
                }
            },
        ));
    }
}

async fn backup_org(ctx: &Ctx, b: &BackupConfig, token: &str, out: &mut Vec<Check>) {
    let base = b.api_url.as_str();
    let client = "backup org's client (BACKUP_GENESYS_SECRET_ID)";
    if let Some(flow) = &b.flow {
        let q: String = url::form_urlencoded::byte_serialize(flow.as_bytes()).collect();
        let r = call(
            ctx,
            reqwest::Method::GET,
            failsoft::genesys::url(
                base,
                &format!("/api/v2/flows?type=inboundcall&pageSize=25&name={q}"),
            ),
            token,
            None,
        )
        .await;
        out.push(verdict(
            "backup: flow",
            "architect:flow:view",
            client,
            &r,
            |v| {
                let found = v["entities"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|f| f["name"].as_str() == Some(flow.as_str()));
                match found {
                    Some(f) if !f["publishedVersion"].is_null() => {
                        Ok(format!("{flow:?} is published"))
                    }
                    Some(_) => Err(format!("{flow:?} exists but is not published")),
                    None => Err(format!("no inbound call flow is named {flow:?}")),
                }
            },
        ));
    }
    for did in &b.dids {
        let q: String = url::form_urlencoded::byte_serialize(did.as_bytes()).collect();
        let r = call(
            ctx,
            reqwest::Method::GET,
            failsoft::genesys::url(
                base,
                &format!("/api/v2/architect/ivrs?pageSize=25&dnis={q}"),
            ),
            token,
            None,
        )
        .await;
        out.push(verdict(
            &format!("backup: DID {did}"),
            "routing:callRoute:view",
            client,
            &r,
            |v| {
                let routed = v["entities"].as_array().into_iter().flatten().any(|i| {
                    i["dnis"]
                        .as_array()
                        .is_some_and(|d| d.iter().any(|n| n.as_str() == Some(did.as_str())))
                        && !i["openHoursFlow"]["id"].is_null()
                });
                if routed {
                    Ok("routed to a call flow".into())
                } else {
                    Err("no IVR configuration answers it".into())
                }
            },
        ));
    }
}
