use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::settlement::{settle_from_remaining, JobSettle};
use crate::state::{Expiry, Outcome};

/// Why the job of `accs` can be expired now.
fn validate(accs: &JobSettle, now: i64) -> Result<Expiry> {
    let job = accs.job.load()?;
    require!(!job.status().is_settled(), MarketError::JobAlreadySettled);
    job.expiry(now)
        .ok_or_else(|| error!(MarketError::ExpireTooEarly))
}

impl<'info> JobSettle<'info> {
    /// Anyone expires a job stuck past a deadline with too few replicas to reach quorum: the client
    /// is refunded; claimers that never committed after enough claims arrived are slashed.
    pub fn expire(ctx: Context<'info, Self>) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let expiry = validate(ctx.accounts, now)?;
        settle_from_remaining(ctx, Outcome::Expired(expiry), now)
    }
}
