//! The test harness: the real SBF binary (`target/deploy/compute_market.so`) in LiteSVM with the
//! real SPL Token program, one builder per instruction with sensible defaults (the SDK's own
//! builders), and checks of exact outcomes (balances, states, error codes, conservation of money).
//!
//! Layout: this file (set-up, plumbing, error and event checks), `tokens` (mints and token
//! accounts), `actors` (wallets and providers), `ix` (one builder and one sender per
//! instruction), `books` (conservation of money), `settle` (settlements of every size, as the
//! SDK client sends them).

mod actors;
mod books;
mod draw;
mod ix;
mod settle;
mod tokens;

pub use actors::*;
pub use settle::*;

use anchor_lang::AccountDeserialize;
use compute_market::errors::MarketError;
use compute_market::state::*;
use compute_market::MarketInitArgs;
use litesvm::types::{FailedTransactionMetadata, TransactionMetadata};
use litesvm::LiteSVM;
pub use solana_keypair::Keypair;
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
/// Give-back cost of the default market (10 % of the collateral).
pub const GIVE_BACK_BPS: u16 = 1_000;
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

pub struct Harness {
    pub svm: LiteSVM,
    pub payer: Keypair,
    pub mint: Pubkey,
    pub mint_authority: Keypair,
    /// Freeze authority of mints created with [`Harness::create_freezable_mint`].
    pub freeze_authority: Keypair,
    pub authority: Keypair,
    pub market: Pubkey,
    pub treasury: Pubkey,
    /// Tokens of `mint` minted so far.
    pub minted: u64,
    /// Tokens of `mint` burnt so far by sweeps sent through [`Harness::sweep`].
    pub burnt: u64,
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
    stake_vault as stake_pda, treasury as treasury_pda,
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

/// The capacity test providers publish.
pub fn capacity() -> Capacity {
    Capacity {
        devices: 2,
        max_concurrent_jobs: 4,
    }
}

/// The default market parameters.
pub fn market_args() -> MarketInitArgs {
    MarketInitArgs {
        fee_bps: FEE_BPS,
        give_back_bps: GIVE_BACK_BPS,
        min_provider_stake: MIN_STAKE,
        collateral_per_replica: COLLATERAL,
        unbonding_period: UNBONDING,
        windows: WINDOWS,
        allow_freeze_authority: false,
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
        params: [0; compute_market::constants::PARAMS_LEN],
        determinism: Determinism::Exact as u8,
        padding: [0; 3],
        min_capabilities: MinCapabilities::default(),
    }
}

/// Fee per replica of the default job on the default market.
pub fn fee() -> u64 {
    REWARD * FEE_BPS as u64 / 10_000
}

/// What giving back a slot of a default job costs.
pub fn give_back_cost() -> u64 {
    COLLATERAL * GIVE_BACK_BPS as u64 / 10_000
}

/// Decodes a (zero-copy) job account: discriminator, then the `Job` bytes.
pub fn decode_job(data: &[u8]) -> Option<Job> {
    use anchor_lang::Discriminator;
    (data.len() == Job::LEN && data.starts_with(Job::DISCRIMINATOR))
        .then(|| bytemuck::pod_read_unaligned(&data[8..]))
}

/// True when `data` is a closed job's tombstone.
pub fn is_tombstone(data: &[u8]) -> bool {
    use anchor_lang::{Discriminator, Space};
    data.len() == 8 + JobTombstone::INIT_SPACE && data.starts_with(JobTombstone::DISCRIMINATOR)
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

/// Asserts `res` failed with Anchor's own error `expected` (a constraint or account check).
#[track_caller]
pub fn assert_anchor_err(res: TxResult, expected: anchor_lang::error::ErrorCode) {
    let name = format!("{expected:?}");
    assert_custom_err(res, u32::from(expected), &name);
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
    /// A fresh SVM with the program, a 6-decimal mint and the default market.
    pub fn new() -> Self {
        Self::with_market(market_args())
    }

    pub fn with_market(args: MarketInitArgs) -> Self {
        let mut h = Self::bare();
        h.mint = h.create_mint();
        h.open_market(&args).expect("market_init");
        h
    }

    /// The default market on a mint with a freeze authority (`h.freeze_authority`), accepted
    /// with `allow_freeze_authority`.
    pub fn with_freezable_mint() -> Self {
        let mut h = Self::bare();
        h.mint = h.create_freezable_mint();
        let args = compute_market::MarketInitArgs {
            allow_freeze_authority: true,
            ..market_args()
        };
        h.open_market(&args).expect("market_init");
        h
    }

    /// The program loaded, keys funded, the clock at 2026-01-01; no mint, no market yet.
    pub fn bare() -> Self {
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
        let authority = seeded_keypair(3);
        svm.airdrop(&authority.pubkey(), 10_000_000_000).unwrap();
        let mut h = Self {
            svm,
            payer,
            mint: Pubkey::default(),
            mint_authority: seeded_keypair(2),
            freeze_authority: seeded_keypair(4),
            authority,
            market: Pubkey::default(),
            treasury: Pubkey::default(),
            minted: 0,
            burnt: 0,
            next_job_id: 1,
            next_key: 4,
        };
        // LiteSVM's clock starts at Unix time 0; start from a realistic date.
        h.warp_to(1_767_225_600); // 2026-01-01
        h
    }

    /// Creates the harness authority's market of `h.mint` and makes it the current market.
    pub fn open_market(&mut self, args: &MarketInitArgs) -> TxResult {
        self.market = market_pda(&self.mint, &self.authority.pubkey());
        self.treasury = treasury_pda(&self.market);
        let auth = self.authority.insecure_clone();
        let mint = self.mint;
        self.market_init_by(&auth, &mint, args)
    }

    /// An independent copy of this harness: the same accounts, clock and counters. A scene set
    /// up once (loading the program alone costs a quarter of a second in a debug build) then
    /// runs many times from the same state.
    pub fn fork(&self) -> Self {
        Self {
            svm: self.svm.clone(),
            payer: self.payer.insecure_clone(),
            mint: self.mint,
            mint_authority: self.mint_authority.insecure_clone(),
            freeze_authority: self.freeze_authority.insecure_clone(),
            authority: self.authority.insecure_clone(),
            market: self.market,
            treasury: self.treasury,
            minted: self.minted,
            burnt: self.burnt,
            next_job_id: self.next_job_id,
            next_key: self.next_key,
        }
    }

    // ----- plumbing -----

    /// The next deterministic keypair (see [`seeded_keypair`]).
    pub fn keypair(&mut self) -> Keypair {
        self.next_key += 1;
        seeded_keypair(self.next_key)
    }

    /// A fresh job id.
    pub fn next_job_id(&mut self) -> u64 {
        self.next_job_id += 1;
        self.next_job_id - 1
    }

    /// The legacy transaction `send` would send: paid and signed by the payer and `signers`.
    pub fn transaction(&self, ixs: &[Instruction], signers: &[&Keypair]) -> Transaction {
        let mut all: Vec<&Keypair> = vec![&self.payer];
        all.extend(signers.iter().copied());
        Transaction::new_signed_with_payer(
            ixs,
            Some(&self.payer.pubkey()),
            &all,
            self.svm.latest_blockhash(),
        )
    }

    pub fn send(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> TxResult {
        let tx = self.transaction(ixs, signers);
        self.send_tx(tx)
    }

    pub fn send_tx(&mut self, tx: Transaction) -> TxResult {
        let res = self.svm.send_transaction(tx);
        self.svm.expire_blockhash();
        res
    }

    pub fn clock(&self) -> solana_clock::Clock {
        self.svm.get_sysvar::<solana_clock::Clock>()
    }

    pub fn now(&self) -> i64 {
        self.clock().unix_timestamp
    }

    /// Moves the clock forward by `seconds` (and one slot).
    pub fn warp(&mut self, seconds: i64) {
        let mut clock = self.clock();
        clock.unix_timestamp += seconds;
        clock.slot += 1;
        self.svm.set_sysvar(&clock);
    }

    /// Sets the clock to `unix_timestamp`.
    pub fn warp_to(&mut self, unix_timestamp: i64) {
        let now = self.now();
        self.warp(unix_timestamp - now);
    }

    /// Moves to the slot after `job`'s posting slot if the clock is still in it (LiteSVM's slot
    /// does not advance by itself; nobody may claim in the posting slot).
    pub fn leave_posting_slot(&mut self, job: &Pubkey) {
        let posted = self
            .svm
            .get_account(job)
            .and_then(|a| decode_job(&a.data))
            .map(|j| j.posted_slot);
        if let Some(posted) = posted {
            if self.clock().slot <= posted {
                self.svm.warp_to_slot(posted + 1);
            }
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

    pub fn tombstone(&self, key: &Pubkey) -> JobTombstone {
        let acc = self.svm.get_account(key).expect("tombstone");
        assert!(is_tombstone(&acc.data), "{key} is not a tombstone");
        self.account(key)
    }

    pub fn provider(&self, key: &Pubkey) -> Provider {
        self.account(key)
    }

    pub fn market_account(&self) -> Market {
        self.account(&self.market)
    }

    /// Overwrites one byte of `account`'s data (layout-version and tampering tests).
    pub fn poke(&mut self, account: &Pubkey, offset: usize, value: u8) {
        let mut acc = self.svm.get_account(account).expect("account to poke");
        acc.data[offset] = value;
        self.svm.set_account(*account, acc).unwrap();
    }
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
