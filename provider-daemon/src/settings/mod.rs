//! The operator's settings: one [`Settings`] struct, read from a TOML file and then overridden by
//! environment variables.
//!
//! Sources, later ones winning (layered with [`figment`], see [`load`](Settings::load)):
//!
//! 1. built-in defaults ([`Settings::default`]),
//! 2. the TOML file given to [`Settings::load`] (keys as in `provider-daemon/config.example.toml`,
//!    unknown keys refused),
//! 3. environment variables `COMPUTE_MARKET__<KEY>` for top-level keys and
//!    `COMPUTE_MARKET__<SECTION>__<KEY>` for keys in a section, e.g.
//!    `COMPUTE_MARKET__MARKET=<base58>` or `COMPUTE_MARKET__GPU__ALLOW_CPU=true`. A value is read
//!    as its key's type (numbers; `true`/`false`, also `yes`/`no`, `on`/`off`, `1`/`0`;
//!    durations and names as in the file). List keys (`rpc_urls`, `ws_urls`, `blocked_clients`,
//!    `fetch.schemes`, `fetch.file_roots`, `sandbox.pass_env`) take a comma-separated list
//!    (`COMPUTE_MARKET__FETCH__SCHEMES=https,s3,file`); an empty value clears an optional key
//!    (`metrics_addr`, `priority_fee_micro_lamports`, `max_priority_fee_micro_lamports`,
//!    `fault.crash_after`) or empties a list, and is an error for other keys.
//!    Unknown `COMPUTE_MARKET__*` variables are refused, like unknown keys in the file.
//!
//! [`Settings::load`] then expands a leading `~/` in `keypair_path`, `state_path` and
//! `fetch.file_roots` and runs [`Settings::validate`]. Every failure is a [`SettingsError`] whose
//! message names the file or variable and the key, and says what to change.
//!
//! Files: this one holds the settings themselves; `load.rs` the layering, `validate.rs` the
//! checks, `error.rs` the errors.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use compute_market_sdk::store::{FetchPolicy, FileRoots, Scheme, Timeouts};
use serde::{Deserialize, Serialize};

mod error;
mod load;
#[cfg(test)]
mod tests;
mod validate;

pub use error::SettingsError;
pub use load::known_keys;

/// Prefix of every environment variable that overrides a setting.
pub const ENV_PREFIX: &str = "COMPUTE_MARKET__";

/// Default `keypair_path`: the Solana CLI's default wallet (`~` is expanded at load time).
pub const DEFAULT_KEYPAIR_PATH: &str = "~/.config/solana/id.json";

/// Default `state_path` (relative to the daemon's working directory).
pub const DEFAULT_STATE_PATH: &str = "provider-state.sqlite";

/// Default `gpu.max_input_bytes` and `gpu.max_output_bytes`: 128 MiB.
pub const DEFAULT_MAX_IO_BYTES: u64 = 128 * 1024 * 1024;

/// Default `output_retention`: 7 days.
pub const DEFAULT_OUTPUT_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

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
    #[serde(deserialize_with = "load::list")]
    pub rpc_urls: Vec<String>,
    /// Solana PubSub websocket endpoints (`ws://` or `wss://`). Empty (the default): derived from
    /// each RPC URL.
    #[serde(deserialize_with = "load::list")]
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
    #[serde(deserialize_with = "load::list")]
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
    /// The adapters to serve, one worker pool each, under one provider identity: each entry
    /// `auto` (the best hardware adapter), `all` (every hardware adapter), an index from
    /// `provider-daemon check` or part of an adapter's name (case-insensitive), e.g.
    /// `["RTX 4090", "RTX 3090"]`. An adapter listed twice is refused. Default: none (`auto`).
    #[serde(deserialize_with = "load::list")]
    pub adapters: Vec<String>,
    /// Allow a CPU (software) adapter such as lavapipe: without it none is used, even on a
    /// machine without a GPU (slow, and lavapipe stops long loops: wrong results get a provider
    /// slashed). For tests, CI and the local demo. Default false.
    pub allow_cpu: bool,
    /// Number of warm GPU worker processes per adapter. Default 1; must be at least 1.
    pub workers: usize,
    /// Largest job input accepted, in bytes. Default 128 MiB.
    pub max_input_bytes: u64,
    /// Largest job output accepted, in bytes. Default 128 MiB.
    pub max_output_bytes: u64,
    /// Most dispatches in one job (a multi-pass job's repeat counts, summed). Default and
    /// largest: the ABI's 16,384; at least 1.
    pub max_dispatches: u64,
    /// Most device memory one job may take (input, output and its readback copy, a multi-pass
    /// job's scratch buffers, 256 bytes per dispatch), in bytes. Default and largest: the ABI's
    /// 1 GiB; at least 4.
    pub max_job_memory_bytes: u64,
}

impl Default for GpuSettings {
    fn default() -> Self {
        GpuSettings {
            adapters: Vec::new(),
            allow_cpu: false,
            workers: 1,
            max_input_bytes: DEFAULT_MAX_IO_BYTES,
            max_output_bytes: DEFAULT_MAX_IO_BYTES,
            max_dispatches: compute_market_job::MAX_DISPATCHES,
            max_job_memory_bytes: compute_market_job::MAX_JOB_MEMORY,
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
    #[serde(deserialize_with = "load::list")]
    pub schemes: Vec<Scheme>,
    /// Directories `file://` blobs may be read from (absolute; `~/` is expanded). A file outside
    /// them, or a symbolic link that leads out of them, is refused. Required when `schemes`
    /// includes `file`. Default: none.
    #[serde(deserialize_with = "load::list")]
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
    #[serde(deserialize_with = "load::list")]
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
