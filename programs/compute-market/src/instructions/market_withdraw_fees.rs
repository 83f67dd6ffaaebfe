use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::FeesWithdrawn;
use crate::state::Market;
use crate::token::{Authority, Tokens};

#[derive(Accounts)]
pub struct MarketWithdrawFees<'info> {
    pub authority: Signer<'info>,
    #[account(
        constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion,
        has_one = authority @ MarketError::NotMarketAuthority,
        has_one = treasury @ MarketError::WrongTreasury,
    )]
    pub market: Account<'info, Market>,
    #[account(address = market.payment_mint @ MarketError::WrongMint)]
    pub payment_mint: Account<'info, Mint>,
    #[account(mut)]
    pub treasury: Account<'info, TokenAccount>,
    /// Any token account of the payment mint, of the authority's choosing.
    #[account(mut, constraint = destination.mint == market.payment_mint @ MarketError::WrongMint)]
    pub destination: Account<'info, TokenAccount>,
    pub token_program: Program<'info, Token>,
}

impl MarketWithdrawFees<'_> {
    /// Moves `amount` of collected fees from the treasury vault to `destination`.
    pub fn handle(ctx: Context<MarketWithdrawFees>, amount: u64) -> Result<()> {
        require!(amount > 0, MarketError::ZeroAmount);
        let accs = ctx.accounts;
        require!(
            accs.treasury.amount >= amount,
            MarketError::InsufficientTreasury
        );
        let market = &accs.market;
        let seeds: &[&[u8]] = &[
            SEED_MARKET,
            market.payment_mint.as_ref(),
            market.creator.as_ref(),
            &[market.bump],
        ];
        Tokens {
            program: &accs.token_program.to_account_info(),
            mint: &accs.payment_mint.to_account_info(),
            decimals: accs.payment_mint.decimals,
        }
        .transfer(
            &accs.treasury.to_account_info(),
            &accs.destination.to_account_info(),
            &Authority {
                info: &market.to_account_info(),
                seeds: &[seeds],
            },
            amount,
        )?;
        emit!(FeesWithdrawn {
            market: market.key(),
            amount,
            destination: accs.destination.key(),
        });
        Ok(())
    }
}
