use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token};

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::MarketInitialized;
use crate::state::{Market, Windows};
use crate::token::{Tokens, VaultInit};

/// Parameters of a new market.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct MarketInitArgs {
    /// Protocol fee, in basis points of each paid reward (at most [`MAX_FEE_BPS`]).
    pub fee_bps: u16,
    /// Cost of giving a claimed job back, in basis points of its collateral (at most
    /// [`MAX_GIVE_BACK_BPS`]).
    pub give_back_bps: u16,
    /// Minimum bonded stake to register and to claim, in base units.
    pub min_provider_stake: u64,
    /// Stake locked per claimed replica, in base units (greater than zero).
    pub collateral_per_replica: u64,
    /// Seconds between unstaking and withdrawing.
    pub unbonding_period: i64,
    /// Default phase windows of new jobs, in seconds.
    pub windows: Windows,
    /// Accept a payment mint with a freeze authority (e.g. USDC). Its issuer could then freeze
    /// the market's escrows, stake vaults and treasury; the market records the opt-in.
    pub allow_freeze_authority: bool,
}

#[derive(Accounts)]
pub struct MarketInit<'info> {
    /// Pays for the market and its treasury, becomes its authority, and is part of its address.
    #[account(mut)]
    pub authority: Signer<'info>,
    /// The market's payment mint. Checked by hand (`validate`) so a Token-2022 mint gets a clear
    /// error instead of a generic owner mismatch.
    /// CHECK: owner must be the classic SPL Token program; deserialized as a `Mint` in `validate`.
    pub payment_mint: UncheckedAccount<'info>,
    #[account(
        init,
        payer = authority,
        space = 8 + Market::INIT_SPACE,
        seeds = [SEED_MARKET, payment_mint.key().as_ref(), authority.key().as_ref()],
        bump,
    )]
    pub market: Account<'info, Market>,
    /// The treasury vault: fees collect here; owned by the market PDA. Created by the handler
    /// once the mint is checked (an `init` constraint would run before `validate`, and a
    /// Token-2022 mint would then fail inside the token program with an unclear error).
    /// CHECK: address checked by `seeds`; created as a token account of the mint in `handle`.
    #[account(mut, seeds = [SEED_TREASURY, market.key().as_ref()], bump)]
    pub treasury: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

impl MarketInit<'_> {
    /// The payment mint, once it is a classic SPL Token mint whose freeze authority (if any) the
    /// creator accepted.
    pub fn mint(&self, args: &MarketInitArgs) -> Result<Mint> {
        let info = self.payment_mint.to_account_info();
        require_keys_eq!(
            *info.owner,
            anchor_spl::token::ID,
            MarketError::MintProgramUnsupported
        );
        require_keys_neq!(info.key(), NATIVE_MINT, MarketError::NativeMintUnsupported);
        let mint = Mint::try_deserialize(&mut &info.try_borrow_data()?[..])
            .map_err(|_| error!(MarketError::WrongMint))?;
        require!(
            mint.freeze_authority.is_none() || args.allow_freeze_authority,
            MarketError::FreezeAuthorityNotAccepted
        );
        Ok(mint)
    }

    pub fn validate(&self, args: &MarketInitArgs) -> Result<()> {
        require!(args.fee_bps <= MAX_FEE_BPS, MarketError::FeeTooHigh);
        require!(
            args.give_back_bps <= MAX_GIVE_BACK_BPS,
            MarketError::GiveBackCostTooHigh
        );
        require!(args.collateral_per_replica > 0, MarketError::ZeroCollateral);
        require!(
            (0..=MAX_UNBONDING_PERIOD).contains(&args.unbonding_period),
            MarketError::InvalidUnbondingPeriod
        );
        args.windows.validate()?;
        self.mint(args).map(|_| ())
    }
}

impl MarketInit<'_> {
    pub fn handle(ctx: Context<MarketInit>, args: MarketInitArgs) -> Result<()> {
        let accs = &ctx.accounts;
        let mint = accs.mint(&args)?;
        let authority = accs.authority.key();
        let market_key = accs.market.key();
        let treasury_seeds: &[&[u8]] = &[SEED_TREASURY, market_key.as_ref(), &[ctx.bumps.treasury]];
        Tokens {
            program: &accs.token_program.to_account_info(),
            mint: &accs.payment_mint.to_account_info(),
            decimals: mint.decimals,
        }
        .create_vault(&VaultInit {
            payer: &accs.authority.to_account_info(),
            vault: &accs.treasury.to_account_info(),
            vault_seeds: treasury_seeds,
            owner: &accs.market.to_account_info(),
            system_program: &accs.system_program.to_account_info(),
        })?;
        let market = &mut ctx.accounts.market;
        market.set_inner(Market {
            version: MARKET_VERSION,
            bump: ctx.bumps.market,
            treasury_bump: ctx.bumps.treasury,
            paused: false,
            mint_freezable: mint.freeze_authority.is_some(),
            creator: authority,
            authority,
            pending_authority: Pubkey::default(),
            payment_mint: ctx.accounts.payment_mint.key(),
            mint_decimals: mint.decimals,
            treasury: ctx.accounts.treasury.key(),
            fee_bps: args.fee_bps,
            give_back_bps: args.give_back_bps,
            min_provider_stake: args.min_provider_stake,
            collateral_per_replica: args.collateral_per_replica,
            unbonding_period: args.unbonding_period,
            claim_window: args.windows.claim,
            commit_window: args.windows.commit,
            reveal_window: args.windows.reveal,
            reserved: [0; 64],
        });
        market.invariant()?;
        emit!(MarketInitialized {
            market: market.key(),
            authority: market.authority,
            payment_mint: market.payment_mint,
            mint_freezable: market.mint_freezable,
            treasury: market.treasury,
            fee_bps: market.fee_bps,
            give_back_bps: market.give_back_bps,
            min_provider_stake: market.min_provider_stake,
            collateral_per_replica: market.collateral_per_replica,
            unbonding_period: market.unbonding_period,
            windows: args.windows,
        });
        Ok(())
    }
}
