//! `compute-market load-test`: a fleet of provider daemons on the embedded node under a thousand
//! jobs from several clients at once, a share of them hostile. Measures pickup, throughput, the
//! daemons' RPC use (busy and idle) and their memory, checks every honest job completed with the
//! right result and nobody was slashed, and prints a table for BENCHMARKS.md.
//!
//! Everything runs in this process: the node (Surfpool, a block every `--slot-time` ms), the
//! daemons ([`crate::demo::start_provider`]: each its own wallet, journal and metrics endpoint;
//! their GPU workers are child processes), the clients, a tarpit blob server ([`tarpit`]) and one
//! websocket watcher that times every job ([`watcher`]).
//!
//! The run, in order:
//! 1. **Load**: the clients post `--jobs` jobs, several posts in flight each. Honest jobs are
//!    one-replica `vector_transform`s of 64 words whose offset is the job's index (so each has
//!    its own result hash). Hostile ones are posted raw (skipping the SDK's validation, as a
//!    hostile client would): a shader on the tarpit (never answered, or trickled), at a URI the
//!    daemons refuse or cannot reach, or an infinite loop. Waits for every honest job.
//! 2. **Idle**: once the loop jobs are open for good (each given back by every daemon that held
//!    it), the daemons' requests over `--idle-seconds` with the hostile jobs still open; then
//!    again with the market padded to `--open-jobs` open jobs that no daemon may take (their
//!    allowlist names somebody else).
//! 3. **Probes**: honest jobs posted one at a time to the idle fleet with those jobs open.
//! 4. **Checks**: every honest job completed with the CPU reference's result hash, no hostile
//!    job completed, no provider slashed; the command fails naming what is not so.

mod jobs;
mod memory;
mod metrics;
mod tarpit;
mod watcher;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use compute_market_localnet::{LocalNet, LocalNetOptions};
use compute_market_sdk::store::Scheme;
use compute_market_sdk::{Client, JobFilter, JobStatus, Pubkey, Signer};
use provider_daemon::settings::{FetchSettings, Settings};

use crate::bench::{free_local_addr, percentile, scrape};
use crate::demo::{start_provider, Provider, REWARD};
use jobs::{fetch_jobs, honest_job, plan, Kind, Posted, Posting, LOOP_WGSL};
use memory::mib;
use metrics::{growth, idle_count, print_methods, snapshot, total, Snapshot};
use tarpit::Tarpit;
use watcher::{Timeline, Watcher};

/// What `load-test` runs.
pub struct LoadOptions {
    /// Provider daemons.
    pub daemons: usize,
    /// Jobs posted in the load phase.
    pub jobs: usize,
    /// Client wallets posting them.
    pub clients: usize,
    /// Percent of the jobs that are hostile.
    pub hostile_percent: u32,
    /// Percent of the jobs that are infinite loops (part of the hostile share).
    pub loop_percent: u32,
    /// Slot time of the embedded node (`None`: a block per transaction).
    pub slot_time_ms: Option<u64>,
    /// The daemons' `job_timeout`.
    pub job_timeout: Duration,
    /// The daemons' `max_concurrent_jobs`.
    pub max_concurrent_jobs: usize,
    /// Posts each client has in flight at once.
    pub posts_in_flight: usize,
    /// Open jobs to pad the market to for the second idle count and the probes (0: none).
    pub open_jobs: usize,
    /// Length of each idle count.
    pub idle: Duration,
    /// Honest jobs posted one at a time after the load.
    pub probes: usize,
    /// How long without a single honest job completing before giving up.
    pub stall_timeout: Duration,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// p50, p95 and max, in ms.
type Quantiles = (f64, f64, f64);

/// p50, p95 and max of `samples` (sorted here), in ms; `None` when empty.
fn quantiles(samples: &mut [Duration]) -> Option<Quantiles> {
    samples.sort();
    let max = *samples.last()?;
    Some((
        ms(percentile(samples, 0.5)),
        ms(percentile(samples, 0.95)),
        ms(max),
    ))
}

fn fmt_quantiles(q: Option<Quantiles>) -> String {
    match q {
        Some((p50, p95, max)) => format!("{p50:.0} / {p95:.0} / {max:.0} ms"),
        None => "not measured".into(),
    }
}

/// The market's open jobs now.
async fn open_jobs(client: &Client) -> Result<usize> {
    Ok(client
        .list(JobFilter {
            status: Some(JobStatus::Open),
            ..Default::default()
        })
        .await?
        .len())
}

/// Waits until the watcher saw every job of `addresses` completed, or none completed for
/// `stall`; polls the stragglers by RPC now and then in case a notification was lost. Prints
/// progress every 15 s. Returns how many completed.
async fn wait_completed(
    watcher: &Watcher,
    client: &Client,
    addresses: &[Pubkey],
    stall: Duration,
    start: Instant,
) -> Result<usize> {
    let mut done_before = 0;
    let mut progress_at = Instant::now();
    let mut printed_at = Instant::now();
    let mut polled_at = Instant::now();
    loop {
        let remaining: Vec<Pubkey> = addresses
            .iter()
            .filter(|a| watcher.get(a).completed.is_none())
            .copied()
            .collect();
        let done = addresses.len() - remaining.len();
        if remaining.is_empty() {
            return Ok(done);
        }
        if done > done_before {
            done_before = done;
            progress_at = Instant::now();
        }
        if progress_at.elapsed() > stall {
            println!(
                "  {} no honest job completed for {} s: giving up waiting",
                elapsed(start),
                stall.as_secs()
            );
            return Ok(done);
        }
        if polled_at.elapsed() > Duration::from_secs(20)
            && (progress_at.elapsed() > Duration::from_secs(10) || watcher.ended())
        {
            polled_at = Instant::now();
            let now = Instant::now();
            for (address, job) in remaining.iter().zip(fetch_jobs(client, &remaining).await?) {
                if let Some(job) = job {
                    watcher.record(*address, &job, now);
                }
            }
        }
        if printed_at.elapsed() > Duration::from_secs(15) {
            printed_at = Instant::now();
            println!(
                "  {} {done}/{} honest jobs completed",
                elapsed(start),
                addresses.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn elapsed(start: Instant) -> String {
    format!("{:>7.1}s", start.elapsed().as_secs_f64())
}

/// Adds `amount` to a provider's stake (minted to its owner first).
async fn top_up(net: &LocalNet, provider: &Provider, amount: u64) -> Result<()> {
    if amount == 0 {
        return Ok(());
    }
    let owner = provider.wallet();
    net.mint_to(&owner.pubkey(), amount).await?;
    net.client(owner.insecure_clone())
        .await?
        .stake(amount)
        .await?;
    Ok(())
}

/// Waits until every daemon's metrics endpoint answers (the daemon has its GPU workers and
/// journal, and its watchers are starting).
async fn wait_ready(endpoints: &[SocketAddr]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    for addr in endpoints {
        while scrape(*addr).await.is_err() {
            if Instant::now() > deadline {
                bail!("the daemon with metrics at {addr} did not start within 300 s");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(())
}

/// Peak of jobs visible and not yet claimed at once, over `timelines`.
fn peak_waiting(timelines: &[Timeline]) -> usize {
    let mut events: Vec<(Instant, i64)> = Vec::new();
    for t in timelines {
        if let (Some(open), Some(claimed)) = (t.open, t.claimed) {
            events.push((open, 1));
            events.push((claimed, -1));
        }
    }
    events.sort();
    let (mut now, mut peak) = (0i64, 0i64);
    for (_, step) in events {
        now += step;
        peak = peak.max(now);
    }
    peak as usize
}

/// The daemons, in this process.
struct Fleet {
    providers: Vec<Provider>,
    /// Their metrics endpoints.
    endpoints: Vec<SocketAddr>,
    /// Their keys and journals.
    dir: tempfile::TempDir,
}

/// This process's resident memory as the daemons started (KiB), and their GPU workers'.
struct StartMemory {
    before: Option<u64>,
    /// With the first daemon running: the one-time costs (the GPU stack loaded in this
    /// process to enumerate adapters) and that daemon.
    first: Option<u64>,
    all: Option<u64>,
    workers: usize,
    workers_kib: u64,
}

impl Fleet {
    /// Registers and starts `o.daemons` daemons, each staked for `stake` (see the caller), with
    /// the settings of the module documentation; returns once every one serves its metrics.
    async fn start(
        net: &LocalNet,
        o: &LoadOptions,
        blobs: PathBuf,
        stake: u64,
    ) -> Result<(Fleet, StartMemory)> {
        let before = memory::own_rss_kib();
        let (children_before, children_kib_before) = memory::children_rss_kib();
        let mut first = None;
        let mut fleet = Fleet {
            providers: Vec::with_capacity(o.daemons),
            endpoints: Vec::with_capacity(o.daemons),
            dir: tempfile::tempdir()?,
        };
        for i in 0..o.daemons {
            let metrics = free_local_addr()?;
            let defaults = Settings::default();
            let (job_timeout, max_jobs, roots) =
                (o.job_timeout, o.max_concurrent_jobs, vec![blobs.clone()]);
            let provider = start_provider(net, fleet.dir.path(), &format!("load-{i}"), move |s| {
                s.metrics_addr = Some(metrics);
                s.job_timeout = job_timeout;
                s.max_concurrent_jobs = max_jobs;
                // The demo's quicker resync and poll would cost more requests than an operator
                // pays: measure the defaults.
                s.resync_interval = defaults.resync_interval;
                s.poll_interval = defaults.poll_interval;
                // The clients' blobs in the node's directory, and a blob server on this
                // machine (the tarpit): http:// to private addresses, as for a LAN blob server.
                s.fetch = FetchSettings {
                    schemes: vec![Scheme::Https, Scheme::S3, Scheme::Http, Scheme::File],
                    file_roots: roots,
                    allow_private_addresses: true,
                    ..FetchSettings::default()
                };
            })
            .await?;
            let staked = net
                .client(provider.wallet().insecure_clone())
                .await?
                .provider()
                .await?
                .staked;
            top_up(net, &provider, stake.saturating_sub(staked)).await?;
            fleet.providers.push(provider);
            fleet.endpoints.push(metrics);
            if i == 0 {
                wait_ready(&fleet.endpoints).await?;
                first = memory::own_rss_kib();
            }
        }
        wait_ready(&fleet.endpoints).await?;
        // Let their websocket subscriptions and first resyncs settle.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (children, children_kib) = memory::children_rss_kib();
        Ok((
            fleet,
            StartMemory {
                before,
                first,
                all: memory::own_rss_kib(),
                workers: children.saturating_sub(children_before),
                workers_kib: children_kib.saturating_sub(children_kib_before),
            },
        ))
    }

    async fn snapshot(&self) -> Result<Snapshot> {
        snapshot(&self.endpoints).await
    }

    /// Every provider's record on chain.
    async fn records(&self, net: &LocalNet) -> Result<Vec<(Pubkey, compute_market_sdk::Provider)>> {
        let mut records = Vec::with_capacity(self.providers.len());
        for p in &self.providers {
            let owner = net.client(p.wallet().insecure_clone()).await?;
            records.push((owner.wallet(), owner.provider().await?));
        }
        Ok(records)
    }

    async fn stop(&mut self) -> Result<()> {
        for p in self.providers.iter_mut() {
            p.stop().await?;
        }
        Ok(())
    }
}

/// What the load phase measured.
struct Load {
    posted: Vec<Posted>,
    posting_took: Duration,
    honest: usize,
    jobs_per_minute: f64,
    pickup: Option<Quantiles>,
    /// Pickup of the jobs in the lower and the upper half of the address order.
    halves: (Option<Quantiles>, Option<Quantiles>),
    waiting_peak: usize,
    requests_per_job: f64,
    /// Snapshot of the daemons' metrics before the first post.
    before: Snapshot,
}

/// Posts the jobs of `kinds` and waits until every honest one completed (or `o.stall_timeout`
/// passed without one completing); prints what it measured.
async fn load_phase(
    o: &LoadOptions,
    posting: &Arc<Posting>,
    watcher: &Watcher,
    fleet: &Fleet,
    kinds: &[Kind],
    start: Instant,
) -> Result<Load> {
    println!(
        "▶ {} posting {} jobs ({} clients, {} posts in flight each)",
        elapsed(start),
        o.jobs,
        o.clients,
        o.posts_in_flight
    );
    let client = &posting.clients[0];
    let before = fleet.snapshot().await?;
    let started = Instant::now();
    let mut poster = {
        let posting = posting.clone();
        let jobs = kinds.iter().copied().enumerate().collect();
        tokio::spawn(async move { posting.post(jobs).await })
    };
    let posted = loop {
        tokio::select! {
            done = &mut poster => break done.context("the posting task failed")??,
            _ = tokio::time::sleep(Duration::from_secs(15)) => {
                println!("  {} posting…", elapsed(start));
            }
        }
    };
    let posting_took = started.elapsed();
    println!(
        "  {} {} jobs posted in {:.1} s ({:.0} posts/minute)",
        elapsed(start),
        posted.len(),
        posting_took.as_secs_f64(),
        posted.len() as f64 / posting_took.as_secs_f64() * 60.0
    );
    let honest: Vec<Pubkey> = posted
        .iter()
        .filter(|p| p.kind == Kind::Honest)
        .map(|p| p.address)
        .collect();
    wait_completed(watcher, client, &honest, o.stall_timeout, start).await?;
    let after = fleet.snapshot().await?;

    let timelines: Vec<Timeline> = honest.iter().map(|a| watcher.get(a)).collect();
    let completed = timelines.iter().filter(|t| t.completed.is_some()).count();
    let last_completion = timelines.iter().filter_map(|t| t.completed).max();
    let took = last_completion.map_or(started.elapsed(), |t| t.saturating_duration_since(started));
    let jobs_per_minute = completed as f64 / took.as_secs_f64() * 60.0;
    let mut pickups: Vec<Duration> = timelines.iter().filter_map(Timeline::pickup).collect();
    let unmeasured = honest.len() - pickups.len();
    let pickup = quantiles(&mut pickups);
    // Fairness: the daemons' resync lists open jobs sorted by address, so a backlog is served
    // in that order; compare the lower and the upper half of the addresses.
    let mut by_address: Vec<(Pubkey, Option<Duration>)> = honest
        .iter()
        .zip(&timelines)
        .map(|(a, t)| (*a, t.pickup()))
        .collect();
    by_address.sort_by_key(|(a, _)| *a);
    let (lower, upper) = by_address.split_at(by_address.len() / 2);
    let half = |jobs: &[(Pubkey, Option<Duration>)]| {
        quantiles(&mut jobs.iter().filter_map(|(_, p)| *p).collect::<Vec<_>>())
    };
    let halves = (half(lower), half(upper));
    let waiting_peak = peak_waiting(&timelines);
    let rpc = growth(&before, &after, "rpc_requests_total");
    let requests = total(&rpc);
    let requests_per_job = requests / completed.max(1) as f64;

    println!(
        "  {} {completed}/{} honest jobs completed, the last {:.1} s after the first post: {jobs_per_minute:.0} jobs/minute",
        elapsed(start),
        honest.len(),
        took.as_secs_f64()
    );
    println!(
        "  pickup (job visible → claim visible, one websocket at processed): {} ({} jobs; {unmeasured} not measured: open or claim not seen); at most {waiting_peak} honest jobs waiting at once",
        fmt_quantiles(pickup),
        pickups.len(),
    );
    println!(
        "  pickup of the jobs in the lower half of the address order {}, in the upper half {}",
        fmt_quantiles(halves.0),
        fmt_quantiles(halves.1)
    );
    println!(
        "  daemons' JSON-RPC requests: {requests:.0} in all, {requests_per_job:.1} per completed job; by method:"
    );
    print_methods(&rpc, completed as f64, "per completed job");
    // Transactions the daemons meant to send: a claim that landed, a submission, a give-back.
    // The other sendTransaction requests are claims refused at preflight (the race lost to
    // another daemon; `ClaimTooEarly`, retried, when the job was seen in its posting slot) and
    // rebroadcasts.
    let counter = |metric: &str| total(&growth(&before, &after, metric));
    let sends = rpc
        .iter()
        .find(|(method, _)| method == "sendTransaction")
        .map_or(0.0, |(_, n)| *n);
    let landed = counter("jobs_claimed_total")
        + counter("jobs_completed_total")
        + counter("jobs_given_back_total");
    println!(
        "  sendTransaction: {landed:.0} claims, submissions and give-backs that landed; {:.0} others (claims refused at preflight: races lost to another daemon, ClaimTooEarly retries; rebroadcasts): {:.2} per completed job",
        sends - landed,
        (sends - landed) / completed.max(1) as f64
    );
    println!("  skips (jobs_skipped_total, all daemons, by reason):");
    for (reason, n) in growth(&before, &after, "jobs_skipped_total") {
        println!("    {reason:<32} {n:>9.0}");
    }
    Ok(Load {
        posted,
        posting_took,
        honest: honest.len(),
        jobs_per_minute,
        pickup,
        halves,
        waiting_peak,
        requests_per_job,
        before,
    })
}

/// Waits until the loop jobs are open for good: each given back by every daemon that held it
/// (a daemon claims a job once at most, and one that lost the race to claim it does not try
/// again, so a loop job is given back by one to all of the daemons), then a quiet resync.
async fn settle_loops(
    o: &LoadOptions,
    fleet: &Fleet,
    client: &Client,
    load: &Load,
    start: Instant,
) -> Result<()> {
    let loops: Vec<Pubkey> = load
        .posted
        .iter()
        .filter(|p| p.kind == Kind::Loop)
        .map(|p| p.address)
        .collect();
    let quiet = o.job_timeout + Settings::default().resync_interval + Duration::from_secs(5);
    let started = Instant::now();
    let mut last_give_back = (f64::NAN, Instant::now());
    loop {
        let given_back = total(&growth(
            &load.before,
            &fleet.snapshot().await?,
            "jobs_given_back_total",
        ));
        if given_back != last_give_back.0 {
            last_give_back = (given_back, Instant::now());
        }
        let all_open = fetch_jobs(client, &loops)
            .await?
            .iter()
            .all(|j| j.is_some_and(|j| j.status() == JobStatus::Open && j.claimed == 0));
        if all_open && last_give_back.1.elapsed() >= quiet {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(300) {
            println!(
                "  {} the loop jobs are still being claimed after 300 s; counting anyway",
                elapsed(start)
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Idle requests of the fleet: (open jobs, requests per minute of the fleet).
type IdleCount = (usize, f64);

/// Counts the fleet's requests for `o.idle` with the jobs open now; then, if `o.open_jobs` is
/// more, pads the market with untakeable jobs and counts again. Returns the counts and the
/// padding jobs.
async fn idle_phase(
    o: &LoadOptions,
    posting: &Arc<Posting>,
    fleet: &Fleet,
    start: Instant,
) -> Result<(Vec<IdleCount>, Vec<Posted>)> {
    let client = &posting.clients[0];
    let mut counts = Vec::new();
    let mut padding = Vec::new();
    loop {
        let open = open_jobs(client).await?;
        println!(
            "▶ {} idle: counting the daemons' requests for {} s with {open} open jobs",
            elapsed(start),
            o.idle.as_secs()
        );
        let (rows, per_minute) = idle_count(&fleet.endpoints, o.idle).await?;
        let per_open = per_minute / open.max(1) as f64;
        println!(
            "  {per_minute:.0} requests per minute for the fleet: {per_open:.2} per open job per minute ({:.3} per daemon); by method (per minute):",
            per_open / o.daemons as f64
        );
        print_methods(&rows, o.idle.as_secs_f64() / 60.0, "per minute (fleet)");
        if let Some(&(first_open, first_rate)) = counts.first() {
            let added = open.saturating_sub(first_open).max(1) as f64;
            println!(
                "  each open job added ({first_open} → {open}) costs {:.3} requests per minute per daemon",
                (per_minute - first_rate) / added / o.daemons as f64
            );
        }
        counts.push((open, per_minute));
        if !padding.is_empty() || o.open_jobs <= open {
            return Ok((counts, padding));
        }
        let extra = o.open_jobs - open;
        println!(
            "▶ {} padding the market with {extra} jobs nobody may take",
            elapsed(start)
        );
        padding = posting
            .post((0..extra).map(|i| (i, Kind::Untakeable)).collect())
            .await?;
        // A resync of every daemon after the last post.
        tokio::time::sleep(Settings::default().resync_interval + Duration::from_secs(2)).await;
    }
}

/// Posts `o.probes` honest jobs one at a time (indices from `first_index`), each once the one
/// before completed; returns them and their pickups.
async fn probe_phase(
    o: &LoadOptions,
    posting: &Arc<Posting>,
    watcher: &Watcher,
    first_index: usize,
    start: Instant,
) -> Result<(Vec<Posted>, Vec<Duration>)> {
    let mut probes = Vec::with_capacity(o.probes);
    let mut pickups = Vec::with_capacity(o.probes);
    for k in 0..o.probes {
        let mut posted = posting.post(vec![(first_index + k, Kind::Honest)]).await?;
        let probe = posted.pop().context("no probe posted")?;
        wait_completed(
            watcher,
            &posting.clients[0],
            &[probe.address],
            Duration::from_secs(120),
            start,
        )
        .await?;
        if let Some(p) = watcher.get(&probe.address).pickup() {
            pickups.push(p);
        }
        probes.push(probe);
    }
    Ok((probes, pickups))
}

/// What the final checks found.
struct Checks {
    /// What is wrong, one line each (empty: all is well).
    failures: Vec<String>,
    honest_ok: usize,
    honest_all: usize,
    hostile_open: usize,
    given_back: u64,
    slashed: u64,
    completed_by: Vec<u64>,
}

/// Reads every job of `posted` and every provider on chain: honest jobs completed with the CPU
/// reference's result hash, hostile ones not completed, no provider slashed.
async fn check(
    net: &LocalNet,
    client: &Client,
    posted: &[&Posted],
    fleet: &Fleet,
) -> Result<Checks> {
    let addresses: Vec<Pubkey> = posted.iter().map(|p| p.address).collect();
    let states = fetch_jobs(client, &addresses).await?;
    let mut checks = Checks {
        failures: Vec::new(),
        honest_ok: 0,
        honest_all: 0,
        hostile_open: 0,
        given_back: 0,
        slashed: 0,
        completed_by: Vec::new(),
    };
    for (p, job) in posted.iter().zip(&states) {
        let status = job.map(|j| j.status());
        if p.kind == Kind::Honest {
            checks.honest_all += 1;
        }
        match (p.kind, job) {
            (Kind::Honest, Some(job))
                if status == Some(JobStatus::Completed) && Some(job.result_hash) == p.expected =>
            {
                checks.honest_ok += 1
            }
            (Kind::Honest, Some(job)) => checks.failures.push(format!(
                "honest job {} is {:?} with {} claimed{}",
                p.address,
                job.status(),
                job.claimed,
                if job.status() == JobStatus::Completed {
                    " and a wrong result hash"
                } else {
                    ""
                }
            )),
            (Kind::Honest, None) => checks
                .failures
                .push(format!("honest job {} is missing", p.address)),
            (kind, _) if kind.is_hostile() && status == Some(JobStatus::Completed) => {
                checks.failures.push(format!(
                    "hostile job {} ({kind:?}) completed with a result",
                    p.address
                ))
            }
            (kind, _) if kind.is_hostile() && status == Some(JobStatus::Open) => {
                checks.hostile_open += 1
            }
            _ => {}
        }
    }
    for (owner, record) in fleet.records(net).await? {
        checks.given_back += record.jobs_given_back;
        checks.slashed += record.jobs_slashed;
        checks.completed_by.push(record.jobs_completed);
        if record.jobs_slashed > 0 {
            checks.failures.push(format!(
                "provider of {owner} was slashed {} times",
                record.jobs_slashed
            ));
        }
    }
    Ok(checks)
}

/// Runs the load test (see the module documentation) on an embedded node.
pub async fn run(o: LoadOptions) -> Result<()> {
    if o.daemons == 0 || o.clients == 0 || o.jobs == 0 || o.posts_in_flight == 0 {
        bail!("--daemons, --clients, --jobs and --posts-in-flight must be at least 1");
    }
    if o.hostile_percent > 100 || o.loop_percent > 100 {
        bail!("--hostile-percent and --loop-percent are percentages: at most 100");
    }
    let start = Instant::now();
    let kinds = plan(o.jobs, o.hostile_percent, o.loop_percent);
    let count = |f: &dyn Fn(Kind) -> bool| kinds.iter().filter(|k| f(**k)).count();
    let loops = count(&|k| k == Kind::Loop);
    let tarpits = count(&|k| matches!(k, Kind::Tarpit { .. }));
    let refused = count(&|k| matches!(k, Kind::Refused(_)));
    let node = match o.slot_time_ms {
        Some(ms) => format!("embedded Surfpool, a block every {ms} ms"),
        None => "embedded Surfpool, a block per transaction".into(),
    };
    println!(
        "▶ load test: {} daemons, {} jobs from {} clients: {} honest, {tarpits} on a tarpit, {refused} at refused URIs, {loops} infinite loops",
        o.daemons,
        o.jobs,
        o.clients,
        count(&|k| k == Kind::Honest),
    );
    println!(
        "  daemons: job_timeout {} s (short, so that an infinite loop is killed and given back within seconds, not after the default minute), max_concurrent_jobs {}, resync_interval and poll_interval at their defaults (10 s, 1 s)",
        o.job_timeout.as_secs(),
        o.max_concurrent_jobs
    );

    // The node, the tarpit, a port nothing listens on, the daemons.
    println!("▶ starting the node ({node})");
    let net = LocalNet::start(LocalNetOptions {
        slot_time_ms: o.slot_time_ms,
        ..LocalNetOptions::default()
    })
    .await?;
    let market = net.authority().await?.market().await?;
    let tarpit = Tarpit::start(o.daemons.max(2)).await?;
    let closed = free_local_addr()?;
    let blobs: PathBuf = url::Url::parse(&net.blob_store_uri())
        .ok()
        .and_then(|u| u.to_file_path().ok())
        .context("the node's blob store is not a local directory")?;
    println!(
        "  {} starting {} provider daemons",
        elapsed(start),
        o.daemons
    );
    let give_back_cost = market.collateral_per_replica * u64::from(market.give_back_bps) / 10_000;
    // Enough stake for a full house of jobs, a give-back of every loop job and the market's
    // minimum (the demo's providers stake just over the minimum).
    let stake = market.min_provider_stake
        + market.collateral_per_replica * (o.max_concurrent_jobs as u64 + 1)
        + give_back_cost * loops as u64;
    let (mut fleet, memory) = Fleet::start(&net, &o, blobs, stake).await?;
    let sampler = memory::Sampler::start();
    println!(
        "  {} daemons ready: this process {:.0} MiB resident before them, {:.0} MiB with the first, {:.0} MiB with all; {} GPU worker processes, {:.0} MiB",
        elapsed(start),
        mib(memory.before.unwrap_or(0)),
        mib(memory.first.unwrap_or(0)),
        mib(memory.all.unwrap_or(0)),
        memory.workers,
        mib(memory.workers_kib),
    );

    // The clients, and what they post.
    let escrow = REWARD * (10_000 + u64::from(market.fee_bps)) / 10_000 + 1;
    let per_client = (o.jobs + o.open_jobs + o.probes).div_ceil(o.clients) as u64 + 10;
    let mut clients = Vec::with_capacity(o.clients);
    for _ in 0..o.clients {
        let wallet = net.funded_wallet(per_client * escrow).await?;
        // Rent of each job account and escrow (~0.027 SOL), with room to spare.
        let lamports = compute_market_localnet::WALLET_LAMPORTS.max(per_client * 50_000_000);
        net.airdrop(&wallet.pubkey(), lamports).await?;
        clients.push(net.client(wallet).await?);
    }
    let store = clients[0].store().context("no blob store")?;
    let (sample, _) = honest_job(0)?;
    let honest_uris = (
        store.put(&sample.descriptor.shader_blob()).await?,
        store.put(&sample.descriptor.input).await?,
    );
    let loop_uri = store.put(LOOP_WGSL).await?;
    let posting = Arc::new(Posting {
        now: clients[0].chain_time().await?,
        mint: market.payment_mint,
        clients,
        honest_uris,
        loop_uri,
        tarpit,
        closed,
        next_id: AtomicU64::new(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_nanos() as u64,
        ),
        in_flight: o.posts_in_flight,
    });
    let client = posting.clients[0].clone();
    let watcher = Watcher::start(net.ws_url(), net.market).await?;

    // 1. Load; 2. idle; 3. probes; 4. checks.
    let load = load_phase(&o, &posting, &watcher, &fleet, &kinds, start).await?;
    settle_loops(&o, &fleet, &client, &load, start).await?;
    let (idle, padding) = idle_phase(&o, &posting, &fleet, start).await?;
    let probe_open = idle.last().map_or(0, |(open, _)| *open);
    if o.probes > 0 {
        println!(
            "▶ {} {} probe jobs, one at a time, to the idle fleet with {probe_open} open jobs",
            elapsed(start),
            o.probes
        );
    }
    let (probes, mut probe_pickups) =
        probe_phase(&o, &posting, &watcher, o.jobs + padding.len(), start).await?;
    let probe_pickup = quantiles(&mut probe_pickups);
    if o.probes > 0 {
        println!(
            "  pickup of the probes: {} ({} measured)",
            fmt_quantiles(probe_pickup),
            probe_pickups.len()
        );
    }
    println!("▶ {} checking every job on chain", elapsed(start));
    let checked: Vec<&Posted> = load.posted.iter().chain(&probes).collect();
    let checks = check(&net, &client, &checked, &fleet).await?;
    let rss_end = memory::own_rss_kib();
    let peak_rss = memory::own_peak_kib();
    let (_, workers_end_kib) = memory::children_rss_kib();
    let (peak_workers, peak_workers_kib) = sampler.peak();
    drop(sampler);
    fleet.stop().await?;
    let took = start.elapsed();

    // Report.
    let first_kib = memory
        .first
        .zip(memory.before)
        .map_or(0, |(first, before)| first.saturating_sub(before));
    let each_kib = match (memory.all, memory.first) {
        (Some(all), Some(first)) if o.daemons > 1 => {
            all.saturating_sub(first) / (o.daemons as u64 - 1)
        }
        _ => first_kib,
    };
    let worker_kib = memory.workers_kib / memory.workers.max(1) as u64;
    let Checks {
        failures,
        honest_ok,
        honest_all,
        hostile_open,
        given_back,
        slashed,
        completed_by,
    } = checks;
    let tarpit = &posting.tarpit;
    println!("\n══ load test ═════════════════════════════════════════════════════════════");
    println!(
        "node: {node}; {} daemons (max_concurrent_jobs {}, job_timeout {} s, resync 10 s, poll 1 s); {} clients × {} posts in flight",
        o.daemons, o.max_concurrent_jobs, o.job_timeout.as_secs(), o.clients, o.posts_in_flight
    );
    println!(
        "jobs: {} posted in {:.1} s: {} honest, {tarpits} tarpit (silent / trickling, on {} loopback hosts: {} connections, at most {} held at once), {refused} refused (file outside the roots, gopher://, a closed port), {loops} infinite loops",
        load.posted.len(),
        load.posting_took.as_secs_f64(),
        load.honest,
        tarpit.hosts(),
        tarpit.accepted(),
        tarpit.peak_open()
    );
    println!(
        "hostile jobs: {hostile_open} of {} still open, none completed; {given_back} give-backs of the {loops} loop jobs (at most one per daemon each), costing {} base units of stake ({give_back_cost} each) and {} s of GPU worker time",
        tarpits + refused + loops,
        given_back * give_back_cost,
        given_back * o.job_timeout.as_secs()
    );
    println!("completed per provider: {completed_by:?}; slashed: {slashed}");
    println!(
        "memory (resident): this process {:.0} MiB before the daemons, {:.0} MiB with the first ({:.0} MiB: the GPU stack loaded once to enumerate adapters, and the daemon), {:.0} MiB with all ({:.1} MiB per further daemon), {:.0} MiB at the end, peak {:.0} MiB; GPU workers {:.0} MiB each at start ({}), {:.0} MiB in all at the end, peak {:.0} MiB ({peak_workers} processes)",
        mib(memory.before.unwrap_or(0)),
        mib(memory.first.unwrap_or(0)),
        mib(first_kib),
        mib(memory.all.unwrap_or(0)),
        mib(each_kib),
        mib(rss_end.unwrap_or(0)),
        mib(peak_rss.unwrap_or(0)),
        mib(worker_kib),
        memory.workers,
        mib(workers_end_kib),
        mib(peak_workers_kib),
    );
    println!("watcher: {} notifications", watcher.notifications());
    println!("took {:.0} s\n", took.as_secs_f64());

    println!("| figure | measured | goal |");
    println!("|---|---:|---:|");
    println!(
        "| honest jobs completed with the right result hash | {honest_ok}/{honest_all} | all |"
    );
    println!(
        "| pickup under load, p50 / p95 / max (job visible → claim visible; up to {} jobs waiting) | {} | |",
        load.waiting_peak,
        fmt_quantiles(load.pickup)
    );
    let p50_p95 =
        |q: Option<Quantiles>| q.map_or("—".into(), |q| format!("{:.0} / {:.0} ms", q.0, q.1));
    println!(
        "| the same, jobs in the lower · upper half of the address order, p50 / p95 | {} · {} | |",
        p50_p95(load.halves.0),
        p50_p95(load.halves.1),
    );
    if o.probes > 0 {
        println!(
            "| pickup of {} probes by the idle fleet with {probe_open} open jobs, p50 / p95 / max | {} | p50 ≤ 400 ms |",
            probe_pickups.len(),
            fmt_quantiles(probe_pickup)
        );
    }
    println!(
        "| jobs per minute (honest completed ÷ first post → last completion) | {:.0} | |",
        load.jobs_per_minute
    );
    println!(
        "| RPC requests per completed one-replica job (all daemons, load phase) | {:.1} | ≤ 15 |",
        load.requests_per_job
    );
    for (open, per_minute) in &idle {
        let per_open = per_minute / (*open).max(1) as f64;
        println!(
            "| idle RPC per open job per minute, {open} open (fleet / per daemon) | {per_open:.2} / {:.3} | ≤ 1 |",
            per_open / o.daemons as f64
        );
    }
    if let [(open_0, rate_0), .., (open_1, rate_1)] = idle.as_slice() {
        println!(
            "| idle RPC per minute per daemon for each open job added ({open_0} → {open_1}) | {:.3} | |",
            (rate_1 - rate_0) / open_1.saturating_sub(*open_0).max(1) as f64 / o.daemons as f64
        );
    }
    println!(
        "| daemon memory in this process: the first (with one-time costs) / each further | {:.0} MiB / {:.1} MiB | |",
        mib(first_kib),
        mib(each_kib)
    );
    println!(
        "| GPU worker RSS, each at start / all at peak | {:.0} MiB / {:.0} MiB | |",
        mib(worker_kib),
        mib(peak_workers_kib)
    );
    println!(
        "| peak RSS of the whole process (node, daemons, clients) | {:.0} MiB | |",
        mib(peak_rss.unwrap_or(0))
    );
    println!(
        "| give-backs of the {loops} loop jobs / providers slashed | {given_back} / {slashed} | — / 0 |"
    );

    if !failures.is_empty() {
        for f in &failures {
            eprintln!("{f}");
        }
        bail!("{} check(s) failed: {}", failures.len(), failures[0]);
    }
    Ok(())
}
