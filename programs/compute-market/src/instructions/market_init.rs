use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, TokenAccount};

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::MarketInitialized;
use crate::state::{Market, Windows};

/// Parameters of a new market.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct MarketInitArgs {
    /// Protocol fee, in basis points of each paid reward (at most [`MAX_FEE_BPS`]).
    pub fee_bps: u16,
    /// Minimum stake to register as a provider, in base units.
    pub min_provider_stake: u64,
    /// Stake locked per claimed replica, in base units.
    pub collateral_per_replica: u64,
    /// Seconds between unstaking and withdrawing.
    pub unbonding_period: i64,
    /// Default phase windows of new jobs, in seconds.
    pub windows: Windows,
}

#[derive(Accounts)]
pub struct MarketInit<'info> {
    /// Pays for the market account and becomes its authority.
    #[account(mut)]
    pub authority: Signer<'info>,
    /// The market's payment mint (classic SPL Token).
    pub payment_mint: Account<'info, Mint>,
    #[account(
        init,
        payer = authority,
        space = 8 + Market::INIT_SPACE,
        seeds = [SEED_MARKET, payment_mint.key().as_ref()],
        bump,
    )]
    pub market: Account<'info, Market>,
    /// Receives protocol fees.
    #[account(constraint = treasury.mint == payment_mint.key() @ MarketError::WrongMint)]
    pub treasury: Account<'info, TokenAccount>,
    pub system_program: Program<'info, System>,
}

impl MarketInit<'_> {
    pub fn validate(&self, args: &MarketInitArgs) -> Result<()> {
        require!(args.fee_bps <= MAX_FEE_BPS, MarketError::FeeTooHigh);
        require!(
            (0..=MAX_UNBONDING_PERIOD).contains(&args.unbonding_period),
            MarketError::InvalidUnbondingPeriod
        );
        args.windows.validate()
    }
}

impl MarketInit<'_> {
    pub fn handle(ctx: Context<MarketInit>, args: MarketInitArgs) -> Result<()> {
        let market = &mut ctx.accounts.market;
        market.set_inner(Market {
            version: MARKET_VERSION,
            bump: ctx.bumps.market,
            paused: false,
            authority: ctx.accounts.authority.key(),
            payment_mint: ctx.accounts.payment_mint.key(),
            mint_decimals: ctx.accounts.payment_mint.decimals,
            treasury: ctx.accounts.treasury.key(),
            fee_bps: args.fee_bps,
            min_provider_stake: args.min_provider_stake,
            collateral_per_replica: args.collateral_per_replica,
            unbonding_period: args.unbonding_period,
            claim_window: args.windows.claim,
            commit_window: args.windows.commit,
            reveal_window: args.windows.reveal,
            jobs_posted: 0,
            jobs_completed: 0,
            jobs_failed: 0,
            jobs_expired: 0,
            providers: 0,
            reserved: [0; 64],
        });
        market.invariant()?;
        emit!(MarketInitialized {
            market: market.key(),
            authority: market.authority,
            payment_mint: market.payment_mint,
            treasury: market.treasury,
            fee_bps: market.fee_bps,
            min_provider_stake: market.min_provider_stake,
            collateral_per_replica: market.collateral_per_replica,
            unbonding_period: market.unbonding_period,
            windows: args.windows,
        });
        Ok(())
    }
}
