use anchor_lang::prelude::*;

use crate::constants::*;
use crate::errors::MarketError;

/// One market per payment mint: its parameters and counters.
#[account]
#[derive(InitSpace, Debug)]
pub struct Market {
    /// Layout version ([`MARKET_VERSION`]).
    pub version: u8,
    /// Bump of the market PDA `[SEED_MARKET, payment_mint]`.
    pub bump: u8,
    /// When true, no new jobs and no new claims. Refunds, settlement and withdrawals still work.
    pub paused: bool,
    /// Who may update the parameters.
    pub authority: Pubkey,
    /// SPL mint every payment, stake and fee of this market is made in.
    pub payment_mint: Pubkey,
    /// Decimals of `payment_mint` (cached for `transfer_checked`).
    pub mint_decimals: u8,
    /// Token account (of `payment_mint`) receiving protocol fees.
    pub treasury: Pubkey,
    /// Protocol fee, in basis points of each paid replica's reward, charged to the client on top.
    pub fee_bps: u16,
    /// Minimum stake a provider must keep to register, in base units of `payment_mint`.
    pub min_provider_stake: u64,
    /// Stake locked per claimed replica and slashed on a missed deadline or a losing result,
    /// in base units of `payment_mint`.
    pub collateral_per_replica: u64,
    /// Seconds between `provider_unstake` and the earliest `provider_withdraw`.
    pub unbonding_period: i64,
    /// Default claim window of a job, in seconds after posting.
    pub claim_window: i64,
    /// Default commit (or, for one replica, submit) window, in seconds after the claim deadline.
    pub commit_window: i64,
    /// Default reveal window, in seconds after the commit deadline.
    pub reveal_window: i64,
    /// Jobs posted so far.
    pub jobs_posted: u64,
    /// Jobs settled as Completed.
    pub jobs_completed: u64,
    /// Jobs settled as Failed (no quorum).
    pub jobs_failed: u64,
    /// Jobs settled as Expired.
    pub jobs_expired: u64,
    /// Providers registered.
    pub providers: u64,
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
            (0..=MAX_UNBONDING_PERIOD).contains(&self.unbonding_period),
            MarketError::InvalidUnbondingPeriod
        );
        self.windows().validate()
    }

    /// Protocol fee charged on top of `reward`, rounded down.
    pub fn fee_for(&self, reward: u64) -> Result<u64> {
        let fee = (reward as u128)
            .checked_mul(self.fee_bps as u128)
            .ok_or(MarketError::Overflow)?
            / BPS_DENOMINATOR as u128;
        u64::try_from(fee).map_err(|_| error!(MarketError::Overflow))
    }
}
