use anchor_lang::prelude::*;

use crate::constants::*;
use crate::errors::MarketError;

/// A market: its payment mint, parameters, authority and treasury vault. Read-only in every job
/// and provider instruction (no write lock shared by all jobs: statistics come from events).
#[account]
#[derive(InitSpace, Debug)]
pub struct Market {
    /// Layout version ([`MARKET_VERSION`]).
    pub version: u8,
    /// Bump of the market PDA `[SEED_MARKET, payment_mint, creator]`.
    pub bump: u8,
    /// Bump of the treasury vault PDA `[SEED_TREASURY, market]`.
    pub treasury_bump: u8,
    /// When true, no new jobs and no new claims. Refunds, settlement and withdrawals still work.
    pub paused: bool,
    /// True when the payment mint has a freeze authority and the creator accepted it: that
    /// authority can freeze escrows, stake vaults and the treasury (e.g. USDC's issuer).
    pub mint_freezable: bool,
    /// Who created the market (part of its address; never changes).
    pub creator: Pubkey,
    /// Who may update the parameters and withdraw fees.
    pub authority: Pubkey,
    /// Proposed next authority; takes over once it signs `market_accept_authority`.
    /// Zero when no transfer is pending.
    pub pending_authority: Pubkey,
    /// SPL mint every payment, stake and fee of this market is made in.
    pub payment_mint: Pubkey,
    /// Decimals of `payment_mint` (cached for `transfer_checked`).
    pub mint_decimals: u8,
    /// Treasury vault (PDA token account owned by the market) that collects protocol fees.
    pub treasury: Pubkey,
    /// Protocol fee, in basis points of each paid replica's reward, charged to the client on top.
    pub fee_bps: u16,
    /// Cost of giving a claimed job back, in basis points of its collateral (burnt).
    pub give_back_bps: u16,
    /// Minimum bonded stake (staked minus unbonding) a provider must keep to register and to
    /// claim, in base units of `payment_mint`.
    pub min_provider_stake: u64,
    /// Stake locked per claimed replica and slashed (burnt) on a missed deadline or a losing
    /// result, in base units of `payment_mint`. Never zero.
    pub collateral_per_replica: u64,
    /// Seconds between `provider_unstake` and the earliest `provider_withdraw`.
    pub unbonding_period: i64,
    /// Default claim window of a job, in seconds after posting.
    pub claim_window: i64,
    /// Default commit (or, for one replica, submit) window, in seconds after the claim deadline.
    pub commit_window: i64,
    /// Default reveal window, in seconds after the commit deadline.
    pub reveal_window: i64,
    /// Reserved for future versions.
    pub reserved: [u8; 64],
}

/// Phase windows, in seconds.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub struct Windows {
    /// Claim window after posting.
    pub claim: i64,
    /// Commit/submit window after the claim deadline.
    pub commit: i64,
    /// Reveal window after the commit deadline.
    pub reveal: i64,
}

impl Windows {
    /// Each window is within `[MIN_WINDOW, MAX_DEADLINE_HORIZON]` and the sum fits the horizon.
    pub fn validate(&self) -> Result<()> {
        for w in [self.claim, self.commit, self.reveal] {
            require!(
                (MIN_WINDOW..=MAX_DEADLINE_HORIZON).contains(&w),
                MarketError::InvalidWindow
            );
        }
        let total = self
            .claim
            .checked_add(self.commit)
            .and_then(|v| v.checked_add(self.reveal))
            .ok_or(MarketError::Overflow)?;
        require!(total <= MAX_DEADLINE_HORIZON, MarketError::InvalidWindow);
        Ok(())
    }
}

impl Market {
    /// The default phase windows of new jobs.
    pub fn windows(&self) -> Windows {
        Windows {
            claim: self.claim_window,
            commit: self.commit_window,
            reveal: self.reveal_window,
        }
    }

    /// Checks the parameters a market may hold.
    pub fn invariant(&self) -> Result<()> {
        require!(self.fee_bps <= MAX_FEE_BPS, MarketError::FeeTooHigh);
        require!(
            self.give_back_bps <= MAX_GIVE_BACK_BPS,
            MarketError::GiveBackCostTooHigh
        );
        require!(self.collateral_per_replica > 0, MarketError::ZeroCollateral);
        require!(self.give_back_cost()? > 0, MarketError::ZeroGiveBackCost);
        require!(
            (0..=MAX_UNBONDING_PERIOD).contains(&self.unbonding_period),
            MarketError::InvalidUnbondingPeriod
        );
        self.windows().validate()
    }

    /// Protocol fee charged on top of `reward`, rounded down.
    pub fn fee_for(&self, reward: u64) -> Result<u64> {
        bps_of(reward, self.fee_bps)
    }

    /// What giving a claimed job back costs (a share of the collateral, rounded down).
    pub fn give_back_cost(&self) -> Result<u64> {
        bps_of(self.collateral_per_replica, self.give_back_bps)
    }

    /// Refuses a market of another layout version.
    pub fn check_version(&self) -> Result<()> {
        require!(
            self.version == MARKET_VERSION,
            MarketError::UnsupportedVersion
        );
        Ok(())
    }
}

/// `amount × bps / 10 000`, rounded down.
pub fn bps_of(amount: u64, bps: u16) -> Result<u64> {
    let value = (amount as u128)
        .checked_mul(bps as u128)
        .ok_or(MarketError::Overflow)?
        / BPS_DENOMINATOR as u128;
    u64::try_from(value).map_err(|_| error!(MarketError::Overflow))
}
