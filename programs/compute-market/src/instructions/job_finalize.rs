use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::settlement::{settle_from_remaining, JobSettle};
use crate::state::Outcome;

/// Checks a replicated job can be finalized now.
fn validate(accs: &JobSettle, now: i64) -> Result<()> {
    let job = accs.job.load()?;
    require!(!job.status().is_settled(), MarketError::JobAlreadySettled);
    require!(job.replicas > 1, MarketError::WrongVerificationMode);
    require!(job.can_finalize(now), MarketError::FinalizeTooEarly);
    Ok(())
}

impl<'info> JobSettle<'info> {
    /// Anyone settles a replicated job once its reveals are in (or the reveal deadline passed):
    /// Completed when `quorum` revealed hashes agree, Failed otherwise.
    pub fn finalize(ctx: Context<'info, Self>) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        validate(ctx.accounts, now)?;
        let outcome = match ctx.accounts.job.load()?.quorum_hash() {
            Some(hash) => Outcome::Completed(hash),
            None => Outcome::Failed,
        };
        settle_from_remaining(ctx, outcome, now)
    }
}
