//! Seeds, limits and layout versions: the one place they are defined. The SDK derives every
//! PDA from these constants.

/// Seed of the market PDA: `[SEED_MARKET, payment_mint, creator]`. The creator is part of the
/// address, so nobody can squat the market of a mint: every creator has its own.
pub const SEED_MARKET: &[u8] = b"market";
/// Seed of a market's treasury vault (an SPL token account owned by the market PDA):
/// `[SEED_TREASURY, market]`. Fees collect here; only the market authority withdraws them.
pub const SEED_TREASURY: &[u8] = b"treasury";
/// Seed of a provider PDA: `[SEED_PROVIDER, market, owner]`.
pub const SEED_PROVIDER: &[u8] = b"provider";
/// Seed of a provider's stake vault (an SPL token account owned by the provider PDA):
/// `[SEED_STAKE, provider]`.
pub const SEED_STAKE: &[u8] = b"stake";
/// Seed of a job PDA: `[SEED_JOB, market, client, job_id (u64 little-endian)]`.
pub const SEED_JOB: &[u8] = b"job";
/// Seed of a job's escrow vault (an SPL token account owned by the job PDA): `[SEED_ESCROW, job]`.
pub const SEED_ESCROW: &[u8] = b"escrow";

/// Layout version written into every account created by this program version; every
/// instruction refuses an account of another version (`UnsupportedVersion`).
pub const MARKET_VERSION: u8 = 2;
/// Layout version of [`crate::state::Provider`].
pub const PROVIDER_VERSION: u8 = 2;
/// Layout version of [`crate::state::Job`].
pub const JOB_VERSION: u8 = 2;
/// Layout version of [`crate::state::JobTombstone`], what a closed job's address keeps.
pub const TOMBSTONE_VERSION: u8 = 1;

/// Most applicants a drawn job records; when full, a new applicant must bring more bonded stake
/// than the smallest one, who is displaced.
pub const MAX_APPLICANTS: usize = 16;
/// Shortest commit window (seconds between claim and commit deadline) of a drawn job: its
/// replicas are only known once the claim window closed.
pub const MIN_DRAWN_COMMIT_WINDOW: i64 = 60;
/// Native (wrapped SOL) mint: refused as a payment mint.
pub const NATIVE_MINT: anchor_lang::prelude::Pubkey =
    anchor_lang::pubkey!("So11111111111111111111111111111111111111112");

/// Slots between the last application and the slot whose hash seeds a drawn job's draw: nobody
/// who applies can know that hash.
pub const DRAW_DELAY_SLOTS: u64 = 4;
/// Domain separator of an applicant's contribution to a drawn job's entropy.
pub const APPLY_DOMAIN: &[u8] = b"compute-market/apply/v1";
/// Domain separator of a drawn job's draw seed.
pub const DRAW_DOMAIN: &[u8] = b"compute-market/draw/v1";

/// Most providers a job's allowlist may name.
pub const MAX_ALLOWLIST: usize = 8;
/// Largest cost of giving a claimed job back, in basis points of its collateral (50 %): giving
/// back always costs less than being slashed.
pub const MAX_GIVE_BACK_BPS: u16 = 5_000;

/// Most replicas a job may ask for. Bounds the job account size and the settlement's
/// compute budget (three remaining accounts and up to two transfers per replica).
pub const MAX_REPLICAS: usize = 7;
/// Longest blob URI (shader, input, result), in bytes.
pub const MAX_URI_LEN: usize = 128;
/// Longest shader entry point name, in bytes.
pub const MAX_ENTRY_POINT_LEN: usize = 32;
/// Size of the uniform parameter block bound at `@binding(2)`, in bytes (the job ABI).
pub const PARAMS_LEN: usize = 32;
/// Largest output a job may declare, in bytes (128 MiB; the job ABI's limit).
pub const MAX_OUTPUT_LEN: u32 = 128 * 1024 * 1024;
/// Largest input a job may declare, in bytes (128 MiB; the job ABI's limit).
pub const MAX_INPUT_LEN: u32 = 128 * 1024 * 1024;
/// Largest protocol fee, in basis points of the reward (20 %).
pub const MAX_FEE_BPS: u16 = 2_000;
/// Basis points in one whole.
pub const BPS_DENOMINATOR: u64 = 10_000;
/// Furthest a job deadline may lie in the future, in seconds (30 days).
pub const MAX_DEADLINE_HORIZON: i64 = 30 * 24 * 60 * 60;
/// Shortest phase window a market or a job may use, in seconds.
pub const MIN_WINDOW: i64 = 1;
/// Longest unbonding period a market may set, in seconds (60 days).
pub const MAX_UNBONDING_PERIOD: i64 = 60 * 24 * 60 * 60;

/// Domain separator of a replica's commitment (see [`crate::state::commitment_hash`]).
pub const COMMITMENT_DOMAIN: &[u8] = b"compute-market/commit/v1";
