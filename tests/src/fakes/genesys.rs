//! A fake Genesys Cloud: the OAuth token endpoint, the health check, queue
//! observations, and outbound campaigns (voice and messaging) with their versions and
//! status rules: 409 on a stale version, 400 on an invalid transition, `stopping` before
//! `off`. Faults (429 with `Retry-After`, say) come from the fault-injecting server.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::contract::{self, Vendor};
use crate::fakes::http::{FakeServer, Request, Response};

/// The region's health check, as the health probe calls it by default: `GET
/// /api/v2/date` (SDK `UtilitiesApi.get_date`: OAuth, no permission; answers a
/// `ServerDate`). `/api/v2/health/check` is not in the public API and answers 404 here.
pub const HEALTH_PATH: &str = "/api/v2/date";
pub const QUERY: &str = "/api/v2/analytics/queues/observations/query";

/// A fake Genesys: the token endpoint and queue observations (waiting = 3 × n for the
/// n-th queue asked for).
pub async fn fake_genesys() -> anyhow::Result<FakeServer> {
    Ok(FakeGenesys::start().await?.server)
}

pub const VOICE: &str = "/api/v2/outbound/campaigns";
pub const MESSAGING: &str = "/api/v2/outbound/messagingcampaigns";
/// Entities per page, whatever `pageSize` asks: small, so that paging is exercised.
const PAGE: usize = 2;

/// Architect emergency groups: a PUT replaces the whole group, as the real API does.
pub const EMERGENCY: &str = "/api/v2/architect/emergencygroups";

/// Architect flows and IVR configurations (call routes, with the numbers each answers
/// in `dnis`): what the backup region's readiness check reads. The DID list
/// (`/api/v2/telephony/providers/edges/dids`) needs `telephony:plugin:all`, so it is
/// served only to a client granted that.
pub const FLOWS: &str = "/api/v2/flows";
pub const IVRS: &str = "/api/v2/architect/ivrs";
pub const DIDS: &str = "/api/v2/telephony/providers/edges/dids";

/// What Genesys says to a PUT with a stale version. Both are documented in practice:
/// Genesys's Terraform provider (`util_retries.go`, `IsVersionMismatch`) retries "409,
/// or 400 whose message says the version does not match the current version".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stale {
    #[default]
    Conflict409,
    BadRequest400,
}

impl Stale {
    /// The answer as Genesys gives it.
    pub fn answer(self) -> Response {
        match self {
            Stale::Conflict409 => Response::json(
                409,
                &json!({"message": "The version number supplied must match the version number of the most recent update", "code": "conflict", "status": 409}),
            ),
            Stale::BadRequest400 => Response::json(
                400,
                &json!({"message": "The version supplied does not match the current version of the resource", "code": "bad.request", "status": 400}),
            ),
        }
    }
}

/// The org's campaigns, by (path, id), its emergency groups, by id, its inbound call
/// flows, by name, and its DIDs, by number.
#[derive(Default)]
pub struct Book {
    pub campaigns: BTreeMap<(String, String), Value>,
    pub groups: BTreeMap<String, Value>,
    pub flows: BTreeMap<String, Value>,
    pub dids: BTreeMap<String, Value>,
    /// IVR configurations by id.
    pub ivrs: BTreeMap<String, Value>,
    /// Switches a person makes in Architect right after the next group PUT lands, each
    /// adding one to the version: a race made deterministic.
    pub person_after_put: Vec<bool>,
    /// How a stale version is answered.
    pub stale: Stale,
    /// The permissions the org's OAuth client was granted: a call the record says needs
    /// another is refused with 403.
    pub granted: Vec<String>,
    /// The next PUT to a group loses its IVR links even when they are sent (how a
    /// failure of the switch would look from outside).
    pub lose_ivrs_once: bool,
    /// Reads a campaign turned off stays `stopping` for, past the first: `stopping` is
    /// a status of its own in the SDK's `Campaign.campaign_status` (a campaign stops
    /// once its calls in progress end), and how long it lasts is not bounded there.
    pub stopping_longer: u32,
    /// Reads left in `stopping`, by campaign.
    stopping_left: BTreeMap<(String, String), u32>,
}

#[derive(Clone)]
pub struct FakeGenesys {
    pub server: FakeServer,
    pub book: Arc<Mutex<Book>>,
}

impl FakeGenesys {
    /// A Genesys org whose client holds exactly what the README lists for the main
    /// client ([`contract::genesys::MAIN_CLIENT`]).
    pub async fn start() -> anyhow::Result<FakeGenesys> {
        Self::start_granted(contract::genesys::MAIN_CLIENT).await
    }

    /// A Genesys org whose client holds `granted` and nothing else.
    pub async fn start_granted(granted: &[&str]) -> anyhow::Result<FakeGenesys> {
        let book: Arc<Mutex<Book>> = Arc::new(Mutex::new(Book {
            granted: granted.iter().map(|p| p.to_string()).collect(),
            ..Book::default()
        }));
        let b = book.clone();
        let queries = Arc::new(AtomicU64::new(0));
        let server = FakeServer::start(contract::checked(Vendor::Genesys, move |req, _| {
            if let Some(refused) = without_permission(&b, req) {
                return refused;
            }
            if req.path.starts_with(EMERGENCY)
                || req.path == FLOWS
                || req.path == DIDS
                || req.path == IVRS
            {
                if req.header("authorization") != Some("Bearer gc-token") {
                    return Response::json(401, &json!({"message": "unauthorized"}));
                }
                let Ok(mut book) = b.lock() else {
                    return Response::json(500, &json!({"message": "poisoned"}));
                };
                return match req.path.strip_prefix(&format!("{EMERGENCY}/")) {
                    Some(id) => emergency_group(&mut book, id, req),
                    None => listing(&book, req),
                };
            }
            if req.path.starts_with(VOICE) || req.path.starts_with(MESSAGING) {
                if req.header("authorization") != Some("Bearer gc-token") {
                    return Response::json(401, &json!({"message": "unauthorized"}));
                }
                return match b.lock() {
                    Ok(mut book) => campaigns(&mut book, req),
                    Err(_) => Response::json(500, &json!({"message": "poisoned"})),
                };
            }
            other(req, &queries)
        }))
        .await?;
        Ok(FakeGenesys { server, book })
    }

    /// Take a permission away from the org's client.
    pub fn revoke(&self, permission: &str) {
        if let Ok(mut b) = self.book.lock() {
            b.granted.retain(|p| p != permission);
        }
    }

    /// Add a campaign at version 1.
    pub fn add(&self, path: &str, id: &str, name: &str, status: &str, division: &str) {
        if let Ok(mut b) = self.book.lock() {
            b.campaigns.insert(
                (path.into(), id.into()),
                json!({"id": id, "name": name, "campaignStatus": status, "version": 1,
                       "division": {"id": division}, "dialingMode": "preview",
                       "dateModified": "2026-11-28T01:00:00Z"}),
            );
        }
    }

    /// Add an emergency group at version 1, off, with one call flow linked to `ivrs`.
    pub fn add_group(&self, id: &str, name: &str, ivrs: &[&str]) {
        let ivrs: Vec<Value> = ivrs
            .iter()
            .map(|i| json!({"id": i, "name": format!("IVR {i}")}))
            .collect();
        if let Ok(mut b) = self.book.lock() {
            b.groups.insert(
                id.into(),
                json!({"id": id, "name": name, "version": 1, "enabled": false, "state": "active",
                       "division": {"id": "d1"},
                       "emergencyCallFlows": [{"emergencyFlow": {"id": "flow-backup", "name": "Backup region"}, "ivrs": ivrs}]}),
            );
        }
    }

    /// A person switches the group (each switch in `enabled`, in turn) right after the
    /// next PUT to it lands, before anyone can read it again.
    pub fn person_switches_right_after_the_next_put(&self, enabled: &[bool]) {
        if let Ok(mut b) = self.book.lock() {
            b.person_after_put = enabled.to_vec();
        }
    }

    /// A person switches a group in Architect, as the UI would (a new version).
    pub fn person_switches_group(&self, id: &str, enabled: bool) {
        if let Ok(mut b) = self.book.lock() {
            if let Some(g) = b.groups.get_mut(id) {
                g["enabled"] = json!(enabled);
                g["version"] = json!(g["version"].as_i64().unwrap_or(0) + 1);
            }
        }
    }

    /// An inbound call flow, published or only saved.
    pub fn set_flow(&self, name: &str, published: bool) {
        if let Ok(mut b) = self.book.lock() {
            let version = published.then(|| json!({"id": "3.0"}));
            b.flows.insert(
                name.into(),
                json!({"id": format!("flow-{}", name.len()), "name": name, "type": "INBOUNDCALL",
                       "publishedVersion": version, "savedVersion": {"id": "3.1"}}),
            );
        }
    }

    /// A DID in the org, routed to a call flow through an IVR configuration (its
    /// `dnis`), or in the org's number list only.
    pub fn set_did(&self, number: &str, assigned: bool) {
        if let Ok(mut b) = self.book.lock() {
            let owner = assigned.then(|| json!({"id": "ivr-backup", "name": "Backup inbound"}));
            b.dids.insert(
                number.into(),
                json!({"id": format!("did-{number}"), "phoneNumber": number, "owner": owner,
                       "ownerType": if assigned { "IVR" } else { "" }}),
            );
            let id = format!("ivr-{}", number.trim_start_matches('+'));
            if assigned {
                b.ivrs.insert(
                    id.clone(),
                    json!({"id": id, "name": format!("Backup {number}"), "state": "active", "version": 1,
                           "dnis": [number], "openHoursFlow": {"id": "flow-backup", "name": "Backup inbound"}}),
                );
            } else {
                b.ivrs.remove(&id);
            }
        }
    }

    /// How a PUT with a stale version is answered from now on.
    pub fn answer_stale_with(&self, stale: Stale) {
        if let Ok(mut b) = self.book.lock() {
            b.stale = stale;
        }
    }

    /// Set a voice campaign's decimal pacing (`maxCallsPerAgentDecimal`, with the
    /// integer `maxCallsPerAgent` beside it, as Genesys keeps both).
    pub fn set_pacing(&self, id: &str, per_agent: f64) {
        if let Ok(mut b) = self.book.lock() {
            if let Some(c) = b.campaigns.get_mut(&(VOICE.to_string(), id.to_string())) {
                c["maxCallsPerAgentDecimal"] = json!(per_agent);
                c["maxCallsPerAgent"] = json!(per_agent.round() as i64);
            }
        }
    }

    /// A campaign as Genesys holds it now.
    pub fn campaign(&self, path: &str, id: &str) -> Value {
        self.book
            .lock()
            .ok()
            .and_then(|b| {
                b.campaigns
                    .get(&(path.to_string(), id.to_string()))
                    .cloned()
            })
            .unwrap_or(Value::Null)
    }

    /// A group as Genesys holds it now.
    pub fn group(&self, id: &str) -> Value {
        self.book
            .lock()
            .ok()
            .and_then(|b| b.groups.get(id).cloned())
            .unwrap_or(Value::Null)
    }

    /// A supervisor changes a campaign's status by hand, as the UI would.
    pub fn person_sets(&self, path: &str, id: &str, status: &str, at: &str) {
        if let Ok(mut b) = self.book.lock() {
            if let Some(c) = b.campaigns.get_mut(&(path.to_string(), id.to_string())) {
                c["campaignStatus"] = json!(status);
                c["version"] = json!(c["version"].as_i64().unwrap_or(0) + 1);
                c["dateModified"] = json!(at);
            }
        }
    }

    pub fn status(&self, path: &str, id: &str) -> String {
        self.book
            .lock()
            .ok()
            .and_then(|b| {
                b.campaigns
                    .get(&(path.to_string(), id.to_string()))
                    .and_then(|c| c["campaignStatus"].as_str().map(str::to_string))
            })
            .unwrap_or_default()
    }

    /// The statuses PUT to a campaign, in order, from the request log.
    pub fn puts(&self, path: &str, id: &str) -> Vec<String> {
        let p = format!("{path}/{id}");
        self.server
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.path == p)
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .map(|v| v["campaignStatus"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// A call by an authenticated client that lacks the permission the record says the
/// operation needs: 403, as Genesys answers it (`ErrorBody`).
fn without_permission(book: &Mutex<Book>, req: &Request) -> Option<Response> {
    if req.header("authorization") != Some("Bearer gc-token") {
        return None;
    }
    let op = contract::find(Vendor::Genesys, &req.method, &req.path)?;
    let granted: Vec<String> = book.lock().ok()?.granted.clone();
    let granted: Vec<&str> = granted.iter().map(String::as_str).collect();
    if op.permissions.allows(&granted) {
        return None;
    }
    let missing = op.permissions.names().join(", ");
    Some(Response::json(
        403,
        &json!({"message": format!("You are missing the following permission(s): {missing}"),
                "code": "missing.permissions", "status": 403}),
    ))
}

/// GET a group; PUT one back whole at its current version (409 otherwise). What the
/// PUT does not carry is gone: that is the real API's pitfall.
fn emergency_group(book: &mut Book, id: &str, req: &Request) -> Response {
    let Some(current) = book.groups.get(id).cloned() else {
        return Response::json(404, &json!({"message": "not found"}));
    };
    match req.method.as_str() {
        "GET" => Response::json(200, &current),
        "PUT" => {
            let Ok(mut body) = serde_json::from_str::<Value>(&req.body) else {
                return Response::json(400, &json!({"message": "bad body"}));
            };
            if body["version"] != current["version"] {
                return book.stale.answer();
            }
            body["id"] = json!(id);
            body["version"] = json!(current["version"].as_i64().unwrap_or(0) + 1);
            if std::mem::take(&mut book.lose_ivrs_once) {
                if let Some(flows) = body["emergencyCallFlows"].as_array_mut() {
                    for f in flows {
                        f["ivrs"] = json!([]);
                    }
                }
            }
            book.groups.insert(id.into(), body.clone());
            for enabled in std::mem::take(&mut book.person_after_put) {
                if let Some(g) = book.groups.get_mut(id) {
                    g["enabled"] = json!(enabled);
                    g["version"] = json!(g["version"].as_i64().unwrap_or(0) + 1);
                }
            }
            Response::json(200, &body)
        }
        _ => Response::json(405, &json!({"message": "method not allowed"})),
    }
}

/// The list calls: emergency groups by name, flows by name, IVRs by number (`dnis`),
/// DIDs by number.
fn listing(book: &Book, req: &Request) -> Response {
    let entities: Vec<Value> = if req.path == IVRS {
        let number = req.param("dnis").unwrap_or_default();
        book.ivrs
            .values()
            .filter(|i| {
                i["dnis"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|n| n.as_str() == Some(number)))
            })
            .cloned()
            .collect()
    } else if req.path == EMERGENCY {
        let name = req.param("name").unwrap_or_default();
        book.groups
            .values()
            .filter(|g| g["name"].as_str() == Some(name))
            .cloned()
            .collect()
    } else if req.path == FLOWS {
        let name = req.param("name").unwrap_or_default();
        book.flows.get(name).cloned().into_iter().collect()
    } else {
        let number = req.param("phoneNumber").unwrap_or_default();
        book.dids.get(number).cloned().into_iter().collect()
    };
    Response::json(
        200,
        &json!({"entities": entities, "pageNumber": 1, "total": entities.len()}),
    )
}

/// The campaign API: list (paged), get, and PUT with the version rule.
fn campaigns(book: &mut Book, req: &Request) -> Response {
    let (path, id) = match req.path.rsplit_once('/') {
        Some((p, id)) if p == VOICE || p == MESSAGING => (p.to_string(), Some(id.to_string())),
        _ => (req.path.clone(), None),
    };
    let Some(id) = id else {
        let all: Vec<Value> = book
            .campaigns
            .iter()
            .filter(|((p, _), _)| *p == path)
            .map(|(_, c)| c.clone())
            .collect();
        let page: usize = req
            .param("pageNumber")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let entities: Vec<Value> = all
            .iter()
            .skip((page.max(1) - 1) * PAGE)
            .take(PAGE)
            .cloned()
            .collect();
        return Response::json(
            200,
            &json!({"entities": entities, "pageNumber": page, "pageSize": PAGE,
                    "total": all.len(), "pageCount": all.len().div_ceil(PAGE)}),
        );
    };
    let key = (path, id);
    let longer = book.stopping_longer;
    let Some(c) = book.campaigns.get_mut(&key) else {
        return Response::json(404, &json!({"message": "not found", "code": "not.found"}));
    };
    match req.method.as_str() {
        "GET" => {
            let seen = c.clone();
            // Stopping lasts one read (and `stopping_longer` more), then the campaign is
            // off, at a new version.
            if c["campaignStatus"] == "stopping" {
                let left = book.stopping_left.entry(key).or_insert(longer);
                if *left == 0 {
                    c["campaignStatus"] = json!("off");
                    c["version"] = json!(c["version"].as_i64().unwrap_or(0) + 1);
                } else {
                    *left -= 1;
                }
            }
            Response::json(200, &seen)
        }
        "PUT" => {
            let Ok(body) = serde_json::from_str::<Value>(&req.body) else {
                return Response::json(400, &json!({"message": "bad body", "code": "bad.request"}));
            };
            if body["version"] != c["version"] {
                return book.stale.answer();
            }
            let decimal = req.param("useMaxCallsPerAgentDecimal") == Some("true");
            let from = c["campaignStatus"].as_str().unwrap_or_default().to_string();
            let to = body["campaignStatus"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let next = match (from.as_str(), to.as_str()) {
                ("on", "off") => "stopping",
                ("off" | "complete" | "invalid", "on") => "on",
                (a, b) if a == b => a,
                _ => {
                    return Response::json(
                        400,
                        &json!({"message": format!("Invalid transition from {} to {}", from.to_uppercase(), to.to_uppercase()), "code": "invalid.transition"}),
                    )
                }
            };
            *c = body;
            // Without useMaxCallsPerAgentDecimal=true the decimal is not used (SDK
            // OutboundApi.put_outbound_campaign): the fake takes the worst reading, the
            // integer `maxCallsPerAgent` in its place.
            if !decimal && c.get("maxCallsPerAgentDecimal").is_some() {
                c["maxCallsPerAgentDecimal"] = json!(c["maxCallsPerAgent"].as_f64());
            }
            c["campaignStatus"] = json!(next);
            c["version"] = json!(c["version"].as_i64().unwrap_or(0) + 1);
            let answer = Response::json(200, c);
            // A new stop starts its count again.
            book.stopping_left.remove(&key);
            answer
        }
        _ => Response::json(405, &json!({"message": "method not allowed"})),
    }
}

/// Everything but campaigns: token, health check, queue observations.
fn other(req: &Request, queries: &AtomicU64) -> Response {
    {
        if req.path == HEALTH_PATH && req.header("authorization") == Some("Bearer gc-token") {
            return Response::json(200, &json!({"currentDate": "2026-11-28T02:41:00.000Z"}));
        }
        if req.path == "/api/v2/health/check" {
            return Response::json(
                404,
                &json!({"message": "not found", "code": "not.found", "status": 404}),
            );
        }
        if req.path == "/oauth/token" {
            return Response::json(
                200,
                &json!({"access_token": "gc-token", "token_type": "bearer", "expires_in": 86400}),
            );
        }
        if req.path == QUERY && req.header("authorization") == Some("Bearer gc-token") {
            queries.fetch_add(1, Ordering::SeqCst);
            let body: Value = serde_json::from_str(&req.body).unwrap_or_default();
            let ids: Vec<String> = body["filter"]["predicates"]
                .as_array()
                .map(|p| {
                    p.iter()
                        .filter_map(|x| x["value"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let asked: Vec<&str> = body["metrics"]
                .as_array()
                .map(|m| m.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            // Queues this org does not have are absent from the answer; each has only the
            // metrics asked for. 7 agents interact while 5 conversations do: the two
            // are different metrics.
            let results: Vec<Value> = ids
                .iter()
                .filter(|id| !id.starts_with("unknown-"))
                .enumerate()
                .map(|(i, id)| {
                    let data: Vec<Value> = [
                        json!({"metric": "oWaiting", "stats": {"count": 3 * (i + 1)}}),
                        json!({"metric": "oOnQueueUsers", "qualifier": "IDLE", "stats": {"count": 2}}),
                        json!({"metric": "oOnQueueUsers", "qualifier": "INTERACTING", "stats": {"count": 7}}),
                        json!({"metric": "oInteracting", "stats": {"count": 5}}),
                    ]
                    .into_iter()
                    .filter(|d| asked.contains(&d["metric"].as_str().unwrap_or_default()))
                    .collect();
                    json!({"group": {"queueId": id}, "data": data})
                })
                .collect();
            return Response::json(200, &json!({"results": results}));
        }
        Response::json(401, &json!({"message": "unauthorized"}))
    }
}
