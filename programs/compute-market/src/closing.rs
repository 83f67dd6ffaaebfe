//! Closing: the one routine that ends a job's life and the accounts it needs, used by
//! `job_close` (after settlement) and `job_cancel` (nothing claimed). The client's refund leaves the escrow for a token account of
//! the client's choosing, the escrow closes, and the job account shrinks to a [`JobTombstone`]:
//! its address can never hold a job again, and the rest of the rent goes back to the client.

use anchor_lang::prelude::*;

use crate::constants::*;
use crate::errors::MarketError;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::state::{Job, JobStatus, JobTombstone, Market};
use crate::token::{Authority, Tokens};

/// Accounts of `job_close` and `job_cancel` (the client's, either way).
#[derive(Accounts)]
pub struct JobClose<'info> {
    /// The job's client; receives the rent.
    #[account(mut)]
    pub client: Signer<'info>,
    #[account(constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion)]
    pub market: Account<'info, Market>,
    #[account(address = market.payment_mint @ MarketError::WrongMint)]
    pub payment_mint: Account<'info, Mint>,
    /// CHECK: loaded and checked by `JobClose::load` (owner, discriminator, version, then
    /// client, market and escrow); shrunk to a tombstone by `JobClose::end`. A typed
    /// `AccountLoader` would write the `Job` discriminator back over the tombstone on exit.
    #[account(mut)]
    pub job: UncheckedAccount<'info>,
    #[account(mut)]
    pub escrow: Account<'info, TokenAccount>,
    /// Any token account of the payment mint, of the client's choosing: receives the refund.
    #[account(mut, constraint = destination.mint == market.payment_mint @ MarketError::WrongMint)]
    pub destination: Account<'info, TokenAccount>,
    pub token_program: Program<'info, Token>,
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

/// Reads the job behind an unchecked account: owned by this program, a `Job` of the current
/// version.
fn read_job(info: &AccountInfo) -> Result<ClosingJob> {
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

impl JobClose<'_> {
    /// The job, once it is a job of this client, market and escrow.
    pub fn load(&self) -> Result<ClosingJob> {
        let job = read_job(&self.job)?;
        require_keys_eq!(job.client, self.client.key(), MarketError::NotJobClient);
        require_keys_eq!(job.market, self.market.key(), MarketError::WrongMarket);
        require_keys_eq!(job.escrow, self.escrow.key(), MarketError::WrongVault);
        Ok(job)
    }

    /// Pays the whole escrow out to `destination`, closes the escrow and leaves the tombstone.
    /// Returns the refund.
    pub fn end(&self, job: &ClosingJob) -> Result<u64> {
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
        let job_info = self.job.to_account_info();
        let authority = Authority {
            info: &job_info,
            seeds: &signer,
        };
        let tokens = Tokens {
            program: &self.token_program.to_account_info(),
            mint: &self.payment_mint.to_account_info(),
            decimals: self.payment_mint.decimals,
        };
        let escrow = self.escrow.to_account_info();
        let client = self.client.to_account_info();
        let refund = self.escrow.amount;
        tokens.transfer(
            &escrow,
            &self.destination.to_account_info(),
            &authority,
            refund,
        )?;
        tokens.close(&escrow, &client, &authority)?;
        bury(&job_info, &client, job)?;
        Ok(refund)
    }
}

/// Shrinks the job account to its tombstone; the rest of its rent goes to the client.
fn bury(job_info: &AccountInfo, client: &AccountInfo, job: &ClosingJob) -> Result<()> {
    let len = JobTombstone::LEN;
    let keep = Rent::get()?.minimum_balance(len);
    let excess = job_info
        .lamports()
        .checked_sub(keep)
        .ok_or(MarketError::InvariantViolated)?;
    **job_info.try_borrow_mut_lamports()? -= excess;
    **client.try_borrow_mut_lamports()? = client
        .lamports()
        .checked_add(excess)
        .ok_or(MarketError::Overflow)?;
    job_info.resize(len)?;
    let tombstone = JobTombstone {
        version: TOMBSTONE_VERSION,
        status: job.status as u8,
        result_hash: job.result_hash,
    };
    let mut data = job_info.try_borrow_mut_data()?;
    tombstone.try_serialize(&mut &mut data[..])
}
