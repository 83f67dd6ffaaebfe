use anchor_lang::prelude::*;

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::JobGivenBack;
use crate::state::{Job, Provider, SlotState};

#[derive(Accounts)]
pub struct JobGiveBack<'info> {
    pub owner: Signer<'info>,
    #[account(
        mut,
        constraint = provider.version == PROVIDER_VERSION @ MarketError::UnsupportedVersion,
        has_one = owner @ MarketError::NotProviderOwner,
    )]
    pub provider: Account<'info, Provider>,
    #[account(
        mut,
        constraint = job.load()?.version == JOB_VERSION @ MarketError::UnsupportedVersion,
    )]
    pub job: AccountLoader<'info, Job>,
}

impl JobGiveBack<'_> {
    /// The slot this provider holds, once it may give it back: claimed, not yet committed, and
    /// before the commit deadline.
    pub fn validate(&self) -> Result<usize> {
        let job = self.job.load()?;
        require!(!job.status().is_settled(), MarketError::JobNotOpen);
        let index = job
            .slot_of(&self.provider.key())
            .ok_or(MarketError::NotAReplica)?;
        require!(
            job.slots[index].state() == SlotState::Claimed,
            MarketError::WrongSlotState
        );
        let now = Clock::get()?.unix_timestamp;
        require!(
            now <= job.commit_deadline,
            MarketError::CommitDeadlinePassed
        );
        Ok(index)
    }
}

impl JobGiveBack<'_> {
    /// A provider that cannot run what it claimed (time limit, device limits, unreachable blobs)
    /// hands its slot back: its collateral is unlocked less the job's give-back cost (burnt,
    /// paid to nobody, always less than a slash), and the slot is free to claim again while the
    /// claim window is open.
    pub fn handle(ctx: Context<JobGiveBack>) -> Result<()> {
        let index = ctx.accounts.validate()?;
        let provider_key = ctx.accounts.provider.key();
        let mut job = ctx.accounts.job.load_mut()?;
        let cost = job.give_back_cost.min(job.collateral_per_replica);
        let provider = &mut ctx.accounts.provider;
        provider.forfeit(job.collateral_per_replica, cost)?;
        provider.jobs_given_back = provider.jobs_given_back.saturating_add(1);
        job.release_slot(index)?;
        job.invariant()?;
        emit!(JobGivenBack {
            job: ctx.accounts.job.key(),
            provider: provider_key,
            slot: index as u8,
            cost,
            claimed: job.claimed,
        });
        Ok(())
    }
}
