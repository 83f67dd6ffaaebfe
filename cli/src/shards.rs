//! `job submit --shards N`: one job per shard, followed together, each verified against its own
//! on-chain result hash, re-posted if it fails or expires; the outputs assembled into one file.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use compute_market_sdk::shard::{Shard, ShardEvent, ShardOptions};
use compute_market_sdk::Client;

use crate::config::Resolved;
use crate::output;

/// Posts the shards, then (unless `timeout` is `None`: `--no-wait`) follows them and writes the
/// assembled output to `out`.
pub async fn submit(
    cfg: &Resolved,
    client: &Client,
    shards: Vec<Shard>,
    timeout: Option<Duration>,
    out: &Path,
) -> Result<()> {
    let count = shards.len();
    let sharded = client.submit_sharded(shards).await?;
    for (i, address) in sharded.addresses().iter().enumerate() {
        println!("shard {i}/{count}: job {address}");
        println!("  inspect: {}", cfg.explorer_address(address));
    }
    let Some(timeout) = timeout else {
        return Ok(());
    };
    let spinner = output::spinner("waiting for providers");
    let result = sharded
        .wait(ShardOptions::new(timeout), |event| match event {
            ShardEvent::Progress { shard, job } => {
                spinner.set_message(format!("shard {shard}: {}", output::progress_line(&job)));
            }
            ShardEvent::Reposted {
                shard,
                old,
                status,
                new,
            } => spinner.println(format!(
                "shard {shard}: {old} ended {status:?}; posted again as {new}"
            )),
            ShardEvent::Verified { shard } => {
                spinner.println(format!("shard {shard}: result verified"));
            }
        })
        .await;
    spinner.finish_and_clear();
    let result = result?;
    for report in &result.shards {
        let providers: Vec<String> = report.providers.iter().map(|p| p.to_string()).collect();
        println!(
            "shard {}: job {} ({} post{}), result {}, computed by {}",
            report.shard,
            report.job,
            report.attempts,
            if report.attempts == 1 { "" } else { "s" },
            hex::encode(report.result_hash),
            providers.join(", ")
        );
    }
    std::fs::write(out, &result.output)
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "every shard verified against its on-chain result hash; {} bytes assembled into {}",
        result.output.len(),
        out.display()
    );
    Ok(())
}
