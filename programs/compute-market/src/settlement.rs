//! Settlement: the one routine that moves a job's money at the end of its life, used by
//! `job_submit` (one replica), `job_finalize` and `job_expire`.
//!
//! Settlement only touches accounts this program owns: the job, its escrow, and each claimed
//! slot's provider account and stake vault. No account a client, provider or operator controls
//! (a wallet's token account, a treasury someone could close or freeze) is written, so no single
//! party can block another's settlement, and no account shared by every job of the market is
//! written either. Each party withdraws later, to an account of its choosing:
//!
//! - a paid replica's reward and fee move from the escrow to its provider's stake vault, credited
//!   as `earnings` (withdrawn by the owner) and `fees_due` (swept to the treasury by anyone);
//! - everything else (unclaimed, released and slashed slots' shares, and anything sent to the
//!   escrow beyond what was escrowed) stays in the escrow as the client's refund, withdrawn by
//!   `job_close`;
//! - slashed collateral stays in the provider's vault as `forfeit_due` and is burnt by the next
//!   sweep: neither the client nor another replica ever profits from a slash.
//!
//! Conservation: the escrow holds `replicas × (reward + fee)`; each slot's share is either
//! credited to its provider or refunded, exactly once.

use anchor_lang::prelude::*;
use anchor_spl::token::TokenAccount;

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::{JobSettled, ProviderSlashed};
use crate::state::{Disposition, Job, Market, Outcome, Provider};
use crate::token::{Authority, Tokens};

/// One claimed slot's accounts: the provider (deserialized by the caller, written back by the
/// caller after settlement) and its stake vault.
pub struct SlotAccounts<'a, 'info> {
    /// The provider account's data.
    pub provider: &'a mut Provider,
    /// The provider PDA.
    pub provider_info: AccountInfo<'info>,
    /// The provider's stake vault (receives a paid replica's reward and fee).
    pub vault: AccountInfo<'info>,
}

/// Everything one settlement reads and writes (one struct, passed by reference: see
/// `token.rs` on argument lists).
pub struct Settlement<'a, 's, 'info> {
    /// The job (its PDA signs for the escrow).
    pub job: &'a AccountLoader<'info, Job>,
    /// Token program and mint.
    pub tokens: Tokens<'a, 'info>,
    /// The job's escrow vault.
    pub escrow: &'a AccountInfo<'info>,
    /// The escrow's token balance (at least the escrowed total; anything extra is refunded).
    pub escrow_amount: u64,
    /// Accounts of every claimed slot, in slot order (claimed slots are filled from index 0).
    pub slots: &'a mut [SlotAccounts<'s, 'info>],
    /// How the job settles.
    pub outcome: Outcome,
    /// Current Unix time.
    pub now: i64,
}

/// The few fields of the job settlement reads.
struct SettledJob {
    market: Pubkey,
    client: Pubkey,
    job_id: u64,
    bump: u8,
    replicas: u8,
    reward_per_replica: u64,
    fee_per_replica: u64,
    collateral_per_replica: u64,
    escrow_total: u64,
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

/// Settles the job: credits, releases and slashes each slot by its disposition and records the
/// outcome. Only paid replicas move tokens (escrow to stake vault); refunds stay in the escrow.
pub fn settle(s: &mut Settlement) -> Result<()> {
    // Read what settlement needs, then release the borrow: the job PDA signs the token CPIs,
    // which must be able to borrow its account. (The job itself is too big to copy onto the
    // 4 KiB SBF stack frame.)
    let (job, dispositions, slot_providers) = {
        let stored = s.job.load()?;
        require!(
            !stored.status().is_settled(),
            MarketError::JobAlreadySettled
        );
        require!(
            s.slots.len() == stored.claimed as usize,
            MarketError::WrongRemainingAccounts
        );
        (
            SettledJob {
                market: stored.market,
                client: stored.client,
                job_id: stored.job_id,
                bump: stored.bump,
                replicas: stored.replicas,
                reward_per_replica: stored.reward_per_replica,
                fee_per_replica: stored.fee_per_replica,
                collateral_per_replica: stored.collateral_per_replica,
                escrow_total: stored.escrow_total()?,
            },
            stored.dispositions(s.outcome),
            core::array::from_fn::<Pubkey, MAX_REPLICAS, _>(|i| stored.slots[i].provider),
        )
    };
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
            slot_providers[i],
            MarketError::WrongProvider
        );
        require_keys_eq!(
            slot.vault.key(),
            slot.provider.stake_vault,
            MarketError::WrongVault
        );
        match disposition {
            Disposition::Pay => {
                s.tokens
                    .transfer(s.escrow, &slot.vault, &escrow_authority, share)?;
                let provider = &mut *slot.provider;
                provider.unlock(collateral)?;
                provider.credit(job.reward_per_replica, job.fee_per_replica)?;
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
                slot.provider.forfeit(collateral, collateral)?;
                slot.provider.jobs_slashed = slot.provider.jobs_slashed.saturating_add(1);
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

    // Conservation: everything escrowed is credited or refunded exactly once.
    require!(
        add(add(totals.paid, totals.fees)?, totals.refunded)? == job.escrow_total,
        MarketError::InvariantViolated
    );
    // Anything sent to the escrow beyond what was escrowed is refunded too.
    let extra = s
        .escrow_amount
        .checked_sub(job.escrow_total)
        .ok_or(MarketError::InvariantViolated)?;
    totals.refunded = add(totals.refunded, extra)?;

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
    emit!(JobSettled {
        market: job.market,
        job: job_key,
        client: job.client,
        status,
        result_hash,
        paid_to_providers: totals.paid,
        fees: totals.fees,
        refund_due: totals.refunded,
        forfeited: totals.slashed,
        paid_replicas: totals.paid_replicas,
        slashed_replicas: totals.slashed_replicas,
    });
    Ok(())
}

/// Accounts of `job_finalize` and `job_expire` (anyone may send either). The remaining accounts
/// hold two accounts per claimed slot, in slot order: provider PDA (writable) and its stake vault
/// (writable). The market and the mint are read-only: settlements of different jobs never
/// contend for a write lock.
#[derive(Accounts)]
pub struct JobSettle<'info> {
    /// Whoever cranks the settlement; pays only the transaction fee.
    pub cranker: Signer<'info>,
    #[account(constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion)]
    pub market: Box<Account<'info, Market>>,
    #[account(address = market.payment_mint @ MarketError::WrongMint)]
    pub payment_mint: Box<Account<'info, anchor_spl::token::Mint>>,
    #[account(
        mut,
        constraint = job.load()?.version == JOB_VERSION @ MarketError::UnsupportedVersion,
        has_one = market @ MarketError::WrongMarket,
        has_one = escrow @ MarketError::WrongVault,
    )]
    pub job: AccountLoader<'info, Job>,
    #[account(mut)]
    pub escrow: Box<Account<'info, TokenAccount>>,
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
        remaining.len() == 2 * claimed,
        MarketError::WrongRemainingAccounts
    );
    let (pairs, _) = remaining.as_chunks::<2>();
    let mut providers = pairs
        .iter()
        .map(|[provider, _]| Account::<'info, Provider>::try_from(provider))
        .collect::<Result<Vec<_>>>()?;
    for provider in &providers {
        require!(
            provider.to_account_info().is_writable,
            MarketError::WrongRemainingAccounts
        );
        provider.check_version()?;
    }
    let mut slots = providers
        .iter_mut()
        .zip(pairs)
        .map(|(provider, [_, vault])| {
            let provider_info = provider.to_account_info();
            SlotAccounts {
                provider,
                provider_info,
                vault: vault.clone(),
            }
        })
        .collect::<Vec<_>>();
    settle(&mut Settlement {
        job: &accs.job,
        tokens: Tokens {
            program: &accs.token_program.to_account_info(),
            mint: &accs.payment_mint.to_account_info(),
            decimals: accs.payment_mint.decimals,
        },
        escrow: &accs.escrow.to_account_info(),
        escrow_amount: accs.escrow.amount,
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
