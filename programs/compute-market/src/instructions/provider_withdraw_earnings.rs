use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::EarningsWithdrawn;
use crate::state::{Market, Provider};
use crate::token::{Authority, Tokens};

#[derive(Accounts)]
pub struct ProviderWithdrawEarnings<'info> {
    pub owner: Signer<'info>,
    #[account(constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion)]
    pub market: Account<'info, Market>,
    #[account(address = market.payment_mint @ MarketError::WrongMint)]
    pub payment_mint: Account<'info, Mint>,
    #[account(
        mut,
        constraint = provider.version == PROVIDER_VERSION @ MarketError::UnsupportedVersion,
        has_one = owner @ MarketError::NotProviderOwner,
        has_one = market @ MarketError::WrongMarket,
        has_one = stake_vault @ MarketError::WrongVault,
    )]
    pub provider: Account<'info, Provider>,
    #[account(mut)]
    pub stake_vault: Account<'info, TokenAccount>,
    /// Any token account of the payment mint, of the owner's choosing.
    #[account(mut, constraint = destination.mint == market.payment_mint @ MarketError::WrongMint)]
    pub destination: Account<'info, TokenAccount>,
    pub token_program: Program<'info, Token>,
}

impl ProviderWithdrawEarnings<'_> {
    /// Sends every reward settlement credited to the provider to `destination`, with anything
    /// sent to the stake vault from outside (beyond stake, earnings and dues: a donation could
    /// otherwise fill the vault until credits to it overflow). No unbonding: earnings were never
    /// stake.
    pub fn handle(ctx: Context<ProviderWithdrawEarnings>) -> Result<()> {
        let accs = ctx.accounts;
        let surplus = accs
            .stake_vault
            .amount
            .saturating_sub(accs.provider.vault_total()?);
        let amount = accs
            .provider
            .earnings
            .checked_add(surplus)
            .ok_or(MarketError::Overflow)?;
        require!(amount > 0, MarketError::NoEarnings);
        let (market_key, owner_key) = (accs.market.key(), accs.owner.key());
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
            &accs.destination.to_account_info(),
            &Authority {
                info: &accs.provider.to_account_info(),
                seeds: &[seeds],
            },
            amount,
        )?;
        accs.provider.earnings = 0;
        emit!(EarningsWithdrawn {
            provider: accs.provider.key(),
            amount,
            destination: accs.destination.key(),
        });
        Ok(())
    }
}
