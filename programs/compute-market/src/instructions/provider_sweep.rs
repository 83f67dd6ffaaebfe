use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::ProviderSwept;
use crate::state::{Market, Provider};
use crate::token::{Authority, Tokens};

/// Anyone may sweep any provider: nothing here is the provider's to keep.
#[derive(Accounts)]
pub struct ProviderSweep<'info> {
    pub cranker: Signer<'info>,
    #[account(
        constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion,
        has_one = treasury @ MarketError::WrongTreasury,
    )]
    pub market: Account<'info, Market>,
    /// Writable: forfeits are burnt.
    #[account(mut, address = market.payment_mint @ MarketError::WrongMint)]
    pub payment_mint: Account<'info, Mint>,
    #[account(mut)]
    pub treasury: Account<'info, TokenAccount>,
    #[account(
        mut,
        constraint = provider.version == PROVIDER_VERSION @ MarketError::UnsupportedVersion,
        has_one = market @ MarketError::WrongMarket,
        has_one = stake_vault @ MarketError::WrongVault,
    )]
    pub provider: Account<'info, Provider>,
    #[account(mut)]
    pub stake_vault: Account<'info, TokenAccount>,
    pub token_program: Program<'info, Token>,
}

impl ProviderSweep<'_> {
    /// Moves the fees a provider's vault holds for the market to the treasury and burns its
    /// forfeited collateral. Run in batches, off the job path: settlement itself never writes
    /// the treasury or the mint.
    pub fn handle(ctx: Context<ProviderSweep>) -> Result<()> {
        let accs = ctx.accounts;
        let (fees, burnt) = (accs.provider.fees_due, accs.provider.forfeit_due);
        let (market_key, owner_key) = (accs.market.key(), accs.provider.owner);
        let seeds: &[&[u8]] = &[
            SEED_PROVIDER,
            market_key.as_ref(),
            owner_key.as_ref(),
            &[accs.provider.bump],
        ];
        let signer = [seeds];
        let provider_info = accs.provider.to_account_info();
        let authority = Authority {
            info: &provider_info,
            seeds: &signer,
        };
        let tokens = Tokens {
            program: &accs.token_program.to_account_info(),
            mint: &accs.payment_mint.to_account_info(),
            decimals: accs.payment_mint.decimals,
        };
        let vault = accs.stake_vault.to_account_info();
        tokens.transfer(&vault, &accs.treasury.to_account_info(), &authority, fees)?;
        tokens.burn(&vault, &authority, burnt)?;
        accs.provider.fees_due = 0;
        accs.provider.forfeit_due = 0;
        emit!(ProviderSwept {
            provider: accs.provider.key(),
            fees,
            burnt,
        });
        Ok(())
    }
}
