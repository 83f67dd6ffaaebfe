//! The fetch policy (`compute_market_sdk::store::FetchPolicy`) against real things: files,
//! FIFOs and symbolic links in a temporary directory, and a small HTTP/1.1 server on loopback
//! that serves a blob, redirects, and trickles one byte per second (a tarpit).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use compute_market_job::sha256;
use compute_market_sdk::store::{
    fetch_verified, fetch_verified_with, FetchPolicy, FileRoots, Scheme, StoreError, Timeouts,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MIB: u64 = 1024 * 1024;
const BLOB: &[u8] = b"@compute @workgroup_size(1) fn main() {}";

/// The default policy with `file://` allowed under `roots`.
fn files_under(roots: &[&Path]) -> FetchPolicy {
    FetchPolicy {
        schemes: BTreeSet::from([Scheme::File]),
        file_roots: FileRoots::Under(roots.iter().map(|r| r.to_path_buf()).collect()),
        ..FetchPolicy::default()
    }
}

/// The default policy with plain HTTP allowed (the test server speaks no TLS).
fn http_policy(allow_private_addresses: bool) -> FetchPolicy {
    FetchPolicy {
        schemes: BTreeSet::from([Scheme::Http]),
        allow_private_addresses,
        ..FetchPolicy::default()
    }
}

fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[track_caller]
fn assert_refused(result: Result<Vec<u8>, StoreError>, uri: &str, reason_part: &str) {
    match result {
        Err(StoreError::Refused { uri: u, reason }) => {
            assert_eq!(u, uri);
            assert!(
                reason.contains(reason_part),
                "{reason:?} lacks {reason_part:?}"
            );
        }
        other => panic!("{uri}: expected Refused ({reason_part}), got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// file://
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn file_is_refused_unless_enabled() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("blob");
    std::fs::write(&path, BLOB).unwrap();
    let uri = file_uri(&path);
    let err = fetch_verified_with(&uri, &sha256(BLOB), MIB, &FetchPolicy::default()).await;
    assert_refused(err, &uri, "file:// is disabled");
    assert_eq!(
        StoreError::Refused {
            uri: uri.clone(),
            reason: "file:// is disabled".into()
        }
        .to_string(),
        format!("refused: file:// is disabled (blob {uri})")
    );
    // Enabled with no directories: still nothing.
    let err = fetch_verified_with(&uri, &sha256(BLOB), MIB, &files_under(&[])).await;
    assert_refused(err, &uri, "no file:// directories are allowed");
    // Enabled under its directory: read.
    let policy = files_under(&[tmp.path()]);
    let got = fetch_verified_with(&uri, &sha256(BLOB), MIB, &policy).await;
    assert_eq!(got.unwrap(), BLOB);
}

#[tokio::test]
async fn file_outside_the_roots_is_refused_even_through_a_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("blobs");
    let outside = tmp.path().join("secrets");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let secret = outside.join("key.json");
    std::fs::write(&secret, b"[1,2,3]").unwrap();
    let policy = files_under(&[&root]);

    let uri = file_uri(&secret);
    let err = fetch_verified_with(&uri, &sha256(b"[1,2,3]"), MIB, &policy).await;
    assert_refused(err, &uri, "outside the allowed directories");

    // A link inside the root that leads out of it.
    let link = root.join("innocent");
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    let uri = file_uri(&link);
    let err = fetch_verified_with(&uri, &sha256(b"[1,2,3]"), MIB, &policy).await;
    assert_refused(err, &uri, "resolves to");

    // `..` never gets that far.
    let uri = format!("{}/../secrets/key.json", file_uri(&root));
    let err = fetch_verified_with(&uri, &sha256(b"[1,2,3]"), MIB, &policy).await;
    assert!(matches!(err, Err(StoreError::InvalidUri { .. })), "{err:?}");

    // A root reached through a link of its own works, and links inside the root are fine.
    let root_link = tmp.path().join("blobs-link");
    std::os::unix::fs::symlink(&root, &root_link).unwrap();
    std::fs::write(root.join("blob"), BLOB).unwrap();
    std::os::unix::fs::symlink(root.join("blob"), root.join("alias")).unwrap();
    let via_link = files_under(&[&root_link]);
    for uri in [
        file_uri(&root_link.join("blob")),
        file_uri(&root.join("alias")),
    ] {
        let got = fetch_verified_with(&uri, &sha256(BLOB), MIB, &via_link).await;
        assert_eq!(got.unwrap(), BLOB, "{uri}");
    }
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn a_fifo_is_refused_at_once_instead_of_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("pipe");
    mkfifo(&fifo);
    let uri = file_uri(&fifo);
    for policy in [files_under(&[tmp.path()]), FetchPolicy::permissive()] {
        let started = Instant::now();
        let fetch = fetch_verified_with(&uri, &[0; 32], MIB, &policy);
        let Ok(result) = tokio::time::timeout(Duration::from_secs(5), fetch).await else {
            // Unblock the reader stuck in open(2), so the runtime can shut down.
            let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
            panic!("fetching a FIFO hung");
        };
        match result {
            Err(StoreError::InvalidUri { reason, .. }) => {
                assert!(reason.contains("not a regular file (a FIFO)"), "{reason}");
            }
            other => panic!("expected InvalidUri, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    // A device is no blob either.
    let err = fetch_verified("file:///dev/zero", &[0; 32], MIB).await;
    assert!(
        matches!(&err, Err(StoreError::InvalidUri { reason, .. }) if reason.contains("a device")),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// http://
// ---------------------------------------------------------------------------------------------

/// A minimal HTTP/1.1 server, one request per connection, counting connections:
/// * `GET /blob` answers [`BLOB`];
/// * `GET /redirect` answers 302 to `/blob`, `GET /loop` 302 to itself, and `GET /to-https`
///   302 to `https://` on the same port;
/// * `GET /tarpit` announces 1000 bytes and sends one per second.
struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Server {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(sock, addr));
            }
        });
        Self { addr, connections }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn serve(mut sock: TcpStream, addr: SocketAddr) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
    let redirect = |to: String| {
        format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    };
    let reply = match path.as_str() {
        "/blob" => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                BLOB.len()
            )
            .into_bytes();
            r.extend_from_slice(BLOB);
            r
        }
        "/redirect" => redirect("/blob".into()).into_bytes(),
        "/loop" => redirect("/loop".into()).into_bytes(),
        "/to-https" => redirect(format!("https://{addr}/blob")).into_bytes(),
        "/tarpit" => {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n";
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for _ in 0..1000 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if sock.write_all(b"x").await.is_err() {
                    return;
                }
            }
            return;
        }
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
    };
    let _ = sock.write_all(&reply).await;
    let _ = sock.shutdown().await;
}

#[tokio::test]
async fn loopback_and_other_private_literals_are_refused_before_connecting() {
    let server = Server::start().await;
    let strict = http_policy(false);
    let port = server.addr.port();
    for (uri, reason) in [
        (server.url("/blob"), "127.0.0.1 is a loopback address"),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/blob"),
            "::ffff:127.0.0.1 is a loopback address",
        ),
        (
            format!("http://[::1]:{port}/blob"),
            "::1 is a loopback address",
        ),
        (
            format!("http://2130706433:{port}/blob"),
            "127.0.0.1 is a loopback address",
        ),
        (
            format!("http://0.0.0.0:{port}/blob"),
            "0.0.0.0 is an unspecified address",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "169.254.169.254 is a link-local address",
        ),
        (
            "http://10.0.0.1/blob".to_string(),
            "10.0.0.1 is a private address",
        ),
        (
            "http://100.64.0.1/blob".to_string(),
            "100.64.0.1 is a shared (CGNAT) address",
        ),
        (
            "http://[fe80::1]/blob".to_string(),
            "fe80::1 is a link-local address",
        ),
        (
            "http://[fd00::1]/blob".to_string(),
            "fd00::1 is a private (unique local) address",
        ),
    ] {
        let started = Instant::now();
        let result = fetch_verified_with(&uri, &sha256(BLOB), MIB, &strict).await;
        assert_refused(result, &uri, reason);
        assert!(started.elapsed() < Duration::from_secs(1), "{uri}");
    }
    assert_eq!(server.connections(), 0, "nothing was sent");
    // The default policy refuses plain HTTP altogether, and the metadata service over https.
    let uri = server.url("/blob");
    let result = fetch_verified_with(&uri, &sha256(BLOB), MIB, &FetchPolicy::default()).await;
    assert_refused(result, &uri, "http:// is disabled");
    let uri = "https://169.254.169.254/latest/meta-data/";
    let result = fetch_verified_with(uri, &sha256(BLOB), MIB, &FetchPolicy::default()).await;
    assert_refused(result, uri, "169.254.169.254 is a link-local address");
    assert_eq!(server.connections(), 0);
    // An operator's switch allows a LAN (here: loopback) server.
    let got =
        fetch_verified_with(&server.url("/blob"), &sha256(BLOB), MIB, &http_policy(true)).await;
    assert_eq!(got.unwrap(), BLOB);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_refused() {
    let server = Server::start().await;
    let uri = format!("http://localhost:{}/blob", server.addr.port());
    let result = fetch_verified_with(&uri, &sha256(BLOB), MIB, &http_policy(false)).await;
    assert_refused(result, &uri, "localhost resolves to");
    let result = fetch_verified_with(&uri, &sha256(BLOB), MIB, &http_policy(false)).await;
    assert_refused(result, &uri, "a loopback address");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn redirects_are_refused_unless_enabled_and_every_hop_is_checked() {
    let server = Server::start().await;
    let uri = server.url("/redirect");
    let result = fetch_verified_with(&uri, &sha256(BLOB), MIB, &http_policy(true)).await;
    assert_refused(
        result,
        &uri,
        "redirect (302 Found) to /blob: redirects are not followed",
    );

    let follow = FetchPolicy {
        max_redirects: 2,
        ..http_policy(true)
    };
    let got = fetch_verified_with(&uri, &sha256(BLOB), MIB, &follow).await;
    assert_eq!(got.unwrap(), BLOB);
    let uri = server.url("/loop");
    let result = fetch_verified_with(&uri, &sha256(BLOB), MIB, &follow).await;
    assert_refused(result, &uri, "more than 2 redirects");
    // A hop to a scheme the policy does not allow.
    let uri = server.url("/to-https");
    let result = fetch_verified_with(&uri, &sha256(BLOB), MIB, &follow).await;
    assert_refused(result, &uri, "/blob: https:// is disabled");
}

#[tokio::test]
async fn a_tarpit_ends_at_the_deadline() {
    let server = Server::start().await;
    let policy = FetchPolicy {
        timeouts: Timeouts {
            connect: Duration::from_secs(1),
            total: Duration::from_secs(2),
        },
        ..http_policy(true)
    };
    let uri = server.url("/tarpit");
    let started = Instant::now();
    let err = fetch_verified_with(&uri, &[0; 32], MIB, &policy)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(&err, StoreError::TimedOut { uri: u, after } if *u == uri && *after == Duration::from_secs(2)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("timed out after 2 s fetching {uri}")
    );
    assert!(
        elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn one_slow_host_gets_at_most_its_share_of_downloads() {
    let server = Server::start().await;
    let policy = FetchPolicy {
        max_per_host: NonZeroUsize::new(1),
        timeouts: Timeouts {
            connect: Duration::from_secs(1),
            total: Duration::from_secs(2),
        },
        ..http_policy(true)
    };
    let tarpit = server.url("/tarpit");
    let slow = {
        let (tarpit, policy) = (tarpit.clone(), policy.clone());
        tokio::spawn(async move { fetch_verified_with(&tarpit, &[0; 32], MIB, &policy).await })
    };
    while server.connections() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let uri = server.url("/blob");
    let err = fetch_verified_with(&uri, &sha256(BLOB), MIB, &policy)
        .await
        .unwrap_err();
    let host = server.addr.to_string();
    assert!(
        matches!(&err, StoreError::HostBusy { host: h, limit: 1, .. } if *h == host),
        "{err:?}"
    );
    // Other hosts are not held up: `localhost` names the same server but another slot.
    let other = format!("http://localhost:{}/blob", server.addr.port());
    let got = fetch_verified_with(&other, &sha256(BLOB), MIB, &policy).await;
    assert_eq!(got.unwrap(), BLOB);
    // Once the slow download ends, the slot is free again.
    assert!(matches!(
        slow.await.unwrap(),
        Err(StoreError::TimedOut { .. })
    ));
    let got = fetch_verified_with(&uri, &sha256(BLOB), MIB, &policy).await;
    assert_eq!(got.unwrap(), BLOB);
}

#[tokio::test]
async fn the_permissive_policy_keeps_client_flows_working() {
    // fetch_verified (the client's own blobs): loopback HTTP, redirects and files anywhere.
    let server = Server::start().await;
    assert_eq!(
        fetch_verified(&server.url("/redirect"), &sha256(BLOB), MIB)
            .await
            .unwrap(),
        BLOB
    );
    let tmp = tempfile::tempdir().unwrap();
    let path: PathBuf = tmp.path().join("blob");
    std::fs::write(&path, BLOB).unwrap();
    assert_eq!(
        fetch_verified(&file_uri(&path), &sha256(BLOB), MIB)
            .await
            .unwrap(),
        BLOB
    );
}
