//! `compute-market`: the command line for Compute Market.
//!
//! Follows the Solana CLI's conventions: `--url` takes `localnet`, `devnet`, `mainnet-beta` or a
//! URL; the wallet is `--keypair` or the one in `~/.config/solana/cli/config.yml`. `localnet`
//! means the node `compute-market localnet` runs (its addresses are kept in
//! `~/.config/compute-market/localnet.json`), else `http://127.0.0.1:8899`.

mod bench;
mod bench_render;
mod config;
mod demo;
mod demo_workloads;
mod deploy;
mod job_run;
mod jobfile;
mod load;
mod market;
mod output;
mod shards;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use compute_market_sdk::{
    Capabilities, Capacity, Client, Deadlines, DeviceClass, JobFilter, JobSpec, JobStatus,
    ProviderStatus, ProviderUpdateArgs, Pubkey,
};

use config::Resolved;

#[derive(Parser)]
#[command(
    name = "compute-market",
    version,
    about = "Compute Market: GPU jobs on Solana"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Args, Clone, Debug)]
pub struct Global {
    /// Cluster: localnet, devnet, mainnet-beta, testnet, or an RPC URL.
    #[arg(long, short = 'u', global = true)]
    pub url: Option<String>,
    /// Websocket URL (default: derived from the RPC URL).
    #[arg(long, global = true)]
    pub ws_url: Option<String>,
    /// Wallet keypair file (Solana CLI JSON format).
    #[arg(long, short = 'k', global = true)]
    pub keypair: Option<PathBuf>,
    /// Market address (default on localnet: the local market).
    #[arg(long, global = true)]
    pub market: Option<String>,
    /// Where to upload blobs: file:///dir, http(s)://host/base or s3://bucket/prefix.
    #[arg(long, global = true)]
    pub store: Option<String>,
    /// Priority fee, in micro-lamports per compute unit.
    #[arg(long, global = true)]
    pub priority_fee: Option<u64>,
}

#[derive(Subcommand)]
enum Command {
    /// Jobs: submit, watch, inspect, fetch results.
    #[command(subcommand)]
    Job(JobCommand),
    /// Provider operations for this wallet.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Market information.
    #[command(subcommand)]
    Market(MarketCommand),
    /// The whole marketplace on this machine: local node, three provider daemons on the local
    /// GPU, an exact job with three replicas, a Mandelbrot image job, the int8 digits classifier
    /// with three replicas and a ray-traced image split across the three daemons, verified results.
    /// With --url, on that node instead (deploying the program there if missing; wallets are
    /// funded from --keypair, or from an airdrop to a new payer).
    Demo {
        /// Where to write the Mandelbrot image.
        #[arg(long, default_value = "mandelbrot.png")]
        out: PathBuf,
        /// Where to write the ray-traced image.
        #[arg(long, default_value = "render.png")]
        render_out: PathBuf,
    },
    /// The ray-traced image in three tiles on the local node, rendered by one provider and by
    /// three (see BENCHMARKS.md).
    #[command(hide = true)]
    BenchRender {
        /// Renders per provider count.
        #[arg(long, default_value_t = 5)]
        render_runs: usize,
    },
    /// Provider pickup latency and throughput on the local node, or with --url on that node
    /// (see BENCHMARKS.md).
    #[command(hide = true)]
    BenchPickup {
        /// Jobs per measurement.
        #[arg(long, default_value_t = 50)]
        jobs: usize,
        /// Measure with the resync only (no websocket).
        #[arg(long)]
        no_websocket: bool,
        /// Milliseconds per slot of the embedded node (0: a block only when a transaction
        /// arrives). Ignored with --url.
        #[arg(long, default_value_t = compute_market_localnet::DEFAULT_SLOT_TIME_MS)]
        slot_time: u64,
        /// Then post this many jobs the daemon must skip and count its RPC requests over a
        /// minute with them open.
        #[arg(long, default_value_t = 0)]
        idle_jobs: usize,
    },
    /// A fleet of provider daemons under load on the embedded node: jobs from several clients
    /// at once, a share of them hostile; pickup, throughput, RPC use and memory (see
    /// BENCHMARKS.md). Fails unless every honest job completed with the right result and no
    /// provider was slashed.
    #[command(hide = true)]
    LoadTest {
        /// Provider daemons, each its own wallet and journal, all in this process.
        #[arg(long, default_value_t = 8)]
        daemons: usize,
        /// Jobs posted in the load phase.
        #[arg(long, default_value_t = 1000)]
        jobs: usize,
        /// Client wallets posting them at once.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Percent of the jobs that are hostile: shaders on a tarpit, at refused URIs, and
        /// infinite loops.
        #[arg(long, default_value_t = 10)]
        hostile_percent: u32,
        /// Percent of all jobs that are infinite loops (part of the hostile share; at least one
        /// when any job is hostile and this is not 0). A daemon claims each at most once, runs
        /// it to --job-timeout and pays its give-back cost.
        #[arg(long, default_value_t = 1)]
        loop_percent: u32,
        /// Milliseconds per slot of the embedded node (0: a block only when a transaction
        /// arrives).
        #[arg(long, default_value_t = compute_market_localnet::DEFAULT_SLOT_TIME_MS)]
        slot_time: u64,
        /// The daemons' job_timeout, in seconds: short, so that an infinite loop is killed and
        /// given back within seconds instead of holding a worker for the default minute.
        #[arg(long, default_value_t = 5)]
        job_timeout: u64,
        /// The daemons' max_concurrent_jobs.
        #[arg(long, default_value_t = 8)]
        max_concurrent_jobs: usize,
        /// Posts each client has in flight at once.
        #[arg(long, default_value_t = 8)]
        posts_in_flight: usize,
        /// After the load, pad the market with jobs nobody may take to this many open jobs,
        /// then count the idle requests again and send the probes (0: no padding).
        #[arg(long, default_value_t = 1000)]
        open_jobs: usize,
        /// Seconds of each idle count of the daemons' requests.
        #[arg(long, default_value_t = 60)]
        idle_seconds: u64,
        /// Honest jobs then posted one at a time, to measure pickup by the idle fleet.
        #[arg(long, default_value_t = 20)]
        probes: usize,
        /// Stop waiting when no honest job completed for this many seconds.
        #[arg(long, default_value_t = 300)]
        stall_timeout: u64,
    },
    /// Run a local node (embedded Surfpool) with the program and a market, until Ctrl-C.
    Localnet {
        /// Give this wallet SOL and this many payment tokens (base units).
        #[arg(long, default_value_t = 1_000_000_000)]
        fund: u64,
        /// Milliseconds per slot: the node makes a block on this clock, like a cluster, so
        /// chain time follows the wall clock. 0: a block only when a transaction arrives.
        #[arg(long, default_value_t = compute_market_localnet::DEFAULT_SLOT_TIME_MS)]
        slot_time: u64,
    },
}

#[derive(Subcommand)]
enum JobCommand {
    /// Validate, upload and post a job (or, with --shards, one job per shard); then follow it
    /// until it settles.
    Submit(SubmitArgs),
    /// Run a job on this machine's adapter, as a provider would, without the chain: result
    /// hash, timings per pass, determinism class, and the output.
    Run(job_run::RunArgs),
    /// One line: the job's status and progress.
    Status {
        /// Job address.
        job: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Every field of a job, with an explorer link.
    Inspect {
        /// Job address.
        job: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Jobs of the market (filters combine).
    List {
        /// Only this wallet's jobs.
        #[arg(long)]
        mine: bool,
        /// Only jobs in this status (open, running, completed, failed, expired).
        #[arg(long)]
        status: Option<String>,
        /// Only jobs claimed by this provider owner.
        #[arg(long)]
        provider: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Download the result, verify it against the on-chain hash, write it to a file.
    Result {
        /// Job address.
        job: String,
        /// Output file.
        #[arg(long, short)]
        out: PathBuf,
        /// Write a PNG of a WIDTHxHEIGHT u32-per-pixel output (e.g. 256x256): gray values, or
        /// colours with --rgba.
        #[arg(long)]
        image: Option<String>,
        /// The pixels are colours (`r | g << 8 | b << 16 | a << 24`).
        #[arg(long, requires = "image")]
        rgba: bool,
    },
    /// Cancel an unclaimed job: full refund to this wallet's token account.
    Cancel {
        /// Job address.
        job: String,
    },
    /// Close a settled job: withdraw its refund (what settlement did not pay out) and most of
    /// its rent.
    Close {
        /// Job address.
        job: String,
        /// Token account receiving the refund (default: this wallet's associated token account).
        #[arg(long)]
        to: Option<String>,
    },
    /// Give back a job this wallet's provider claimed but cannot run (before the commit
    /// deadline; costs the job's give-back cost, less than a slash).
    GiveBack {
        /// Job address.
        job: String,
    },
    /// Settle a replicated job after its reveals (anyone may).
    Finalize {
        /// Job address.
        job: String,
    },
    /// Expire a job stuck past a deadline (anyone may).
    Expire {
        /// Job address.
        job: String,
    },
}

#[derive(Args)]
struct SubmitArgs {
    #[command(flatten)]
    source: jobfile::JobSource,
    /// Split the job into this many shards, each posted as a job of its own (with its own
    /// replicas) and verified on its own: a one-pass job's X workgroups are split into ranges,
    /// each shard's first workgroup goes in params word --shard-word, and the outputs are laid
    /// end to end into --out.
    #[arg(long, default_value_t = 1)]
    shards: u32,
    /// The params word (0..8) that tells each shard its first X workgroup.
    #[arg(long, default_value_t = 7)]
    shard_word: usize,
    /// Where a sharded job's assembled output goes.
    #[arg(long, default_value = "result.bin")]
    out: PathBuf,
    /// Reward per agreeing replica, in base units.
    #[arg(long)]
    reward: u64,
    /// Replicas.
    #[arg(long, default_value_t = 1)]
    replicas: u8,
    /// Agreeing replicas needed (default: 1 for one replica, else a majority).
    #[arg(long)]
    quorum: Option<u8>,
    /// Claim window in seconds (default: the market's).
    #[arg(long)]
    claim_window: Option<u64>,
    /// Commit window in seconds.
    #[arg(long)]
    commit_window: Option<u64>,
    /// Reveal window in seconds.
    #[arg(long)]
    reveal_window: Option<u64>,
    /// Draw the replicas stake-weighted among the providers that apply during the claim window,
    /// instead of first come, first served.
    #[arg(long)]
    drawn: bool,
    /// Only these providers (owner wallets, comma-separated, at most 8) may claim or apply.
    #[arg(long, value_delimiter = ',')]
    allow: Vec<String>,
    /// Only providers with at least this many paid replicas on record may claim or apply.
    #[arg(long, default_value_t = 0)]
    min_completed_jobs: u32,
    /// Post and return without waiting.
    #[arg(long)]
    no_wait: bool,
    /// Seconds to wait for settlement.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

#[derive(Subcommand)]
enum ProviderCommand {
    /// Register this wallet as a provider.
    Register {
        /// Initial stake, in base units.
        #[arg(long)]
        stake: u64,
        /// Adapter class: discrete, integrated, virtual, cpu, other.
        #[arg(long, default_value = "discrete")]
        device_class: String,
        /// Device memory in MiB.
        #[arg(long, default_value_t = 0)]
        memory_mib: u32,
        /// Max invocations per workgroup.
        #[arg(long, default_value_t = 256)]
        max_workgroup_invocations: u32,
        /// Max storage buffer binding in bytes.
        #[arg(long, default_value_t = 128 << 20)]
        max_storage_buffer_bytes: u64,
        /// Measured bandwidth (MB/s), from `provider-daemon check`.
        #[arg(long, default_value_t = 0)]
        bandwidth_mbps: u32,
        /// Measured integer throughput (Mops/s), from `provider-daemon check`.
        #[arg(long, default_value_t = 0)]
        int_mops: u32,
        /// PCI vendor id.
        #[arg(long, default_value_t = 0)]
        vendor_id: u32,
        /// Devices (GPUs) served; the capabilities above hold for every one.
        #[arg(long, default_value_t = 1)]
        devices: u16,
        /// Jobs run at once, across the devices.
        #[arg(long, default_value_t = 1)]
        max_concurrent_jobs: u16,
    },
    /// Add stake.
    Stake {
        /// Amount in base units.
        amount: u64,
    },
    /// Start unbonding stake.
    Unstake {
        /// Amount in base units.
        amount: u64,
    },
    /// Withdraw unbonded stake.
    Withdraw,
    /// Withdraw the rewards settlement credited to this wallet's provider.
    WithdrawEarnings,
    /// Sweep a provider's dues (anyone may): fees to the market treasury, slashed collateral
    /// burnt.
    Sweep {
        /// Owner wallet (default: this wallet).
        owner: Option<String>,
    },
    /// Stop claiming new jobs.
    Pause,
    /// Claim new jobs again.
    Resume,
    /// Show a provider (default: this wallet's).
    Show {
        /// Owner wallet.
        owner: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum MarketCommand {
    /// Show the market's parameters and counters.
    Show {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Create this wallet's market of a payment mint with parameters from a file (this wallet
    /// becomes its authority; the market's address names it); see migrations/market.example.toml.
    Init {
        /// Market parameters (TOML).
        #[arg(long)]
        params: PathBuf,
        /// The payment mint (classic SPL Token).
        #[arg(long)]
        mint: String,
    },
    /// Propose a new market authority (it takes over once it runs `accept-authority`).
    TransferAuthority {
        /// The proposed authority's wallet.
        new_authority: String,
    },
    /// Take over the market as its proposed authority.
    AcceptAuthority,
    /// Withdraw collected fees from the market's treasury (authority only).
    WithdrawFees {
        /// Amount in base units (default: everything in the treasury).
        #[arg(long)]
        amount: Option<u64>,
        /// Token account receiving them (default: this wallet's associated token account).
        #[arg(long)]
        to: Option<String>,
    },
    /// Deploy the program (upgradeable BPF loader; this wallet becomes its upgrade authority)
    /// and publish its IDL in Anchor's IDL account. Safe to re-run: identical parts are kept.
    Deploy {
        /// The program binary (default: target/deploy/compute_market.so).
        #[arg(long)]
        program: Option<PathBuf>,
        /// The program's keypair (default: migrations/keys/compute_market-keypair.json).
        #[arg(long)]
        program_keypair: Option<PathBuf>,
        /// The IDL (default: idl/compute_market.json).
        #[arg(long)]
        idl: Option<PathBuf>,
        /// Only print the equivalent Solana CLI / Anchor commands.
        #[arg(long)]
        print_only: bool,
    },
}

async fn market_deploy(cfg: &Resolved, inputs: deploy::Inputs) -> Result<()> {
    let client = cfg.client_for(Pubkey::default()).await?;
    println!(
        "deploying {} as {} to {}",
        inputs.program_so.display(),
        compute_market_sdk::pda::PROGRAM_ID,
        cfg.rpc_url
    );
    let start = std::time::Instant::now();
    let spinner = output::spinner("checking the cluster");
    let report = deploy::run(&client, &inputs, &|done, total| {
        spinner.set_message(format!("writing the program: {done}/{total} transactions"));
    })
    .await;
    spinner.finish_and_clear();
    let report = report?;
    let program = compute_market_sdk::pda::PROGRAM_ID;
    println!(
        "program     {program}  {} [{:.1} s]",
        report.program,
        start.elapsed().as_secs_f64()
    );
    println!(
        "authority   {}",
        report
            .authority
            .map_or("none (immutable)".to_string(), |a| a.to_string())
    );
    println!("explorer    {}", cfg.explorer_address(&program));
    let idl = match report.idl {
        compute_market_sdk::idl::Published::Created { transactions } => {
            format!("published ({transactions} transactions)")
        }
        compute_market_sdk::idl::Published::Replaced { transactions } => {
            format!("replaced ({transactions} transactions)")
        }
        compute_market_sdk::idl::Published::UpToDate => "already published, identical".into(),
    };
    println!("idl         {}  {idl}", compute_market_sdk::idl::address());
    println!(
        "next: compute-market --url {} market init --params migrations/market.example.toml --mint <MINT>",
        cfg.rpc_url
    );
    Ok(())
}

fn print_deploy(cfg: &Resolved) {
    let id = compute_market_sdk::pda::PROGRAM_ID;
    println!("# Build the program (no Solana platform-tools needed):");
    println!("scripts/build-sbf.sh");
    println!("# Deploy it with the Solana CLI (program id {id}, keypair in migrations/keys/):");
    println!(
        "solana program deploy --url {} --program-id migrations/keys/compute_market-keypair.json target/deploy/compute_market.so",
        cfg.rpc_url
    );
    println!(
        "# or, with Anchor installed: anchor deploy --provider.cluster {}",
        cfg.rpc_url
    );
    println!("# Publish the IDL in Anchor's IDL account (what explorers read):");
    println!(
        "anchor idl init --provider.cluster {} --filepath idl/compute_market.json {id}",
        cfg.rpc_url
    );
    println!("# Then create the market of your payment mint:");
    println!(
        "compute-market --url {} market init --params migrations/market.example.toml --mint <MINT>",
        cfg.rpc_url
    );
}

/// Errors only, except in the demo, where the daemons' own progress is worth seeing.
fn default_log(cli: &Cli) -> &'static str {
    match cli.command {
        Command::Demo { .. } => "warn,provider_daemon::jobs=info",
        Command::BenchPickup { .. } | Command::LoadTest { .. } | Command::BenchRender { .. } => {
            "warn"
        }
        _ => "error",
    }
}

pub(crate) fn parse_pubkey(what: &str, s: &str) -> Result<Pubkey> {
    s.parse()
        .with_context(|| format!("{what} {s:?} is not a valid base58 address"))
}

fn parse_status(s: &str) -> Result<JobStatus> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "open" => JobStatus::Open,
        "running" => JobStatus::Running,
        "completed" => JobStatus::Completed,
        "failed" => JobStatus::Failed,
        "expired" => JobStatus::Expired,
        _ => bail!("--status {s:?}: expected open, running, completed, failed or expired"),
    })
}

fn parse_device_class(s: &str) -> Result<DeviceClass> {
    Ok(match s {
        "discrete" => DeviceClass::DiscreteGpu,
        "integrated" => DeviceClass::IntegratedGpu,
        "virtual" => DeviceClass::VirtualGpu,
        "cpu" => DeviceClass::Cpu,
        "other" => DeviceClass::Other,
        _ => bail!("--device-class {s:?}: expected discrete, integrated, virtual, cpu or other"),
    })
}

async fn submit(cfg: &Resolved, client: &Client, args: SubmitArgs) -> Result<()> {
    // Everything is validated before any RPC or payment.
    let descriptor = args.source.descriptor()?;
    let quorum = args.quorum.unwrap_or(args.replicas / 2 + 1);
    let mut builder = JobSpec::from_descriptor(&descriptor)
        .reward(args.reward)
        .replicas(args.replicas, quorum);
    let allowlist = args
        .allow
        .iter()
        .map(|owner| {
            let owner = parse_pubkey("--allow", owner)?;
            Ok(compute_market_sdk::pda::provider(
                &client.market_address(),
                &owner,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    builder = builder.claim_rules(compute_market_sdk::ClaimRules {
        allowlist,
        min_completed_jobs: args.min_completed_jobs,
        selection: if args.drawn {
            compute_market_sdk::ClaimMode::Drawn
        } else {
            compute_market_sdk::ClaimMode::FirstCome
        },
        ..Default::default()
    });
    if args.claim_window.is_some() || args.commit_window.is_some() || args.reveal_window.is_some() {
        let market = client.market().await?;
        let secs = |v: Option<u64>, default: i64| {
            Duration::from_secs(v.unwrap_or(u64::try_from(default).unwrap_or(60)))
        };
        builder = builder.deadlines(Deadlines::Windows {
            claim: secs(args.claim_window, market.claim_window),
            commit: secs(args.commit_window, market.commit_window),
            reveal: secs(args.reveal_window, market.reveal_window),
        });
    }
    let job = builder
        .build()
        .with_context(|| format!("{} was not submitted", args.source.shader.display()))?;
    for warning in &job.warnings {
        eprintln!("warning: {warning}");
    }
    if args.shards > 1 {
        let shards =
            compute_market_sdk::shard::split_by_workgroups(&job, args.shards, args.shard_word)
                .with_context(|| format!("{} was not submitted", args.source.shader.display()))?;
        return shards::submit(
            cfg,
            client,
            shards,
            (!args.no_wait).then_some(Duration::from_secs(args.timeout)),
            &args.out,
        )
        .await;
    }
    let handle = client.submit(&job).await?;
    println!("job {}", handle.address);
    if let Some(sig) = &handle.signature {
        println!("posted: {}", cfg.explorer_tx(sig));
    }
    println!("inspect: {}", cfg.explorer_address(&handle.address));
    if args.no_wait {
        return Ok(());
    }
    let spinner = output::spinner("waiting for providers");
    let settled = handle
        .wait(Duration::from_secs(args.timeout), |j| {
            spinner.set_message(output::progress_line(j));
        })
        .await;
    spinner.finish_and_clear();
    let settled = settled?;
    println!("{}", output::progress_line(&settled));
    if settled.status() == JobStatus::Completed {
        println!("result hash {}", hex::encode(settled.result_hash));
        println!(
            "fetch it with: compute-market job result {} --out result.bin",
            handle.address
        );
    }
    Ok(())
}

/// Where `demo` and `bench-pickup` run: `--url`'s node (funded from `--keypair`, or by an
/// airdrop), else an embedded one.
fn target(global: &Global) -> Result<demo::Target> {
    if global.url.is_none() {
        return Ok(demo::Target::Embedded);
    }
    let cfg = Resolved::from_global(global)?;
    let payer = match &global.keypair {
        Some(path) => Some(Box::new(config::read_keypair(path)?)),
        None => None,
    };
    Ok(demo::Target::External {
        rpc_url: cfg.rpc_url.clone(),
        ws_url: cfg.ws_url()?,
        payer,
    })
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Job(JobCommand::Run(args)) => {
            // No chain: the job runs on this machine, through blocking worker processes.
            return tokio::task::spawn_blocking(move || job_run::run(args)).await?;
        }
        Command::Localnet { fund, slot_time } => {
            return config::run_localnet(&cli.global, fund, slot_time).await
        }
        Command::BenchRender { render_runs } => {
            return bench_render::run(render_runs.max(1)).await;
        }
        Command::Demo { out, render_out } => {
            return demo::run(out, render_out, target(&cli.global)?).await;
        }
        Command::BenchPickup {
            jobs,
            no_websocket,
            slot_time,
            idle_jobs,
        } => {
            let options = bench::PickupOptions {
                jobs,
                websocket: !no_websocket,
                slot_time_ms: (slot_time > 0).then_some(slot_time),
                idle_jobs,
            };
            return bench::pickup(options, target(&cli.global)?).await;
        }
        Command::LoadTest {
            daemons,
            jobs,
            clients,
            hostile_percent,
            loop_percent,
            slot_time,
            job_timeout,
            max_concurrent_jobs,
            posts_in_flight,
            open_jobs,
            idle_seconds,
            probes,
            stall_timeout,
        } => {
            if cli.global.url.is_some() {
                bail!("load-test runs on its own embedded node: drop --url");
            }
            return load::run(load::LoadOptions {
                daemons,
                jobs,
                clients,
                hostile_percent,
                loop_percent,
                slot_time_ms: (slot_time > 0).then_some(slot_time),
                job_timeout: Duration::from_secs(job_timeout),
                max_concurrent_jobs,
                posts_in_flight,
                open_jobs,
                idle: Duration::from_secs(idle_seconds),
                probes,
                stall_timeout: Duration::from_secs(stall_timeout),
            })
            .await;
        }
        _ => {}
    }
    let cfg = Resolved::from_global(&cli.global)?;
    match &cli.command {
        Command::Market(MarketCommand::Init { params, mint }) => {
            return market::init(&cfg, params, mint).await
        }
        Command::Market(MarketCommand::TransferAuthority { new_authority }) => {
            return market::propose_authority(&cfg, new_authority).await
        }
        Command::Market(MarketCommand::AcceptAuthority) => {
            return market::accept_authority(&cfg).await
        }
        Command::Market(MarketCommand::WithdrawFees { amount, to }) => {
            return market::withdraw_fees(&cfg, *amount, to.as_deref()).await
        }
        Command::Market(MarketCommand::Deploy {
            program,
            program_keypair,
            idl,
            print_only,
        }) => {
            if *print_only {
                print_deploy(&cfg);
                return Ok(());
            }
            let defaults = deploy::Inputs::default();
            let inputs = deploy::Inputs {
                program_so: program.clone().unwrap_or(defaults.program_so),
                program_keypair: program_keypair.clone().unwrap_or(defaults.program_keypair),
                idl: idl.clone().unwrap_or(defaults.idl),
            };
            return market_deploy(&cfg, inputs).await;
        }
        _ => {}
    }
    let client = cfg.client().await?;
    match cli.command {
        Command::Localnet { .. }
        | Command::BenchRender { .. }
        | Command::Demo { .. }
        | Command::BenchPickup { .. }
        | Command::LoadTest { .. } => {
            unreachable!("handled above")
        }
        Command::Job(cmd) => match cmd {
            JobCommand::Run(_) => unreachable!("handled above"),
            JobCommand::Submit(args) => submit(&cfg, &client, args).await?,
            JobCommand::Status { job, json } => {
                let address = parse_pubkey("job", &job)?;
                let j = client.job(&address).await?;
                if json {
                    println!("{}", output::job_json(&address, &j, &cfg));
                } else {
                    println!("{}", output::progress_line(&j));
                }
            }
            JobCommand::Inspect { job, json } => {
                let address = parse_pubkey("job", &job)?;
                let j = client.job(&address).await?;
                if json {
                    println!("{}", output::job_json(&address, &j, &cfg));
                } else {
                    print!("{}", output::job_text(&address, &j, &cfg));
                }
            }
            JobCommand::List {
                mine,
                status,
                provider,
                json,
            } => {
                let filter = JobFilter {
                    market: None,
                    client: mine.then(|| client.wallet()),
                    provider: match provider {
                        Some(owner) => Some(compute_market_sdk::pda::provider(
                            &client.market_address(),
                            &parse_pubkey("provider owner", &owner)?,
                        )),
                        None => None,
                    },
                    status: status.as_deref().map(parse_status).transpose()?,
                };
                let jobs = client.list(filter).await?;
                if json {
                    let list: Vec<_> = jobs
                        .iter()
                        .map(|(a, j)| output::job_value(a, j, &cfg))
                        .collect();
                    println!("{}", serde_json::Value::Array(list));
                } else if jobs.is_empty() {
                    println!("no jobs");
                } else {
                    for (address, job) in &jobs {
                        println!("{address}  {}", output::progress_line(job));
                    }
                }
            }
            JobCommand::Result {
                job,
                out,
                image,
                rgba,
            } => {
                let address = parse_pubkey("job", &job)?;
                let bytes = client.handle(address).result().await?;
                let (data, what) = match image {
                    Some(dims) => (jobfile::png(&bytes, &dims, rgba)?, "PNG"),
                    None => (bytes, "output"),
                };
                std::fs::write(&out, &data)
                    .with_context(|| format!("cannot write {}", out.display()))?;
                println!(
                    "verified against the on-chain result hash; {what} written to {} ({} bytes)",
                    out.display(),
                    data.len()
                );
            }
            JobCommand::Cancel { job } => {
                let sig = client.cancel(&parse_pubkey("job", &job)?).await?;
                println!("cancelled, escrow refunded: {}", cfg.explorer_tx(&sig));
            }
            JobCommand::Close { job, to } => {
                let address = parse_pubkey("job", &job)?;
                let (j, m) = (client.job(&address).await?, client.market().await?);
                let refund = client.token_balance(&j.escrow).await?;
                let to = to.as_deref().map(|t| parse_pubkey("--to", t)).transpose()?;
                let sig = client.close_to(&address, &j, &m, to).await?;
                println!(
                    "closed: refund of {refund} withdrawn, rent returned: {}",
                    cfg.explorer_tx(&sig)
                );
            }
            JobCommand::GiveBack { job } => {
                let sig = client.give_back(&parse_pubkey("job", &job)?).await?;
                println!("given back: {}", cfg.explorer_tx(&sig));
            }
            JobCommand::Finalize { job } => {
                let sig = client.finalize(&parse_pubkey("job", &job)?).await?;
                println!("finalized: {}", cfg.explorer_tx(&sig));
            }
            JobCommand::Expire { job } => {
                let sig = client.expire(&parse_pubkey("job", &job)?).await?;
                println!("expired: {}", cfg.explorer_tx(&sig));
            }
        },
        Command::Provider(cmd) => match cmd {
            ProviderCommand::Register {
                stake,
                device_class,
                memory_mib,
                max_workgroup_invocations,
                max_storage_buffer_bytes,
                bandwidth_mbps,
                int_mops,
                vendor_id,
                devices,
                max_concurrent_jobs,
            } => {
                let capabilities = Capabilities {
                    vendor_id,
                    device_class: parse_device_class(&device_class)?,
                    memory_mib,
                    max_workgroup_invocations,
                    max_storage_buffer_bytes,
                    bandwidth_mbps,
                    int_mops,
                };
                let capacity = Capacity {
                    devices,
                    max_concurrent_jobs,
                };
                let sig = client
                    .register_provider(stake, capabilities, capacity)
                    .await?;
                println!(
                    "registered provider {} with {stake} staked: {}",
                    client.provider_address(),
                    cfg.explorer_tx(&sig)
                );
            }
            ProviderCommand::Stake { amount } => {
                let sig = client.stake(amount).await?;
                println!("staked {amount}: {}", cfg.explorer_tx(&sig));
            }
            ProviderCommand::Unstake { amount } => {
                let sig = client.unstake(amount).await?;
                let p = client.provider().await?;
                println!(
                    "unbonding {} until unix time {}: {}",
                    p.unbonding,
                    p.unbonding_ends_at,
                    cfg.explorer_tx(&sig)
                );
            }
            ProviderCommand::Withdraw => {
                let sig = client.withdraw().await?;
                println!("withdrawn: {}", cfg.explorer_tx(&sig));
            }
            ProviderCommand::WithdrawEarnings => {
                let (amount, sig) = client.withdraw_earnings().await?;
                println!("withdrew {amount} in earnings: {}", cfg.explorer_tx(&sig));
            }
            ProviderCommand::Sweep { owner } => {
                let owner = match owner {
                    Some(o) => parse_pubkey("owner", &o)?,
                    None => client.wallet(),
                };
                let address = compute_market_sdk::pda::provider(&client.market_address(), &owner);
                let sig = client.sweep(&address).await?;
                println!("swept {address}: {}", cfg.explorer_tx(&sig));
            }
            ProviderCommand::Pause | ProviderCommand::Resume => {
                let status = if matches!(cmd, ProviderCommand::Pause) {
                    ProviderStatus::Paused
                } else {
                    ProviderStatus::Active
                };
                let sig = client
                    .update_provider(ProviderUpdateArgs {
                        status: Some(status),
                        ..ProviderUpdateArgs::default()
                    })
                    .await?;
                println!("provider {status:?}: {}", cfg.explorer_tx(&sig));
            }
            ProviderCommand::Show { owner, json } => {
                let owner = match owner {
                    Some(o) => parse_pubkey("owner", &o)?,
                    None => client.wallet(),
                };
                let address = compute_market_sdk::pda::provider(&client.market_address(), &owner);
                let p =
                    compute_market_sdk::accounts::fetch_provider(client.rpc(), &address, 0).await?;
                output::print_provider(&address, &p, json);
            }
        },
        Command::Market(MarketCommand::Show { json }) => {
            let m = client.market().await?;
            output::print_market(&client.market_address(), &m, json);
        }
        Command::Market(
            MarketCommand::Init { .. }
            | MarketCommand::Deploy { .. }
            | MarketCommand::TransferAuthority { .. }
            | MarketCommand::AcceptAuthority
            | MarketCommand::WithdrawFees { .. },
        ) => {
            unreachable!("handled above")
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log(&cli))),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
