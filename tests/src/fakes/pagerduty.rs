//! A fake PagerDuty Events API v2 that keeps incidents the way PagerDuty does: a trigger
//! whose `dedup_key` names an open incident adds to it instead of opening another, and a
//! resolve closes it. Faults (on the fault-injecting server) decide what the sender sees.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::contract::{self, Vendor};
use crate::fakes::http::{FakeServer, Response};

pub const EVENTS_PATH: &str = "/v2/enqueue";

#[derive(Clone, Debug)]
pub struct Incident {
    pub dedup_key: String,
    /// The trigger that opened it.
    pub trigger: Value,
    /// Triggers PagerDuty processed for it, the first included.
    pub triggers: u32,
    pub resolves: u32,
    pub resolved: bool,
}

#[derive(Clone)]
pub struct FakePagerDuty {
    pub server: FakeServer,
    incidents: Arc<Mutex<Vec<Incident>>>,
}

impl FakePagerDuty {
    pub async fn start() -> anyhow::Result<FakePagerDuty> {
        let incidents: Arc<Mutex<Vec<Incident>>> = Arc::default();
        let inc = incidents.clone();
        let server = FakeServer::start(contract::checked(Vendor::PagerDuty, move |req, _| {
            let ev: Value = match serde_json::from_str(&req.body) {
                Ok(v) => v,
                Err(_) => return Response::json(400, &json!({"status": "invalid event"})),
            };
            let (Some(action), Some(key)) = (ev["event_action"].as_str(), ev["dedup_key"].as_str())
            else {
                return Response::json(400, &json!({"status": "invalid event"}));
            };
            let Ok(mut all) = inc.lock() else {
                return Response::json(500, &json!({"status": "poisoned"}));
            };
            let open = all.iter_mut().find(|i| i.dedup_key == key && !i.resolved);
            match (action, open) {
                ("trigger", Some(i)) => i.triggers += 1,
                ("trigger", None) => all.push(Incident {
                    dedup_key: key.into(),
                    trigger: ev.clone(),
                    triggers: 1,
                    resolves: 0,
                    resolved: false,
                }),
                ("resolve", Some(i)) => {
                    i.resolves += 1;
                    i.resolved = true;
                }
                // Resolving what is not open is accepted and changes nothing.
                ("resolve", None) => {}
                _ => return Response::json(400, &json!({"status": "invalid event_action"})),
            }
            Response::json(
                202,
                &json!({"status": "success", "message": "Event processed", "dedup_key": key}),
            )
        }))
        .await?;
        Ok(FakePagerDuty { server, incidents })
    }

    pub fn events_url(&self) -> String {
        format!("{}{EVENTS_PATH}", self.server.url)
    }

    pub fn incidents(&self) -> Vec<Incident> {
        self.incidents.lock().map(|i| i.clone()).unwrap_or_default()
    }

    /// Event requests that reached the server, whatever it answered: (action, dedup_key).
    pub fn requests(&self) -> Vec<(String, String)> {
        self.server
            .requests()
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .map(|v| {
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                (s("event_action"), s("dedup_key"))
            })
            .collect()
    }
}
