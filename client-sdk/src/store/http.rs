//! `http(s)://` blobs: uploads with `PUT`, and downloads whose every connection passes the
//! policy's address rule.
//!
//! How the rule holds: an IP literal in the URI (or in a redirect's `Location`) is checked before
//! any request; a host name is resolved by [`PublicOnly`], which refuses the name if any of its
//! addresses is not public, and hands reqwest only the addresses it checked, so there is no
//! window between checking and connecting (DNS rebinding). System proxies are off under the
//! rule: a proxy would resolve names itself.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;
use url::{Host, Url};

use super::policy::non_public_kind;
use super::uri::parse_http_url;
use super::{error_chain, prealloc, FetchPolicy, Scheme, StoreError, Timeouts};

/// Longest error-body excerpt quoted in an error message.
const MAX_ERROR_BODY: usize = 512;

/// A download the policy refuses, carried through reqwest's errors (resolver, redirect policy)
/// and turned back into [`StoreError::Refused`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refusal(String);

/// The reason of a [`Refusal`] somewhere in `e`'s chain of sources.
fn refusal_in(e: &(dyn StdError + 'static)) -> Option<String> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(refusal) = err.downcast_ref::<Refusal>() {
            return Some(refusal.0.clone());
        }
        next = err.source();
    }
    None
}

/// Resolves host names, refusing those with any address the policy does not allow.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(resolve_public(name.as_str().to_string()))
    }
}

async fn resolve_public(host: String) -> Result<Addrs, Box<dyn StdError + Send + Sync>> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
    let refused = addrs
        .iter()
        .find_map(|a| non_public_kind(a.ip()).map(|kind| (a.ip(), kind)));
    if let Some((ip, kind)) = refused {
        return Err(Box::new(Refusal(format!(
            "{host} resolves to {ip}, {kind}"
        ))));
    }
    Ok(Box::new(addrs.into_iter()))
}

fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        Host::Domain(_) => None,
    }
}

/// What the policy says about a URL before connecting to it: its scheme, and its host if that is
/// an IP literal (host names are checked when they are resolved).
fn check_target(url: &Url, policy: &FetchPolicy) -> Result<(), String> {
    let scheme = match url.scheme() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(format!("{other}:// is disabled")),
    };
    if !policy.schemes.contains(&scheme) {
        return Err(format!("{scheme}:// is disabled"));
    }
    match literal_ip(url) {
        Some(ip) => policy.check_address(ip),
        None => Ok(()),
    }
}

fn redirect_policy(policy: &FetchPolicy) -> redirect::Policy {
    let max = policy.max_redirects;
    if max == 0 {
        // The 3xx comes back as the response, and is refused with its Location.
        return redirect::Policy::none();
    }
    let policy = policy.clone();
    redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max {
            return attempt.error(Refusal(format!("more than {max} redirects")));
        }
        match check_target(attempt.url(), &policy) {
            Ok(()) => attempt.follow(),
            Err(reason) => {
                let reason = format!("redirect to {}: {reason}", attempt.url());
                attempt.error(Refusal(reason))
            }
        }
    })
}

/// The client uploads use: connect and total timeouts per request.
pub(super) fn upload_client(uri: &str, timeouts: Timeouts) -> Result<reqwest::Client, StoreError> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.total)
        .build()
        .map_err(|e| client_error(uri, &e))
}

/// The client one download under `policy` uses: its connect timeout and redirects, and unless
/// private addresses are allowed, [`PublicOnly`] and no proxy. (The download's deadline is
/// applied around the whole download, not per request.)
fn download_client(uri: &str, policy: &FetchPolicy) -> Result<reqwest::Client, StoreError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(policy.timeouts.connect)
        .redirect(redirect_policy(policy));
    if !policy.allow_private_addresses {
        builder = builder.no_proxy().dns_resolver(Arc::new(PublicOnly));
    }
    builder.build().map_err(|e| client_error(uri, &e))
}

fn client_error(uri: &str, e: &reqwest::Error) -> StoreError {
    StoreError::Http {
        uri: uri.to_string(),
        message: format!("cannot build HTTP client: {}", error_chain(e)),
    }
}

fn request_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("request timed out: {}", error_chain(e))
    } else {
        error_chain(e)
    }
}

/// A failed download request: the policy's refusal if that is what stopped it.
fn download_error(uri: &str, e: &reqwest::Error) -> StoreError {
    match refusal_in(e) {
        Some(reason) => StoreError::Refused {
            uri: uri.to_string(),
            reason,
        },
        None => StoreError::Http {
            uri: uri.to_string(),
            message: request_error(e),
        },
    }
}

/// At most [`MAX_ERROR_BODY`] characters of an error response's body (read no further: the
/// server may send without end).
async fn error_body_excerpt(mut resp: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY * 4 {
        match resp.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&body);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let cut = text
        .char_indices()
        .nth(MAX_ERROR_BODY)
        .map_or(text.len(), |(i, _)| i);
    format!(": {}", &text[..cut])
}

pub(super) async fn put_http(
    client: &reqwest::Client,
    uri: &str,
    bytes: &[u8],
) -> Result<(), StoreError> {
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

/// Downloads `uri` under `policy`, refusing more than `max_len` bytes.
pub(super) async fn get_http(
    uri: &str,
    max_len: u64,
    policy: &FetchPolicy,
) -> Result<Vec<u8>, StoreError> {
    let url = parse_http_url(uri)?;
    check_target(&url, policy).map_err(|reason| StoreError::Refused {
        uri: uri.to_string(),
        reason,
    })?;
    let client = download_client(uri, policy)?;
    let http_err = |message: String| StoreError::Http {
        uri: uri.to_string(),
        message,
    };
    let mut resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| download_error(uri, &e))?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(StoreError::NotFound {
            uri: uri.to_string(),
        });
    }
    if status.is_redirection() {
        if let Some(location) = resp.headers().get(reqwest::header::LOCATION) {
            let location = String::from_utf8_lossy(location.as_bytes());
            return Err(StoreError::Refused {
                uri: uri.to_string(),
                reason: format!("redirect ({status}) to {location}: redirects are not followed"),
            });
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[test]
    fn redirect_hops_are_checked_like_the_first_uri() {
        let strict = FetchPolicy {
            max_redirects: 3,
            ..FetchPolicy::default()
        };
        assert_eq!(check_target(&url("https://example.org/b"), &strict), Ok(()));
        // Names pass here: PublicOnly checks them when they are resolved.
        assert_eq!(check_target(&url("https://localhost/b"), &strict), Ok(()));
        for (target, reason) in [
            ("https://127.0.0.1/b", "127.0.0.1 is a loopback address"),
            ("https://[::1]/b", "::1 is a loopback address"),
            (
                "https://[::ffff:a9fe:a9fe]/b",
                "::ffff:169.254.169.254 is a link-local address",
            ),
            ("http://169.254.169.254/latest", "http:// is disabled"),
            ("https://2130706433/b", "127.0.0.1 is a loopback address"),
            ("ftp://example.org/b", "ftp:// is disabled"),
        ] {
            assert_eq!(
                check_target(&url(target), &strict),
                Err(reason.to_string()),
                "{target}"
            );
        }
        let lan = FetchPolicy {
            allow_private_addresses: true,
            ..strict
        };
        assert_eq!(check_target(&url("https://10.0.0.7/b"), &lan), Ok(()));
    }

    #[test]
    fn refusals_are_found_in_error_chains() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] Refusal);
        let e = Outer(Refusal("localhost resolves to 127.0.0.1".into()));
        assert_eq!(
            refusal_in(&e).as_deref(),
            Some("localhost resolves to 127.0.0.1")
        );
        assert_eq!(refusal_in(&std::io::Error::other("x")), None);
    }
}
