//! Closing: the one routine that ends a job's life, used by `job_close` (after settlement) and
//! `job_cancel` (nothing claimed). The client's refund leaves the escrow for a token account of
//! the client's choosing, the escrow closes, and the job account shrinks to a [`JobTombstone`]:
//! its address can never hold a job again, and the rest of the rent goes back to the client.

use anchor_lang::prelude::*;

use crate::constants::*;
use crate::errors::MarketError;
use crate::state::{Job, JobStatus, JobTombstone};
use crate::token::{Authority, Tokens};

/// Everything one closing reads and writes.
pub struct Closing<'a, 'info> {
    /// The job account (a PDA of this program; signs for the escrow).
    pub job: &'a AccountInfo<'info>,
    /// The job's escrow vault.
    pub escrow: &'a AccountInfo<'info>,
    /// Its token balance: the client's refund.
    pub escrow_amount: u64,
    /// Token account receiving the refund.
    pub destination: &'a AccountInfo<'info>,
    /// The client wallet: receives the rent.
    pub client: &'a AccountInfo<'info>,
    /// Token program and mint.
    pub tokens: Tokens<'a, 'info>,
}

/// The fields of a job that closing reads (the whole job is too big for the SBF stack).
pub struct ClosingJob {
    /// Market it was posted to.
    pub market: Pubkey,
    /// Its client.
    pub client: Pubkey,
    /// Its escrow vault.
    pub escrow: Pubkey,
    /// Its id (PDA seed).
    pub job_id: u64,
    /// Its PDA bump.
    pub bump: u8,
    /// Its status.
    pub status: JobStatus,
    /// Slots claimed.
    pub claimed: u8,
    /// Applicants (drawn jobs).
    pub applicants_len: u8,
    /// Its result hash.
    pub result_hash: [u8; 32],
}

/// Loads the job behind a closing's unchecked job account: owned by this program, a `Job` of
/// the current version. (A typed `AccountLoader` would write the `Job` discriminator back over
/// the tombstone on exit.)
pub fn load_job(info: &AccountInfo) -> Result<ClosingJob> {
    require_keys_eq!(
        *info.owner,
        crate::ID,
        ErrorCode::AccountOwnedByWrongProgram
    );
    let data = info.try_borrow_data()?;
    require!(
        data.len() >= Job::LEN && data[..8] == *Job::DISCRIMINATOR,
        ErrorCode::AccountDiscriminatorMismatch
    );
    let job: &Job = bytemuck::try_from_bytes(&data[8..Job::LEN])
        .map_err(|_| error!(ErrorCode::AccountDidNotDeserialize))?;
    job.check_version()?;
    Ok(ClosingJob {
        market: job.market,
        client: job.client,
        escrow: job.escrow,
        job_id: job.job_id,
        bump: job.bump,
        status: job.status(),
        claimed: job.claimed,
        applicants_len: job.applicants_len,
        result_hash: job.result_hash,
    })
}

/// Pays the refund out, closes the escrow and leaves the tombstone. Returns the refund.
pub fn close(c: &Closing, job: &ClosingJob) -> Result<u64> {
    let job_id = job.job_id.to_le_bytes();
    let bump = [job.bump];
    let seeds: &[&[u8]] = &[
        SEED_JOB,
        job.market.as_ref(),
        job.client.as_ref(),
        &job_id,
        &bump,
    ];
    let signer = [seeds];
    let authority = Authority {
        info: c.job,
        seeds: &signer,
    };
    c.tokens
        .transfer(c.escrow, c.destination, &authority, c.escrow_amount)?;
    c.tokens.close(c.escrow, c.client, &authority)?;

    let len = JobTombstone::LEN;
    let keep = Rent::get()?.minimum_balance(len);
    let excess = c
        .job
        .lamports()
        .checked_sub(keep)
        .ok_or(MarketError::InvariantViolated)?;
    **c.job.try_borrow_mut_lamports()? -= excess;
    **c.client.try_borrow_mut_lamports()? = c
        .client
        .lamports()
        .checked_add(excess)
        .ok_or(MarketError::Overflow)?;
    c.job.resize(len)?;
    let tombstone = JobTombstone {
        version: TOMBSTONE_VERSION,
        status: job.status as u8,
        result_hash: job.result_hash,
    };
    let mut data = c.job.try_borrow_mut_data()?;
    tombstone.try_serialize(&mut &mut data[..])?;
    Ok(c.escrow_amount)
}
