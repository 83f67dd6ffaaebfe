//! `s3://` downloads never carry the downloader's AWS credentials unless its policy says so.
//!
//! The S3 endpoint is a small HTTP server on loopback that records every request's headers
//! (`AWS_ENDPOINT`), and the environment holds credentials, as a provider's might. This file
//! holds a single test because it sets process-wide environment variables.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use compute_market_job::sha256;
use compute_market_sdk::store::{fetch_verified, fetch_verified_with, FetchPolicy, Scheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const BLOB: &[u8] = b"job input";
const KEY_ID: &str = "AKIDPROVIDERSOWNKEY";

type Requests = Arc<Mutex<Vec<String>>>;

/// Answers every `HEAD` and `GET` with [`BLOB`], recording each request's head (lowercase).
async fn s3_endpoint() -> (String, Requests) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests: Requests = Arc::default();
    let log = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_lowercase();
                let is_head = head.starts_with("head ");
                log.lock().unwrap().push(head);
                let mut reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: \"1\"\r\n\
                     Last-Modified: Tue, 01 Dec 2026 00:00:00 GMT\r\nConnection: close\r\n\r\n",
                    BLOB.len()
                )
                .into_bytes();
                if !is_head {
                    reply.extend_from_slice(BLOB);
                }
                let _ = sock.write_all(&reply).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (url, requests)
}

fn authorizations(requests: &Requests) -> Vec<String> {
    let mut requests = requests.lock().unwrap();
    let found = requests
        .iter()
        .filter_map(|r| r.lines().find(|l| l.starts_with("authorization:")))
        .map(str::to_string)
        .collect();
    requests.clear();
    found
}

#[tokio::test]
async fn s3_requests_are_unsigned_unless_the_policy_allows_credentials() {
    let (endpoint, requests) = s3_endpoint().await;
    // Before the runtime starts any other thread: a provider's AWS environment.
    for (key, value) in [
        ("AWS_ENDPOINT", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", "provider-secret"),
    ] {
        std::env::set_var(key, value);
    }
    std::env::remove_var("AWS_SESSION_TOKEN");
    let uri = "s3://clients-bucket/jobs/input";
    let expected = sha256(BLOB);

    // A provider downloading a client's blob: the default policy, unsigned.
    let got = fetch_verified_with(uri, &expected, 1024, &FetchPolicy::default()).await;
    assert_eq!(got.unwrap(), BLOB);
    let logged = requests.lock().unwrap().clone();
    assert_eq!(logged.len(), 2, "HEAD and GET: {logged:?}");
    assert!(logged[0].starts_with("head /clients-bucket/jobs/input "));
    assert_eq!(authorizations(&requests), Vec::<String>::new());

    // Only when the operator allows it are requests signed with its credentials.
    let signed = FetchPolicy {
        schemes: BTreeSet::from([Scheme::S3]),
        s3_credentials: true,
        ..FetchPolicy::default()
    };
    let got = fetch_verified_with(uri, &expected, 1024, &signed).await;
    assert_eq!(got.unwrap(), BLOB);
    let signatures = authorizations(&requests);
    assert_eq!(signatures.len(), 2);
    assert!(
        signatures
            .iter()
            .all(|a| a.contains(&KEY_ID.to_lowercase())),
        "{signatures:?}"
    );

    // The client's own blobs (permissive): signed, as before.
    fetch_verified(uri, &expected, 1024).await.unwrap();
    assert_eq!(authorizations(&requests).len(), 2);
}
