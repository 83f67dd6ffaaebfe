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
//! | `file:///abs/dir` | file `{dir}/{sha256hex}` (embedded default) | regular files only; length checked before read |
//! | `http(s)://…`     | HTTP `PUT {base}/{sha256hex}`               | HTTP `GET`; Content-Length and stream capped   |
//! | `s3://bucket/pfx` | `object_store` S3 (credentials from env)   | `HEAD` for the size, then a capped `GET`       |
//!
//! **Whose URI is it?** Every download runs under a [`FetchPolicy`]: which schemes, which local
//! directories, which network addresses, how many redirects, whether S3 requests carry
//! credentials, a connect timeout and a deadline for the whole download, and how many downloads
//! from one host may run at once. A URI someone else chose (a provider downloading a job's
//! shader, a client downloading a provider's result) belongs under [`FetchPolicy::default`]
//! through [`fetch_verified_with`]: `https` and `s3` only, public addresses only, no redirects,
//! unsigned S3. The plain [`fetch_verified`] and [`BlobStore::fetch_verified`] use
//! [`FetchPolicy::permissive`], for blobs the caller named itself: every scheme and address, as
//! before, but they too refuse non-regular files and end at the deadline.
//!
//! Uploads run under a connect timeout and a total timeout per request ([`Timeouts`]), so a
//! hung server produces an error rather than a hang.
//!
//! **Deleting.** [`BlobStore::delete`] removes a blob this store names (`{base}/{sha256hex}`)
//! from a `file://` or `object_store` (`s3://`) store. An `http(s)://` store cannot delete
//! ([`StoreError::DeleteUnsupported`]): its uploads are plain `PUT`s, and a server's way of
//! deleting is its own. Blobs are content-addressed: whoever else stored the same bytes in the
//! same place loses them too.

mod file;
mod http;
mod policy;
mod s3;
mod uri;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use url::Url;

pub use policy::{FetchPolicy, FileRoots, Scheme, DEFAULT_MAX_PER_HOST, PERMISSIVE_MAX_REDIRECTS};

use policy::HostSlot;
use uri::{
    file_uri_path, http_host, invalid, known_scheme, normalized_object_base, parse_http_url,
    scheme_of, split_bucket_key, trim_slash,
};

/// Default connect timeout of HTTP and S3 requests.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default total timeout of one upload request, or of one whole download.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest buffer reserved up front from a size the other side announced; beyond this the
/// buffer grows as bytes actually arrive.
const MAX_PREALLOC: u64 = 16 * 1024 * 1024;

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
    /// The [`FetchPolicy`] does not allow this download: a disabled scheme, a file outside the
    /// allowed directories, a non-public address (directly, through a host name or a redirect),
    /// or a redirect when none are followed. The reason says which.
    #[error("refused: {reason} (blob {uri})")]
    Refused {
        /// The URI.
        uri: String,
        /// What the policy does not allow, e.g. `127.0.0.1 is a loopback address`.
        reason: String,
    },
    /// The download did not finish within the policy's deadline ([`Timeouts::total`]).
    #[error("timed out after {} fetching {uri}", seconds(*after))]
    TimedOut {
        /// The URI.
        uri: String,
        /// The deadline that passed.
        after: Duration,
    },
    /// [`FetchPolicy::max_per_host`] downloads from the URI's host are already running.
    #[error("{limit} downloads from {host} are already running; not fetching {uri} now")]
    HostBusy {
        /// The URI.
        uri: String,
        /// The host (`name:port`, or `s3://bucket`).
        host: String,
        /// The limit that was reached.
        limit: usize,
    },
    /// An upload was refused or failed.
    #[error("upload to {uri} failed: {message}")]
    Upload {
        /// The URI uploaded to.
        uri: String,
        /// What went wrong, with the status code where there was one.
        message: String,
    },
    /// This store cannot delete blobs (an `http(s)://` store; see [`BlobStore::can_delete`]).
    #[error("cannot delete {uri}: an http(s):// blob store has no delete")]
    DeleteUnsupported {
        /// The URI.
        uri: String,
    },
}

/// Timeouts of network requests and downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest wait for a connection to be established.
    pub connect: Duration,
    /// Longest time one upload request, or one whole download (connection, redirects, S3
    /// retries, body; opening and reading for a file), may take.
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
    ///   environment variables
    ///   ([`AmazonS3Builder::from_env`](object_store::aws::AmazonS3Builder::from_env)); the
    ///   blob's URI is `s3://bucket/prefix/{sha256hex}`. Opening contacts nothing; the first
    ///   request does.
    ///
    /// A trailing `/` on `base` is dropped ([`BlobStore::base`] returns the normalized form).
    pub async fn open(base: &str) -> Result<Self, StoreError> {
        Self::open_with(base, Timeouts::default()).await
    }

    /// Like [`BlobStore::open`], with explicit [`Timeouts`] (they apply to uploads and to every
    /// download made through [`BlobStore::fetch_verified`]).
    pub async fn open_with(base: &str, timeouts: Timeouts) -> Result<Self, StoreError> {
        let scheme = scheme_of(base)?;
        let http = http::upload_client(base, timeouts)?;
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
                let store = s3::s3_client(base, bucket, timeouts, true)?;
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
        let http = http::upload_client(scheme_uri_prefix, timeouts)?;
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

    /// The timeouts of this store.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The policy downloads through this store run under: [`FetchPolicy::permissive`] with this
    /// store's [`Timeouts`].
    pub fn fetch_policy(&self) -> FetchPolicy {
        FetchPolicy {
            timeouts: self.timeouts,
            ..FetchPolicy::permissive()
        }
    }

    /// Uploads `bytes` as `{base}/{sha256hex}` and returns that URI. Idempotent: the same bytes
    /// always give the same URI (an existing blob is overwritten with identical content).
    pub async fn put(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let name = hex::encode(compute_market_job::sha256(bytes));
        let uri = format!("{}/{name}", self.base);
        match &self.backend {
            Backend::File { dir } => file::put_file(&uri, dir, &name, bytes).await?,
            Backend::Http => http::put_http(&self.http, &uri, bytes).await?,
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

    /// Whether [`BlobStore::delete`] can delete: `file://` and `object_store` (`s3://`) stores
    /// can, an `http(s)://` store cannot.
    pub fn can_delete(&self) -> bool {
        !matches!(self.backend, Backend::Http)
    }

    /// Deletes the blob `uri`: one this store names, `{base}/{sha256hex}` (anything else is
    /// [`StoreError::InvalidUri`], before anything is touched). A blob already gone is not an
    /// error. An `http(s)://` store answers [`StoreError::DeleteUnsupported`]. Runs under this
    /// store's total timeout ([`StoreError::TimedOut`]).
    pub async fn delete(&self, uri: &str) -> Result<(), StoreError> {
        let name = uri
            .strip_prefix(self.base.as_str())
            .and_then(|r| r.strip_prefix('/'))
            .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| invalid(uri, &format!("not a blob of the store at {}", self.base)))?;
        let delete = async {
            match &self.backend {
                Backend::File { dir } => file::delete_file(uri, &dir.join(name)).await,
                Backend::Http => Err(StoreError::DeleteUnsupported {
                    uri: uri.to_string(),
                }),
                Backend::Object { store, prefix } => {
                    s3::delete_object(store.as_ref(), uri, &prefix.child(name)).await
                }
            }
        };
        tokio::time::timeout(self.timeouts.total, delete)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::TimedOut {
                    uri: uri.to_string(),
                    after: self.timeouts.total,
                })
            })?;
        tracing::debug!(uri = %uri, "blob deleted");
        Ok(())
    }

    /// Downloads `uri`, capped at `max_len` bytes, and verifies its SHA-256 against
    /// `expected_sha256`, like the free [`fetch_verified`], but under
    /// [`BlobStore::fetch_policy`] (this store's timeouts), and through this store's own backend
    /// for URIs under [`BlobStore::base`] of an `object_store`-backed store. Other URIs of any
    /// supported scheme are fetched as the free function would.
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
                let fetch = s3::get_object(store.as_ref(), uri, &key, max_len);
                return within_deadline(uri, self.timeouts.total, fetch).await;
            }
        }
        fetch_unverified_with(uri, max_len, &self.fetch_policy()).await
    }
}

/// Downloads the blob at `uri` under [`FetchPolicy::permissive`] (any supported scheme, for a
/// URI the caller chose itself), refusing more than `max_len` bytes, and returns it only if its
/// SHA-256 equals `expected_sha256` ([`StoreError::HashMismatch`] otherwise). For a URI someone
/// else chose, use [`fetch_verified_with`] and [`FetchPolicy::default`].
pub async fn fetch_verified(
    uri: &str,
    expected_sha256: &[u8; 32],
    max_len: u64,
) -> Result<Vec<u8>, StoreError> {
    fetch_verified_with(uri, expected_sha256, max_len, &FetchPolicy::permissive()).await
}

/// Downloads the blob at `uri` like [`fetch_verified`], but WITHOUT checking its content.
///
/// Only for blobs whose on-chain commitment is not a plain SHA-256 of the bytes (a job's output
/// is committed by [`compute_market_job::result_hash`]): the caller must verify the returned
/// bytes against that commitment before using them.
pub async fn fetch_unverified(uri: &str, max_len: u64) -> Result<Vec<u8>, StoreError> {
    fetch_unverified_with(uri, max_len, &FetchPolicy::permissive()).await
}

/// Downloads the blob at `uri` under `policy`, refusing more than `max_len` bytes, and returns
/// it only if its SHA-256 equals `expected_sha256` ([`StoreError::HashMismatch`] otherwise).
///
/// * What the policy does not allow is [`StoreError::Refused`], before anything is read or
///   connected to; a download past its deadline is [`StoreError::TimedOut`]; one more download
///   from a host already at [`FetchPolicy::max_per_host`] is [`StoreError::HostBusy`].
/// * `file:///abs/path`: the path must be absolute and name a regular file (a FIFO, a device or
///   a directory is [`StoreError::InvalidUri`], refused before it is opened); its length is
///   checked before reading.
/// * `http(s)://…`: a non-success status is [`StoreError::Http`] (404 is
///   [`StoreError::NotFound`]); an announced `Content-Length` over the cap is refused before the
///   body is read, and the cap is also enforced while the body streams, so a server that lies or
///   announces nothing cannot make us buffer more than `max_len` bytes.
/// * `s3://bucket/key`: S3 configured from the `AWS_*` environment (requests signed only if
///   [`FetchPolicy::s3_credentials`]); the size is read with `HEAD` before the `GET`, and the
///   `GET` stream is capped too.
pub async fn fetch_verified_with(
    uri: &str,
    expected_sha256: &[u8; 32],
    max_len: u64,
    policy: &FetchPolicy,
) -> Result<Vec<u8>, StoreError> {
    let bytes = fetch_unverified_with(uri, max_len, policy).await?;
    verify(uri, bytes, expected_sha256)
}

/// Downloads the blob at `uri` like [`fetch_verified_with`], but WITHOUT checking its content
/// (see [`fetch_unverified`]).
pub async fn fetch_unverified_with(
    uri: &str,
    max_len: u64,
    policy: &FetchPolicy,
) -> Result<Vec<u8>, StoreError> {
    let scheme = known_scheme(uri)?;
    policy.check_scheme(uri, scheme)?;
    let host = match scheme {
        Scheme::File => None,
        Scheme::Http | Scheme::Https => Some(http_host(uri)?),
        Scheme::S3 => Some(format!("s3://{}", split_bucket_key(uri, true)?.0)),
    };
    let _slot = match (host, policy.max_per_host) {
        (Some(host), Some(limit)) => Some(HostSlot::take(uri, host, limit)?),
        _ => None,
    };
    let fetch = async {
        match scheme {
            Scheme::File => file::get_file(uri, max_len, &policy.file_roots).await,
            Scheme::Http | Scheme::Https => http::get_http(uri, max_len, policy).await,
            Scheme::S3 => {
                let (bucket, key) = split_bucket_key(uri, true)?;
                let store = s3::s3_client(uri, bucket, policy.timeouts, policy.s3_credentials)?;
                s3::get_object(&store, uri, &key, max_len).await
            }
        }
    };
    within_deadline(uri, policy.timeouts.total, fetch).await
}

/// Runs the download `fetch` of `uri`, or ends it with [`StoreError::TimedOut`] at `deadline`.
async fn within_deadline(
    uri: &str,
    deadline: Duration,
    fetch: impl Future<Output = Result<Vec<u8>, StoreError>>,
) -> Result<Vec<u8>, StoreError> {
    tokio::time::timeout(deadline, fetch)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::TimedOut {
                uri: uri.to_string(),
                after: deadline,
            })
        })
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

/// `d` for people: whole seconds as `10 s`, anything else in milliseconds.
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
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
