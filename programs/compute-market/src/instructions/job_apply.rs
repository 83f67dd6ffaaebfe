use anchor_lang::prelude::*;

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::JobApplied;
use crate::instructions::job_claim::check_eligible;
use crate::state::{Applicant, Job, Market, Provider};

#[derive(Accounts)]
pub struct JobApply<'info> {
    pub owner: Signer<'info>,
    #[account(constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion)]
    pub market: Account<'info, Market>,
    /// Locks the application's stake.
    #[account(
        mut,
        constraint = provider.version == PROVIDER_VERSION @ MarketError::UnsupportedVersion,
        has_one = owner @ MarketError::NotProviderOwner,
        has_one = market @ MarketError::WrongMarket,
    )]
    pub provider: Account<'info, Provider>,
    #[account(
        mut,
        constraint = job.load()?.version == JOB_VERSION @ MarketError::UnsupportedVersion,
        has_one = market @ MarketError::WrongMarket,
    )]
    pub job: AccountLoader<'info, Job>,
    /// When every place is taken: the applicant that locked the least, displaced (its stake is
    /// unlocked).
    #[account(
        mut,
        constraint = displaced.version == PROVIDER_VERSION @ MarketError::UnsupportedVersion,
    )]
    pub displaced: Option<Account<'info, Provider>>,
}

impl JobApply<'_> {
    /// Where the applicant goes: a free place, or the place of the applicant that locked the
    /// least, which it displaces (it must lock strictly more).
    pub fn validate(&self, stake: u64) -> Result<usize> {
        let job = self.job.load()?;
        require!(job.is_drawn(), MarketError::JobNotDrawn);
        let provider_key = self.provider.key();
        let now = Clock::get()?.unix_timestamp;
        check_eligible(&job, &self.market, &self.provider, &provider_key, now)?;
        require!(
            stake >= job.collateral_per_replica,
            MarketError::WeightBelowCollateral
        );
        require!(
            self.provider.free_stake()? >= stake,
            MarketError::InsufficientFreeStake
        );
        let applicants = job.applicants();
        require!(
            !applicants.iter().any(|a| a.provider == provider_key),
            MarketError::AlreadyApplied
        );
        if applicants.len() < MAX_APPLICANTS {
            require!(
                self.displaced.is_none(),
                MarketError::WrongDisplacedApplicant
            );
            return Ok(applicants.len());
        }
        let (smallest, least) = applicants
            .iter()
            .enumerate()
            .min_by_key(|(_, a)| a.stake)
            .ok_or(MarketError::InvariantViolated)?;
        require!(stake > least.stake, MarketError::ApplicantsFull);
        require!(
            self.displaced
                .as_ref()
                .is_some_and(|d| d.key() == least.provider),
            MarketError::WrongDisplacedApplicant
        );
        Ok(smallest)
    }
}

impl JobApply<'_> {
    /// Applies to a drawn job, locking `stake` (at least the collateral) as its weight in the
    /// draw, and mixes the applicant's `contribution` into the job's entropy. The draw's seed
    /// slot moves to [`DRAW_DELAY_SLOTS`] after this one, so no applicant can know the hash
    /// that seeds the draw, and no weight can change after it is known.
    pub fn handle(ctx: Context<JobApply>, contribution: [u8; 32], stake: u64) -> Result<()> {
        let place = ctx.accounts.validate(stake)?;
        let accs = ctx.accounts;
        let provider = accs.provider.key();
        accs.provider.lock(stake)?;
        let slot = Clock::get()?.slot;
        let job_key = accs.job.key();
        let mut job = accs.job.load_mut()?;
        let displaced = match accs.displaced.as_mut() {
            Some(d) => {
                d.unlock(job.applicants[place].stake)?;
                Some(d.key())
            }
            None => {
                job.applicants_len += 1;
                None
            }
        };
        job.applicants[place] = Applicant { provider, stake };
        job.entropy = solana_sha256_hasher::hashv(&[
            APPLY_DOMAIN,
            &job.entropy,
            provider.as_ref(),
            &contribution,
        ])
        .to_bytes();
        job.draw_slot = slot
            .checked_add(DRAW_DELAY_SLOTS)
            .ok_or(MarketError::Overflow)?;
        emit!(JobApplied {
            job: job_key,
            provider,
            stake,
            applicants: job.applicants_len,
            displaced,
        });
        Ok(())
    }
}
