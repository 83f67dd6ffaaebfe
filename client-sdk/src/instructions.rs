//! Pure builders for every instruction, from the program's own account and argument types.
//! No I/O: give them addresses, get an [`Instruction`] to sign and send.
//!
//! ```
//! use compute_market_sdk::{instructions, pda, Pubkey};
//!
//! let mint = Pubkey::new_unique();
//! let owner = Pubkey::new_unique();
//! let market = pda::market(&mint, &owner);
//! let job = pda::job(&market, &Pubkey::new_unique(), 1);
//! let ix = instructions::job_claim(&market, &owner, &job);
//! assert_eq!(ix.program_id, pda::PROGRAM_ID);
//! assert_eq!(ix.accounts[2].pubkey, pda::provider(&market, &owner));
//! ```

use anchor_lang::prelude::{AccountMeta, Pubkey};
use anchor_lang::solana_program::instruction::Instruction;
use anchor_lang::{InstructionData, ToAccountMetas};
use compute_market::state::{Job, Market};
use compute_market::{accounts as acc, instruction as data};

use crate::pda;
use crate::types::*;

fn build(accounts: impl ToAccountMetas, args: impl InstructionData) -> Instruction {
    Instruction {
        program_id: pda::PROGRAM_ID,
        accounts: accounts.to_account_metas(None),
        data: args.data(),
    }
}

fn token_program() -> Pubkey {
    anchor_spl::token::ID
}

fn system_program() -> Pubkey {
    anchor_lang::system_program::ID
}

/// `market_init`: `authority` creates its market of `payment_mint` (at
/// `pda::market(payment_mint, authority)`) with its treasury vault.
pub fn market_init(authority: &Pubkey, payment_mint: &Pubkey, args: MarketInitArgs) -> Instruction {
    let market = pda::market(payment_mint, authority);
    build(
        acc::MarketInit {
            authority: *authority,
            payment_mint: *payment_mint,
            market,
            treasury: pda::treasury(&market),
            token_program: token_program(),
            system_program: system_program(),
        },
        data::MarketInit { args },
    )
}

/// `market_update` (authority only).
pub fn market_update(authority: &Pubkey, market: &Pubkey, args: MarketUpdateArgs) -> Instruction {
    build(
        acc::MarketUpdate {
            authority: *authority,
            market: *market,
        },
        data::MarketUpdate { args },
    )
}

/// `market_accept_authority`: the proposed authority takes `market`.
pub fn market_accept_authority(new_authority: &Pubkey, market: &Pubkey) -> Instruction {
    build(
        acc::MarketAcceptAuthority {
            new_authority: *new_authority,
            market: *market,
        },
        data::MarketAcceptAuthority {},
    )
}

/// `market_withdraw_fees` (authority only): `amount` from the treasury to `destination`.
pub fn market_withdraw_fees(
    authority: &Pubkey,
    market: &Pubkey,
    payment_mint: &Pubkey,
    destination: &Pubkey,
    amount: u64,
) -> Instruction {
    build(
        acc::MarketWithdrawFees {
            authority: *authority,
            market: *market,
            payment_mint: *payment_mint,
            treasury: pda::treasury(market),
            destination: *destination,
            token_program: token_program(),
        },
        data::MarketWithdrawFees { amount },
    )
}

/// `provider_register`: stake comes from `owner`'s associated token account.
pub fn provider_register(
    market: &Pubkey,
    payment_mint: &Pubkey,
    owner: &Pubkey,
    args: ProviderRegisterArgs,
) -> Instruction {
    let provider = pda::provider(market, owner);
    build(
        acc::ProviderRegister {
            owner: *owner,
            market: *market,
            payment_mint: *payment_mint,
            provider,
            stake_vault: pda::stake_vault(&provider),
            owner_token: pda::token_account(owner, payment_mint),
            token_program: token_program(),
            system_program: system_program(),
        },
        data::ProviderRegister { args },
    )
}

/// `provider_stake`: adds `amount` from `owner`'s associated token account.
pub fn provider_stake(
    market: &Pubkey,
    payment_mint: &Pubkey,
    owner: &Pubkey,
    amount: u64,
) -> Instruction {
    let provider = pda::provider(market, owner);
    build(
        acc::ProviderStake {
            owner: *owner,
            market: *market,
            payment_mint: *payment_mint,
            provider,
            stake_vault: pda::stake_vault(&provider),
            owner_token: pda::token_account(owner, payment_mint),
            token_program: token_program(),
        },
        data::ProviderStake { amount },
    )
}

/// `provider_unstake`: starts unbonding `amount`.
pub fn provider_unstake(market: &Pubkey, owner: &Pubkey, amount: u64) -> Instruction {
    build(
        acc::ProviderUnstake {
            owner: *owner,
            market: *market,
            provider: pda::provider(market, owner),
        },
        data::ProviderUnstake { amount },
    )
}

/// `provider_withdraw`: unbonded stake back to `owner`'s associated token account.
pub fn provider_withdraw(market: &Pubkey, payment_mint: &Pubkey, owner: &Pubkey) -> Instruction {
    let provider = pda::provider(market, owner);
    build(
        acc::ProviderWithdraw {
            owner: *owner,
            market: *market,
            payment_mint: *payment_mint,
            provider,
            stake_vault: pda::stake_vault(&provider),
            owner_token: pda::token_account(owner, payment_mint),
            token_program: token_program(),
        },
        data::ProviderWithdraw {},
    )
}

/// `provider_withdraw_earnings`: every credited reward to `destination` (any token account of
/// the mint).
pub fn provider_withdraw_earnings(
    market: &Pubkey,
    payment_mint: &Pubkey,
    owner: &Pubkey,
    destination: &Pubkey,
) -> Instruction {
    let provider = pda::provider(market, owner);
    build(
        acc::ProviderWithdrawEarnings {
            owner: *owner,
            market: *market,
            payment_mint: *payment_mint,
            provider,
            stake_vault: pda::stake_vault(&provider),
            destination: *destination,
            token_program: token_program(),
        },
        data::ProviderWithdrawEarnings {},
    )
}

/// `provider_sweep` (anyone): `provider`'s fees to the treasury, its forfeits burnt.
pub fn provider_sweep(
    cranker: &Pubkey,
    market: &Pubkey,
    payment_mint: &Pubkey,
    provider: &Pubkey,
) -> Instruction {
    build(
        acc::ProviderSweep {
            cranker: *cranker,
            market: *market,
            payment_mint: *payment_mint,
            treasury: pda::treasury(market),
            provider: *provider,
            stake_vault: pda::stake_vault(provider),
            token_program: token_program(),
        },
        data::ProviderSweep {},
    )
}

/// `provider_update`: capabilities and/or status.
pub fn provider_update(market: &Pubkey, owner: &Pubkey, args: ProviderUpdateArgs) -> Instruction {
    build(
        acc::ProviderUpdate {
            owner: *owner,
            provider: pda::provider(market, owner),
        },
        data::ProviderUpdate { args },
    )
}

/// `job_post`: escrow paid from `client`'s associated token account.
pub fn job_post(
    market: &Pubkey,
    payment_mint: &Pubkey,
    client: &Pubkey,
    args: JobPostArgs,
) -> Instruction {
    let job = pda::job(market, client, args.job_id);
    build(
        acc::JobPost {
            client: *client,
            market: *market,
            payment_mint: *payment_mint,
            job,
            escrow: pda::escrow(&job),
            client_token: pda::token_account(client, payment_mint),
            token_program: token_program(),
            system_program: system_program(),
        },
        data::JobPost { args },
    )
}

/// `job_cancel` (client, nothing claimed): the escrow to `destination`.
pub fn job_cancel(
    job_address: &Pubkey,
    job: &Job,
    market: &Market,
    destination: &Pubkey,
) -> Instruction {
    build(
        closing_accounts(job_address, job, market, destination),
        data::JobCancel {},
    )
}

/// `job_close` (client, after settlement): the refund to `destination`.
pub fn job_close(
    job_address: &Pubkey,
    job: &Job,
    market: &Market,
    destination: &Pubkey,
) -> Instruction {
    build(
        closing_accounts(job_address, job, market, destination),
        data::JobClose {},
    )
}

/// The accounts `job_cancel` and `job_close` share.
fn closing_accounts(
    job_address: &Pubkey,
    job: &Job,
    market: &Market,
    destination: &Pubkey,
) -> acc::JobClose {
    acc::JobClose {
        client: job.client,
        market: job.market,
        payment_mint: market.payment_mint,
        job: *job_address,
        escrow: job.escrow,
        destination: *destination,
        token_program: token_program(),
    }
}

/// `job_apply`: `owner`'s provider applies to the drawn job `job_address`, locking `stake`
/// (at least the collateral: its weight in the draw) and adding `contribution` (random bytes)
/// to the job's entropy. When every place is taken, the applicant that locked the least is
/// displaced (see [`displaced_applicant`]).
pub fn job_apply(
    owner: &Pubkey,
    job_address: &Pubkey,
    job: &Job,
    contribution: [u8; 32],
    stake: u64,
) -> Instruction {
    build(
        acc::JobApply {
            owner: *owner,
            market: job.market,
            provider: pda::provider(&job.market, owner),
            job: *job_address,
            displaced: displaced_applicant(job),
        },
        data::JobApply {
            contribution,
            stake,
        },
    )
}

/// The applicant a new application displaces: the one that locked the least, once every place
/// of the drawn job is taken.
pub fn displaced_applicant(job: &Job) -> Option<Pubkey> {
    let applicants = job.applicants();
    if applicants.len() < compute_market::constants::MAX_APPLICANTS {
        return None;
    }
    applicants
        .iter()
        .min_by_key(|a| a.stake)
        .map(|a| a.provider)
}

/// `job_draw` (anyone): draws a drawn job's replicas among its applicants (their provider
/// accounts follow as writable remaining accounts, in application order).
pub fn job_draw(cranker: &Pubkey, job_address: &Pubkey, job: &Job) -> Instruction {
    use anchor_lang::solana_program::sysvar::SysvarId;
    let mut ix = build(
        acc::JobDraw {
            cranker: *cranker,
            market: job.market,
            job: *job_address,
            slot_hashes: anchor_lang::prelude::SlotHashes::id(),
        },
        data::JobDraw {},
    );
    ix.accounts.extend(
        job.applicants()
            .iter()
            .map(|a| AccountMeta::new(a.provider, false)),
    );
    ix
}

/// `job_give_back`: `owner`'s provider hands its claimed, uncommitted slot back.
pub fn job_give_back(market: &Pubkey, owner: &Pubkey, job: &Pubkey) -> Instruction {
    build(
        acc::JobGiveBack {
            owner: *owner,
            provider: pda::provider(market, owner),
            job: *job,
        },
        data::JobGiveBack {},
    )
}

/// `job_claim`: `owner`'s provider takes the next free slot.
pub fn job_claim(market: &Pubkey, owner: &Pubkey, job: &Pubkey) -> Instruction {
    build(
        acc::JobClaim {
            owner: *owner,
            market: *market,
            provider: pda::provider(market, owner),
            job: *job,
        },
        data::JobClaim {},
    )
}

/// `job_commit`: see [`commitment`] for the value.
pub fn job_commit(
    market: &Pubkey,
    owner: &Pubkey,
    job: &Pubkey,
    commitment: [u8; 32],
) -> Instruction {
    build(
        acc::JobCommit {
            owner: *owner,
            provider: pda::provider(market, owner),
            job: *job,
        },
        data::JobCommit { commitment },
    )
}

/// The commitment `owner`'s provider posts for `result_hash` with a secret `salt`.
pub fn commitment(
    market: &Pubkey,
    owner: &Pubkey,
    job: &Pubkey,
    result_hash: &[u8; 32],
    salt: &[u8; 32],
) -> [u8; 32] {
    compute_market::state::commitment_hash(job, &pda::provider(market, owner), result_hash, salt)
}

/// `job_reveal`.
pub fn job_reveal(
    market: &Pubkey,
    owner: &Pubkey,
    job: &Pubkey,
    args: JobRevealArgs,
) -> Instruction {
    build(
        acc::JobReveal {
            owner: *owner,
            provider: pda::provider(market, owner),
            job: *job,
        },
        data::JobReveal { args },
    )
}

/// `job_submit` (one replica): reward credited to `owner`'s provider.
pub fn job_submit(
    job_address: &Pubkey,
    job: &Job,
    market: &Market,
    owner: &Pubkey,
    args: JobSubmitArgs,
) -> Instruction {
    job_submit_with_mint(job_address, job, &market.payment_mint, owner, args)
}

/// [`job_submit`] given the market's payment mint rather than the market.
pub fn job_submit_with_mint(
    job_address: &Pubkey,
    job: &Job,
    payment_mint: &Pubkey,
    owner: &Pubkey,
    args: JobSubmitArgs,
) -> Instruction {
    let provider = pda::provider(&job.market, owner);
    build(
        acc::JobSubmit {
            owner: *owner,
            market: job.market,
            payment_mint: *payment_mint,
            provider,
            stake_vault: pda::stake_vault(&provider),
            job: *job_address,
            escrow: job.escrow,
            token_program: token_program(),
        },
        data::JobSubmit { args },
    )
}

/// The accounts settlement needs for each claimed slot, in slot order: provider PDA and its
/// stake vault (both writable; both owned by the program, so nobody can close or freeze them).
pub fn settlement_accounts(job: &Job) -> Vec<AccountMeta> {
    job.active_slots()
        .iter()
        .filter(|s| s.state() != SlotState::Empty)
        .flat_map(|slot| {
            [
                AccountMeta::new(slot.provider, false),
                AccountMeta::new(pda::stake_vault(&slot.provider), false),
            ]
        })
        .collect()
}

fn settle(
    cranker: &Pubkey,
    job_address: &Pubkey,
    job: &Job,
    market: &Market,
    args: impl InstructionData,
) -> Instruction {
    let mut ix = build(
        acc::JobSettle {
            cranker: *cranker,
            market: job.market,
            payment_mint: market.payment_mint,
            job: *job_address,
            escrow: job.escrow,
            token_program: token_program(),
        },
        args,
    );
    ix.accounts.extend(settlement_accounts(job));
    ix
}

/// `job_finalize` (anyone).
pub fn job_finalize(
    cranker: &Pubkey,
    job_address: &Pubkey,
    job: &Job,
    market: &Market,
) -> Instruction {
    settle(cranker, job_address, job, market, data::JobFinalize {})
}

/// `job_expire` (anyone).
pub fn job_expire(
    cranker: &Pubkey,
    job_address: &Pubkey,
    job: &Job,
    market: &Market,
) -> Instruction {
    settle(cranker, job_address, job, market, data::JobExpire {})
}

/// Creates `owner`'s associated token account for `mint` if it does not exist (idempotent).
pub fn create_token_account(payer: &Pubkey, owner: &Pubkey, mint: &Pubkey) -> Instruction {
    spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
        payer,
        owner,
        mint,
        &token_program(),
    )
}
