use anchor_lang::prelude::borsh::{BorshDeserialize, BorshSerialize};
use anchor_lang::prelude::*;
use bytemuck::Zeroable;

use crate::constants::*;
use crate::errors::MarketError;

/// Whether a job's output can be verified by comparing hashes between providers.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum Determinism {
    /// Integer/boolean arithmetic only: every correct provider produces identical bytes, so
    /// replicas can be compared by hash.
    Exact,
    /// Uses floating point: results may differ between adapters, so replica hashes may disagree
    /// even when every provider is honest. Such jobs take one replica (`job_post` refuses more)
    /// until tolerance verification exists, so an honest GPU is never slashed for rounding.
    Float,
}

/// Lifecycle of a job. Times of each transition are in [`Job`]'s timestamp fields.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum JobStatus {
    /// Posted; replica slots can still be claimed.
    Open,
    /// Every replica slot is claimed; providers are computing, committing and revealing.
    Running,
    /// A result reached quorum (or the single replica submitted one); providers paid.
    Completed,
    /// Replicas revealed but no result reached quorum; client refunded.
    Failed,
    /// A phase deadline passed with too few replicas to reach quorum; client refunded.
    Expired,
}

impl JobStatus {
    /// True once money has been settled.
    pub fn is_settled(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Expired)
    }
}

/// How a job's replicas are chosen.
#[derive(
    AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, Default, PartialEq, Eq, InitSpace,
)]
pub enum ClaimMode {
    /// First come, first served (`job_claim`), from the slot after posting.
    #[default]
    FirstCome,
    /// Providers apply during the claim window (`job_apply`); after it, `job_draw` draws the
    /// replicas stake-weighted from a seed no single party controls.
    Drawn,
}

/// An applicant of a drawn job (zero-copy: 40 bytes).
#[zero_copy]
#[derive(Debug, PartialEq, Eq)]
pub struct Applicant {
    /// Provider PDA.
    pub provider: Pubkey,
    /// Stake it locked for this job when it applied (at least the collateral): its weight in
    /// the draw, fixed before the draw's seed can be known. Unlocked at the draw, except the
    /// collateral of a winner.
    pub stake: u64,
}

/// Progress of one replica slot.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum SlotState {
    /// Nobody holds this slot.
    Empty,
    /// A provider claimed it and locked collateral.
    Claimed,
    /// The provider posted its commitment.
    Committed,
    /// The provider revealed (or, with one replica, submitted) its result hash.
    Revealed,
}

/// One replica of a job, held by one provider (zero-copy: no padding, 112 bytes).
#[zero_copy]
#[derive(Debug, PartialEq, Eq)]
pub struct ReplicaSlot {
    /// Provider PDA holding the slot (zero when empty).
    pub provider: Pubkey,
    /// `commitment_hash(job, provider, result_hash, salt)`, zero until committed.
    pub commitment: [u8; 32],
    /// Revealed result hash, zero until revealed.
    pub result_hash: [u8; 32],
    /// Unix time of the claim.
    pub claimed_at: i64,
    /// Progress of the slot ([`SlotState`] as `u8`).
    pub state: u8,
    /// Alignment padding (zero).
    pub padding: [u8; 7],
}

impl ReplicaSlot {
    /// Progress of the slot.
    pub fn state(&self) -> SlotState {
        SlotState::from_u8(self.state)
    }
}

impl SlotState {
    /// Decodes a stored state; unknown values read as `Empty` (never written by this program).
    pub fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Claimed,
            2 => Self::Committed,
            3 => Self::Revealed,
            _ => Self::Empty,
        }
    }
}

impl JobStatus {
    /// Decodes a stored status; unknown values read as `Open` (never written by this program).
    pub fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Running,
            2 => Self::Completed,
            3 => Self::Failed,
            4 => Self::Expired,
            _ => Self::Open,
        }
    }
}

impl Determinism {
    /// Decodes a stored class; anything but `Exact` reads as `Float`, the cautious choice.
    pub fn from_u8(value: u8) -> Self {
        if value == Self::Exact as u8 {
            Self::Exact
        } else {
            Self::Float
        }
    }
}

/// The least a job asks of a provider's capabilities (zero-copy: 24 bytes).
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[borsh(crate = "anchor_lang::prelude::borsh")]
pub struct MinCapabilities {
    /// Minimum storage buffer binding, in bytes.
    pub max_storage_buffer_bytes: u64,
    /// Minimum device memory, in MiB.
    pub memory_mib: u32,
    /// Minimum invocations per workgroup.
    pub max_workgroup_invocations: u32,
    /// Minimum measured memory bandwidth, in MB/s.
    pub bandwidth_mbps: u32,
    /// 1: software (CPU) adapters may not claim.
    pub hardware_only: u8,
    /// Alignment padding (zero).
    pub padding: [u8; 3],
}

/// What a job computes: the job ABI's fixed-size part (see `job-abi/` for the ABI itself).
/// Zero-copy with no padding (144 bytes), so its Borsh encoding (in `job_post`'s arguments) and
/// its in-account encoding are the same bytes; the IDL describes it once, as the account layout.
#[zero_copy]
#[derive(Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[borsh(crate = "anchor_lang::prelude::borsh")]
pub struct JobSpec {
    /// Least capabilities a provider must publish to claim.
    pub min_capabilities: MinCapabilities,
    /// SHA-256 of the WGSL source bytes.
    pub shader_hash: [u8; 32],
    /// SHA-256 of the input bytes.
    pub input_hash: [u8; 32],
    /// Input length, in bytes.
    pub input_len: u32,
    /// Output length, in bytes.
    pub output_len: u32,
    /// Workgroup counts x, y, z of the dispatch.
    pub workgroups: [u32; 3],
    /// Uniform parameter block bound at `@binding(2)`.
    pub params: [u8; PARAMS_LEN],
    /// Whether replicas can be compared by hash ([`Determinism`] as `u8`).
    pub determinism: u8,
    /// Alignment padding (zero).
    pub padding: [u8; 3],
}

impl JobSpec {
    /// Whether replicas can be compared by hash.
    pub fn determinism(&self) -> Determinism {
        Determinism::from_u8(self.determinism)
    }
}

/// A job: its spec, escrowed payment, replica slots, deadlines and result.
///
/// Zero-copy (`AccountLoader`): instructions read and write fields in place instead of
/// deserialising 2.5 KB on every call. Fixed fields come first so `getProgramAccounts` can filter
/// on fixed offsets ([`Job::STATUS_OFFSET`], [`Job::MARKET_OFFSET`], [`Job::CLIENT_OFFSET`],
/// [`Job::slot_provider_offset`]). Text fields are fixed buffers with a length byte.
#[account(zero_copy)]
#[derive(Debug)]
pub struct Job {
    /// Layout version ([`JOB_VERSION`]).
    pub version: u8,
    /// Bump of the job PDA `[SEED_JOB, market, client, job_id]`.
    pub bump: u8,
    /// Bump of the escrow vault PDA `[SEED_ESCROW, job]`.
    pub escrow_bump: u8,
    /// Lifecycle state ([`JobStatus`] as `u8`).
    pub status: u8,
    /// Replicas requested (`n`).
    pub replicas: u8,
    /// Agreeing results needed (`k`).
    pub quorum: u8,
    /// Slots claimed so far.
    pub claimed: u8,
    /// Slots that committed (or, with one replica, submitted).
    pub committed: u8,
    /// Slots that revealed (or submitted).
    pub revealed: u8,
    /// Length of `entry_point`.
    pub entry_point_len: u8,
    /// Length of `shader_uri`.
    pub shader_uri_len: u8,
    /// Length of `input_uri`.
    pub input_uri_len: u8,
    /// Alignment padding (zero).
    pub padding: [u8; 4],
    /// Market the job was posted to.
    pub market: Pubkey,
    /// Who posted and paid for the job; withdraws its refund and the rent with `job_close`.
    pub client: Pubkey,
    /// Escrow token account (owned by this PDA) holding the payment until settlement, and the
    /// client's refund after it, until the client closes the job.
    pub escrow: Pubkey,
    /// Client-chosen id, unique per client and market.
    pub job_id: u64,
    /// Paid to each provider whose result agrees with the quorum, in base units.
    pub reward_per_replica: u64,
    /// Protocol fee per paid replica, escrowed on top of the reward, in base units.
    pub fee_per_replica: u64,
    /// Provider stake locked per claimed replica (market value at posting), in base units.
    pub collateral_per_replica: u64,
    /// Unix time of posting.
    pub posted_at: i64,
    /// Last moment a slot can be claimed.
    pub claim_deadline: i64,
    /// Last moment a commitment (or a single replica's result) can be posted.
    pub commit_deadline: i64,
    /// Last moment a commitment can be revealed.
    pub reveal_deadline: i64,
    /// Unix time of settlement (Completed, Failed or Expired), 0 before.
    pub settled_at: i64,
    /// Slot of posting: no claim lands in this slot (nobody claims in the posting transaction).
    pub posted_slot: u64,
    /// What giving a claimed slot back costs its provider (market value at posting), burnt.
    pub give_back_cost: u64,
    /// Least bonded stake a claimer must hold (besides the market's minimum), in base units.
    pub min_stake: u64,
    /// Least age of a claimer's registration, in seconds.
    pub min_provider_age: i64,
    /// Least paid replicas a claimer must have on record.
    pub min_completed_jobs: u32,
    /// Providers named in `allowlist` (0: anyone may claim).
    pub allowlist_len: u8,
    /// How replicas are chosen ([`ClaimMode`] as `u8`).
    pub selection: u8,
    /// Applicants recorded (drawn jobs).
    pub applicants_len: u8,
    /// 1 once a drawn job's replicas were drawn.
    pub drawn: u8,
    /// Provider PDAs allowed to claim, when `allowlist_len > 0`.
    pub allowlist: [Pubkey; MAX_ALLOWLIST],
    /// Applicants of a drawn job, in application order.
    pub applicants: [Applicant; MAX_APPLICANTS],
    /// Running hash of the applicants' contributions (drawn jobs).
    pub entropy: [u8; 32],
    /// Slot whose hash seeds the draw: [`DRAW_DELAY_SLOTS`] after the last application.
    pub draw_slot: u64,
    /// The agreed result hash once Completed, zero otherwise.
    pub result_hash: [u8; 32],
    /// What to compute.
    pub spec: JobSpec,
    /// Replica slots; the first `replicas` are in use, filled in order.
    pub slots: [ReplicaSlot; MAX_REPLICAS],
    /// WGSL entry point (UTF-8, `entry_point_len` bytes).
    pub entry_point: [u8; MAX_ENTRY_POINT_LEN],
    /// Where the shader source can be downloaded (`file://`, `https://`, `s3://`).
    pub shader_uri: [u8; MAX_URI_LEN],
    /// Where the input bytes can be downloaded.
    pub input_uri: [u8; MAX_URI_LEN],
    /// Length of each slot's result URI.
    pub result_uri_lens: [u8; 8],
    /// Result URI revealed by each slot (same index as `slots`).
    pub result_uris: [[u8; MAX_URI_LEN]; MAX_REPLICAS],
    /// Reserved for future versions.
    pub reserved: [u8; 64],
}

/// Text of a fixed buffer (empty if it is not valid UTF-8, which this program never writes).
fn text(bytes: &[u8], len: u8) -> &str {
    bytes
        .get(..len as usize)
        .and_then(|b| core::str::from_utf8(b).ok())
        .unwrap_or("")
}

/// Copies `value` into a fixed buffer, returning its length; `None` if it does not fit.
pub fn store_text(buffer: &mut [u8], value: &str) -> Option<u8> {
    let bytes = value.as_bytes();
    let len = u8::try_from(bytes.len()).ok()?;
    buffer.get_mut(..bytes.len())?.copy_from_slice(bytes);
    buffer.get_mut(bytes.len()..)?.fill(0);
    Some(len)
}

impl Job {
    /// Account size, discriminator included.
    pub const LEN: usize = 8 + core::mem::size_of::<Job>();
    /// Byte offset of `status` in the account data (after the 8-byte discriminator).
    pub const STATUS_OFFSET: usize = 8 + core::mem::offset_of!(Job, status);
    /// Byte offset of `market`.
    pub const MARKET_OFFSET: usize = 8 + core::mem::offset_of!(Job, market);
    /// Byte offset of `client`.
    pub const CLIENT_OFFSET: usize = 8 + core::mem::offset_of!(Job, client);
    /// Byte offset of `slots`.
    pub const SLOTS_OFFSET: usize = 8 + core::mem::offset_of!(Job, slots);

    /// Byte offset of slot `index`'s provider key (for "jobs of this provider" filters).
    pub const fn slot_provider_offset(index: usize) -> usize {
        Self::SLOTS_OFFSET + index * core::mem::size_of::<ReplicaSlot>()
    }

    /// Lifecycle state.
    pub fn status(&self) -> JobStatus {
        JobStatus::from_u8(self.status)
    }

    /// WGSL entry point.
    pub fn entry_point(&self) -> &str {
        text(&self.entry_point, self.entry_point_len)
    }

    /// Where the shader can be downloaded.
    pub fn shader_uri(&self) -> &str {
        text(&self.shader_uri, self.shader_uri_len)
    }

    /// Where the input can be downloaded.
    pub fn input_uri(&self) -> &str {
        text(&self.input_uri, self.input_uri_len)
    }

    /// Result URI revealed by slot `index` (empty until revealed).
    pub fn result_uri(&self, index: usize) -> &str {
        match (self.result_uris.get(index), self.result_uri_lens.get(index)) {
            (Some(uri), Some(len)) => text(uri, *len),
            _ => "",
        }
    }

    /// Slots in use.
    pub fn active_slots(&self) -> &[ReplicaSlot] {
        &self.slots[..(self.replicas as usize).min(MAX_REPLICAS)]
    }

    /// Whether replicas are drawn rather than claimed.
    pub fn is_drawn(&self) -> bool {
        self.selection == ClaimMode::Drawn as u8
    }

    /// Whether a draw at `now` comes too late to give winners time to compute: past the first
    /// half of the commit window. A late draw releases every applicant and draws nobody.
    pub fn draw_is_late(&self, now: i64) -> bool {
        let window = self.commit_deadline.saturating_sub(self.claim_deadline);
        now > self.claim_deadline.saturating_add(window / 2)
    }

    /// Applicants recorded so far (drawn jobs).
    pub fn applicants(&self) -> &[Applicant] {
        &self.applicants[..(self.applicants_len as usize).min(MAX_APPLICANTS)]
    }

    /// Providers allowed to claim (empty: anyone).
    pub fn allowlist(&self) -> &[Pubkey] {
        &self.allowlist[..(self.allowlist_len as usize).min(MAX_ALLOWLIST)]
    }

    /// Empties claimed slot `index` (a give-back): the last claimed slot moves into it, so
    /// claimed slots stay at indices `0..claimed`, and the job is open for claims again.
    pub fn release_slot(&mut self, index: usize) -> Result<()> {
        let last = (self.claimed as usize)
            .checked_sub(1)
            .ok_or(MarketError::InvariantViolated)?;
        require!(index <= last, MarketError::InvariantViolated);
        self.slots[index] = self.slots[last];
        self.slots[last] = ReplicaSlot::zeroed();
        self.claimed -= 1;
        self.status = JobStatus::Open as u8;
        Ok(())
    }

    /// Refuses a job of another layout version.
    pub fn check_version(&self) -> Result<()> {
        require!(self.version == JOB_VERSION, MarketError::UnsupportedVersion);
        Ok(())
    }

    /// Index of the slot held by `provider`, if any.
    pub fn slot_of(&self, provider: &Pubkey) -> Option<usize> {
        self.active_slots()
            .iter()
            .position(|s| s.state() != SlotState::Empty && s.provider == *provider)
    }

    /// Escrow a job holds at posting: `replicas × (reward + fee)`.
    pub fn escrow_total(&self) -> Result<u64> {
        self.reward_per_replica
            .checked_add(self.fee_per_replica)
            .and_then(|v| v.checked_mul(self.replicas as u64))
            .ok_or_else(|| error!(MarketError::Overflow))
    }

    /// No more claims: every slot taken, or the claim deadline passed.
    pub fn claims_closed(&self, now: i64) -> bool {
        self.claimed == self.replicas || now > self.claim_deadline
    }

    /// Reveals may start: claims are closed and no more commitments can arrive (every claimed
    /// slot committed, or the commit deadline passed). Nobody can see a revealed hash while
    /// anybody can still commit, so copying a result is impossible.
    pub fn reveal_open(&self, now: i64) -> bool {
        self.claims_closed(now) && (self.committed == self.claimed || now > self.commit_deadline)
    }

    /// Replicated jobs may be finalized once enough replicas committed, the reveal phase is open
    /// and every committed replica revealed or the reveal deadline passed.
    pub fn can_finalize(&self, now: i64) -> bool {
        self.replicas > 1
            && !self.status().is_settled()
            && self.committed >= self.quorum
            && self.reveal_open(now)
            && (self.revealed == self.committed || now > self.reveal_deadline)
    }

    /// Why a job can be expired now, if it can: too few claims by the claim deadline, or too few
    /// commitments (submissions) by the commit deadline.
    pub fn expiry(&self, now: i64) -> Option<Expiry> {
        if self.status().is_settled() {
            return None;
        }
        // A drawn job with applicants is drawn before anything else (their stake is locked
        // until then; a late draw releases them all).
        let awaiting_draw = self.is_drawn() && self.drawn == 0 && self.applicants_len > 0;
        if awaiting_draw {
            return None;
        }
        if now > self.claim_deadline && self.claimed < self.quorum {
            Some(Expiry::TooFewClaims)
        } else if now > self.commit_deadline && self.committed < self.quorum {
            Some(Expiry::TooFewCommits)
        } else {
            None
        }
    }

    /// The result hash revealed by at least `quorum` slots, if any. With a strict-majority
    /// quorum at most one hash can qualify.
    pub fn quorum_hash(&self) -> Option<[u8; 32]> {
        let revealed = self
            .active_slots()
            .iter()
            .filter(|s| s.state() == SlotState::Revealed);
        for candidate in revealed.clone() {
            let votes = revealed
                .clone()
                .filter(|s| s.result_hash == candidate.result_hash)
                .count();
            if votes >= self.quorum as usize {
                return Some(candidate.result_hash);
            }
        }
        None
    }

    /// What settlement does with each slot for a given outcome.
    pub fn dispositions(&self, outcome: Outcome) -> [Disposition; MAX_REPLICAS] {
        let mut out = [Disposition::Unclaimed; MAX_REPLICAS];
        for (i, slot) in self.active_slots().iter().enumerate() {
            out[i] = match (slot.state(), outcome) {
                (SlotState::Empty, _) => Disposition::Unclaimed,
                (SlotState::Revealed, Outcome::Completed(hash)) if slot.result_hash == hash => {
                    Disposition::Pay
                }
                (SlotState::Revealed, Outcome::Completed(_)) => Disposition::Slash,
                (SlotState::Revealed, Outcome::Failed) => Disposition::Release,
                (_, Outcome::Completed(_) | Outcome::Failed) => Disposition::Slash,
                (_, Outcome::Expired(Expiry::TooFewClaims)) => Disposition::Release,
                (SlotState::Claimed, Outcome::Expired(Expiry::TooFewCommits)) => Disposition::Slash,
                (_, Outcome::Expired(Expiry::TooFewCommits)) => Disposition::Release,
            };
        }
        out
    }

    /// Checks the counters agree with the slots.
    pub fn invariant(&self) -> Result<()> {
        let active = self.active_slots();
        let count = |pred: fn(SlotState) -> bool| active.iter().filter(|s| pred(s.state())).count();
        let claimed = count(|s| s != SlotState::Empty);
        let committed = count(|s| matches!(s, SlotState::Committed | SlotState::Revealed));
        let revealed = count(|s| s == SlotState::Revealed);
        require!(
            claimed == self.claimed as usize
                && committed == self.committed as usize
                && revealed == self.revealed as usize,
            MarketError::InvariantViolated
        );
        Ok(())
    }
}

/// Why a job expired.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum Expiry {
    /// Fewer than `quorum` slots were claimed by the claim deadline (nobody is at fault).
    TooFewClaims,
    /// Fewer than `quorum` slots committed by the commit deadline (claimers that never
    /// committed are at fault).
    TooFewCommits,
}

/// How a job settles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// This result hash reached quorum.
    Completed([u8; 32]),
    /// Replicas revealed but no hash reached quorum.
    Failed,
    /// A deadline passed with too few replicas.
    Expired(Expiry),
}

impl Outcome {
    /// The job status this outcome leads to.
    pub fn status(self) -> JobStatus {
        match self {
            Self::Completed(_) => JobStatus::Completed,
            Self::Failed => JobStatus::Failed,
            Self::Expired(_) => JobStatus::Expired,
        }
    }
}

/// What settlement does with one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Slot never claimed: its reward and fee go back to the client.
    Unclaimed,
    /// Provider credited its reward (and the fee, owed to the treasury); collateral unlocked.
    Pay,
    /// Provider not at fault but not paid: reward and fee refunded to the client; collateral
    /// unlocked.
    Release,
    /// Provider at fault: reward and fee refunded to the client; collateral forfeited (burnt by
    /// the next sweep; never paid to the client or another replica).
    Slash,
}

/// The replication rule of `job_post`, shared with the SDK: one replica, or three or more with a
/// strict-majority quorum (two would let one replica veto the other for free); several replicas
/// only for `Exact` jobs (float results may differ between honest GPUs).
pub fn check_replication(
    replicas: u8,
    quorum: u8,
    determinism: Determinism,
) -> core::result::Result<(), MarketError> {
    if replicas != 1 && !(3..=MAX_REPLICAS as u8).contains(&replicas) {
        return Err(MarketError::InvalidReplicas);
    }
    let quorum_ok = if replicas == 1 {
        quorum == 1
    } else {
        quorum <= replicas && 2 * quorum as u16 > replicas as u16
    };
    if !quorum_ok {
        return Err(MarketError::InvalidQuorum);
    }
    if replicas > 1 && determinism != Determinism::Exact {
        return Err(MarketError::FloatNeedsOneReplica);
    }
    Ok(())
}

/// What a closed job's address keeps: a small account of its own type, so the address can never
/// hold a job again (`job_post` with the same `job_id` fails) and nobody mistakes a new job for an
/// old one. Everything else of the job's rent goes back to the client.
#[account]
#[derive(InitSpace, Debug)]
pub struct JobTombstone {
    /// Layout version ([`TOMBSTONE_VERSION`]).
    pub version: u8,
    /// How the job ended ([`JobStatus`] as `u8`; `Open` when it was cancelled unclaimed).
    pub status: u8,
    /// The agreed result hash when the job Completed, zero otherwise.
    pub result_hash: [u8; 32],
}

impl JobTombstone {
    /// Account size, discriminator included (42 bytes).
    pub const LEN: usize = 8 + JobTombstone::INIT_SPACE;
}

/// The commitment a provider posts before revealing: SHA-256 over a domain tag, the job, the
/// provider PDA, the result hash and a 32-byte secret salt. Binding the job and provider means a
/// commitment cannot be replayed on another job or copied by another provider.
pub fn commitment_hash(
    job: &Pubkey,
    provider: &Pubkey,
    result_hash: &[u8; 32],
    salt: &[u8; 32],
) -> [u8; 32] {
    solana_sha256_hasher::hashv(&[
        COMMITMENT_DOMAIN,
        job.as_ref(),
        provider.as_ref(),
        result_hash,
        salt,
    ])
    .to_bytes()
}
