//! The SDK's JSON-RPC transport: one or more endpoints, rotated on failure, with every request
//! counted by method.
//!
//! [`RotatingSender`] is a [`RpcSender`] for `solana-rpc-client`'s `RpcClient`. Each endpoint
//! is an `HttpSender` (which already waits out HTTP 429 answers, honouring `Retry-After`, up to
//! five times). When an endpoint cannot be reached, answers with an HTTP error (429 included,
//! once its retries are spent), reports itself unhealthy, or is behind the slot a read asks for
//! (`minContextSlot`), the same request goes to the next endpoint, and that one stays current
//! until it fails in turn. Program and transaction errors are answers, not failures: they are
//! returned as they are.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use solana_rpc_client::http_sender::HttpSender;
use solana_rpc_client::rpc_sender::{RpcSender, RpcTransportStats};
use solana_rpc_client_api::client_error::{ErrorKind, Result as ClientResult};
use solana_rpc_client_api::custom_error::{
    JSON_RPC_SERVER_ERROR_MIN_CONTEXT_SLOT_NOT_REACHED, JSON_RPC_SERVER_ERROR_NODE_UNHEALTHY,
};
use solana_rpc_client_api::request::{RpcError, RpcRequest};

/// Called with each request's method name (e.g. `getAccountInfo`), before it is sent to an
/// endpoint: a retry on the next endpoint counts again.
#[derive(Clone)]
pub struct RequestObserver(pub Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for RequestObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestObserver")
    }
}

/// Requests spread over endpoints, rotated on failure. See the module documentation.
pub struct RotatingSender {
    endpoints: Vec<HttpSender>,
    current: AtomicUsize,
    observer: Option<RequestObserver>,
}

impl RotatingSender {
    /// A sender over `urls` (the first is used first); `observer` sees every request. With no
    /// URL, every request fails with a clear error.
    pub fn new(urls: &[String], observer: Option<RequestObserver>) -> Self {
        Self {
            endpoints: urls.iter().map(HttpSender::new).collect(),
            current: AtomicUsize::new(0),
            observer,
        }
    }
}

/// Whether another endpoint might answer where this one failed.
fn worth_another_endpoint(kind: &ErrorKind) -> bool {
    match kind {
        ErrorKind::Io(_) | ErrorKind::Reqwest(_) | ErrorKind::Middleware(_) => true,
        ErrorKind::RpcError(RpcError::RpcResponseError { code, .. }) => matches!(
            *code,
            JSON_RPC_SERVER_ERROR_NODE_UNHEALTHY
                | JSON_RPC_SERVER_ERROR_MIN_CONTEXT_SLOT_NOT_REACHED
        ),
        _ => false,
    }
}

#[async_trait]
impl RpcSender for RotatingSender {
    async fn send(
        &self,
        request: RpcRequest,
        params: serde_json::Value,
    ) -> ClientResult<serde_json::Value> {
        let count = self.endpoints.len();
        if count == 0 {
            return Err(RpcError::RpcRequestError("no RPC endpoint configured".into()).into());
        }
        let method = request.to_string();
        let first = self.current.load(Ordering::Relaxed);
        let mut last_error = None;
        for attempt in 0..count {
            let index = (first + attempt) % count;
            if let Some(observe) = &self.observer {
                (observe.0)(&method);
            }
            match self.endpoints[index].send(request, params.clone()).await {
                Ok(value) => {
                    if attempt > 0 {
                        // Stay on the endpoint that answered, unless another request moved on.
                        let _ = self.current.compare_exchange(
                            first,
                            index,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
                    }
                    return Ok(value);
                }
                Err(e) if count > 1 && worth_another_endpoint(e.kind()) => {
                    tracing::debug!(
                        url = self.endpoints[index].url(),
                        %method,
                        error = %e,
                        "RPC endpoint failed; trying the next"
                    );
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            RpcError::RpcRequestError("every RPC endpoint failed".into()).into()
        }))
    }

    fn get_transport_stats(&self) -> RpcTransportStats {
        let mut total = RpcTransportStats::default();
        for endpoint in &self.endpoints {
            let stats = endpoint.get_transport_stats();
            total.request_count += stats.request_count;
            total.elapsed_time += stats.elapsed_time;
            total.rate_limited_time += stats.rate_limited_time;
        }
        total
    }

    fn url(&self) -> String {
        let count = self.endpoints.len().max(1);
        self.endpoints
            .get(self.current.load(Ordering::Relaxed) % count)
            .map(|e| e.url())
            .unwrap_or_default()
    }
}
