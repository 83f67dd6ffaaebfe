use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::closing::{close, load_job, Closing, ClosingJob};
use crate::constants::*;
use crate::errors::MarketError;
use crate::events::JobClosed;
use crate::state::Market;
use crate::token::Tokens;

#[derive(Accounts)]
pub struct JobClose<'info> {
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

/// Checks the job of a closing instruction belongs to this client, market and escrow.
pub fn check_job(
    job: &ClosingJob,
    client: &Pubkey,
    market: &Pubkey,
    escrow: &Pubkey,
) -> Result<()> {
    require_keys_eq!(job.client, *client, MarketError::NotJobClient);
    require_keys_eq!(job.market, *market, MarketError::WrongMarket);
    require_keys_eq!(job.escrow, *escrow, MarketError::WrongVault);
    Ok(())
}

impl JobClose<'_> {
    pub fn validate(&self) -> Result<ClosingJob> {
        let job = load_job(&self.job)?;
        check_job(
            &job,
            &self.client.key(),
            &self.market.key(),
            &self.escrow.key(),
        )?;
        require!(job.status.is_settled(), MarketError::JobNotSettled);
        Ok(job)
    }
}

impl JobClose<'_> {
    /// Withdraws a settled job's refund to `destination`, closes the escrow and shrinks the job
    /// to a tombstone (rent back to the client; the result hash stays in the tombstone and the
    /// `JobSettled` event).
    pub fn handle(ctx: Context<JobClose>) -> Result<()> {
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
        emit!(JobClosed {
            job: accs.job.key(),
            client: accs.client.key(),
            refunded,
            destination: accs.destination.key(),
        });
        Ok(())
    }
}
