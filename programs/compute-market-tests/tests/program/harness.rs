//! The test harness: the real SBF binary (`target/deploy/compute_market.so`) in LiteSVM with the
//! real SPL Token program, one builder per instruction with sensible defaults, and checks of
//! exact outcomes (balances, states, error codes, conservation of money).

use anchor_lang::AccountDeserialize;
use compute_market::constants::*;
use compute_market::errors::MarketError;
use compute_market::state::*;
use compute_market::{JobPostArgs, JobRevealArgs, JobSubmitArgs, MarketInitArgs};
use compute_market_sdk::instructions as sdk_ix;
use litesvm::types::{FailedTransactionMetadata, TransactionMetadata};
use litesvm::LiteSVM;
use solana_keypair::Keypair;
use solana_program_pack::Pack;
pub use solana_signer::Signer;
use solana_transaction::Transaction;

pub use anchor_lang::prelude::Pubkey;
pub use anchor_lang::solana_program::instruction::Instruction;

pub type TxResult = Result<TransactionMetadata, FailedTransactionMetadata>;

/// Decimals of the test payment mint.
pub const DECIMALS: u8 = 6;
/// Minimum provider stake of the default market.
pub const MIN_STAKE: u64 = 1_000_000;
/// Collateral per replica of the default market.
pub const COLLATERAL: u64 = 400_000;
/// Protocol fee of the default market (5 %).
pub const FEE_BPS: u16 = 500;
/// Default windows of the test market, in seconds.
pub const WINDOWS: Windows = Windows {
    claim: 60,
    commit: 120,
    reveal: 120,
};
/// Unbonding period of the default market, in seconds.
pub const UNBONDING: i64 = 3_600;
/// Default reward per replica.
pub const REWARD: u64 = 100_000;

pub fn so_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/deploy/compute_market.so")
}

/// A funded wallet with a token account of the payment mint.
pub struct Wallet {
    pub key: Keypair,
    pub token: Pubkey,
}

impl Wallet {
    pub fn pubkey(&self) -> Pubkey {
        self.key.pubkey()
    }
}

/// A single-replica job posted by a client holding 1,000,000 tokens, claimed by a fresh
/// provider (see [`Harness::claimed_single_job`]).
pub struct ClaimedJob {
    pub client: Wallet,
    pub provider: ProviderActor,
    pub job: Pubkey,
}

/// A registered provider.
pub struct ProviderActor {
    pub wallet: Wallet,
    pub provider: Pubkey,
    pub vault: Pubkey,
}

pub struct Harness {
    pub svm: LiteSVM,
    pub payer: Keypair,
    pub mint: Pubkey,
    pub mint_authority: Keypair,
    pub authority: Keypair,
    pub market: Pubkey,
    pub treasury: Pubkey,
    /// Total supply minted so far (conservation checks compare against it).
    pub minted: u64,
    next_job_id: u64,
    next_key: u64,
}

/// A keypair derived from `n`: every run creates the same addresses, so PDA bump searches, and
/// with them compute units, are the same from run to run.
pub fn seeded_keypair(n: u64) -> Keypair {
    let mut secret = [0x5e; 32];
    secret[..8].copy_from_slice(&n.to_le_bytes());
    Keypair::new_from_array(secret)
}

// Addresses come from the SDK, exactly as clients derive them.
#[allow(unused_imports, reason = "each test file uses a different subset")]
pub use compute_market_sdk::pda::{
    escrow as escrow_pda, job as job_pda, market as market_pda, provider as provider_pda,
    stake_vault as stake_pda,
};

pub fn token_program() -> Pubkey {
    anchor_spl::token::ID
}

/// Capabilities every test provider publishes unless a test says otherwise.
pub fn caps() -> Capabilities {
    Capabilities {
        vendor_id: 0x10de,
        device_class: DeviceClass::DiscreteGpu,
        memory_mib: 24_576,
        max_workgroup_invocations: 1_024,
        max_storage_buffer_bytes: 1 << 30,
        bandwidth_mbps: 900_000,
        int_mops: 20_000_000,
    }
}

/// The default market parameters.
pub fn market_args() -> MarketInitArgs {
    MarketInitArgs {
        fee_bps: FEE_BPS,
        min_provider_stake: MIN_STAKE,
        collateral_per_replica: COLLATERAL,
        unbonding_period: UNBONDING,
        windows: WINDOWS,
    }
}

/// The default job spec.
pub fn spec() -> JobSpec {
    JobSpec {
        shader_hash: [1; 32],
        input_hash: [2; 32],
        input_len: 4_096,
        output_len: 4_096,
        workgroups: [16, 1, 1],
        params: [0; PARAMS_LEN],
        determinism: Determinism::Exact as u8,
        padding: [0; 3],
        min_capabilities: MinCapabilities::default(),
    }
}

/// Decodes a (zero-copy) job account: discriminator, then the `Job` bytes.
pub fn decode_job(data: &[u8]) -> Option<Job> {
    use anchor_lang::Discriminator;
    (data.len() == Job::LEN && data.starts_with(Job::DISCRIMINATOR))
        .then(|| bytemuck::pod_read_unaligned(&data[8..]))
}

/// The error code Anchor gives a `MarketError` variant.
pub fn code(err: MarketError) -> u32 {
    err.into()
}

/// Asserts `res` failed with the custom program error `expected` (in any instruction).
#[track_caller]
pub fn assert_market_err(res: TxResult, expected: MarketError) {
    assert_custom_err(res, code(expected), &format!("{expected:?}"));
}

/// Asserts `res` failed with custom error code `expected`.
#[track_caller]
pub fn assert_custom_err(res: TxResult, expected: u32, name: &str) {
    match res {
        Ok(meta) => panic!(
            "expected error {name} ({expected}), got success: {:#?}",
            meta.logs
        ),
        Err(failed) => {
            let msg = format!("{:?}", failed.err);
            let want = format!("Custom({expected})");
            assert!(
                msg.contains(&want),
                "expected {name} ({want}), got {msg}\nlogs: {:#?}",
                failed.meta.logs
            );
        }
    }
}

impl Harness {
    /// A fresh SVM with the program, a 6-decimal mint, a treasury and the default market.
    pub fn new() -> Self {
        Self::with_market(market_args())
    }

    pub fn with_market(args: MarketInitArgs) -> Self {
        let mut svm = LiteSVM::new();
        let so = so_path();
        assert!(
            so.exists(),
            "{} is missing: build it with scripts/build-sbf.sh",
            so.display()
        );
        svm.add_program_from_file(compute_market::ID, &so)
            .expect("the SBF binary loads");
        let payer = seeded_keypair(1);
        svm.airdrop(&payer.pubkey(), 1_000_000_000_000).unwrap();
        let mint_authority = seeded_keypair(2);
        let authority = seeded_keypair(3);
        svm.airdrop(&authority.pubkey(), 10_000_000_000).unwrap();
        let mut h = Self {
            svm,
            payer,
            mint: Pubkey::default(),
            mint_authority,
            authority,
            market: Pubkey::default(),
            treasury: Pubkey::default(),
            minted: 0,
            next_job_id: 1,
            next_key: 4,
        };
        // LiteSVM's clock starts at Unix time 0; start from a realistic date.
        h.warp_to(1_767_225_600); // 2026-01-01
        h.mint = h.create_mint();
        let treasury_owner = h.keypair().pubkey();
        h.treasury = h.create_token_account(&treasury_owner);
        h.market = market_pda(&h.mint);
        let res = h.market_init(&args);
        res.expect("market_init");
        h
    }

    // ----- plumbing -----

    /// The next deterministic keypair (see [`seeded_keypair`]).
    pub fn keypair(&mut self) -> Keypair {
        self.next_key += 1;
        seeded_keypair(self.next_key)
    }

    pub fn send(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> TxResult {
        let mut all: Vec<&Keypair> = vec![&self.payer];
        all.extend(signers.iter().copied());
        let tx = Transaction::new_signed_with_payer(
            ixs,
            Some(&self.payer.pubkey()),
            &all,
            self.svm.latest_blockhash(),
        );
        let res = self.svm.send_transaction(tx);
        self.svm.expire_blockhash();
        res
    }

    pub fn now(&self) -> i64 {
        self.svm.get_sysvar::<solana_clock::Clock>().unix_timestamp
    }

    /// Moves the clock forward by `seconds`.
    pub fn warp(&mut self, seconds: i64) {
        let mut clock = self.svm.get_sysvar::<solana_clock::Clock>();
        clock.unix_timestamp += seconds;
        clock.slot += 1;
        self.svm.set_sysvar(&clock);
    }

    /// Sets the clock to `unix_timestamp`.
    pub fn warp_to(&mut self, unix_timestamp: i64) {
        let now = self.now();
        self.warp(unix_timestamp - now);
    }

    /// Creates a token-program account of `len` bytes at a new address, initialised by `init`.
    fn create_token_program_account(
        &mut self,
        len: usize,
        init: impl FnOnce(&Pubkey) -> Instruction,
    ) -> Pubkey {
        let account = self.keypair();
        let rent = self.svm.minimum_balance_for_rent_exemption(len);
        let ixs = [
            solana_system_interface::instruction::create_account(
                &self.payer.pubkey(),
                &account.pubkey(),
                rent,
                len as u64,
                &token_program(),
            ),
            init(&account.pubkey()),
        ];
        self.send(&ixs, &[&account])
            .expect("create token-program account");
        account.pubkey()
    }

    pub fn create_mint(&mut self) -> Pubkey {
        let authority = self.mint_authority.pubkey();
        self.create_token_program_account(spl_token_interface::state::Mint::LEN, |mint| {
            spl_token_interface::instruction::initialize_mint2(
                &token_program(),
                mint,
                &authority,
                None,
                DECIMALS,
            )
            .unwrap()
        })
    }

    pub fn create_token_account_of(&mut self, mint: &Pubkey, owner: &Pubkey) -> Pubkey {
        self.create_token_program_account(spl_token_interface::state::Account::LEN, |account| {
            spl_token_interface::instruction::initialize_account3(
                &token_program(),
                account,
                mint,
                owner,
            )
            .unwrap()
        })
    }

    pub fn create_token_account(&mut self, owner: &Pubkey) -> Pubkey {
        let mint = self.mint;
        self.create_token_account_of(&mint, owner)
    }

    pub fn mint_to(&mut self, account: &Pubkey, amount: u64) {
        let ix = spl_token_interface::instruction::mint_to(
            &token_program(),
            &self.mint,
            account,
            &self.mint_authority.pubkey(),
            &[],
            amount,
        )
        .unwrap();
        let auth = self.mint_authority.insecure_clone();
        self.send(&[ix], &[&auth]).expect("mint_to");
        self.minted += amount;
    }

    /// Token balance of `account`; 0 when it does not exist (closed).
    pub fn balance(&self, account: &Pubkey) -> u64 {
        match self.svm.get_account(account) {
            Some(acc) if !acc.data.is_empty() => {
                spl_token_interface::state::Account::unpack(&acc.data)
                    .unwrap()
                    .amount
            }
            _ => 0,
        }
    }

    pub fn exists(&self, account: &Pubkey) -> bool {
        self.svm
            .get_account(account)
            .is_some_and(|a| a.lamports > 0)
    }

    pub fn lamports(&self, account: &Pubkey) -> u64 {
        self.svm.get_balance(account).unwrap_or(0)
    }

    /// Conservation of money: the balances of every token account of the mint add up to what
    /// was minted, and every vault of a settled job is closed.
    #[track_caller]
    pub fn assert_conserved(&self) {
        let total: u64 = self
            .svm
            .get_program_accounts(&token_program())
            .into_iter()
            .filter(|(_, acc)| acc.data.len() == spl_token_interface::state::Account::LEN)
            .map(|(_, acc)| spl_token_interface::state::Account::unpack(&acc.data).unwrap())
            .filter(|t| t.mint == self.mint)
            .map(|t| t.amount)
            .sum();
        assert_eq!(total, self.minted, "tokens were created or destroyed");
        for (key, acc) in self.svm.get_program_accounts(&compute_market::ID) {
            if let Some(job) = decode_job(&acc.data) {
                if job.status().is_settled() {
                    assert!(
                        !self.exists(&job.escrow),
                        "escrow of settled job {key} not closed"
                    );
                } else {
                    assert_eq!(
                        self.balance(&job.escrow),
                        job.escrow_total().unwrap(),
                        "escrow of live job {key} does not hold its total"
                    );
                }
            }
            if let Ok(provider) = Provider::try_deserialize(&mut &acc.data[..]) {
                assert_eq!(
                    self.balance(&provider.stake_vault),
                    provider.staked,
                    "stake vault of {key} differs from its books"
                );
                assert!(provider.locked + provider.unbonding <= provider.staked);
            }
        }
    }

    pub fn account<T: AccountDeserialize>(&self, key: &Pubkey) -> T {
        let acc = self
            .svm
            .get_account(key)
            .unwrap_or_else(|| panic!("account {key} missing"));
        T::try_deserialize(&mut &acc.data[..]).unwrap()
    }

    pub fn job(&self, key: &Pubkey) -> Job {
        let acc = self
            .svm
            .get_account(key)
            .unwrap_or_else(|| panic!("job {key} missing"));
        decode_job(&acc.data).unwrap_or_else(|| panic!("{key} is not a job"))
    }

    pub fn provider(&self, key: &Pubkey) -> Provider {
        self.account(key)
    }

    pub fn market_account(&self) -> Market {
        self.account(&self.market)
    }

    // ----- actors -----

    /// A wallet with SOL and `tokens` of the payment mint in its associated token account
    /// (the account the SDK's builders use).
    pub fn wallet(&mut self, tokens: u64) -> Wallet {
        let key = self.keypair();
        self.svm.airdrop(&key.pubkey(), 10_000_000_000).unwrap();
        let create = sdk_ix::create_token_account(&self.payer.pubkey(), &key.pubkey(), &self.mint);
        self.send(&[create], &[])
            .expect("create associated token account");
        let token = compute_market_sdk::pda::token_account(&key.pubkey(), &self.mint);
        if tokens > 0 {
            self.mint_to(&token, tokens);
        }
        Wallet { key, token }
    }

    /// A registered provider with `stake` staked (and nothing left in its wallet).
    pub fn provider_with(&mut self, stake: u64, caps: Capabilities) -> ProviderActor {
        let wallet = self.wallet(stake);
        let provider = provider_pda(&self.market, &wallet.pubkey());
        let vault = stake_pda(&provider);
        let actor = ProviderActor {
            wallet,
            provider,
            vault,
        };
        self.provider_register(&actor, stake, caps)
            .expect("provider_register");
        actor
    }

    /// The most common starting point of a test: see [`ClaimedJob`].
    pub fn claimed_single_job(&mut self) -> ClaimedJob {
        let client = self.wallet(1_000_000);
        let provider = self.new_provider();
        let args = self.job_args(1, 1);
        let job = self.post(&client, &args).unwrap();
        self.claim(&provider, &job).unwrap();
        ClaimedJob {
            client,
            provider,
            job,
        }
    }

    pub fn new_provider(&mut self) -> ProviderActor {
        self.provider_with(MIN_STAKE, caps())
    }

    // ----- instruction builders -----

    // ----- instructions: the SDK's builders, sent to the SBF program -----

    pub fn market_init(&mut self, args: &MarketInitArgs) -> TxResult {
        let ix = sdk_ix::market_init(
            &self.authority.pubkey(),
            &self.mint,
            &self.treasury,
            args.clone(),
        );
        let auth = self.authority.insecure_clone();
        self.send(&[ix], &[&auth])
    }

    pub fn market_update(
        &mut self,
        signer: &Keypair,
        args: compute_market::MarketUpdateArgs,
        new_treasury: Option<Pubkey>,
    ) -> TxResult {
        let ix = sdk_ix::market_update(&signer.pubkey(), &self.market, new_treasury, args);
        self.send(&[ix], &[signer])
    }

    pub fn provider_register(
        &mut self,
        p: &ProviderActor,
        stake: u64,
        capabilities: Capabilities,
    ) -> TxResult {
        let ix = sdk_ix::provider_register(
            &self.market,
            &self.mint,
            &p.wallet.pubkey(),
            compute_market::ProviderRegisterArgs {
                stake,
                capabilities,
            },
        );
        self.send(&[ix], &[&p.wallet.key])
    }

    pub fn stake_ix(&self, p: &ProviderActor, amount: u64) -> Instruction {
        sdk_ix::provider_stake(&self.market, &self.mint, &p.wallet.pubkey(), amount)
    }

    pub fn unstake_ix(&self, p: &ProviderActor, amount: u64) -> Instruction {
        sdk_ix::provider_unstake(&self.market, &p.wallet.pubkey(), amount)
    }

    pub fn withdraw_ix(&self, p: &ProviderActor) -> Instruction {
        sdk_ix::provider_withdraw(&self.market, &self.mint, &p.wallet.pubkey())
    }

    pub fn provider_update_ix(
        &self,
        p: &ProviderActor,
        args: compute_market::ProviderUpdateArgs,
    ) -> Instruction {
        sdk_ix::provider_update(&self.market, &p.wallet.pubkey(), args)
    }

    /// Default job arguments with `replicas`/`quorum` and a fresh job id.
    pub fn job_args(&mut self, replicas: u8, quorum: u8) -> JobPostArgs {
        let job_id = self.next_job_id;
        self.next_job_id += 1;
        JobPostArgs {
            job_id,
            spec: spec(),
            entry_point: "main".into(),
            shader_uri: "file:///blobs/shader.wgsl".into(),
            input_uri: "file:///blobs/input.bin".into(),
            reward_per_replica: REWARD,
            replicas,
            quorum,
            claim_deadline: 0,
            commit_deadline: 0,
            reveal_deadline: 0,
        }
    }

    pub fn post_ix(&self, client: &Wallet, args: &JobPostArgs) -> (Instruction, Pubkey) {
        let job = job_pda(&self.market, &client.pubkey(), args.job_id);
        let ix = sdk_ix::job_post(&self.market, &self.mint, &client.pubkey(), args.clone());
        (ix, job)
    }

    /// Posts a job; returns its address.
    pub fn post(
        &mut self,
        client: &Wallet,
        args: &JobPostArgs,
    ) -> Result<Pubkey, FailedTransactionMetadata> {
        let (ix, job) = self.post_ix(client, args);
        self.send(&[ix], &[&client.key]).map(|_| job)
    }

    pub fn cancel_ix(&self, _client: &Wallet, job: &Pubkey) -> Instruction {
        sdk_ix::job_cancel(job, &self.job(job), &self.market_account())
    }

    pub fn claim_ix(&self, p: &ProviderActor, job: &Pubkey) -> Instruction {
        sdk_ix::job_claim(&self.market, &p.wallet.pubkey(), job)
    }

    pub fn claim(&mut self, p: &ProviderActor, job: &Pubkey) -> TxResult {
        let ix = self.claim_ix(p, job);
        self.send(&[ix], &[&p.wallet.key])
    }

    pub fn commit_ix(&self, p: &ProviderActor, job: &Pubkey, commitment: [u8; 32]) -> Instruction {
        sdk_ix::job_commit(&self.market, &p.wallet.pubkey(), job, commitment)
    }

    /// Commits to `result` with salt `salt`.
    pub fn commit(
        &mut self,
        p: &ProviderActor,
        job: &Pubkey,
        result: [u8; 32],
        salt: [u8; 32],
    ) -> TxResult {
        let commitment = sdk_ix::commitment(&self.market, &p.wallet.pubkey(), job, &result, &salt);
        let ix = self.commit_ix(p, job, commitment);
        self.send(&[ix], &[&p.wallet.key])
    }

    pub fn reveal_ix(&self, p: &ProviderActor, job: &Pubkey, args: JobRevealArgs) -> Instruction {
        sdk_ix::job_reveal(&self.market, &p.wallet.pubkey(), job, args)
    }

    pub fn reveal(
        &mut self,
        p: &ProviderActor,
        job: &Pubkey,
        result: [u8; 32],
        salt: [u8; 32],
    ) -> TxResult {
        let ix = self.reveal_ix(
            p,
            job,
            JobRevealArgs {
                result_hash: result,
                salt,
                result_uri: format!("file:///results/{}", p.provider),
            },
        );
        self.send(&[ix], &[&p.wallet.key])
    }

    pub fn submit_ix(&self, p: &ProviderActor, job: &Pubkey, result: [u8; 32]) -> Instruction {
        sdk_ix::job_submit(
            job,
            &self.job(job),
            &self.market_account(),
            &p.wallet.pubkey(),
            JobSubmitArgs {
                result_hash: result,
                result_uri: "file:///results/out.bin".into(),
            },
        )
    }

    pub fn submit(&mut self, p: &ProviderActor, job: &Pubkey, result: [u8; 32]) -> TxResult {
        let ix = self.submit_ix(p, job, result);
        self.send(&[ix], &[&p.wallet.key])
    }

    /// Owners of the providers in `job`'s claimed slots, in slot order.
    fn slot_owners(&self, job: &Job) -> Vec<Pubkey> {
        job.active_slots()
            .iter()
            .filter(|s| s.state() != SlotState::Empty)
            .map(|s| self.provider(&s.provider).owner)
            .collect()
    }

    pub fn finalize_ix(&self, job: &Pubkey, cranker: &Pubkey) -> Instruction {
        let j = self.job(job);
        sdk_ix::job_finalize(
            cranker,
            job,
            &j,
            &self.market_account(),
            &self.slot_owners(&j),
        )
    }

    pub fn expire_ix(&self, job: &Pubkey, cranker: &Pubkey) -> Instruction {
        let j = self.job(job);
        sdk_ix::job_expire(
            cranker,
            job,
            &j,
            &self.market_account(),
            &self.slot_owners(&j),
        )
    }

    /// Finalizes `job`, cranked by the fee payer.
    pub fn finalize(&mut self, job: &Pubkey) -> TxResult {
        let ix = self.finalize_ix(job, &self.payer.pubkey());
        self.send(&[ix], &[])
    }

    /// Expires `job`, cranked by the fee payer.
    pub fn expire(&mut self, job: &Pubkey) -> TxResult {
        let ix = self.expire_ix(job, &self.payer.pubkey());
        self.send(&[ix], &[])
    }

    pub fn close_ix(&self, client: &Pubkey, job: &Pubkey) -> Instruction {
        sdk_ix::job_close(job, client)
    }
}

/// Fee per replica of the default job on the default market.
pub fn fee() -> u64 {
    REWARD * FEE_BPS as u64 / 10_000
}

/// Events emitted in a transaction's logs, by name (Anchor logs `Program data: <base64>`; we
/// match on the event discriminator).
pub fn has_event<E: anchor_lang::Discriminator>(meta: &TransactionMetadata) -> bool {
    use anchor_lang::__private::base64::{engine::general_purpose::STANDARD, Engine};
    meta.logs.iter().any(|l| {
        l.strip_prefix("Program data: ")
            .and_then(|d| STANDARD.decode(d).ok())
            .is_some_and(|bytes| bytes.starts_with(E::DISCRIMINATOR))
    })
}

/// Decodes the first event `E` in a transaction's logs.
pub fn event<E: anchor_lang::Discriminator + anchor_lang::AnchorDeserialize>(
    meta: &TransactionMetadata,
) -> E {
    use anchor_lang::__private::base64::{engine::general_purpose::STANDARD, Engine};
    meta.logs
        .iter()
        .filter_map(|l| l.strip_prefix("Program data: "))
        .filter_map(|d| STANDARD.decode(d).ok())
        .find(|b| b.starts_with(E::DISCRIMINATOR))
        .map(|b| E::deserialize(&mut &b[E::DISCRIMINATOR.len()..]).unwrap())
        .expect("event in logs")
}
