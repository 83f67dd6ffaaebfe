//! The executor benchmark without the daemon: the same report as `provider-daemon bench`
//! (`compute_market_executor::bench::full_benchmark`), from a build of this crate alone.
//!
//! ```sh
//! cargo build --release -p compute-market-executor --bins --examples
//! target/release/examples/bench --allow-cpu --runs 7 2>/dev/null
//! ```

use std::time::Duration;

use compute_market_executor::{bench, AdapterChoice, Executor, GpuConfig, GpuContext};
use compute_market_executor::{PoolConfig, WorkerPool};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut gpu = GpuConfig::default();
    let mut runs = 7;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--allow-cpu" => gpu.allow_cpu = true,
            "--adapter" => {
                let value = args.next().ok_or("--adapter needs a value")?;
                gpu.adapter = value.parse().unwrap_or(AdapterChoice::Auto);
            }
            "--runs" => runs = args.next().ok_or("--runs needs a value")?.parse()?,
            other => return Err(format!("unexpected argument `{other}`").into()),
        }
    }
    let pool = WorkerPool::new(PoolConfig {
        gpu: gpu.clone(),
        job_timeout: Duration::from_secs(120),
        ..PoolConfig::default()
    })?;
    let mut exec = Executor::new(GpuContext::new(&gpu)?, Default::default());
    println!("{}", bench::full_benchmark(&pool, &mut exec, runs)?);
    Ok(())
}
