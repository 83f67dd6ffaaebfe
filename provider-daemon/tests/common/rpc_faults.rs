//! A JSON-RPC proxy in front of the local node that misbehaves the way real RPC providers do:
//! it hides transaction confirmations (`getSignatureStatuses` answers "unknown"), answers
//! HTTP 429, and serves a stale snapshot of an account (a lagging or load-balanced node; it
//! honours `minContextSlot` the way a real node does, with error -32016).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The faults in force.
#[derive(Default)]
pub struct Faults {
    /// The status of each transaction is "unknown" the first this many times it is asked for
    /// (a confirmation that goes missing, for every transaction).
    pub hide_each_status: usize,
    /// Every n-th request gets HTTP 429.
    pub rate_limit_every: Option<usize>,
    /// A lagging node for one account.
    pub stale: Option<Stale>,
}

/// `getAccountInfo` of `address` (and `getMultipleAccounts` naming it) keeps answering the first
/// state the proxy saw of it (its `snapshot`) until `until`, unless asked for a newer slot
/// (`minContextSlot`), which a lagging node refuses with error -32016. (The other accounts of a
/// `getMultipleAccounts` come from the node, at the stale slot.)
pub struct Stale {
    /// The account (base58).
    pub address: String,
    /// Until when the node lags.
    pub until: Instant,
    /// The state it keeps serving: (slot, result), captured from the first answer with the
    /// account in it.
    pub snapshot: Option<(u64, Value)>,
}

#[derive(Default)]
struct State {
    faults: Faults,
    requests: usize,
    /// How often each signature's status was asked for.
    status_asked: HashMap<String, usize>,
    /// What was done to requests, by kind, for the test's assertions.
    counts: HashMap<&'static str, usize>,
}

/// The proxy.
pub struct RpcFaults {
    /// Where it listens (`http://{addr}`).
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl RpcFaults {
    /// Starts a proxy to the node at `upstream` (an `http://` URL).
    pub async fn start(upstream: &str) -> RpcFaults {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let http = reqwest::Client::new();
        let upstream = upstream.to_string();
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(
                    stream,
                    http.clone(),
                    upstream.clone(),
                    shared.clone(),
                ));
            }
        });
        RpcFaults { addr, state }
    }

    /// The proxy's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the faults in force.
    pub fn set(&self, faults: Faults) {
        let mut state = self.state.lock().unwrap();
        state.faults = faults;
    }

    /// How many requests got each fault.
    pub fn counts(&self) -> HashMap<&'static str, usize> {
        self.state.lock().unwrap().counts.clone()
    }
}

/// What to do with one request.
enum Action {
    Forward,
    TooMany,
    Answer(Value),
    /// Forward, then replace entry `index` of the `getMultipleAccounts` answer with the stale
    /// snapshot (and its slot).
    ForwardStale(usize),
}

fn decide(state: &mut State, request: &Value) -> Action {
    state.requests += 1;
    let method = request["method"].as_str().unwrap_or_default();
    if let Some(n) = state.faults.rate_limit_every {
        if state.requests.is_multiple_of(n) {
            *state.counts.entry("429").or_default() += 1;
            return Action::TooMany;
        }
    }
    let id = request["id"].clone();
    if method == "getSignatureStatuses" && state.faults.hide_each_status > 0 {
        let signatures: Vec<String> = request["params"][0]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let limit = state.faults.hide_each_status;
        let mut hide = false;
        for signature in &signatures {
            let asked = state.status_asked.entry(signature.clone()).or_default();
            *asked += 1;
            hide |= *asked <= limit;
        }
        if hide {
            *state.counts.entry("hidden status").or_default() += 1;
            return Action::Answer(json!({
                "jsonrpc": "2.0", "id": id,
                "result": {"context": {"slot": 0}, "value": vec![Value::Null; signatures.len().max(1)]},
            }));
        }
    }
    if method == "getMultipleAccounts" {
        if let Some(Stale {
            address,
            until,
            snapshot: Some((slot, _)),
        }) = &state.faults.stale
        {
            let index = request["params"][0]
                .as_array()
                .and_then(|keys| keys.iter().position(|k| k == address));
            if let Some(index) = index.filter(|_| Instant::now() < *until) {
                let wanted = request["params"][1]["minContextSlot"].as_u64().unwrap_or(0);
                if wanted > *slot {
                    *state.counts.entry("behind").or_default() += 1;
                    return Action::Answer(json!({
                        "jsonrpc": "2.0", "id": id,
                        "error": {"code": -32016, "message": "Minimum context slot has not been reached", "data": {"contextSlot": slot}},
                    }));
                }
                *state.counts.entry("stale").or_default() += 1;
                return Action::ForwardStale(index);
            }
        }
    }
    if method == "getAccountInfo" {
        if let Some(Stale {
            address,
            until,
            snapshot: Some((slot, result)),
        }) = &state.faults.stale
        {
            if request["params"][0] == *address && Instant::now() < *until {
                let wanted = request["params"][1]["minContextSlot"].as_u64().unwrap_or(0);
                if wanted > *slot {
                    *state.counts.entry("behind").or_default() += 1;
                    return Action::Answer(json!({
                        "jsonrpc": "2.0", "id": id,
                        "error": {"code": -32016, "message": "Minimum context slot has not been reached", "data": {"contextSlot": slot}},
                    }));
                }
                *state.counts.entry("stale").or_default() += 1;
                return Action::Answer(json!({"jsonrpc": "2.0", "id": id, "result": result}));
            }
        }
    }
    Action::Forward
}

async fn serve(
    mut stream: TcpStream,
    http: reqwest::Client,
    upstream: String,
    state: Arc<Mutex<State>>,
) {
    loop {
        let Some(body) = read_request(&mut stream).await else {
            return;
        };
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let action = decide(&mut state.lock().unwrap(), &request);
        let (status, reply) = match action {
            Action::TooMany => ("429 Too Many Requests", b"rate limited".to_vec()),
            Action::Answer(v) => ("200 OK", v.to_string().into_bytes()),
            Action::Forward | Action::ForwardStale(_) => {
                let Ok(response) = http
                    .post(&upstream)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                else {
                    return;
                };
                let Ok(bytes) = response.bytes().await else {
                    return;
                };
                remember(&state, &request, &bytes);
                match action {
                    Action::ForwardStale(index) => (
                        "200 OK",
                        stale_entry(&state, &bytes, index).unwrap_or(bytes.to_vec()),
                    ),
                    _ => ("200 OK", bytes.to_vec()),
                }
            }
        };
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nretry-after: 1\r\ncontent-length: {}\r\n\r\n",
            reply.len()
        );
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(&reply).await.is_err()
        {
            return;
        }
    }
}

/// A forwarded `getMultipleAccounts` answer with entry `index` replaced by the stale snapshot
/// and its slot.
fn stale_entry(state: &Mutex<State>, response: &[u8], index: usize) -> Option<Vec<u8>> {
    let mut response = serde_json::from_slice::<Value>(response).ok()?;
    let (slot, snapshot) = state
        .lock()
        .unwrap()
        .faults
        .stale
        .as_ref()?
        .snapshot
        .clone()?;
    response["result"]["context"]["slot"] = json!(slot);
    *response["result"]["value"].get_mut(index)? = snapshot["value"].clone();
    Some(response.to_string().into_bytes())
}

/// Captures the stale account's snapshot (`{context, value}`, as `getAccountInfo` answers) from
/// the first `getAccountInfo` or `getMultipleAccounts` answer that has it.
fn remember(state: &Mutex<State>, request: &Value, response: &[u8]) {
    let Ok(response) = serde_json::from_slice::<Value>(response) else {
        return;
    };
    let Some(slot) = response["result"]["context"]["slot"].as_u64() else {
        return;
    };
    let mut state = state.lock().unwrap();
    let Some(stale) = state.faults.stale.as_mut() else {
        return;
    };
    let value = match request["method"].as_str() {
        Some("getAccountInfo") if request["params"][0] == stale.address => {
            response["result"]["value"].clone()
        }
        Some("getMultipleAccounts") => {
            let index = request["params"][0]
                .as_array()
                .and_then(|keys| keys.iter().position(|k| *k == stale.address));
            match index {
                Some(i) => response["result"]["value"][i].clone(),
                None => return,
            }
        }
        _ => return,
    };
    if stale.snapshot.is_none() && !value.is_null() {
        let context = response["result"]["context"].clone();
        stale.snapshot = Some((slot, json!({"context": context, "value": value})));
    }
}

impl RpcFaults {
    /// The stale snapshot being served, if one was captured: (slot, result).
    pub fn stale_snapshot(&self) -> Option<(u64, Value)> {
        let state = self.state.lock().unwrap();
        state.faults.stale.as_ref()?.snapshot.clone()
    }
}

/// One HTTP/1.1 request's body (`None` at end of stream).
async fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
        if head.len() > 64 * 1024 {
            return None;
        }
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())?;
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.ok()?;
    Some(body)
}
