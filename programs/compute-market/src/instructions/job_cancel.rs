use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::closing::{close, load_job, Closing, ClosingJob};
use crate::constants::*;
use crate::errors::MarketError;
use crate::events::JobCancelled;
use crate::instructions::job_close::check_job;
use crate::state::{JobStatus, Market};
use crate::token::Tokens;

#[derive(Accounts)]
pub struct JobCancel<'info> {
    /// The job's client; receives the rent.
    #[account(mut)]
    pub client: Signer<'info>,
    #[account(constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion)]
    pub market: Account<'info, Market>,
    #[account(address = market.payment_mint @ MarketError::WrongMint)]
    pub payment_mint: Account<'info, Mint>,
    /// CHECK: loaded and checked in `validate` (`closing::load_job`: owner, discriminator,
    /// version; then client, market and escrow); shrunk to a tombstone by the handler.
    #[account(mut)]
    pub job: UncheckedAccount<'info>,
    #[account(mut)]
    pub escrow: Account<'info, TokenAccount>,
    /// Any token account of the payment mint, of the client's choosing: receives the refund.
    #[account(mut, constraint = destination.mint == market.payment_mint @ MarketError::WrongMint)]
    pub destination: Account<'info, TokenAccount>,
    pub token_program: Program<'info, Token>,
}

impl JobCancel<'_> {
    pub fn validate(&self) -> Result<ClosingJob> {
        let job = load_job(&self.job)?;
        check_job(
            &job,
            &self.client.key(),
            &self.market.key(),
            &self.escrow.key(),
        )?;
        require!(job.status == JobStatus::Open, MarketError::JobNotOpen);
        require!(
            job.claimed == 0 && job.applicants_len == 0,
            MarketError::JobAlreadyClaimed
        );
        Ok(job)
    }
}

impl JobCancel<'_> {
    /// Refunds the whole escrow to `destination` and closes the job (a tombstone stays). Works
    /// while the market is paused.
    pub fn handle(ctx: Context<JobCancel>) -> Result<()> {
        let accs = ctx.accounts;
        let job = accs.validate()?;
        let refunded = close(
            &Closing {
                job: &accs.job.to_account_info(),
                escrow: &accs.escrow.to_account_info(),
                escrow_amount: accs.escrow.amount,
                destination: &accs.destination.to_account_info(),
                client: &accs.client.to_account_info(),
                tokens: Tokens {
                    program: &accs.token_program.to_account_info(),
                    mint: &accs.payment_mint.to_account_info(),
                    decimals: accs.payment_mint.decimals,
                },
            },
            &job,
        )?;
        emit!(JobCancelled {
            job: accs.job.key(),
            client: accs.client.key(),
            refunded,
            destination: accs.destination.key(),
        });
        Ok(())
    }
}
