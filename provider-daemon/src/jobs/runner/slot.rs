//! What ends a job for this provider (settlement, a give-back) and what a drawn job's applicant
//! does.

use backon::{ConstantBuilder, Retryable};
use compute_market_sdk::{Job, JobStatus, Pubkey, SdkError};

use super::{is_program_error, note, RunError, RunnerContext};
use crate::state::Phase;

/// Records a settled job: metrics, the journal (done) and the log.
pub(super) async fn settled(
    ctx: &RunnerContext,
    address: Pubkey,
    job: &Job,
    status: JobStatus,
    paid: bool,
) -> Result<(), RunError> {
    count_settled(ctx, job, status, paid);
    let text = format!("settled {status:?}{}", if paid { ", paid" } else { "" });
    ctx.advance(address, Phase::Done, note(text)).await?;
    tracing::info!(?status, paid, "job settled");
    Ok(())
}

/// Counts a settled job in the metrics.
pub(super) fn count_settled(ctx: &RunnerContext, job: &Job, status: JobStatus, paid: bool) {
    if paid {
        ctx.metrics.jobs_completed_total.inc();
        ctx.metrics
            .earnings_base_units_total
            .inc_by(job.reward_per_replica);
    } else {
        ctx.metrics
            .jobs_failed_total
            .with_label_values(&[&format!("{status:?}").to_lowercase()])
            .inc();
    }
}

/// A drawn job we are not (yet) a replica of: apply during the claim window, crank the draw
/// after it (any applicant may), and let go once it was drawn without us.
pub(super) async fn apply_or_draw(
    ctx: &RunnerContext,
    address: Pubkey,
    job: &Job,
    now: i64,
) -> Result<Option<(Phase, String)>, RunError> {
    if job.drawn != 0 || job.status() != JobStatus::Open {
        return Ok(Some((Phase::Abandoned, "not drawn".into())));
    }
    let me = ctx.provider_address();
    let applied = job.applicants().iter().any(|a| a.provider == me);
    if !applied {
        if now > job.claim_deadline {
            return Ok(Some((
                Phase::Abandoned,
                "the claim window closed before we applied".into(),
            )));
        }
        return match ctx.client.apply(&address, None).await {
            Ok(sig) => {
                tracing::info!(%sig, "applied to a drawn job");
                Ok(None)
            }
            Err(e) if is_program_error(&e, &["AlreadyApplied"]) => Ok(None),
            Err(e) if e.program_error_name().is_some() => Ok(Some((
                Phase::Abandoned,
                format!("application refused: {e}"),
            ))),
            Err(e) => Err(e.into()),
        };
    }
    if now > job.claim_deadline {
        match ctx.client.draw(&address).await {
            Ok(sig) => tracing::info!(%sig, "drew the job's replicas"),
            Err(e) => tracing::debug!(error = %e, "draw not possible yet"),
        }
    }
    Ok(None)
}

/// Gives our claimed slot of `address` back after `why` (it could not be run); returns the
/// journal note. A failed give-back is logged: the slot then expires (and is slashed) as before.
pub(super) async fn give_back(ctx: &RunnerContext, address: Pubkey, why: String) -> String {
    // A transient failure is retried, 5 attempts in all (the alternative is a slash); a
    // refusal is final.
    let attempts = ConstantBuilder::new()
        .with_delay(ctx.settings.poll_interval)
        .with_max_times(4);
    let sent = (|| ctx.client.give_back(&address))
        .retry(attempts)
        .when(|e: &SdkError| e.program_error_name().is_none())
        .notify(|e: &SdkError, _| {
            ctx.metrics.rpc_errors_total.inc();
            tracing::warn!(error = %e, "giving the job back failed; retrying");
        })
        .await;
    match sent {
        Ok(sig) => {
            ctx.metrics.jobs_given_back_total.inc();
            tracing::warn!(%sig, reason = %why, "gave the job back");
            format!("{why}; given back ({sig})")
        }
        Err(e) => {
            tracing::error!(error = %e, "giving the job back failed");
            format!("{why}; give-back failed: {e}")
        }
    }
}

/// Whether we hold a slot of `address`, read afresh (`None`: the node cannot say now). Asked
/// before letting a job go: giving up a slot we hold would get it slashed.
pub(super) async fn holds_slot(ctx: &RunnerContext, address: &Pubkey) -> Option<bool> {
    match ctx.client.job(address).await {
        Ok(job) => Some(job.slot_of(&ctx.provider_address()).is_some()),
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell whether we hold the job; retrying");
            None
        }
    }
}
