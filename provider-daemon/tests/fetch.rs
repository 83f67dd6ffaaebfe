//! The daemon's `[fetch]` policy end to end: real local node (embedded Surfpool), the daemon as
//! a child process driven by its settings file, and a tarpit HTTP server on loopback that
//! answers one byte per second. Blob URIs the policy refuses are skipped with their reason, and
//! a slow blob server delays other jobs by at most the download deadline.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::node::*;
use compute_market_localnet::LocalNet;
use compute_market_sdk::{Client, JobHandle, ValidatedJob};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

/// A server that accepts, reads the request, announces a large body and sends one byte per
/// second. Counts connections ever made and those still open.
struct Tarpit {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
}

impl Tarpit {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let (a, o) = (accepted.clone(), open.clone());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                o.fetch_add(1, Ordering::SeqCst);
                let o = o.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    let head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
                    if sock.write_all(head.as_bytes()).await.is_ok() {
                        loop {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            if sock.write_all(b"x").await.is_err() {
                                break;
                            }
                        }
                    }
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            addr,
            accepted,
            open,
        }
    }

    fn uri(&self) -> String {
        format!("http://{}/tarpit/shader", self.addr)
    }
}

/// A daemon whose `[fetch]` also allows plain HTTP to loopback (where the tarpit is), with a
/// download deadline of `total_timeout`. The resync is slowed down so that only websocket
/// notifications bring jobs in: today the daemon prepares jobs inside its discovery loop, and
/// every resync queues the tarpit job again behind the one being fetched.
async fn tarpit_daemon(net: &LocalNet, dir: &std::path::Path, total_timeout: &str) -> Daemon {
    let setup = provider(net, dir, "p", "").await;
    setup.edit_config(&[
        (
            "schemes = [\"https\", \"s3\", \"file\"]",
            &format!(
                "schemes = [\"https\", \"s3\", \"file\", \"http\"]\nallow_private_addresses = true\n\
                 total_timeout = \"{total_timeout}\""
            ),
        ),
        ("resync_interval = \"1s\"", "resync_interval = \"60s\""),
    ]);
    start(&setup, dir, "p")
}

/// Posts a job whose shader is at the tarpit and waits until the daemon is downloading it.
async fn post_tarpit_job(client: &Client, job: &ValidatedJob, tarpit: &Tarpit, daemon: &Daemon) {
    let input = client
        .store()
        .unwrap()
        .put(&job.descriptor.input)
        .await
        .unwrap();
    client
        .submit_uploaded(job, &tarpit.uri(), &input, rand::random())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while tarpit.accepted.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "never fetched: {}", daemon.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long until `handle`'s job has a claim (at most `limit`).
async fn time_to_claim(handle: &JobHandle, limit: Duration, daemon: &Daemon) -> Duration {
    let started = Instant::now();
    while handle.job().await.unwrap().claimed == 0 {
        assert!(
            started.elapsed() < limit,
            "not claimed within {limit:?}: {}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

#[test]
fn refused_blob_uris_are_skipped_with_their_reason() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        // The usual test settings: https, s3, and file:// in the node's blob directory only.
        let setup = provider(&net, dir.path(), "p", "").await;
        let daemon = start(&setup, dir.path(), "p");
        let client = client(&net).await;
        let (job, expected) = vector_job(1, 1);
        let input = client
            .store()
            .unwrap()
            .put(&job.descriptor.input)
            .await
            .unwrap();
        let refused = [
            (
                "file:///etc/passwd",
                "refused: /etc/passwd is outside the allowed directories",
            ),
            (
                "http://169.254.169.254/latest/meta-data/",
                "refused: http:// is disabled",
            ),
            (
                "https://169.254.169.254/latest/",
                "refused: 169.254.169.254 is a link-local address",
            ),
            (
                "https://127.0.0.1:9/shader",
                "refused: 127.0.0.1 is a loopback address",
            ),
            (
                "https://localhost:9/shader",
                "refused: localhost resolves to",
            ),
        ];
        let mut handles = Vec::new();
        for (uri, _) in refused {
            let handle = client
                .submit_uploaded(&job, uri, &input, rand::random())
                .await
                .unwrap();
            handles.push(handle);
        }
        // A good job after them is run as usual.
        let good = client.submit(&job).await.unwrap();
        let settled = wait_settled(&good, &[&daemon]).await;
        assert_eq!(
            settled.result_hash,
            compute_market_job::result_hash(&expected)
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        for (uri, reason) in refused {
            while !daemon
                .log()
                .lines()
                .any(|l| l.contains("skipping job") && l.contains(reason) && l.contains(uri))
            {
                assert!(
                    Instant::now() < deadline,
                    "no {reason:?} for {uri}: {}",
                    daemon.log()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        for handle in &handles {
            assert_eq!(handle.job().await.unwrap().claimed, 0);
        }
    });
}

#[test]
fn a_tarpit_download_ends_at_its_deadline_and_the_next_job_is_served() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        let tarpit = Tarpit::start().await;
        let daemon = tarpit_daemon(&net, dir.path(), "2s").await;
        let client = client(&net).await;
        let (job, _) = vector_job(1, 1);
        post_tarpit_job(&client, &job, &tarpit, &daemon).await;
        let good = client.submit(&job).await.unwrap();
        // The tarpit's download ends at its 2 s deadline; then the good job is claimed.
        let waited = time_to_claim(&good, Duration::from_secs(8), &daemon).await;
        eprintln!("good job claimed {waited:?} after posting, behind a tarpit with a 2 s deadline");
        // The tarpit's own download ends at its deadline (it runs beside the good job's).
        let timed_out = format!("timed out after 2 s fetching {}", tarpit.uri());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !daemon.log().contains(&timed_out) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = daemon.log();
        assert!(log.contains(&timed_out), "{log}");
    });
}

#[test]
fn a_tarpit_does_not_delay_the_next_job() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        let tarpit = Tarpit::start().await;
        let daemon = tarpit_daemon(&net, dir.path(), "60s").await;
        let client = client(&net).await;
        let (job, _) = vector_job(1, 1);
        post_tarpit_job(&client, &job, &tarpit, &daemon).await;
        let good = client.submit(&job).await.unwrap();
        time_to_claim(&good, Duration::from_secs(5), &daemon).await;
        assert!(
            tarpit.open.load(Ordering::SeqCst) > 0,
            "the tarpit download is still running"
        );
    });
}
