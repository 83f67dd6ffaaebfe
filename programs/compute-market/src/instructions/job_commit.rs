use anchor_lang::prelude::*;

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::ResultCommitted;
use crate::state::{Job, Provider, SlotState};

#[derive(Accounts)]
pub struct JobCommit<'info> {
    pub owner: Signer<'info>,
    #[account(
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

impl JobCommit<'_> {
    /// The slot this provider holds, once every rule for committing holds.
    pub fn validate(&self) -> Result<usize> {
        let job = self.job.load()?;
        require!(job.replicas > 1, MarketError::WrongVerificationMode);
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

impl JobCommit<'_> {
    /// Posts `commitment = commitment_hash(job, provider, result_hash, salt)` without revealing
    /// the result.
    pub fn handle(ctx: Context<JobCommit>, commitment: [u8; 32]) -> Result<()> {
        let index = ctx.accounts.validate()?;
        let provider = ctx.accounts.provider.key();
        let mut job = ctx.accounts.job.load_mut()?;
        let slot = &mut job.slots[index];
        slot.commitment = commitment;
        slot.state = SlotState::Committed as u8;
        job.committed += 1;
        emit!(ResultCommitted {
            job: ctx.accounts.job.key(),
            provider,
            slot: index as u8,
            commitment,
        });
        Ok(())
    }
}
