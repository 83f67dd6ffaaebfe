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
    /// Wallet that controls the provider and receives its rewards and withdrawals.
    pub owner: Pubkey,
    /// Token account (owned by this PDA) holding the stake; its balance always equals `staked`.
    pub stake_vault: Pubkey,
    /// Total stake in the vault, in base units.
    pub staked: u64,
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
    /// Rewards received, in base units.
    pub total_earned: u64,
    /// Unix time of registration.
    pub registered_at: i64,
    /// Reserved for future versions.
    pub reserved: [u8; 64],
}

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

    /// Removes `amount` of locked collateral from the stake (it leaves the vault).
    pub fn slash(&mut self, amount: u64) -> Result<()> {
        self.unlock(amount)?;
        self.staked = self
            .staked
            .checked_sub(amount)
            .ok_or(MarketError::InvariantViolated)?;
        self.jobs_slashed = self.jobs_slashed.saturating_add(1);
        self.invariant()
    }
}
