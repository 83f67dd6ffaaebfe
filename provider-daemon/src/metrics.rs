//! Prometheus metrics of the provider daemon and the HTTP endpoint serving them (hyper).
//!
//! [`Metrics`] owns its own [`Registry`] (no global state, so tests and several daemons in one
//! process do not collide); its fields are the metrics, to be updated directly
//! (`metrics.jobs_seen_total.inc()`) or through the helpers ([`Metrics::skipped`],
//! [`Metrics::failed`], [`Metrics::in_flight`]). [`serve`] answers `GET /metrics` with the text
//! exposition format until its shutdown future completes.
//!
//! Label values (`reason`) should come from a small fixed set (e.g. `reward_too_low`,
//! `timeout`, `rpc`): every distinct value is a new time series.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Buckets of [`Metrics::gpu_seconds`], in seconds.
pub const GPU_SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Buckets of [`Metrics::pickup_latency_seconds`], in seconds.
pub const PICKUP_LATENCY_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// Longest request head the server reads (hyper's smallest buffer limit); a longer one is
/// answered 431.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// How long a client has to send its request head; twice that to be served in all.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A metric could not be created or registered (a bug: names are fixed).
#[derive(Debug, thiserror::Error)]
#[error("cannot create the daemon's metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// The daemon's metrics, registered in their own registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Open jobs of the market noticed (websocket or resync), counted once per job.
    pub jobs_seen_total: IntCounter,
    /// Claim transactions sent.
    pub jobs_claimed_total: IntCounter,
    /// Jobs seen but not claimed, by `reason`.
    pub jobs_skipped_total: IntCounterVec,
    /// Jobs this provider finished successfully (result accepted).
    pub jobs_completed_total: IntCounter,
    /// Claimed jobs that failed, by `reason`.
    pub jobs_failed_total: IntCounterVec,
    /// Claimed jobs given back (they could not be run) before their commit deadline.
    pub jobs_given_back_total: IntCounter,
    /// Failed RPC requests (each failure, including those retried on another endpoint).
    pub rpc_errors_total: IntCounter,
    /// JSON-RPC requests sent, by `method` (each endpoint tried counts).
    pub rpc_requests_total: IntCounterVec,
    /// Websocket (PubSub) reconnections.
    pub websocket_reconnects_total: IntCounter,
    /// Jobs claimed and not yet finished.
    pub jobs_in_flight: IntGauge,
    /// Rewards earned, in the market mint's base units.
    pub earnings_base_units_total: IntCounter,
    /// GPU execution time per job, in seconds.
    pub gpu_seconds: Histogram,
    /// Time from a job's posting on chain to this provider's claim being sent, in seconds.
    pub pickup_latency_seconds: Histogram,
    /// One series per device served, always 1: labels `device` (index in the fleet),
    /// `adapter`, `vendor_id`, `memory_mib`.
    pub gpu_device_info: IntGaugeVec,
    /// Jobs each device ran, by `device`.
    pub gpu_jobs_total: IntCounterVec,
}

impl Metrics {
    /// Creates every metric in a fresh registry.
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| -> Result<IntCounter, MetricsError> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let counter_vec = |name: &str, help: &str| -> Result<IntCounterVec, MetricsError> {
            let c = IntCounterVec::new(Opts::new(name, help), &["reason"])?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let histogram =
            |name: &str, help: &str, buckets: &[f64]| -> Result<Histogram, MetricsError> {
                let h =
                    Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))?;
                registry.register(Box::new(h.clone()))?;
                Ok(h)
            };
        let jobs_in_flight = IntGauge::new("jobs_in_flight", "Jobs claimed and not yet finished.")?;
        registry.register(Box::new(jobs_in_flight.clone()))?;
        Ok(Metrics {
            jobs_seen_total: counter("jobs_seen_total", "Open jobs of the market noticed.")?,
            jobs_claimed_total: counter("jobs_claimed_total", "Claim transactions sent.")?,
            jobs_given_back_total: counter(
                "jobs_given_back_total",
                "Claimed jobs given back before their commit deadline.",
            )?,
            jobs_skipped_total: counter_vec(
                "jobs_skipped_total",
                "Jobs seen but not claimed, by reason.",
            )?,
            jobs_completed_total: counter(
                "jobs_completed_total",
                "Jobs finished successfully by this provider.",
            )?,
            jobs_failed_total: counter_vec(
                "jobs_failed_total",
                "Claimed jobs that failed, by reason.",
            )?,
            rpc_errors_total: counter("rpc_errors_total", "Failed RPC requests.")?,
            rpc_requests_total: {
                let c = IntCounterVec::new(
                    Opts::new("rpc_requests_total", "JSON-RPC requests sent, by method."),
                    &["method"],
                )?;
                registry.register(Box::new(c.clone()))?;
                c
            },
            websocket_reconnects_total: counter(
                "websocket_reconnects_total",
                "Websocket (PubSub) reconnections.",
            )?,
            jobs_in_flight,
            earnings_base_units_total: counter(
                "earnings_base_units_total",
                "Rewards earned, in the market mint's base units.",
            )?,
            gpu_seconds: histogram(
                "gpu_seconds",
                "GPU execution time per job, in seconds.",
                GPU_SECONDS_BUCKETS,
            )?,
            pickup_latency_seconds: histogram(
                "pickup_latency_seconds",
                "Time from a job's posting on chain to its claim being sent, in seconds.",
                PICKUP_LATENCY_BUCKETS,
            )?,
            gpu_device_info: {
                let g = IntGaugeVec::new(
                    Opts::new("gpu_device_info", "Devices served (always 1), by device."),
                    &["device", "adapter", "vendor_id", "memory_mib"],
                )?;
                registry.register(Box::new(g.clone()))?;
                g
            },
            gpu_jobs_total: {
                let c = IntCounterVec::new(
                    Opts::new("gpu_jobs_total", "Jobs each device ran, by device."),
                    &["device"],
                )?;
                registry.register(Box::new(c.clone()))?;
                c
            },
            registry,
        })
    }

    /// Records device `index` of the fleet in `gpu_device_info`.
    pub fn device_info(&self, index: usize, adapter: &crate::gpu::AdapterSummary) {
        let memory = adapter
            .memory_bytes
            .map_or_else(|| "unknown".to_string(), |b| (b >> 20).to_string());
        self.gpu_device_info
            .with_label_values(&[
                index.to_string().as_str(),
                adapter.name.as_str(),
                format!("{:#x}", adapter.vendor_id).as_str(),
                memory.as_str(),
            ])
            .set(1);
    }

    /// Counts a job run on device `index`: `gpu_jobs_total{device}` + 1.
    pub fn device_job(&self, index: usize) {
        self.gpu_jobs_total
            .with_label_values(&[index.to_string().as_str()])
            .inc();
    }

    /// The registry holding these metrics (to register more collectors).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts a skipped job: `jobs_skipped_total{reason}` + 1.
    pub fn skipped(&self, reason: &str) {
        self.jobs_skipped_total.with_label_values(&[reason]).inc();
    }

    /// Counts a failed job: `jobs_failed_total{reason}` + 1.
    pub fn failed(&self, reason: &str) {
        self.jobs_failed_total.with_label_values(&[reason]).inc();
    }

    /// Increments `jobs_in_flight` until the returned guard is dropped.
    pub fn in_flight(&self) -> InFlightGuard {
        self.jobs_in_flight.inc();
        InFlightGuard {
            gauge: self.jobs_in_flight.clone(),
        }
    }

    /// Every metric in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "cannot encode metrics");
            out.push_str(&format!("# error encoding metrics: {e}\n"));
        }
        out
    }
}

/// Holds one unit of `jobs_in_flight`; see [`Metrics::in_flight`].
#[derive(Debug)]
#[must_use = "jobs_in_flight goes back down when the guard is dropped"]
pub struct InFlightGuard {
    gauge: IntGauge,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// Serves `GET /metrics` (and `HEAD`) on `addr` until `shutdown` completes; every other path is
/// answered 404, other methods 405. Fails only if `addr` cannot be bound.
pub async fn serve(
    metrics: Arc<Metrics>,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot listen for metrics on {addr} (`metrics_addr`): {e}"),
        )
    })?;
    serve_listener(metrics, listener, shutdown).await
}

/// [`serve`] on a listener that is already bound (e.g. to port 0, to learn the port first).
/// Each connection serves one request (HTTP/1, `Connection: close`) with hyper; connections
/// still open at shutdown are dropped.
pub async fn serve_listener(
    metrics: Arc<Metrics>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving metrics at /metrics");
    }
    tokio::pin!(shutdown);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(metrics.clone(), stream));
                }
                Err(e) => {
                    // Out of file descriptors, a connection reset before accept, …: keep serving.
                    tracing::warn!(error = %e, "metrics server: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
    Ok(())
}

async fn serve_connection(metrics: Arc<Metrics>, stream: TcpStream) {
    let service = service_fn(move |request: Request<Incoming>| {
        let response = respond(&metrics, request.method(), request.uri().path());
        async move { Ok::<_, Infallible>(response) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(IO_TIMEOUT)
        .max_buf_size(MAX_REQUEST_HEAD)
        .keep_alive(false)
        .title_case_headers(true)
        .serve_connection(TokioIo::new(stream), service);
    // Closed, malformed (answered 400 by hyper) or too slow: nothing more to do.
    let _ = tokio::time::timeout(2 * IO_TIMEOUT, connection).await;
}

/// The response to `method` on `path`.
fn respond(metrics: &Metrics, method: &Method, path: &str) -> Response<Full<Bytes>> {
    let (status, body, content_type) = match (path, method) {
        ("/metrics", &Method::GET | &Method::HEAD) => (
            StatusCode::OK,
            metrics.render(),
            format!("{}; charset=utf-8", prometheus::TEXT_FORMAT),
        ),
        ("/metrics", _) => (
            StatusCode::METHOD_NOT_ALLOWED,
            "use GET\n".to_string(),
            "text/plain; charset=utf-8".to_string(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "not found: metrics are at /metrics\n".to_string(),
            "text/plain; charset=utf-8".to_string(),
        ),
    };
    // hyper sends no body in answer to HEAD, and the length of the one it would have sent.
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    }
    response
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const NAMES: [&str; 13] = [
        "jobs_seen_total",
        "jobs_claimed_total",
        "jobs_given_back_total",
        "jobs_skipped_total",
        "jobs_completed_total",
        "jobs_failed_total",
        "rpc_errors_total",
        "rpc_requests_total",
        "websocket_reconnects_total",
        "jobs_in_flight",
        "earnings_base_units_total",
        "gpu_seconds",
        "pickup_latency_seconds",
    ];

    fn touched() -> Metrics {
        let m = Metrics::new().expect("metrics");
        m.jobs_seen_total.inc();
        m.jobs_claimed_total.inc();
        m.jobs_given_back_total.inc();
        m.skipped("reward_too_low");
        m.jobs_completed_total.inc();
        m.failed("timeout");
        m.rpc_errors_total.inc();
        m.rpc_requests_total
            .with_label_values(&["getAccountInfo"])
            .inc();
        m.websocket_reconnects_total.inc();
        m.jobs_in_flight.set(2);
        m.earnings_base_units_total.inc_by(1_500);
        m.gpu_seconds.observe(0.3);
        m.pickup_latency_seconds.observe(4.0);
        m
    }

    #[test]
    fn render_contains_every_metric() {
        let text = touched().render();
        for name in NAMES {
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} missing:\n{text}"
            );
        }
        assert!(text.contains("jobs_seen_total 1"), "{text}");
        assert!(
            text.contains("jobs_skipped_total{reason=\"reward_too_low\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("jobs_failed_total{reason=\"timeout\"} 1"),
            "{text}"
        );
        assert!(text.contains("earnings_base_units_total 1500"), "{text}");
        assert!(
            text.contains("rpc_requests_total{method=\"getAccountInfo\"} 1"),
            "{text}"
        );
        assert!(text.contains("jobs_in_flight 2"), "{text}");
        assert!(text.contains("gpu_seconds_bucket{le=\"0.5\"} 1"), "{text}");
        assert!(text.contains("pickup_latency_seconds_count 1"), "{text}");
    }

    #[test]
    fn registries_are_independent_and_guard_decrements() {
        let a = Metrics::new().expect("a");
        let b = Metrics::new().expect("b");
        a.jobs_seen_total.inc();
        assert_eq!(b.jobs_seen_total.get(), 0);
        {
            let _one = a.in_flight();
            let _two = a.in_flight();
            assert_eq!(a.jobs_in_flight.get(), 2);
        }
        assert_eq!(a.jobs_in_flight.get(), 0);
    }

    async fn request(addr: SocketAddr, raw: &str) -> String {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(raw.as_bytes()).await.expect("send");
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut out))
            .await
            .expect("response in time")
            .expect("read");
        out
    }

    /// Signals shutdown and waits (5 s at most) for `serve` to return `Ok`.
    async fn stop_and_join(
        stop: tokio::sync::oneshot::Sender<()>,
        server: tokio::task::JoinHandle<io::Result<()>>,
    ) {
        stop.send(()).expect("stop");
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("server stops")
            .expect("join")
            .expect("serve result");
    }

    #[tokio::test]
    async fn serves_metrics_and_404_then_stops_on_shutdown() {
        let metrics = Arc::new(touched());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_listener(metrics.clone(), listener, async {
            let _ = stopped.await;
        }));

        let ok = request(addr, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains("Content-Type: text/plain; version=0.0.4"),
            "{ok}"
        );
        assert!(ok.contains("\r\n\r\n# HELP "), "{ok}");
        assert!(ok.contains("jobs_seen_total 1"), "{ok}");
        let (head, body) = ok.split_once("\r\n\r\n").expect("head and body");
        assert!(
            head.contains(&format!("Content-Length: {}", body.len())),
            "{head}"
        );

        // An HTTP/1.0 client is answered in HTTP/1.0.
        let with_query = request(addr, "GET /metrics?x=1 HTTP/1.0\r\n\r\n").await;
        assert!(with_query.starts_with("HTTP/1.0 200 OK"), "{with_query}");
        let head_only = request(addr, "HEAD /metrics HTTP/1.1\r\n\r\n").await;
        assert!(head_only.starts_with("HTTP/1.1 200 OK") && head_only.ends_with("\r\n\r\n"));
        let not_found = request(addr, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
        assert!(
            not_found.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{not_found}"
        );
        let post = request(addr, "POST /metrics HTTP/1.1\r\n\r\n").await;
        assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
        let garbage = request(addr, "hello\r\n\r\n").await;
        assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");

        // A client that connects and says nothing does not hold up shutdown.
        let _idle = TcpStream::connect(addr).await.expect("idle connect");
        stop_and_join(stop, server).await;
        assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
    }

    #[tokio::test]
    async fn serve_binds_the_address_and_reports_bind_errors() {
        // Learn a free port, release it, and let `serve` bind it.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(Arc::new(touched()), addr, async {
            let _ = stopped.await;
        }));
        let mut response = String::new();
        for _ in 0..100 {
            if let Ok(mut s) = TcpStream::connect(addr).await {
                s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n")
                    .await
                    .expect("send");
                s.read_to_string(&mut response).await.expect("read");
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(response.contains("pickup_latency_seconds"), "{response}");

        // The address is taken now: a second server fails, naming it.
        let err = serve(Arc::new(touched()), addr, std::future::pending())
            .await
            .expect_err("address in use");
        assert!(err.to_string().contains(&addr.to_string()), "{err}");

        stop_and_join(stop, server).await;
    }
}
