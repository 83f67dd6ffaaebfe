use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::state::MinCapabilities;

/// Kind of adapter a provider runs (mirrors wgpu's `DeviceType`).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum DeviceClass {
    /// A discrete GPU.
    DiscreteGpu,
    /// A GPU integrated with the CPU.
    IntegratedGpu,
    /// A virtualised GPU.
    VirtualGpu,
    /// A software adapter running on the CPU (e.g. Mesa lavapipe).
    Cpu,
    /// Anything else.
    Other,
}

/// What a provider's adapter can do, published on-chain so clients can price and match jobs.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub struct Capabilities {
    /// PCI vendor id of the adapter (0x10de NVIDIA, 0x1002 AMD, 0x8086 Intel, 0x10005 Mesa...).
    pub vendor_id: u32,
    /// Adapter class.
    pub device_class: DeviceClass,
    /// Device memory, in MiB.
    pub memory_mib: u32,
    /// Most invocations per workgroup the adapter accepts.
    pub max_workgroup_invocations: u32,
    /// Largest storage buffer binding, in bytes.
    pub max_storage_buffer_bytes: u64,
    /// Measured memory bandwidth of the `check` copy kernel, in MB/s.
    pub bandwidth_mbps: u32,
    /// Measured integer throughput of the `check` arithmetic kernel, in millions of ops/s.
    pub int_mops: u32,
}

impl Capabilities {
    /// True when these capabilities meet `min`.
    pub fn meets(&self, min: &MinCapabilities) -> bool {
        self.memory_mib >= min.memory_mib
            && self.max_workgroup_invocations >= min.max_workgroup_invocations
            && self.max_storage_buffer_bytes >= min.max_storage_buffer_bytes
            && self.bandwidth_mbps >= min.bandwidth_mbps
            && !(min.hardware_only != 0 && self.device_class == DeviceClass::Cpu)
    }
}

/// How much work a provider takes at once, published on-chain next to its capabilities so
/// clients can size and split jobs. All zero on accounts registered before it existed
/// ("not published").
#[derive(
    AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, Default, PartialEq, Eq, InitSpace,
)]
pub struct Capacity {
    /// Adapters (GPUs) the provider's daemon serves; its `capabilities` hold for every one.
    pub devices: u16,
    /// Jobs the provider runs at once, across its devices.
    pub max_concurrent_jobs: u16,
}

impl Capacity {
    /// True when both figures are at least 1 (what register and update accept).
    pub fn is_valid(&self) -> bool {
        self.devices >= 1 && self.max_concurrent_jobs >= 1
    }
}

/// Whether a provider takes new work.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum ProviderStatus {
    /// Claims new jobs.
    Active,
    /// Claims nothing new; in-flight work and withdrawals continue.
    Paused,
}

/// A GPU provider of one market: its stake, capabilities and track record.
#[account]
#[derive(InitSpace, Debug)]
pub struct Provider {
    /// Layout version ([`crate::constants::PROVIDER_VERSION`]).
    pub version: u8,
    /// Bump of the provider PDA `[SEED_PROVIDER, market, owner]`.
    pub bump: u8,
    /// Bump of the stake vault PDA `[SEED_STAKE, provider]`.
    pub stake_vault_bump: u8,
    /// Whether the provider claims new jobs.
    pub status: ProviderStatus,
    /// Market this provider serves.
    pub market: Pubkey,
    /// Wallet that controls the provider and withdraws its earnings and stake.
    pub owner: Pubkey,
    /// Token account (owned by this PDA) holding the stake and everything settlement credited
    /// to the provider; its balance is `staked + earnings + fees_due + forfeit_due` (more only
    /// if somebody sent tokens to it directly).
    pub stake_vault: Pubkey,
    /// Stake, in base units.
    pub staked: u64,
    /// Rewards credited by settlement and not yet withdrawn (`provider_withdraw_earnings`).
    pub earnings: u64,
    /// Protocol fees of paid replicas, held here until anyone sweeps them to the market's
    /// treasury (`provider_sweep`).
    pub fees_due: u64,
    /// Slashed collateral and give-back costs, held here until anyone sweeps (burns) them.
    pub forfeit_due: u64,
    /// Part of `staked` locked as collateral by claimed replicas.
    pub locked: u64,
    /// Part of `staked` waiting for the unbonding period to end.
    pub unbonding: u64,
    /// Unix time from which `unbonding` can be withdrawn.
    pub unbonding_ends_at: i64,
    /// Published adapter capabilities.
    pub capabilities: Capabilities,
    /// Replicas paid (agreed with the quorum, or a single submitted result).
    pub jobs_completed: u64,
    /// Replicas released without pay and without fault (job failed or expired for others).
    pub jobs_failed: u64,
    /// Replicas slashed (missed a deadline or revealed a losing result).
    pub jobs_slashed: u64,
    /// Claims given back before the commit deadline.
    pub jobs_given_back: u64,
    /// Rewards received, in base units.
    pub total_earned: u64,
    /// Unix time of registration.
    pub registered_at: i64,
    /// Published capacity (version 2 accounts registered before it existed read all zeros).
    pub capacity: Capacity,
    /// Reserved for future versions.
    pub reserved: [u8; PROVIDER_RESERVED],
}

/// Reserved bytes at the end of [`Provider`] (64 in the first version 2 layout, of which
/// [`Capacity`] took 4).
pub const PROVIDER_RESERVED: usize = 60;

impl Provider {
    /// Stake neither locked nor unbonding.
    pub fn free_stake(&self) -> Result<u64> {
        self.staked
            .checked_sub(self.locked)
            .and_then(|v| v.checked_sub(self.unbonding))
            .ok_or_else(|| error!(MarketError::InvariantViolated))
    }

    /// `locked + unbonding <= staked`.
    pub fn invariant(&self) -> Result<()> {
        self.free_stake().map(|_| ())
    }

    /// Locks `amount` of free stake as collateral.
    pub fn lock(&mut self, amount: u64) -> Result<()> {
        require!(
            self.free_stake()? >= amount,
            MarketError::InsufficientFreeStake
        );
        self.locked = self
            .locked
            .checked_add(amount)
            .ok_or(MarketError::Overflow)?;
        Ok(())
    }

    /// Releases `amount` of locked collateral back to free stake.
    pub fn unlock(&mut self, amount: u64) -> Result<()> {
        self.locked = self
            .locked
            .checked_sub(amount)
            .ok_or(MarketError::InvariantViolated)?;
        Ok(())
    }

    /// Unlocks `collateral` and moves `forfeit` of it out of the stake into `forfeit_due`, to be
    /// burnt by the next sweep. Used for slashes (`forfeit == collateral`) and give-backs.
    pub fn forfeit(&mut self, collateral: u64, forfeit: u64) -> Result<()> {
        self.unlock(collateral)?;
        self.staked = self
            .staked
            .checked_sub(forfeit)
            .ok_or(MarketError::InvariantViolated)?;
        self.forfeit_due = self
            .forfeit_due
            .checked_add(forfeit)
            .ok_or(MarketError::Overflow)?;
        self.invariant()
    }

    /// Credits a paid replica: `reward` to the provider's earnings, `fee` owed to the treasury.
    pub fn credit(&mut self, reward: u64, fee: u64) -> Result<()> {
        self.earnings = self
            .earnings
            .checked_add(reward)
            .ok_or(MarketError::Overflow)?;
        self.fees_due = self
            .fees_due
            .checked_add(fee)
            .ok_or(MarketError::Overflow)?;
        self.total_earned = self.total_earned.saturating_add(reward);
        self.jobs_completed = self.jobs_completed.saturating_add(1);
        Ok(())
    }

    /// Stake that counts towards minimums: staked minus unbonding.
    pub fn bonded_stake(&self) -> u64 {
        self.staked.saturating_sub(self.unbonding)
    }

    /// What the stake vault must hold at least.
    pub fn vault_total(&self) -> Result<u64> {
        self.staked
            .checked_add(self.earnings)
            .and_then(|v| v.checked_add(self.fees_due))
            .and_then(|v| v.checked_add(self.forfeit_due))
            .ok_or_else(|| error!(MarketError::Overflow))
    }

    /// Refuses a provider of another layout version.
    pub fn check_version(&self) -> Result<()> {
        require!(
            self.version == crate::constants::PROVIDER_VERSION,
            MarketError::UnsupportedVersion
        );
        Ok(())
    }
}
