//! `compute-market bench pickup`: how fast a provider daemon picks up jobs on the local node,
//! and how many small jobs one daemon completes per minute.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use compute_market_localnet::LocalNet;
use compute_market_sdk::{JobSpec, JobStatus, ValidatedJob};
use provider_daemon::gpu::kernels;

use crate::demo::{start_provider, REWARD};

fn small_job() -> Result<ValidatedJob> {
    let d = kernels::vector_transform_job(&(0..64).collect::<Vec<u32>>(), 3, 1);
    Ok(JobSpec::from_descriptor(&d).reward(REWARD).build()?)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Posts `jobs` jobs one at a time; for each, the time from `job_post` confirmed to the claim
/// being visible on-chain (polled every 5 ms). Then posts `jobs` more at once and measures how
/// long one daemon takes to complete them all.
pub async fn pickup(jobs: usize, websocket: bool, allow_cpu: bool) -> Result<()> {
    if jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let net = LocalNet::start(Default::default()).await?;
    let dir = tempfile::tempdir()?;
    let mut provider = start_provider(&net, dir.path(), "bench", allow_cpu, |s| {
        s.resync_interval = Duration::from_secs(1);
        s.poll_interval = Duration::from_millis(100);
        s.max_concurrent_jobs = 8;
        if !websocket {
            s.ws_urls = vec!["ws://127.0.0.1:9".into()];
        }
    })
    .await?;
    let client = net.client(net.funded_wallet(u64::MAX / 4).await?).await?;
    let job = small_job()?;
    // Warm-up: the daemon's worker and caches.
    let warm = client.submit(&job).await?;
    warm.wait(Duration::from_secs(120), |_| {}).await?;

    let mut latencies = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        let handle = client.submit(&job).await?;
        let posted = Instant::now();
        loop {
            if handle.job().await?.claimed > 0 {
                latencies.push(posted.elapsed());
                break;
            }
            if posted.elapsed() > Duration::from_secs(30) {
                bail!("job {} was not claimed within 30 s", handle.address);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    latencies.sort();
    let mode = if websocket {
        "websocket + resync"
    } else {
        "resync only (1 s)"
    };
    println!(
        "pickup latency ({mode}, {jobs} jobs, posted-confirmed → claim visible): p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.95).as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3,
    );

    // Throughput: a burst of jobs, all completed by one daemon.
    let started = Instant::now();
    let mut handles = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        handles.push(client.submit(&job).await?);
    }
    let posting = started.elapsed();
    for h in &handles {
        let settled = h.wait(Duration::from_secs(600), |_| {}).await?;
        if settled.status() != JobStatus::Completed {
            bail!("job {} ended {:?}", h.address, settled.status());
        }
    }
    let total = started.elapsed();
    println!(
        "throughput ({mode}): {jobs} jobs posted in {:.1} s, all completed after {:.1} s: {:.0} jobs/minute",
        posting.as_secs_f64(),
        total.as_secs_f64(),
        jobs as f64 / total.as_secs_f64() * 60.0
    );
    provider.stop().await
}
