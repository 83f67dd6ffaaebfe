//! What the daemon resumes on start: every journaled job that is not finished, and every job
//! the chain says this provider holds a slot of, journaled or not. A lost or restored-from-backup
//! journal therefore loses no claim: a job claimed but missing from the journal is journaled
//! again (with a new salt, which is fine before a commit) and run to the end.
//!
//! What a journal alone knows cannot be recovered from the chain: the salt of a commitment.
//! A slot committed on-chain whose journal record is lost cannot be revealed and will be
//! slashed; the daemon says so loudly. Back the journal up with the keypair.

use std::collections::BTreeSet;
use std::time::Duration;

use backon::{ConstantBuilder, Retryable};
use compute_market_sdk::{Job, JobFilter, Pubkey, SdkError, SlotState};

use crate::daemon::DaemonError;
use crate::jobs::runner::RunnerContext;
use crate::state::{JobRecord, Phase, RecordUpdate};

/// How many times the chain listing is tried at start before the daemon goes on with the
/// journal alone.
const ATTEMPTS: usize = 3;

/// The jobs to resume, journal first; journals the chain's jobs it did not know.
pub async fn pending_jobs(ctx: &RunnerContext) -> Result<Vec<Pubkey>, DaemonError> {
    let db = ctx.db.clone();
    let journaled = tokio::task::spawn_blocking(move || db.pending())
        .await
        .map_err(|e| DaemonError::Config(e.to_string()))??;
    let mut jobs: Vec<Pubkey> = journaled.iter().map(|r| r.job).collect();
    let known: BTreeSet<Pubkey> = jobs.iter().copied().collect();
    for record in &journaled {
        tracing::info!(job = %record.job, phase = ?record.phase, "resuming journaled job");
    }
    for (address, job) in held_on_chain(ctx).await {
        if known.contains(&address) {
            continue;
        }
        if adopt(ctx, address, &job).await? {
            jobs.push(address);
        }
    }
    Ok(jobs)
}

/// Unsettled jobs in which this provider holds a slot (empty, with a warning, if the chain
/// cannot be read now).
async fn held_on_chain(ctx: &RunnerContext) -> Vec<(Pubkey, Job)> {
    let filter = JobFilter {
        provider: Some(ctx.client.provider_address()),
        ..Default::default()
    };
    let retries = ConstantBuilder::new()
        .with_delay(Duration::from_secs(1))
        .with_max_times(ATTEMPTS - 1);
    let listed = (|| ctx.client.list(filter.clone()))
        .retry(retries)
        .notify(|e: &SdkError, _| {
            ctx.metrics.rpc_errors_total.inc();
            tracing::warn!(error = %e, "cannot list the jobs we hold slots of; retrying");
        })
        .await;
    match listed {
        Ok(jobs) => jobs
            .into_iter()
            .filter(|(_, job)| !job.status().is_settled())
            .collect(),
        Err(e) => {
            ctx.metrics.rpc_errors_total.inc();
            tracing::warn!(error = %e, "going on with the journal alone: jobs claimed but not journaled are not resumed until the next start");
            Vec::new()
        }
    }
}

/// Journals a job the chain says we hold and the journal does not know; whether to resume it.
async fn adopt(ctx: &RunnerContext, address: Pubkey, job: &Job) -> Result<bool, DaemonError> {
    let Some(index) = job.slot_of(&ctx.client.provider_address()) else {
        return Ok(false);
    };
    let (phase, resume) = match job.slots[index].state() {
        SlotState::Empty | SlotState::Claimed => (Phase::Claimed, true),
        SlotState::Committed => {
            tracing::error!(job = %address, "committed on-chain but not in the journal: its salt is lost, it cannot be revealed and will be slashed (restore the journal from a backup to avoid this)");
            (Phase::Abandoned, false)
        }
        SlotState::Revealed => (Phase::Revealed, true),
    };
    let record = JobRecord::new(address, job.replicas, rand::random(), job.posted_at);
    let note = RecordUpdate {
        note: Some("found on-chain at start, not in the journal".into()),
        ..Default::default()
    };
    let db = ctx.db.clone();
    let inserted = tokio::task::spawn_blocking(move || {
        let inserted = db.insert_new(&record)?;
        if inserted {
            db.advance(&address, phase, note)?;
        }
        Ok::<_, crate::state::StateError>(inserted)
    })
    .await
    .map_err(|e| DaemonError::Config(e.to_string()))??;
    if !inserted {
        // Journaled as finished or given up, yet a slot is still ours: say so, leave it.
        tracing::warn!(job = %address, "the journal has this job as finished or given up, but it still holds our slot");
        return Ok(false);
    }
    if resume {
        tracing::warn!(job = %address, "resuming a job found on-chain but not in the journal");
    }
    Ok(resume)
}
