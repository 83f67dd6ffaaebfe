use anchor_lang::prelude::*;
use anchor_spl::token::TokenAccount;

use crate::errors::MarketError;
use crate::events::MarketUpdated;
use crate::state::{Market, Windows};

/// Changes to a market; `None` keeps the current value. A new treasury is passed as the
/// optional `new_treasury` account.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct MarketUpdateArgs {
    /// Hand the market to another authority.
    pub new_authority: Option<Pubkey>,
    /// Protocol fee, in basis points.
    pub fee_bps: Option<u16>,
    /// Minimum provider stake, in base units.
    pub min_provider_stake: Option<u64>,
    /// Collateral per claimed replica (applies to jobs posted afterwards), in base units.
    pub collateral_per_replica: Option<u64>,
    /// Unbonding period, in seconds.
    pub unbonding_period: Option<i64>,
    /// Default phase windows, in seconds.
    pub windows: Option<Windows>,
    /// Stop (true) or resume (false) new jobs and claims.
    pub paused: Option<bool>,
}

#[derive(Accounts)]
pub struct MarketUpdate<'info> {
    pub authority: Signer<'info>,
    #[account(mut, has_one = authority @ MarketError::NotMarketAuthority)]
    pub market: Account<'info, Market>,
    /// New fee destination, when changing it.
    #[account(constraint = new_treasury.mint == market.payment_mint @ MarketError::WrongMint)]
    pub new_treasury: Option<Account<'info, TokenAccount>>,
}

impl MarketUpdate<'_> {
    pub fn handle(ctx: Context<MarketUpdate>, args: MarketUpdateArgs) -> Result<()> {
        let market = &mut ctx.accounts.market;
        if let Some(authority) = args.new_authority {
            market.authority = authority;
        }
        if let Some(treasury) = &ctx.accounts.new_treasury {
            market.treasury = treasury.key();
        }
        if let Some(fee_bps) = args.fee_bps {
            market.fee_bps = fee_bps;
        }
        if let Some(stake) = args.min_provider_stake {
            market.min_provider_stake = stake;
        }
        if let Some(collateral) = args.collateral_per_replica {
            market.collateral_per_replica = collateral;
        }
        if let Some(period) = args.unbonding_period {
            market.unbonding_period = period;
        }
        if let Some(Windows {
            claim,
            commit,
            reveal,
        }) = args.windows
        {
            market.claim_window = claim;
            market.commit_window = commit;
            market.reveal_window = reveal;
        }
        if let Some(paused) = args.paused {
            market.paused = paused;
        }
        market.invariant()?;
        emit!(MarketUpdated {
            market: market.key(),
            authority: market.authority,
            treasury: market.treasury,
            fee_bps: market.fee_bps,
            min_provider_stake: market.min_provider_stake,
            collateral_per_replica: market.collateral_per_replica,
            unbonding_period: market.unbonding_period,
            windows: market.windows(),
            paused: market.paused,
        });
        Ok(())
    }
}
