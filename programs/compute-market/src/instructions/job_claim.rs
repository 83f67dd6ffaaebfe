use anchor_lang::prelude::*;

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::JobClaimed;
use crate::state::{Job, JobStatus, Market, Provider, ProviderStatus, SlotState};

#[derive(Accounts)]
pub struct JobClaim<'info> {
    pub owner: Signer<'info>,
    #[account(constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion)]
    pub market: Account<'info, Market>,
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
}

/// The rules a provider must meet to claim a first-come job or apply to a drawn one: the market
/// is open, the job open and within its claim window, the provider active, not the job's own
/// client, on its allowlist, with the record, bonded stake (the job's minimum, which includes the
/// market's at posting), age and capabilities it asks, and enough free stake for the collateral.
pub fn check_eligible(
    job: &Job,
    market: &Market,
    provider: &Provider,
    provider_key: &Pubkey,
    now: i64,
) -> Result<()> {
    require!(!market.paused, MarketError::MarketPaused);
    require!(job.status() == JobStatus::Open, MarketError::JobNotOpen);
    require!(now <= job.claim_deadline, MarketError::ClaimDeadlinePassed);
    require!(
        job.slot_of(provider_key).is_none(),
        MarketError::AlreadyClaimed
    );
    require_keys_neq!(provider.owner, job.client, MarketError::ClientCannotClaim);
    require!(
        provider.status == ProviderStatus::Active,
        MarketError::ProviderPaused
    );
    require!(
        job.allowlist().is_empty() || job.allowlist().contains(provider_key),
        MarketError::NotOnAllowlist
    );
    require!(
        provider.jobs_completed >= job.min_completed_jobs as u64,
        MarketError::TrackRecordTooShort
    );
    require!(
        provider.bonded_stake() >= job.min_stake,
        MarketError::StakeBelowJobMinimum
    );
    require!(
        now.saturating_sub(provider.registered_at) >= job.min_provider_age,
        MarketError::ProviderTooNew
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

impl JobClaim<'_> {
    pub fn validate(&self) -> Result<()> {
        let job = self.job.load()?;
        require!(!job.is_drawn(), MarketError::JobIsDrawn);
        require!(!self.market.paused, MarketError::MarketPaused);
        require!(job.status() == JobStatus::Open, MarketError::JobNotOpen);
        let clock = Clock::get()?;
        require!(
            clock.unix_timestamp <= job.claim_deadline,
            MarketError::ClaimDeadlinePassed
        );
        // Nobody claims in the posting transaction (or slot): a client cannot post and fill
        // its own quorum atomically, before any other provider has seen the job.
        require!(clock.slot > job.posted_slot, MarketError::ClaimTooEarly);
        require!(job.claimed < job.replicas, MarketError::NoFreeSlot);
        check_eligible(
            &job,
            &self.market,
            &self.provider,
            &self.provider.key(),
            clock.unix_timestamp,
        )
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
