//! What a download may reach: [`FetchPolicy`], the address rule applied to every HTTP
//! connection, and the per-host download slots.
//!
//! A job's blob URIs are chosen by its client, a result's by its provider: whoever downloads
//! them must not let that choice read local files, reach services behind the firewall (cloud
//! metadata at `169.254.169.254`, an admin port on loopback), spend its own S3 credentials, or
//! hold it forever. [`FetchPolicy::default`] is the policy for URIs someone else chose;
//! [`FetchPolicy::permissive`] is for blobs the caller named itself.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{LazyLock, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::{StoreError, Timeouts};

/// Default [`FetchPolicy::max_per_host`]: downloads from one host at once.
pub const DEFAULT_MAX_PER_HOST: usize = 2;
/// [`FetchPolicy::permissive`]'s [`FetchPolicy::max_redirects`] (reqwest's own default).
pub const PERMISSIVE_MAX_REDIRECTS: usize = 10;

/// A URI scheme the store can download from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// `file:///abs/path`: a local file.
    File,
    /// `http://…`: plain HTTP.
    Http,
    /// `https://…`: HTTP over TLS.
    Https,
    /// `s3://bucket/key`: Amazon S3 (or a compatible store set up in the `AWS_*` environment).
    S3,
}

impl Scheme {
    /// Every scheme, in order.
    pub const ALL: [Scheme; 4] = [Scheme::File, Scheme::Http, Scheme::Https, Scheme::S3];

    /// The scheme's name as written in a URI (`file`, `http`, `https`, `s3`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::File => "file",
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::S3 => "s3",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scheme {
    type Err = String;

    /// Parses a scheme name, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scheme::ALL
            .into_iter()
            .find(|scheme| scheme.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown scheme {s:?} (known: file, http, https, s3)"))
    }
}

/// Which local files a `file://` download may read (when [`Scheme::File`] is allowed at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRoots {
    /// Any regular file: only for blobs the caller named itself.
    Any,
    /// Only regular files inside these directories, after `..` and every symbolic link are
    /// resolved: a link that leads out of them is refused. An empty list refuses every file.
    Under(Vec<PathBuf>),
}

/// What a download of a blob URI may do. Every download runs under one: [`fetch_verified_with`]
/// takes it explicitly, the plain [`fetch_verified`] uses [`FetchPolicy::permissive`].
///
/// | field | [`FetchPolicy::default`] (URIs others chose) | [`FetchPolicy::permissive`] (your own) |
/// |---|---|---|
/// | `schemes` | `https`, `s3` | all four |
/// | `file_roots` | none | any file |
/// | `allow_private_addresses` | no | yes |
/// | `max_redirects` | 0 | 10 |
/// | `s3_credentials` | no: unsigned requests | yes: `AWS_*` credentials |
/// | `timeouts` | 10 s connect, 30 s per download | same |
/// | `max_per_host` | 2 | unlimited |
///
/// In both, only regular files are read (a FIFO or a device is refused before it is opened), and
/// a download that takes longer than `timeouts.total` ends with [`StoreError::TimedOut`].
///
/// [`fetch_verified_with`]: super::fetch_verified_with
/// [`fetch_verified`]: super::fetch_verified
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPolicy {
    /// The schemes downloaded from; a URI of any other is refused ([`StoreError::Refused`]).
    pub schemes: BTreeSet<Scheme>,
    /// Which local files `file://` may read.
    pub file_roots: FileRoots,
    /// Whether HTTP(S) may reach non-public addresses: loopback, private (RFC 1918,
    /// `fc00::/7`), link-local (`169.254/16`, `fe80::/10`), shared (CGNAT `100.64/10`),
    /// multicast, broadcast, unspecified, reserved and documentation ranges, and IPv4-mapped or
    /// NAT64 forms of these. When false, every host name is resolved and all its addresses are
    /// checked before connecting, and only the checked addresses are connected to; system proxies
    /// are not used (a proxy would resolve the name itself). S3 requests go to the endpoint the
    /// `AWS_*` environment names (the downloader's choice, not the URI's), so this rule does not
    /// apply to them.
    pub allow_private_addresses: bool,
    /// How many HTTP redirects are followed; each hop is checked like the first URI (scheme,
    /// address). 0: a redirect is refused.
    pub max_redirects: usize,
    /// Whether `s3://` requests are signed with the credentials of the `AWS_*` environment
    /// (`AmazonS3Builder::from_env`). When false they are sent unsigned: a bucket named in a URI
    /// someone else chose never sees the downloader's credentials, and only public objects
    /// can be read.
    pub s3_credentials: bool,
    /// Connect timeout, and the deadline of a whole download (connection, redirects, retries and
    /// body; opening and reading for a file).
    pub timeouts: Timeouts,
    /// How many downloads from one host (HTTP host and port, or S3 bucket) may run at once in
    /// this process; one more is refused at once ([`StoreError::HostBusy`]), so a slow host
    /// cannot hold every download slot. `None`: no limit.
    pub max_per_host: Option<NonZeroUsize>,
}

impl Default for FetchPolicy {
    /// The policy for URIs someone else chose (a provider daemon downloading job blobs):
    /// `https` and `s3` only, public addresses only, no redirects, unsigned S3 requests, the
    /// default [`Timeouts`] and [`DEFAULT_MAX_PER_HOST`].
    fn default() -> Self {
        FetchPolicy {
            schemes: BTreeSet::from([Scheme::Https, Scheme::S3]),
            file_roots: FileRoots::Under(Vec::new()),
            allow_private_addresses: false,
            max_redirects: 0,
            s3_credentials: false,
            timeouts: Timeouts::default(),
            max_per_host: NonZeroUsize::new(DEFAULT_MAX_PER_HOST),
        }
    }
}

impl FetchPolicy {
    /// The policy for blobs the caller named itself (a client reading its own store): every
    /// scheme, any file, any address, [`PERMISSIVE_MAX_REDIRECTS`] redirects, S3 signed with the
    /// `AWS_*` credentials, no per-host limit. Regular files only, and the default [`Timeouts`],
    /// still apply.
    pub fn permissive() -> Self {
        FetchPolicy {
            schemes: BTreeSet::from(Scheme::ALL),
            file_roots: FileRoots::Any,
            allow_private_addresses: true,
            max_redirects: PERMISSIVE_MAX_REDIRECTS,
            s3_credentials: true,
            timeouts: Timeouts::default(),
            max_per_host: None,
        }
    }

    /// Refuses `uri` unless its `scheme` is allowed.
    pub(crate) fn check_scheme(&self, uri: &str, scheme: Scheme) -> Result<(), StoreError> {
        if self.schemes.contains(&scheme) {
            Ok(())
        } else {
            Err(StoreError::Refused {
                uri: uri.to_string(),
                reason: format!("{scheme}:// is disabled"),
            })
        }
    }

    /// Refuses `ip` if it is not public and this policy does not allow that.
    pub(crate) fn check_address(&self, ip: IpAddr) -> Result<(), String> {
        match non_public_kind(ip) {
            Some(kind) if !self.allow_private_addresses => Err(format!("{ip} is {kind}")),
            _ => Ok(()),
        }
    }
}

/// What kind of non-public address `ip` is ("a loopback address", …), or `None` if it is public.
pub(crate) fn non_public_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(if ip.is_unspecified() || a == 0 {
        "an unspecified address"
    } else if ip.is_loopback() {
        "a loopback address"
    } else if ip.is_private() {
        "a private address"
    } else if ip.is_link_local() {
        "a link-local address"
    } else if a == 100 && (b & 0xc0) == 64 {
        "a shared (CGNAT) address"
    } else if ip.is_broadcast() {
        "the broadcast address"
    } else if ip.is_multicast() {
        "a multicast address"
    } else if ip.is_documentation() {
        "a documentation address"
    } else if a >= 240 || (a == 192 && b == 0 && c == 0) || (a == 198 && (b & 0xfe) == 18) {
        // 240/4 future use, 192.0.0/24 protocol assignments, 198.18/15 benchmarking.
        "a reserved address"
    } else {
        return None;
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_kind(v4);
    }
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    Some(if ip.is_unspecified() {
        "an unspecified address"
    } else if ip.is_loopback() {
        "a loopback address"
    } else if s[0] == 0 {
        // ::/16 apart from the above: IPv4-compatible and other reserved forms.
        "a reserved address"
    } else if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        // NAT64 (64:ff9b::/96): the IPv4 address it translates to decides.
        return v4_kind(embedded_v4(s[6], s[7]));
    } else if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        "a private (local NAT64) address"
    } else if s[0] == 0x2002 {
        // 6to4 (2002::/16): the IPv4 address it embeds decides.
        return v4_kind(embedded_v4(s[1], s[2]));
    } else if (s[0] & 0xfe00) == 0xfc00 {
        "a private (unique local) address"
    } else if (s[0] & 0xffc0) == 0xfe80 {
        "a link-local address"
    } else if (s[0] & 0xffc0) == 0xfec0 {
        "a private (site-local) address"
    } else if ip.is_multicast() {
        "a multicast address"
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        "a documentation address"
    } else {
        return None;
    })
}

/// Downloads running per host, process-wide (see [`FetchPolicy::max_per_host`]).
static RUNNING: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Mutex::default);

/// One running download from a host; the slot is given back when this is dropped.
#[derive(Debug)]
pub(crate) struct HostSlot {
    host: String,
}

impl HostSlot {
    /// Takes a slot for `host`, or refuses if `limit` downloads from it are already running.
    pub(crate) fn take(uri: &str, host: String, limit: NonZeroUsize) -> Result<Self, StoreError> {
        let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
        let count = running.get(&host).copied().unwrap_or(0);
        if count >= limit.get() {
            return Err(StoreError::HostBusy {
                uri: uri.to_string(),
                host,
                limit: limit.get(),
            });
        }
        running.insert(host.clone(), count + 1);
        Ok(HostSlot { host })
    }
}

impl Drop for HostSlot {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = running.get_mut(&self.host) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                running.remove(&self.host);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(ip: &str) -> Option<&'static str> {
        non_public_kind(ip.parse().expect("address"))
    }

    #[test]
    fn every_non_public_range_is_named() {
        for (ip, expected) in [
            ("0.0.0.0", "an unspecified address"),
            ("0.1.2.3", "an unspecified address"),
            ("127.0.0.1", "a loopback address"),
            ("127.255.0.9", "a loopback address"),
            ("10.1.2.3", "a private address"),
            ("172.16.0.1", "a private address"),
            ("172.31.255.255", "a private address"),
            ("192.168.1.1", "a private address"),
            ("169.254.169.254", "a link-local address"),
            ("100.64.0.1", "a shared (CGNAT) address"),
            ("100.127.255.255", "a shared (CGNAT) address"),
            ("224.0.0.1", "a multicast address"),
            ("239.255.255.250", "a multicast address"),
            ("255.255.255.255", "the broadcast address"),
            ("240.0.0.1", "a reserved address"),
            ("198.18.0.1", "a reserved address"),
            ("192.0.2.1", "a documentation address"),
            ("::", "an unspecified address"),
            ("::1", "a loopback address"),
            ("::127.0.0.1", "a reserved address"),
            ("::ffff:127.0.0.1", "a loopback address"),
            ("::ffff:169.254.169.254", "a link-local address"),
            ("::ffff:10.0.0.1", "a private address"),
            ("64:ff9b::a9fe:a9fe", "a link-local address"),
            ("64:ff9b:1::1", "a private (local NAT64) address"),
            ("2002:7f00:1::", "a loopback address"),
            ("fc00::1", "a private (unique local) address"),
            ("fd12:3456::1", "a private (unique local) address"),
            ("fe80::1", "a link-local address"),
            ("febf::1", "a link-local address"),
            ("fec0::1", "a private (site-local) address"),
            ("ff02::1", "a multicast address"),
            ("2001:db8::1", "a documentation address"),
        ] {
            assert_eq!(kind(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "169.253.0.1",
            "52.216.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::",
        ] {
            assert_eq!(kind(ip), None, "{ip}");
        }
    }

    #[test]
    fn policy_checks_addresses_unless_private_is_allowed() {
        let strict = FetchPolicy::default();
        let ip: IpAddr = "127.0.0.1".parse().expect("address");
        assert_eq!(
            strict.check_address(ip),
            Err("127.0.0.1 is a loopback address".to_string())
        );
        assert_eq!(strict.check_address("8.8.8.8".parse().expect("ip")), Ok(()));
        let lan = FetchPolicy {
            allow_private_addresses: true,
            ..FetchPolicy::default()
        };
        assert_eq!(lan.check_address(ip), Ok(()));
    }

    #[test]
    fn schemes_parse_and_print() {
        for scheme in Scheme::ALL {
            assert_eq!(scheme.as_str().parse::<Scheme>(), Ok(scheme));
            assert_eq!(
                scheme.to_string().to_uppercase().parse::<Scheme>(),
                Ok(scheme)
            );
        }
        assert!("ftp".parse::<Scheme>().is_err());
    }

    #[test]
    fn host_slots_are_limited_and_given_back() {
        let limit = NonZeroUsize::new(2).expect("non-zero");
        let host = "slots.test:443".to_string();
        let a = HostSlot::take("u", host.clone(), limit).expect("first");
        let b = HostSlot::take("u", host.clone(), limit).expect("second");
        let err = HostSlot::take("u", host.clone(), limit).expect_err("third");
        assert!(
            matches!(&err, StoreError::HostBusy { host: h, limit: 2, .. } if *h == host),
            "{err:?}"
        );
        // Another host is not affected.
        let other = HostSlot::take("u", "other.test:443".into(), limit).expect("other host");
        drop(a);
        let c = HostSlot::take("u", host.clone(), limit).expect("slot given back");
        drop((b, c, other));
        let running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(!running.contains_key(&host), "idle hosts are forgotten");
    }
}
