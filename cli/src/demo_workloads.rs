//! The demo's real workloads: verifiable int8 inference with three replicas, and a ray-traced
//! image split across the three daemons, one tile each.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use compute_market_sdk::shard::{Shard, ShardEvent, ShardOptions};
use compute_market_sdk::{pda, ClaimRules, Client, JobSpec, Pubkey, Signer};
use compute_market_workloads::digits::{self, Dataset, DotPath, Model};
use compute_market_workloads::raytrace::{self, RenderSpec};

use crate::demo::{elapsed, follow, Provider, Story, REWARD};

/// The digits classifier over all 1,797 images, three replicas (quorum two): each replica's
/// bytes are the CPU int8 reference's, so all three agree bit for bit.
pub async fn classifier(
    client: &Client,
    start: Instant,
    explorer: &impl Fn(&str, &str) -> String,
) -> Result<Story> {
    let model = Model::bundled()?;
    let data = Dataset::bundled()?;
    let descriptor = digits::job(&model, &data.images, DotPath::Packed)?;
    let job = JobSpec::from_descriptor(&descriptor)
        .reward(REWARD)
        .replicas(3, 2)
        .build()?;
    let name = "int8 digits classifier, 1,797 images (exact, 3 replicas, quorum 2)";
    let story = follow(client, name, &job, start, explorer).await?;
    let output = client
        .handle(story.address)
        .result()
        .await
        .with_context(|| format!("fetching the result of {}", story.address))?;
    if output != digits::cpu_reference(&model, &data.images) {
        bail!("the classifier's output differs from the CPU int8 reference");
    }
    let predicted = digits::classes(&output, data.images.len());
    let agreed = story
        .settled
        .active_slots()
        .iter()
        .filter(|slot| slot.result_hash == story.settled.result_hash)
        .count();
    let fee_bps = client.market().await?.fee_bps;
    println!(
        "  {} accuracy {:.2} % on {} images (the float model: {:.2} %); {agreed}/{} replicas agreed bit for bit with the CPU int8 reference",
        elapsed(start),
        100.0 * digits::accuracy(&predicted, &data.labels),
        data.images.len(),
        100.0 * digits::FLOAT_ACCURACY_ALL,
        story.settled.replicas,
    );
    println!(
        "           cost: {} tokens escrowed ({} replicas × {REWARD} reward + {fee_bps} bps fee)",
        job.escrow_total(fee_bps).unwrap_or(0),
        job.replicas,
    );
    Ok(story)
}

/// One job per tile of `spec`, one replica each, tile `i` offered only to the provider of
/// `owners[i % owners.len()]` (an allowlist of one), each at its rows' offset in the image.
pub fn tile_shards(
    market: &Pubkey,
    spec: &RenderSpec,
    tiles: &[raytrace::Tile],
    owners: &[Pubkey],
) -> Result<Vec<Shard>> {
    tiles
        .iter()
        .enumerate()
        .map(|(i, tile)| {
            let owner = owners
                .get(i % owners.len().max(1))
                .context("tiles need a provider")?;
            let job = JobSpec::from_descriptor(&raytrace::tile_job(spec, *tile)?)
                .reward(REWARD)
                .claim_rules(ClaimRules {
                    allowlist: vec![pda::provider(market, owner)],
                    ..ClaimRules::default()
                })
                .build()?;
            Ok(Shard {
                job,
                output_offset: u64::from(tile.y0) * u64::from(spec.width) * 4,
            })
        })
        .collect()
}

/// The ray tracer's image in three bands, each a job offered to one daemon (an allowlist of
/// one), posted together and followed as one sharded job; the bands are verified against their
/// on-chain hashes, assembled and written as a PNG. Returns the tile jobs (to close them).
pub async fn render(
    net_market: &Pubkey,
    client: &Client,
    providers: &[Provider],
    start: Instant,
    out: &Path,
) -> Result<Vec<Pubkey>> {
    let spec = RenderSpec::default();
    println!(
        "\n▶ submitting: ray-traced {}×{} image in {} tiles, one per provider (exact, 1 replica each)",
        spec.width,
        spec.height,
        providers.len()
    );
    let tiles = raytrace::tiles(&spec, providers.len() as u32)?;
    let owners: Vec<Pubkey> = providers.iter().map(|p| p.wallet().pubkey()).collect();
    let shards = tile_shards(net_market, &spec, &tiles, &owners)?;
    let posted = Instant::now();
    let sharded = client.submit_sharded(shards).await?;
    for (tile, address) in tiles.iter().zip(sharded.addresses()) {
        println!(
            "  {} posted rows {}..{} as job {address}",
            elapsed(start),
            tile.y0,
            tile.y0 + tile.height
        );
    }
    let result = sharded
        .wait(ShardOptions::new(Duration::from_secs(300)), |event| {
            if let ShardEvent::Verified { shard } = event {
                println!("  {} tile {shard} verified", elapsed(start));
            }
        })
        .await?;
    let took = posted.elapsed();
    if result.output != raytrace::cpu_tile(&spec, spec.full())? {
        bail!("the assembled image differs from the CPU reference");
    }
    for (report, tile) in result.shards.iter().zip(&tiles) {
        let who: Vec<String> = report
            .providers
            .iter()
            .map(|p| {
                providers
                    .iter()
                    .find(|q| pda::provider(net_market, &q.wallet().pubkey()) == *p)
                    .map_or_else(|| p.to_string(), |q| q.name().to_string())
            })
            .collect();
        println!(
            "  tile {} rows {:>3}..{:<3} rendered by {:<6} job {}",
            report.shard,
            tile.y0,
            tile.y0 + tile.height,
            who.join(", "),
            report.job
        );
    }
    let png = compute_market_sdk::image::rgba_png(&result.output, spec.width, spec.height)?;
    std::fs::write(out, png).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "  {} {} tiles assembled ({:.1} s from posting), byte for byte the CPU reference; image written to {}",
        elapsed(start),
        result.shards.len(),
        took.as_secs_f64(),
        out.display()
    );
    Ok(result.shards.iter().map(|r| r.job).collect())
}
