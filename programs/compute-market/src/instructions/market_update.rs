use anchor_lang::prelude::*;

use crate::constants::MARKET_VERSION;
use crate::errors::MarketError;
use crate::events::{AuthorityProposed, MarketUpdated};
use crate::state::{Market, Windows};

/// Changes to a market; `None` keeps the current value.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct MarketUpdateArgs {
    /// Propose another authority; it takes over once it signs `market_accept_authority`
    /// (two steps, so a typo cannot lose the market). The zero key withdraws a proposal.
    pub new_authority: Option<Pubkey>,
    /// Protocol fee, in basis points (applies to jobs posted afterwards).
    pub fee_bps: Option<u16>,
    /// Give-back cost, in basis points of the collateral (applies to jobs posted afterwards).
    pub give_back_bps: Option<u16>,
    /// Minimum bonded stake to register and to claim, in base units.
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
    #[account(
        mut,
        constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion,
        has_one = authority @ MarketError::NotMarketAuthority,
    )]
    pub market: Account<'info, Market>,
}

impl MarketUpdate<'_> {
    pub fn handle(ctx: Context<MarketUpdate>, args: MarketUpdateArgs) -> Result<()> {
        let market = &mut ctx.accounts.market;
        if let Some(authority) = args.new_authority {
            market.pending_authority = authority;
            emit!(AuthorityProposed {
                market: market.key(),
                authority: market.authority,
                pending_authority: authority,
            });
        }
        if let Some(fee_bps) = args.fee_bps {
            market.fee_bps = fee_bps;
        }
        if let Some(bps) = args.give_back_bps {
            market.give_back_bps = bps;
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
            pending_authority: market.pending_authority,
            fee_bps: market.fee_bps,
            give_back_bps: market.give_back_bps,
            min_provider_stake: market.min_provider_stake,
            collateral_per_replica: market.collateral_per_replica,
            unbonding_period: market.unbonding_period,
            windows: market.windows(),
            paused: market.paused,
        });
        Ok(())
    }
}
