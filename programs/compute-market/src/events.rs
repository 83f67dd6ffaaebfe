//! One event per state transition, named `<Noun><PastVerb>`. Accounts are the truth; events are
//! what indexers and explorers show (amounts in base units of the market's payment mint).

use anchor_lang::prelude::*;

use crate::state::{Capabilities, Capacity, Determinism, JobStatus, ProviderStatus, Windows};

/// A market was created.
#[event]
pub struct MarketInitialized {
    /// Market PDA.
    pub market: Pubkey,
    /// Who may update it.
    pub authority: Pubkey,
    /// Payment mint.
    pub payment_mint: Pubkey,
    /// Whether the mint has a freeze authority the creator accepted.
    pub mint_freezable: bool,
    /// Treasury vault (fees collect here).
    pub treasury: Pubkey,
    /// Protocol fee, in basis points.
    pub fee_bps: u16,
    /// Give-back cost, in basis points of the collateral.
    pub give_back_bps: u16,
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
    /// Who may update it.
    pub authority: Pubkey,
    /// Proposed next authority (zero: none pending).
    pub pending_authority: Pubkey,
    /// Protocol fee, in basis points.
    pub fee_bps: u16,
    /// Give-back cost, in basis points of the collateral.
    pub give_back_bps: u16,
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
    /// Published capacity.
    pub capacity: Capacity,
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
    /// Capacity now published.
    pub capacity: Capacity,
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
    /// Job PDA (now a tombstone).
    pub job: Pubkey,
    /// Client wallet.
    pub client: Pubkey,
    /// Amount refunded.
    pub refunded: u64,
    /// Token account the refund went to.
    pub destination: Pubkey,
}

/// A provider applied to a drawn job.
#[event]
pub struct JobApplied {
    /// Job PDA.
    pub job: Pubkey,
    /// Provider PDA.
    pub provider: Pubkey,
    /// Its bonded stake when applying.
    pub stake: u64,
    /// Applicants recorded after this one.
    pub applicants: u8,
    /// The applicant it displaced (the list was full and it had the least stake), if any.
    pub displaced: Option<Pubkey>,
}

/// A drawn job's replicas were drawn.
#[event]
pub struct JobDrawn {
    /// Job PDA.
    pub job: Pubkey,
    /// The slot whose hash seeded the draw.
    pub seed_slot: u64,
    /// The winners, in slot order.
    pub winners: Vec<Pubkey>,
}

/// A drawn job's seed slot left the SlotHashes window before anyone drew: a new, future seed
/// slot was set.
#[event]
pub struct DrawResealed {
    /// Job PDA.
    pub job: Pubkey,
    /// The new seed slot.
    pub draw_slot: u64,
}

/// A provider gave a claimed slot back before the commit deadline.
#[event]
pub struct JobGivenBack {
    /// Job PDA.
    pub job: Pubkey,
    /// Provider PDA.
    pub provider: Pubkey,
    /// Slot index it held.
    pub slot: u8,
    /// Part of its collateral forfeited (burnt at the next sweep).
    pub cost: u64,
    /// Slots claimed after this one.
    pub claimed: u8,
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
    /// Rewards credited to providers' earnings, in total.
    pub paid_to_providers: u64,
    /// Fees credited (owed to the treasury by the paid providers' vaults).
    pub fees: u64,
    /// What stays in the escrow for the client to withdraw with `job_close`.
    pub refund_due: u64,
    /// Collateral slashed (forfeited and burnt; paid to nobody).
    pub forfeited: u64,
    /// Replicas paid.
    pub paid_replicas: u8,
    /// Replicas slashed.
    pub slashed_replicas: u8,
}

/// A settled job was closed: the client withdrew its refund and most of the rent.
#[event]
pub struct JobClosed {
    /// Job PDA (now a tombstone).
    pub job: Pubkey,
    /// Client wallet.
    pub client: Pubkey,
    /// Refund withdrawn from the escrow.
    pub refunded: u64,
    /// Token account the refund went to.
    pub destination: Pubkey,
}

/// A market's authority proposed a new authority.
#[event]
pub struct AuthorityProposed {
    /// Market PDA.
    pub market: Pubkey,
    /// Current authority.
    pub authority: Pubkey,
    /// Proposed authority (zero: proposal withdrawn).
    pub pending_authority: Pubkey,
}

/// A proposed authority accepted the market.
#[event]
pub struct AuthorityAccepted {
    /// Market PDA.
    pub market: Pubkey,
    /// Previous authority.
    pub previous: Pubkey,
    /// New authority.
    pub authority: Pubkey,
}

/// The market authority withdrew fees from the treasury.
#[event]
pub struct FeesWithdrawn {
    /// Market PDA.
    pub market: Pubkey,
    /// Amount withdrawn.
    pub amount: u64,
    /// Token account it went to.
    pub destination: Pubkey,
}

/// A provider's dues were swept: fees to the treasury, forfeits burnt.
#[event]
pub struct ProviderSwept {
    /// Provider PDA.
    pub provider: Pubkey,
    /// Fees moved to the treasury.
    pub fees: u64,
    /// Forfeited collateral burnt.
    pub burnt: u64,
}

/// A provider's owner withdrew its earnings.
#[event]
pub struct EarningsWithdrawn {
    /// Provider PDA.
    pub provider: Pubkey,
    /// Amount withdrawn.
    pub amount: u64,
    /// Token account it went to.
    pub destination: Pubkey,
}
