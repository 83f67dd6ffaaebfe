//! Every failure the program can return, each with a message a person can act on.

use anchor_lang::prelude::*;

#[error_code]
pub enum MarketError {
    // --- authority and identity ---
    #[msg("Signer is not the market authority")]
    NotMarketAuthority,
    #[msg("Signer is not the job's client")]
    NotJobClient,
    #[msg("Signer is not the provider's owner")]
    NotProviderOwner,
    #[msg("Account belongs to another market")]
    WrongMarket,
    #[msg("Token mint is not the market's payment mint")]
    WrongMint,
    #[msg("Token account is not the expected vault")]
    WrongVault,
    #[msg("Token account is not the market treasury")]
    WrongTreasury,
    #[msg("Token account is not owned by the expected wallet")]
    WrongTokenOwner,
    #[msg("Account is not the expected provider of this replica")]
    WrongProvider,
    #[msg("Remaining accounts do not match the job's replica slots")]
    WrongRemainingAccounts,
    #[msg("Account is not the job's client")]
    WrongClient,

    // --- market parameters ---
    #[msg("Protocol fee is above the allowed maximum")]
    FeeTooHigh,
    #[msg("A phase window is out of range")]
    InvalidWindow,
    #[msg("Unbonding period is out of range")]
    InvalidUnbondingPeriod,
    #[msg("Market is paused: no new jobs or claims")]
    MarketPaused,

    // --- provider ---
    #[msg("Stake is below the market minimum")]
    StakeBelowMinimum,
    #[msg("Amount must be greater than zero")]
    ZeroAmount,
    #[msg("Not enough free stake (staked minus locked minus unbonding)")]
    InsufficientFreeStake,
    #[msg("Nothing is unbonding")]
    NothingUnbonding,
    #[msg("Unbonding period has not ended")]
    StillUnbonding,
    #[msg("Provider is paused")]
    ProviderPaused,
    #[msg("Provider capabilities are below the job's minimum")]
    CapabilitiesTooLow,

    // --- job spec ---
    #[msg("Replicas must be between 1 and the maximum")]
    InvalidReplicas,
    #[msg("Quorum must be a strict majority of the replicas (and 1 when replicas is 1)")]
    InvalidQuorum,
    #[msg("Reward must be greater than zero")]
    ZeroReward,
    #[msg("A URI is empty or too long")]
    InvalidUri,
    #[msg("Entry point is empty or too long")]
    InvalidEntryPoint,
    #[msg("Output length is zero or above the maximum")]
    InvalidOutputLen,
    #[msg("Input length is above the maximum")]
    InvalidInputLen,
    #[msg("Workgroup counts must all be at least 1")]
    InvalidWorkgroups,
    #[msg(
        "Deadlines must be in the future, ordered claim < commit < reveal, and within the horizon"
    )]
    InvalidDeadlines,

    // --- job lifecycle ---
    #[msg("Job is not open for this action")]
    JobNotOpen,
    #[msg("Job already has a claimed replica")]
    JobAlreadyClaimed,
    #[msg("All replica slots are taken")]
    NoFreeSlot,
    #[msg("Provider already holds a slot of this job")]
    AlreadyClaimed,
    #[msg("Claim deadline has passed")]
    ClaimDeadlinePassed,
    #[msg("Provider holds no slot of this job")]
    NotAReplica,
    #[msg("Replica is not in the state this instruction needs")]
    WrongSlotState,
    #[msg("Commit deadline has passed")]
    CommitDeadlinePassed,
    #[msg("Reveal phase has not opened yet")]
    RevealNotOpen,
    #[msg("Reveal deadline has passed")]
    RevealDeadlinePassed,
    #[msg("Revealed result does not match the commitment")]
    CommitmentMismatch,
    #[msg("Single-replica jobs use job_submit; replicated jobs use commit and reveal")]
    WrongVerificationMode,
    #[msg("Job cannot be finalized yet")]
    FinalizeTooEarly,
    #[msg("Job cannot be expired yet")]
    ExpireTooEarly,
    #[msg("Job is not settled (Completed, Failed or Expired)")]
    JobNotSettled,
    #[msg("Job is already settled")]
    JobAlreadySettled,

    // --- arithmetic ---
    #[msg("Arithmetic overflow")]
    Overflow,
    #[msg("Account invariant violated")]
    InvariantViolated,
}
