use anchor_lang::prelude::*;

use crate::constants::MARKET_VERSION;
use crate::errors::MarketError;
use crate::events::AuthorityAccepted;
use crate::state::Market;

#[derive(Accounts)]
pub struct MarketAcceptAuthority<'info> {
    /// The proposed authority (`market.pending_authority`).
    pub new_authority: Signer<'info>,
    #[account(
        mut,
        constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion,
        constraint = market.pending_authority == new_authority.key()
            @ MarketError::NotPendingAuthority,
    )]
    pub market: Account<'info, Market>,
}

impl MarketAcceptAuthority<'_> {
    /// The second step of an authority transfer: the proposed authority takes the market.
    pub fn handle(ctx: Context<MarketAcceptAuthority>) -> Result<()> {
        let market = &mut ctx.accounts.market;
        let previous = market.authority;
        market.authority = ctx.accounts.new_authority.key();
        market.pending_authority = Pubkey::default();
        emit!(AuthorityAccepted {
            market: market.key(),
            previous,
            authority: market.authority,
        });
        Ok(())
    }
}
