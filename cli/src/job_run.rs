//! `compute-market job run`: try a job on your own adapter before paying for it, through the
//! executor and validation a provider uses (a sandboxed validator process, then a worker
//! process), with each pass submitted and timed on its own.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use compute_market_job::{validate_job, Caps, Limits};
use provider_daemon::gpu::{ExecOutcome, GpuConfig, PoolConfig, WorkerPool};

use crate::jobfile::{self, JobSource};

/// Arguments of `job run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub source: JobSource,
    /// Write the output to this file.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Write `--out` as a PNG of a WIDTHxHEIGHT image of one u32 per pixel (gray values, or
    /// colours with `--rgba`).
    #[arg(long, requires = "out")]
    pub image: Option<String>,
    /// The pixels are colours (`r | g << 8 | b << 16 | a << 24`).
    #[arg(long, requires = "image")]
    pub rgba: bool,
    /// Adapter: `auto`, an index from `provider-daemon check`, or part of its name. A software
    /// adapter is allowed (this is a local trial).
    #[arg(long, default_value = "auto")]
    pub adapter: String,
    /// Wall-clock limit of the whole job, in seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

/// Runs the job locally and reports it.
pub fn run(args: RunArgs) -> Result<()> {
    let job = args.source.descriptor()?;
    let limit = Duration::from_secs(args.timeout);
    let pool = WorkerPool::new(PoolConfig {
        gpu: GpuConfig {
            adapter: args.adapter.parse()?,
            allow_cpu: true,
        },
        workers: 1,
        job_timeout: limit,
        ..PoolConfig::default()
    })
    .context("cannot start a GPU worker")?;
    let adapter = &pool.device().adapter;
    println!(
        "adapter: {} ({}, {}){}",
        adapter.name,
        adapter.backend,
        adapter.device_type,
        if adapter.is_cpu {
            " — software: times are not a GPU's"
        } else {
            ""
        }
    );
    // What the SDK checks before paying: WebGPU's default limits, which every provider meets.
    if let Err(e) = validate_job(&job, &Limits::default(), &Caps::default()) {
        println!(
            "warning: this device runs the job but not every provider's would: {e} \
             (submitting it needs JobSpecBuilder::limits and providers that have them)"
        );
    }
    let outcome = pool
        .execute_profiled(&job, limit)
        .with_context(|| format!("{} did not run", args.source.shader.display()))?;
    report(&job, &outcome);
    if let Some(out) = &args.out {
        let (data, what) = match &args.image {
            Some(dims) => (jobfile::png(&outcome.output, dims, args.rgba)?, "PNG"),
            None => (outcome.output.clone(), "output"),
        };
        std::fs::write(out, &data).with_context(|| format!("cannot write {}", out.display()))?;
        println!("{what} written to {} ({} bytes)", out.display(), data.len());
    }
    Ok(())
}

fn report(job: &compute_market_job::JobDescriptor, outcome: &ExecOutcome) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for (i, (pass, time)) in job
        .effective_passes()
        .iter()
        .zip(&outcome.pass_times)
        .enumerate()
    {
        let [x, y, z] = pass.workgroups;
        let repeat = if pass.repeat > 1 {
            format!(" ×{}", pass.repeat)
        } else {
            String::new()
        };
        println!(
            "pass {i} {:<16} [{x}, {y}, {z}]{repeat}: {:.2} ms",
            pass.entry_point,
            ms(*time)
        );
    }
    println!("timings: {}", outcome.timings);
    println!("determinism: {}", outcome.determinism);
    println!("result hash: {}", hex::encode(outcome.result_hash));
}
