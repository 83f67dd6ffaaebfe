//! Agave's `solana-test-validator` as a child process, for tests that need a real validator
//! rather than Surfpool: on free loopback ports, with its own ledger, the program loaded at
//! genesis, and a restart that keeps the ledger (a crash and recovery, as an operator's node
//! would have). `scripts/e2e-validator.sh` builds the binary and names it in
//! `$COMPUTE_MARKET_VALIDATOR` ([`VALIDATOR_ENV`]).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use compute_market_sdk::pda;
use solana_commitment_config::CommitmentConfig;

use crate::LocalNetError;

/// Environment variable naming the `solana-test-validator` binary.
pub const VALIDATOR_ENV: &str = "COMPUTE_MARKET_VALIDATOR";

/// How long a validator gets to answer `getHealth` after it is started.
const STARTUP: Duration = Duration::from_secs(120);

/// A `solana-test-validator` child process; killed when dropped.
pub struct TestValidator {
    binary: PathBuf,
    dir: PathBuf,
    program_so: PathBuf,
    rpc_port: u16,
    faucet_port: u16,
    gossip_port: u16,
    dynamic_ports: (u16, u16),
    child: Option<Child>,
}

fn node_err(e: impl std::fmt::Display) -> LocalNetError {
    LocalNetError::Node(e.to_string())
}

/// A loopback port nothing listens on, whose next port is free too (the validator serves its
/// websocket on the RPC port + 1).
fn free_port_pair() -> Result<u16, LocalNetError> {
    for _ in 0..50 {
        let first = TcpListener::bind("127.0.0.1:0").map_err(node_err)?;
        let port = first.local_addr().map_err(node_err)?.port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return Ok(port);
        }
    }
    Err(LocalNetError::Node("no two free adjacent ports".into()))
}

fn free_port() -> Result<u16, LocalNetError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(node_err)?;
    Ok(listener.local_addr().map_err(node_err)?.port())
}

/// The first port of `len` consecutive free loopback ports (TCP and UDP), for the validator's
/// TPU, TVU, repair and other sockets.
fn free_range(len: u16) -> Result<u16, LocalNetError> {
    let seed = u16::try_from(std::process::id() % 200).unwrap_or(0);
    (0..200u16)
        .map(|i| 20_000 + ((seed + i) % 200) * len)
        .find(|&start| {
            (start..start + len).all(|p| {
                TcpListener::bind(("127.0.0.1", p)).is_ok()
                    && std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok()
            })
        })
        .ok_or_else(|| LocalNetError::Node(format!("no {len} free consecutive ports")))
}

impl TestValidator {
    /// The binary named by `$COMPUTE_MARKET_VALIDATOR`, with a clear error when it is unset.
    pub fn binary_from_env() -> Result<PathBuf, LocalNetError> {
        std::env::var_os(VALIDATOR_ENV)
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .ok_or_else(|| {
                LocalNetError::Node(format!(
                    "${VALIDATOR_ENV} must name a solana-test-validator binary: scripts/e2e-validator.sh builds one and runs this test"
                ))
            })
    }

    /// Starts a validator with a fresh ledger under `dir` and `program_so` loaded at genesis
    /// as the Compute Market program (upgradeable, no upgrade authority); waits until it is
    /// healthy.
    pub async fn start(
        binary: &Path,
        dir: &Path,
        program_so: &Path,
    ) -> Result<Self, LocalNetError> {
        if !program_so.exists() {
            return Err(LocalNetError::MissingProgram(program_so.to_path_buf()));
        }
        let range_start = free_range(100)?;
        let mut validator = Self {
            binary: binary.to_path_buf(),
            dir: dir.to_path_buf(),
            program_so: program_so.to_path_buf(),
            rpc_port: free_port_pair()?,
            faucet_port: free_port()?,
            gossip_port: free_port()?,
            dynamic_ports: (range_start, range_start + 100),
            child: None,
        };
        validator.spawn(true)?;
        validator.wait_serving(0).await?;
        Ok(validator)
    }

    fn spawn(&mut self, reset: bool) -> Result<(), LocalNetError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(node_err)?;
        let mut command = Command::new(&self.binary);
        command
            .arg("--ledger")
            .arg(self.dir.join("ledger"))
            .args(["--quiet", "--bind-address", "127.0.0.1"])
            .args(["--rpc-port", &self.rpc_port.to_string()])
            .args(["--faucet-port", &self.faucet_port.to_string()])
            .args(["--gossip-port", &self.gossip_port.to_string()])
            .arg("--dynamic-port-range")
            .arg(format!("{}-{}", self.dynamic_ports.0, self.dynamic_ports.1))
            .arg("--upgradeable-program")
            .arg(pda::PROGRAM_ID.to_string())
            .arg(&self.program_so)
            .arg("none");
        if reset {
            command.arg("--reset");
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(node_err)?)
            .stderr(log)
            .spawn()
            .map_err(|e| node_err(format!("starting {}: {e}", self.binary.display())))?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until the validator serves a bank past `slot`: its RPC answers `getHealth` with
    /// "ok" at once on a restart, while it still serves the genesis bank (slot 0, none of the
    /// ledger's accounts) until it has replayed its ledger.
    async fn wait_serving(&mut self, slot: u64) -> Result<(), LocalNetError> {
        let rpc = solana_rpc_client::nonblocking::rpc_client::RpcClient::new_with_commitment(
            self.rpc_url(),
            CommitmentConfig::processed(),
        );
        let started = Instant::now();
        loop {
            if rpc.get_health().await.is_ok() && rpc.get_slot().await.is_ok_and(|s| s > slot) {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(node_err(format!(
                        "solana-test-validator exited ({status}); see {}",
                        self.log_path().display()
                    )));
                }
            }
            if started.elapsed() > STARTUP {
                return Err(node_err(format!(
                    "solana-test-validator not healthy after {} s; see {}",
                    STARTUP.as_secs(),
                    self.log_path().display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// JSON-RPC URL.
    pub fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc_port)
    }

    /// PubSub websocket URL (the RPC port + 1).
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.rpc_port + 1)
    }

    /// The validator's own output.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("validator.log")
    }

    /// Kills the validator (SIGKILL: a crash, not a clean shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The slot the validator is at (processed).
    pub async fn slot(&self) -> Result<u64, LocalNetError> {
        solana_rpc_client::nonblocking::rpc_client::RpcClient::new_with_commitment(
            self.rpc_url(),
            CommitmentConfig::processed(),
        )
        .get_slot()
        .await
        .map_err(node_err)
    }

    /// Starts the validator again on the same ports and ledger after [`Self::kill`]; waits
    /// until it has replayed its ledger past `slot` (the slot it was at when killed).
    pub async fn restart(&mut self, slot: u64) -> Result<(), LocalNetError> {
        self.kill();
        self.spawn(false)?;
        self.wait_serving(slot).await
    }
}

impl Drop for TestValidator {
    fn drop(&mut self) {
        self.kill();
    }
}
