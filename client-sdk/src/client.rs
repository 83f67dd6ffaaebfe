//! The async client: submit jobs, watch them, fetch verified results; provider and market
//! operations. Every transaction carries a compute-unit limit sized from the program's CU
//! benchmark (BENCHMARKS.md) and, if configured, a priority fee.

use std::sync::Arc;
use std::time::Duration;

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use futures::StreamExt;
use solana_account_decoder_client_types::UiAccountEncoding;
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::config::RpcAccountInfoConfig;
use solana_signature::Signature;
use solana_signer::Signer;

use crate::accounts::{self, JobFilter};
use crate::error::{Result, SdkError};
use crate::job_spec::ValidatedJob;
use crate::store::{self, BlobStore};
use crate::types::*;
use crate::{instructions as ix, pda};

/// Compute-unit limits per instruction: the measured cost (BENCHMARKS.md) plus headroom.
///
/// Instructions that create PDAs (`market_init`, `provider_register`, `job_post`) pay Anchor's
/// bump search, ~1,500 CU per attempt; the number of attempts depends on the addresses (each
/// extra attempt has probability 1/2). Their limits leave room for ~20 extra attempts per PDA,
/// so an unlucky address fails about once in a million, not once in a hundred.
pub mod cu {
    /// Room for 20 extra bump-search attempts of one PDA.
    pub const BUMP_SEARCH: u32 = 20 * 1_500;
    /// `market_init` (two PDAs: market and treasury vault, and the vault's token CPIs).
    pub const MARKET_INIT: u32 = 30_000 + 2 * BUMP_SEARCH;
    /// `market_update`.
    pub const MARKET_UPDATE: u32 = 10_000;
    /// `provider_register` (two PDAs: provider and stake vault).
    pub const PROVIDER_REGISTER: u32 = 35_000 + 2 * BUMP_SEARCH;
    /// `provider_stake`, `provider_withdraw`.
    pub const PROVIDER_TRANSFER: u32 = 25_000;
    /// `provider_unstake`, `provider_update`.
    pub const PROVIDER_SMALL: u32 = 10_000;
    /// `job_post` (two PDAs: job and escrow).
    pub const JOB_POST: u32 = 40_000 + 2 * BUMP_SEARCH;
    /// `job_cancel` (refund, escrow closed, tombstone).
    pub const JOB_CANCEL: u32 = 30_000;
    /// `job_claim`.
    pub const JOB_CLAIM: u32 = 12_000;
    /// `job_commit`.
    pub const JOB_COMMIT: u32 = 8_000;
    /// `job_reveal`.
    pub const JOB_REVEAL: u32 = 10_000;
    /// `job_submit`.
    pub const JOB_SUBMIT: u32 = 45_000;
    /// `job_give_back`.
    pub const JOB_GIVE_BACK: u32 = 10_000;
    /// `job_apply`.
    pub const JOB_APPLY: u32 = 15_000;
    /// `job_draw` with `applicants` applicants (one provider account each, plus the SlotHashes
    /// scan).
    pub fn draw(applicants: u8) -> u32 {
        40_000 + 8_000 * u32::from(applicants)
    }
    /// `job_close` (refund, escrow closed, tombstone).
    pub const JOB_CLOSE: u32 = 30_000;
    /// `market_withdraw_fees`, `provider_withdraw_earnings`.
    pub const WITHDRAW: u32 = 25_000;
    /// `provider_sweep` (a transfer and a burn).
    pub const PROVIDER_SWEEP: u32 = 35_000;
    /// Creating an associated token account (the ATA program searches its bump too).
    pub const CREATE_TOKEN_ACCOUNT: u32 = 30_000 + BUMP_SEARCH;
    /// Anchor's IDL `Create` (searches the program's `[]` PDA twice, then a system CPI).
    pub const IDL_CREATE: u32 = 30_000 + 2 * BUMP_SEARCH;
    /// Anchor's IDL `Write`, `Resize`, `CreateBuffer`, `Close`.
    pub const IDL_SMALL: u32 = 20_000;
    /// Anchor's IDL `SetBuffer` plus closing the buffer (copies up to the IDL's size).
    pub const IDL_SET_BUFFER: u32 = 60_000;
    /// Headroom for the compute-budget instructions themselves.
    pub const BUDGET_OVERHEAD: u32 = 1_000;

    /// `job_finalize` / `job_expire` with `claimed` claimed slots.
    pub fn settle(claimed: u8) -> u32 {
        20_000 + 12_000 * u32::from(claimed)
    }
}

/// How to reach the chain and the market.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// JSON-RPC URL.
    pub rpc_url: String,
    /// PubSub websocket URL (default: the RPC URL with `ws(s)://` and the port + 1, Solana's
    /// convention).
    pub ws_url: Option<String>,
    /// The market's address.
    pub market: Pubkey,
    /// Where this party uploads blobs (`file://`, `http(s)://`, `s3://`); needed to submit jobs.
    pub store: Option<String>,
    /// Priority fee in micro-lamports per compute unit (with a cap set: the least fee).
    pub priority_fee_micro_lamports: Option<u64>,
    /// When set, each transaction's priority fee follows the network's recent fees for its
    /// writable accounts (`getRecentPrioritizationFees`, 75th percentile), at most this many
    /// micro-lamports per compute unit.
    pub priority_fee_cap_micro_lamports: Option<u64>,
    /// More JSON-RPC URLs, tried in turn when `rpc_url` fails (unreachable, HTTP errors
    /// including 429 after its retries, unhealthy, behind the slot asked for).
    pub fallback_rpc_urls: Vec<String>,
    /// Sees the method name of every JSON-RPC request sent (for request metrics).
    pub on_rpc_request: Option<crate::rpc::RequestObserver>,
    /// Polling interval used when the websocket is unavailable.
    pub poll_interval: Duration,
}

impl ClientConfig {
    /// A config for `rpc_url` and `market`, with defaults for the rest.
    pub fn new(rpc_url: impl Into<String>, market: Pubkey) -> Self {
        Self {
            rpc_url: rpc_url.into(),
            ws_url: None,
            market,
            store: None,
            priority_fee_micro_lamports: None,
            priority_fee_cap_micro_lamports: None,
            fallback_rpc_urls: Vec::new(),
            on_rpc_request: None,
            poll_interval: Duration::from_millis(400),
        }
    }
}

/// The websocket URL Solana tools derive from an RPC URL: same host, `ws(s)`, port + 1.
pub fn default_ws_url(rpc_url: &str) -> Result<String> {
    let mut url = url::Url::parse(rpc_url)
        .map_err(|e| SdkError::Config(format!("bad RPC URL {rpc_url:?}: {e}")))?;
    let scheme = match url.scheme() {
        "http" => "ws",
        "https" => "wss",
        other => {
            return Err(SdkError::Config(format!(
                "RPC URL {rpc_url:?} must be http(s), not {other}"
            )))
        }
    };
    let port = url.port();
    url.set_scheme(scheme)
        .map_err(|()| SdkError::Config(format!("cannot derive a websocket URL from {rpc_url}")))?;
    if let Some(port) = port {
        url.set_port(Some(port.saturating_add(1)))
            .map_err(|()| SdkError::Config(format!("cannot set port on {rpc_url}")))?;
    }
    Ok(url.to_string())
}

pub(crate) struct Inner {
    pub(crate) rpc: RpcClient,
    ws_url: String,
    pub(crate) payer: Keypair,
    market: Pubkey,
    store: Option<BlobStore>,
    pub(crate) priority_fee: Option<u64>,
    pub(crate) priority_fee_cap: Option<u64>,
    /// Recent prioritization fee (75th percentile) and when it was read.
    pub(crate) recent_fee: std::sync::Mutex<Option<(std::time::Instant, u64)>>,
    /// The blockhash new transactions use (see [`crate::send`]).
    pub(crate) blockhash: std::sync::Mutex<Option<crate::send::CachedBlockhash>>,
    /// The market's payment mint, once read.
    payment_mint: std::sync::OnceLock<Pubkey>,
    /// Signatures of the transactions sent lately, with when (duplicates get a newer blockhash).
    pub(crate) sent: std::sync::Mutex<std::collections::VecDeque<(std::time::Instant, Signature)>>,
    /// The newest slot one of our transactions landed in: reads ask for state at least as new.
    min_slot: std::sync::atomic::AtomicU64,
    poll_interval: Duration,
}

/// A connection to one market, acting as one wallet (`payer`): a client, a provider or the
/// market authority. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the keypair.
        f.debug_struct("Client")
            .field("rpc_url", &self.inner.rpc.url())
            .field("wallet", &self.wallet())
            .field("market", &self.inner.market)
            .finish()
    }
}

impl Client {
    /// Connects (no RPC call is made until needed).
    pub async fn connect(config: ClientConfig, payer: Keypair) -> Result<Self> {
        let ws_url = match config.ws_url {
            Some(ws) => ws,
            None => default_ws_url(&config.rpc_url)?,
        };
        url::Url::parse(&config.rpc_url)
            .map_err(|e| SdkError::Config(format!("bad RPC URL {:?}: {e}", config.rpc_url)))?;
        let store = match &config.store {
            Some(base) => Some(BlobStore::open(base).await?),
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                rpc: RpcClient::new_sender(
                    crate::rpc::RotatingSender::new(
                        &std::iter::once(config.rpc_url)
                            .chain(config.fallback_rpc_urls)
                            .collect::<Vec<_>>(),
                        config.on_rpc_request,
                    ),
                    solana_rpc_client::rpc_client::RpcClientConfig::with_commitment(
                        CommitmentConfig::confirmed(),
                    ),
                ),
                ws_url,
                payer,
                market: config.market,
                store,
                priority_fee: config.priority_fee_micro_lamports,
                priority_fee_cap: config.priority_fee_cap_micro_lamports,
                recent_fee: std::sync::Mutex::new(None),
                blockhash: std::sync::Mutex::new(None),
                payment_mint: std::sync::OnceLock::new(),
                sent: std::sync::Mutex::new(std::collections::VecDeque::new()),
                min_slot: std::sync::atomic::AtomicU64::new(0),
                poll_interval: config.poll_interval,
            }),
        })
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// The newest slot one of this client's transactions is known to have landed in (0 before
    /// any): every account read of this client asks the node for state at least that new.
    pub fn min_context_slot(&self) -> u64 {
        self.inner
            .min_slot
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Raises [`Client::min_context_slot`] to `slot` (e.g. the slot of a read that showed this
    /// client's own transaction's effect).
    pub fn observe_slot(&self, slot: u64) {
        self.inner
            .min_slot
            .fetch_max(slot, std::sync::atomic::Ordering::Relaxed);
    }

    /// The RPC client.
    pub fn rpc(&self) -> &RpcClient {
        &self.inner.rpc
    }

    /// This client's wallet.
    pub fn wallet(&self) -> Pubkey {
        self.inner.payer.pubkey()
    }

    /// The market address.
    pub fn market_address(&self) -> Pubkey {
        self.inner.market
    }

    /// The blob store, if configured.
    pub fn store(&self) -> Option<&BlobStore> {
        self.inner.store.as_ref()
    }

    /// The market account.
    pub async fn market(&self) -> Result<Market> {
        accounts::fetch_market(self.rpc(), &self.inner.market, self.min_context_slot())
            .await
            .map_err(|e| match e {
                SdkError::AccountNotFound { address } => SdkError::Config(format!(
                    "unknown market {address}: no market account at that address on this cluster"
                )),
                other => other,
            })
    }

    /// The chain's current Unix time (from the clock sysvar).
    pub async fn chain_time(&self) -> Result<i64> {
        use anchor_lang::solana_program::sysvar::SysvarId;
        let clock = <anchor_lang::prelude::Clock as SysvarId>::id();
        let data = self
            .rpc()
            .get_account_data(&clock)
            .await
            .map_err(|e| SdkError::rpc("reading the clock sysvar", e))?;
        accounts::clock_unix_timestamp(&data)
            .ok_or_else(|| SdkError::rpc("reading the clock sysvar", "short clock account"))
    }

    // ----- clients -----

    /// Uploads the shader and input to the configured store and posts the job, escrowing
    /// `n × (reward + fee)` from this wallet's token account.
    pub async fn submit(&self, job: &ValidatedJob) -> Result<JobHandle> {
        let store = self.store().ok_or_else(|| {
            SdkError::Config("no blob store configured: set ClientConfig::store".into())
        })?;
        let shader_uri = store.put(&job.descriptor.shader_blob()).await?;
        let input_uri = if job.descriptor.input.is_empty() {
            String::new()
        } else {
            store.put(&job.descriptor.input).await?
        };
        self.submit_uploaded(job, &shader_uri, &input_uri, rand::random())
            .await
    }

    /// Posts a job whose blobs are already uploaded at `shader_uri` / `input_uri`.
    pub async fn submit_uploaded(
        &self,
        job: &ValidatedJob,
        shader_uri: &str,
        input_uri: &str,
        job_id: u64,
    ) -> Result<JobHandle> {
        let market = self.market().await?;
        let token = pda::token_account(&self.wallet(), &market.payment_mint);
        let escrow = job
            .escrow_total(market.fee_bps)
            .ok_or_else(|| SdkError::InvalidJob("reward × replicas overflows".into()))?;
        let balance = self.token_balance(&token).await?;
        if balance < escrow {
            return Err(SdkError::InvalidJob(format!(
                "insufficient funds: the job escrows {escrow} base units (reward + {} bps fee, × {} replicas) but {token} holds {balance}",
                market.fee_bps, job.replicas
            )));
        }
        let now = self.chain_time().await?;
        let args = job.post_args(job_id, shader_uri, input_uri, now)?;
        let address = pda::job(&self.inner.market, &self.wallet(), job_id);
        let post = ix::job_post(
            &self.inner.market,
            &market.payment_mint,
            &self.wallet(),
            args,
        );
        let signature = self.send("job_post", vec![post], &[], cu::JOB_POST).await?;
        Ok(JobHandle {
            client: self.clone(),
            address,
            signature: Some(signature),
        })
    }

    /// Token balance of `account` (0 if it does not exist).
    pub async fn token_balance(&self, account: &Pubkey) -> Result<u64> {
        let data = self
            .rpc()
            .get_account_with_commitment(account, self.rpc().commitment())
            .await
            .map_err(|e| SdkError::rpc(format!("getAccountInfo {account}"), e))?
            .value
            .map(|a| a.data)
            .unwrap_or_default();
        if data.is_empty() {
            return Ok(0);
        }
        use solana_program_pack::Pack;
        spl_token_interface::state::Account::unpack(&data)
            .map(|a| a.amount)
            .map_err(|e| SdkError::AccountDecode {
                address: *account,
                expected: "token account",
                reason: e.to_string(),
            })
    }

    /// A handle on an existing job.
    pub fn handle(&self, address: Pubkey) -> JobHandle {
        JobHandle {
            client: self.clone(),
            address,
            signature: None,
        }
    }

    /// A job.
    pub async fn job(&self, address: &Pubkey) -> Result<Job> {
        accounts::fetch_job(self.rpc(), address, self.min_context_slot()).await
    }

    /// The job at `address` and the chain's unix time, read together in one request, at least
    /// as new as this client's own last transaction.
    pub async fn job_and_time(&self, address: &Pubkey) -> Result<(Job, i64)> {
        accounts::fetch_job_and_time(self.rpc(), address, self.min_context_slot()).await
    }

    /// Jobs matching `filter` (the market defaults to this client's market).
    pub async fn list(&self, mut filter: JobFilter) -> Result<Vec<(Pubkey, Job)>> {
        filter.market.get_or_insert(self.inner.market);
        accounts::list_jobs(self.rpc(), &filter).await
    }

    /// Cancels an unclaimed job of this wallet: full refund to this wallet's associated token
    /// account (created if needed).
    pub async fn cancel(&self, address: &Pubkey) -> Result<Signature> {
        let job = self.job(address).await?;
        let market = self.market().await?;
        let (create, destination) = self.own_token_account(&market);
        self.send(
            "job_cancel",
            vec![create, ix::job_cancel(address, &job, &market, &destination)],
            &[],
            cu::JOB_CANCEL + cu::CREATE_TOKEN_ACCOUNT,
        )
        .await
    }

    /// Closes a settled job of this wallet: its refund (whatever settlement did not pay out)
    /// goes to this wallet's associated token account (created if needed), most of the rent
    /// back to the wallet; a tombstone keeps the address from ever holding a job again.
    pub async fn close(&self, address: &Pubkey) -> Result<Signature> {
        let job = self.job(address).await?;
        let market = self.market().await?;
        self.close_to(address, &job, &market, None).await
    }

    /// [`Client::close`] with the refund sent to `destination` (any token account of the
    /// market's mint) instead of this wallet's associated token account.
    pub async fn close_to(
        &self,
        address: &Pubkey,
        job: &Job,
        market: &Market,
        destination: Option<Pubkey>,
    ) -> Result<Signature> {
        let mut ixs = Vec::new();
        let mut limit = cu::JOB_CLOSE;
        let destination = match destination {
            Some(d) => d,
            None => {
                let (create, own) = self.own_token_account(market);
                ixs.push(create);
                limit += cu::CREATE_TOKEN_ACCOUNT;
                own
            }
        };
        ixs.push(ix::job_close(address, job, market, &destination));
        self.send("job_close", ixs, &[], limit).await
    }

    /// This wallet's associated token account of the market's mint, with the (idempotent)
    /// instruction creating it.
    fn own_token_account(&self, market: &Market) -> (Instruction, Pubkey) {
        let wallet = self.wallet();
        (
            ix::create_token_account(&wallet, &wallet, &market.payment_mint),
            pda::token_account(&wallet, &market.payment_mint),
        )
    }

    // ----- providers (this wallet is the provider's owner) -----

    /// This wallet's provider address.
    pub fn provider_address(&self) -> Pubkey {
        pda::provider(&self.inner.market, &self.wallet())
    }

    /// This wallet's provider, the market and the chain's unix time, read together in one
    /// request, at least as new as this client's own last transaction.
    pub async fn provider_market_and_time(&self) -> Result<(Provider, Market, i64)> {
        accounts::fetch_provider_market_and_time(
            self.rpc(),
            &self.provider_address(),
            &self.inner.market,
            self.min_context_slot(),
        )
        .await
    }

    /// The market's payment mint (it never changes: read once per client).
    pub async fn payment_mint(&self) -> Result<Pubkey> {
        if let Some(mint) = self.inner.payment_mint.get() {
            return Ok(*mint);
        }
        let mint = self.market().await?.payment_mint;
        Ok(*self.inner.payment_mint.get_or_init(|| mint))
    }

    /// This wallet's provider account.
    pub async fn provider(&self) -> Result<Provider> {
        accounts::fetch_provider(
            self.rpc(),
            &self.provider_address(),
            self.min_context_slot(),
        )
        .await
    }

    /// Registers this wallet as a provider with `stake`, the `capabilities` every one of its
    /// devices has, and its `capacity` (devices served, jobs at once; each at least 1).
    pub async fn register_provider(
        &self,
        stake: u64,
        capabilities: Capabilities,
        capacity: Capacity,
    ) -> Result<Signature> {
        let market = self.market().await?;
        self.send(
            "provider_register",
            vec![ix::provider_register(
                &self.inner.market,
                &market.payment_mint,
                &self.wallet(),
                ProviderRegisterArgs {
                    stake,
                    capabilities,
                    capacity,
                },
            )],
            &[],
            cu::PROVIDER_REGISTER,
        )
        .await
    }

    /// Adds stake.
    pub async fn stake(&self, amount: u64) -> Result<Signature> {
        let market = self.market().await?;
        let i = ix::provider_stake(
            &self.inner.market,
            &market.payment_mint,
            &self.wallet(),
            amount,
        );
        self.send("provider_stake", vec![i], &[], cu::PROVIDER_TRANSFER)
            .await
    }

    /// Starts unbonding `amount`.
    pub async fn unstake(&self, amount: u64) -> Result<Signature> {
        let i = ix::provider_unstake(&self.inner.market, &self.wallet(), amount);
        self.send("provider_unstake", vec![i], &[], cu::PROVIDER_SMALL)
            .await
    }

    /// Withdraws unbonded stake.
    pub async fn withdraw(&self) -> Result<Signature> {
        let market = self.market().await?;
        let i = ix::provider_withdraw(&self.inner.market, &market.payment_mint, &self.wallet());
        self.send("provider_withdraw", vec![i], &[], cu::PROVIDER_TRANSFER)
            .await
    }

    /// Withdraws every reward credited to this wallet's provider to its associated token
    /// account (created if needed). Returns the amount and the signature.
    pub async fn withdraw_earnings(&self) -> Result<(u64, Signature)> {
        let market = self.market().await?;
        let amount = self.provider().await?.earnings;
        let (create, destination) = self.own_token_account(&market);
        let i = ix::provider_withdraw_earnings(
            &self.inner.market,
            &market.payment_mint,
            &self.wallet(),
            &destination,
        );
        let limit = cu::WITHDRAW + cu::CREATE_TOKEN_ACCOUNT;
        let sig = self
            .send("provider_withdraw_earnings", vec![create, i], &[], limit)
            .await?;
        Ok((amount, sig))
    }

    /// Sweeps `provider`'s dues (anyone may): fees to the treasury, forfeits burnt.
    pub async fn sweep(&self, provider: &Pubkey) -> Result<Signature> {
        let market = self.market().await?;
        let i = ix::provider_sweep(
            &self.wallet(),
            &self.inner.market,
            &market.payment_mint,
            provider,
        );
        self.send("provider_sweep", vec![i], &[], cu::PROVIDER_SWEEP)
            .await
    }

    /// Applies to a drawn job with this wallet's provider, locking `stake` (at least the job's
    /// collateral; `None`: exactly the collateral) as its weight in the draw and adding a random
    /// contribution to the job's entropy. The same eligibility rules as a claim apply.
    pub async fn apply(&self, job_address: &Pubkey, stake: Option<u64>) -> Result<Signature> {
        let job = self.job(job_address).await?;
        let stake = stake.unwrap_or(job.collateral_per_replica);
        let i = ix::job_apply(&self.wallet(), job_address, &job, rand::random(), stake);
        self.send("job_apply", vec![i], &[], cu::JOB_APPLY).await
    }

    /// Draws a drawn job's replicas (anyone may, once its claim window closed and the seed
    /// slot was produced). Retries `DrawTooEarly` for up to five seconds.
    pub async fn draw(&self, job_address: &Pubkey) -> Result<Signature> {
        let mut tries = 0;
        loop {
            let job = self.job(job_address).await?;
            let i = ix::job_draw(&self.wallet(), job_address, &job);
            let limit = cu::draw(job.applicants_len);
            match self.send("job_draw", vec![i], &[], limit).await {
                Err(e) if e.program_error_name() == Some("DrawTooEarly") && tries < 12 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(400)).await;
                }
                other => return other,
            }
        }
    }

    /// Gives back this wallet's claimed, uncommitted slot of `job` (before the commit
    /// deadline), at the job's give-back cost.
    pub async fn give_back(&self, job: &Pubkey) -> Result<Signature> {
        let i = ix::job_give_back(&self.inner.market, &self.wallet(), job);
        self.send("job_give_back", vec![i], &[], cu::JOB_GIVE_BACK)
            .await
    }

    /// Updates capabilities and/or status.
    pub async fn update_provider(&self, args: ProviderUpdateArgs) -> Result<Signature> {
        let i = ix::provider_update(&self.inner.market, &self.wallet(), args);
        self.send("provider_update", vec![i], &[], cu::PROVIDER_SMALL)
            .await
    }

    /// Claims a replica slot of `job`. A job cannot be claimed in the slot it was posted:
    /// `ClaimTooEarly` is retried for up to two seconds (a few slots).
    pub async fn claim(&self, job: &Pubkey) -> Result<Signature> {
        let i = ix::job_claim(&self.inner.market, &self.wallet(), job);
        let mut tries = 0;
        loop {
            match self
                .send("job_claim", vec![i.clone()], &[], cu::JOB_CLAIM)
                .await
            {
                Err(e) if e.program_error_name() == Some("ClaimTooEarly") && tries < 10 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => return other,
            }
        }
    }

    /// Commits to `result_hash` with `salt` (keep the salt: revealing needs it).
    pub async fn commit(
        &self,
        job: &Pubkey,
        result_hash: &[u8; 32],
        salt: &[u8; 32],
    ) -> Result<Signature> {
        let commitment = ix::commitment(&self.inner.market, &self.wallet(), job, result_hash, salt);
        let i = ix::job_commit(&self.inner.market, &self.wallet(), job, commitment);
        self.send("job_commit", vec![i], &[], cu::JOB_COMMIT).await
    }

    /// Reveals a committed result.
    pub async fn reveal(
        &self,
        job: &Pubkey,
        result_hash: [u8; 32],
        salt: [u8; 32],
        result_uri: &str,
    ) -> Result<Signature> {
        let i = ix::job_reveal(
            &self.inner.market,
            &self.wallet(),
            job,
            JobRevealArgs {
                result_hash,
                salt,
                result_uri: result_uri.to_string(),
            },
        );
        self.send("job_reveal", vec![i], &[], cu::JOB_REVEAL).await
    }

    /// Submits the result of a single-replica job: the reward is credited to this wallet's
    /// provider at once (withdraw it with [`Client::withdraw_earnings`]).
    pub async fn submit_result(
        &self,
        job_address: &Pubkey,
        result_hash: [u8; 32],
        result_uri: &str,
    ) -> Result<Signature> {
        let job = self.job(job_address).await?;
        self.submit_result_for(job_address, &job, result_hash, result_uri)
            .await
    }

    /// [`Client::submit_result`] for a job the caller has just read (its accounts come from
    /// `job`; the market's mint is read once per client): no read before the send.
    pub async fn submit_result_for(
        &self,
        job_address: &Pubkey,
        job: &Job,
        result_hash: [u8; 32],
        result_uri: &str,
    ) -> Result<Signature> {
        let payment_mint = self.payment_mint().await?;
        let submit = ix::job_submit_with_mint(
            job_address,
            job,
            &payment_mint,
            &self.wallet(),
            JobSubmitArgs {
                result_hash,
                result_uri: result_uri.to_string(),
            },
        );
        self.send("job_submit", vec![submit], &[], cu::JOB_SUBMIT)
            .await
    }

    /// Settles a replicated job after its reveals (anyone may).
    pub async fn finalize(&self, job_address: &Pubkey) -> Result<Signature> {
        self.settle(job_address, true).await
    }

    /// Expires a job stuck past a deadline (anyone may). A drawn job whose applicants were
    /// never drawn is drawn first (a late draw releases them all).
    pub async fn expire(&self, job_address: &Pubkey) -> Result<Signature> {
        let job = self.job(job_address).await?;
        if job.is_drawn() && job.drawn == 0 && job.applicants_len > 0 {
            self.draw(job_address).await?;
        }
        self.settle(job_address, false).await
    }

    async fn settle(&self, job_address: &Pubkey, finalize: bool) -> Result<Signature> {
        let job = self.job(job_address).await?;
        if job.status().is_settled() {
            return Err(SdkError::WrongState {
                job: *job_address,
                message: format!("already settled ({:?})", job.status()),
            });
        }
        let market = self.market().await?;
        // Settlement touches only program-owned accounts: nothing to create first, and one
        // transaction settles every size (BENCHMARKS.md: bytes and CU for n = 1..7).
        let (name, settle) = if finalize {
            (
                "job_finalize",
                ix::job_finalize(&self.wallet(), job_address, &job, &market),
            )
        } else {
            (
                "job_expire",
                ix::job_expire(&self.wallet(), job_address, &job, &market),
            )
        };
        self.send(name, vec![settle], &[], cu::settle(job.claimed))
            .await
    }

    // ----- market authority -----

    /// Creates this wallet's market of `payment_mint` (at `pda::market(payment_mint, wallet)`;
    /// this wallet becomes its authority).
    pub async fn init_market(
        &self,
        payment_mint: &Pubkey,
        args: MarketInitArgs,
    ) -> Result<Signature> {
        let i = ix::market_init(&self.wallet(), payment_mint, args);
        self.send("market_init", vec![i], &[], cu::MARKET_INIT)
            .await
    }

    /// Updates the market (authority only).
    pub async fn update_market(&self, args: MarketUpdateArgs) -> Result<Signature> {
        let i = ix::market_update(&self.wallet(), &self.inner.market, args);
        self.send("market_update", vec![i], &[], cu::MARKET_UPDATE)
            .await
    }

    /// Accepts the market's authority (this wallet must be the proposed one).
    pub async fn accept_market_authority(&self) -> Result<Signature> {
        let i = ix::market_accept_authority(&self.wallet(), &self.inner.market);
        self.send("market_accept_authority", vec![i], &[], cu::MARKET_UPDATE)
            .await
    }

    /// Withdraws `amount` of collected fees to `destination` (authority only).
    pub async fn withdraw_fees(&self, amount: u64, destination: &Pubkey) -> Result<Signature> {
        let market = self.market().await?;
        let i = ix::market_withdraw_fees(
            &self.wallet(),
            &self.inner.market,
            &market.payment_mint,
            destination,
            amount,
        );
        self.send("market_withdraw_fees", vec![i], &[], cu::WITHDRAW)
            .await
    }
}

/// A posted job: wait for it, then fetch its verified result.
#[derive(Clone, Debug)]
pub struct JobHandle {
    client: Client,
    /// The job's address.
    pub address: Pubkey,
    /// The `job_post` signature, when this handle posted it.
    pub signature: Option<Signature>,
}

impl JobHandle {
    /// The job now.
    pub async fn job(&self) -> Result<Job> {
        self.client.job(&self.address).await
    }

    /// Waits until the job settles (Completed, Failed or Expired), calling `on_change` with each
    /// new state. Uses a websocket `accountSubscribe` and, alongside it (and instead of it when
    /// the websocket is unavailable), polling. No job at the address is an error at once, unless
    /// the job is known to exist (this handle posted it, or it was seen): then its absence means
    /// a node behind, or restarted from an older state, and is waited out, as a job never
    /// disappears (it ends as a tombstone).
    pub async fn wait(&self, timeout: Duration, mut on_change: impl FnMut(&Job)) -> Result<Job> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last: Option<[u8; 8]> = None;
        let mut report = |job: &Job| {
            let key = [
                job.status,
                job.claimed,
                job.committed,
                job.revealed,
                0,
                0,
                0,
                0,
            ];
            if last != Some(key) {
                last = Some(key);
                on_change(job);
            }
        };
        let pubsub = tokio::time::timeout(
            Duration::from_secs(5),
            PubsubClient::new(&self.client.inner.ws_url),
        )
        .await;
        let pubsub = match pubsub {
            Ok(Ok(client)) => Some(client),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "websocket unavailable; polling instead");
                None
            }
            Err(_) => {
                tracing::warn!("websocket connect timed out; polling instead");
                None
            }
        };
        let config = RpcAccountInfoConfig {
            encoding: Some(UiAccountEncoding::Base64),
            commitment: Some(CommitmentConfig::confirmed()),
            ..Default::default()
        };
        let subscription = match &pubsub {
            Some(client) => match client.account_subscribe(&self.address, Some(config)).await {
                Ok((stream, _unsubscribe)) => Some(stream),
                Err(e) => {
                    tracing::warn!(error = %e, "accountSubscribe failed; polling instead");
                    None
                }
            },
            None => None,
        };
        let mut stream = subscription;
        let mut poll = tokio::time::interval(self.client.inner.poll_interval);
        // A handle from `submit` is for a job that was posted (its post was confirmed).
        let mut seen = self.signature.is_some();
        loop {
            let job = tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(SdkError::Timeout {
                        what: format!("job {} to settle", self.address),
                        seconds: timeout.as_secs(),
                    });
                }
                update = async {
                    match stream.as_mut() {
                        Some(s) => s.next().await,
                        None => std::future::pending().await,
                    }
                } => {
                    match update.and_then(|u| u.value.data.decode()) {
                        Some(data) => accounts::decode_job(&self.address, &data).ok(),
                        None => {
                            // The subscription ended (node restarted, socket dropped): poll on.
                            stream = None;
                            None
                        }
                    }
                }
                _ = poll.tick() => match self.job().await {
                    Ok(job) => Some(job),
                    // Never seen: there is no job at this address.
                    Err(missing @ SdkError::AccountNotFound { .. }) if !seen => {
                        return Err(missing)
                    }
                    // Seen before: a job never disappears (it ends as a tombstone), so the node
                    // is behind, or restarted from an older state; it catches up.
                    Err(SdkError::AccountNotFound { .. }) => {
                        tracing::warn!(job = %self.address, "the node no longer shows the job (restarted or behind?); waiting");
                        None
                    }
                    Err(closed @ SdkError::NoResult { .. }) => return Err(closed),
                    Err(e) => {
                        tracing::debug!(error = %e, "poll failed; retrying");
                        None
                    }
                },
            };
            if let Some(job) = job {
                seen = true;
                report(&job);
                if job.status().is_settled() {
                    return Ok(job);
                }
            }
        }
    }

    /// Downloads the output of a Completed job and checks it against the result hash recorded
    /// on-chain (and its size against the job's output length) before returning it.
    pub async fn result(&self) -> Result<Vec<u8>> {
        let job = self.job().await?;
        if job.status() != JobStatus::Completed {
            return Err(SdkError::NoResult {
                job: self.address,
                status: format!("{:?}", job.status()),
            });
        }
        let mut last_error = None;
        for (i, slot) in job.active_slots().iter().enumerate() {
            if slot.state() != SlotState::Revealed || slot.result_hash != job.result_hash {
                continue;
            }
            match fetch_output(&job, job.result_uri(i)).await {
                Ok(bytes) => return Ok(bytes),
                Err(e) => {
                    tracing::warn!(uri = job.result_uri(i), error = %e, "result copy unusable");
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or(SdkError::NoResult {
            job: self.address,
            status: "Completed, but no revealed copy of the result".into(),
        }))
        .map_err(|e| match e {
            SdkError::Store(store::StoreError::HashMismatch { .. })
            | SdkError::ResultMismatch { .. } => SdkError::ResultMismatch {
                job: self.address,
                expected: hex::encode(job.result_hash),
                actual: e.to_string(),
            },
            other => other,
        })
    }
}

/// Downloads one copy of a job's output, size-capped, and verifies its canonical result hash.
async fn fetch_output(job: &Job, uri: &str) -> Result<Vec<u8>> {
    let bytes = store::fetch_unverified(uri, u64::from(job.spec.output_len)).await?;
    let actual = compute_market_job::result_hash(&bytes);
    if actual != job.result_hash || bytes.len() as u64 != u64::from(job.spec.output_len) {
        return Err(SdkError::ResultMismatch {
            job: Pubkey::default(),
            expected: hex::encode(job.result_hash),
            actual: hex::encode(actual),
        });
    }
    Ok(bytes)
}
