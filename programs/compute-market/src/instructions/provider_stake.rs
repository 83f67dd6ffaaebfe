use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::ProviderStaked;
use crate::state::{Market, Provider};
use crate::token::{Authority, Tokens};

#[derive(Accounts)]
pub struct ProviderStake<'info> {
    pub owner: Signer<'info>,
    #[account(constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion)]
    pub market: Account<'info, Market>,
    #[account(address = market.payment_mint @ MarketError::WrongMint)]
    pub payment_mint: Account<'info, Mint>,
    #[account(
        mut,
        seeds = [SEED_PROVIDER, market.key().as_ref(), owner.key().as_ref()],
        bump = provider.bump,
        constraint = provider.version == PROVIDER_VERSION @ MarketError::UnsupportedVersion,
        has_one = owner @ MarketError::NotProviderOwner,
        has_one = market @ MarketError::WrongMarket,
        has_one = stake_vault @ MarketError::WrongVault,
    )]
    pub provider: Account<'info, Provider>,
    #[account(mut)]
    pub stake_vault: Account<'info, TokenAccount>,
    #[account(
        mut,
        constraint = owner_token.mint == payment_mint.key() @ MarketError::WrongMint,
        constraint = owner_token.owner == owner.key() @ MarketError::WrongTokenOwner,
    )]
    pub owner_token: Account<'info, TokenAccount>,
    pub token_program: Program<'info, Token>,
}

impl ProviderStake<'_> {
    /// Adds `amount` (base units) from the owner's token account to the provider's stake.
    pub fn handle(ctx: Context<ProviderStake>, amount: u64) -> Result<()> {
        require!(amount > 0, MarketError::ZeroAmount);
        let accs = ctx.accounts;
        Tokens {
            program: &accs.token_program.to_account_info(),
            mint: &accs.payment_mint.to_account_info(),
            decimals: accs.payment_mint.decimals,
        }
        .transfer(
            &accs.owner_token.to_account_info(),
            &accs.stake_vault.to_account_info(),
            &Authority {
                info: &accs.owner.to_account_info(),
                seeds: &[],
            },
            amount,
        )?;
        let provider = &mut accs.provider;
        provider.staked = provider
            .staked
            .checked_add(amount)
            .ok_or(MarketError::Overflow)?;
        emit!(ProviderStaked {
            provider: provider.key(),
            amount,
            staked: provider.staked,
        });
        Ok(())
    }
}
