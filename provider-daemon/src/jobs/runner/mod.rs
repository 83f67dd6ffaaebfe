//! Drives one job this provider takes through its lifecycle: claim, fetch and verify the blobs,
//! execute on the GPU (worker process), upload the output, then submit (one replica) or commit
//! and later reveal, and crank settlement when due.
//!
//! The chain is the truth and the journal ([`crate::state`]) is written ahead: the intent of
//! every transaction (with the salt, created once and never changed) is stored before it is
//! sent, and on every step the runner re-reads the job account and acts on what the chain says
//! its slot is. Every step is safe to repeat, so a crash at any point is followed by a resume
//! that neither claims twice nor loses the salt a reveal needs.
//!
//! A runner runs in its job's span ([`crate::jobs::span`]): its log lines name the job and the
//! journal phase it is in, and its blocking work (journal writes, GPU execution, validation)
//! runs inside the same span.
//!
//! [`execute`] runs a job on the GPU and stores its output; [`slot`] holds what ends a job for us
//! (settlement, a give-back) and what a drawn job's applicant does.

mod execute;
mod slot;

use std::sync::Arc;

use compute_market_job::{Caps, JobDescriptor};
use compute_market_sdk::{Client, Job, JobStatus, Pubkey, SdkError, SlotState};

use crate::gpu::GpuFleet;
use crate::jobs::retention::OutputGate;
use crate::jobs::span::blocking;
use crate::metrics::Metrics;
use crate::settings::{CrashPoint, Settings};
use crate::state::{unix_now, JobRecord, Phase, RecordUpdate, StateDb, StateError};
pub use execute::prepare;
use execute::{compute, start_by};
use slot::{apply_or_draw, count_settled, give_back, holds_slot, settled};

/// Everything a job runner needs; shared by all runners.
pub struct RunnerContext {
    /// The SDK client, acting as this provider's owner.
    pub client: Client,
    /// The write-ahead journal.
    pub db: Arc<StateDb>,
    /// The GPU executor.
    pub pool: Arc<GpuFleet>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Settings.
    pub settings: Arc<Settings>,
    /// This provider's caps.
    pub caps: Caps,
    /// Held (shared) from an output's upload until the journal records it; see [`OutputGate`].
    pub outputs: Arc<OutputGate>,
}

/// Why a runner step failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The journal failed: the runner stops rather than act without a record.
    #[error(transparent)]
    State(#[from] StateError),
    /// The job has no journal record.
    #[error("job {0} has no journal record")]
    NoRecord(Pubkey),
    /// A blocking task failed.
    #[error("background task failed: {0}")]
    Task(String),
    /// The chain refused or could not be reached; the step is retried.
    #[error(transparent)]
    Sdk(#[from] SdkError),
}

fn note(text: impl Into<String>) -> RecordUpdate {
    RecordUpdate {
        note: Some(text.into()),
        ..Default::default()
    }
}

fn signature(sig: impl ToString) -> RecordUpdate {
    RecordUpdate {
        signature: Some(sig.to_string()),
        ..Default::default()
    }
}

impl RunnerContext {
    fn provider_address(&self) -> Pubkey {
        self.client.provider_address()
    }

    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&StateDb) -> Result<T, StateError> + Send + 'static,
    ) -> Result<T, RunError> {
        let db = self.db.clone();
        Ok(blocking(move || f(&db))
            .await
            .map_err(|e| RunError::Task(e.to_string()))??)
    }

    async fn advance(
        &self,
        job: Pubkey,
        phase: Phase,
        update: RecordUpdate,
    ) -> Result<(), RunError> {
        self.db(move |db| db.advance(&job, phase, update)).await
    }
}

/// Takes a job: journals the intent with a fresh salt, claims, and drives it to the end.
pub async fn take(
    ctx: Arc<RunnerContext>,
    address: Pubkey,
    job: Job,
    descriptor: JobDescriptor,
) -> Result<(), RunError> {
    // The salt is created here, once, and journaled before the claim is sent.
    let record = JobRecord::new(address, job.replicas, rand::random(), job.posted_at);
    let inserted = ctx.db(move |db| db.insert_new(&record)).await?;
    if !inserted {
        // Already journaled (a resume is running it): never claim twice.
        return Ok(());
    }
    drive(ctx, address, Some(descriptor)).await
}

/// Crash on purpose after a transaction was sent, to test resumption. Only compiled with the
/// `fault-injection` feature; settings refuse faults otherwise.
fn crash_point(ctx: &RunnerContext, point: CrashPoint) {
    #[cfg(feature = "fault-injection")]
    if ctx.settings.fault.crash_after == Some(point) {
        tracing::error!(?point, "fault injection: crashing now");
        std::process::abort();
    }
    #[cfg(not(feature = "fault-injection"))]
    let _ = (ctx, point);
}

/// Whether to lie about results (fault injection, tests only).
fn lie(ctx: &RunnerContext) -> bool {
    #[cfg(feature = "fault-injection")]
    {
        ctx.settings.fault.lie
    }
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = ctx;
        false
    }
}

fn is_program_error(e: &SdkError, names: &[&str]) -> bool {
    e.program_error_name().is_some_and(|n| names.contains(&n))
}

/// Drives a journaled job until it is done or abandoned. Safe to call again for the same job
/// after a crash: every step is decided from the chain's view of our slot.
pub async fn drive(
    ctx: Arc<RunnerContext>,
    address: Pubkey,
    mut descriptor: Option<JobDescriptor>,
) -> Result<(), RunError> {
    let me = ctx.provider_address();
    let poll = ctx.settings.poll_interval;
    // Consecutive reads that did not find the job.
    let mut missing: u32 = 0;
    // Whether a claim of ours may have landed unseen: a job resumed from the journal (sent
    // before a crash?), or a step that failed without an answer. Until then a refused claim
    // is final without reading the job again.
    let mut in_doubt = descriptor.is_none();
    loop {
        let record = ctx
            .db(move |db| db.get(&address))
            .await?
            .ok_or(RunError::NoRecord(address))?;
        tracing::Span::current().record("phase", record.phase.as_str());
        if matches!(record.phase, Phase::Done | Phase::Abandoned) {
            return Ok(());
        }
        // The job and the chain's clock in one request (at least as new as our last transaction).
        let (job, now) = match ctx.client.job_and_time(&address).await {
            Ok(read) => {
                missing = 0;
                read
            }
            // A job account never disappears (it ends as a tombstone): the node is behind, or
            // restarted from an older state. Giving up here could leave a held slot to be
            // slashed, so wait, backing off, until no deadline of the job can be ahead.
            Err(SdkError::AccountNotFound { .. }) => {
                let horizon = record
                    .posted_at
                    .saturating_add(compute_market_sdk::MAX_DEADLINE_HORIZON);
                if unix_now() > horizon {
                    ctx.advance(address, Phase::Done, note("job account gone"))
                        .await?;
                    return Ok(());
                }
                missing = missing.saturating_add(1);
                tracing::warn!("the node does not show the job (behind, or restarted?); waiting");
                tokio::time::sleep(poll.saturating_mul(missing.min(300))).await;
                continue;
            }
            Err(e) => {
                ctx.metrics.rpc_errors_total.inc();
                tracing::warn!(error = %e, "reading the job failed; retrying");
                tokio::time::sleep(poll).await;
                continue;
            }
        };
        if job.status().is_settled() {
            let slot = job.slot_of(&me);
            let paid = job.status() == JobStatus::Completed
                && slot.is_some_and(|i| job.slots[i].result_hash == job.result_hash);
            return settled(&ctx, address, &job, job.status(), paid).await;
        }
        let result = step(&ctx, address, &job, &record, now, &mut descriptor, in_doubt).await;
        match result {
            Ok(Some((phase, text))) => ctx.advance(address, phase, note(text)).await?,
            Ok(None) => {}
            Err(RunError::Sdk(e)) => {
                in_doubt = true;
                ctx.metrics.rpc_errors_total.inc();
                tracing::warn!(error = %e, "step failed; will retry");
            }
            Err(fatal) => return Err(fatal),
        }
        // Anyone may crank a job stuck past a deadline; the runner does so for its own jobs.
        if job.expiry(now).is_some() {
            match ctx.client.expire(&address).await {
                Ok(sig) => tracing::info!(%sig, "expired the job"),
                Err(e) => tracing::debug!(error = %e, "expire not possible yet"),
            }
        }
        tokio::time::sleep(poll).await;
    }
}

/// One step from the chain's view of our slot. `Ok(Some((phase, note)))` ends the job.
async fn step(
    ctx: &RunnerContext,
    address: Pubkey,
    job: &Job,
    record: &JobRecord,
    now: i64,
    descriptor: &mut Option<JobDescriptor>,
    in_doubt: bool,
) -> Result<Option<(Phase, String)>, RunError> {
    let me = ctx.provider_address();
    let Some(index) = job.slot_of(&me) else {
        // Not (yet) a replica on-chain.
        if job.is_drawn() && record.phase == Phase::Claiming {
            return apply_or_draw(ctx, address, job, now).await;
        }
        if record.phase != Phase::Claiming {
            // Our claim was confirmed (the journal says so): a state without our slot comes
            // from a node behind (after a restart this client knows no slot to ask for). Letting
            // go would leave a held slot to be slashed, so wait while a deadline is ahead.
            if now <= job.commit_deadline.max(job.reveal_deadline) {
                tracing::warn!("our slot is not visible (a node behind?); waiting");
                return Ok(None);
            }
            return Ok(Some((Phase::Abandoned, "our slot is not on-chain".into())));
        }
        if job.status() != JobStatus::Open
            || now > job.claim_deadline
            || job.claimed >= job.replicas
        {
            return Ok(Some((Phase::Abandoned, "job no longer claimable".into())));
        }
        let started = std::time::Instant::now();
        return match ctx.client.claim(&address).await {
            Ok(sig) => {
                crash_point(ctx, CrashPoint::ClaimSent);
                ctx.metrics.jobs_claimed_total.inc();
                let age = (now - job.posted_at).max(0) as f64;
                ctx.metrics.pickup_latency_seconds.observe(age);
                tracing::info!(%sig, ms = started.elapsed().as_millis() as u64, "claimed");
                ctx.advance(address, Phase::Claimed, signature(sig)).await?;
                Ok(None)
            }
            // Our own earlier claim landed, or the job was posted in the slot we are in (no
            // claim lands in the posting slot): look again on the next pass.
            Err(e) if is_program_error(&e, &["AlreadyClaimed", "ClaimTooEarly"]) => Ok(None),
            Err(e) if e.program_error_name().is_some() && !in_doubt => {
                // Refused (a race lost to another provider, most often), and no earlier attempt
                // of ours can have landed: let go.
                Ok(Some((Phase::Abandoned, format!("claim refused: {e}"))))
            }
            Err(e) if e.program_error_name().is_some() => {
                // Refused: unless an earlier attempt of ours landed after all, let go.
                match holds_slot(ctx, &address).await {
                    Some(false) => Ok(Some((Phase::Abandoned, format!("claim refused: {e}")))),
                    Some(true) | None => Ok(None),
                }
            }
            Err(e) => Err(e.into()),
        };
    };
    let slot = job.slots[index];
    match slot.state() {
        SlotState::Empty => Ok(None),
        SlotState::Claimed => {
            if now > job.commit_deadline {
                return Ok(Some((
                    Phase::Abandoned,
                    "commit deadline passed before a result was ready".into(),
                )));
            }
            // Not run yet and no longer time to run it and commit: hand it back now, for the
            // give-back cost, rather than be slashed at the deadline.
            let needed = i64::try_from(ctx.settings.job_timeout.as_secs()).unwrap_or(i64::MAX);
            if record.result_hash.is_none() && now.saturating_add(needed) > job.commit_deadline {
                return Ok(Some((
                    Phase::Abandoned,
                    give_back(
                        ctx,
                        address,
                        "too little time left before the commit deadline".into(),
                    )
                    .await,
                )));
            }
            let (hash, uri) = match (record.result_hash, record.output_uri.clone()) {
                (Some(h), Some(u)) => (h, u),
                _ => match compute(
                    ctx,
                    address,
                    job,
                    descriptor.take(),
                    start_by(ctx, job, now),
                )
                .await?
                {
                    Ok(computed) => computed,
                    Err(message) => {
                        // The job cannot be run (it failed validation on the device, hung, or
                        // crashed its worker): nothing honest to commit. Give the slot back
                        // before the commit deadline: it costs the job's give-back cost, far
                        // less than the slash that letting it expire would.
                        ctx.metrics
                            .jobs_failed_total
                            .with_label_values(&["execution"])
                            .inc();
                        tracing::error!(error = %message, "job failed to execute");
                        return Ok(Some((
                            Phase::Abandoned,
                            give_back(ctx, address, format!("execution failed: {message}")).await,
                        )));
                    }
                },
            };
            if job.replicas == 1 {
                ctx.advance(address, Phase::Submitting, RecordUpdate::default())
                    .await?;
                let sig = ctx
                    .client
                    .submit_result_for(&address, job, hash, &uri)
                    .await?;
                crash_point(ctx, CrashPoint::SubmitSent);
                tracing::info!(%sig, "result submitted");
                // A one-replica job settles in its `job_submit` and pays our slot: nothing is
                // left to watch, so no read to learn it.
                count_settled(ctx, job, JobStatus::Completed, true);
                tracing::info!(status = ?JobStatus::Completed, paid = true, "job settled");
                return Ok(Some((
                    Phase::Done,
                    format!("settled Completed, paid (our submission {sig} settled it)"),
                )));
            } else {
                ctx.advance(address, Phase::Committing, RecordUpdate::default())
                    .await?;
                let sig = ctx.client.commit(&address, &hash, &record.salt).await?;
                crash_point(ctx, CrashPoint::CommitSent);
                tracing::info!(%sig, "result committed");
                ctx.advance(address, Phase::Committed, signature(sig))
                    .await?;
            }
            Ok(None)
        }
        SlotState::Committed => {
            if !job.reveal_open(now) || now > job.reveal_deadline {
                return Ok(None);
            }
            let (Some(hash), Some(uri)) = (record.result_hash, record.output_uri.clone()) else {
                return Ok(Some((
                    Phase::Abandoned,
                    "committed on-chain but the journal has no result".into(),
                )));
            };
            ctx.advance(address, Phase::Revealing, RecordUpdate::default())
                .await?;
            let sig = ctx.client.reveal(&address, hash, record.salt, &uri).await?;
            crash_point(ctx, CrashPoint::RevealSent);
            tracing::info!(%sig, "result revealed");
            ctx.advance(address, Phase::Revealed, signature(sig))
                .await?;
            Ok(None)
        }
        SlotState::Revealed => {
            if job.can_finalize(now) {
                match ctx.client.finalize(&address).await {
                    Ok(sig) => tracing::info!(%sig, "finalized"),
                    Err(e) => tracing::debug!(error = %e, "finalize not possible yet"),
                }
            }
            Ok(None)
        }
    }
}
