//! `compute-market demo`: the whole marketplace on one machine, with no configuration.
//!
//! Starts the embedded local node with the program and a market, funds a client and three
//! providers, runs three provider daemons in this process on the local GPU adapter, submits an
//! exact-class job with three replicas (quorum two), the Mandelbrot image job with one, the int8
//! digits classifier with three, and a ray-traced image split into three tiles (one per
//! daemon); follows each live, verifies the results against the on-chain hashes and the CPU
//! references, writes both images as PNGs and prints who was paid what.
//!
//! With `--url` it does the same on a node the user runs (`surfpool start`,
//! `solana-test-validator`): it deploys the program and publishes its IDL there if they are
//! missing, creates its own mint and market, and funds its wallets from `--keypair` (or from
//! an airdrop to a new payer).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use compute_market_localnet::{LocalNet, LocalNetOptions};
use compute_market_sdk::store::Scheme;
use compute_market_sdk::{
    pda, Client, Job, JobSpec, JobStatus, Keypair, Pubkey, Signer, ValidatedJob,
};
use provider_daemon::gpu::kernels;
use provider_daemon::settings::{FetchSettings, GpuSettings, LogFormat, Settings};
use tokio::sync::oneshot;

/// Reward per replica of the demo's jobs.
pub const REWARD: u64 = 250_000;
const STAKE: u64 = 2_000_000;
const CLIENT_FUNDS: u64 = 10_000_000;

/// A new payer, funded by the node's faucet.
async fn airdropped_payer(rpc_url: &str) -> Result<Keypair> {
    let payer = compute_market_localnet::airdropped_payer(rpc_url, PAYER_AIRDROP)
        .await
        .with_context(|| {
            format!(
                "no payer for the demo: pass --keypair with a wallet holding ~{} SOL",
                PAYER_AIRDROP / 1_000_000_000
            )
        })?;
    println!(
        "  payer {} funded with {} SOL by airdrop",
        payer.pubkey(),
        PAYER_AIRDROP / 1_000_000_000
    );
    Ok(payer)
}

/// Deploys the program and publishes its IDL unless the program is there already.
async fn ensure_deployed(
    rpc_url: &str,
    ws_url: &str,
    payer: &Keypair,
    start: Instant,
) -> Result<()> {
    let mut config = compute_market_sdk::ClientConfig::new(rpc_url, Pubkey::default());
    config.ws_url = Some(ws_url.to_string());
    let client = Client::connect(config, payer.insecure_clone()).await?;
    let inputs = crate::deploy::Inputs::default();
    let elf = crate::deploy::read_program(&inputs.program_so)?;
    use compute_market_sdk::deploy::{inspect, Deployed};
    match inspect(client.rpc(), &pda::PROGRAM_ID, &elf).await? {
        Deployed::Absent => {
            println!("▶ deploying the program {} and its IDL", pda::PROGRAM_ID);
            if write_on_surfpool(&client, &elf).await? {
                println!(
                    "  {} program written with Surfpool's surfnet_writeProgram (a dev-node shortcut: `market deploy` uses the BPF loader)",
                    elapsed(start)
                );
            }
            // The operator's path: the BPF loader unless the program is there now, then the IDL.
            let last = std::sync::atomic::AtomicUsize::new(0);
            let report = crate::deploy::run(&client, &inputs, &|done, total| {
                // A line per tenth of the writes.
                let tenth = done * 10 / total.max(1);
                if last.swap(tenth, std::sync::atomic::Ordering::Relaxed) != tenth {
                    println!("  {} written {done}/{total}", elapsed(start));
                }
            })
            .await?;
            println!(
                "  {} program {}; IDL published at {} ({:?})",
                elapsed(start),
                report.program,
                compute_market_sdk::idl::address(),
                report.idl
            );
        }
        Deployed::Same { .. } => {
            println!("  program {} already deployed (identical)", pda::PROGRAM_ID)
        }
        Deployed::Different { .. } => println!(
            "  warning: program {} is deployed but differs from {}; using it anyway",
            pda::PROGRAM_ID,
            inputs.program_so.display()
        ),
    }
    Ok(())
}

/// Writes the program with Surfpool's `surfnet_writeProgram` when the node is a Surfpool (a
/// 2 MB program takes minutes through loader writes there); `false` on any node that refuses
/// it, however it refuses.
async fn write_on_surfpool(client: &Client, elf: &[u8]) -> Result<bool> {
    let request = solana_rpc_client_api::request::RpcRequest::Custom {
        method: "surfnet_writeProgram",
    };
    let params = serde_json::json!([pda::PROGRAM_ID.to_string(), hex::encode(elf), 0]);
    match client
        .rpc()
        .send::<serde_json::Value>(request, params)
        .await
    {
        Ok(_) => Ok(true),
        // Any other node: whatever it answers (Agave's validator: "413 Payload Too Large"
        // before it even parses the method), the BPF loader deploys instead.
        Err(e) => {
            let reason = e.to_string();
            let reason = reason.lines().next().unwrap_or_default();
            println!("  the node does not take surfnet_writeProgram ({reason}): deploying through the BPF loader");
            Ok(false)
        }
    }
}

/// A provider with its daemon running in this process.
pub struct Provider {
    name: String,
    wallet: Keypair,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), provider_daemon::daemon::DaemonError>>,
}

/// One job's story, for the summary.
pub struct Story {
    pub name: &'static str,
    pub address: Pubkey,
    pub phases: Vec<(String, Duration)>,
    pub settled: Job,
    pub cu: Option<u64>,
}

pub fn elapsed(start: Instant) -> String {
    format!("{:>6.2}s", start.elapsed().as_secs_f64())
}

/// SOL asked of the faucet for a new payer on an external node: rent for the program buffer
/// and program data (~12 SOL each for a 1.6 MB program) and 2 SOL for each demo wallet.
const PAYER_AIRDROP: u64 = 50_000_000_000;

/// Where the demo runs.
pub enum Target {
    /// An embedded node, started and stopped by the demo.
    Embedded,
    /// A node somebody else runs.
    External {
        /// JSON-RPC URL.
        rpc_url: String,
        /// Websocket URL.
        ws_url: String,
        /// Who pays (`None`: a new wallet funded by an airdrop).
        payer: Option<Box<Keypair>>,
    },
}

impl Target {
    /// The node and a new market on it: an embedded node started with `options`, or the
    /// external one (its version checked, its payer funded by airdrop when none is given, the
    /// program deployed with its IDL when missing).
    pub async fn connect(self, options: LocalNetOptions, start: Instant) -> Result<LocalNet> {
        match self {
            Target::Embedded => {
                println!(
                    "▶ starting a local Solana node (embedded Surfpool) with the Compute Market program"
                );
                Ok(LocalNet::start(options).await?)
            }
            Target::External {
                rpc_url,
                ws_url,
                payer,
            } => {
                println!("▶ using the node at {rpc_url}");
                let version =
                    solana_rpc_client::nonblocking::rpc_client::RpcClient::new(rpc_url.clone())
                        .get_version()
                        .await
                        .with_context(|| format!("cannot reach a Solana node at {rpc_url}"))?;
                println!("  solana-core {}", version.solana_core);
                let payer = match payer {
                    Some(payer) => *payer,
                    None => airdropped_payer(&rpc_url).await?,
                };
                ensure_deployed(&rpc_url, &ws_url, &payer, start).await?;
                Ok(LocalNet::attach(&rpc_url, &ws_url, payer, options).await?)
            }
        }
    }
}

/// Runs the demo; `out` is where the Mandelbrot PNG goes, `render_out` the ray-traced one.
pub async fn run(out: PathBuf, render_out: PathBuf, target: Target) -> Result<()> {
    let start = Instant::now();
    let net = target.connect(LocalNetOptions::default(), start).await?;
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
        let p = start_provider(&net, dir.path(), name, |_| {}).await?;
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
    stories.push(crate::demo_workloads::classifier(&client, start, &explorer).await?);
    let tiles =
        crate::demo_workloads::render(&net.market, &client, &providers, start, &render_out).await?;

    // Stop the daemons.
    for p in providers.iter_mut() {
        p.stop().await?;
    }
    settle_up(&net, &client, &stories, &tiles, &providers, start).await?;
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
    name: &str,
    tweak: impl FnOnce(&mut Settings),
) -> Result<Provider> {
    let wallet = net.funded_wallet(STAKE).await?;
    let c = net.client(wallet.insecure_clone()).await?;
    c.register_provider(
        STAKE,
        compute_market_localnet::CPU_PROVIDER,
        compute_market_localnet::CPU_PROVIDER_CAPACITY,
    )
    .await?;
    let key_path = dir.join(format!("{name}.json"));
    std::fs::write(
        &key_path,
        serde_json::to_string(&wallet.to_bytes().to_vec())?,
    )?;
    let blobs = url::Url::parse(&net.blob_store_uri())
        .ok()
        .and_then(|url| url.to_file_path().ok())
        .context("the node's blob store is not a local directory")?;
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
        // A local trial: the best hardware adapter, or the software one on a machine without a
        // GPU.
        gpu: GpuSettings {
            allow_cpu: true,
            ..GpuSettings::default()
        },
        // The demo's clients upload to the node's blob directory: allow file:// there, and
        // only there.
        fetch: FetchSettings {
            schemes: vec![Scheme::Https, Scheme::S3, Scheme::File],
            file_roots: vec![blobs],
            ..FetchSettings::default()
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
        name: name.to_string(),
        wallet,
        stop: Some(stop),
        task,
    })
}

impl Provider {
    /// The name the demo gave it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The provider's owner wallet.
    pub fn wallet(&self) -> &Keypair {
        &self.wallet
    }

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
pub async fn follow(
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

/// Compute units of every transaction that touched the job, if the node keeps history. Read at
/// `confirmed` commitment: the RPC default, `finalized`, lags ~32 slots on a validator (it would
/// find no transaction yet), while Surfpool finalizes at once.
async fn compute_units(client: &Client, job: &Pubkey) -> Option<u64> {
    use solana_rpc_client::rpc_client::GetConfirmedSignaturesForAddress2Config;
    use solana_rpc_client_api::config::RpcTransactionConfig;
    let confirmed = Some(solana_commitment_config::CommitmentConfig::confirmed());
    let signatures = client
        .rpc()
        .get_signatures_for_address_with_config(
            job,
            GetConfirmedSignaturesForAddress2Config {
                commitment: confirmed,
                ..Default::default()
            },
        )
        .await
        .ok()?;
    if signatures.is_empty() {
        return None;
    }
    let mut total = 0;
    for s in signatures {
        let sig = s.signature.parse().ok()?;
        let config = RpcTransactionConfig {
            encoding: Some(solana_transaction_status_client_types::UiTransactionEncoding::Base64),
            commitment: confirmed,
            max_supported_transaction_version: Some(0),
        };
        let tx = client
            .rpc()
            .get_transaction_with_config(&sig, config)
            .await
            .ok()?;
        let cu: Option<u64> = tx.transaction.meta?.compute_units_consumed.into();
        total += cu?;
    }
    Some(total)
}

/// Everyone withdraws what settlement left for them (settlement itself only moves tokens between
/// accounts the program owns): the client closes its jobs (refunds and rent), each provider
/// withdraws its earnings, and the providers' fees are swept to the treasury.
async fn settle_up(
    net: &LocalNet,
    client: &Client,
    stories: &[Story],
    tiles: &[Pubkey],
    providers: &[Provider],
    start: std::time::Instant,
) -> Result<()> {
    for address in stories.iter().map(|s| &s.address).chain(tiles) {
        client.close(address).await?;
    }
    for p in providers {
        let owner = net.client(p.wallet.insecure_clone()).await?;
        let earned = owner.provider().await?.earnings;
        if earned > 0 {
            owner.withdraw_earnings().await?;
        }
        client.sweep(&owner.provider_address()).await?;
    }
    println!(
        "  {} jobs closed, earnings withdrawn, fees swept to the treasury",
        elapsed(start)
    );
    Ok(())
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
