//! [`Settings::validate`] and the accessors that parse settings (`market_pubkey`, …): whether
//! loaded settings are usable, each failure a [`SettingsError`] naming the key.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use compute_market_sdk::store::Scheme;
use compute_market_sdk::Pubkey;

use super::{SandboxSettings, Settings, SettingsError, MIN_ADDRESS_SPACE_BYTES, MIN_OPEN_FILES};

impl Settings {
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
        for (key, value, least, most) in [
            (
                "gpu.max_dispatches",
                self.gpu.max_dispatches,
                1,
                compute_market_job::MAX_DISPATCHES,
            ),
            (
                "gpu.max_job_memory_bytes",
                self.gpu.max_job_memory_bytes,
                4,
                compute_market_job::MAX_JOB_MEMORY,
            ),
        ] {
            if !(least..=most).contains(&value) {
                return Err(SettingsError::InvalidValue {
                    origin: origin(),
                    key: key.into(),
                    message: format!("{value} is not within {least}..={most}"),
                });
            }
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

/// Where settings came from, for messages: the file, or defaults and environment.
pub(super) fn origin_of(path: Option<&Path>) -> String {
    match path {
        Some(path) => format!("settings file {}", path.display()),
        None => "settings (defaults and environment, no file)".to_string(),
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
