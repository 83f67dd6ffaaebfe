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
    #[msg("Account was written by another layout version of this program")]
    UnsupportedVersion,
    #[msg("Signer is not the market's pending authority")]
    NotPendingAuthority,

    // --- market parameters ---
    #[msg("Protocol fee is above the allowed maximum")]
    FeeTooHigh,
    #[msg("A phase window is out of range")]
    InvalidWindow,
    #[msg("Unbonding period is out of range")]
    InvalidUnbondingPeriod,
    #[msg("Market is paused: no new jobs or claims")]
    MarketPaused,
    #[msg("Payment mint must be a classic SPL Token mint (Token-2022 mints are not supported)")]
    MintProgramUnsupported,
    #[msg("Payment mint has a freeze authority: create the market with allow_freeze_authority to accept it")]
    FreezeAuthorityNotAccepted,
    #[msg("Collateral per replica must be greater than zero")]
    ZeroCollateral,
    #[msg("Give-back cost is above the allowed maximum")]
    GiveBackCostTooHigh,
    #[msg(
        "Give-back cost must be greater than zero (give_back_bps of the collateral, rounded down)"
    )]
    ZeroGiveBackCost,
    #[msg("Wrapped SOL cannot be a payment mint (SPL Token cannot burn native tokens)")]
    NativeMintUnsupported,
    #[msg("Treasury holds less than the amount asked for")]
    InsufficientTreasury,

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
    #[msg("Provider has no earnings to withdraw")]
    NoEarnings,

    // --- job spec ---
    #[msg("Replicas must be 1, or 3 up to the maximum (with 2, one replica could veto the other)")]
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
    #[msg("Float jobs take one replica: replicas cannot be compared by hash until tolerance verification exists")]
    FloatNeedsOneReplica,
    #[msg("Allowlist names more providers than the maximum")]
    AllowlistTooLong,

    // --- job lifecycle ---
    #[msg("Job is not open for this action")]
    JobNotOpen,
    #[msg("Job already has a claimed replica or, if drawn, an applicant")]
    JobAlreadyClaimed,
    #[msg("All replica slots are taken")]
    NoFreeSlot,
    #[msg("Provider already holds a slot of this job")]
    AlreadyClaimed,
    #[msg("Claim deadline has passed")]
    ClaimDeadlinePassed,
    #[msg("A job cannot be claimed in the slot it was posted")]
    ClaimTooEarly,
    #[msg("The job's client cannot claim its own job")]
    ClientCannotClaim,
    #[msg("Provider is not on the job's allowlist")]
    NotOnAllowlist,
    #[msg("Provider has completed fewer jobs than the job asks for")]
    TrackRecordTooShort,
    #[msg("Provider's bonded stake is below the market's or the job's minimum")]
    StakeBelowJobMinimum,
    #[msg("Provider registered more recently than the job allows")]
    ProviderTooNew,
    #[msg("This job draws its replicas: apply with job_apply during the claim window")]
    JobIsDrawn,
    #[msg("This job's replicas are claimed first come, first served, not drawn")]
    JobNotDrawn,
    #[msg("Provider already applied to this job")]
    AlreadyApplied,
    #[msg("Every applicant place is taken by a provider that locked at least as much")]
    ApplicantsFull,
    #[msg("An application must lock at least the job's collateral")]
    WeightBelowCollateral,
    #[msg("The draw needs the claim window closed and its seed slot produced")]
    DrawTooEarly,
    #[msg("The job's replicas were drawn already")]
    AlreadyDrawn,
    #[msg("Remaining accounts must be the job's applicants, in order, writable")]
    WrongApplicants,
    #[msg("The applicant to displace must be passed: the one that locked the least")]
    WrongDisplacedApplicant,
    #[msg("Account is not the SlotHashes sysvar")]
    WrongSysvar,
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

    // --- added later (kept last so earlier codes never change) ---
    #[msg("Capacity needs at least one device and one concurrent job")]
    InvalidCapacity,
}
