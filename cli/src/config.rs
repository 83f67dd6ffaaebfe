//! Where the CLI connects and as whom: flags first, then the Solana CLI config file, then the
//! local node's state file (for `--url localnet`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use compute_market_localnet::{LocalNet, LocalNetOptions};
use compute_market_sdk::{Client, ClientConfig, Keypair, Pubkey, Signature, Signer};
use serde::{Deserialize, Serialize};

use crate::Global;

/// The Solana CLI's config file (the fields we use).
#[derive(Debug, Default, Deserialize)]
struct SolanaConfig {
    json_rpc_url: Option<String>,
    websocket_url: Option<String>,
    keypair_path: Option<String>,
}

/// What `compute-market localnet` leaves for other invocations.
#[derive(Debug, Serialize, Deserialize)]
pub struct LocalnetState {
    /// JSON-RPC URL.
    pub rpc_url: String,
    /// Websocket URL.
    pub ws_url: String,
    /// Market address.
    pub market: String,
    /// Payment mint.
    pub mint: String,
    /// Blob store base URI.
    pub store: String,
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

/// `~/.config/compute-market/localnet.json`.
pub fn localnet_state_path() -> PathBuf {
    home().join(".config/compute-market/localnet.json")
}

fn solana_config() -> Result<SolanaConfig> {
    let path = home().join(".config/solana/cli/config.yml");
    if !path.exists() {
        return Ok(SolanaConfig::default());
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_yaml::from_str(&text).with_context(|| format!("{} is not valid YAML", path.display()))
}

/// Reads a keypair file in the Solana CLI's JSON format (an array of 64 bytes).
pub fn read_keypair(path: &Path) -> Result<Keypair> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read keypair {} (create one with `solana-keygen new` or pass --keypair)",
            path.display()
        )
    })?;
    let bytes: Vec<u8> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a Solana keypair file (a JSON array of 64 bytes)",
            path.display()
        )
    })?;
    Keypair::try_from(bytes.as_slice())
        .map_err(|e| anyhow::anyhow!("{} is not a valid keypair: {e}", path.display()))
}

/// A resolved connection.
#[derive(Debug)]
pub struct Resolved {
    /// JSON-RPC URL.
    pub rpc_url: String,
    ws_url: Option<String>,
    pub keypair_path: PathBuf,
    market: Option<Pubkey>,
    store: Option<String>,
    priority_fee: Option<u64>,
    cluster_param: String,
}

fn moniker(url: &str) -> Option<&'static str> {
    Some(match url {
        "devnet" | "d" => "https://api.devnet.solana.com",
        "mainnet-beta" | "m" => "https://api.mainnet-beta.solana.com",
        "testnet" | "t" => "https://api.testnet.solana.com",
        _ => return None,
    })
}

impl Resolved {
    /// Resolves flags, config file and localnet state into a connection; nothing is sent.
    pub fn from_global(g: &Global) -> Result<Self> {
        let solana = solana_config()?;
        let url = g
            .url
            .clone()
            .or(solana.json_rpc_url.clone())
            .unwrap_or_else(|| "localnet".into());
        let local = if url == "localnet" || url == "l" {
            let path = localnet_state_path();
            match std::fs::read_to_string(&path) {
                Ok(text) => Some(
                    serde_json::from_str::<LocalnetState>(&text)
                        .with_context(|| format!("{} is corrupt", path.display()))?,
                ),
                Err(_) => None,
            }
        } else {
            None
        };
        let rpc_url = match (&local, moniker(&url)) {
            (Some(state), _) => state.rpc_url.clone(),
            (None, Some(m)) => m.to_string(),
            (None, None) if url == "localnet" || url == "l" => "http://127.0.0.1:8899".to_string(),
            (None, None) => url.clone(),
        };
        let parsed = url::Url::parse(&rpc_url)
            .with_context(|| format!("--url {url:?} is neither a cluster moniker (localnet, devnet, mainnet-beta, testnet) nor a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("--url {rpc_url:?} must be an http(s) URL");
        }
        let ws_url = g
            .ws_url
            .clone()
            .or_else(|| local.as_ref().map(|s| s.ws_url.clone()))
            .or(if g.url.is_none() {
                solana.websocket_url.clone().filter(|w| !w.is_empty())
            } else {
                None
            });
        let keypair_path = g
            .keypair
            .clone()
            .or_else(|| solana.keypair_path.as_ref().map(PathBuf::from))
            .unwrap_or_else(|| home().join(".config/solana/id.json"));
        let market = match (&g.market, &local) {
            (Some(m), _) => Some(
                m.parse()
                    .with_context(|| format!("--market {m:?} is not a valid base58 address"))?,
            ),
            (None, Some(state)) => {
                Some(state.market.parse().context("localnet state: bad market")?)
            }
            (None, None) => None,
        };
        let store = g
            .store
            .clone()
            .or_else(|| local.as_ref().map(|s| s.store.clone()));
        let cluster_param = match moniker(&url) {
            Some(_) => format!("?cluster={url}"),
            None => format!("?cluster=custom&customUrl={rpc_url}"),
        };
        Ok(Self {
            rpc_url,
            ws_url,
            keypair_path,
            market,
            store,
            priority_fee: g.priority_fee,
            cluster_param,
        })
    }

    /// The websocket URL: `--ws-url`, the localnet's, the Solana config's, or derived from the
    /// RPC URL (port + 1).
    pub fn ws_url(&self) -> Result<String> {
        match &self.ws_url {
            Some(ws) => Ok(ws.clone()),
            None => Ok(compute_market_sdk::client::default_ws_url(&self.rpc_url)?),
        }
    }

    /// The SDK client for this connection's market.
    pub async fn client(&self) -> Result<Client> {
        let Some(market) = self.market else {
            bail!("no market: pass --market <ADDRESS> (or run `compute-market localnet`)");
        };
        self.client_for(market).await
    }

    /// The SDK client for `market` (which may not exist yet).
    pub async fn client_for(&self, market: Pubkey) -> Result<Client> {
        let wallet = read_keypair(&self.keypair_path)?;
        let mut config = ClientConfig::new(&self.rpc_url, market);
        config.ws_url = self.ws_url.clone();
        config.store = self.store.clone();
        config.priority_fee_micro_lamports = self.priority_fee;
        Ok(Client::connect(config, wallet).await?)
    }

    /// An explorer link for a transaction.
    pub fn explorer_tx(&self, signature: &Signature) -> String {
        format!(
            "https://explorer.solana.com/tx/{signature}{}",
            self.cluster_param
        )
    }

    /// An explorer link for an account.
    pub fn explorer_address(&self, address: &Pubkey) -> String {
        format!(
            "https://explorer.solana.com/address/{address}{}",
            self.cluster_param
        )
    }
}

/// `compute-market localnet`: runs the embedded node until Ctrl-C.
pub async fn run_localnet(g: &Global, fund: u64, slot_time_ms: u64) -> Result<()> {
    // Listen for Ctrl-C from the start, so an early one stops the node cleanly too.
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("installing the Ctrl-C handler")?;
    let net = LocalNet::start(LocalNetOptions {
        slot_time_ms: (slot_time_ms > 0).then_some(slot_time_ms),
        ..Default::default()
    })
    .await?;
    let state = LocalnetState {
        rpc_url: net.rpc_url().to_string(),
        ws_url: net.ws_url().to_string(),
        market: net.market.to_string(),
        mint: net.mint.to_string(),
        store: net.blob_store_uri(),
    };
    match slot_time_ms {
        0 => println!("local node running, a block per transaction (Ctrl-C to stop)"),
        ms => println!("local node running, a block every {ms} ms (Ctrl-C to stop)"),
    }
    println!("  RPC     {}", state.rpc_url);
    println!("  WS      {}", state.ws_url);
    println!("  market  {}", state.market);
    println!("  mint    {}", state.mint);
    println!("  blobs   {}", state.store);
    let keypair_path = g
        .keypair
        .clone()
        .or_else(|| {
            solana_config()
                .ok()
                .and_then(|c| c.keypair_path)
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| home().join(".config/solana/id.json"));
    match read_keypair(&keypair_path) {
        Ok(wallet) => {
            net.airdrop(&wallet.pubkey(), compute_market_localnet::WALLET_LAMPORTS)
                .await?;
            net.mint_to(&wallet.pubkey(), fund).await?;
            println!(
                "  wallet  {} funded with SOL and {fund} tokens",
                wallet.pubkey()
            );
        }
        Err(e) => println!("  (no wallet funded: {e:#})"),
    }
    let path = localnet_state_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&path, serde_json::to_string_pretty(&state)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("other commands use it with --url localnet");
    #[cfg(unix)]
    interrupt.recv().await;
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    let _ = std::fs::remove_file(&path);
    println!("stopped");
    Ok(())
}
