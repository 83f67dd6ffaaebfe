use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::events::JobClosed;
use crate::state::Job;

#[derive(Accounts)]
pub struct JobClose<'info> {
    /// The job's client; receives the rent.
    #[account(mut)]
    pub client: Signer<'info>,
    #[account(mut, close = client, has_one = client @ MarketError::NotJobClient)]
    pub job: AccountLoader<'info, Job>,
}

impl JobClose<'_> {
    pub fn validate(&self) -> Result<()> {
        require!(
            self.job.load()?.status().is_settled(),
            MarketError::JobNotSettled
        );
        Ok(())
    }
}

impl JobClose<'_> {
    /// Closes a settled job and returns its rent; the result hash stays in the `JobSettled` event.
    pub fn handle(ctx: Context<JobClose>) -> Result<()> {
        emit!(JobClosed {
            job: ctx.accounts.job.key(),
            client: ctx.accounts.client.key(),
        });
        Ok(())
    }
}
