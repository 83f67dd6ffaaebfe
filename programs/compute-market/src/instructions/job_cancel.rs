use anchor_lang::prelude::*;

use crate::closing::JobClose;
use crate::errors::MarketError;
use crate::events::JobCancelled;
use crate::state::JobStatus;

impl JobClose<'_> {
    /// Refunds the whole escrow of an unclaimed job (no applicant either) to `destination` and
    /// closes the job (a tombstone stays). Works while the market is paused.
    pub fn cancel(ctx: Context<JobClose>) -> Result<()> {
        let accs = ctx.accounts;
        let job = accs.load()?;
        require!(job.status == JobStatus::Open, MarketError::JobNotOpen);
        require!(
            job.claimed == 0 && job.applicants_len == 0,
            MarketError::JobAlreadyClaimed
        );
        let refunded = accs.end(&job)?;
        emit!(JobCancelled {
            job: accs.job.key(),
            client: accs.client.key(),
            refunded,
            destination: accs.destination.key(),
        });
        Ok(())
    }
}
