//! The executor benchmark without the daemon: the same report as `provider-daemon bench`
//! (`compute_market_executor::bench::full_benchmark`), from a build of this crate alone.
//!
//! ```sh
//! cargo build --release -p compute-market-executor --bins --examples
//! target/release/examples/bench --allow-cpu --runs 7 2>/dev/null
//! ```

mod common;

use std::time::Duration;

use compute_market_executor::{bench, Executor, GpuContext};
use compute_market_executor::{PoolConfig, WorkerPool};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (gpu, runs) = common::args()?;
    let pool = WorkerPool::new(PoolConfig {
        gpu: gpu.clone(),
        job_timeout: Duration::from_secs(120),
        ..PoolConfig::default()
    })?;
    let mut exec = Executor::new(GpuContext::new(&gpu)?, Default::default());
    println!("{}", bench::full_benchmark(&pool, &mut exec, runs)?);
    Ok(())
}
