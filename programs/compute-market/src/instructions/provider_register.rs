use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::ProviderRegistered;
use crate::state::{Capabilities, Capacity, Market, Provider, ProviderStatus, PROVIDER_RESERVED};
use crate::token::{Authority, Tokens};

/// A provider's registration.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct ProviderRegisterArgs {
    /// Initial stake moved from the owner's token account, in base units (at least the
    /// market's minimum).
    pub stake: u64,
    /// The adapter's capabilities and benchmark figures.
    pub capabilities: Capabilities,
    /// Devices served and jobs run at once (each at least 1).
    pub capacity: Capacity,
}

#[derive(Accounts)]
pub struct ProviderRegister<'info> {
    /// Owner wallet; pays rent and the stake.
    #[account(mut)]
    pub owner: Signer<'info>,
    #[account(constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion)]
    pub market: Account<'info, Market>,
    #[account(address = market.payment_mint @ MarketError::WrongMint)]
    pub payment_mint: Account<'info, Mint>,
    #[account(
        init,
        payer = owner,
        space = 8 + Provider::INIT_SPACE,
        seeds = [SEED_PROVIDER, market.key().as_ref(), owner.key().as_ref()],
        bump,
    )]
    pub provider: Account<'info, Provider>,
    /// Holds the stake; owned by the provider PDA.
    #[account(
        init,
        payer = owner,
        seeds = [SEED_STAKE, provider.key().as_ref()],
        bump,
        token::mint = payment_mint,
        token::authority = provider,
    )]
    pub stake_vault: Account<'info, TokenAccount>,
    /// The owner's token account the stake comes from.
    #[account(
        mut,
        constraint = owner_token.mint == payment_mint.key() @ MarketError::WrongMint,
        constraint = owner_token.owner == owner.key() @ MarketError::WrongTokenOwner,
    )]
    pub owner_token: Account<'info, TokenAccount>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

impl ProviderRegister<'_> {
    pub fn validate(&self, args: &ProviderRegisterArgs) -> Result<()> {
        require!(args.stake > 0, MarketError::ZeroAmount);
        require!(
            args.stake >= self.market.min_provider_stake,
            MarketError::StakeBelowMinimum
        );
        require!(args.capacity.is_valid(), MarketError::InvalidCapacity);
        Ok(())
    }
}

impl ProviderRegister<'_> {
    pub fn handle(ctx: Context<ProviderRegister>, args: ProviderRegisterArgs) -> Result<()> {
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
            args.stake,
        )?;
        let now = Clock::get()?.unix_timestamp;
        accs.provider.set_inner(Provider {
            version: PROVIDER_VERSION,
            bump: ctx.bumps.provider,
            stake_vault_bump: ctx.bumps.stake_vault,
            status: ProviderStatus::Active,
            market: accs.market.key(),
            owner: accs.owner.key(),
            stake_vault: accs.stake_vault.key(),
            staked: args.stake,
            earnings: 0,
            fees_due: 0,
            forfeit_due: 0,
            locked: 0,
            unbonding: 0,
            unbonding_ends_at: 0,
            capabilities: args.capabilities,
            jobs_completed: 0,
            jobs_failed: 0,
            jobs_slashed: 0,
            jobs_given_back: 0,
            total_earned: 0,
            registered_at: now,
            capacity: args.capacity,
            reserved: [0; PROVIDER_RESERVED],
        });
        emit!(ProviderRegistered {
            market: accs.market.key(),
            provider: accs.provider.key(),
            owner: accs.owner.key(),
            stake: args.stake,
            capabilities: args.capabilities,
            capacity: args.capacity,
        });
        Ok(())
    }
}
