//! A tiny HTTP/1.1 server for faking dependencies, with fault injection: hang, slow,
//! any status (429 with Retry-After), garbage body, connection reset. One request per
//! connection (`Connection: close`), so every fault is exact.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    Hang,
    Slow(Duration),
    /// Slow by a delay drawn uniformly from the range, request by request.
    SlowBetween(Duration, Duration),
    Status(u16),
    TooMany {
        retry_after_s: u64,
    },
    Garbage,
    Reset,
    /// The request is handled (its effects happen), then the connection is reset before
    /// the answer: the client cannot tell whether it went through.
    ResetAfterHandling,
    /// The request is handled, then no answer ever comes: the caller is still waiting
    /// when a test kills it (a crash after the write, before the response).
    HangAfterHandling,
    /// Answer this instead of handling the request (an AWS error body, say).
    Respond(Response),
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Query parameters, percent-decoded.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Request {
    pub fn param(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn json(status: u16, v: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: v.to_string(),
        }
    }
}

type Handler = dyn Fn(&Request, &str) -> Response + Send + Sync;

struct FaultRule {
    path_prefix: String,
    /// Only requests carrying this header value (an AWS `X-Amz-Target`, say).
    header: Option<(String, String)>,
    /// Only requests whose body contains this (one item's key, say).
    body: Option<String>,
    fault: Fault,
    remaining: Option<u32>,
}

#[derive(Default)]
struct State {
    faults: Vec<FaultRule>,
    requests: Vec<Request>,
}

#[derive(Clone)]
pub struct FakeServer {
    pub url: String,
    state: Arc<Mutex<State>>,
    /// Whether the port is closed (connections refused), as a service that is not there.
    refusing: Arc<tokio::sync::watch::Sender<bool>>,
}

impl FakeServer {
    /// Serve `handler(request, base_url)` on a free loopback port.
    pub async fn start(
        handler: impl Fn(&Request, &str) -> Response + Send + Sync + 'static,
    ) -> anyhow::Result<FakeServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        let state = Arc::new(Mutex::new(State::default()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (st, base) = (state.clone(), url.clone());
        let (refusing, mut refuse) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut listening = Some(listener);
            loop {
                let Some(l) = listening.take() else {
                    // Closed: wait to be opened again, then listen on the same port.
                    if refuse.changed().await.is_err() {
                        return;
                    }
                    if !*refuse.borrow() {
                        listening = TcpListener::bind(addr).await.ok();
                    }
                    continue;
                };
                tokio::select! {
                    accepted = l.accept() => {
                        if let Ok((sock, _)) = accepted {
                            let (st, h, base) = (st.clone(), handler.clone(), base.clone());
                            tokio::spawn(async move {
                                let _ = serve(sock, st, h, base).await;
                            });
                        }
                        listening = Some(l);
                    }
                    changed = refuse.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        if !*refuse.borrow() {
                            listening = Some(l);
                        }
                        // Refusing: the listener is dropped, the port closes.
                    }
                }
            }
        });
        Ok(FakeServer {
            url,
            state,
            refusing: Arc::new(refusing),
        })
    }

    /// Close the port (every connection refused) or open it again. Returns once the
    /// port is seen in the new state.
    pub async fn refuse(&self, on: bool) -> anyhow::Result<()> {
        self.refusing.send_replace(on);
        let addr = self.url.trim_start_matches("http://").to_string();
        for _ in 0..500 {
            let open = tokio::net::TcpStream::connect(&addr).await.is_ok();
            if open != on {
                return Ok(());
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        anyhow::bail!(
            "{addr} did not become {}",
            if on { "closed" } else { "open" }
        )
    }

    /// Apply `fault` to requests whose path starts with `prefix`; `times` = None: until cleared.
    pub fn fault(&self, prefix: &str, fault: Fault, times: Option<u32>) {
        if let Ok(mut s) = self.state.lock() {
            s.faults
                .retain(|r| r.path_prefix != prefix || r.header.is_some());
            s.faults.push(FaultRule {
                path_prefix: prefix.into(),
                header: None,
                body: None,
                fault,
                remaining: times,
            });
        }
    }

    /// Apply `fault` to every request whose header `name` is `value` (DynamoDB's
    /// `X-Amz-Target: DynamoDB_20120810.UpdateItem`, say), until cleared.
    pub fn fault_if_header(&self, name: &str, value: &str, fault: Fault) {
        if let Ok(mut s) = self.state.lock() {
            s.faults.push(FaultRule {
                path_prefix: String::new(),
                header: Some((name.into(), value.into())),
                body: None,
                fault,
                remaining: None,
            });
        }
    }

    /// Apply `fault` to every request whose header `name` is `value` and whose body
    /// contains `body` (a `GetItem` of one breaker's record, say), until cleared.
    pub fn fault_if_body(&self, name: &str, value: &str, body: &str, fault: Fault) {
        if let Ok(mut s) = self.state.lock() {
            s.faults.push(FaultRule {
                path_prefix: String::new(),
                header: Some((name.into(), value.into())),
                body: Some(body.into()),
                fault,
                remaining: None,
            });
        }
    }

    /// Apply `faults` to the next requests under `prefix`, one each, in turn; then none.
    pub fn faults_in_turn(&self, prefix: &str, faults: &[Fault]) {
        if let Ok(mut s) = self.state.lock() {
            s.faults.retain(|r| r.path_prefix != prefix);
            s.faults.extend(faults.iter().map(|f| FaultRule {
                path_prefix: prefix.into(),
                header: None,
                body: None,
                fault: f.clone(),
                remaining: Some(1),
            }));
        }
    }

    pub fn clear_faults(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.faults.clear();
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state
            .lock()
            .map(|s| s.requests.clone())
            .unwrap_or_default()
    }

    pub fn count(&self, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .count()
    }

    /// Requests that reached exactly `path` with `method` (`"*"`: any method).
    pub fn hits(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path == path && (method == "*" || r.method == method))
            .count()
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

async fn serve(
    mut sock: TcpStream,
    st: Arc<Mutex<State>>,
    handler: Arc<Handler>,
    base: String,
) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let req = Request {
        method,
        path: path.to_string(),
        query: parse_form(query),
        headers,
        body,
        at: std::time::Instant::now(),
    };

    let fault = {
        let mut s = st.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        s.requests.push(req.clone());
        let rule = s.faults.iter_mut().find(|r| {
            req.path.starts_with(&r.path_prefix)
                && r.remaining != Some(0)
                && r.header
                    .as_ref()
                    .is_none_or(|(k, v)| req.header(k) == Some(v.as_str()))
                && r.body
                    .as_ref()
                    .is_none_or(|b| req.body.contains(b.as_str()))
        });
        rule.map(|r| {
            if let Some(n) = r.remaining.as_mut() {
                *n -= 1;
            }
            r.fault.clone()
        })
    };
    let resp = match fault {
        Some(Fault::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(());
        }
        Some(Fault::Reset) => return reset(sock),
        Some(Fault::ResetAfterHandling) => {
            handler(&req, &base);
            return reset(sock);
        }
        Some(Fault::HangAfterHandling) => {
            handler(&req, &base);
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(());
        }
        Some(Fault::Slow(d)) => {
            tokio::time::sleep(d).await;
            handler(&req, &base)
        }
        Some(Fault::SlowBetween(lo, hi)) => {
            let span = hi.saturating_sub(lo).as_millis() as u64;
            let extra = rand::random::<u64>() % span.max(1);
            tokio::time::sleep(lo + Duration::from_millis(extra)).await;
            handler(&req, &base)
        }
        Some(Fault::Status(s)) => Response::json(
            s,
            &serde_json::json!([{"errorCode": "FAULT", "message": "injected"}]),
        ),
        Some(Fault::TooMany { retry_after_s }) => Response {
            status: 429,
            headers: vec![("Retry-After".into(), retry_after_s.to_string())],
            body: "{}".into(),
        },
        Some(Fault::Respond(r)) => r,
        Some(Fault::Garbage) => Response {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: "<html>502 Bad Gateway</html>{".into(),
        },
        None => handler(&req, &base),
    };
    let mut out = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        resp.status,
        resp.body.len()
    );
    for (k, v) in &resp.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&resp.body);
    sock.write_all(out.as_bytes()).await?;
    sock.shutdown().await?;
    Ok(())
}

/// Close with RST: SO_LINGER 0 makes close send it.
fn reset(sock: TcpStream) -> anyhow::Result<()> {
    let std_sock = sock.into_std()?;
    socket2::SockRef::from(&std_sock).set_linger(Some(Duration::ZERO))?;
    drop(std_sock);
    Ok(())
}
