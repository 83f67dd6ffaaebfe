//! The operator's settings: one [`Settings`] struct, read from a TOML file and then overridden by
//! environment variables.
//!
//! Sources, later ones winning:
//!
//! 1. built-in defaults ([`Settings::default`]),
//! 2. the TOML file given to [`Settings::load`] (keys as in `provider-daemon/config.example.toml`,
//!    unknown keys refused),
//! 3. environment variables `COMPUTE_MARKET__<KEY>` for top-level keys and
//!    `COMPUTE_MARKET__<SECTION>__<KEY>` for keys in a section, e.g.
//!    `COMPUTE_MARKET__MARKET=<base58>` or `COMPUTE_MARKET__GPU__ALLOW_CPU=true`. List keys
//!    (`rpc_urls`, `ws_urls`, `blocked_clients`, `fetch.schemes`, `fetch.file_roots`) take a
//!    comma-separated list (`COMPUTE_MARKET__FETCH__SCHEMES=https,s3,file`); an empty value
//!    clears an optional key (`metrics_addr`, `priority_fee_micro_lamports`,
//!    `max_priority_fee_micro_lamports`, `gpu.adapter`, `fault.crash_after`).
//!    Unknown `COMPUTE_MARKET__*` variables are refused, like unknown keys in the file.
//!
//! [`Settings::load`] then expands a leading `~/` in `keypair_path`, `state_path` and
//! `fetch.file_roots` and runs
//! [`Settings::validate`]. Every failure is a distinct [`SettingsError`] variant whose message
//! names the file or variable and the key, and says what to change.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use compute_market_sdk::store::{FetchPolicy, FileRoots, Scheme, Timeouts};
use compute_market_sdk::Pubkey;
use serde::{Deserialize, Serialize};

/// Prefix of every environment variable that overrides a setting.
pub const ENV_PREFIX: &str = "COMPUTE_MARKET__";

/// Default `keypair_path`: the Solana CLI's default wallet (`~` is expanded at load time).
pub const DEFAULT_KEYPAIR_PATH: &str = "~/.config/solana/id.json";

/// Default `state_path` (relative to the daemon's working directory).
pub const DEFAULT_STATE_PATH: &str = "provider-state.sqlite";

/// Default `output_retention`: 7 days.
pub const DEFAULT_OUTPUT_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Default `gpu.max_input_bytes` and `gpu.max_output_bytes`: 128 MiB.
pub const DEFAULT_MAX_IO_BYTES: u64 = 128 * 1024 * 1024;

/// Everything the provider daemon's operator can set.
///
/// Construct it with [`Settings::load`] (file + environment + validation) or, in code and tests,
/// from [`Settings::default`] with struct-update syntax followed by [`Settings::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Solana JSON-RPC endpoints (`http://` or `https://`). Requests go to one endpoint until it
    /// fails (unreachable, an HTTP error, 429 once its `Retry-After` waits are spent, unhealthy,
    /// behind the slot a read needs), then to the next. At least one is required.
    pub rpc_urls: Vec<String>,
    /// Solana PubSub websocket endpoints (`ws://` or `wss://`). Empty (the default): derived from
    /// each RPC URL.
    pub ws_urls: Vec<String>,
    /// The provider's wallet: a Solana CLI JSON keypair file. Default `~/.config/solana/id.json`.
    pub keypair_path: PathBuf,
    /// The market this provider serves: its base58 account address. Required.
    pub market: String,
    /// Base URI of the blob store where job outputs are uploaded, e.g.
    /// `file:///var/lib/compute-market/blobs`, `https://…` or `s3://bucket/prefix`. Required.
    pub store: String,
    /// How long an output this daemon uploaded is kept after its job finished (settled, given
    /// up or gone), then deleted from `store` (`file://` and `s3://` stores; an `http(s)://`
    /// store cannot delete, and keeps everything). 0 keeps outputs forever. Default 7 days.
    #[serde(with = "humantime_serde")]
    pub output_retention: Duration,
    /// The daemon's write-ahead journal (SQLite file). Default `provider-state.sqlite`.
    pub state_path: PathBuf,
    /// Jobs paying less than this (in the market's mint base units) are skipped. Default 0.
    pub min_reward: u64,
    /// Jobs whose reward is less than this share of the collateral they put at risk, in basis
    /// points, are skipped (e.g. 1000: the reward must be at least 10 % of the collateral).
    /// Default 0.
    pub min_reward_to_collateral_bps: u64,
    /// Clients (wallet addresses, base58) whose jobs are never taken. Default: none.
    pub blocked_clients: Vec<String>,
    /// Most jobs of one client in progress at once (0: no limit). Default 0.
    pub max_jobs_per_client: usize,
    /// Time a job needs beyond `job_timeout` before its commit deadline: waiting for a worker,
    /// downloading, uploading the output and confirming transactions. Jobs leaving less are
    /// skipped. Default 10s.
    #[serde(with = "humantime_serde")]
    pub claim_margin: Duration,
    /// How many jobs may be claimed and in progress at once. Default 2; must be at least 1.
    pub max_concurrent_jobs: usize,
    /// Wall-clock limit for one job's GPU execution (humantime string, e.g. `"60s"`). Default 60s.
    #[serde(with = "humantime_serde")]
    pub job_timeout: Duration,
    /// How often the full list of open jobs is re-read from RPC, in case a websocket
    /// notification was missed. Default 10s.
    #[serde(with = "humantime_serde")]
    pub resync_interval: Duration,
    /// How often a sent transaction's confirmation and a job's phase are polled. Default 1s.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Address of the Prometheus `/metrics` endpoint, e.g. `127.0.0.1:9464`. Default: none (no
    /// metrics server).
    pub metrics_addr: Option<SocketAddr>,
    /// Log output format. Default `auto`.
    pub log_format: LogFormat,
    /// Compute-unit price added to every transaction, in micro-lamports. Default: none (no
    /// priority fee). With `max_priority_fee_micro_lamports` set: the least fee paid.
    pub priority_fee_micro_lamports: Option<u64>,
    /// When set, each transaction's compute-unit price follows the network's recent fees for
    /// the accounts it writes (`getRecentPrioritizationFees`, 75th percentile), at most this
    /// many micro-lamports. Default: none (the fixed `priority_fee_micro_lamports` only).
    pub max_priority_fee_micro_lamports: Option<u64>,
    /// The `[gpu]` section: the executor.
    pub gpu: GpuSettings,
    /// The `[fetch]` section: what downloading a job's shader and input may do.
    pub fetch: FetchSettings,
    /// The `[sandbox]` section: how GPU workers and the shader validator are confined.
    pub sandbox: SandboxSettings,
    /// The `[fault]` section: TEST-ONLY fault injection.
    pub fault: FaultSettings,
    /// Where these settings were read from (`None`: defaults and environment only). Not a key:
    /// filled in by [`Settings::load`] and used in error messages.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rpc_urls: Vec::new(),
            ws_urls: Vec::new(),
            keypair_path: PathBuf::from(DEFAULT_KEYPAIR_PATH),
            market: String::new(),
            store: String::new(),
            output_retention: DEFAULT_OUTPUT_RETENTION,
            state_path: PathBuf::from(DEFAULT_STATE_PATH),
            min_reward: 0,
            min_reward_to_collateral_bps: 0,
            blocked_clients: Vec::new(),
            max_jobs_per_client: 0,
            claim_margin: Duration::from_secs(10),
            max_concurrent_jobs: 2,
            job_timeout: Duration::from_secs(60),
            resync_interval: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            metrics_addr: None,
            log_format: LogFormat::Auto,
            priority_fee_micro_lamports: None,
            max_priority_fee_micro_lamports: None,
            gpu: GpuSettings::default(),
            fetch: FetchSettings::default(),
            sandbox: SandboxSettings::default(),
            fault: FaultSettings::default(),
            source: None,
        }
    }
}

/// The `[gpu]` section: which device runs jobs and how big they may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GpuSettings {
    /// Substring of the adapter name to use (case-insensitive), e.g. `"RTX 4090"`. Default: none
    /// (the first suitable hardware adapter).
    pub adapter: Option<String>,
    /// Allow a CPU (software) adapter when no GPU is found. For tests and CI only. Default false.
    pub allow_cpu: bool,
    /// Number of warm GPU worker processes. Default 1; must be at least 1.
    pub workers: usize,
    /// Largest job input accepted, in bytes. Default 128 MiB.
    pub max_input_bytes: u64,
    /// Largest job output accepted, in bytes. Default 128 MiB.
    pub max_output_bytes: u64,
}

impl Default for GpuSettings {
    fn default() -> Self {
        GpuSettings {
            adapter: None,
            allow_cpu: false,
            workers: 1,
            max_input_bytes: DEFAULT_MAX_IO_BYTES,
            max_output_bytes: DEFAULT_MAX_IO_BYTES,
        }
    }
}

/// The `[fetch]` section: what downloading a job's shader and input may do. Their URIs are
/// chosen by the job's client, who may be hostile: by default only `https://` and `s3://`, only
/// public addresses, no redirects, unsigned S3 requests, and a deadline on every download
/// ([`FetchSettings::policy`] is the SDK's [`FetchPolicy`] these settings describe).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchSettings {
    /// URI schemes job blobs are downloaded from: any of `https`, `s3`, `http`, `file`. A blob
    /// of another scheme is skipped ("refused: http:// is disabled"). Default `["https", "s3"]`.
    pub schemes: Vec<Scheme>,
    /// Directories `file://` blobs may be read from (absolute; `~/` is expanded). A file outside
    /// them, or a symbolic link that leads out of them, is refused. Required when `schemes`
    /// includes `file`. Default: none.
    pub file_roots: Vec<PathBuf>,
    /// Let `http(s)://` downloads reach non-public addresses: loopback, private (RFC 1918,
    /// `fc00::/7`), link-local (`169.254/16` — cloud metadata — and `fe80::/10`), CGNAT,
    /// multicast, broadcast, reserved. For a blob server on your own network. Names are resolved
    /// and every address checked before connecting. Default false.
    pub allow_private_addresses: bool,
    /// HTTP redirects followed; each hop is checked like the first URI. Default 0 (a redirect is
    /// refused).
    pub max_redirects: usize,
    /// Sign `s3://` downloads with this provider's AWS credentials (the `AWS_*` environment).
    /// Default false: requests are unsigned, so a bucket a client names never sees your
    /// credentials, and only public objects can be read.
    pub s3_credentials: bool,
    /// Longest wait for a download's connection. Default 10s.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Deadline of one whole download (connection, body, retries; a file's open and read).
    /// Default 30s.
    #[serde(with = "humantime_serde")]
    pub total_timeout: Duration,
    /// Downloads from one host (or S3 bucket) at once; a job needing one more is skipped until
    /// the next resync. Default 2; must be at least 1.
    pub max_per_host: usize,
}

impl Default for FetchSettings {
    fn default() -> Self {
        let policy = FetchPolicy::default();
        FetchSettings {
            schemes: policy.schemes.into_iter().collect(),
            file_roots: Vec::new(),
            allow_private_addresses: policy.allow_private_addresses,
            max_redirects: policy.max_redirects,
            s3_credentials: policy.s3_credentials,
            connect_timeout: policy.timeouts.connect,
            total_timeout: policy.timeouts.total,
            max_per_host: compute_market_sdk::store::DEFAULT_MAX_PER_HOST,
        }
    }
}

/// The `[sandbox]` section: how the processes that touch untrusted shaders (GPU workers and the
/// shader validator) are confined. See [`crate::gpu::sandbox`] for what it does and does not
/// protect against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxSettings {
    /// Variables passed from the daemon's environment to workers, beyond the built-in list
    /// ([`crate::gpu::sandbox::BUILTIN_PASS_ENV`]: `PATH`, `LD_LIBRARY_PATH`, `XDG_RUNTIME_DIR`,
    /// `RUST_LOG`, `RUST_BACKTRACE`, `VK_*`, `MESA_*`, `LP_*`, `GALLIUM_*`, `RADV_*`, `WGPU_*`).
    /// Names; a trailing `*` matches a prefix. Every other variable is withheld. Default: none.
    pub pass_env: Vec<String>,
    /// Address-space (virtual memory) limit of each worker, in bytes; 0 = unlimited. Default
    /// 16 GiB; at least 1 GiB (an idle lavapipe worker maps about 0.8 GiB).
    pub max_address_space_bytes: u64,
    /// Open-file limit of each worker. Default 1024; at least 64.
    pub max_open_files: u64,
    /// CPU time one worker may use over its life (the kernel kills it beyond); workers close to
    /// it are replaced between jobs. Default 1h; at least `job_timeout`.
    #[serde(with = "humantime_serde")]
    pub max_cpu_time: Duration,
    /// Start workers in their own network namespace, without network, where the kernel allows
    /// unprivileged user namespaces (otherwise the daemon logs that it could not). Default true.
    pub isolate_network: bool,
}

/// Smallest `sandbox.max_address_space_bytes` other than 0.
pub const MIN_ADDRESS_SPACE_BYTES: u64 = 1 << 30;

/// Smallest `sandbox.max_open_files`.
pub const MIN_OPEN_FILES: u64 = 64;

impl Default for SandboxSettings {
    fn default() -> Self {
        let sandbox = crate::gpu::SandboxConfig::default();
        SandboxSettings {
            pass_env: sandbox.pass_env,
            max_address_space_bytes: sandbox.max_address_space.unwrap_or(0),
            max_open_files: sandbox.max_open_files,
            max_cpu_time: sandbox.max_cpu_time,
            isolate_network: sandbox.isolate_network,
        }
    }
}

impl FetchSettings {
    /// The SDK's download policy these settings describe.
    pub fn policy(&self) -> FetchPolicy {
        FetchPolicy {
            schemes: self.schemes.iter().copied().collect(),
            file_roots: FileRoots::Under(self.file_roots.clone()),
            allow_private_addresses: self.allow_private_addresses,
            max_redirects: self.max_redirects,
            s3_credentials: self.s3_credentials,
            timeouts: Timeouts {
                connect: self.connect_timeout,
                total: self.total_timeout,
            },
            max_per_host: std::num::NonZeroUsize::new(self.max_per_host),
        }
    }
}

impl From<&SandboxSettings> for crate::gpu::SandboxConfig {
    fn from(s: &SandboxSettings) -> Self {
        crate::gpu::SandboxConfig {
            pass_env: s.pass_env.clone(),
            max_address_space: (s.max_address_space_bytes != 0)
                .then_some(s.max_address_space_bytes),
            max_open_files: s.max_open_files,
            max_cpu_time: s.max_cpu_time,
            isolate_network: s.isolate_network,
        }
    }
}

impl SandboxSettings {
    /// Checks the section against its bounds (`job_timeout` bounds `max_cpu_time`).
    fn validate(&self, origin: &str, job_timeout: Duration) -> Result<(), SettingsError> {
        let too_low = |key, value: String, min: String| SettingsError::SandboxLimitTooLow {
            origin: origin.to_string(),
            key,
            value,
            min,
        };
        if self.max_address_space_bytes != 0
            && self.max_address_space_bytes < MIN_ADDRESS_SPACE_BYTES
        {
            return Err(too_low(
                "sandbox.max_address_space_bytes",
                self.max_address_space_bytes.to_string(),
                format!("{MIN_ADDRESS_SPACE_BYTES} (or 0 for no limit)"),
            ));
        }
        if self.max_open_files < MIN_OPEN_FILES {
            return Err(too_low(
                "sandbox.max_open_files",
                self.max_open_files.to_string(),
                MIN_OPEN_FILES.to_string(),
            ));
        }
        if self.max_cpu_time < job_timeout {
            return Err(too_low(
                "sandbox.max_cpu_time",
                humantime_serde::re::humantime::format_duration(self.max_cpu_time).to_string(),
                format!(
                    "job_timeout ({})",
                    humantime_serde::re::humantime::format_duration(job_timeout)
                ),
            ));
        }
        for entry in &self.pass_env {
            let name = entry.strip_suffix('*').unwrap_or(entry);
            let reason = if entry == "*" {
                Some("a lone `*` would pass every variable, secrets included")
            } else if name.is_empty() {
                Some("the name is empty")
            } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                Some("a name has only letters, digits and `_`, with an optional trailing `*`")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(SettingsError::InvalidPassEnv {
                    origin: origin.to_string(),
                    entry: entry.clone(),
                    reason,
                });
            }
        }
        Ok(())
    }
}

/// The `[fault]` section: TEST-ONLY fault injection for end-to-end tests of the market's dispute
/// and recovery paths.
///
/// It always parses, but [`Settings::validate`] refuses any enabled fault unless the daemon was
/// built with the `fault-injection` cargo feature.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSettings {
    /// Commit and reveal a wrong result hash (a dishonest provider). Default false.
    pub lie: bool,
    /// Exit the process right after this transaction was sent (crash-recovery tests). Default:
    /// none.
    pub crash_after: Option<CrashPoint>,
    /// Make this discovery task panic half a second after it started (dead-watcher tests).
    /// Default: none.
    pub watcher_panics: Option<Watcher>,
}

impl FaultSettings {
    /// Whether any fault is switched on.
    pub fn is_enabled(&self) -> bool {
        self.lie || self.crash_after.is_some() || self.watcher_panics.is_some()
    }
}

/// A job-discovery task, for [`FaultSettings::watcher_panics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Watcher {
    /// The websocket subscription ([`crate::chain::watcher::subscribe`]).
    Websocket,
    /// The periodic resync ([`crate::chain::watcher::resync`]).
    Resync,
}

impl Watcher {
    /// The settings value (`websocket`, `resync`).
    pub fn as_str(self) -> &'static str {
        match self {
            Watcher::Websocket => "websocket",
            Watcher::Resync => "resync",
        }
    }
}

/// Where [`FaultSettings::crash_after`] makes the daemon exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashPoint {
    /// Right after the claim transaction was sent.
    ClaimSent,
    /// Right after the commit transaction was sent.
    CommitSent,
    /// Right after the reveal transaction was sent.
    RevealSent,
    /// Right after the result-submission transaction was sent.
    SubmitSent,
}

impl CrashPoint {
    /// Every crash point, in the order a job reaches them.
    pub const ALL: [CrashPoint; 4] = [
        CrashPoint::ClaimSent,
        CrashPoint::CommitSent,
        CrashPoint::RevealSent,
        CrashPoint::SubmitSent,
    ];

    /// The settings value (`claim_sent`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            CrashPoint::ClaimSent => "claim_sent",
            CrashPoint::CommitSent => "commit_sent",
            CrashPoint::RevealSent => "reveal_sent",
            CrashPoint::SubmitSent => "submit_sent",
        }
    }
}

impl fmt::Display for CrashPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable text on a terminal, JSON lines otherwise.
    #[default]
    Auto,
    /// JSON lines.
    Json,
    /// Human-readable text.
    Text,
}

impl LogFormat {
    /// The settings value (`auto`, `json`, `text`).
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Auto => "auto",
            LogFormat::Json => "json",
            LogFormat::Text => "text",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the settings could not be loaded or are not usable. Each message names the file or
/// environment variable and the key, and says what to change.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The settings file given does not exist.
    #[error(
        "settings file {} does not exist: create it (provider-daemon/config.example.toml documents \
         every key) or pass the path of an existing file",
        path.display()
    )]
    FileNotFound {
        /// The path given.
        path: PathBuf,
    },
    /// The settings file exists but could not be read.
    #[error("cannot read settings file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The settings file is not valid TOML.
    #[error(
        "settings file {}, line {line}, column {column}: TOML syntax error: {message}",
        path.display()
    )]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A key (in the file) or a `COMPUTE_MARKET__*` variable (in the environment) that is not a
    /// setting.
    #[error(
        "{origin}: unknown key `{key}`: remove it or fix its spelling (known keys: {})",
        known_keys_list()
    )]
    UnknownKey {
        /// The file, or the environment variable.
        origin: String,
        /// The key, dotted for section keys (`gpu.workers`).
        key: String,
    },
    /// A key in the file has a value of the wrong type or form.
    #[error("{origin}: {message}")]
    InvalidValue {
        /// The file.
        origin: String,
        /// The deserializer's message, with the line and key.
        message: String,
    },
    /// A `COMPUTE_MARKET__*` environment variable has a value of the wrong form.
    #[error("environment variable {var} (setting `{key}`): {message}")]
    InvalidEnv {
        /// The variable.
        var: String,
        /// The setting it overrides.
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// `market` is not set.
    #[error(
        "{origin}: `market` is not set: set it to the market's base58 account address (or set \
         {ENV_PREFIX}MARKET)"
    )]
    MissingMarket {
        /// Where the settings came from.
        origin: String,
    },
    /// `market` is not a base58 32-byte address.
    #[error(
        "{origin}: `market` = {value:?} is not a valid account address ({reason}): it must be a \
         32-byte public key in base58"
    )]
    InvalidMarket {
        /// Where the settings came from.
        origin: String,
        /// The value given.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
    /// `rpc_urls` is empty.
    #[error(
        "{origin}: `rpc_urls` is empty: list at least one Solana RPC endpoint, e.g. \
         rpc_urls = [\"https://api.mainnet-beta.solana.com\"] (or set {ENV_PREFIX}RPC_URLS)"
    )]
    EmptyRpcUrls {
        /// Where the settings came from.
        origin: String,
    },
    /// An entry of `rpc_urls` is not an `http://` or `https://` URL.
    #[error("{origin}: `rpc_urls` entry {url:?} is not usable ({reason}): use an http:// or https:// URL")]
    InvalidRpcUrl {
        /// Where the settings came from.
        origin: String,
        /// The entry.
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// An entry of `ws_urls` is not a `ws://` or `wss://` URL.
    #[error(
        "{origin}: `ws_urls` entry {url:?} is not usable ({reason}): use a ws:// or wss:// URL, or \
         leave ws_urls empty to derive it from rpc_urls"
    )]
    InvalidWsUrl {
        /// Where the settings came from.
        origin: String,
        /// The entry.
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// `store` is not set.
    #[error(
        "{origin}: `store` is not set: set it to the blob store's base URI where outputs are \
         uploaded, e.g. store = \"file:///var/lib/compute-market/blobs\" (or set {ENV_PREFIX}STORE)"
    )]
    MissingStore {
        /// Where the settings came from.
        origin: String,
    },
    /// `store` is not a `file://`, `http(s)://` or `s3://` URI.
    #[error(
        "{origin}: `store` = {value:?} is not usable ({reason}): use a file://, http://, https:// \
         or s3:// URI"
    )]
    InvalidStore {
        /// Where the settings came from.
        origin: String,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// An entry of `blocked_clients` is not a base58 address.
    #[error(
        "{origin}: `blocked_clients` entry {value:?} is not a valid wallet address ({reason}): \
         list base58 public keys"
    )]
    InvalidBlockedClient {
        /// Where the settings came from.
        origin: String,
        /// The entry.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
    /// `max_concurrent_jobs` is 0.
    #[error(
        "{origin}: `max_concurrent_jobs` is 0: set it to at least 1 (or set \
         {ENV_PREFIX}MAX_CONCURRENT_JOBS)"
    )]
    ZeroMaxConcurrentJobs {
        /// Where the settings came from.
        origin: String,
    },
    /// `gpu.workers` is 0.
    #[error(
        "{origin}: `gpu.workers` is 0: set `workers` in the [gpu] section to at least 1 (or set \
         {ENV_PREFIX}GPU__WORKERS)"
    )]
    ZeroWorkers {
        /// Where the settings came from.
        origin: String,
    },
    /// A duration setting is zero.
    #[error("{origin}: `{key}` is 0: give a positive duration such as \"1s\" or \"2m\"")]
    ZeroDuration {
        /// Where the settings came from.
        origin: String,
        /// The key.
        key: &'static str,
    },
    /// `fetch.schemes` includes `file` but `fetch.file_roots` is empty.
    #[error(
        "{origin}: `fetch.schemes` includes \"file\" but `fetch.file_roots` is empty: list the \
         directories job blobs may be read from, e.g. file_roots = [\"/var/lib/compute-market/blobs\"] \
         (or set {ENV_PREFIX}FETCH__FILE_ROOTS), or remove \"file\" from the schemes"
    )]
    MissingFileRoots {
        /// Where the settings came from.
        origin: String,
    },
    /// An entry of `fetch.file_roots` is not an absolute path.
    #[error(
        "{origin}: `fetch.file_roots` entry {} is not an absolute path: give the directory's full \
         path",
        path.display()
    )]
    RelativeFileRoot {
        /// Where the settings came from.
        origin: String,
        /// The entry.
        path: PathBuf,
    },
    /// `fetch.max_per_host` is 0.
    #[error(
        "{origin}: `fetch.max_per_host` is 0: set `max_per_host` in the [fetch] section to at \
         least 1 (or set {ENV_PREFIX}FETCH__MAX_PER_HOST)"
    )]
    ZeroMaxPerHost {
        /// Where the settings came from.
        origin: String,
    },
    /// A `[sandbox]` limit is below what a GPU worker needs.
    #[error("{origin}: `{key}` = {value} is too low for a GPU worker: give at least {min}")]
    SandboxLimitTooLow {
        /// Where the settings came from.
        origin: String,
        /// The key.
        key: &'static str,
        /// The value given.
        value: String,
        /// The smallest accepted value.
        min: String,
    },
    /// An entry of `sandbox.pass_env` is not a variable name (or prefix).
    #[error("{origin}: `sandbox.pass_env` entry {entry:?} is refused: {reason}")]
    InvalidPassEnv {
        /// Where the settings came from.
        origin: String,
        /// The entry.
        entry: String,
        /// Why.
        reason: &'static str,
    },
    /// A `[fault]` switch is on in a build without the `fault-injection` feature.
    #[error(
        "{origin}: `{key}` is set, but fault injection is for tests only and this build of the \
         daemon does not include it: remove the [fault] section (or rebuild with \
         `--features fault-injection` for a test network)"
    )]
    FaultInjectionDisabled {
        /// Where the settings came from.
        origin: String,
        /// The first enabled switch (`fault.lie`, `fault.crash_after` or `fault.watcher_panics`).
        key: &'static str,
    },
}

/// The type a key's value has, for environment overrides (and the list of known keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Path,
    Bool,
    UInt,
    List,
    Duration,
    OptUInt,
    OptStr,
    OptSocketAddr,
    Enum(&'static [&'static str]),
    OptEnum(&'static [&'static str]),
}

const LOG_FORMATS: &[&str] = &["auto", "json", "text"];
const CRASH_POINTS: &[&str] = &["claim_sent", "commit_sent", "reveal_sent", "submit_sent"];
const WATCHERS: &[&str] = &["websocket", "resync"];

/// Every key: (section, key, kind). Section "" is the top level. Kept in sync with the structs by
/// the tests (`every_known_key_is_accepted`, `example_documents_every_key`).
const KEYS: &[(&str, &str, Kind)] = &[
    ("", "rpc_urls", Kind::List),
    ("", "ws_urls", Kind::List),
    ("", "keypair_path", Kind::Path),
    ("", "market", Kind::Str),
    ("", "store", Kind::Str),
    ("", "output_retention", Kind::Duration),
    ("", "state_path", Kind::Path),
    ("", "min_reward", Kind::UInt),
    ("", "min_reward_to_collateral_bps", Kind::UInt),
    ("", "blocked_clients", Kind::List),
    ("", "max_jobs_per_client", Kind::UInt),
    ("", "claim_margin", Kind::Duration),
    ("", "max_concurrent_jobs", Kind::UInt),
    ("", "job_timeout", Kind::Duration),
    ("", "resync_interval", Kind::Duration),
    ("", "poll_interval", Kind::Duration),
    ("", "metrics_addr", Kind::OptSocketAddr),
    ("", "log_format", Kind::Enum(LOG_FORMATS)),
    ("", "priority_fee_micro_lamports", Kind::OptUInt),
    ("", "max_priority_fee_micro_lamports", Kind::OptUInt),
    ("gpu", "adapter", Kind::OptStr),
    ("gpu", "allow_cpu", Kind::Bool),
    ("gpu", "workers", Kind::UInt),
    ("gpu", "max_input_bytes", Kind::UInt),
    ("gpu", "max_output_bytes", Kind::UInt),
    ("fetch", "schemes", Kind::List),
    ("fetch", "file_roots", Kind::List),
    ("fetch", "allow_private_addresses", Kind::Bool),
    ("fetch", "max_redirects", Kind::UInt),
    ("fetch", "s3_credentials", Kind::Bool),
    ("fetch", "connect_timeout", Kind::Duration),
    ("fetch", "total_timeout", Kind::Duration),
    ("fetch", "max_per_host", Kind::UInt),
    ("sandbox", "pass_env", Kind::List),
    ("sandbox", "max_address_space_bytes", Kind::UInt),
    ("sandbox", "max_open_files", Kind::UInt),
    ("sandbox", "max_cpu_time", Kind::Duration),
    ("sandbox", "isolate_network", Kind::Bool),
    ("fault", "lie", Kind::Bool),
    ("fault", "crash_after", Kind::OptEnum(CRASH_POINTS)),
    ("fault", "watcher_panics", Kind::OptEnum(WATCHERS)),
];

/// Sections (tables) that may appear in the file.
const SECTIONS: &[&str] = &["gpu", "fetch", "sandbox", "fault"];

fn known_keys_list() -> String {
    KEYS.iter()
        .map(|(section, key, _)| dotted(section, key))
        .collect::<Vec<_>>()
        .join(", ")
}

fn dotted(section: &str, key: &str) -> String {
    if section.is_empty() {
        key.to_string()
    } else {
        format!("{section}.{key}")
    }
}

fn lookup(section: &str, key: &str) -> Option<Kind> {
    KEYS.iter()
        .find(|(s, k, _)| *s == section && *k == key)
        .map(|(_, _, kind)| *kind)
}

impl Settings {
    /// Loads the settings: defaults, then the TOML file at `path` (if given; it must exist), then
    /// the `COMPUTE_MARKET__*` environment variables; expands `~/` in paths and
    /// [validates](Settings::validate) the result.
    pub fn load(path: Option<&Path>) -> Result<Settings, SettingsError> {
        Self::load_from(path, std::env::vars_os())
    }

    /// [`Settings::load`] with the environment given explicitly (tests, or a caller that filtered
    /// it). Variables without the `COMPUTE_MARKET__` prefix are ignored.
    pub fn load_from<I>(path: Option<&Path>, env: I) -> Result<Settings, SettingsError>
    where
        I: IntoIterator<Item = (OsString, OsString)>,
    {
        let mut table = match path {
            Some(path) => {
                let text = read_file(path)?;
                parse_file(path, &text)?
            }
            None => toml::Table::new(),
        };
        let applied = apply_env(&mut table, env)?;
        let mut settings: Settings =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| SettingsError::InvalidValue {
                    origin: format!(
                        "{} with environment overrides ({})",
                        origin_of(path),
                        applied.join(", ")
                    ),
                    message: e.message().trim().to_string(),
                })?;
        settings.source = path.map(Path::to_path_buf);
        settings.keypair_path = expand_home(&settings.keypair_path);
        settings.state_path = expand_home(&settings.state_path);
        for root in &mut settings.fetch.file_roots {
            *root = expand_home(root);
        }
        settings.validate()?;
        Ok(settings)
    }

    /// Parses settings from TOML text alone (no environment, no `~` expansion, no validation);
    /// `path` is only used in error messages.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Settings, SettingsError> {
        let table = parse_file(path, text)?;
        let mut settings: Settings =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| SettingsError::InvalidValue {
                    origin: format!("settings file {}", path.display()),
                    message: e.message().trim().to_string(),
                })?;
        settings.source = Some(path.to_path_buf());
        Ok(settings)
    }

    /// Checks the settings are usable: `market` set and a valid address, at least one http(s)
    /// RPC URL, websocket URLs (if any) ws(s), a `store` URI, non-zero `max_concurrent_jobs`,
    /// `gpu.workers`, `fetch.max_per_host` and durations, absolute `fetch.file_roots` (at least
    /// one if `fetch.schemes` includes `file`), `[sandbox]` limits a GPU worker can live with,
    /// and no `[fault]` switch unless the `fault-injection` feature is compiled in.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let origin = || origin_of(self.source.as_deref());
        if self.market.trim().is_empty() {
            return Err(SettingsError::MissingMarket { origin: origin() });
        }
        self.market_pubkey()?;
        if self.rpc_urls.is_empty() {
            return Err(SettingsError::EmptyRpcUrls { origin: origin() });
        }
        for url in &self.rpc_urls {
            check_url(url, &["http", "https"]).map_err(|reason| SettingsError::InvalidRpcUrl {
                origin: origin(),
                url: url.clone(),
                reason,
            })?;
        }
        for url in &self.ws_urls {
            check_url(url, &["ws", "wss"]).map_err(|reason| SettingsError::InvalidWsUrl {
                origin: origin(),
                url: url.clone(),
                reason,
            })?;
        }
        if self.store.trim().is_empty() {
            return Err(SettingsError::MissingStore { origin: origin() });
        }
        check_store(&self.store).map_err(|reason| SettingsError::InvalidStore {
            origin: origin(),
            value: self.store.clone(),
            reason,
        })?;
        if self.max_concurrent_jobs == 0 {
            return Err(SettingsError::ZeroMaxConcurrentJobs { origin: origin() });
        }
        self.blocked_client_pubkeys()?;
        if self.gpu.workers == 0 {
            return Err(SettingsError::ZeroWorkers { origin: origin() });
        }
        self.validate_fetch()?;
        for (key, value) in [
            ("job_timeout", self.job_timeout),
            ("resync_interval", self.resync_interval),
            ("poll_interval", self.poll_interval),
            ("fetch.connect_timeout", self.fetch.connect_timeout),
            ("fetch.total_timeout", self.fetch.total_timeout),
        ] {
            if value.is_zero() {
                return Err(SettingsError::ZeroDuration {
                    origin: origin(),
                    key,
                });
            }
        }
        self.sandbox.validate(&origin(), self.job_timeout)?;
        if !cfg!(feature = "fault-injection") && self.fault.is_enabled() {
            let key = if self.fault.lie {
                "fault.lie"
            } else if self.fault.crash_after.is_some() {
                "fault.crash_after"
            } else {
                "fault.watcher_panics"
            };
            return Err(SettingsError::FaultInjectionDisabled {
                origin: origin(),
                key,
            });
        }
        Ok(())
    }

    fn validate_fetch(&self) -> Result<(), SettingsError> {
        let origin = || origin_of(self.source.as_deref());
        if self.fetch.max_per_host == 0 {
            return Err(SettingsError::ZeroMaxPerHost { origin: origin() });
        }
        if let Some(path) = self.fetch.file_roots.iter().find(|p| !p.is_absolute()) {
            return Err(SettingsError::RelativeFileRoot {
                origin: origin(),
                path: path.clone(),
            });
        }
        if self.fetch.schemes.contains(&Scheme::File) && self.fetch.file_roots.is_empty() {
            return Err(SettingsError::MissingFileRoots { origin: origin() });
        }
        Ok(())
    }

    /// The websocket URLs to use: `ws_urls` if set, else one derived from each RPC URL (same
    /// host, `ws(s)`, port + 1 when the URL has a port).
    pub fn effective_ws_urls(&self) -> Result<Vec<String>, SettingsError> {
        if !self.ws_urls.is_empty() {
            return Ok(self.ws_urls.clone());
        }
        self.rpc_urls
            .iter()
            .map(|url| {
                compute_market_sdk::client::default_ws_url(url).map_err(|e| {
                    SettingsError::InvalidRpcUrl {
                        origin: origin_of(self.source.as_deref()),
                        url: url.clone(),
                        reason: e.to_string(),
                    }
                })
            })
            .collect()
    }

    /// `blocked_clients` as addresses.
    pub fn blocked_client_pubkeys(&self) -> Result<Vec<Pubkey>, SettingsError> {
        self.blocked_clients
            .iter()
            .map(|value| {
                Pubkey::from_str(value.trim()).map_err(|e| SettingsError::InvalidBlockedClient {
                    origin: origin_of(self.source.as_deref()),
                    value: value.clone(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// The market's address, parsed from `market`.
    pub fn market_pubkey(&self) -> Result<Pubkey, SettingsError> {
        let value = self.market.trim();
        if value.is_empty() {
            return Err(SettingsError::MissingMarket {
                origin: origin_of(self.source.as_deref()),
            });
        }
        Pubkey::from_str(value).map_err(|e| SettingsError::InvalidMarket {
            origin: origin_of(self.source.as_deref()),
            value: self.market.clone(),
            reason: e.to_string(),
        })
    }
}

fn origin_of(path: Option<&Path>) -> String {
    match path {
        Some(path) => format!("settings file {}", path.display()),
        None => "settings (defaults and environment, no file)".to_string(),
    }
}

fn read_file(path: &Path) -> Result<String, SettingsError> {
    std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            SettingsError::FileNotFound {
                path: path.to_path_buf(),
            }
        } else {
            SettingsError::Read {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

/// Parses the file into a table (syntax errors with line and column), refuses unknown keys, and
/// deserializes it once from the text so that type errors carry the line.
fn parse_file(path: &Path, text: &str) -> Result<toml::Table, SettingsError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let (line, column) = e
            .span()
            .map(|span| line_column(text, span.start))
            .unwrap_or((1, 1));
        SettingsError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })?;
    for (key, value) in &table {
        if SECTIONS.contains(&key.as_str()) {
            if let toml::Value::Table(section) = value {
                for inner in section.keys() {
                    if lookup(key, inner).is_none() {
                        return Err(SettingsError::UnknownKey {
                            origin: format!("settings file {}", path.display()),
                            key: dotted(key, inner),
                        });
                    }
                }
            }
        } else if lookup("", key).is_none() {
            return Err(SettingsError::UnknownKey {
                origin: format!("settings file {}", path.display()),
                key: key.clone(),
            });
        }
    }
    // Deserialize from the text too: its errors carry the line and the key.
    toml::from_str::<Settings>(text).map_err(|e| SettingsError::InvalidValue {
        origin: format!("settings file {}", path.display()),
        message: e.to_string().trim().to_string(),
    })?;
    Ok(table)
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

/// Applies `COMPUTE_MARKET__*` variables to the table; returns the names of those applied.
fn apply_env<I>(table: &mut toml::Table, env: I) -> Result<Vec<String>, SettingsError>
where
    I: IntoIterator<Item = (OsString, OsString)>,
{
    // Sorted, so that the outcome does not depend on the environment's order.
    let mut vars: Vec<(String, OsString)> = env
        .into_iter()
        .filter_map(|(name, value)| {
            let name = name.to_str()?;
            name.starts_with(ENV_PREFIX)
                .then(|| (name.to_string(), value))
        })
        .collect();
    vars.sort();
    let mut applied = Vec::new();
    for (var, value) in vars {
        let rest = &var[ENV_PREFIX.len()..];
        let parts: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        let (section, key) = match parts.as_slice() {
            [key] => (String::new(), key.clone()),
            [section, key] => (section.clone(), key.clone()),
            _ => {
                return Err(SettingsError::UnknownKey {
                    origin: format!("environment variable {var}"),
                    key: parts.join("."),
                })
            }
        };
        let Some(kind) = lookup(&section, &key) else {
            return Err(SettingsError::UnknownKey {
                origin: format!("environment variable {var}"),
                key: dotted(&section, &key),
            });
        };
        let dotted_key = dotted(&section, &key);
        let Some(value) = value.to_str() else {
            return Err(SettingsError::InvalidEnv {
                var,
                key: dotted_key,
                message: "the value is not valid UTF-8".to_string(),
            });
        };
        let converted = env_value(kind, value).map_err(|message| SettingsError::InvalidEnv {
            var: var.clone(),
            key: dotted_key.clone(),
            message,
        })?;
        let target: &mut toml::Table = if section.is_empty() {
            &mut *table
        } else {
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                // The file's own value was checked by `parse_file`; replace anything else.
                *entry = toml::Value::Table(toml::Table::new());
            }
            let Some(inner) = entry.as_table_mut() else {
                continue;
            };
            inner
        };
        match converted {
            Some(v) => {
                target.insert(key, v);
            }
            None => {
                target.remove(&key);
            }
        }
        applied.push(var);
    }
    Ok(applied)
}

/// Converts an environment value to the TOML value of its key; `None` clears an optional key.
fn env_value(kind: Kind, raw: &str) -> Result<Option<toml::Value>, String> {
    let value = raw.trim();
    let uint = |v: &str| -> Result<toml::Value, String> {
        v.parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(toml::Value::Integer)
            .ok_or_else(|| format!("{v:?} is not a non-negative integer"))
    };
    let one_of = |v: &str, allowed: &[&str]| -> Result<toml::Value, String> {
        let lower = v.to_ascii_lowercase();
        if allowed.contains(&lower.as_str()) {
            Ok(toml::Value::String(lower))
        } else {
            Err(format!("{v:?} is not one of {}", allowed.join(", ")))
        }
    };
    let socket = |v: &str| -> Result<toml::Value, String> {
        v.parse::<SocketAddr>()
            .map(|_| toml::Value::String(v.to_string()))
            .map_err(|e| format!("{v:?} is not an IP:port address ({e})"))
    };
    Ok(Some(match kind {
        Kind::Str | Kind::Path => toml::Value::String(value.to_string()),
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
            "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
            _ => return Err(format!("{value:?} is not a boolean (true or false)")),
        },
        Kind::UInt => uint(value)?,
        Kind::List => toml::Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        Kind::Duration => {
            humantime_serde::re::humantime::parse_duration(value).map_err(|e| {
                format!("{value:?} is not a duration such as \"30s\" or \"2m\" ({e})")
            })?;
            toml::Value::String(value.to_string())
        }
        Kind::Enum(allowed) => one_of(value, allowed)?,
        Kind::OptUInt | Kind::OptStr | Kind::OptSocketAddr | Kind::OptEnum(_)
            if value.is_empty() =>
        {
            return Ok(None)
        }
        Kind::OptUInt => uint(value)?,
        Kind::OptStr => toml::Value::String(value.to_string()),
        Kind::OptSocketAddr => socket(value)?,
        Kind::OptEnum(allowed) => one_of(value, allowed)?,
    }))
}

/// Expands a leading `~/` (or a lone `~`) to `$HOME`; other paths are returned unchanged.
fn expand_home(path: &Path) -> PathBuf {
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
        return path.to_path_buf();
    };
    match path.strip_prefix("~") {
        Ok(rest) if rest.as_os_str().is_empty() => PathBuf::from(home),
        Ok(rest) => PathBuf::from(home).join(rest),
        Err(_) => path.to_path_buf(),
    }
}

fn check_url(raw: &str, schemes: &[&str]) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|e| e.to_string())?;
    if !schemes.contains(&url.scheme()) {
        return Err(format!("scheme `{}`", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host".to_string());
    }
    Ok(())
}

fn check_store(raw: &str) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|e| e.to_string())?;
    match url.scheme() {
        "file" => {
            if url.path().is_empty() || url.path() == "/" {
                Err("no directory".to_string())
            } else {
                Ok(())
            }
        }
        "http" | "https" | "s3" => {
            if url.host_str().is_none_or(str::is_empty) {
                Err("no host or bucket".to_string())
            } else {
                Ok(())
            }
        }
        other => Err(format!("scheme `{other}`")),
    }
}

/// Names of every key, dotted (`gpu.workers`); for docs and tests.
pub fn known_keys() -> BTreeSet<String> {
    KEYS.iter()
        .map(|(section, key, _)| dotted(section, key))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const MARKET: &str = "11111111111111111111111111111112";

    fn minimal() -> String {
        format!(
            "rpc_urls = [\"http://127.0.0.1:8899\"]\nmarket = \"{MARKET}\"\nstore = \"file:///tmp/blobs\"\n"
        )
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new()
            .suffix(".toml")
            .tempfile()
            .expect("temp file");
        f.write_all(text.as_bytes()).expect("write");
        f
    }

    fn env(vars: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        vars.iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn load(text: &str, vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let f = file(text);
        Settings::load_from(Some(f.path()), env(vars))
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let s = load(&minimal(), &[]).expect("loads");
        assert_eq!(s.rpc_urls, vec!["http://127.0.0.1:8899".to_string()]);
        assert!(s.ws_urls.is_empty());
        assert_eq!(
            s.effective_ws_urls().expect("ws"),
            vec!["ws://127.0.0.1:8900/".to_string()]
        );
        assert_eq!(s.market_pubkey().expect("pubkey").to_string(), MARKET);
        assert_eq!(s.state_path, PathBuf::from(DEFAULT_STATE_PATH));
        assert_eq!(s.min_reward, 0);
        assert_eq!(s.max_concurrent_jobs, 2);
        assert_eq!(s.job_timeout, Duration::from_secs(60));
        assert_eq!(s.resync_interval, Duration::from_secs(10));
        assert_eq!(s.poll_interval, Duration::from_secs(1));
        assert_eq!(s.metrics_addr, None);
        assert_eq!(s.log_format, LogFormat::Auto);
        assert_eq!(s.priority_fee_micro_lamports, None);
        assert_eq!(s.gpu, GpuSettings::default());
        assert_eq!(s.gpu.max_input_bytes, 128 * 1024 * 1024);
        assert_eq!(s.fetch, FetchSettings::default());
        assert_eq!(s.fetch.schemes, vec![Scheme::Https, Scheme::S3]);
        assert_eq!(s.fetch.policy(), FetchPolicy::default());
        assert_eq!(s.fault, FaultSettings::default());
        assert!(s.source.is_some());
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            assert_eq!(
                s.keypair_path,
                PathBuf::from(home).join(".config/solana/id.json")
            );
        }
    }

    #[test]
    fn full_file_parses_every_type() {
        let text = format!(
            "{}ws_urls = [\"wss://example.org\"]\nkeypair_path = \"/k.json\"\nstate_path = \"/s.sqlite\"\n\
             min_reward = 5\nmax_concurrent_jobs = 4\njob_timeout = \"2m\"\nresync_interval = \"30s\"\n\
             poll_interval = \"250ms\"\nmetrics_addr = \"127.0.0.1:9464\"\nlog_format = \"json\"\n\
             priority_fee_micro_lamports = 1000\n[gpu]\nadapter = \"RTX\"\nallow_cpu = true\nworkers = 3\n\
             max_input_bytes = 10\nmax_output_bytes = 20\n[fetch]\nschemes = [\"https\", \"http\", \"file\"]\n\
             file_roots = [\"/srv/blobs\"]\nallow_private_addresses = true\nmax_redirects = 2\n\
             s3_credentials = true\nconnect_timeout = \"3s\"\ntotal_timeout = \"1m\"\nmax_per_host = 4\n",
            minimal()
        );
        let s = load(&text, &[]).expect("loads");
        assert_eq!(s.ws_urls, vec!["wss://example.org".to_string()]);
        assert_eq!(s.keypair_path, PathBuf::from("/k.json"));
        assert_eq!(s.state_path, PathBuf::from("/s.sqlite"));
        assert_eq!(s.min_reward, 5);
        assert_eq!(s.max_concurrent_jobs, 4);
        assert_eq!(s.job_timeout, Duration::from_secs(120));
        assert_eq!(s.resync_interval, Duration::from_secs(30));
        assert_eq!(s.poll_interval, Duration::from_millis(250));
        assert_eq!(
            s.metrics_addr,
            Some("127.0.0.1:9464".parse().expect("addr"))
        );
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.priority_fee_micro_lamports, Some(1000));
        assert_eq!(
            s.gpu,
            GpuSettings {
                adapter: Some("RTX".into()),
                allow_cpu: true,
                workers: 3,
                max_input_bytes: 10,
                max_output_bytes: 20,
            }
        );
        assert_eq!(
            s.fetch,
            FetchSettings {
                schemes: vec![Scheme::Https, Scheme::Http, Scheme::File],
                file_roots: vec![PathBuf::from("/srv/blobs")],
                allow_private_addresses: true,
                max_redirects: 2,
                s3_credentials: true,
                connect_timeout: Duration::from_secs(3),
                total_timeout: Duration::from_secs(60),
                max_per_host: 4,
            }
        );
        let policy = s.fetch.policy();
        assert_eq!(
            policy.file_roots,
            FileRoots::Under(vec![PathBuf::from("/srv/blobs")])
        );
        assert_eq!(policy.timeouts.total, Duration::from_secs(60));
        assert_eq!(policy.max_per_host.map(|n| n.get()), Some(4));
    }

    #[test]
    fn environment_overrides_file() {
        let s = load(
            &format!("{}[gpu]\nworkers = 2\nadapter = \"X\"\n", minimal()),
            &[
                ("COMPUTE_MARKET__GPU__ALLOW_CPU", "true"),
                ("COMPUTE_MARKET__GPU__WORKERS", "5"),
                ("COMPUTE_MARKET__GPU__ADAPTER", ""),
                (
                    "COMPUTE_MARKET__RPC_URLS",
                    "https://a.example, https://b.example",
                ),
                ("COMPUTE_MARKET__JOB_TIMEOUT", "90s"),
                ("COMPUTE_MARKET__METRICS_ADDR", "0.0.0.0:9000"),
                ("COMPUTE_MARKET__LOG_FORMAT", "TEXT"),
                ("COMPUTE_MARKET__MIN_REWARD", "77"),
                ("COMPUTE_MARKET__FETCH__SCHEMES", "https, file"),
                ("COMPUTE_MARKET__FETCH__FILE_ROOTS", "/srv/a,/srv/b"),
                ("COMPUTE_MARKET__FETCH__ALLOW_PRIVATE_ADDRESSES", "yes"),
                ("COMPUTE_MARKET__FETCH__TOTAL_TIMEOUT", "5s"),
                ("UNRELATED", "x"),
            ],
        )
        .expect("loads");
        assert!(s.gpu.allow_cpu);
        assert_eq!(s.gpu.workers, 5);
        assert_eq!(s.gpu.adapter, None);
        assert_eq!(s.rpc_urls, vec!["https://a.example", "https://b.example"]);
        assert_eq!(s.job_timeout, Duration::from_secs(90));
        assert_eq!(s.metrics_addr, Some("0.0.0.0:9000".parse().expect("addr")));
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.min_reward, 77);
        assert_eq!(s.fetch.schemes, vec![Scheme::Https, Scheme::File]);
        assert_eq!(
            s.fetch.file_roots,
            vec![PathBuf::from("/srv/a"), PathBuf::from("/srv/b")]
        );
        assert!(s.fetch.allow_private_addresses);
        assert_eq!(s.fetch.total_timeout, Duration::from_secs(5));
    }

    #[test]
    fn environment_alone_without_file() {
        let s = Settings::load_from(
            None,
            env(&[
                ("COMPUTE_MARKET__MARKET", MARKET),
                ("COMPUTE_MARKET__RPC_URLS", "http://localhost:8899"),
                ("COMPUTE_MARKET__STORE", "s3://bucket/prefix"),
            ]),
        )
        .expect("loads");
        assert_eq!(s.market, MARKET);
        assert_eq!(s.source, None);
        assert_eq!(s.max_concurrent_jobs, 2);
    }

    #[test]
    fn missing_file() {
        let err = Settings::load_from(Some(Path::new("/nonexistent/provider.toml")), env(&[]))
            .expect_err("missing");
        assert!(matches!(err, SettingsError::FileNotFound { .. }), "{err}");
        assert!(err.to_string().contains("/nonexistent/provider.toml"));
    }

    #[test]
    fn syntax_error_names_line() {
        let err = load(&format!("{}\n\nmin_reward = = 3\n", minimal()), &[]).expect_err("syntax");
        match &err {
            SettingsError::Syntax { line, .. } => assert_eq!(*line, 6, "{err}"),
            other => panic!("wrong error: {other}"),
        }
        assert!(err.to_string().contains("line 6"), "{err}");
    }

    #[test]
    fn unknown_keys_refused() {
        let err = load(&format!("{}max_jobs = 3\n", minimal()), &[]).expect_err("unknown");
        assert!(
            matches!(&err, SettingsError::UnknownKey { key, .. } if key == "max_jobs"),
            "{err}"
        );
        assert!(err.to_string().contains("max_jobs"));
        let err = load(&format!("{}[gpu]\nthreads = 3\n", minimal()), &[]).expect_err("unknown");
        assert!(
            matches!(&err, SettingsError::UnknownKey { key, .. } if key == "gpu.threads"),
            "{err}"
        );
        let err = load(&format!("{}[gpux]\nworkers = 3\n", minimal()), &[]).expect_err("unknown");
        assert!(
            matches!(&err, SettingsError::UnknownKey { key, .. } if key == "gpux"),
            "{err}"
        );
        let err = load(&minimal(), &[("COMPUTE_MARKET__GPU__THREADS", "3")]).expect_err("env");
        assert!(
            matches!(&err, SettingsError::UnknownKey { key, origin } if key == "gpu.threads" && origin.contains("COMPUTE_MARKET__GPU__THREADS")),
            "{err}"
        );
    }

    #[test]
    fn wrong_types_are_reported_with_the_key() {
        let err = load(&format!("{}job_timeout = \"soon\"\n", minimal()), &[]).expect_err("type");
        assert!(matches!(err, SettingsError::InvalidValue { .. }), "{err}");
        assert!(err.to_string().contains("job_timeout"), "{err}");
        let err = load(&format!("{}log_format = \"xml\"\n", minimal()), &[]).expect_err("enum");
        assert!(err.to_string().contains("log_format"), "{err}");
        let err =
            load(&minimal(), &[("COMPUTE_MARKET__GPU__WORKERS", "many")]).expect_err("env type");
        assert!(
            matches!(&err, SettingsError::InvalidEnv { var, .. } if var == "COMPUTE_MARKET__GPU__WORKERS"),
            "{err}"
        );
        let err = load(&minimal(), &[("COMPUTE_MARKET__POLL_INTERVAL", "often")]).expect_err("dur");
        assert!(matches!(err, SettingsError::InvalidEnv { .. }), "{err}");
    }

    #[test]
    fn missing_market() {
        let err = load(
            "rpc_urls = [\"http://x\"]\nstore = \"file:///tmp/b\"\n",
            &[],
        )
        .expect_err("no market");
        assert!(matches!(err, SettingsError::MissingMarket { .. }), "{err}");
        assert!(err.to_string().contains("market"));
    }

    #[test]
    fn bad_market_address() {
        for bad in [
            "not-base58-0OIl",
            "abc",
            "1111111111111111111111111111111111111111111111",
        ] {
            let err = load(&minimal(), &[("COMPUTE_MARKET__MARKET", bad)]).expect_err(bad);
            assert!(
                matches!(err, SettingsError::InvalidMarket { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn empty_rpc_urls() {
        let text = format!("market = \"{MARKET}\"\nstore = \"file:///tmp/b\"\nrpc_urls = []\n");
        let err = load(&text, &[]).expect_err("empty");
        assert!(matches!(err, SettingsError::EmptyRpcUrls { .. }), "{err}");
    }

    #[test]
    fn non_http_rpc_url() {
        for bad in ["ws://127.0.0.1:8900", "127.0.0.1:8899", "ftp://x"] {
            let err = load(&minimal(), &[("COMPUTE_MARKET__RPC_URLS", bad)]).expect_err(bad);
            assert!(
                matches!(err, SettingsError::InvalidRpcUrl { .. }),
                "{bad}: {err}"
            );
        }
        let err = load(&minimal(), &[("COMPUTE_MARKET__WS_URLS", "http://x")]).expect_err("ws");
        assert!(matches!(err, SettingsError::InvalidWsUrl { .. }), "{err}");
    }

    #[test]
    fn store_is_required_and_checked() {
        let err = load(&minimal(), &[("COMPUTE_MARKET__STORE", "")]).expect_err("no store");
        assert!(matches!(err, SettingsError::MissingStore { .. }), "{err}");
        let err = load(&minimal(), &[("COMPUTE_MARKET__STORE", "gopher://x/y")]).expect_err("bad");
        assert!(matches!(err, SettingsError::InvalidStore { .. }), "{err}");
    }

    #[test]
    fn zero_limits() {
        let err = load(&format!("{}max_concurrent_jobs = 0\n", minimal()), &[]).expect_err("0");
        assert!(
            matches!(err, SettingsError::ZeroMaxConcurrentJobs { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("max_concurrent_jobs"));
        let err = load(&format!("{}[gpu]\nworkers = 0\n", minimal()), &[]).expect_err("0");
        assert!(matches!(err, SettingsError::ZeroWorkers { .. }), "{err}");
        assert!(err.to_string().contains("gpu.workers"));
        let err = load(&format!("{}poll_interval = \"0s\"\n", minimal()), &[]).expect_err("0");
        assert!(
            matches!(
                err,
                SettingsError::ZeroDuration {
                    key: "poll_interval",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn fetch_settings_are_checked() {
        let err = load(
            &format!("{}[fetch]\nschemes = [\"file\"]\n", minimal()),
            &[],
        )
        .expect_err("no roots");
        assert!(
            matches!(err, SettingsError::MissingFileRoots { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("fetch.file_roots"), "{err}");
        let err = load(
            &minimal(),
            &[
                ("COMPUTE_MARKET__FETCH__SCHEMES", "https,file"),
                ("COMPUTE_MARKET__FETCH__FILE_ROOTS", "blobs"),
            ],
        )
        .expect_err("relative root");
        assert!(
            matches!(&err, SettingsError::RelativeFileRoot { path, .. } if path == Path::new("blobs")),
            "{err}"
        );
        let err = load(&format!("{}[fetch]\nmax_per_host = 0\n", minimal()), &[]).expect_err("0");
        assert!(matches!(err, SettingsError::ZeroMaxPerHost { .. }), "{err}");
        let err = load(
            &format!("{}[fetch]\ntotal_timeout = \"0s\"\n", minimal()),
            &[],
        )
        .expect_err("0s");
        assert!(
            matches!(
                err,
                SettingsError::ZeroDuration {
                    key: "fetch.total_timeout",
                    ..
                }
            ),
            "{err}"
        );
        let err =
            load(&format!("{}[fetch]\nschemes = [\"ftp\"]\n", minimal()), &[]).expect_err("ftp");
        assert!(matches!(err, SettingsError::InvalidValue { .. }), "{err}");
        assert!(err.to_string().contains("ftp"), "{err}");
        let err =
            load(&minimal(), &[("COMPUTE_MARKET__FETCH__SCHEMES", "gopher")]).expect_err("env ftp");
        assert!(err.to_string().contains("gopher"), "{err}");
        // `~/` in a root is expanded like the other paths.
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            let s = load(
                &format!(
                    "{}[fetch]\nschemes = [\"file\"]\nfile_roots = [\"~/blobs\"]\n",
                    minimal()
                ),
                &[],
            )
            .expect("loads");
            assert_eq!(s.fetch.file_roots, vec![PathBuf::from(home).join("blobs")]);
        }
    }

    #[test]
    fn sandbox_section_parses_overrides_and_converts() {
        let text = format!(
            "{}[sandbox]\npass_env = [\"__NV_*\"]\nmax_address_space_bytes = 0\n\
             max_open_files = 4096\nmax_cpu_time = \"2h\"\nisolate_network = true\n",
            minimal()
        );
        let s = load(
            &text,
            &[
                (
                    "COMPUTE_MARKET__SANDBOX__PASS_ENV",
                    "CUDA_CACHE_PATH, __NV_*",
                ),
                ("COMPUTE_MARKET__SANDBOX__ISOLATE_NETWORK", "false"),
            ],
        )
        .expect("loads");
        assert_eq!(
            s.sandbox,
            SandboxSettings {
                pass_env: vec!["CUDA_CACHE_PATH".into(), "__NV_*".into()],
                max_address_space_bytes: 0,
                max_open_files: 4096,
                max_cpu_time: Duration::from_secs(7200),
                isolate_network: false,
            }
        );
        let config = crate::gpu::SandboxConfig::from(&s.sandbox);
        assert_eq!(config.max_address_space, None);
        assert!(config.passes("__NV_PRIME_RENDER_OFFLOAD".as_ref()));
        let defaults = crate::gpu::SandboxConfig::from(&SandboxSettings::default());
        assert_eq!(defaults, crate::gpu::SandboxConfig::default());
    }

    #[test]
    fn sandbox_limits_a_worker_cannot_live_with_are_refused() {
        for (edit, key) in [
            ("max_open_files = 10", "sandbox.max_open_files"),
            (
                "max_address_space_bytes = 1000",
                "sandbox.max_address_space_bytes",
            ),
            ("max_cpu_time = \"10s\"", "sandbox.max_cpu_time"),
        ] {
            let err = load(&format!("{}[sandbox]\n{edit}\n", minimal()), &[]).expect_err(edit);
            assert!(
                matches!(&err, SettingsError::SandboxLimitTooLow { key: k, .. } if *k == key),
                "{edit}: {err}"
            );
            assert!(err.to_string().contains(key), "{err}");
        }
        for entry in ["*", "A-B", "", "X*Y"] {
            let err = load(
                &format!("{}[sandbox]\npass_env = [\"{entry}\"]\n", minimal()),
                &[],
            )
            .expect_err(entry);
            assert!(
                matches!(&err, SettingsError::InvalidPassEnv { entry: e, .. } if e == entry),
                "{entry}: {err}"
            );
        }
    }

    #[test]
    fn fault_section_parses_but_needs_the_feature() {
        let text = format!(
            "{}[fault]\nlie = true\ncrash_after = \"commit_sent\"\n",
            minimal()
        );
        let parsed = Settings::from_toml_str(&text, Path::new("t.toml")).expect("parses");
        assert!(parsed.fault.lie);
        assert_eq!(parsed.fault.crash_after, Some(CrashPoint::CommitSent));
        let result = load(&text, &[]);
        if cfg!(feature = "fault-injection") {
            assert!(result.is_ok());
        } else {
            let err = result.expect_err("refused");
            assert!(
                matches!(
                    err,
                    SettingsError::FaultInjectionDisabled {
                        key: "fault.lie",
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err.to_string().contains("fault-injection"));
        }
        let err = Settings::from_toml_str(
            &format!("{}[fault]\ncrash_after = \"never\"\n", minimal()),
            Path::new("t.toml"),
        )
        .expect_err("bad crash point");
        assert!(matches!(err, SettingsError::InvalidValue { .. }), "{err}");
        // Disabled faults are fine in any build.
        load(&format!("{}[fault]\nlie = false\n", minimal()), &[]).expect("disabled fault");
    }

    #[test]
    fn every_known_key_is_accepted() {
        // A value of the right type for every key in KEYS must deserialize: KEYS and the structs
        // agree.
        for (section, key, kind) in KEYS {
            let value = match kind {
                Kind::Str => "\"x\"".to_string(),
                Kind::Path => "\"/p\"".to_string(),
                Kind::Bool => "true".to_string(),
                Kind::UInt | Kind::OptUInt => "1".to_string(),
                Kind::List => "[]".to_string(),
                Kind::Duration => "\"1s\"".to_string(),
                Kind::OptSocketAddr => "\"127.0.0.1:1\"".to_string(),
                Kind::OptStr => "\"y\"".to_string(),
                Kind::Enum(v) | Kind::OptEnum(v) => format!("\"{}\"", v[0]),
            };
            let text = if section.is_empty() {
                format!("{key} = {value}\n")
            } else {
                format!("[{section}]\n{key} = {value}\n")
            };
            Settings::from_toml_str(&text, Path::new("k.toml"))
                .unwrap_or_else(|e| panic!("{}: {e}", dotted(section, key)));
        }
    }

    fn example_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml")
    }

    #[test]
    fn example_config_parses_and_validates() {
        let s = Settings::load_from(Some(&example_path()), env(&[])).expect("example loads");
        // The example shows the defaults, so apart from the required keys it equals them.
        let defaults = Settings {
            rpc_urls: s.rpc_urls.clone(),
            market: s.market.clone(),
            store: s.store.clone(),
            keypair_path: s.keypair_path.clone(),
            source: s.source.clone(),
            ..Settings::default()
        };
        assert_eq!(s, defaults);
    }

    #[test]
    fn example_documents_every_key() {
        let text = std::fs::read_to_string(example_path()).expect("read example");
        for (section, key, _) in KEYS {
            // Optional keys are shown commented out, so look for `key =` anywhere.
            assert!(
                text.contains(&format!("{key} =")),
                "config.example.toml does not document `{}`",
                dotted(section, key)
            );
        }
        for section in SECTIONS {
            assert!(
                text.contains(&format!("[{section}]")),
                "missing [{section}]"
            );
        }
    }

    #[test]
    fn tilde_expansion() {
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            assert_eq!(
                expand_home(Path::new("~/a/b")),
                PathBuf::from(&home).join("a/b")
            );
            assert_eq!(expand_home(Path::new("~")), PathBuf::from(&home));
        }
        assert_eq!(expand_home(Path::new("/abs/~")), PathBuf::from("/abs/~"));
        assert_eq!(expand_home(Path::new("rel")), PathBuf::from("rel"));
    }

    #[test]
    fn known_keys_lists_sections() {
        let keys = known_keys();
        assert!(keys.contains("gpu.allow_cpu"));
        assert!(keys.contains("fault.crash_after"));
        assert!(keys.contains("fetch.file_roots"));
        assert!(keys.contains("market"));
        assert_eq!(CrashPoint::ALL.len(), CRASH_POINTS.len());
        for (p, s) in CrashPoint::ALL.iter().zip(CRASH_POINTS) {
            assert_eq!(p.as_str(), *s);
        }
    }
}
