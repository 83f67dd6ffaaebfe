//! # Compute Market: the on-chain program
//!
//! An open marketplace for GPU compute. Clients post jobs (a WGSL compute shader, its input and
//! dispatch, see `job-abi/`) and escrow the reward; staked providers claim replica slots, run the
//! shader, and either submit their result hash (one replica) or commit to it and later reveal it
//! (several replicas). Settlement credits providers whose hash reaches the quorum (to their stake
//! vaults), keeps everything else in the escrow as the client's refund, and slashes (burns) the
//! collateral of providers who missed a deadline or revealed a losing hash. Settlement touches
//! only accounts this program owns, so no party can block it; every step after posting can be
//! cranked by anyone once its deadline passes, so no money waits on one party. The threat model
//! is in SECURITY.md.
//!
//! Layout: `constants` (seeds, limits), `state/` (accounts with their transitions and
//! invariants), `instructions/` (one file per instruction), `settlement` (the one routine that
//! moves a job's money at its settlement), `closing` (the client's refund and the tombstone),
//! `token` (the only token-program CPIs), `events`, `errors`.
#![allow(unexpected_cfgs, reason = "anchor's macros emit cfgs of their own")]
// The only deprecated item used is `#[program(legacy_idl)]` (see the note on `compute_market`);
// its warning lands at crate level, where the macro's generated entrypoint lives.
#![allow(
    deprecated,
    reason = "Anchor's IDL account: see the note on `compute_market`"
)]

#[cfg(target_arch = "bpf")]
use solana_compiler_builtins as _;

use anchor_lang::prelude::*;

pub mod closing;
pub mod constants;
pub mod errors;
pub mod events;
pub mod instructions;
pub mod settlement;
pub mod state;
pub mod token;

pub(crate) use closing::__client_accounts_job_close;
pub use closing::JobClose;
pub use instructions::*;
pub(crate) use settlement::__client_accounts_job_settle;
pub use settlement::JobSettle;

declare_id!("CM6xQ5kkbRrJrFqaPp1Jc2ifoW7axk2rHrv9tDX5LzKY");

#[cfg(not(feature = "no-entrypoint"))]
solana_security_txt::security_txt! {
    name: "Compute Market",
    project_url: "https://github.com/compute-market/compute-market",
    contacts: "link:https://github.com/compute-market/compute-market/security/advisories/new",
    policy: "https://github.com/compute-market/compute-market/blob/main/SECURITY.md",
    source_code: "https://github.com/compute-market/compute-market",
    preferred_languages: "en"
}

// `legacy_idl` adds Anchor's IDL instructions (`anchor idl init/upgrade`, and ours in
// `compute-market market deploy`): the IDL account at `IdlAccount::address(program_id)` is what
// Solana explorers and `anchor idl fetch` read to decode our accounts and instructions. Anchor
// 1.x deprecates it for the Program Metadata Program, which cannot be deployed on our offline
// local node yet. The IDL account's first writer becomes its authority, so the deploy path
// publishes it right after deploying and refuses to run over an IDL someone else owns.
#[program(legacy_idl)]
pub mod compute_market {
    use super::*;

    /// Creates the market of a payment mint (the signer becomes its authority).
    #[access_control(ctx.accounts.validate(&args))]
    pub fn market_init(ctx: Context<MarketInit>, args: MarketInitArgs) -> Result<()> {
        MarketInit::handle(ctx, args)
    }

    /// Changes a market's parameters, pauses it, or proposes a new authority (authority only).
    pub fn market_update(ctx: Context<MarketUpdate>, args: MarketUpdateArgs) -> Result<()> {
        MarketUpdate::handle(ctx, args)
    }

    /// The proposed authority takes the market (second step of a transfer).
    pub fn market_accept_authority(ctx: Context<MarketAcceptAuthority>) -> Result<()> {
        MarketAcceptAuthority::handle(ctx)
    }

    /// Withdraws collected fees from the treasury vault (authority only).
    pub fn market_withdraw_fees(ctx: Context<MarketWithdrawFees>, amount: u64) -> Result<()> {
        MarketWithdrawFees::handle(ctx, amount)
    }

    /// Registers a provider with its initial stake and capabilities.
    #[access_control(ctx.accounts.validate(&args))]
    pub fn provider_register(
        ctx: Context<ProviderRegister>,
        args: ProviderRegisterArgs,
    ) -> Result<()> {
        ProviderRegister::handle(ctx, args)
    }

    /// Adds stake.
    pub fn provider_stake(ctx: Context<ProviderStake>, amount: u64) -> Result<()> {
        ProviderStake::handle(ctx, amount)
    }

    /// Starts unbonding free stake.
    pub fn provider_unstake(ctx: Context<ProviderUnstake>, amount: u64) -> Result<()> {
        ProviderUnstake::handle(ctx, amount)
    }

    /// Withdraws unbonded stake after the unbonding period.
    #[access_control(ctx.accounts.validate())]
    pub fn provider_withdraw(ctx: Context<ProviderWithdraw>) -> Result<()> {
        ProviderWithdraw::handle(ctx)
    }

    /// Withdraws the rewards settlement credited to a provider (owner only, any destination).
    pub fn provider_withdraw_earnings(ctx: Context<ProviderWithdrawEarnings>) -> Result<()> {
        ProviderWithdrawEarnings::handle(ctx)
    }

    /// Sweeps a provider's dues: fees to the treasury, forfeited collateral burnt (anyone).
    pub fn provider_sweep(ctx: Context<ProviderSweep>) -> Result<()> {
        ProviderSweep::handle(ctx)
    }

    /// Updates a provider's capabilities or pauses it.
    pub fn provider_update(ctx: Context<ProviderUpdate>, args: ProviderUpdateArgs) -> Result<()> {
        ProviderUpdate::handle(ctx, args)
    }

    /// Posts a job and escrows `replicas × (reward + fee)`.
    #[access_control(ctx.accounts.validate(&args))]
    pub fn job_post(ctx: Context<JobPost>, args: JobPostArgs) -> Result<()> {
        JobPost::handle(ctx, args)
    }

    /// Cancels an unclaimed job: full refund to a token account of the client's choosing; the
    /// escrow closes and the job shrinks to a tombstone.
    pub fn job_cancel(ctx: Context<JobClose>) -> Result<()> {
        JobClose::cancel(ctx)
    }

    /// Claims a replica slot and locks collateral.
    #[access_control(ctx.accounts.validate())]
    pub fn job_claim(ctx: Context<JobClaim>) -> Result<()> {
        JobClaim::handle(ctx)
    }

    /// Applies to a drawn job during its claim window, locking `stake` (at least the
    /// collateral) as its weight in the draw and adding `contribution` to its entropy.
    pub fn job_apply(ctx: Context<JobApply>, contribution: [u8; 32], stake: u64) -> Result<()> {
        JobApply::handle(ctx, contribution, stake)
    }

    /// Draws a drawn job's replicas after its claim window (anyone may call). The remaining
    /// accounts are the applicants' provider accounts, in order, writable.
    pub fn job_draw<'info>(ctx: Context<'info, JobDraw<'info>>) -> Result<()> {
        JobDraw::draw(ctx)
    }

    /// Gives a claimed, uncommitted slot back before the commit deadline, at the job's
    /// give-back cost (less than a slash); the slot can be claimed again.
    pub fn job_give_back(ctx: Context<JobGiveBack>) -> Result<()> {
        JobGiveBack::handle(ctx)
    }

    /// Commits to a result without revealing it (replicated jobs).
    pub fn job_commit(ctx: Context<JobCommit>, commitment: [u8; 32]) -> Result<()> {
        JobCommit::handle(ctx, commitment)
    }

    /// Reveals a committed result (replicated jobs).
    pub fn job_reveal(ctx: Context<JobReveal>, args: JobRevealArgs) -> Result<()> {
        JobReveal::handle(ctx, args)
    }

    /// Submits the result of a single-replica job, completing it and crediting the provider.
    #[access_control(ctx.accounts.validate(&args))]
    pub fn job_submit(ctx: Context<JobSubmit>, args: JobSubmitArgs) -> Result<()> {
        JobSubmit::handle(ctx, args)
    }

    /// Settles a replicated job after its reveals (anyone may call).
    pub fn job_finalize<'info>(ctx: Context<'info, JobSettle<'info>>) -> Result<()> {
        JobSettle::finalize(ctx)
    }

    /// Expires a job stuck past a deadline without enough replicas (anyone may call).
    pub fn job_expire<'info>(ctx: Context<'info, JobSettle<'info>>) -> Result<()> {
        JobSettle::expire(ctx)
    }

    /// Closes a settled job: the refund goes to a token account of the client's choosing, the
    /// escrow closes and the job shrinks to a tombstone (rent back to the client).
    pub fn job_close(ctx: Context<JobClose>) -> Result<()> {
        JobClose::close(ctx)
    }
}
