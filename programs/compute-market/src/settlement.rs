//! Settlement: the one routine that moves a job's money at the end of its life, used by
//! `job_submit` (one replica), `job_finalize` and `job_expire`.
//!
//! Conservation: the escrow holds `replicas × (reward + fee)`. Each slot's share goes either to
//! its provider (reward) and the treasury (fee), or back to the client. Slashed collateral moves
//! from the provider's stake vault to the client. The escrow ends empty and is closed to the
//! client, who paid its rent.

use anchor_lang::prelude::*;
use anchor_lang::AccountDeserialize;
use anchor_spl::token::TokenAccount;

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::{JobSettled, ProviderSlashed};
use crate::state::{Disposition, Job, JobStatus, Market, Outcome, Provider};
use crate::token;

/// One claimed slot's accounts: the provider (deserialized by the caller, written back by the
/// caller after settlement), its stake vault and its owner's payout token account.
pub struct SlotAccounts<'a, 'info> {
    /// The provider account's data.
    pub provider: &'a mut Provider,
    /// The provider PDA (authority of its stake vault).
    pub provider_info: AccountInfo<'info>,
    /// The provider's stake vault.
    pub vault: AccountInfo<'info>,
    /// The provider owner's token account receiving the reward.
    pub payout: AccountInfo<'info>,
}

/// Accounts every settlement touches.
pub struct SettleAccounts<'a, 'info> {
    /// The job's key.
    pub job_key: Pubkey,
    /// The job's account info (authority of the escrow).
    pub job_info: AccountInfo<'info>,
    /// The market's payment mint.
    pub mint: &'a AccountInfo<'info>,
    /// The job's escrow vault.
    pub escrow: &'a AccountInfo<'info>,
    /// The escrow's token balance (at least the escrowed total; anything extra that was sent
    /// to it goes to the client, so a donation can never block settlement).
    pub escrow_amount: u64,
    /// The market treasury.
    pub treasury: &'a AccountInfo<'info>,
    /// The client wallet (receives the escrow's rent).
    pub client: &'a AccountInfo<'info>,
    /// The client's token account (refunds and slashed collateral), when any are due.
    pub client_token: Option<&'a AccountInfo<'info>>,
    /// The token program.
    pub token_program: &'a AccountInfo<'info>,
}

/// Totals of one settlement, for the event and for tests.
#[derive(Default, Debug, Clone, Copy)]
struct Totals {
    paid: u64,
    fees: u64,
    refunded: u64,
    slashed: u64,
    paid_replicas: u8,
    slashed_replicas: u8,
}

fn add(a: u64, b: u64) -> Result<u64> {
    a.checked_add(b)
        .ok_or_else(|| error!(MarketError::Overflow))
}

/// Settles `job` with `outcome`. `slots` holds the accounts of every claimed slot, in slot
/// order (claimed slots are filled from index 0).
pub fn settle<'info>(
    job: &mut Job,
    market: &mut Market,
    accs: SettleAccounts<'_, 'info>,
    slots: &mut [SlotAccounts<'_, 'info>],
    outcome: Outcome,
    now: i64,
) -> Result<()> {
    require!(!job.status.is_settled(), MarketError::JobAlreadySettled);
    require!(
        slots.len() == job.claimed as usize,
        MarketError::WrongRemainingAccounts
    );
    let dispositions = job.dispositions(outcome);
    let decimals = market.mint_decimals;
    let job_id = job.job_id.to_le_bytes();
    let job_seeds: &[&[u8]] = &[
        SEED_JOB,
        job.market.as_ref(),
        job.client.as_ref(),
        &job_id,
        &[job.bump],
    ];
    let share = add(job.reward_per_replica, job.fee_per_replica)?;
    let mut totals = Totals::default();

    for (i, disposition) in dispositions.iter().enumerate().take(job.replicas as usize) {
        if *disposition == Disposition::Unclaimed {
            totals.refunded = add(totals.refunded, share)?;
            continue;
        }
        let SlotAccounts {
            provider,
            provider_info,
            vault: vault_info,
            payout: payout_info,
        } = slots
            .get_mut(i)
            .ok_or(MarketError::WrongRemainingAccounts)?;
        require_keys_eq!(
            provider_info.key(),
            job.slots[i].provider,
            MarketError::WrongProvider
        );
        require_keys_eq!(
            vault_info.key(),
            provider.stake_vault,
            MarketError::WrongVault
        );
        let collateral = job.collateral_per_replica;
        match disposition {
            Disposition::Pay => {
                let payout = {
                    let data = payout_info.try_borrow_data()?;
                    TokenAccount::try_deserialize(&mut &data[..])?
                };
                require_keys_eq!(
                    *payout_info.owner,
                    anchor_spl::token::ID,
                    MarketError::WrongTokenOwner
                );
                require_keys_eq!(payout.owner, provider.owner, MarketError::WrongTokenOwner);
                require_keys_eq!(payout.mint, market.payment_mint, MarketError::WrongMint);
                token::transfer(
                    accs.token_program,
                    accs.escrow,
                    accs.mint,
                    payout_info,
                    &accs.job_info,
                    &[job_seeds],
                    job.reward_per_replica,
                    decimals,
                )?;
                provider.unlock(collateral)?;
                provider.jobs_completed = provider.jobs_completed.saturating_add(1);
                provider.total_earned = add(provider.total_earned, job.reward_per_replica)?;
                totals.paid = add(totals.paid, job.reward_per_replica)?;
                totals.fees = add(totals.fees, job.fee_per_replica)?;
                totals.paid_replicas += 1;
            }
            Disposition::Release => {
                provider.unlock(collateral)?;
                provider.jobs_failed = provider.jobs_failed.saturating_add(1);
                totals.refunded = add(totals.refunded, share)?;
            }
            Disposition::Slash => {
                let client_token = accs
                    .client_token
                    .ok_or(MarketError::WrongRemainingAccounts)?;
                let owner = provider.owner;
                let provider_seeds: &[&[u8]] = &[
                    SEED_PROVIDER,
                    provider.market.as_ref(),
                    owner.as_ref(),
                    &[provider.bump],
                ];
                token::transfer(
                    accs.token_program,
                    vault_info,
                    accs.mint,
                    client_token,
                    provider_info,
                    &[provider_seeds],
                    collateral,
                    decimals,
                )?;
                provider.slash(collateral)?;
                emit!(ProviderSlashed {
                    job: accs.job_key,
                    provider: provider_info.key(),
                    amount: collateral,
                });
                totals.slashed = add(totals.slashed, collateral)?;
                totals.refunded = add(totals.refunded, share)?;
                totals.slashed_replicas += 1;
            }
            Disposition::Unclaimed => {}
        }
    }

    // Conservation: everything escrowed leaves the escrow exactly once.
    require!(
        add(add(totals.paid, totals.fees)?, totals.refunded)? == job.escrow_total()?,
        MarketError::InvariantViolated
    );
    token::transfer(
        accs.token_program,
        accs.escrow,
        accs.mint,
        accs.treasury,
        &accs.job_info,
        &[job_seeds],
        totals.fees,
        decimals,
    )?;
    // Anything sent to the escrow beyond what was escrowed goes back to the client too.
    let extra = accs
        .escrow_amount
        .checked_sub(job.escrow_total()?)
        .ok_or(MarketError::InvariantViolated)?;
    totals.refunded = add(totals.refunded, extra)?;
    if totals.refunded > 0 {
        let client_token = accs
            .client_token
            .ok_or(MarketError::WrongRemainingAccounts)?;
        token::transfer(
            accs.token_program,
            accs.escrow,
            accs.mint,
            client_token,
            &accs.job_info,
            &[job_seeds],
            totals.refunded,
            decimals,
        )?;
    }
    token::close(
        accs.token_program,
        accs.escrow,
        accs.client,
        &accs.job_info,
        &[job_seeds],
    )?;

    let status = outcome.status();
    job.status = status;
    job.settled_at = now;
    if let Outcome::Completed(hash) = outcome {
        job.result_hash = hash;
    }
    let counter = match status {
        JobStatus::Completed => &mut market.jobs_completed,
        JobStatus::Failed => &mut market.jobs_failed,
        _ => &mut market.jobs_expired,
    };
    *counter = counter.saturating_add(1);
    emit!(JobSettled {
        market: job.market,
        job: accs.job_key,
        client: job.client,
        status,
        result_hash: job.result_hash,
        paid_to_providers: totals.paid,
        fees_to_treasury: totals.fees,
        refunded_to_client: totals.refunded,
        slashed_to_client: totals.slashed,
        paid_replicas: totals.paid_replicas,
        slashed_replicas: totals.slashed_replicas,
    });
    Ok(())
}

/// Accounts of `job_finalize` and `job_expire` (anyone may send either). The remaining accounts
/// hold three accounts per claimed slot, in slot order: provider PDA (writable), its stake vault
/// (writable) and its owner's payout token account (writable).
#[derive(Accounts)]
pub struct JobSettle<'info> {
    /// Whoever cranks the settlement; pays only the transaction fee.
    pub cranker: Signer<'info>,
    #[account(mut)]
    pub market: Box<Account<'info, Market>>,
    #[account(address = market.payment_mint @ MarketError::WrongMint)]
    pub payment_mint: Box<Account<'info, anchor_spl::token::Mint>>,
    #[account(
        mut,
        has_one = market @ MarketError::WrongMarket,
        has_one = escrow @ MarketError::WrongVault,
        has_one = client @ MarketError::WrongClient,
        has_one = client_token @ MarketError::WrongTokenOwner,
    )]
    pub job: Box<Account<'info, Job>>,
    #[account(mut)]
    pub escrow: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = market.treasury @ MarketError::WrongTreasury)]
    pub treasury: Box<Account<'info, TokenAccount>>,
    /// CHECK: the job's client (checked by `has_one = client` on `job`); receives the escrow's
    /// rent.
    #[account(mut)]
    pub client: UncheckedAccount<'info>,
    /// CHECK: the job's refund token account (checked by `has_one = client_token` on `job`);
    /// the token program checks it is a token account of the mint.
    #[account(mut)]
    pub client_token: UncheckedAccount<'info>,
    pub token_program: Program<'info, anchor_spl::token::Token>,
}

/// Settles the job of a [`JobSettle`] context with `outcome`, loading the claimed slots'
/// accounts from the remaining accounts.
pub fn settle_from_remaining<'info>(
    ctx: Context<'info, JobSettle<'info>>,
    outcome: Outcome,
    now: i64,
) -> Result<()> {
    let remaining = ctx.remaining_accounts;
    let accs = ctx.accounts;
    let claimed = accs.job.claimed as usize;
    require!(
        remaining.len() == 3 * claimed,
        MarketError::WrongRemainingAccounts
    );
    let mut providers = remaining
        .chunks_exact(3)
        .map(|c| Account::<'info, Provider>::try_from(&c[0]))
        .collect::<Result<Vec<_>>>()?;
    for provider in &providers {
        require!(
            provider.to_account_info().is_writable,
            MarketError::WrongRemainingAccounts
        );
    }
    let mut slots = providers
        .iter_mut()
        .zip(remaining.chunks_exact(3))
        .map(|(provider, c)| {
            let provider_info = provider.to_account_info();
            SlotAccounts {
                provider: &mut **provider,
                provider_info,
                vault: c[1].clone(),
                payout: c[2].clone(),
            }
        })
        .collect::<Vec<_>>();
    let job_info = accs.job.to_account_info();
    let settle_accounts = SettleAccounts {
        job_key: job_info.key(),
        job_info,
        mint: &accs.payment_mint.to_account_info(),
        escrow: &accs.escrow.to_account_info(),
        escrow_amount: accs.escrow.amount,
        treasury: &accs.treasury.to_account_info(),
        client: &accs.client.to_account_info(),
        client_token: Some(&accs.client_token.to_account_info()),
        token_program: &accs.token_program.to_account_info(),
    };
    settle(
        &mut accs.job,
        &mut accs.market,
        settle_accounts,
        &mut slots,
        outcome,
        now,
    )?;
    drop(slots);
    for provider in &providers {
        provider.exit(&crate::ID)?;
    }
    Ok(())
}
