//! One event per state transition, named `<Noun><PastVerb>`. Accounts are the truth; events are
//! what indexers and explorers show (amounts in base units of the market's payment mint).

use anchor_lang::prelude::*;

use crate::state::{Capabilities, Determinism, JobStatus, ProviderStatus, Windows};

/// A market was created.
#[event]
pub struct MarketInitialized {
    /// Market PDA.
    pub market: Pubkey,
    /// Who may update it.
    pub authority: Pubkey,
    /// Payment mint.
    pub payment_mint: Pubkey,
    /// Fee destination.
    pub treasury: Pubkey,
    /// Protocol fee, in basis points.
    pub fee_bps: u16,
    /// Minimum provider stake.
    pub min_provider_stake: u64,
    /// Collateral locked per claimed replica.
    pub collateral_per_replica: u64,
    /// Unbonding period, in seconds.
    pub unbonding_period: i64,
    /// Default phase windows.
    pub windows: Windows,
}

/// A market's parameters changed (the new values).
#[event]
pub struct MarketUpdated {
    /// Market PDA.
    pub market: Pubkey,
    /// Who may update it from now on.
    pub authority: Pubkey,
    /// Fee destination.
    pub treasury: Pubkey,
    /// Protocol fee, in basis points.
    pub fee_bps: u16,
    /// Minimum provider stake.
    pub min_provider_stake: u64,
    /// Collateral locked per claimed replica.
    pub collateral_per_replica: u64,
    /// Unbonding period, in seconds.
    pub unbonding_period: i64,
    /// Default phase windows.
    pub windows: Windows,
    /// Whether new jobs and claims are stopped.
    pub paused: bool,
}

/// A provider registered with an initial stake.
#[event]
pub struct ProviderRegistered {
    /// Market.
    pub market: Pubkey,
    /// Provider PDA.
    pub provider: Pubkey,
    /// Owner wallet.
    pub owner: Pubkey,
    /// Initial stake.
    pub stake: u64,
    /// Published capabilities.
    pub capabilities: Capabilities,
}

/// A provider added stake.
#[event]
pub struct ProviderStaked {
    /// Provider PDA.
    pub provider: Pubkey,
    /// Amount added.
    pub amount: u64,
    /// Total stake afterwards.
    pub staked: u64,
}

/// A provider started unbonding part of its stake.
#[event]
pub struct ProviderUnstaked {
    /// Provider PDA.
    pub provider: Pubkey,
    /// Amount moved to unbonding.
    pub amount: u64,
    /// Total unbonding afterwards.
    pub unbonding: u64,
    /// When it can be withdrawn.
    pub unbonding_ends_at: i64,
}

/// A provider withdrew its unbonded stake.
#[event]
pub struct ProviderWithdrew {
    /// Provider PDA.
    pub provider: Pubkey,
    /// Amount sent to the owner.
    pub amount: u64,
    /// Stake left.
    pub staked: u64,
}

/// A provider changed its capabilities or status.
#[event]
pub struct ProviderUpdated {
    /// Provider PDA.
    pub provider: Pubkey,
    /// Capabilities now published.
    pub capabilities: Capabilities,
    /// Status now.
    pub status: ProviderStatus,
}

/// A provider lost collateral to the client.
#[event]
pub struct ProviderSlashed {
    /// Job that caused it.
    pub job: Pubkey,
    /// Provider PDA.
    pub provider: Pubkey,
    /// Collateral sent to the client.
    pub amount: u64,
}

/// A job was posted and its payment escrowed.
#[event]
pub struct JobPosted {
    /// Market.
    pub market: Pubkey,
    /// Job PDA.
    pub job: Pubkey,
    /// Client wallet.
    pub client: Pubkey,
    /// Client-chosen id.
    pub job_id: u64,
    /// Reward per agreeing replica.
    pub reward_per_replica: u64,
    /// Fee per paid replica.
    pub fee_per_replica: u64,
    /// Total escrowed.
    pub escrowed: u64,
    /// Replicas requested.
    pub replicas: u8,
    /// Quorum.
    pub quorum: u8,
    /// Whether replicas are comparable by hash.
    pub determinism: Determinism,
    /// SHA-256 of the shader.
    pub shader_hash: [u8; 32],
    /// SHA-256 of the input.
    pub input_hash: [u8; 32],
    /// Claim deadline.
    pub claim_deadline: i64,
    /// Commit (or submit) deadline.
    pub commit_deadline: i64,
    /// Reveal deadline.
    pub reveal_deadline: i64,
}

/// A client cancelled an unclaimed job and got its escrow back.
#[event]
pub struct JobCancelled {
    /// Job PDA (closed).
    pub job: Pubkey,
    /// Client wallet.
    pub client: Pubkey,
    /// Amount refunded.
    pub refunded: u64,
}

/// A provider claimed a replica slot and locked collateral.
#[event]
pub struct JobClaimed {
    /// Job PDA.
    pub job: Pubkey,
    /// Provider PDA.
    pub provider: Pubkey,
    /// Slot index.
    pub slot: u8,
    /// Collateral locked.
    pub collateral: u64,
    /// Slots claimed after this one.
    pub claimed: u8,
}

/// A provider committed to a result without revealing it.
#[event]
pub struct ResultCommitted {
    /// Job PDA.
    pub job: Pubkey,
    /// Provider PDA.
    pub provider: Pubkey,
    /// Slot index.
    pub slot: u8,
    /// The commitment.
    pub commitment: [u8; 32],
}

/// A provider revealed its result (or, with one replica, submitted it).
#[event]
pub struct ResultRevealed {
    /// Job PDA.
    pub job: Pubkey,
    /// Provider PDA.
    pub provider: Pubkey,
    /// Slot index.
    pub slot: u8,
    /// Canonical result hash of the output.
    pub result_hash: [u8; 32],
    /// Where the output can be downloaded.
    pub result_uri: String,
}

/// A job's money was settled.
#[event]
pub struct JobSettled {
    /// Market.
    pub market: Pubkey,
    /// Job PDA.
    pub job: Pubkey,
    /// Client wallet.
    pub client: Pubkey,
    /// Completed, Failed or Expired.
    pub status: JobStatus,
    /// Agreed result hash (zero unless Completed).
    pub result_hash: [u8; 32],
    /// Rewards paid to providers, in total.
    pub paid_to_providers: u64,
    /// Fees paid to the treasury.
    pub fees_to_treasury: u64,
    /// Escrow refunded to the client.
    pub refunded_to_client: u64,
    /// Collateral slashed to the client.
    pub slashed_to_client: u64,
    /// Replicas paid.
    pub paid_replicas: u8,
    /// Replicas slashed.
    pub slashed_replicas: u8,
}

/// A settled job's account was closed and its rent returned to the client.
#[event]
pub struct JobClosed {
    /// Job PDA (closed).
    pub job: Pubkey,
    /// Client wallet.
    pub client: Pubkey,
}
