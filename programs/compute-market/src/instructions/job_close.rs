use anchor_lang::prelude::*;

use crate::closing::JobClose;
use crate::errors::MarketError;
use crate::events::JobClosed;

impl JobClose<'_> {
    /// Withdraws a settled job's refund to `destination`, closes the escrow and shrinks the job
    /// to a tombstone (rent back to the client; the result hash stays in the tombstone and the
    /// `JobSettled` event).
    pub fn close(ctx: Context<JobClose>) -> Result<()> {
        let accs = ctx.accounts;
        let job = accs.load()?;
        require!(job.status.is_settled(), MarketError::JobNotSettled);
        let refunded = accs.end(&job)?;
        emit!(JobClosed {
            job: accs.job.key(),
            client: accs.client.key(),
            refunded,
            destination: accs.destination.key(),
        });
        Ok(())
    }
}
