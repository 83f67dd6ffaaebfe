//! Parsing blob URIs: scheme, `file://` path, HTTP URL, S3 bucket and key. Pure functions.

use std::path::PathBuf;

use object_store::path::Path as ObjectPath;
use url::Url;

use super::{Scheme, StoreError};

pub(super) fn invalid(uri: &str, reason: &str) -> StoreError {
    StoreError::InvalidUri {
        uri: uri.to_string(),
        reason: reason.to_string(),
    }
}

pub(super) fn trim_slash(s: &str) -> String {
    s.trim_end_matches('/').to_string()
}

/// The lowercase scheme of `uri`, which must have the form `scheme://…`.
pub(super) fn scheme_of(uri: &str) -> Result<String, StoreError> {
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

/// The [`Scheme`] of `uri`: [`StoreError::UnsupportedScheme`] for a well-formed scheme the store
/// does not handle.
pub(super) fn known_scheme(uri: &str) -> Result<Scheme, StoreError> {
    let scheme = scheme_of(uri)?;
    scheme.parse().map_err(|_| StoreError::UnsupportedScheme {
        uri: uri.to_string(),
    })
}

/// The absolute local path of a `file://` URI (empty host or `localhost` only), with no `.` or
/// `..` segments.
pub(super) fn file_uri_path(uri: &str) -> Result<PathBuf, StoreError> {
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

pub(super) fn parse_http_url(uri: &str) -> Result<Url, StoreError> {
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

/// The host and port an HTTP(S) URI connects to (`example.org:443`), which names its
/// per-host download slot.
pub(super) fn http_host(uri: &str) -> Result<String, StoreError> {
    let url = parse_http_url(uri)?;
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    match url.port_or_known_default() {
        Some(port) => Ok(format!("{host}:{port}")),
        None => Ok(host),
    }
}

/// Splits `scheme://bucket/key` into the bucket and the object key. With `need_key` the key must
/// be non-empty (a blob); without, it is a prefix and may be empty. A bucket name is letters,
/// digits, `.`, `-` and `_` only (S3's rule, plus `_` for older buckets).
pub(super) fn split_bucket_key(
    uri: &str,
    need_key: bool,
) -> Result<(&str, ObjectPath), StoreError> {
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
    if !bucket
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(invalid(
            uri,
            "a bucket name has only letters, digits, '.', '-' and '_'",
        ));
    }
    let key = key.trim_end_matches('/');
    if need_key && key.is_empty() {
        return Err(invalid(uri, "missing object key"));
    }
    let key = ObjectPath::parse(key).map_err(|e| invalid(uri, &e.to_string()))?;
    Ok((bucket, key))
}

pub(super) fn normalized_object_base(scheme: &str, bucket: &str, prefix: &ObjectPath) -> String {
    if prefix.as_ref().is_empty() {
        format!("{scheme}://{bucket}")
    } else {
        format!("{scheme}://{bucket}/{}", prefix.as_ref())
    }
}
