//! `compute-market bench-render` (hidden): the ray-traced image in three tiles on the local
//! node, rendered by one provider and by three, measured side by side in one run (BENCHMARKS.md,
//! "Real workloads"; the executor's own figures are `executor/examples/workloads.rs`).

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use compute_market_localnet::{LocalNet, LocalNetOptions};
use compute_market_sdk::shard::ShardOptions;
use compute_market_sdk::Signer;
use compute_market_workloads::raytrace::{self, RenderSpec};

use crate::demo::start_provider;
use crate::demo_workloads::tile_shards;

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// The 256×192 image in three tiles on the local node: one provider rendering all three, then
/// three providers one each. Wall time from posting to the assembled, verified image.
pub async fn run(runs: usize) -> Result<()> {
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
            let owners: Vec<_> = daemons.iter().map(|d| d.wallet().pubkey()).collect();
            let shards = tile_shards(&net.market, &spec, &tiles, &owners)?;
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
