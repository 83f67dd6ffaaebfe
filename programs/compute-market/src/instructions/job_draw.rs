use anchor_lang::prelude::*;
use anchor_lang::solana_program::sysvar::SysvarId;

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::{DrawResealed, JobDrawn};
use crate::state::{Job, JobStatus, Market, Provider, SlotState};

#[derive(Accounts)]
pub struct JobDraw<'info> {
    /// Whoever cranks the draw (usually an applicant); pays only the fee.
    pub cranker: Signer<'info>,
    #[account(constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion)]
    pub market: Account<'info, Market>,
    #[account(
        mut,
        constraint = job.load()?.version == JOB_VERSION @ MarketError::UnsupportedVersion,
        has_one = market @ MarketError::WrongMarket,
    )]
    pub job: AccountLoader<'info, Job>,
    /// CHECK: the SlotHashes sysvar (address checked); read as raw bytes, never deserialized
    /// whole (20 KB).
    #[account(address = SlotHashes::id() @ MarketError::WrongSysvar)]
    pub slot_hashes: UncheckedAccount<'info>,
}

/// What the SlotHashes sysvar says about the draw's seed slot.
#[derive(Debug, PartialEq, Eq)]
pub enum SeedSlot {
    /// The hash of the first block at or after the seed slot.
    Ready([u8; 32]),
    /// No block at or after the seed slot yet.
    TooEarly,
    /// The seed slot fell out of the sysvar's window (512 slots): any hash after it could be
    /// chosen by waiting, so the draw re-seals on a new future slot instead.
    Expired,
}

/// Finds the hash of the first block at or after `target` in SlotHashes data (a `u64` count,
/// then `(slot u64, hash [u8; 32])` entries, newest first).
pub fn seed_slot(data: &[u8], target: u64) -> SeedSlot {
    let read_u64 = |at: usize| {
        data.get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let count = read_u64(0).unwrap_or(0) as usize;
    let mut found = None;
    for i in 0..count {
        let at = 8 + i * 40;
        let (Some(slot), Some(hash)) = (read_u64(at), data.get(at + 8..at + 40)) else {
            break;
        };
        if slot < target {
            // An older block exists, so `target` is inside the window.
            return found.map_or(SeedSlot::TooEarly, SeedSlot::Ready);
        }
        let mut h = [0; 32];
        h.copy_from_slice(hash);
        found = Some(h);
        if slot == target {
            return SeedSlot::Ready(h);
        }
    }
    match found {
        None => SeedSlot::TooEarly,
        Some(_) => SeedSlot::Expired,
    }
}

impl<'info> JobDraw<'info> {
    pub fn validate(&self, remaining: &[AccountInfo<'info>], now: i64) -> Result<()> {
        let job = self.job.load()?;
        require!(job.is_drawn(), MarketError::JobNotDrawn);
        require!(job.drawn == 0, MarketError::AlreadyDrawn);
        require!(job.status() == JobStatus::Open, MarketError::JobNotOpen);
        require!(now > job.claim_deadline, MarketError::DrawTooEarly);
        let applicants = job.applicants();
        require!(
            remaining.len() == applicants.len(),
            MarketError::WrongApplicants
        );
        for (info, applicant) in remaining.iter().zip(applicants) {
            require!(
                info.key() == applicant.provider && info.is_writable,
                MarketError::WrongApplicants
            );
        }
        Ok(())
    }

    /// After the claim window, draws the replicas among the applicants, each round weighted by
    /// the stake each locked when applying, from
    /// `SHA-256(domain ‖ job ‖ applicants' entropy ‖ hash of the seed slot)`: nobody knew that
    /// hash when applying, no weight can change after it is known, and no party picks it.
    /// Winners keep their collateral locked, as if they had claimed; everything else the
    /// applicants locked is unlocked. A draw in the second half of the commit window (or
    /// later) is too late for winners to compute: it draws nobody and releases every applicant.
    /// Anyone may crank it.
    pub fn draw(ctx: Context<'info, Self>) -> Result<()> {
        let clock = Clock::get()?;
        let remaining = ctx.remaining_accounts;
        ctx.accounts.validate(remaining, clock.unix_timestamp)?;
        let accs = ctx.accounts;
        let job_key = accs.job.key();
        let (draw_slot, entropy, late) = {
            let job = accs.job.load()?;
            (
                job.draw_slot,
                job.entropy,
                job.draw_is_late(clock.unix_timestamp),
            )
        };
        let seed = if late {
            None
        } else {
            let hash = match seed_slot(&accs.slot_hashes.try_borrow_data()?, draw_slot) {
                SeedSlot::Ready(hash) => hash,
                SeedSlot::TooEarly => return err!(MarketError::DrawTooEarly),
                SeedSlot::Expired => {
                    let draw_slot = clock
                        .slot
                        .checked_add(DRAW_DELAY_SLOTS)
                        .ok_or(MarketError::Overflow)?;
                    accs.job.load_mut()?.draw_slot = draw_slot;
                    emit!(DrawResealed {
                        job: job_key,
                        draw_slot,
                    });
                    return Ok(());
                }
            };
            Some(
                solana_sha256_hasher::hashv(&[DRAW_DOMAIN, job_key.as_ref(), &entropy, &hash])
                    .to_bytes(),
            )
        };
        let mut providers = remaining
            .iter()
            .map(Account::<'info, Provider>::try_from)
            .collect::<Result<Vec<_>>>()?;
        let mut job = accs.job.load_mut()?;
        let mut weights = [0u64; MAX_APPLICANTS];
        for ((w, provider), applicant) in weights.iter_mut().zip(&providers).zip(job.applicants()) {
            provider.check_version()?;
            *w = applicant.stake;
        }
        let mut won = [false; MAX_APPLICANTS];
        let mut winners = Vec::with_capacity(job.replicas as usize);
        if let Some(seed) = seed {
            for round in 0..job.replicas {
                let Some(winner) = pick(&seed, round, &weights)? else {
                    break;
                };
                weights[winner] = 0;
                won[winner] = true;
                let provider_key = providers[winner].key();
                let index = job.claimed as usize;
                let slot = job.slots.get_mut(index).ok_or(MarketError::NoFreeSlot)?;
                slot.provider = provider_key;
                slot.state = SlotState::Claimed as u8;
                slot.claimed_at = clock.unix_timestamp;
                job.claimed += 1;
                winners.push(provider_key);
            }
        }
        // Unlock what each applicant locked, except a winner's collateral.
        let collateral = job.collateral_per_replica;
        for ((provider, applicant), won) in providers.iter_mut().zip(job.applicants()).zip(won) {
            let keep = if won { collateral } else { 0 };
            provider.unlock(
                applicant
                    .stake
                    .checked_sub(keep)
                    .ok_or(MarketError::InvariantViolated)?,
            )?;
        }
        job.drawn = 1;
        if job.claimed == job.replicas {
            job.status = JobStatus::Running as u8;
        }
        job.invariant()?;
        drop(job);
        for provider in &providers {
            provider.exit(&crate::ID)?;
        }
        emit!(JobDrawn {
            job: job_key,
            seed_slot: if late { 0 } else { draw_slot },
            winners,
        });
        Ok(())
    }
}

/// Round `round`'s winner: an index drawn with probability proportional to its weight, or
/// `None` when no weight is left.
fn pick(seed: &[u8; 32], round: u8, weights: &[u64; MAX_APPLICANTS]) -> Result<Option<usize>> {
    let total: u128 = weights.iter().map(|w| *w as u128).sum();
    if total == 0 {
        return Ok(None);
    }
    let roll = solana_sha256_hasher::hashv(&[seed, &[round]]).to_bytes();
    let mut x = u128::from(u64::from_le_bytes(
        roll[..8]
            .try_into()
            .map_err(|_| MarketError::InvariantViolated)?,
    )) % total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w as u128 {
            return Ok(Some(i));
        }
        x -= *w as u128;
    }
    err!(MarketError::InvariantViolated)
}
