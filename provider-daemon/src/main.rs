//! `provider-daemon`: the Compute Market provider. `check` is what a new provider runs first;
//! `bench` measures the executor; `worker` is internal (the executor's sandbox process).
//! (`run`, `init` and `status` arrive with the chain integration.)

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use provider_daemon::gpu::{self, bench, context, AdapterChoice, Executor, GpuConfig, GpuContext};

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
    /// Internal: run jobs from stdin on the GPU (spawned by the daemon itself).
    #[command(hide = true)]
    Worker {
        #[command(flatten)]
        gpu: GpuArgs,
    },
}

#[derive(Args, Clone)]
struct GpuArgs {
    /// Adapter: `auto` (best hardware adapter), an index from `check`, or part of its name.
    #[arg(long, env = "PROVIDER_ADAPTER", default_value = "auto")]
    adapter: String,
    /// Allow choosing a CPU (software) adapter such as lavapipe when hardware exists.
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
    // Logs go to stderr: a worker's stdout carries only protocol frames.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Worker { gpu } => {
            // The parent logs what matters; a worker only reports errors unless RUST_LOG says.
            init_logging("error");
            gpu::worker::run_worker(&gpu.config()).context("worker")
        }
        Command::Check { gpu } => {
            init_logging("info");
            check(&gpu.config())
        }
        Command::Bench { gpu, runs } => {
            init_logging("warn");
            run_bench(&gpu.config(), runs)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
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
