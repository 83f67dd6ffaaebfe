//! Which jobs this provider claims, and why it skips the others. Every skip has a reason that
//! goes to the logs and to the `jobs_skipped_total{reason}` metric: "why is nobody taking my
//! job?" must have an answer.

use compute_market_sdk::store::StoreError;
use compute_market_sdk::{
    Job, JobStatus, Market, Provider, ProviderStatus, Pubkey, MAX_APPLICANTS,
};

/// Why a job was not claimed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Not open for claims (running, settled).
    NotOpen,
    /// Every slot is taken.
    Full,
    /// The claim deadline passed.
    ClaimDeadlinePassed,
    /// Too little time left to compute before the commit deadline.
    DeadlineUnreachable,
    /// We already hold a slot.
    AlreadyClaimed,
    /// This daemon took the job before (it gave it back, or lost the race for it): its journal
    /// has the job, and a job is never taken twice.
    TakenBefore,
    /// Every `max_concurrent_jobs` place is taken; seen again at the next resync.
    Busy,
    /// The market is paused.
    MarketPaused,
    /// This provider is paused.
    ProviderPaused,
    /// Reward below this provider's minimum price, or too small for the collateral at risk.
    RewardTooLow,
    /// The client is on this provider's blocklist.
    ClientBlocked,
    /// This provider already runs as many of this client's jobs as it allows.
    ClientBusy,
    /// Not enough free stake for the collateral.
    InsufficientStake,
    /// Our published capabilities are below the job's minimum.
    CapabilitiesTooLow,
    /// The job's own claim rules exclude us (allowlist, record, stake, age), or it is our
    /// owner's own job.
    NotEligible,
    /// Input or output larger than this provider accepts.
    TooLarge,
    /// The shader or dispatch fails validation against our device (detail in the message).
    Invalid(String),
    /// The shader's or input's URI is one the `[fetch]` settings refuse (a disabled scheme, a
    /// file outside `fetch.file_roots`, a non-public address, a redirect); the message says which.
    FetchRefused(String),
    /// The shader or input is unusable: it did not match its on-chain hash, is too large, or
    /// its URI is malformed. Final for this version of the job.
    Unfetchable(String),
    /// The shader or input could not be fetched this time (timed out, not found, host busy, a
    /// server or network error): tried again later, with a growing pause.
    FetchFailed(String),
}

impl Skip {
    /// Short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Skip::NotOpen => "not_open",
            Skip::Full => "full",
            Skip::ClaimDeadlinePassed => "claim_deadline_passed",
            Skip::DeadlineUnreachable => "deadline_unreachable",
            Skip::AlreadyClaimed => "already_claimed",
            Skip::TakenBefore => "taken_before",
            Skip::Busy => "busy",
            Skip::MarketPaused => "market_paused",
            Skip::ProviderPaused => "provider_paused",
            Skip::RewardTooLow => "reward_too_low",
            Skip::ClientBlocked => "client_blocked",
            Skip::ClientBusy => "client_busy",
            Skip::InsufficientStake => "insufficient_stake",
            Skip::CapabilitiesTooLow => "capabilities_too_low",
            Skip::NotEligible => "not_eligible",
            Skip::TooLarge => "too_large",
            Skip::Invalid(_) => "invalid_job",
            Skip::FetchRefused(_) => "fetch_refused",
            Skip::Unfetchable(_) => "unfetchable",
            Skip::FetchFailed(_) => "fetch_failed",
        }
    }

    /// Whether the same job may be worth another try later as it is (a download that failed
    /// this time), as opposed to a decision that stands until the job or our state changes.
    pub fn is_transient(&self) -> bool {
        matches!(self, Skip::FetchFailed(_))
    }

    /// Whether the skip depends on our provider's or the market's state (stake, capabilities,
    /// pause, record, the market's collateral), so that a change of either may reverse it.
    /// Every other skip depends on the job (and our settings) alone, and stands until the job
    /// changes: another provider's claim or our own stake moving does not re-screen it.
    pub fn depends_on_our_state(&self) -> bool {
        matches!(
            self,
            Skip::MarketPaused
                | Skip::ProviderPaused
                | Skip::RewardTooLow
                | Skip::InsufficientStake
                | Skip::CapabilitiesTooLow
                | Skip::NotEligible
        )
    }

    /// The skip for a blob that could not be downloaded and verified.
    pub fn from_store(error: StoreError) -> Skip {
        match error {
            StoreError::Refused { .. } => Skip::FetchRefused(error.to_string()),
            StoreError::TimedOut { .. }
            | StoreError::HostBusy { .. }
            | StoreError::NotFound { .. }
            | StoreError::Http { .. }
            | StoreError::Io { .. }
            | StoreError::ObjectStore { .. } => Skip::FetchFailed(error.to_string()),
            other => Skip::Unfetchable(other.to_string()),
        }
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Invalid(m) => write!(f, "invalid job: {m}"),
            Skip::FetchRefused(m) => f.write_str(m),
            Skip::Unfetchable(m) => write!(f, "blobs unusable: {m}"),
            Skip::FetchFailed(m) => write!(f, "blobs not fetched (will retry): {m}"),
            other => f.write_str(&other.label().replace('_', " ")),
        }
    }
}

/// What the policy needs to know about this provider.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Least reward per replica accepted.
    pub min_reward: u64,
    /// Least reward per replica, in basis points of the collateral per replica.
    pub min_reward_to_collateral_bps: u64,
    /// Clients whose jobs are never taken.
    pub blocked_clients: Vec<Pubkey>,
    /// Largest input accepted, bytes.
    pub max_input_bytes: u64,
    /// Largest output accepted, bytes.
    pub max_output_bytes: u64,
    /// Seconds a job may need before its commit deadline (the executor's wall-clock limit plus
    /// the operator's margin for waiting, transfers and confirmations).
    pub seconds_needed: i64,
}

/// The cheap checks, from accounts alone (no downloads): claim or skip.
pub fn screen(
    job: &Job,
    provider_address: &Pubkey,
    provider: &Provider,
    market: &Market,
    limits: &Limits,
    now: i64,
) -> Result<(), Skip> {
    if job.status() != JobStatus::Open {
        return Err(Skip::NotOpen);
    }
    if job.slot_of(provider_address).is_some() {
        return Err(Skip::AlreadyClaimed);
    }
    if job.claimed >= job.replicas {
        return Err(Skip::Full);
    }
    if job.is_drawn()
        && job
            .applicants()
            .iter()
            .any(|a| a.provider == *provider_address)
    {
        return Err(Skip::AlreadyClaimed);
    }
    // We apply with exactly the collateral: a full list has no place for that.
    if job.is_drawn() && job.applicants().len() >= MAX_APPLICANTS {
        return Err(Skip::Full);
    }
    if now > job.claim_deadline {
        return Err(Skip::ClaimDeadlinePassed);
    }
    // A drawn job's replicas are known only at the draw, which leaves them at least half the
    // commit window (a later draw draws nobody).
    let time_to_compute = if job.is_drawn() {
        (job.commit_deadline - job.claim_deadline) / 2
    } else {
        job.commit_deadline - now
    };
    if time_to_compute < limits.seconds_needed {
        return Err(Skip::DeadlineUnreachable);
    }
    if market.paused {
        return Err(Skip::MarketPaused);
    }
    if provider.status != ProviderStatus::Active {
        return Err(Skip::ProviderPaused);
    }
    if limits.blocked_clients.contains(&job.client) {
        return Err(Skip::ClientBlocked);
    }
    let least_for_risk = u128::from(job.collateral_per_replica)
        * u128::from(limits.min_reward_to_collateral_bps)
        / 10_000;
    if job.reward_per_replica < limits.min_reward
        || u128::from(job.reward_per_replica) < least_for_risk
    {
        return Err(Skip::RewardTooLow);
    }
    if provider.free_stake().unwrap_or(0) < job.collateral_per_replica
        || provider.bonded_stake() < market.min_provider_stake
    {
        return Err(Skip::InsufficientStake);
    }
    if !eligible(job, provider_address, provider, now) {
        return Err(Skip::NotEligible);
    }
    if !provider.capabilities.meets(&job.spec.min_capabilities) {
        return Err(Skip::CapabilitiesTooLow);
    }
    if u64::from(job.spec.input_len) > limits.max_input_bytes
        || u64::from(job.spec.output_len) > limits.max_output_bytes
    {
        return Err(Skip::TooLarge);
    }
    Ok(())
}

/// The job's claim rules (the program checks the same): not our owner's own job, on its
/// allowlist if it has one, and our record, stake and age at least what it asks.
fn eligible(job: &Job, provider_address: &Pubkey, provider: &Provider, now: i64) -> bool {
    provider.owner != job.client
        && (job.allowlist().is_empty() || job.allowlist().contains(provider_address))
        && provider.jobs_completed >= u64::from(job.min_completed_jobs)
        && provider.bonded_stake() >= job.min_stake
        && now.saturating_sub(provider.registered_at) >= job.min_provider_age
}

#[cfg(test)]
mod tests {
    use super::*;
    use compute_market_sdk::{Capabilities, DeviceClass};

    fn provider() -> Provider {
        Provider {
            version: 2,
            bump: 0,
            stake_vault_bump: 0,
            status: ProviderStatus::Active,
            market: Pubkey::default(),
            owner: Pubkey::new_unique(),
            stake_vault: Pubkey::default(),
            staked: 1_000,
            earnings: 0,
            fees_due: 0,
            forfeit_due: 0,
            locked: 0,
            unbonding: 0,
            unbonding_ends_at: 0,
            capabilities: Capabilities {
                vendor_id: 0,
                device_class: DeviceClass::Cpu,
                memory_mib: 1024,
                max_workgroup_invocations: 256,
                max_storage_buffer_bytes: 1 << 27,
                bandwidth_mbps: 1_000,
                int_mops: 1_000,
            },
            jobs_completed: 0,
            jobs_failed: 0,
            jobs_slashed: 0,
            jobs_given_back: 0,
            total_earned: 0,
            registered_at: 0,
            capacity: Default::default(),
            reserved: [0; compute_market_sdk::PROVIDER_RESERVED],
        }
    }

    fn market() -> Market {
        Market {
            version: 2,
            bump: 0,
            treasury_bump: 0,
            paused: false,
            mint_freezable: false,
            creator: Pubkey::default(),
            authority: Pubkey::default(),
            pending_authority: Pubkey::default(),
            payment_mint: Pubkey::default(),
            mint_decimals: 6,
            treasury: Pubkey::default(),
            fee_bps: 0,
            give_back_bps: 0,
            min_provider_stake: 0,
            collateral_per_replica: 100,
            unbonding_period: 0,
            claim_window: 60,
            commit_window: 60,
            reveal_window: 60,
            reserved: [0; 64],
        }
    }

    fn job() -> Job {
        let mut job: Job = bytemuck::Zeroable::zeroed();
        job.replicas = 1;
        job.quorum = 1;
        job.reward_per_replica = 50;
        job.collateral_per_replica = 100;
        job.claim_deadline = 100;
        job.commit_deadline = 200;
        job.spec.output_len = 64;
        job
    }

    fn limits() -> Limits {
        Limits {
            min_reward: 10,
            min_reward_to_collateral_bps: 0,
            blocked_clients: vec![],
            max_input_bytes: 1 << 20,
            max_output_bytes: 1 << 20,
            seconds_needed: 30,
        }
    }

    #[test]
    fn every_reason_is_reported() {
        let me = Pubkey::new_unique();
        let check =
            |j: &Job, p: &Provider, m: &Market, l: &Limits, now: i64| screen(j, &me, p, m, l, now);
        let (j, p, m, l) = (job(), provider(), market(), limits());
        assert_eq!(check(&j, &p, &m, &l, 0), Ok(()));
        let mut x = j;
        x.status = JobStatus::Running as u8;
        assert_eq!(check(&x, &p, &m, &l, 0), Err(Skip::NotOpen));
        let mut x = j;
        x.claimed = 1;
        assert_eq!(check(&x, &p, &m, &l, 0), Err(Skip::Full));
        assert_eq!(check(&j, &p, &m, &l, 101), Err(Skip::ClaimDeadlinePassed));
        assert_eq!(check(&j, &p, &m, &l, 99).ok(), Some(()));
        let slow = Limits {
            seconds_needed: 150,
            ..limits()
        };
        assert_eq!(check(&j, &p, &m, &slow, 99), Err(Skip::DeadlineUnreachable));
        let mut paused = market();
        paused.paused = true;
        assert_eq!(check(&j, &p, &paused, &l, 0), Err(Skip::MarketPaused));
        let mut pp = provider();
        pp.status = ProviderStatus::Paused;
        assert_eq!(check(&j, &pp, &m, &l, 0), Err(Skip::ProviderPaused));
        let greedy = Limits {
            min_reward: 51,
            ..limits()
        };
        assert_eq!(check(&j, &p, &m, &greedy, 0), Err(Skip::RewardTooLow));
        // 50 of reward for 100 of collateral: enough at 50 %, not at 51 %.
        let cautious = |bps| Limits {
            min_reward_to_collateral_bps: bps,
            ..limits()
        };
        assert_eq!(check(&j, &p, &m, &cautious(5_000), 0), Ok(()));
        assert_eq!(
            check(&j, &p, &m, &cautious(5_100), 0),
            Err(Skip::RewardTooLow)
        );
        let wary = Limits {
            blocked_clients: vec![j.client],
            ..limits()
        };
        assert_eq!(check(&j, &p, &m, &wary, 0), Err(Skip::ClientBlocked));
        let mut poor = provider();
        poor.locked = 950;
        assert_eq!(check(&j, &poor, &m, &l, 0), Err(Skip::InsufficientStake));
        let mut big = j;
        big.spec.min_capabilities.memory_mib = 4096;
        assert_eq!(check(&big, &p, &m, &l, 0), Err(Skip::CapabilitiesTooLow));
        let mut huge = j;
        huge.spec.output_len = 2 << 20;
        assert_eq!(check(&huge, &p, &m, &l, 0), Err(Skip::TooLarge));
        let mut listed = j;
        listed.allowlist_len = 1;
        listed.allowlist[0] = Pubkey::new_unique();
        assert_eq!(check(&listed, &p, &m, &l, 0), Err(Skip::NotEligible));
        listed.allowlist[0] = me;
        assert_eq!(check(&listed, &p, &m, &l, 0), Ok(()));
        let mut own = j;
        own.client = p.owner;
        assert_eq!(check(&own, &p, &m, &l, 0), Err(Skip::NotEligible));
        let mut veteran = j;
        veteran.min_completed_jobs = 1;
        assert_eq!(check(&veteran, &p, &m, &l, 0), Err(Skip::NotEligible));
        let mut rich = j;
        rich.min_stake = 1_001;
        assert_eq!(check(&rich, &p, &m, &l, 0), Err(Skip::NotEligible));
        let mut old = j;
        old.min_provider_age = 10;
        assert_eq!(check(&old, &p, &m, &l, 9), Err(Skip::NotEligible));
        assert_eq!(check(&old, &p, &m, &l, 10), Ok(()));
        let mut minimum = market();
        minimum.min_provider_stake = 1_001;
        assert_eq!(check(&j, &p, &minimum, &l, 0), Err(Skip::InsufficientStake));
        let mut mine = j;
        mine.slots[0].provider = me;
        mine.slots[0].state = compute_market_sdk::SlotState::Claimed as u8;
        assert_eq!(check(&mine, &p, &m, &l, 0), Err(Skip::AlreadyClaimed));
        assert_eq!(Skip::Invalid("x".into()).to_string(), "invalid job: x");
    }

    #[test]
    fn fetch_refusals_have_their_own_reason() {
        let refused = Skip::from_store(StoreError::Refused {
            uri: "file:///etc/passwd".into(),
            reason: "file:// is disabled".into(),
        });
        assert_eq!(refused.label(), "fetch_refused");
        assert_eq!(
            refused.to_string(),
            "refused: file:// is disabled (blob file:///etc/passwd)"
        );
        let slow = Skip::from_store(StoreError::TimedOut {
            uri: "https://tarpit.example/b".into(),
            after: std::time::Duration::from_secs(10),
        });
        assert_eq!(slow.label(), "fetch_failed");
        assert!(slow.is_transient() && !refused.is_transient());
        assert_eq!(
            slow.to_string(),
            "blobs not fetched (will retry): timed out after 10 s fetching https://tarpit.example/b"
        );
    }

    #[test]
    fn only_skips_about_our_state_are_screened_again_when_it_changes() {
        // Our stake moves with every claim and settlement of ours; that used to re-screen,
        // re-download and re-validate every skipped job, however it was skipped.
        for skip in [
            Skip::Invalid("parse".into()),
            Skip::FetchRefused("file".into()),
            Skip::Unfetchable("hash".into()),
            Skip::TooLarge,
            Skip::ClientBlocked,
            Skip::DeadlineUnreachable,
            Skip::Full,
        ] {
            assert!(!skip.depends_on_our_state(), "{skip:?}");
        }
        for skip in [
            Skip::InsufficientStake,
            Skip::ProviderPaused,
            Skip::MarketPaused,
            Skip::CapabilitiesTooLow,
            Skip::NotEligible,
            Skip::RewardTooLow,
        ] {
            assert!(skip.depends_on_our_state(), "{skip:?}");
        }
    }
}
