//! Integration tests of the content-addressed blob store (`compute_market_sdk::store`):
//! `file://` on a temporary directory, `http://` against a small real HTTP/1.1 server started in
//! the test, and the `object_store` path on `object_store::memory::InMemory`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use compute_market_job::sha256;
use compute_market_sdk::store::{fetch_verified, BlobStore, StoreError, Timeouts};
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MIB: u64 = 1024 * 1024;

fn hex_sha(bytes: &[u8]) -> String {
    hex::encode(sha256(bytes))
}

fn file_base(dir: &std::path::Path) -> String {
    format!("file://{}", dir.display())
}

// ---------------------------------------------------------------------------------------------
// file://
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn file_round_trip_is_content_addressed_and_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("blobs/nested");
    let base = file_base(&dir);
    let store = BlobStore::open(&format!("{base}/")).await.unwrap();
    assert!(dir.is_dir(), "open creates the directory");
    assert_eq!(store.base(), base, "trailing slash dropped");

    let data = b"@compute @workgroup_size(64) fn main() {}".to_vec();
    let hex = hex_sha(&data);
    let uri = store.put(&data).await.unwrap();
    assert_eq!(uri, format!("{base}/{hex}"));
    assert!(uri.ends_with(&hex));
    assert_eq!(std::fs::read(dir.join(&hex)).unwrap(), data);

    let again = store.put(&data).await.unwrap();
    assert_eq!(again, uri, "put is idempotent");
    // Only the blob itself in the directory (no leftover temporary files).
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec![hex.clone()]);

    let expected = sha256(&data);
    let got = fetch_verified(&uri, &expected, data.len() as u64)
        .await
        .unwrap();
    assert_eq!(got, data);
    let got = store
        .fetch_verified(&uri, &expected, data.len() as u64)
        .await
        .unwrap();
    assert_eq!(got, data);

    // Empty blob works too.
    let empty_uri = store.put(b"").await.unwrap();
    assert_eq!(
        empty_uri,
        format!("{base}/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    assert_eq!(
        fetch_verified(&empty_uri, &sha256(b""), 0).await.unwrap(),
        Vec::<u8>::new()
    );
}

#[tokio::test]
async fn file_tampered_blob_is_a_hash_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    let store = BlobStore::open(&file_base(tmp.path())).await.unwrap();
    let data = vec![7u8; 4096];
    let uri = store.put(&data).await.unwrap();

    let mut tampered = data.clone();
    tampered[100] ^= 1;
    std::fs::write(tmp.path().join(hex_sha(&data)), &tampered).unwrap();

    let err = fetch_verified(&uri, &sha256(&data), MIB).await.unwrap_err();
    let StoreError::HashMismatch {
        uri: err_uri,
        expected,
        actual,
    } = err
    else {
        panic!("expected HashMismatch, got {err:?}");
    };
    assert_eq!(err_uri, uri);
    assert_eq!(expected, hex_sha(&data));
    assert_eq!(actual, hex_sha(&tampered));

    // Putting the original again repairs the blob.
    assert_eq!(store.put(&data).await.unwrap(), uri);
    assert_eq!(
        fetch_verified(&uri, &sha256(&data), MIB).await.unwrap(),
        data
    );
}

#[tokio::test]
async fn file_over_the_cap_is_too_large() {
    let tmp = tempfile::tempdir().unwrap();
    let store = BlobStore::open(&file_base(tmp.path())).await.unwrap();
    let data = vec![42u8; 1000];
    let uri = store.put(&data).await.unwrap();
    let expected = sha256(&data);

    // Exactly at the cap is fine; one byte under is not.
    assert_eq!(fetch_verified(&uri, &expected, 1000).await.unwrap(), data);
    let err = fetch_verified(&uri, &expected, 999).await.unwrap_err();
    let StoreError::TooLarge {
        uri: err_uri,
        limit,
    } = err
    else {
        panic!("expected TooLarge, got {err:?}");
    };
    assert_eq!((err_uri.as_str(), limit), (uri.as_str(), 999));
}

#[tokio::test]
async fn file_size_is_checked_before_reading() {
    // A sparse 8 GiB file: reading it would take long and exhaust memory; the length check must
    // refuse it at once.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("huge");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(8 * 1024 * MIB)
        .unwrap();
    let uri = format!("file://{}", path.display());
    let started = Instant::now();
    let err = fetch_verified(&uri, &[0; 32], MIB).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::TooLarge { limit, .. } if *limit == MIB),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn file_missing_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let store = BlobStore::open(&file_base(tmp.path())).await.unwrap();
    let absent = format!("{}/{}", store.base(), hex_sha(b"never stored"));
    let err = fetch_verified(&absent, &sha256(b"never stored"), MIB)
        .await
        .unwrap_err();
    let StoreError::NotFound { uri } = err else {
        panic!("expected NotFound, got {err:?}");
    };
    assert_eq!(uri, absent);
}

#[tokio::test]
async fn file_bad_uris_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir_uri = file_base(tmp.path());
    for uri in [
        "file://relative/path",
        "file://./blob",
        "file://",
        "file://host.example/abs/path",
        &format!("{dir_uri}/../etc/passwd"),
        &format!("{dir_uri}/blob?x=1"),
        // A directory is not a blob.
        &dir_uri,
    ] {
        let err = fetch_verified(uri, &[0; 32], MIB).await.unwrap_err();
        let StoreError::InvalidUri {
            uri: err_uri,
            reason,
        } = &err
        else {
            panic!("{uri}: expected InvalidUri, got {err:?}");
        };
        assert_eq!(err_uri, uri);
        assert!(!reason.is_empty());
    }
    for uri in [
        "not a uri",
        "/abs/path/without/scheme",
        "://nothing",
        "1http://x/y",
    ] {
        let err = fetch_verified(uri, &[0; 32], MIB).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::InvalidUri { uri: u, .. } if u == uri),
            "{uri}: {err:?}"
        );
    }
    for uri in ["ftp://example.com/blob", "gs://bucket/key", "FTP://x/y"] {
        let err = fetch_verified(uri, &[0; 32], MIB).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::UnsupportedScheme { uri: u } if u == uri),
            "{uri}: {err:?}"
        );
    }
    // Messages name the URI.
    let err = fetch_verified("ftp://example.com/blob", &[0; 32], MIB)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ftp://example.com/blob"), "{err}");
}

#[tokio::test]
async fn open_rejects_bad_bases() {
    for base in [
        "relative/dir",
        "file://relative/dir",
        "http://",
        "http://h/b?q=1",
    ] {
        let err = BlobStore::open(base).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::InvalidUri { uri, .. } if uri == base),
            "{base}: {err:?}"
        );
    }
    let err = BlobStore::open("ftp://example.com/blobs")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::UnsupportedScheme { uri } if uri == "ftp://example.com/blobs"),
        "{err:?}"
    );
    // A base that is an existing regular file cannot become a directory.
    let tmp = tempfile::NamedTempFile::new().unwrap();
    let base = format!("file://{}", tmp.path().display());
    let err = BlobStore::open(&base).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Io { uri, .. } if *uri == base),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// http://
// ---------------------------------------------------------------------------------------------

type Blobs = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// A minimal HTTP/1.1 server, one request per connection (`Connection: close`):
/// * `PUT /blobs/{name}` stores the body, `GET /blobs/{name}` returns it or 404;
/// * `PUT /readonly/{name}` answers 403;
/// * `GET /big` announces (and sends) 1 MiB with `Content-Length`;
/// * `GET /endless` streams chunked data forever (no `Content-Length`);
/// * `GET /short` announces 100 bytes, sends 10, and closes;
/// * `GET /status500` answers 500;
/// * anything under `/hang` reads the request and never answers.
struct TestServer {
    addr: SocketAddr,
    blobs: Blobs,
}

impl TestServer {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let blobs: Blobs = Arc::default();
        let shared = blobs.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(handle(sock, shared.clone()));
            }
        });
        Self { addr, blobs }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn read_request(sock: &mut TcpStream) -> Option<(String, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let path = request_line.next()?.to_string();
    let content_length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.trim().parse::<usize>().unwrap());
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < content_length {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Some((method, path, body))
}

async fn respond(sock: &mut TcpStream, status: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.write_all(body).await;
    let _ = sock.shutdown().await;
}

async fn handle(mut sock: TcpStream, blobs: Blobs) {
    let Some((method, path, body)) = read_request(&mut sock).await else {
        return;
    };
    if path.starts_with("/hang") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return;
    }
    match (method.as_str(), path.as_str()) {
        ("PUT", p) if p.starts_with("/blobs/") => {
            blobs
                .lock()
                .unwrap()
                .insert(p["/blobs/".len()..].to_string(), body);
            respond(&mut sock, "201 Created", b"").await;
        }
        ("PUT", p) if p.starts_with("/readonly/") => {
            respond(&mut sock, "403 Forbidden", b"read-only store").await;
        }
        ("GET", p) if p.starts_with("/blobs/") => {
            let blob = blobs.lock().unwrap().get(&p["/blobs/".len()..]).cloned();
            match blob {
                Some(blob) => respond(&mut sock, "200 OK", &blob).await,
                None => respond(&mut sock, "404 Not Found", b"no such blob").await,
            }
        }
        ("GET", "/big") => respond(&mut sock, "200 OK", &vec![1u8; MIB as usize]).await,
        ("GET", "/endless") => {
            let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let mut chunk = b"2000\r\n".to_vec();
            chunk.extend_from_slice(&[9u8; 0x2000]);
            chunk.extend_from_slice(b"\r\n");
            // Until the client hangs up.
            while sock.write_all(&chunk).await.is_ok() {}
        }
        ("GET", "/short") => {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n";
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(&[3u8; 10]).await;
            let _ = sock.shutdown().await;
        }
        ("GET", "/status500") => respond(&mut sock, "500 Internal Server Error", b"boom").await,
        _ => respond(&mut sock, "404 Not Found", b"").await,
    }
}

#[tokio::test]
async fn http_round_trip_is_content_addressed_and_idempotent() {
    let server = TestServer::start().await;
    let base = server.url("/blobs");
    let store = BlobStore::open(&format!("{base}/")).await.unwrap();
    assert_eq!(store.base(), base);

    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let hex = hex_sha(&data);
    let uri = store.put(&data).await.unwrap();
    assert_eq!(uri, format!("{base}/{hex}"));
    assert_eq!(server.blobs.lock().unwrap().get(&hex), Some(&data));
    assert_eq!(store.put(&data).await.unwrap(), uri, "put is idempotent");
    assert_eq!(server.blobs.lock().unwrap().len(), 1);

    let expected = sha256(&data);
    assert_eq!(
        fetch_verified(&uri, &expected, data.len() as u64)
            .await
            .unwrap(),
        data
    );
    assert_eq!(
        store
            .fetch_verified(&uri, &expected, data.len() as u64)
            .await
            .unwrap(),
        data
    );
}

#[tokio::test]
async fn http_missing_is_not_found_and_errors_carry_the_status() {
    let server = TestServer::start().await;
    let missing = server.url(&format!("/blobs/{}", hex_sha(b"absent")));
    let err = fetch_verified(&missing, &sha256(b"absent"), MIB)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { uri } if *uri == missing),
        "{err:?}"
    );

    let failing = server.url("/status500");
    let err = fetch_verified(&failing, &[0; 32], MIB).await.unwrap_err();
    let StoreError::Http { uri, message } = &err else {
        panic!("expected Http, got {err:?}");
    };
    assert_eq!(*uri, failing);
    assert!(message.contains("500"), "{message}");
    assert!(message.contains("boom"), "{message}");
}

#[tokio::test]
async fn http_tampered_body_is_a_hash_mismatch() {
    let server = TestServer::start().await;
    let store = BlobStore::open(&server.url("/blobs")).await.unwrap();
    let data = b"input buffer".to_vec();
    let uri = store.put(&data).await.unwrap();
    let tampered = b"input bufFer".to_vec();
    server
        .blobs
        .lock()
        .unwrap()
        .insert(hex_sha(&data), tampered.clone());

    let err = fetch_verified(&uri, &sha256(&data), MIB).await.unwrap_err();
    let StoreError::HashMismatch {
        uri: err_uri,
        expected,
        actual,
    } = err
    else {
        panic!("expected HashMismatch, got {err:?}");
    };
    assert_eq!(err_uri, uri);
    assert_eq!(expected, hex_sha(&data));
    assert_eq!(actual, hex_sha(&tampered));
}

#[tokio::test]
async fn http_oversize_is_too_large() {
    let server = TestServer::start().await;

    // Announced by Content-Length.
    let big = server.url("/big");
    let err = fetch_verified(&big, &[0; 32], 1000).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::TooLarge { uri, limit } if *uri == big && *limit == 1000),
        "{err:?}"
    );
    // The same blob under a large enough cap downloads (and then fails only the hash check).
    let err = fetch_verified(&big, &[0; 32], MIB).await.unwrap_err();
    assert!(matches!(err, StoreError::HashMismatch { .. }), "{err:?}");

    // Not announced: an endless chunked body is cut off at the cap while streaming.
    let endless = server.url("/endless");
    let started = Instant::now();
    let err = fetch_verified(&endless, &[0; 32], 100_000)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::TooLarge { uri, limit } if *uri == endless && *limit == 100_000),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn http_truncated_body_is_an_http_error() {
    let server = TestServer::start().await;
    let short = server.url("/short");
    let err = fetch_verified(&short, &[0; 32], MIB).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Http { uri, .. } if *uri == short),
        "{err:?}"
    );
}

#[tokio::test]
async fn http_hung_server_times_out() {
    let server = TestServer::start().await;
    let timeouts = Timeouts {
        connect: Duration::from_secs(2),
        total: Duration::from_millis(500),
    };
    let store = BlobStore::open_with(&server.url("/blobs"), timeouts)
        .await
        .unwrap();
    assert_eq!(store.timeouts(), timeouts);

    let hang = server.url("/hang/blob");
    let started = Instant::now();
    let err = store
        .fetch_verified(&hang, &[0; 32], MIB)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    let StoreError::TimedOut { uri, after } = &err else {
        panic!("expected TimedOut, got {err:?}");
    };
    assert_eq!((uri, *after), (&hang, timeouts.total));
    assert!(err.to_string().contains("timed out after 500 ms"), "{err}");
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );

    // Uploads time out too.
    let hung_store = BlobStore::open_with(&server.url("/hang"), timeouts)
        .await
        .unwrap();
    let started = Instant::now();
    let err = hung_store.put(b"x").await.unwrap_err();
    let StoreError::Upload { uri, message } = &err else {
        panic!("expected Upload, got {err:?}");
    };
    assert_eq!(*uri, server.url(&format!("/hang/{}", hex_sha(b"x"))));
    assert!(message.contains("timed out"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn http_refused_upload_and_refused_connection() {
    let server = TestServer::start().await;
    let store = BlobStore::open(&server.url("/readonly")).await.unwrap();
    let err = store.put(b"blob").await.unwrap_err();
    let StoreError::Upload { uri, message } = &err else {
        panic!("expected Upload, got {err:?}");
    };
    assert_eq!(*uri, server.url(&format!("/readonly/{}", hex_sha(b"blob"))));
    assert!(message.contains("403"), "{message}");
    assert!(message.contains("read-only store"), "{message}");

    // Nobody listens on a port we just released.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let closed = format!("http://{addr}/blobs/{}", hex_sha(b"blob"));
    let err = fetch_verified(&closed, &sha256(b"blob"), MIB)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Http { uri, .. } if *uri == closed),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// object_store
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn object_store_round_trip_and_mismatch() {
    let memory = Arc::new(InMemory::new());
    let store =
        BlobStore::from_object_store("s3://test-bucket/jobs/blobs/", memory.clone()).unwrap();
    assert_eq!(store.base(), "s3://test-bucket/jobs/blobs");

    let data = b"output of job 7".to_vec();
    let hex = hex_sha(&data);
    let uri = store.put(&data).await.unwrap();
    assert_eq!(uri, format!("s3://test-bucket/jobs/blobs/{hex}"));
    assert_eq!(store.put(&data).await.unwrap(), uri, "put is idempotent");
    let key = ObjectPath::parse(format!("jobs/blobs/{hex}")).unwrap();
    let stored = memory.get(&key).await.unwrap().bytes().await.unwrap();
    assert_eq!(stored.as_ref(), data.as_slice());

    let expected = sha256(&data);
    assert_eq!(
        store
            .fetch_verified(&uri, &expected, data.len() as u64)
            .await
            .unwrap(),
        data
    );

    // Over the cap.
    let err = store
        .fetch_verified(&uri, &expected, data.len() as u64 - 1)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::TooLarge { uri: u, limit } if *u == uri && *limit == data.len() as u64 - 1),
        "{err:?}"
    );

    // Missing.
    let absent = format!("s3://test-bucket/jobs/blobs/{}", hex_sha(b"absent"));
    let err = store
        .fetch_verified(&absent, &sha256(b"absent"), MIB)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { uri } if *uri == absent),
        "{err:?}"
    );

    // Tampered in the backend.
    let tampered = b"output of job 8".to_vec();
    memory
        .put(&key, PutPayload::from(tampered.clone()))
        .await
        .unwrap();
    let err = store
        .fetch_verified(&uri, &expected, MIB)
        .await
        .unwrap_err();
    let StoreError::HashMismatch {
        uri: err_uri,
        expected: exp,
        actual,
    } = err
    else {
        panic!("expected HashMismatch, got {err:?}");
    };
    assert_eq!(err_uri, uri);
    assert_eq!(exp, hex);
    assert_eq!(actual, hex_sha(&tampered));
}

#[tokio::test]
async fn object_store_custom_scheme_and_other_uris() {
    let memory = Arc::new(InMemory::new());
    let store = BlobStore::from_object_store("memory://bucket", memory.clone()).unwrap();
    assert_eq!(store.base(), "memory://bucket");
    let uri = store.put(b"shader").await.unwrap();
    assert_eq!(uri, format!("memory://bucket/{}", hex_sha(b"shader")));
    assert!(memory
        .head(&ObjectPath::from(hex_sha(b"shader").as_str()))
        .await
        .is_ok());
    assert_eq!(
        store
            .fetch_verified(&uri, &sha256(b"shader"), MIB)
            .await
            .unwrap(),
        b"shader"
    );
    // Only the store itself can resolve its custom scheme.
    let err = fetch_verified(&uri, &sha256(b"shader"), MIB)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::UnsupportedScheme { uri: u } if *u == uri),
        "{err:?}"
    );
    // Other schemes fall through to the generic fetch.
    let tmp = tempfile::tempdir().unwrap();
    let file_store = BlobStore::open(&file_base(tmp.path())).await.unwrap();
    let file_uri = file_store.put(b"input").await.unwrap();
    assert_eq!(
        store
            .fetch_verified(&file_uri, &sha256(b"input"), MIB)
            .await
            .unwrap(),
        b"input"
    );

    for bad in ["memory://", "memory:///prefix", "memory://b/a//b"] {
        let err = BlobStore::from_object_store(bad, memory.clone()).unwrap_err();
        assert!(
            matches!(&err, StoreError::InvalidUri { uri, .. } if uri == bad),
            "{bad}: {err:?}"
        );
    }
}

#[tokio::test]
async fn file_and_object_stores_delete_their_own_blobs_and_http_ones_cannot() {
    let tmp = tempfile::tempdir().unwrap();
    let memory = Arc::new(InMemory::new());
    let stores = [
        BlobStore::open(&file_base(&tmp.path().join("blobs")))
            .await
            .unwrap(),
        BlobStore::from_object_store("s3://bucket/outputs", memory.clone()).unwrap(),
    ];
    for store in &stores {
        assert!(store.can_delete());
        let kept = store.put(b"kept").await.unwrap();
        let gone = store.put(b"gone").await.unwrap();
        store.delete(&gone).await.unwrap();
        let err = store
            .fetch_verified(&gone, &sha256(b"gone"), MIB)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
        store.delete(&gone).await.expect("deleting twice is fine");
        assert_eq!(
            store
                .fetch_verified(&kept, &sha256(b"kept"), MIB)
                .await
                .unwrap(),
            b"kept"
        );
        // Only names this store gives out: `{base}/{sha256hex}`.
        let base = store.base();
        for other in [
            format!("{base}/../{}", hex_sha(b"kept")),
            format!("{base}/notes.txt"),
            format!("{base}x/{}", hex_sha(b"kept")),
            format!("file:///etc/{}", hex_sha(b"kept")),
        ] {
            let err = store.delete(&other).await.unwrap_err();
            assert!(
                matches!(&err, StoreError::InvalidUri { uri, .. } if *uri == other),
                "{err:?}"
            );
        }
    }
    let http = BlobStore::open("http://127.0.0.1:9/blobs").await.unwrap();
    assert!(!http.can_delete());
    let uri = format!("http://127.0.0.1:9/blobs/{}", hex_sha(b"x"));
    let err = http.delete(&uri).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::DeleteUnsupported { uri: u } if *u == uri),
        "{err:?}"
    );
    assert!(err.to_string().contains("http(s)://"), "{err}");
}

#[tokio::test]
async fn s3_uris_are_parsed_offline() {
    // Opening S3 contacts nothing (credentials and region come from the environment on first
    // use), so it works offline; S3 itself is not reachable here.
    let store = BlobStore::open("s3://my-bucket/compute-market/")
        .await
        .unwrap();
    assert_eq!(store.base(), "s3://my-bucket/compute-market");
    for bad in [
        "s3:///key",
        "s3://bucket",
        "s3://bucket/",
        "s3://bucket/a//b",
    ] {
        let err = fetch_verified(bad, &[0; 32], MIB).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::InvalidUri { uri, .. } if uri == bad),
            "{bad}: {err:?}"
        );
    }
}
