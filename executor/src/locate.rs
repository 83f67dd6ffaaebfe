//! Where the worker executable is: the one place that decides which program runs as the GPU
//! worker and the shader validator.
//!
//! In order:
//! 1. an explicit path ([`crate::PoolConfig::worker_exe`]);
//! 2. the environment variable [`WORKER_EXE_ENV`] (or, for old set-ups, [`LEGACY_WORKER_EXE_ENV`]);
//! 3. [`WORKER_BIN`] next to the current executable (an installed `provider-daemon` or
//!    `compute-market`, or one in `target/<profile>/`);
//! 4. [`WORKER_BIN`] in the parent of the current executable's directory: test binaries live in
//!    `target/<profile>/deps/`, the worker in `target/<profile>/`.
//!
//! A worker that is nowhere is an [`ExecError::WorkerStart`] naming where it was looked for and
//! how to build it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::ExecError;

/// The worker program's name (without the platform's executable suffix).
pub const WORKER_BIN: &str = "compute-market-worker";

/// Environment variable naming the worker executable, overriding the search.
pub const WORKER_EXE_ENV: &str = "COMPUTE_MARKET_WORKER_EXE";

/// The variable's former name, still read when [`WORKER_EXE_ENV`] is unset. It used to name the
/// `provider-daemon` binary (which ran workers as a hidden subcommand); it must now name the
/// `compute-market-worker` binary.
pub const LEGACY_WORKER_EXE_ENV: &str = "PROVIDER_DAEMON_WORKER_EXE";

/// The worker executable (see the module documentation for the order).
pub fn worker_exe(explicit: Option<&Path>) -> Result<PathBuf, ExecError> {
    let from_env = || {
        std::env::var_os(WORKER_EXE_ENV)
            .or_else(|| std::env::var_os(LEGACY_WORKER_EXE_ENV))
            .filter(|v| !v.is_empty())
    };
    let current = std::env::current_exe().ok();
    resolve(explicit, from_env(), current.as_deref())
}

/// [`worker_exe`] with its inputs given: the explicit path, the environment's, the current
/// executable.
fn resolve(
    explicit: Option<&Path>,
    from_env: Option<OsString>,
    current_exe: Option<&Path>,
) -> Result<PathBuf, ExecError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = from_env {
        return Ok(path.into());
    }
    let name = format!("{WORKER_BIN}{}", std::env::consts::EXE_SUFFIX);
    let dir = current_exe.and_then(Path::parent);
    let candidates: Vec<PathBuf> = dir
        .into_iter()
        .chain(dir.and_then(Path::parent))
        .map(|d| d.join(&name))
        .collect();
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        return Ok(found.clone());
    }
    let looked: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    Err(ExecError::WorkerStart {
        message: format!(
            "the GPU worker executable `{name}` was not found (looked for {}); build it with \
             `cargo build -p compute-market-executor` (add `--release` for a release build) \
             and keep it next to this program, or set {WORKER_EXE_ENV} to its path",
            if looked.is_empty() {
                "it next to the current executable, which is unknown".to_string()
            } else {
                looked.join(" and ")
            }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_then_environment_then_next_to_the_executable() {
        let dir = std::env::temp_dir().join(format!("cm-locate-{}", std::process::id()));
        let deps = dir.join("deps");
        std::fs::create_dir_all(&deps).unwrap();
        let worker = dir.join(format!("{WORKER_BIN}{}", std::env::consts::EXE_SUFFIX));
        let test_binary = deps.join("pool-0123");
        let daemon = dir.join("provider-daemon");

        // Missing: the error names the path and how to build it.
        let err = resolve(None, None, Some(&daemon)).unwrap_err().to_string();
        assert!(err.contains(&worker.display().to_string()), "{err}");
        assert!(
            err.contains("cargo build -p compute-market-executor"),
            "{err}"
        );

        std::fs::write(&worker, b"").unwrap();
        // Next to the current executable, and one level up from target/<profile>/deps.
        assert_eq!(resolve(None, None, Some(&daemon)).unwrap(), worker);
        assert_eq!(resolve(None, None, Some(&test_binary)).unwrap(), worker);
        // The environment, then an explicit path, win over the search.
        let env = resolve(None, Some("/opt/w".into()), Some(&daemon)).unwrap();
        assert_eq!(env, Path::new("/opt/w"));
        let explicit = resolve(Some(Path::new("/x/w")), Some("/opt/w".into()), None).unwrap();
        assert_eq!(explicit, Path::new("/x/w"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
