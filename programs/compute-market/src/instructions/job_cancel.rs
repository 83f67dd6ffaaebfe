use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::JobCancelled;
use crate::state::{Job, JobStatus, Market};
use crate::token::{Authority, Tokens};

#[derive(Accounts)]
pub struct JobCancel<'info> {
    /// The job's client; receives the refund and the rent of the job and its escrow.
    #[account(mut)]
    pub client: Signer<'info>,
    pub market: Account<'info, Market>,
    #[account(address = market.payment_mint @ MarketError::WrongMint)]
    pub payment_mint: Account<'info, Mint>,
    #[account(
        mut,
        close = client,
        has_one = client @ MarketError::NotJobClient,
        has_one = market @ MarketError::WrongMarket,
        has_one = escrow @ MarketError::WrongVault,
        has_one = client_token @ MarketError::WrongTokenOwner,
    )]
    pub job: AccountLoader<'info, Job>,
    #[account(mut)]
    pub escrow: Account<'info, TokenAccount>,
    /// The token account the payment came from.
    #[account(mut)]
    pub client_token: Account<'info, TokenAccount>,
    pub token_program: Program<'info, Token>,
}

impl JobCancel<'_> {
    pub fn validate(&self) -> Result<()> {
        let job = self.job.load()?;
        require!(job.status() == JobStatus::Open, MarketError::JobNotOpen);
        require!(job.claimed == 0, MarketError::JobAlreadyClaimed);
        Ok(())
    }
}

impl JobCancel<'_> {
    /// Refunds the whole escrow and closes the escrow and the job to the client. Works while the
    /// market is paused.
    pub fn handle(ctx: Context<JobCancel>) -> Result<()> {
        let accs = &ctx.accounts;
        // `has_one` checked the job's market and client; only its id and bump are read here, and
        // the borrow ends before the token CPIs (the job PDA signs them).
        let (job_id, bump) = {
            let job = accs.job.load()?;
            (job.job_id.to_le_bytes(), [job.bump])
        };
        let (market, client) = (accs.market.key(), accs.client.key());
        let seeds: &[&[u8]] = &[SEED_JOB, market.as_ref(), client.as_ref(), &job_id, &bump];
        let refunded = accs.escrow.amount;
        let job_info = accs.job.to_account_info();
        let escrow = accs.escrow.to_account_info();
        let signer = [seeds];
        let escrow_authority = Authority {
            info: &job_info,
            seeds: &signer,
        };
        let tokens = Tokens {
            program: &accs.token_program.to_account_info(),
            mint: &accs.payment_mint.to_account_info(),
            decimals: accs.payment_mint.decimals,
        };
        tokens.transfer(
            &escrow,
            &accs.client_token.to_account_info(),
            &escrow_authority,
            refunded,
        )?;
        tokens.close(&escrow, &accs.client.to_account_info(), &escrow_authority)?;
        emit!(JobCancelled {
            job: job_info.key(),
            client,
            refunded,
        });
        Ok(())
    }
}
