//! The Genesys queue-observations query: building it, and reading its answer.

use serde::Serialize;
use serde_json::{json, Value};

pub const QUERY_PATH: &str = "/api/v2/analytics/queues/observations/query";

/// A queue id as Genesys gives them: letters, digits and `-` (a GUID). Anything else is
/// refused before it reaches a query or a page.
pub fn valid_queue_id(id: &str) -> bool {
    crate::http::genesys_id(id)
}

/// One query for all `ids`.
pub fn query(ids: &[String]) -> Value {
    let predicates: Vec<Value> = ids
        .iter()
        .map(|id| json!({"type": "dimension", "dimension": "queueId", "operator": "matches", "value": id}))
        .collect();
    json!({"filter": {"type": "or", "predicates": predicates}, "metrics": ["oWaiting", "oOnQueueUsers"]})
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub interactions_waiting: u64,
    pub agents_available: u64,
    pub agents_interacting: u64,
}

/// Counts per queue id from an observations answer. `oWaiting` (conversations) →
/// waiting; agents from the user metric `oOnQueueUsers`, by its routing-status
/// qualifier: IDLE → available, INTERACTING → interacting. `oInteracting` counts
/// conversations, not agents (SDK `ObservationMetricData`, `QueueObservationQuery`), so
/// it is neither asked for nor read.
/// The counts of each of `ids`, in order; `None` for a queue the answer does not
/// contain (unknown, or not visible to this client): never zeros presented as live.
pub fn parse(body: &Value, ids: &[String]) -> Option<Vec<(String, Option<Counts>)>> {
    let results = body.get("results")?.as_array()?;
    let mut out: Vec<(String, Option<Counts>)> = ids.iter().map(|id| (id.clone(), None)).collect();
    for r in results {
        let Some(qid) = r.pointer("/group/queueId").and_then(Value::as_str) else {
            continue;
        };
        let Some((_, slot)) = out.iter_mut().find(|(id, _)| id == qid) else {
            continue;
        };
        let c = slot.get_or_insert_with(Counts::default);
        for d in r
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let count = d
                .pointer("/stats/count")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            match (
                d.get("metric").and_then(Value::as_str),
                d.get("qualifier").and_then(Value::as_str),
            ) {
                (Some("oWaiting"), _) => c.interactions_waiting += count,
                (Some("oOnQueueUsers"), Some(q)) if q.eq_ignore_ascii_case("IDLE") => {
                    c.agents_available += count
                }
                (Some("oOnQueueUsers"), Some(q)) if q.eq_ignore_ascii_case("INTERACTING") => {
                    c.agents_interacting += count
                }
                _ => {}
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_observations() {
        let ids = vec!["q1".to_string(), "q2".to_string(), "q3".to_string()];
        let body = json!({"results": [
            {"group": {"queueId": "q1"}, "data": [
                {"metric": "oWaiting", "stats": {"count": 4}},
                {"metric": "oOnQueueUsers", "qualifier": "IDLE", "stats": {"count": 2}},
                {"metric": "oOnQueueUsers", "qualifier": "INTERACTING", "stats": {"count": 5}},
                {"metric": "oInteracting", "stats": {"count": 6}}]},
            {"group": {"queueId": "q2"}, "data": [{"metric": "oWaiting", "stats": {"count": 1}}]},
            {"group": {"queueId": "other"}, "data": [{"metric": "oWaiting", "stats": {"count": 9}}]}
        ]});
        let got = parse(&body, &ids).unwrap_or_default();
        assert_eq!(
            got[0].1,
            Some(Counts {
                interactions_waiting: 4,
                agents_available: 2,
                agents_interacting: 5
            }),
            "agents from oOnQueueUsers; oInteracting (6 conversations) is not agents"
        );
        assert_eq!(got[1].1.as_ref().map(|c| c.interactions_waiting), Some(1));
        assert_eq!(got[2].1, None, "absent from the answer: unknown, not zero");
        assert!(parse(&json!({"nope": 1}), &ids).is_none());
        assert_eq!(
            query(&ids)["filter"]["predicates"].as_array().map(Vec::len),
            Some(3)
        );
    }

    #[test]
    fn queue_ids_are_checked() {
        assert!(valid_queue_id("3b7c1c3e-6a0d-4c1e-9a43-5c7c0d3e2f10"));
        for bad in ["", "a b", "<script>", "q'1", &"x".repeat(65)] {
            assert!(!valid_queue_id(bad), "{bad}");
        }
    }
}
