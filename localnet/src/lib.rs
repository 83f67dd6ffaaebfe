//! # A real local Solana node for Compute Market
//!
//! Starts an embedded Surfpool node in this process (JSON-RPC and PubSub websocket on free
//! loopback ports), deploys the program's SBF binary (`target/deploy/compute_market.so`, built by
//! `scripts/build-sbf.sh`), creates a payment mint (real SPL Token), a treasury and a market, and
//! hands out funded wallets. The SDK tests, the daemon tests, the end-to-end tests, the CLI's
//! `localnet` and the demo all use it.
//!
//! Cheatcodes (Surfpool's own RPC methods) are used only for what a real cluster does by other
//! means: airdropping SOL, deploying the program and moving the clock forward. Tokens move with
//! real SPL Token instructions.
//!
//! [`LocalNet::attach`] does the same set-up on a node somebody else runs (`surfpool start`,
//! `solana-test-validator`), with no cheatcodes: the program must be deployed there already
//! (`compute-market market deploy`), and wallets get SOL by transfer from a funded payer.
//!
//! ```no_run
//! # async fn run() -> Result<(), compute_market_localnet::LocalNetError> {
//! let net = compute_market_localnet::LocalNet::start(Default::default()).await?;
//! let client_wallet = net.funded_wallet(1_000_000_000).await?;
//! println!("RPC {} WS {} market {}", net.rpc_url(), net.ws_url(), net.market);
//! # let _ = client_wallet; Ok(()) }
//! ```

use std::path::PathBuf;
use std::time::Duration;

pub mod validator;
pub use validator::TestValidator;

use compute_market_sdk::client::cu;
use compute_market_sdk::{
    instructions, pda, Capabilities, Capacity, Client, ClientConfig, DeviceClass, Keypair,
    MarketInitArgs, Pubkey, SdkError, Signer, Windows,
};
use solana_commitment_config::CommitmentConfig;
use surfpool_sdk::cheatcodes::builders::DeployProgram;
pub use surfpool_sdk::Surfnet;

/// What a modest software (CPU, e.g. lavapipe) provider registers with: the demo's and the
/// tests' providers.
pub const CPU_PROVIDER: Capabilities = Capabilities {
    // Mesa's Vulkan vendor id, which lavapipe reports.
    vendor_id: 0x10005,
    device_class: DeviceClass::Cpu,
    memory_mib: 1024,
    max_workgroup_invocations: 256,
    max_storage_buffer_bytes: 128 << 20,
    bandwidth_mbps: 1_000,
    int_mops: 1_000,
};

/// The capacity the demo's and the tests' providers publish: one device, and the daemon's
/// default `max_concurrent_jobs`.
pub const CPU_PROVIDER_CAPACITY: Capacity = Capacity {
    devices: 1,
    max_concurrent_jobs: 2,
};

/// Lamports every funded wallet gets on the embedded node (100 SOL).
pub const WALLET_LAMPORTS: u64 = 100_000_000_000;
/// Lamports every funded wallet gets on an attached node, from the payer (2 SOL).
pub const ATTACHED_WALLET_LAMPORTS: u64 = 2_000_000_000;
/// Decimals of the local payment mint.
pub const DECIMALS: u8 = 6;

/// What can go wrong starting or driving the local node.
#[derive(Debug, thiserror::Error)]
pub enum LocalNetError {
    /// The program binary is missing.
    #[error("{0} is missing: build it with scripts/build-sbf.sh")]
    MissingProgram(PathBuf),
    /// The attached node does not run the program.
    #[error("program {0} is not deployed on {1}: deploy it with `compute-market --url {1} market deploy`")]
    NotDeployed(Pubkey, String),
    /// Surfpool failed.
    #[error("local node: {0}")]
    Node(String),
    /// A transaction or RPC call failed.
    #[error(transparent)]
    Sdk(#[from] SdkError),
}

/// Environment variable naming the JSON-RPC URL of a node the end-to-end tests attach to
/// ([`LocalNet::start_or_attach`]) instead of starting the embedded one: `scripts/e2e-validator.sh`
/// sets it to Agave's `solana-test-validator`.
pub const E2E_RPC_URL_ENV: &str = "COMPUTE_MARKET_E2E_RPC_URL";
/// Environment variable naming that node's websocket URL (default: the Solana convention, the
/// RPC port + 1).
pub const E2E_WS_URL_ENV: &str = "COMPUTE_MARKET_E2E_WS_URL";
/// Lamports [`LocalNet::start_or_attach`] asks the attached node's faucet for, for its payer.
pub const E2E_PAYER_AIRDROP: u64 = 100_000_000_000;

/// Milliseconds per slot of the embedded node by default: a block every 400 ms, like a cluster,
/// so chain time follows the wall clock even when no transaction arrives.
pub const DEFAULT_SLOT_TIME_MS: u64 = 400;

/// How to start the node.
#[derive(Clone, Debug)]
pub struct LocalNetOptions {
    /// The program binary (default: `target/deploy/compute_market.so` of this workspace, or
    /// `$COMPUTE_MARKET_PROGRAM_SO`).
    pub program_so: PathBuf,
    /// The market's parameters.
    pub market: MarketInitArgs,
    /// Produce a block every this many milliseconds, like a cluster (slot and clock advance
    /// while idle; default [`DEFAULT_SLOT_TIME_MS`]). `None`: Surfpool's own default, a block
    /// only when a transaction arrives (chain time then stands still between transactions).
    pub slot_time_ms: Option<u64>,
}

impl Default for LocalNetOptions {
    fn default() -> Self {
        let program_so = std::env::var_os("COMPUTE_MARKET_PROGRAM_SO")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/deploy/compute_market.so")
            });
        Self {
            program_so,
            market: MarketInitArgs {
                fee_bps: 500,
                give_back_bps: 1_000,
                allow_freeze_authority: false,
                min_provider_stake: 1_000_000,
                collateral_per_replica: 200_000,
                unbonding_period: 60,
                windows: Windows {
                    claim: 60,
                    commit: 120,
                    reveal: 120,
                },
            },
            slot_time_ms: Some(DEFAULT_SLOT_TIME_MS),
        }
    }
}

/// The node: embedded in this process, or run by somebody else.
enum Node {
    Embedded(Box<Surfnet>),
    Attached { rpc_url: String, ws_url: String },
}

/// A running local node with the program deployed and a market initialised.
pub struct LocalNet {
    node: Node,
    payer: Keypair,
    mint_authority: Keypair,
    /// The payment mint.
    pub mint: Pubkey,
    /// The market.
    pub market: Pubkey,
    /// The market's treasury vault (fees collect here once swept from providers' vaults).
    pub treasury: Pubkey,
    /// A directory for `file://` blobs, removed when the node is dropped.
    pub blobs: tempfile::TempDir,
}

fn node_err(e: impl std::fmt::Display) -> LocalNetError {
    LocalNetError::Node(e.to_string())
}

/// Runs a blocking Surfpool call (its cheatcodes use a blocking RPC client) without stalling
/// the async runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Starts an embedded node with nothing of ours on it (no program, no market), whose payer
/// holds 100 SOL: a stand-in for a node somebody else runs, for tests of
/// `compute-market market deploy` and [`LocalNet::attach`].
pub async fn start_bare_node() -> Result<Surfnet, LocalNetError> {
    start_node(None).await
}

/// [`start_bare_node`], producing a block every `slot_time_ms` when given.
async fn start_node(slot_time_ms: Option<u64>) -> Result<Surfnet, LocalNetError> {
    let builder = Surfnet::builder()
        .offline(true)
        .airdrop_sol(WALLET_LAMPORTS);
    let builder = match slot_time_ms {
        Some(ms) => builder
            .block_production_mode(surfpool_sdk::BlockProductionMode::Clock)
            .slot_time_ms(ms),
        None => builder,
    };
    builder.start().await.map_err(node_err)
}

impl LocalNet {
    /// Starts the node, deploys the program, creates the mint, treasury and market.
    /// Needs a multi-threaded tokio runtime.
    pub async fn start(options: LocalNetOptions) -> Result<Self, LocalNetError> {
        if !options.program_so.exists() {
            return Err(LocalNetError::MissingProgram(options.program_so));
        }
        let surfnet = start_node(options.slot_time_ms).await?;
        blocking(|| {
            surfnet
                .cheatcodes()
                .deploy(DeployProgram::new(pda::PROGRAM_ID).so_path(&options.program_so))
        })
        .map_err(node_err)?;
        let payer = surfnet.payer().insecure_clone();
        Self::set_up(Node::Embedded(Box::new(surfnet)), payer, options).await
    }

    /// Sets up a mint, treasury and market on a node somebody else runs, where the program is
    /// deployed already; `payer` pays for everything and funds the wallets handed out.
    pub async fn attach(
        rpc_url: &str,
        ws_url: &str,
        payer: Keypair,
        options: LocalNetOptions,
    ) -> Result<Self, LocalNetError> {
        let node = Node::Attached {
            rpc_url: rpc_url.to_string(),
            ws_url: ws_url.to_string(),
        };
        let program = solana_rpc_client::nonblocking::rpc_client::RpcClient::new(rpc_url.into())
            .get_account_with_commitment(&pda::PROGRAM_ID, CommitmentConfig::confirmed())
            .await
            .map_err(|e| SdkError::rpc(format!("getAccountInfo {}", pda::PROGRAM_ID), e))?
            .value;
        if !program.is_some_and(|p| p.executable) {
            return Err(LocalNetError::NotDeployed(
                pda::PROGRAM_ID,
                rpc_url.to_string(),
            ));
        }
        Self::set_up(node, payer, options).await
    }

    /// The node the end-to-end tests run on: the one named by `$COMPUTE_MARKET_E2E_RPC_URL`
    /// ([`E2E_RPC_URL_ENV`]) when it is set, attached with a payer funded by that node's faucet
    /// (the program must be deployed there), else a new embedded node
    /// ([`LocalNet::is_embedded`] tells which).
    pub async fn start_or_attach(options: LocalNetOptions) -> Result<Self, LocalNetError> {
        let Some(rpc_url) = std::env::var(E2E_RPC_URL_ENV)
            .ok()
            .filter(|u| !u.is_empty())
        else {
            return Self::start(options).await;
        };
        let ws_url = match std::env::var(E2E_WS_URL_ENV).ok().filter(|u| !u.is_empty()) {
            Some(ws) => ws,
            None => compute_market_sdk::client::default_ws_url(&rpc_url)?,
        };
        let payer = airdropped_payer(&rpc_url, E2E_PAYER_AIRDROP).await?;
        Self::attach(&rpc_url, &ws_url, payer, options).await
    }

    async fn set_up(
        node: Node,
        payer: Keypair,
        options: LocalNetOptions,
    ) -> Result<Self, LocalNetError> {
        // Mint, market and treasury addresses are filled in as they are created.
        let mut net = Self {
            node,
            payer,
            mint_authority: Keypair::new(),
            mint: Pubkey::default(),
            market: Pubkey::default(),
            treasury: Pubkey::default(),
            blobs: tempfile::tempdir().map_err(node_err)?,
        };
        net.mint = net.create_mint().await?;
        let authority = net.authority().await?;
        net.market = pda::market(&net.mint, &authority.wallet());
        net.treasury = pda::treasury(&net.market);
        authority.init_market(&net.mint, options.market).await?;
        Ok(net)
    }

    /// JSON-RPC URL.
    pub fn rpc_url(&self) -> &str {
        match &self.node {
            Node::Embedded(surfnet) => surfnet.rpc_url(),
            Node::Attached { rpc_url, .. } => rpc_url,
        }
    }

    /// PubSub websocket URL.
    pub fn ws_url(&self) -> &str {
        match &self.node {
            Node::Embedded(surfnet) => surfnet.ws_url(),
            Node::Attached { ws_url, .. } => ws_url,
        }
    }

    /// Whether the node runs in this process (cheatcodes available).
    pub fn is_embedded(&self) -> bool {
        matches!(self.node, Node::Embedded(_))
    }

    /// The payer (the embedded node's pre-funded one, or the one given to
    /// [`LocalNet::attach`]), which is also the market authority.
    pub fn payer(&self) -> &Keypair {
        &self.payer
    }

    /// The `file://` base URI of the blob directory.
    pub fn blob_store_uri(&self) -> String {
        format!("file://{}", self.blobs.path().display())
    }

    /// A client config for this node and market, storing blobs in the node's blob directory.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new(self.rpc_url(), self.market);
        config.ws_url = Some(self.ws_url().to_string());
        config.store = Some(self.blob_store_uri());
        config
    }

    /// A client acting as `wallet`.
    pub async fn client(&self, wallet: Keypair) -> Result<Client, LocalNetError> {
        Ok(Client::connect(self.client_config(), wallet).await?)
    }

    /// A client acting as the market authority.
    pub async fn authority(&self) -> Result<Client, LocalNetError> {
        self.client(self.payer().insecure_clone()).await
    }

    /// Creates another payment mint (6 decimals) whose mint authority is this node's.
    pub async fn create_mint(&self) -> Result<Pubkey, LocalNetError> {
        use solana_program_pack::Pack;
        let payer = self.authority().await?;
        let mint = Keypair::new();
        let len = spl_token_interface::state::Mint::LEN;
        let rent = payer
            .rpc()
            .get_minimum_balance_for_rent_exemption(len)
            .await
            .map_err(|e| SdkError::rpc("getMinimumBalanceForRentExemption", e))?;
        let token_program = spl_token_interface::ID;
        let ixs = vec![
            solana_system_interface::instruction::create_account(
                &payer.wallet(),
                &mint.pubkey(),
                rent,
                len as u64,
                &token_program,
            ),
            spl_token_interface::instruction::initialize_mint2(
                &token_program,
                &mint.pubkey(),
                &self.mint_authority.pubkey(),
                None,
                DECIMALS,
            )
            .map_err(node_err)?,
        ];
        payer.send("create mint", ixs, &[&mint], 20_000).await?;
        Ok(mint.pubkey())
    }

    /// Mints `amount` to `owner`'s associated token account (created if needed).
    pub async fn mint_to(&self, owner: &Pubkey, amount: u64) -> Result<Pubkey, LocalNetError> {
        let payer = self.authority().await?;
        let account = pda::token_account(owner, &self.mint);
        let mut ixs = vec![instructions::create_token_account(
            &payer.wallet(),
            owner,
            &self.mint,
        )];
        if amount > 0 {
            ixs.push(
                spl_token_interface::instruction::mint_to(
                    &spl_token_interface::ID,
                    &self.mint,
                    &account,
                    &self.mint_authority.pubkey(),
                    &[],
                    amount,
                )
                .map_err(node_err)?,
            );
        }
        let signers: &[&Keypair] = if amount > 0 {
            &[&self.mint_authority]
        } else {
            &[]
        };
        payer
            .send(
                "mint tokens",
                ixs,
                signers,
                10_000 + cu::CREATE_TOKEN_ACCOUNT,
            )
            .await?;
        Ok(account)
    }

    /// A new wallet with SOL for fees (100 SOL embedded, 2 SOL attached) and `tokens` of the
    /// payment mint.
    pub async fn funded_wallet(&self, tokens: u64) -> Result<Keypair, LocalNetError> {
        let wallet = Keypair::new();
        let lamports = match self.node {
            Node::Embedded(_) => WALLET_LAMPORTS,
            Node::Attached { .. } => ATTACHED_WALLET_LAMPORTS,
        };
        self.airdrop(&wallet.pubkey(), lamports).await?;
        self.mint_to(&wallet.pubkey(), tokens).await?;
        Ok(wallet)
    }

    /// Gives `address` SOL: sets its balance on the embedded node (a cheatcode), transfers
    /// `lamports` from the payer on an attached one.
    pub async fn airdrop(&self, address: &Pubkey, lamports: u64) -> Result<(), LocalNetError> {
        match &self.node {
            Node::Embedded(surfnet) => {
                blocking(|| surfnet.cheatcodes().fund_sol(address, lamports)).map_err(node_err)
            }
            Node::Attached { .. } => {
                let payer = self.authority().await?;
                let transfer = solana_system_interface::instruction::transfer(
                    &payer.wallet(),
                    address,
                    lamports,
                );
                payer
                    .send("fund wallet", vec![transfer], &[], 1_000)
                    .await?;
                Ok(())
            }
        }
    }

    /// Moves the chain's clock to `unix_timestamp` (seconds), for deadline tests: a cheatcode
    /// on the embedded node; on an attached node, which has no such thing, waits until the
    /// node's own clock (which follows the wall clock) gets there.
    pub async fn time_travel_to(&self, unix_timestamp: i64) -> Result<(), LocalNetError> {
        let Node::Embedded(surfnet) = &self.node else {
            return self.wait_for_clock(unix_timestamp).await;
        };
        let millis = u64::try_from(unix_timestamp)
            .map_err(node_err)?
            .saturating_mul(1_000);
        blocking(|| surfnet.cheatcodes().time_travel_to_timestamp(millis)).map_err(node_err)?;
        // Let the node produce a block at the new time.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(())
    }

    /// Waits until the node's Clock sysvar reads at least `unix_timestamp`; gives up when that
    /// is more than an hour away or the clock stands still for a minute.
    pub async fn wait_for_clock(&self, unix_timestamp: i64) -> Result<(), LocalNetError> {
        let client = self.authority().await?;
        let mut last = (client.chain_time().await?, std::time::Instant::now());
        loop {
            let now = client.chain_time().await?;
            if now >= unix_timestamp {
                return Ok(());
            }
            if now != last.0 {
                last = (now, std::time::Instant::now());
            }
            let behind = unix_timestamp - now;
            if behind > 3_600 || last.1.elapsed() > Duration::from_secs(60) {
                return Err(LocalNetError::Node(format!(
                    "the node's clock reads {now}, {behind} s before {unix_timestamp}, and is not getting there"
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// A new wallet holding `lamports`, from the faucet of the node at `rpc_url`
/// (`requestAirdrop`: `solana-test-validator` and Surfpool have one, devnet a small one).
pub async fn airdropped_payer(rpc_url: &str, lamports: u64) -> Result<Keypair, LocalNetError> {
    let payer = Keypair::new();
    let rpc = solana_rpc_client::nonblocking::rpc_client::RpcClient::new_with_commitment(
        rpc_url.to_string(),
        CommitmentConfig::confirmed(),
    );
    let refused = |e: &dyn std::fmt::Display| {
        LocalNetError::Node(format!(
            "the node at {rpc_url} refused an airdrop of {} SOL ({e})",
            lamports / 1_000_000_000
        ))
    };
    rpc.request_airdrop(&payer.pubkey(), lamports)
        .await
        .map_err(|e| refused(&e))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while rpc.get_balance(&payer.pubkey()).await.unwrap_or(0) < lamports {
        if std::time::Instant::now() > deadline {
            return Err(refused(&"no funds arrived within 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(payer)
}
