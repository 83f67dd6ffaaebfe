//! `provider-daemon`: the Compute Market provider. `check` is what a new provider runs first;
//! `init` registers (stake + measured capabilities); `run` serves jobs until SIGTERM/Ctrl-C;
//! `status` shows stake, jobs in flight and earnings; `bench` measures the executor. GPU work
//! runs in `compute-market-worker` processes (the executor crate's binary), which must sit next
//! to this one (or be named by `COMPUTE_MARKET_WORKER_EXE`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use provider_daemon::gpu::{self, bench, context, AdapterChoice, Executor, GpuConfig, GpuContext};
use provider_daemon::publish;
use provider_daemon::settings::Settings;

#[derive(Parser)]
#[command(
    name = "provider-daemon",
    version,
    about = "Compute Market provider daemon"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List adapters, select one, run the self-test kernels against CPU references and print
    /// benchmark figures: what a new provider runs first and what the daemon publishes.
    Check {
        #[command(flatten)]
        gpu: GpuArgs,
    },
    /// Benchmark the executor: memory bandwidth, integer throughput, and overhead of the full
    /// executor path against a bare wgpu dispatch (medians; markdown for BENCHMARKS.md).
    Bench {
        #[command(flatten)]
        gpu: GpuArgs,
        /// Runs per measurement.
        #[arg(long, default_value_t = 7)]
        runs: usize,
    },
    /// Register this wallet as a provider: stake, and publish the capabilities `check` measures
    /// (updates them if already registered).
    Init {
        /// Settings file (TOML; see config.example.toml).
        #[arg(long, short)]
        config: PathBuf,
        /// Initial stake, in base units of the market's mint.
        #[arg(long)]
        stake: u64,
    },
    /// Serve jobs until SIGTERM or Ctrl-C.
    Run {
        /// Settings file (TOML; see config.example.toml).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Stake, jobs in flight and earnings of this provider.
    Status {
        /// Settings file (TOML; see config.example.toml).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// TEST-ONLY: report, as JSON on stdout, what this process can see and reach (run it in the
    /// sandbox to check the sandbox).
    #[cfg(feature = "sandbox-probe")]
    #[command(hide = true)]
    SandboxProbe {
        /// A TCP address to try to connect to.
        #[arg(long)]
        connect: std::net::SocketAddr,
    },
}

#[derive(Args, Clone)]
struct GpuArgs {
    /// Adapter: `auto` (best hardware adapter), an index from `check`, or part of its name.
    #[arg(long, env = "PROVIDER_ADAPTER", default_value = "auto")]
    adapter: String,
    /// Allow a CPU (software) adapter such as lavapipe: without it `auto` finds none on a
    /// machine without a GPU, and one chosen by index or name is refused.
    #[arg(long, env = "PROVIDER_ALLOW_CPU")]
    allow_cpu: bool,
}

impl GpuArgs {
    fn config(&self) -> GpuConfig {
        GpuConfig {
            adapter: self.adapter.parse().unwrap_or(AdapterChoice::Auto),
            allow_cpu: self.allow_cpu,
        }
    }
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Logs go to stderr: stdout is for the commands' reports.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        #[cfg(feature = "sandbox-probe")]
        Command::SandboxProbe { connect } => sandbox_probe(connect),
        Command::Check { gpu } => {
            init_logging("info");
            check(&gpu.config())
        }
        Command::Bench { gpu, runs } => {
            init_logging("warn");
            run_bench(&gpu.config(), runs)
        }
        Command::Init { config, stake } => with_settings(&config, "info", |s| init(s, stake)),
        Command::Run { config } => with_settings(&config, "info", |s| {
            runtime()?.block_on(provider_daemon::daemon::run(
                s,
                provider_daemon::daemon::shutdown_signal(),
            ))?;
            Ok(())
        }),
        Command::Status { config } => with_settings(&config, "warn", status),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Loads and validates the settings, installs logging, runs `f`.
fn with_settings(
    path: &std::path::Path,
    default_log: &str,
    f: impl FnOnce(Settings) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let settings = Settings::load(Some(path))?;
    settings.validate()?;
    provider_daemon::daemon::init_logging(settings.log_format, default_log);
    f(settings)
}

/// Measures every adapter the settings name (as `check` does) and registers the provider, or
/// updates it, with the capabilities all of them have and its capacity.
fn init(settings: Settings, stake: u64) -> anyhow::Result<()> {
    let configs = provider_daemon::daemon::gpu_configs(&settings)?;
    let mut measured = Vec::with_capacity(configs.len());
    for (config, _) in &configs {
        let (adapter, capabilities) = publish::measure(config)?;
        println!(
            "Adapter: {adapter}; {:?}, bandwidth {} MB/s, integer {} Mops/s",
            capabilities.device_class, capabilities.bandwidth_mbps, capabilities.int_mops
        );
        measured.push(capabilities);
    }
    let capabilities = publish::combine(&measured).context("no adapter to measure")?;
    let capacity = publish::capacity(configs.len(), settings.max_concurrent_jobs);
    println!(
        "Publishing: {capabilities:?}; {} device(s), {} job(s) at once",
        capacity.devices, capacity.max_concurrent_jobs
    );
    runtime()?.block_on(async move {
        let client = provider_daemon::daemon::connect(&settings, None).await?;
        client.market().await?;
        match client.provider().await {
            Ok(_) => {
                let sig = client
                    .update_provider(compute_market_sdk::ProviderUpdateArgs {
                        capabilities: Some(capabilities),
                        capacity: Some(capacity),
                        status: None,
                    })
                    .await?;
                println!(
                    "provider {} already registered; capabilities and capacity updated: {sig}",
                    client.provider_address()
                );
            }
            Err(compute_market_sdk::SdkError::AccountNotFound { .. }) => {
                let sig = client
                    .register_provider(stake, capabilities, capacity)
                    .await?;
                println!(
                    "registered provider {} with {stake} staked: {sig}",
                    client.provider_address()
                );
            }
            Err(e) => return Err(e.into()),
        }
        Ok::<_, anyhow::Error>(())
    })
}

/// Stake, journal and earnings.
fn status(settings: Settings) -> anyhow::Result<()> {
    let db = provider_daemon::state::StateDb::open(&settings.state_path)?;
    let counts = db.counts()?;
    let pending = db.pending()?;
    runtime()?.block_on(async move {
        let client = provider_daemon::daemon::connect(&settings, None).await?;
        let p = client.provider().await?;
        println!("provider  {} ({:?})", client.provider_address(), p.status);
        println!("market    {}", client.market_address());
        println!(
            "stake     {} staked, {} locked, {} free, {} unbonding (until {})",
            p.staked,
            p.locked,
            p.free_stake().unwrap_or(0),
            p.unbonding,
            p.unbonding_ends_at
        );
        println!(
            "capacity  {} device(s), {} job(s) at once (published)",
            p.capacity.devices, p.capacity.max_concurrent_jobs
        );
        println!(
            "earnings  {} to withdraw (compute-market provider withdraw-earnings)",
            p.earnings
        );
        println!(
            "record    {} completed, {} failed, {} slashed, {} given back; {} earned",
            p.jobs_completed, p.jobs_failed, p.jobs_slashed, p.jobs_given_back, p.total_earned
        );
        println!("in flight {} job(s)", pending.len());
        for r in &pending {
            println!("  {} {:?}", r.job, r.phase);
        }
        println!("journal   {counts:?}");
        Ok::<_, anyhow::Error>(())
    })
}

fn check(config: &GpuConfig) -> anyhow::Result<()> {
    let adapters = context::enumerate_adapters();
    println!("Adapters (Vulkan/Metal/DX12):");
    if adapters.is_empty() {
        println!("  none");
    }
    for a in &adapters {
        println!("  {a}");
    }
    let ctx = GpuContext::new(config)?;
    println!("Selected: {}", ctx.adapter);
    let l = &ctx.limits;
    println!(
        "Limits: workgroup size {}x{}x{} ({} invocations), {} workgroups/dim, storage binding {} MiB, buffer {} MiB, workgroup memory {} KiB",
        l.max_compute_workgroup_size_x,
        l.max_compute_workgroup_size_y,
        l.max_compute_workgroup_size_z,
        l.max_compute_invocations_per_workgroup,
        l.max_compute_workgroups_per_dimension,
        l.max_storage_buffer_binding_size >> 20,
        l.max_buffer_size >> 20,
        l.max_compute_workgroup_storage_size >> 10
    );
    let mut exec = Executor::new(ctx, compute_market_job::Caps::default());
    let test = bench::self_test(&mut exec)?;
    println!(
        "Self-test: PASS ({} bit-exact against CPU references; vector_transform result hash {})",
        test.kernels.join(", "),
        hex::encode(test.vector_transform_hash)
    );
    if let Some(cap) = test.loop_cap {
        println!(
            "WARNING: this adapter stops loops after {cap} iterations (asked for {}): jobs with longer loops give wrong results here",
            bench::LOOP_PROBE_ITERATIONS
        );
    }
    let bandwidth = bench::memory_bandwidth(&mut exec, 1 << 22, 5)?;
    let ops = bench::integer_ops(&mut exec, 1 << 18, 256, 5)?;
    println!(
        "Benchmark: memory bandwidth {:.2} GB/s (vector_transform), integer {:.3e} ops/s (hash_mix); medians of {} runs",
        bandwidth.per_second / 1e9,
        ops.per_second,
        bandwidth.runs
    );
    println!(
        "Capability: exact-class jobs are verifiable by result hash; float-class jobs are not."
    );
    Ok(())
}

fn run_bench(config: &GpuConfig, runs: usize) -> anyhow::Result<()> {
    let pool = gpu::WorkerPool::new(gpu::PoolConfig {
        gpu: config.clone(),
        job_timeout: Duration::from_secs(120),
        ..gpu::PoolConfig::default()
    })?;
    let mut exec = Executor::new(
        GpuContext::new(config)?,
        compute_market_job::Caps::default(),
    );
    let report = bench::full_benchmark(&pool, &mut exec, runs)?;
    println!("{report}");
    Ok(())
}

/// What the sandbox lets this process see and reach, as one JSON object.
#[cfg(feature = "sandbox-probe")]
fn sandbox_probe(connect: std::net::SocketAddr) -> anyhow::Result<()> {
    let env: Vec<String> = std::env::vars_os()
        .map(|(name, _)| name.to_string_lossy().into_owned())
        .collect();
    let connect = match std::net::TcpStream::connect_timeout(&connect, Duration::from_secs(2)) {
        Ok(_) => "connected".to_string(),
        Err(e) => e.to_string(),
    };
    #[cfg(target_os = "linux")]
    let (death_signal, no_new_privs) = (
        rustix::process::parent_process_death_signal()?.map(|s| s.as_raw()),
        rustix::thread::no_new_privs()?,
    );
    #[cfg(not(target_os = "linux"))]
    let (death_signal, no_new_privs): (Option<i32>, bool) = (None, false);
    println!(
        "{}",
        serde_json::json!({
            "env": env,
            "connect": connect,
            "death_signal": death_signal,
            "no_new_privs": no_new_privs,
        })
    );
    Ok(())
}
