//! Running a claimed job on the GPU and storing its output; preparing (downloading and
//! validating) a job before it is claimed.

use compute_market_job::{DeterminismClass, JobDescriptor};
use compute_market_sdk::store;
use compute_market_sdk::{Determinism, Job, Pubkey};

use super::{lie, RunError, RunnerContext};
use crate::gpu::ExecError;
use crate::jobs::policy::Skip;
use crate::jobs::span::blocking;
use crate::state::{Phase, RecordUpdate};
use std::time::Duration;

/// Downloads and verifies a job's shader and input under the `[fetch]` settings (the URIs are
/// the client's choice), and validates the whole job against this device and provider before
/// anything is claimed. The shader is parsed in a sandboxed child process
/// ([`crate::gpu::GpuFleet::validate`]): one that crashes the parser is skipped like any
/// invalid job, and the daemon carries on.
pub async fn prepare(ctx: &RunnerContext, job: &Job) -> Result<JobDescriptor, Skip> {
    let policy = ctx.settings.fetch.policy();
    let wgsl = store::fetch_verified_with(
        job.shader_uri(),
        &job.spec.shader_hash,
        shader_blob_cap(ctx.caps.max_source_len),
        &policy,
    )
    .await
    .map_err(Skip::from_store)?;
    let input = if job.spec.input_len == 0 {
        Vec::new()
    } else {
        store::fetch_verified_with(
            job.input_uri(),
            &job.spec.input_hash,
            u64::from(job.spec.input_len),
            &policy,
        )
        .await
        .map_err(Skip::from_store)?
    };
    // A manifest (ABI v2) or WGSL source (v1): the blob says which.
    let descriptor = JobDescriptor::from_shader_blob(
        wgsl,
        job.entry_point(),
        job.spec.workgroups,
        input,
        u64::from(job.spec.output_len),
        job.spec.params,
    )
    .map_err(|e| Skip::Invalid(e.to_string()))?;
    let pool = ctx.pool.clone();
    let (descriptor, verdict) = blocking(move || {
        let verdict = pool.validate(&descriptor);
        (descriptor, verdict)
    })
    .await
    .map_err(|e| Skip::Invalid(format!("validation task failed: {e}")))?;
    let info = verdict.map_err(|e| {
        Skip::Invalid(match e {
            ExecError::Rejected(abi) => abi.to_string(),
            other => other.to_string(),
        })
    })?;
    // The class on chain is the client's word; the shader's is validation's. A float shader
    // posted as exact would have its replicas compared by hash, and an honest GPU slashed for
    // rounding: never claim one.
    if info.determinism == DeterminismClass::Float && job.spec.determinism() == Determinism::Exact {
        return Err(Skip::Invalid(
            "declared exact but uses floating point: replicas on different GPUs may disagree"
                .into(),
        ));
    }
    Ok(descriptor)
}

/// The largest shader blob fetched for a provider accepting `max_source_len` bytes of WGSL: the
/// source itself, or a manifest holding it (JSON-escaped, at worst twice as long) and its passes.
fn shader_blob_cap(max_source_len: usize) -> u64 {
    (max_source_len as u64)
        .saturating_mul(2)
        .saturating_add(64 << 10)
        .min(compute_market_job::MAX_MANIFEST_LEN as u64)
}

/// Runs the job on the GPU (preparing it first when resumed): its output, or why it could not
/// be run.
pub(super) async fn execute(
    ctx: &RunnerContext,
    job: &Job,
    descriptor: Option<JobDescriptor>,
    start_by: std::time::Instant,
) -> Result<Vec<u8>, String> {
    let descriptor = match descriptor {
        Some(d) => d,
        None => prepare(ctx, job).await.map_err(|s| s.to_string())?,
    };
    let pool = ctx.pool.clone();
    let timeout = ctx.settings.job_timeout;
    let started = std::time::Instant::now();
    let ran = blocking(move || pool.execute_by(&descriptor, timeout, Some(start_by)))
        .await
        .map_err(|e| format!("executor task: {e}"))?
        .map_err(|e: ExecError| e.to_string())?;
    ctx.metrics
        .gpu_seconds
        .observe(started.elapsed().as_secs_f64());
    ctx.metrics.device_job(ran.device);
    tracing::debug!(device = ran.device, timings = %ran.outcome.timings, "job ran");
    let outcome = ran.outcome;
    let mut output = outcome.output;
    if lie(ctx) {
        if let Some(b) = output.first_mut() {
            *b ^= 0xff;
        }
    }
    Ok(output)
}

/// Runs the job, uploads its output to the store and journals both ([`Phase::Computed`]);
/// returns (result hash, output URI). `Ok(Err(why))`: the job could not be run, or its output
/// not stored.
pub(super) async fn compute(
    ctx: &RunnerContext,
    address: Pubkey,
    job: &Job,
    descriptor: Option<JobDescriptor>,
    start_by: std::time::Instant,
) -> Result<Result<([u8; 32], String), String>, RunError> {
    let output = match execute(ctx, job, descriptor, start_by).await {
        Ok(output) => output,
        Err(why) => return Ok(Err(why)),
    };
    let hash = compute_market_job::result_hash(&output);
    let Some(store) = ctx.client.store() else {
        return Ok(Err("no blob store configured for outputs".into()));
    };
    // Until the journal records the URI, the retention sweep must not delete the blob (the same
    // bytes may be the expired output of an older job).
    let _uploading = ctx.outputs.upload().await;
    let uri = match store.put(&output).await {
        Ok(uri) => uri,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let update = RecordUpdate {
        result_hash: Some(hash),
        output_uri: Some(uri.clone()),
        ..Default::default()
    };
    ctx.advance(address, Phase::Computed, update).await?;
    Ok(Ok((hash, uri)))
}

/// The latest moment a claimed job may start on a GPU worker: it leaves the job its whole time
/// limit and half of `claim_margin` for the upload and the commit to land before the commit
/// deadline. Waiting for a free worker past it would risk a slash; the job is given back instead.
pub(super) fn start_by(ctx: &RunnerContext, job: &Job, now: i64) -> std::time::Instant {
    let reserved = ctx
        .settings
        .job_timeout
        .saturating_add(ctx.settings.claim_margin / 2);
    let left = u64::try_from(job.commit_deadline.saturating_sub(now)).unwrap_or(0);
    let slack = Duration::from_secs(left).saturating_sub(reserved);
    std::time::Instant::now()
        .checked_add(slack)
        .unwrap_or_else(std::time::Instant::now)
}
