//! `compute-market demo`: the whole marketplace on one machine, with no configuration.
//!
//! Starts the embedded local node with the program and a market, funds a client and three
//! providers, runs three provider daemons in this process on the local GPU adapter, submits an
//! exact-class job with three replicas (quorum two) and the Mandelbrot image job with one,
//! follows each live, verifies the results against the on-chain hashes, writes the image as a
//! PNG and prints who was paid what.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use compute_market_localnet::{LocalNet, LocalNetOptions};
use compute_market_sdk::{
    pda, Capabilities, Client, DeviceClass, Job, JobSpec, JobStatus, Keypair, Pubkey, Signer,
    ValidatedJob,
};
use provider_daemon::gpu::kernels;
use provider_daemon::settings::{GpuSettings, LogFormat, Settings};
use tokio::sync::oneshot;

/// Reward per replica of the demo's jobs.
pub const REWARD: u64 = 250_000;
const STAKE: u64 = 2_000_000;
const CLIENT_FUNDS: u64 = 10_000_000;

/// A provider with its daemon running in this process.
pub struct Provider {
    name: &'static str,
    wallet: Keypair,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), provider_daemon::daemon::DaemonError>>,
}

/// One job's story, for the summary.
struct Story {
    name: &'static str,
    address: Pubkey,
    phases: Vec<(String, Duration)>,
    settled: Job,
    cu: Option<u64>,
}

fn elapsed(start: Instant) -> String {
    format!("{:>6.2}s", start.elapsed().as_secs_f64())
}

/// Runs the demo; `out` is where the PNG goes.
pub async fn run(out: PathBuf, allow_cpu: bool) -> Result<()> {
    let start = Instant::now();
    let options = LocalNetOptions::default();
    println!("▶ starting a local Solana node (embedded Surfpool) with the Compute Market program");
    let net = LocalNet::start(options).await?;
    println!(
        "  {} RPC {}  WS {}",
        elapsed(start),
        net.rpc_url(),
        net.ws_url()
    );
    println!("  market {}  (mint {})", net.market, net.mint);
    let explorer = |kind: &str, id: &str| {
        format!(
            "https://explorer.solana.com/{kind}/{id}?cluster=custom&customUrl={}",
            net.rpc_url()
        )
    };
    let dir = tempfile::tempdir().context("temporary directory")?;

    // Client and providers.
    let client_wallet = net.funded_wallet(CLIENT_FUNDS).await?;
    let client = net.client(client_wallet.insecure_clone()).await?;
    println!(
        "▶ client {} funded with {CLIENT_FUNDS} tokens",
        client.wallet()
    );
    let mut providers = Vec::new();
    for name in ["alpha", "beta", "gamma"] {
        let p = start_provider(&net, dir.path(), name, allow_cpu, |_| {}).await?;
        println!(
            "▶ provider {name} {} staked {STAKE}; daemon started",
            pda::provider(&net.market, &p.wallet.pubkey())
        );
        providers.push(p);
    }
    let balances_before = balances(&net, &client, &providers).await?;

    // The jobs.
    let (exact, exact_expected) = exact_job()?;
    let (image, (width, height)) = image_job()?;
    let mut stories = Vec::new();
    for (name, job, expected) in [
        (
            "u32 matmul 64×64 (exact, 3 replicas, quorum 2)",
            &exact,
            Some(&exact_expected),
        ),
        ("Mandelbrot 256×256 (float, 1 replica)", &image, None),
    ] {
        stories.push(follow(&client, name, job, start, &explorer).await?);
        let story = stories.last().expect("just pushed");
        let handle = client.handle(story.address);
        let output = handle
            .result()
            .await
            .with_context(|| format!("fetching the result of {}", story.address))?;
        println!(
            "  {} result downloaded and verified against the on-chain hash {}",
            elapsed(start),
            hex::encode(story.settled.result_hash)
        );
        if let Some(expected) = expected {
            if &output != expected {
                bail!("the exact job's output differs from the CPU reference");
            }
            println!(
                "  {} output equals the CPU reference, byte for byte",
                elapsed(start)
            );
        } else {
            let png = compute_market_sdk::image::u32_grayscale_png(&output, width, height)?;
            std::fs::write(&out, png).with_context(|| format!("writing {}", out.display()))?;
            println!("  {} image written to {}", elapsed(start), out.display());
        }
    }

    // Stop the daemons.
    for p in providers.iter_mut() {
        p.stop().await?;
    }
    let balances_after = balances(&net, &client, &providers).await?;

    // Summary.
    println!("\n══ summary ══════════════════════════════════════════════════════════════");
    for s in &stories {
        println!("{}  {}", s.name, s.address);
        println!(
            "  explorer     {}",
            explorer("address", &s.address.to_string())
        );
        println!(
            "  state        {:?} · {}/{} replicas agreed (quorum {})",
            s.settled.status(),
            s.settled
                .active_slots()
                .iter()
                .filter(|slot| slot.result_hash == s.settled.result_hash)
                .count(),
            s.settled.replicas,
            s.settled.quorum
        );
        println!("  result hash  {}", hex::encode(s.settled.result_hash));
        println!("  determinism  {:?}", s.settled.spec.determinism());
        let phases: Vec<String> = s
            .phases
            .iter()
            .map(|(p, t)| format!("{p} +{:.2}s", t.as_secs_f64()))
            .collect();
        println!("  phases       {}", phases.join(" → "));
        match s.cu {
            Some(cu) => println!("  compute      {cu} CU across its transactions"),
            None => println!("  compute      (transaction history unavailable on this node)"),
        }
    }
    println!("paid (token base units, after − before):");
    for (who, after) in &balances_after {
        let before = balances_before.get(who).copied().unwrap_or(0);
        println!("  {who:<28} {:>+12}", *after as i128 - before as i128);
    }
    println!("\ndone in {:.1}s", start.elapsed().as_secs_f64());
    Ok(())
}

/// Registers a funded provider and starts its daemon in this process; `tweak` adjusts its
/// settings before they are validated.
pub async fn start_provider(
    net: &LocalNet,
    dir: &std::path::Path,
    name: &'static str,
    allow_cpu: bool,
    tweak: impl FnOnce(&mut Settings),
) -> Result<Provider> {
    let wallet = net.funded_wallet(STAKE).await?;
    let c = net.client(wallet.insecure_clone()).await?;
    c.register_provider(STAKE, capabilities()).await?;
    let key_path = dir.join(format!("{name}.json"));
    std::fs::write(
        &key_path,
        serde_json::to_string(&wallet.to_bytes().to_vec())?,
    )?;
    let mut settings = Settings {
        rpc_urls: vec![net.rpc_url().to_string()],
        ws_urls: vec![net.ws_url().to_string()],
        keypair_path: key_path,
        market: net.market.to_string(),
        store: net.blob_store_uri(),
        state_path: dir.join(format!("{name}.sqlite")),
        job_timeout: Duration::from_secs(60),
        resync_interval: Duration::from_secs(2),
        poll_interval: Duration::from_millis(250),
        log_format: LogFormat::Text,
        gpu: GpuSettings {
            allow_cpu,
            ..GpuSettings::default()
        },
        ..Settings::default()
    };
    tweak(&mut settings);
    settings.validate()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(provider_daemon::daemon::run(settings, async move {
        let _ = stopped.await;
    }));
    Ok(Provider {
        name,
        wallet,
        stop: Some(stop),
        task,
    })
}

impl Provider {
    /// Stops the daemon and waits for it.
    pub async fn stop(&mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => bail!("provider {} failed: {e}", self.name),
            Err(e) => bail!("provider {} task failed: {e}", self.name),
        }
    }
}

fn capabilities() -> Capabilities {
    Capabilities {
        vendor_id: 0,
        device_class: DeviceClass::Cpu,
        memory_mib: 1024,
        max_workgroup_invocations: 256,
        max_storage_buffer_bytes: 128 << 20,
        bandwidth_mbps: 1_000,
        int_mops: 1_000,
    }
}

fn build(d: &compute_market_job::JobDescriptor, n: u8, k: u8) -> Result<ValidatedJob> {
    Ok(JobSpec::from_descriptor(d)
        .reward(REWARD)
        .replicas(n, k)
        .build()?)
}

fn exact_job() -> Result<(ValidatedJob, Vec<u8>)> {
    let n = 64;
    let a = kernels::test_words(n * n, 7);
    let b = kernels::test_words(n * n, 11);
    let d = kernels::matmul_job(&a, &b, n as u32);
    let expected: Vec<u8> = kernels::cpu::matmul(&a, &b, n)
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    Ok((build(&d, 3, 2)?, expected))
}

fn image_job() -> Result<(ValidatedJob, (u32, u32))> {
    let (w, h) = (256, 256);
    Ok((build(&kernels::mandelbrot_job(w, h, 200), 1, 1)?, (w, h)))
}

/// Submits a job and prints each state change until it settles.
async fn follow(
    client: &Client,
    name: &'static str,
    job: &ValidatedJob,
    start: Instant,
    explorer: &impl Fn(&str, &str) -> String,
) -> Result<Story> {
    println!("\n▶ submitting: {name}");
    for w in &job.warnings {
        println!("  note: {w}");
    }
    let posted = Instant::now();
    let handle = client.submit(job).await?;
    println!("  {} posted job {}", elapsed(start), handle.address);
    if let Some(sig) = &handle.signature {
        println!("           tx {}", explorer("tx", &sig.to_string()));
    }
    let mut phases = vec![("posted".to_string(), Duration::ZERO)];
    let settled = handle
        .wait(Duration::from_secs(300), |j| {
            let label = format!(
                "{:?} {}/{} claimed, {} committed, {} revealed",
                j.status(),
                j.claimed,
                j.replicas,
                j.committed,
                j.revealed
            );
            println!("  {} {label}", elapsed(start));
            let phase = if j.status().is_settled() {
                format!("{:?}", j.status()).to_lowercase()
            } else if j.revealed > 0 {
                "revealing".into()
            } else if j.committed > 0 {
                "committing".into()
            } else if j.claimed > 0 {
                "claimed".into()
            } else {
                "open".into()
            };
            if phases.last().is_none_or(|(p, _)| *p != phase) {
                phases.push((phase, posted.elapsed()));
            }
        })
        .await?;
    if settled.status() != JobStatus::Completed {
        bail!("job {} ended {:?}", handle.address, settled.status());
    }
    let cu = compute_units(client, &handle.address).await;
    Ok(Story {
        name,
        address: handle.address,
        phases,
        settled,
        cu,
    })
}

/// Compute units of every transaction that touched the job, if the node keeps history.
async fn compute_units(client: &Client, job: &Pubkey) -> Option<u64> {
    let signatures = client.rpc().get_signatures_for_address(job).await.ok()?;
    let mut total = 0;
    for s in signatures {
        let sig = s.signature.parse().ok()?;
        let tx = client
            .rpc()
            .get_transaction(
                &sig,
                solana_transaction_status_client_types::UiTransactionEncoding::Base64,
            )
            .await
            .ok()?;
        let cu: Option<u64> = tx.transaction.meta?.compute_units_consumed.into();
        total += cu?;
    }
    Some(total)
}

async fn balances(
    net: &LocalNet,
    client: &Client,
    providers: &[Provider],
) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    let token = |owner: &Pubkey| pda::token_account(owner, &net.mint);
    out.insert(
        "client".to_string(),
        client.token_balance(&token(&client.wallet())).await?,
    );
    out.insert(
        "treasury".to_string(),
        client.token_balance(&net.treasury).await?,
    );
    for p in providers {
        out.insert(
            format!("provider {} (wallet)", p.name),
            client.token_balance(&token(&p.wallet.pubkey())).await?,
        );
        let vault = pda::stake_vault(&pda::provider(&net.market, &p.wallet.pubkey()));
        out.insert(
            format!("provider {} (stake)", p.name),
            client.token_balance(&vault).await?,
        );
    }
    Ok(out)
}
