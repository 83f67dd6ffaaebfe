use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::ProviderWithdrew;
use crate::state::{Market, Provider};
use crate::token::{Authority, Tokens};

#[derive(Accounts)]
pub struct ProviderWithdraw<'info> {
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
    /// Receives the withdrawn stake.
    #[account(
        mut,
        constraint = owner_token.mint == payment_mint.key() @ MarketError::WrongMint,
        constraint = owner_token.owner == owner.key() @ MarketError::WrongTokenOwner,
    )]
    pub owner_token: Account<'info, TokenAccount>,
    pub token_program: Program<'info, Token>,
}

impl ProviderWithdraw<'_> {
    pub fn validate(&self) -> Result<()> {
        require!(self.provider.unbonding > 0, MarketError::NothingUnbonding);
        let now = Clock::get()?.unix_timestamp;
        require!(
            now >= self.provider.unbonding_ends_at,
            MarketError::StillUnbonding
        );
        Ok(())
    }
}

impl ProviderWithdraw<'_> {
    /// Sends all unbonded stake to the owner's token account. Paused markets still allow it.
    pub fn handle(ctx: Context<ProviderWithdraw>) -> Result<()> {
        let accs = ctx.accounts;
        let amount = accs.provider.unbonding;
        let market_key = accs.market.key();
        let owner_key = accs.owner.key();
        let seeds: &[&[u8]] = &[
            SEED_PROVIDER,
            market_key.as_ref(),
            owner_key.as_ref(),
            &[accs.provider.bump],
        ];
        Tokens {
            program: &accs.token_program.to_account_info(),
            mint: &accs.payment_mint.to_account_info(),
            decimals: accs.payment_mint.decimals,
        }
        .transfer(
            &accs.stake_vault.to_account_info(),
            &accs.owner_token.to_account_info(),
            &Authority {
                info: &accs.provider.to_account_info(),
                seeds: &[seeds],
            },
            amount,
        )?;
        let provider = &mut accs.provider;
        provider.staked = provider
            .staked
            .checked_sub(amount)
            .ok_or(MarketError::InvariantViolated)?;
        provider.unbonding = 0;
        provider.invariant()?;
        emit!(ProviderWithdrew {
            provider: provider.key(),
            amount,
            staked: provider.staked,
        });
        Ok(())
    }
}
