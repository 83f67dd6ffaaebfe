//! `compute-market bench-pickup`: how fast a provider daemon picks up jobs on the local node (or
//! with `--url` on another node), and how many small jobs one daemon completes per minute.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use compute_market_localnet::LocalNetOptions;
use compute_market_sdk::{accounts, pda, Client, JobSpec, JobStatus, Pubkey, Signer, ValidatedJob};
use provider_daemon::gpu::kernels;
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;

use crate::demo::{start_provider, Target, REWARD};

fn small_job() -> Result<ValidatedJob> {
    let d = kernels::vector_transform_job(&(0..64).collect::<Vec<u32>>(), 3, 1);
    Ok(JobSpec::from_descriptor(&d).reward(REWARD).build()?)
}

/// The `p` quantile (0..=1) of `sorted`, which must not be empty.
pub(crate) fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// What `bench-pickup` measures and where.
pub struct PickupOptions {
    /// Jobs per measurement.
    pub jobs: usize,
    /// Whether the daemon may use its websocket (else it finds jobs by resync only).
    pub websocket: bool,
    /// Slot time of the embedded node (`None`: a block per transaction).
    pub slot_time_ms: Option<u64>,
    /// Open jobs the daemon must skip, posted at the end to measure its RPC use while idle.
    pub idle_jobs: usize,
}

/// One job's pickup, as a watcher polling the job at processed commitment saw it.
struct Pickup {
    /// From the job first visible to its first claim visible.
    visible_to_claim: Duration,
    /// Slots from the posting slot to the claim's slot.
    slots: u64,
}

/// Polls `address` at processed commitment every 5 ms until it holds a claim; returns the
/// times it was first seen and first seen claimed.
async fn watch(rpc_url: String, address: Pubkey) -> Result<(Instant, Instant)> {
    let rpc = RpcClient::new_with_commitment(rpc_url, CommitmentConfig::processed());
    let started = Instant::now();
    let mut visible = None;
    loop {
        let account = rpc
            .get_account_with_commitment(&address, CommitmentConfig::processed())
            .await?
            .value;
        if let Some(account) = account {
            let seen = *visible.get_or_insert_with(Instant::now);
            if accounts::decode_job(&address, &account.data)?.claimed > 0 {
                return Ok((seen, Instant::now()));
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("job {address} was not claimed within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The slot of the first transaction after the post that touched the job (the claim), once
/// it is confirmed.
async fn claim_slot(client: &Client, address: &Pubkey, posted_slot: u64) -> Result<u64> {
    use solana_rpc_client::rpc_client::GetConfirmedSignaturesForAddress2Config;
    let started = Instant::now();
    loop {
        let signatures = client
            .rpc()
            .get_signatures_for_address_with_config(
                address,
                GetConfirmedSignaturesForAddress2Config {
                    commitment: Some(CommitmentConfig::confirmed()),
                    ..Default::default()
                },
            )
            .await?;
        let claim = signatures
            .iter()
            .map(|s| s.slot)
            .filter(|&slot| slot > posted_slot)
            .min();
        match claim {
            Some(slot) => return Ok(slot),
            None if started.elapsed() > Duration::from_secs(30) => {
                bail!("no confirmed claim of {address} after slot {posted_slot} within 30 s")
            }
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Posts one job and measures its pickup.
async fn pickup_one(
    client: &Client,
    job: &ValidatedJob,
    uris: &(String, String),
    job_id: u64,
) -> Result<Pickup> {
    let address = pda::job(&client.market_address(), &client.wallet(), job_id);
    let watcher = tokio::spawn(watch(client.rpc().url(), address));
    let handle = client
        .submit_uploaded(job, &uris.0, &uris.1, job_id)
        .await?;
    let (visible, claimed) = watcher.await??;
    let posted_slot = handle.job().await?.posted_slot;
    let slots = claim_slot(client, &address, posted_slot).await? - posted_slot;
    Ok(Pickup {
        visible_to_claim: claimed.saturating_duration_since(visible),
        slots,
    })
}

/// Posts `jobs` jobs one at a time and measures each pickup: from the job visible to its claim
/// visible (a watcher polls at processed commitment every 5 ms) and in slots from post to claim.
/// Then posts `jobs` more at once and measures how long one daemon takes to complete them all.
pub async fn pickup(options: PickupOptions, target: Target) -> Result<()> {
    let PickupOptions {
        jobs,
        websocket,
        slot_time_ms,
        idle_jobs,
    } = options;
    if jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let start = Instant::now();
    let net_options = LocalNetOptions {
        slot_time_ms,
        ..LocalNetOptions::default()
    };
    let node = match (&target, slot_time_ms) {
        (Target::External { rpc_url, .. }, _) => rpc_url.clone(),
        (Target::Embedded, Some(ms)) => format!("embedded node, a block every {ms} ms"),
        (Target::Embedded, None) => "embedded node, a block per transaction".into(),
    };
    let net = target.connect(net_options, start).await?;
    let dir = tempfile::tempdir()?;
    let metrics_addr = free_local_addr()?;
    let mut provider = start_provider(&net, dir.path(), "bench", |s| {
        s.metrics_addr = Some(metrics_addr);
        s.resync_interval = Duration::from_secs(1);
        s.poll_interval = Duration::from_millis(100);
        s.max_concurrent_jobs = 8;
        if !websocket {
            s.ws_urls = vec!["ws://127.0.0.1:9".into()];
        }
    })
    .await?;
    let wallet = net.funded_wallet(u64::MAX / 4).await?;
    if !net.is_embedded() {
        // Rent of every job account and escrow posted (~0.027 SOL each) is more than a wallet
        // funded on an attached node holds.
        let jobs = u64::try_from(jobs).unwrap_or(u64::MAX);
        let posted = 2 * jobs + 1 + u64::try_from(idle_jobs).unwrap_or(u64::MAX);
        net.airdrop(&wallet.pubkey(), 30_000_000u64.saturating_mul(posted))
            .await?;
    }
    let client = net.client(wallet).await?;
    let job = small_job()?;
    let store = client.store().context("no blob store")?;
    let uris = (
        store.put(&job.descriptor.shader_blob()).await?,
        store.put(&job.descriptor.input).await?,
    );
    // Warm-up: the daemon's worker and caches.
    let warm = client.submit(&job).await?;
    warm.wait(Duration::from_secs(120), |_| {}).await?;

    let first_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as u64;
    let mut latencies = Vec::with_capacity(jobs);
    let mut slots = Vec::with_capacity(jobs);
    for i in 0..jobs as u64 {
        let p = pickup_one(&client, &job, &uris, first_id.wrapping_add(i)).await?;
        latencies.push(p.visible_to_claim);
        slots.push(p.slots);
    }
    latencies.sort();
    slots.sort();
    let mode = if websocket {
        "websocket + resync"
    } else {
        "resync only (1 s)"
    };
    println!("node: {node}");
    println!(
        "pickup latency ({mode}, {jobs} jobs, job visible → claim visible at processed): p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.95).as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3,
    );
    println!(
        "pickup in slots (post slot → claim slot): p50 {}, p95 {}, max {}",
        percentile(&slots, 0.5),
        percentile(&slots, 0.95),
        slots[slots.len() - 1],
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
    let requests = rpc_requests(metrics_addr).await?;
    println!(
        "daemon JSON-RPC requests: {requests} in all for {} jobs (discovery to settlement, with a 1 s resync): {:.1} per job",
        2 * jobs + 1,
        requests as f64 / (2 * jobs + 1) as f64
    );
    if idle_jobs > 0 {
        idle_rpc_use(&client, &uris, metrics_addr, idle_jobs).await?;
    }
    provider.stop().await
}

/// Posts `count` jobs the daemon must skip (their allowlist names somebody else), then counts
/// the daemon's JSON-RPC requests over a minute with them open.
async fn idle_rpc_use(
    client: &Client,
    uris: &(String, String),
    metrics_addr: std::net::SocketAddr,
    count: usize,
) -> Result<()> {
    let d = kernels::vector_transform_job(&(0..64).collect::<Vec<u32>>(), 3, 1);
    let not_for_us = JobSpec::from_descriptor(&d)
        .reward(REWARD)
        .claim_rules(compute_market_sdk::ClaimRules {
            allowlist: vec![Pubkey::new_unique()],
            ..Default::default()
        })
        .deadlines(compute_market_sdk::Deadlines::Windows {
            claim: Duration::from_secs(3_600),
            commit: Duration::from_secs(3_600),
            reveal: Duration::from_secs(3_600),
        })
        .build()?;
    let first_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as u64;
    for i in 0..count as u64 {
        client
            .submit_uploaded(&not_for_us, &uris.0, &uris.1, first_id.wrapping_add(i))
            .await?;
    }
    // Let the daemon see them all once, then count a quiet minute.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = rpc_requests(metrics_addr).await?;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let during = rpc_requests(metrics_addr).await? - before;
    println!(
        "daemon JSON-RPC requests in one minute with {count} open jobs it skips (1 s resync): {during}"
    );
    Ok(())
}

/// A loopback address nothing listens on.
pub(crate) fn free_local_addr() -> Result<std::net::SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// The daemon's `rpc_requests_total`, summed over methods, from its `/metrics` endpoint.
async fn rpc_requests(addr: std::net::SocketAddr) -> Result<u64> {
    Ok(scrape(addr)
        .await?
        .iter()
        .filter(|(series, _)| series.starts_with("rpc_requests_total{"))
        .map(|(_, value)| value)
        .sum::<f64>() as u64)
}

/// Every series of a daemon's `/metrics` endpoint (`name{labels}` as written there) with its
/// value.
pub(crate) async fn scrape(
    addr: std::net::SocketAddr,
) -> Result<std::collections::BTreeMap<String, f64>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or(text.as_str(), |(_, body)| body);
    Ok(body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect())
}
