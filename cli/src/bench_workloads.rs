//! `compute-market bench-workloads` (hidden): the figures of BENCHMARKS.md's "Real workloads"
//! section, measured side by side in one run.
//!
//! * the fixed cost of a dispatch and of a pass in a manifest (device time of 1 vs many);
//! * the int8 classifier's device time per image, both dot-product paths;
//! * the ray-traced image in three tiles on the local node, rendered by one provider and by three.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use compute_market_job::{JobDescriptor, Manifest, Pass};
use compute_market_localnet::{LocalNet, LocalNetOptions};
use compute_market_sdk::shard::{Shard, ShardOptions};
use compute_market_sdk::{pda, ClaimRules, JobSpec, Signer};
use compute_market_workloads::digits::{self, Dataset, DotPath, Model};
use compute_market_workloads::raytrace::{self, RenderSpec};
use provider_daemon::gpu::{GpuConfig, PoolConfig, WorkerPool};

use crate::demo::{start_provider, REWARD};

/// Runs of each measurement; the median is reported.
const RUNS: usize = 7;

const TOUCH: &str = r#"
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@compute @workgroup_size(64)
fn touch(@builtin(global_invocation_id) id: vec3<u32>) { output[id.x] += 1u; }
"#;

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median device time (`dispatch`) of `job` over [`RUNS`] runs, after a warm-up run.
fn device_time(pool: &WorkerPool, job: &JobDescriptor) -> Result<Duration> {
    pool.execute(job)?;
    let mut times = Vec::new();
    for _ in 0..RUNS {
        times.push(pool.execute(job)?.timings.dispatch);
    }
    Ok(median(times))
}

/// Runs every measurement and prints the figures.
pub async fn run(render_runs: usize) -> Result<()> {
    let pool = tokio::task::spawn_blocking(|| {
        WorkerPool::new(PoolConfig {
            gpu: GpuConfig {
                allow_cpu: true,
                ..GpuConfig::default()
            },
            job_timeout: Duration::from_secs(120),
            ..PoolConfig::default()
        })
    })
    .await??;
    println!("adapter: {}", pool.device().adapter.name);
    let pool = std::sync::Arc::new(pool);
    let p = pool.clone();
    tokio::task::spawn_blocking(move || per_pass(&p)).await??;
    let p = pool.clone();
    tokio::task::spawn_blocking(move || inference(&p)).await??;
    render(render_runs).await
}

/// The fixed cost of one more dispatch (a repeat) and of one more pass.
fn per_pass(pool: &WorkerPool) -> Result<()> {
    let job =
        |passes: Vec<Pass>| Manifest::new(TOUCH, Vec::new(), passes).into_job(vec![], 256, [0; 32]);
    let one = device_time(pool, &job(vec![Pass::new("touch", [1, 1, 1])]))?;
    let repeated = device_time(pool, &job(vec![Pass::new("touch", [1, 1, 1]).repeat(1024)]))?;
    let passes = device_time(pool, &job(vec![Pass::new("touch", [1, 1, 1]); 64]))?;
    println!("manifest overhead (device time, median of {RUNS}):");
    println!("  1 dispatch                 {:>9.3} ms", ms(one));
    println!(
        "  1 pass × repeat 1,024      {:>9.3} ms  → {:.1} µs per extra dispatch",
        ms(repeated),
        (ms(repeated) - ms(one)) * 1e3 / 1023.0
    );
    println!(
        "  64 passes × 1              {:>9.3} ms  → {:.1} µs per extra pass",
        ms(passes),
        (ms(passes) - ms(one)) * 1e3 / 63.0
    );
    Ok(())
}

/// The classifier's device time per image, both dot-product paths.
fn inference(pool: &WorkerPool) -> Result<()> {
    let model = Model::bundled()?;
    let data = Dataset::bundled()?;
    let n = data.images.len();
    println!("int8 digits classifier, {n} images, 4 passes (median of {RUNS}):");
    for dot in [DotPath::Packed, DotPath::Portable] {
        let job = digits::job(&model, &data.images, dot)?;
        let t = device_time(pool, &job)?;
        println!(
            "  {dot:?}: {:>8.2} ms  → {:.2} µs per image",
            ms(t),
            ms(t) * 1e3 / n as f64
        );
    }
    Ok(())
}

/// The 256×192 image in three tiles on the local node: one provider rendering all three, then
/// three providers one each. Wall time from posting to the assembled, verified image.
async fn render(runs: usize) -> Result<()> {
    let spec = RenderSpec::default();
    let tiles = raytrace::tiles(&spec, 3)?;
    let expected = raytrace::cpu_tile(&spec, spec.full())?;
    println!(
        "ray-traced {}×{} in 3 tiles on the local node, posting to verified image (median of {runs}):",
        spec.width, spec.height
    );
    let mut medians = Vec::new();
    for providers in [1usize, 3] {
        let net = LocalNet::start(LocalNetOptions::default()).await?;
        let dir = tempfile::tempdir()?;
        let mut daemons = Vec::new();
        for i in 0..providers {
            daemons.push(
                start_provider(&net, dir.path(), &format!("p{i}"), |s| {
                    s.max_concurrent_jobs = 3;
                })
                .await?,
            );
        }
        let client = net.client(net.funded_wallet(100_000_000).await?).await?;
        let mut times = Vec::new();
        for _ in 0..runs {
            let mut shards = Vec::new();
            for (i, tile) in tiles.iter().enumerate() {
                let owner = daemons[i % providers].wallet().pubkey();
                let job = JobSpec::from_descriptor(&raytrace::tile_job(&spec, *tile)?)
                    .reward(REWARD)
                    .claim_rules(ClaimRules {
                        allowlist: vec![pda::provider(&net.market, &owner)],
                        ..ClaimRules::default()
                    })
                    .build()?;
                shards.push(Shard {
                    job,
                    output_offset: u64::from(tile.y0) * u64::from(spec.width) * 4,
                });
            }
            let posted = Instant::now();
            let result = client
                .submit_sharded(shards)
                .await?
                .wait(ShardOptions::new(Duration::from_secs(300)), |_| {})
                .await?;
            times.push(posted.elapsed());
            if result.output != expected {
                bail!("the assembled image differs from the CPU reference");
            }
        }
        for d in daemons.iter_mut() {
            d.stop().await?;
        }
        let m = median(times.clone());
        let all: Vec<String> = times
            .iter()
            .map(|t| format!("{:.2}", t.as_secs_f64()))
            .collect();
        println!(
            "  {providers} provider{}: {:.2} s  (runs: {} s)",
            if providers == 1 { " " } else { "s" },
            m.as_secs_f64(),
            all.join(", ")
        );
        medians.push(m);
    }
    println!(
        "  speed-up 1 → 3 providers: {:.2}×",
        medians[0].as_secs_f64() / medians[1].as_secs_f64()
    );
    Ok(())
}
