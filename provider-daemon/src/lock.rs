//! One daemon per journal and per wallet on a machine: two daemons sharing a state file would
//! interleave their journals, and two sharing a wallet would run the same job with different
//! salts (one of them then reveals something it did not commit to). Each daemon takes an
//! exclusive advisory lock (`flock`) on `<state_path>.lock` and on
//! `<temp dir>/compute-market-provider-<wallet>.lock`, held until it exits (the kernel releases
//! it if the process dies). Daemons on different machines with one wallet are not detected.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use compute_market_sdk::Pubkey;

use crate::daemon::DaemonError;

/// The locks a running daemon holds (released when dropped).
#[derive(Debug)]
pub struct DaemonLocks {
    _files: Vec<File>,
}

/// The lock file next to the journal.
pub fn state_lock_path(state_path: &Path) -> PathBuf {
    let mut name = state_path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The machine-wide lock file of a wallet.
pub fn wallet_lock_path(wallet: &Pubkey) -> PathBuf {
    std::env::temp_dir().join(format!("compute-market-provider-{wallet}.lock"))
}

fn take(path: &Path, what: &str) -> Result<File, DaemonError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| {
            DaemonError::Config(format!("cannot open lock file {}: {e}", path.display()))
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(DaemonError::Config(format!(
            "another provider-daemon is running with this {what} (it holds {}): stop it first; two daemons on one {what} would run the same jobs",
            path.display()
        ))),
        Err(TryLockError::Error(e)) => Err(DaemonError::Config(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

/// Takes both locks, or says which daemon is in the way.
pub fn acquire(state_path: &Path, wallet: &Pubkey) -> Result<DaemonLocks, DaemonError> {
    let state = take(&state_lock_path(state_path), "state_path")?;
    let wallet = take(&wallet_lock_path(wallet), "wallet")?;
    Ok(DaemonLocks {
        _files: vec![state, wallet],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_daemon_on_the_same_state_or_wallet_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("provider.sqlite");
        let wallet = Pubkey::new_unique();
        let held = acquire(&state, &wallet).unwrap();
        let err = acquire(&state, &Pubkey::new_unique())
            .unwrap_err()
            .to_string();
        assert!(err.contains("state_path"), "{err}");
        let err = acquire(&dir.path().join("other.sqlite"), &wallet)
            .unwrap_err()
            .to_string();
        assert!(err.contains("wallet"), "{err}");
        drop(held);
        acquire(&state, &wallet).expect("free again once the first daemon is gone");
    }
}
