use anchor_lang::prelude::*;

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::ProviderUnstaked;
use crate::state::{Market, Provider};

#[derive(Accounts)]
pub struct ProviderUnstake<'info> {
    pub owner: Signer<'info>,
    #[account(constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion)]
    pub market: Account<'info, Market>,
    #[account(
        mut,
        constraint = provider.version == PROVIDER_VERSION @ MarketError::UnsupportedVersion,
        has_one = owner @ MarketError::NotProviderOwner,
        has_one = market @ MarketError::WrongMarket,
    )]
    pub provider: Account<'info, Provider>,
}

impl ProviderUnstake<'_> {
    /// Starts unbonding `amount` (base units) of free stake; it can be withdrawn after the market's
    /// unbonding period. Locked collateral cannot be unstaked. A second unstake restarts the timer
    /// for the whole unbonding amount.
    pub fn handle(ctx: Context<ProviderUnstake>, amount: u64) -> Result<()> {
        require!(amount > 0, MarketError::ZeroAmount);
        let period = ctx.accounts.market.unbonding_period;
        let provider = &mut ctx.accounts.provider;
        require!(
            provider.free_stake()? >= amount,
            MarketError::InsufficientFreeStake
        );
        let now = Clock::get()?.unix_timestamp;
        provider.unbonding = provider
            .unbonding
            .checked_add(amount)
            .ok_or(MarketError::Overflow)?;
        provider.unbonding_ends_at = now.checked_add(period).ok_or(MarketError::Overflow)?;
        provider.invariant()?;
        emit!(ProviderUnstaked {
            provider: provider.key(),
            amount,
            unbonding: provider.unbonding,
            unbonding_ends_at: provider.unbonding_ends_at,
        });
        Ok(())
    }
}
