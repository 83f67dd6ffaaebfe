//! [`SettingsError`]: why settings could not be loaded or are not usable.

use std::path::PathBuf;

use super::ENV_PREFIX;

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
    /// A key in the file, or a `COMPUTE_MARKET__*` variable in the environment, that is not a
    /// setting.
    #[error("{origin}: unknown key `{key}`: remove it or fix its spelling ({known})")]
    UnknownKey {
        /// The file (`settings file …`) or the variable (`environment variable …`).
        origin: String,
        /// The key, dotted for section keys (`gpu.threads`).
        key: String,
        /// The keys accepted where it was found, e.g. `known keys in [gpu]: adapter, …`.
        known: String,
    },
    /// A key in the file, or a `COMPUTE_MARKET__*` variable, has a value of the wrong type or
    /// form.
    #[error("{origin}: `{key}`: {message}")]
    InvalidValue {
        /// The file (`settings file …`) or the variable (`environment variable …`).
        origin: String,
        /// The key, dotted (`gpu.workers`; an entry of a list: `fetch.schemes[1]`).
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
