//! A fault front for an AWS service: a real HTTP endpoint that forwards every request to
//! moto, or fails it the way the service can. Functions reach it through
//! `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL_SECRETS_MANAGER`, so a fault is seen
//! by the real SDK in the real binary, not by a mock of our traits.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::fakes::http::{FakeServer, Fault, Request, Response};

/// Start a front that forwards to `upstream` (moto's URL) until a fault is set.
pub async fn front(upstream: &str) -> anyhow::Result<FakeServer> {
    let upstream = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    FakeServer::start(move |req, _| forward(&upstream, req)).await
}

/// How many DynamoDB `op` requests (`GetItem`, `PutItem`, ...) naming `table` the front
/// has seen.
pub fn dynamo_requests(front: &FakeServer, table: &str, op: &str) -> usize {
    let target = format!("DynamoDB_20120810.{op}");
    front
        .requests()
        .iter()
        .filter(|r| r.body.contains(table))
        .filter(|r| r.header("x-amz-target") == Some(target.as_str()))
        .count()
}

/// A closed port: connections are refused, as from a service that is not there.
pub fn refused_url() -> anyhow::Result<String> {
    Ok(format!("http://127.0.0.1:{}", crate::free_port()?))
}

/// An AWS JSON-protocol error, as DynamoDB and Secrets Manager send them.
pub fn aws_error(status: u16, code: &str, message: &str) -> Fault {
    Fault::Respond(Response {
        status,
        headers: vec![
            ("Content-Type".into(), "application/x-amz-json-1.0".into()),
            ("x-amzn-ErrorType".into(), code.into()),
        ],
        body: serde_json::json!({
            "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
            "message": message,
        })
        .to_string(),
    })
}

/// DynamoDB throttling a request.
pub fn throttled() -> Fault {
    aws_error(
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded",
    )
}

/// An internal error of the service.
pub fn internal_error() -> Fault {
    aws_error(500, "InternalServerError", "Internal server error")
}

/// Forward one request to moto over a fresh connection and relay its answer. Blocking,
/// but only moto (another process) is waited on.
fn forward(upstream: &str, req: &Request) -> Response {
    match try_forward(upstream, req) {
        Ok(r) => r,
        Err(e) => Response {
            status: 502,
            headers: vec![],
            body: format!("front: {e}"),
        },
    }
}

fn try_forward(upstream: &str, req: &Request) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(upstream)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {upstream}\r\n",
        req.method, req.path
    );
    for (k, v) in &req.headers {
        let skip = ["host", "connection", "content-length", "transfer-encoding"];
        if !skip.iter().any(|h| k.eq_ignore_ascii_case(h)) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        req.body.len()
    ));
    s.write_all(head.as_bytes())?;
    s.write_all(req.body.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let text = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(502);
    let mut headers = Vec::new();
    let mut chunked = false;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.eq_ignore_ascii_case("chunked");
                continue;
            }
            let skip = ["content-length", "connection", "date", "server"];
            if !skip.iter().any(|h| k.eq_ignore_ascii_case(h)) {
                headers.push((k.to_string(), v.to_string()));
            }
        }
    }
    let body = &raw[end + 4..];
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(p) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..p]).trim(), 16).unwrap_or(0);
        if size == 0 || p + 2 + size > b.len() {
            break;
        }
        out.extend_from_slice(&b[p + 2..p + 2 + size]);
        b = &b[(p + 4 + size).min(b.len())..];
    }
    out
}
