//! Content-addressed blob store for shaders, inputs and outputs.
//!
//! Every blob is named by the lowercase hex SHA-256 of its bytes
//! ([`compute_market_job::sha256`]), so uploading the same bytes twice yields the same URI and
//! [`BlobStore::put`] is idempotent. A job records a blob as a URI plus its SHA-256 on chain;
//! whoever downloads it ([`fetch_verified`]) caps the size and checks the hash before using the
//! bytes. A mismatch is an error ([`StoreError::HashMismatch`]), never silently accepted.
//! ([`fetch_unverified`] is the same capped download for blobs committed some other way, such as
//! a job output committed by its result hash; the caller verifies those.)
//!
//! | scheme            | upload ([`BlobStore::open`] base)          | download ([`fetch_verified`])                 |
//! |-------------------|--------------------------------------------|-----------------------------------------------|
//! | `file:///abs/dir` | file `{dir}/{sha256hex}` (embedded default) | absolute path only; length checked before read |
//! | `http(s)://…`     | HTTP `PUT {base}/{sha256hex}`               | HTTP `GET`; Content-Length and stream capped   |
//! | `s3://bucket/pfx` | `object_store` S3 (credentials from env)   | `HEAD` for the size, then a capped `GET`       |
//!
//! HTTP and S3 requests run under a connect timeout and a total timeout ([`Timeouts`]), so a
//! hung server produces an error rather than a hang.

use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{ClientConfigKey, ObjectStore, PutPayload};
use tokio::io::AsyncReadExt;
use url::Url;

/// Default connect timeout of HTTP and S3 requests.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default total timeout of one HTTP or S3 request, body included.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest buffer reserved up front from a size the other side announced; beyond this the
/// buffer grows as bytes actually arrive.
const MAX_PREALLOC: u64 = 16 * 1024 * 1024;
/// Longest error-body excerpt quoted in an error message.
const MAX_ERROR_BODY: usize = 512;

/// An error of the blob store. Every variant names the URI it concerns.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URI's scheme is not one this store handles.
    #[error("unsupported URI scheme in {uri:?} (supported: file://, http://, https://, s3://)")]
    UnsupportedScheme {
        /// The URI.
        uri: String,
    },
    /// The URI is malformed or not acceptable (for example a relative `file://` path).
    #[error("invalid blob URI {uri:?}: {reason}")]
    InvalidUri {
        /// The URI.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No blob exists at the URI.
    #[error("blob not found: {uri}")]
    NotFound {
        /// The URI.
        uri: String,
    },
    /// The blob is larger than the caller's cap.
    #[error("blob {uri} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The URI.
        uri: String,
        /// The cap in bytes that was exceeded.
        limit: u64,
    },
    /// The downloaded bytes do not hash to the expected SHA-256.
    #[error("blob {uri} failed verification: expected sha256 {expected}, got {actual}")]
    HashMismatch {
        /// The URI.
        uri: String,
        /// The expected SHA-256, lowercase hex.
        expected: String,
        /// The SHA-256 of the bytes actually received, lowercase hex.
        actual: String,
    },
    /// A local file-system operation failed.
    #[error("I/O error on {uri}: {source}")]
    Io {
        /// The URI.
        uri: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An HTTP download failed: a non-success status (named in the message), a timeout, a
    /// connection error or a broken body.
    #[error("HTTP error on {uri}: {message}")]
    Http {
        /// The URI.
        uri: String,
        /// What went wrong, with the status code where there was one.
        message: String,
    },
    /// An `object_store` (S3) operation failed.
    #[error("object store error on {uri}: {message}")]
    ObjectStore {
        /// The URI.
        uri: String,
        /// What went wrong.
        message: String,
    },
    /// An upload was refused or failed.
    #[error("upload to {uri} failed: {message}")]
    Upload {
        /// The URI uploaded to.
        uri: String,
        /// What went wrong, with the status code where there was one.
        message: String,
    },
}

/// Timeouts of network requests (HTTP and S3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest wait for a connection to be established.
    pub connect: Duration,
    /// Longest time one request may take in total, response body included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: DEFAULT_CONNECT_TIMEOUT,
            total: DEFAULT_TOTAL_TIMEOUT,
        }
    }
}

/// Where this party uploads its blobs, plus the clients it downloads with.
///
/// Open one with [`BlobStore::open`] (`file://`, `http(s)://`, `s3://`) or
/// [`BlobStore::from_object_store`] (any `object_store` backend).
#[derive(Debug, Clone)]
pub struct BlobStore {
    base: String,
    backend: Backend,
    http: reqwest::Client,
    timeouts: Timeouts,
}

#[derive(Debug, Clone)]
enum Backend {
    File {
        dir: PathBuf,
    },
    Http,
    Object {
        store: Arc<dyn ObjectStore>,
        prefix: ObjectPath,
    },
}

impl BlobStore {
    /// Opens the store at `base` with the default [`Timeouts`].
    ///
    /// * `file:///abs/dir`: blobs are files `{dir}/{sha256hex}`; the directory is created.
    /// * `http(s)://host[:port]/path`: upload is `PUT {base}/{sha256hex}`, and that URL is the
    ///   blob's URI.
    /// * `s3://bucket[/prefix]`: Amazon S3 through `object_store`, configured from the `AWS_*`
    ///   environment variables ([`AmazonS3Builder::from_env`]); the blob's URI is
    ///   `s3://bucket/prefix/{sha256hex}`. Opening contacts nothing; the first request does.
    ///
    /// A trailing `/` on `base` is dropped ([`BlobStore::base`] returns the normalized form).
    pub async fn open(base: &str) -> Result<Self, StoreError> {
        Self::open_with(base, Timeouts::default()).await
    }

    /// Like [`BlobStore::open`], with explicit network [`Timeouts`] (they apply to uploads and to
    /// every download made through [`BlobStore::fetch_verified`]).
    pub async fn open_with(base: &str, timeouts: Timeouts) -> Result<Self, StoreError> {
        let scheme = scheme_of(base)?;
        let http = http_client(base, timeouts)?;
        let (base, backend) = match scheme.as_str() {
            "file" => {
                let dir = file_uri_path(base)?;
                tokio::fs::create_dir_all(&dir)
                    .await
                    .map_err(|source| StoreError::Io {
                        uri: base.to_string(),
                        source,
                    })?;
                let url = Url::from_directory_path(&dir)
                    .map_err(|()| invalid(base, "not an absolute path"))?;
                (trim_slash(url.as_str()), Backend::File { dir })
            }
            "http" | "https" => {
                let url = parse_http_url(base)?;
                (trim_slash(url.as_str()), Backend::Http)
            }
            "s3" => {
                let (bucket, prefix) = split_bucket_key(base, false)?;
                let store = s3_from_env(base, bucket, timeouts)?;
                let base = normalized_object_base(&scheme, bucket, &prefix);
                (
                    base,
                    Backend::Object {
                        store: Arc::new(store),
                        prefix,
                    },
                )
            }
            _ => {
                return Err(StoreError::UnsupportedScheme {
                    uri: base.to_string(),
                })
            }
        };
        Ok(Self {
            base,
            backend,
            http,
            timeouts,
        })
    }

    /// A store over any [`ObjectStore`], named by `scheme_uri_prefix` = `scheme://bucket[/prefix]`:
    /// blobs are stored under the key `prefix/{sha256hex}` and recorded as
    /// `scheme://bucket/prefix/{sha256hex}`. The bucket part only names the store; `store` itself
    /// decides where the bytes go.
    ///
    /// Downloads of this store's URIs through [`BlobStore::fetch_verified`] use `store`. This is how
    /// the `object_store` path is tested offline (with `object_store::memory::InMemory`): S3
    /// itself cannot be reached without a network and credentials.
    pub fn from_object_store(
        scheme_uri_prefix: &str,
        store: Arc<dyn ObjectStore>,
    ) -> Result<Self, StoreError> {
        let timeouts = Timeouts::default();
        let scheme = scheme_of(scheme_uri_prefix)?;
        let (bucket, prefix) = split_bucket_key(scheme_uri_prefix, false)?;
        let base = normalized_object_base(&scheme, bucket, &prefix);
        let http = http_client(scheme_uri_prefix, timeouts)?;
        Ok(Self {
            base,
            backend: Backend::Object { store, prefix },
            http,
            timeouts,
        })
    }

    /// The base location blobs are uploaded under, normalized (no trailing `/`); a blob's URI is
    /// `{base}/{sha256hex}`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The network timeouts of this store.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Uploads `bytes` as `{base}/{sha256hex}` and returns that URI. Idempotent: the same bytes
    /// always give the same URI (an existing blob is overwritten with identical content).
    pub async fn put(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let name = hex::encode(compute_market_job::sha256(bytes));
        let uri = format!("{}/{name}", self.base);
        match &self.backend {
            Backend::File { dir } => put_file(&uri, dir, &name, bytes).await?,
            Backend::Http => put_http(&self.http, &uri, bytes).await?,
            Backend::Object { store, prefix } => {
                let key = prefix.child(name.as_str());
                store
                    .put(&key, PutPayload::from(bytes.to_vec()))
                    .await
                    .map_err(|e| StoreError::Upload {
                        uri: uri.clone(),
                        message: error_chain(&e),
                    })?;
            }
        }
        tracing::debug!(uri = %uri, len = bytes.len(), "blob stored");
        Ok(uri)
    }

    /// Downloads `uri`, capped at `max_len` bytes, and verifies its SHA-256 against
    /// `expected_sha256`, like the free [`fetch_verified`], but with this store's timeouts, and
    /// through this store's own backend for URIs under [`BlobStore::base`] of an
    /// `object_store`-backed store. Other URIs of any supported scheme are fetched as the free
    /// function would.
    pub async fn fetch_verified(
        &self,
        uri: &str,
        expected_sha256: &[u8; 32],
        max_len: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let bytes = self.fetch_unverified(uri, max_len).await?;
        verify(uri, bytes, expected_sha256)
    }

    /// Downloads `uri`, capped at `max_len` bytes, WITHOUT checking its content: like the free
    /// [`fetch_unverified`], with this store's timeouts and backend (see
    /// [`BlobStore::fetch_verified`]). The caller must verify the bytes before using them.
    pub async fn fetch_unverified(&self, uri: &str, max_len: u64) -> Result<Vec<u8>, StoreError> {
        if let Backend::Object { store, prefix } = &self.backend {
            if let Some(rest) = uri
                .strip_prefix(self.base.as_str())
                .and_then(|r| r.strip_prefix('/'))
            {
                let key = if prefix.as_ref().is_empty() {
                    rest.to_string()
                } else {
                    format!("{}/{rest}", prefix.as_ref())
                };
                let key = ObjectPath::parse(&key).map_err(|e| invalid(uri, &e.to_string()))?;
                return get_object(store.as_ref(), uri, &key, max_len).await;
            }
        }
        fetch_capped(uri, max_len, &self.http, self.timeouts).await
    }
}

/// Downloads the blob at `uri` (any supported scheme), refusing more than `max_len` bytes, and
/// returns it only if its SHA-256 equals `expected_sha256` ([`StoreError::HashMismatch`]
/// otherwise).
///
/// * `file:///abs/path`: the path must be absolute; the file's length is checked before reading.
/// * `http(s)://…`: a non-success status is [`StoreError::Http`] (404 is
///   [`StoreError::NotFound`]); an announced `Content-Length` over the cap is refused before the
///   body is read, and the cap is also enforced while the body streams, so a server that lies or
///   announces nothing cannot make us buffer more than `max_len` bytes.
/// * `s3://bucket/key`: S3 configured from the `AWS_*` environment; the size is read with `HEAD`
///   before the `GET`, and the `GET` stream is capped too.
///
/// Network requests use the default [`Timeouts`]; use [`BlobStore::fetch_verified`] for others.
pub async fn fetch_verified(
    uri: &str,
    expected_sha256: &[u8; 32],
    max_len: u64,
) -> Result<Vec<u8>, StoreError> {
    let bytes = fetch_unverified(uri, max_len).await?;
    verify(uri, bytes, expected_sha256)
}

/// Downloads the blob at `uri` with the same schemes, size cap and timeouts as
/// [`fetch_verified`], but WITHOUT checking its content.
///
/// Only for blobs whose on-chain commitment is not a plain SHA-256 of the bytes (a job's output
/// is committed by [`compute_market_job::result_hash`]): the caller must verify the returned
/// bytes against that commitment before using them.
pub async fn fetch_unverified(uri: &str, max_len: u64) -> Result<Vec<u8>, StoreError> {
    let timeouts = Timeouts::default();
    let http = http_client(uri, timeouts)?;
    fetch_capped(uri, max_len, &http, timeouts).await
}

async fn fetch_capped(
    uri: &str,
    max_len: u64,
    http: &reqwest::Client,
    timeouts: Timeouts,
) -> Result<Vec<u8>, StoreError> {
    let scheme = scheme_of(uri)?;
    match scheme.as_str() {
        "file" => get_file(uri, max_len).await,
        "http" | "https" => get_http(http, uri, max_len).await,
        "s3" => {
            let (bucket, key) = split_bucket_key(uri, true)?;
            let store = s3_from_env(uri, bucket, timeouts)?;
            get_object(&store, uri, &key, max_len).await
        }
        _ => Err(StoreError::UnsupportedScheme {
            uri: uri.to_string(),
        }),
    }
}

fn verify(uri: &str, bytes: Vec<u8>, expected: &[u8; 32]) -> Result<Vec<u8>, StoreError> {
    let actual = compute_market_job::sha256(&bytes);
    if &actual != expected {
        return Err(StoreError::HashMismatch {
            uri: uri.to_string(),
            expected: hex::encode(expected),
            actual: hex::encode(actual),
        });
    }
    tracing::debug!(uri = %uri, len = bytes.len(), "blob fetched and verified");
    Ok(bytes)
}

// ---------------------------------------------------------------------------------------------
// URI parsing
// ---------------------------------------------------------------------------------------------

fn invalid(uri: &str, reason: &str) -> StoreError {
    StoreError::InvalidUri {
        uri: uri.to_string(),
        reason: reason.to_string(),
    }
}

fn trim_slash(s: &str) -> String {
    s.trim_end_matches('/').to_string()
}

/// The lowercase scheme of `uri`, which must have the form `scheme://…`.
fn scheme_of(uri: &str) -> Result<String, StoreError> {
    let Some((scheme, _)) = uri.split_once("://") else {
        return Err(invalid(uri, "expected scheme://..."));
    };
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid {
        return Err(invalid(uri, "malformed scheme"));
    }
    Ok(scheme.to_ascii_lowercase())
}

/// The absolute local path of a `file://` URI (empty host or `localhost` only).
fn file_uri_path(uri: &str) -> Result<PathBuf, StoreError> {
    let rest = &uri[uri.find("://").map_or(0, |i| i + 3)..];
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return Err(invalid(
            uri,
            "file:// URIs need an absolute path (file:///abs/path)",
        ));
    }
    if path.contains(['?', '#']) {
        return Err(invalid(uri, "file:// URIs take no query or fragment"));
    }
    if path.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(invalid(uri, "'.' and '..' path segments are not allowed"));
    }
    let url = Url::parse(uri).map_err(|e| invalid(uri, &e.to_string()))?;
    url.to_file_path()
        .map_err(|()| invalid(uri, "not a local absolute path"))
}

fn parse_http_url(uri: &str) -> Result<Url, StoreError> {
    let url = Url::parse(uri).map_err(|e| invalid(uri, &e.to_string()))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(uri, "missing host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            uri,
            "query strings and fragments are not supported",
        ));
    }
    Ok(url)
}

/// Splits `scheme://bucket/key` into the bucket and the object key. With `need_key` the key must
/// be non-empty (a blob); without, it is a prefix and may be empty.
fn split_bucket_key(uri: &str, need_key: bool) -> Result<(&str, ObjectPath), StoreError> {
    let rest = &uri[uri.find("://").map_or(0, |i| i + 3)..];
    if rest.contains(['?', '#']) {
        return Err(invalid(
            uri,
            "query strings and fragments are not supported",
        ));
    }
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(invalid(uri, "missing bucket name"));
    }
    let key = key.trim_end_matches('/');
    if need_key && key.is_empty() {
        return Err(invalid(uri, "missing object key"));
    }
    let key = ObjectPath::parse(key).map_err(|e| invalid(uri, &e.to_string()))?;
    Ok((bucket, key))
}

fn normalized_object_base(scheme: &str, bucket: &str, prefix: &ObjectPath) -> String {
    if prefix.as_ref().is_empty() {
        format!("{scheme}://{bucket}")
    } else {
        format!("{scheme}://{bucket}/{}", prefix.as_ref())
    }
}

// ---------------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------------

fn http_client(uri: &str, timeouts: Timeouts) -> Result<reqwest::Client, StoreError> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.total)
        .build()
        .map_err(|e| StoreError::Http {
            uri: uri.to_string(),
            message: format!("cannot build HTTP client: {}", error_chain(&e)),
        })
}

/// S3 for `bucket`, configured from the `AWS_*` environment; our timeouts apply unless the
/// environment sets its own (`AWS_TIMEOUT`, `AWS_CONNECT_TIMEOUT`).
fn s3_from_env(
    uri: &str,
    bucket: &str,
    timeouts: Timeouts,
) -> Result<object_store::aws::AmazonS3, StoreError> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    let settings = [
        (ClientConfigKey::Timeout, timeouts.total),
        (ClientConfigKey::ConnectTimeout, timeouts.connect),
    ];
    for (key, value) in settings {
        let key = AmazonS3ConfigKey::Client(key);
        if builder.get_config_value(&key).is_none() {
            builder = builder.with_config(key, format!("{}ms", value.as_millis()));
        }
    }
    builder.build().map_err(|e| StoreError::ObjectStore {
        uri: uri.to_string(),
        message: error_chain(&e),
    })
}

/// `e` and its sources, joined with `": "`.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}

fn prealloc(announced: u64) -> Vec<u8> {
    Vec::with_capacity(usize::try_from(announced.min(MAX_PREALLOC)).unwrap_or(0))
}

// ---------------------------------------------------------------------------------------------
// file://
// ---------------------------------------------------------------------------------------------

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

async fn put_file(uri: &str, dir: &FsPath, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        uri: uri.to_string(),
        source,
    };
    // Write a temporary file, then rename: a reader never sees a partial blob.
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    if let Err(e) = tokio::fs::write(&tmp, bytes).await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(io(e));
    }
    if let Err(e) = tokio::fs::rename(&tmp, dir.join(name)).await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(io(e));
    }
    Ok(())
}

async fn get_file(uri: &str, max_len: u64) -> Result<Vec<u8>, StoreError> {
    let path = file_uri_path(uri)?;
    let io = |source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::NotFound {
            StoreError::NotFound {
                uri: uri.to_string(),
            }
        } else {
            StoreError::Io {
                uri: uri.to_string(),
                source,
            }
        }
    };
    let file = tokio::fs::File::open(&path).await.map_err(io)?;
    let meta = file.metadata().await.map_err(io)?;
    if !meta.is_file() {
        return Err(invalid(uri, "not a regular file"));
    }
    let too_large = || StoreError::TooLarge {
        uri: uri.to_string(),
        limit: max_len,
    };
    if meta.len() > max_len {
        return Err(too_large());
    }
    // The file may grow after the check: read at most one byte past the cap.
    let mut bytes = prealloc(meta.len());
    file.take(max_len.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(io)?;
    if bytes.len() as u64 > max_len {
        return Err(too_large());
    }
    Ok(bytes)
}

// ---------------------------------------------------------------------------------------------
// http(s)://
// ---------------------------------------------------------------------------------------------

fn request_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("request timed out: {}", error_chain(e))
    } else {
        error_chain(e)
    }
}

async fn error_body_excerpt(resp: reqwest::Response) -> String {
    match resp.text().await {
        Ok(text) if !text.trim().is_empty() => {
            let text = text.trim();
            let cut = text
                .char_indices()
                .nth(MAX_ERROR_BODY)
                .map_or(text.len(), |(i, _)| i);
            format!(": {}", &text[..cut])
        }
        _ => String::new(),
    }
}

async fn put_http(client: &reqwest::Client, uri: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let upload_err = |message: String| StoreError::Upload {
        uri: uri.to_string(),
        message,
    };
    let resp = client
        .put(uri)
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .map_err(|e| upload_err(request_error(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        let excerpt = error_body_excerpt(resp).await;
        return Err(upload_err(format!("HTTP status {status}{excerpt}")));
    }
    Ok(())
}

async fn get_http(
    client: &reqwest::Client,
    uri: &str,
    max_len: u64,
) -> Result<Vec<u8>, StoreError> {
    let url = parse_http_url(uri)?;
    let http_err = |message: String| StoreError::Http {
        uri: uri.to_string(),
        message,
    };
    let mut resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| http_err(request_error(&e)))?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(StoreError::NotFound {
            uri: uri.to_string(),
        });
    }
    if !status.is_success() {
        let excerpt = error_body_excerpt(resp).await;
        return Err(http_err(format!("HTTP status {status}{excerpt}")));
    }
    let too_large = || StoreError::TooLarge {
        uri: uri.to_string(),
        limit: max_len,
    };
    let announced = resp.content_length();
    if announced.is_some_and(|len| len > max_len) {
        return Err(too_large());
    }
    let mut bytes = prealloc(announced.unwrap_or(0));
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| http_err(request_error(&e)))?
    {
        if (bytes.len() as u64).saturating_add(chunk.len() as u64) > max_len {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

// ---------------------------------------------------------------------------------------------
// object_store (s3://)
// ---------------------------------------------------------------------------------------------

fn object_err(uri: &str, e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { .. } => StoreError::NotFound {
            uri: uri.to_string(),
        },
        e => StoreError::ObjectStore {
            uri: uri.to_string(),
            message: error_chain(&e),
        },
    }
}

async fn get_object(
    store: &dyn ObjectStore,
    uri: &str,
    key: &ObjectPath,
    max_len: u64,
) -> Result<Vec<u8>, StoreError> {
    let too_large = || StoreError::TooLarge {
        uri: uri.to_string(),
        limit: max_len,
    };
    let meta = store.head(key).await.map_err(|e| object_err(uri, e))?;
    if meta.size > max_len {
        return Err(too_large());
    }
    let result = store.get(key).await.map_err(|e| object_err(uri, e))?;
    // The object may have been replaced between HEAD and GET: check again, and cap the stream.
    if result.meta.size > max_len {
        return Err(too_large());
    }
    let mut bytes = prealloc(result.meta.size);
    let mut stream = result.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| object_err(uri, e))?;
        if (bytes.len() as u64).saturating_add(chunk.len() as u64) > max_len {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
