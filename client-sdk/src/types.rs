//! The program's own types, re-exported so SDK users never fight version skew.

pub use compute_market::constants::{
    MAX_ALLOWLIST, MAX_APPLICANTS, MAX_DEADLINE_HORIZON, MAX_ENTRY_POINT_LEN, MAX_GIVE_BACK_BPS,
    MAX_INPUT_LEN, MAX_OUTPUT_LEN, MAX_REPLICAS, MAX_URI_LEN, PARAMS_LEN,
};
pub use compute_market::errors::MarketError;
pub use compute_market::events::*;
/// The on-chain job spec (the fixed part of `job_post`'s arguments). Build jobs with
/// [`crate::JobSpec::builder`], which validates them and produces this.
pub use compute_market::state::JobSpec as OnChainJobSpec;
pub use compute_market::state::{
    check_replication, Applicant, Capabilities, Capacity, ClaimMode, Determinism, DeviceClass, Job,
    JobStatus, JobTombstone, Market, MinCapabilities, Provider, ProviderStatus, ReplicaSlot,
    SlotState, Windows, PROVIDER_RESERVED,
};
pub use compute_market::{
    ClaimRules, JobPostArgs, JobRevealArgs, JobSubmitArgs, MarketInitArgs, MarketUpdateArgs,
    ProviderRegisterArgs, ProviderUpdateArgs,
};
