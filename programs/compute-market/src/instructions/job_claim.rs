use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::events::JobClaimed;
use crate::state::{Job, JobStatus, Market, Provider, ProviderStatus, SlotState};

#[derive(Accounts)]
pub struct JobClaim<'info> {
    pub owner: Signer<'info>,
    pub market: Account<'info, Market>,
    #[account(
        mut,
        has_one = owner @ MarketError::NotProviderOwner,
        has_one = market @ MarketError::WrongMarket,
    )]
    pub provider: Account<'info, Provider>,
    #[account(mut, has_one = market @ MarketError::WrongMarket)]
    pub job: AccountLoader<'info, Job>,
}

impl JobClaim<'_> {
    pub fn validate(&self) -> Result<()> {
        let (job, provider) = (self.job.load()?, &self.provider);
        require!(!self.market.paused, MarketError::MarketPaused);
        require!(job.status() == JobStatus::Open, MarketError::JobNotOpen);
        let now = Clock::get()?.unix_timestamp;
        require!(now <= job.claim_deadline, MarketError::ClaimDeadlinePassed);
        require!(job.claimed < job.replicas, MarketError::NoFreeSlot);
        require!(
            job.slot_of(&provider.key()).is_none(),
            MarketError::AlreadyClaimed
        );
        require!(
            provider.status == ProviderStatus::Active,
            MarketError::ProviderPaused
        );
        require!(
            provider.capabilities.meets(&job.spec.min_capabilities),
            MarketError::CapabilitiesTooLow
        );
        require!(
            provider.free_stake()? >= job.collateral_per_replica,
            MarketError::InsufficientFreeStake
        );
        Ok(())
    }
}

impl JobClaim<'_> {
    /// Takes the next free replica slot and locks the job's collateral in the provider's stake.
    /// Touches only the job and the provider: claims on different jobs never contend.
    pub fn handle(ctx: Context<JobClaim>) -> Result<()> {
        let accs = ctx.accounts;
        let now = Clock::get()?.unix_timestamp;
        let provider_key = accs.provider.key();
        let mut job = accs.job.load_mut()?;
        let collateral = job.collateral_per_replica;
        accs.provider.lock(collateral)?;
        let index = job.claimed as usize;
        let slot = job.slots.get_mut(index).ok_or(MarketError::NoFreeSlot)?;
        slot.provider = provider_key;
        slot.state = SlotState::Claimed as u8;
        slot.claimed_at = now;
        job.claimed += 1;
        if job.claimed == job.replicas {
            job.status = JobStatus::Running as u8;
        }
        emit!(JobClaimed {
            job: accs.job.key(),
            provider: provider_key,
            slot: index as u8,
            collateral,
            claimed: job.claimed,
        });
        Ok(())
    }
}
