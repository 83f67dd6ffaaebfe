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
use crate::token::{Authority, Tokens};

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

/// Everything one settlement reads and writes (one struct, passed by reference: see
/// `token.rs` on argument lists).
pub struct Settlement<'a, 's, 'info> {
    /// The job (its PDA signs for the escrow).
    pub job: &'a AccountLoader<'info, Job>,
    /// The market's data (counters).
    pub market: &'a mut Market,
    /// Token program and mint.
    pub tokens: Tokens<'a, 'info>,
    /// The job's escrow vault.
    pub escrow: &'a AccountInfo<'info>,
    /// The escrow's token balance (at least the escrowed total; anything extra that was sent
    /// to it goes to the client, so a donation can never block settlement).
    pub escrow_amount: u64,
    /// The market treasury.
    pub treasury: &'a AccountInfo<'info>,
    /// The client wallet (receives the escrow's rent).
    pub client: &'a AccountInfo<'info>,
    /// The client's refund token account.
    pub client_token: &'a AccountInfo<'info>,
    /// Accounts of every claimed slot, in slot order (claimed slots are filled from index 0).
    pub slots: &'a mut [SlotAccounts<'s, 'info>],
    /// How the job settles.
    pub outcome: Outcome,
    /// Current Unix time.
    pub now: i64,
}

/// Totals of one settlement, for the event.
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

/// Settles the job: pays, refunds and slashes each slot by its disposition, sends fees to the
/// treasury and everything else to the client, closes the escrow and records the outcome.
pub fn settle(s: &mut Settlement) -> Result<()> {
    // Read what settlement needs, then release the borrow: the job PDA signs the token CPIs,
    // which must be able to borrow its account.
    let job = *s.job.load()?;
    require!(!job.status().is_settled(), MarketError::JobAlreadySettled);
    require!(
        s.slots.len() == job.claimed as usize,
        MarketError::WrongRemainingAccounts
    );
    let dispositions = job.dispositions(s.outcome);
    let job_info = s.job.to_account_info();
    let job_key = job_info.key();
    let job_id = job.job_id.to_le_bytes();
    let bump = [job.bump];
    let job_seeds: &[&[u8]] = &[
        SEED_JOB,
        job.market.as_ref(),
        job.client.as_ref(),
        &job_id,
        &bump,
    ];
    let job_signer = [job_seeds];
    let escrow_authority = Authority {
        info: &job_info,
        seeds: &job_signer,
    };
    let share = add(job.reward_per_replica, job.fee_per_replica)?;
    let collateral = job.collateral_per_replica;
    let mut totals = Totals::default();

    for (i, disposition) in dispositions.iter().enumerate().take(job.replicas as usize) {
        if *disposition == Disposition::Unclaimed {
            totals.refunded = add(totals.refunded, share)?;
            continue;
        }
        let slot = s
            .slots
            .get_mut(i)
            .ok_or(MarketError::WrongRemainingAccounts)?;
        require_keys_eq!(
            slot.provider_info.key(),
            job.slots[i].provider,
            MarketError::WrongProvider
        );
        require_keys_eq!(
            slot.vault.key(),
            slot.provider.stake_vault,
            MarketError::WrongVault
        );
        match disposition {
            Disposition::Pay => {
                require_keys_eq!(
                    *slot.payout.owner,
                    anchor_spl::token::ID,
                    MarketError::WrongTokenOwner
                );
                let payout = {
                    let data = slot.payout.try_borrow_data()?;
                    TokenAccount::try_deserialize(&mut &data[..])?
                };
                require_keys_eq!(
                    payout.owner,
                    slot.provider.owner,
                    MarketError::WrongTokenOwner
                );
                require_keys_eq!(payout.mint, s.market.payment_mint, MarketError::WrongMint);
                s.tokens.transfer(
                    s.escrow,
                    &slot.payout,
                    &escrow_authority,
                    job.reward_per_replica,
                )?;
                let provider = &mut *slot.provider;
                provider.unlock(collateral)?;
                provider.jobs_completed = provider.jobs_completed.saturating_add(1);
                provider.total_earned = add(provider.total_earned, job.reward_per_replica)?;
                totals.paid = add(totals.paid, job.reward_per_replica)?;
                totals.fees = add(totals.fees, job.fee_per_replica)?;
                totals.paid_replicas += 1;
            }
            Disposition::Release => {
                slot.provider.unlock(collateral)?;
                slot.provider.jobs_failed = slot.provider.jobs_failed.saturating_add(1);
                totals.refunded = add(totals.refunded, share)?;
            }
            Disposition::Slash => {
                let owner = slot.provider.owner;
                let provider_bump = [slot.provider.bump];
                let provider_seeds: &[&[u8]] = &[
                    SEED_PROVIDER,
                    slot.provider.market.as_ref(),
                    owner.as_ref(),
                    &provider_bump,
                ];
                let provider_signer = [provider_seeds];
                s.tokens.transfer(
                    &slot.vault,
                    s.client_token,
                    &Authority {
                        info: &slot.provider_info,
                        seeds: &provider_signer,
                    },
                    collateral,
                )?;
                slot.provider.slash(collateral)?;
                emit!(ProviderSlashed {
                    job: job_key,
                    provider: slot.provider_info.key(),
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
    s.tokens
        .transfer(s.escrow, s.treasury, &escrow_authority, totals.fees)?;
    // Anything sent to the escrow beyond what was escrowed goes back to the client too.
    let extra = s
        .escrow_amount
        .checked_sub(job.escrow_total()?)
        .ok_or(MarketError::InvariantViolated)?;
    totals.refunded = add(totals.refunded, extra)?;
    s.tokens
        .transfer(s.escrow, s.client_token, &escrow_authority, totals.refunded)?;
    s.tokens.close(s.escrow, s.client, &escrow_authority)?;

    let status = s.outcome.status();
    let result_hash = match s.outcome {
        Outcome::Completed(hash) => hash,
        _ => [0; 32],
    };
    {
        let mut stored = s.job.load_mut()?;
        stored.status = status as u8;
        stored.settled_at = s.now;
        stored.result_hash = result_hash;
    }
    let counter = match status {
        JobStatus::Completed => &mut s.market.jobs_completed,
        JobStatus::Failed => &mut s.market.jobs_failed,
        _ => &mut s.market.jobs_expired,
    };
    *counter = counter.saturating_add(1);
    emit!(JobSettled {
        market: job.market,
        job: job_key,
        client: job.client,
        status,
        result_hash,
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
    pub job: AccountLoader<'info, Job>,
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
    let claimed = accs.job.load()?.claimed as usize;
    require!(
        remaining.len() == 3 * claimed,
        MarketError::WrongRemainingAccounts
    );
    let (triples, _) = remaining.as_chunks::<3>();
    let mut providers = triples
        .iter()
        .map(|[provider, _, _]| Account::<'info, Provider>::try_from(provider))
        .collect::<Result<Vec<_>>>()?;
    for provider in &providers {
        require!(
            provider.to_account_info().is_writable,
            MarketError::WrongRemainingAccounts
        );
    }
    let mut slots = providers
        .iter_mut()
        .zip(triples)
        .map(|(provider, [_, vault, payout])| {
            let provider_info = provider.to_account_info();
            SlotAccounts {
                provider,
                provider_info,
                vault: vault.clone(),
                payout: payout.clone(),
            }
        })
        .collect::<Vec<_>>();
    settle(&mut Settlement {
        job: &accs.job,
        market: &mut accs.market,
        tokens: Tokens {
            program: &accs.token_program.to_account_info(),
            mint: &accs.payment_mint.to_account_info(),
            decimals: accs.payment_mint.decimals,
        },
        escrow: &accs.escrow.to_account_info(),
        escrow_amount: accs.escrow.amount,
        treasury: &accs.treasury.to_account_info(),
        client: &accs.client.to_account_info(),
        client_token: &accs.client_token.to_account_info(),
        slots: &mut slots,
        outcome,
        now,
    })?;
    drop(slots);
    for provider in &providers {
        provider.exit(&crate::ID)?;
    }
    Ok(())
}
