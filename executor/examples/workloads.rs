//! The real workloads' executor figures (BENCHMARKS.md, "Real workloads"), side by side in one
//! run: the fixed cost of one more dispatch and of one more pass in a manifest, and the int8
//! classifier's device time per image on both dot-product paths.
//!
//! ```sh
//! cargo build --release -p compute-market-executor --bins --examples
//! target/release/examples/workloads --allow-cpu --runs 11 2>/dev/null
//! ```

mod common;

use std::time::Duration;

use compute_market_executor::{PoolConfig, WorkerPool};
use compute_market_job::{JobDescriptor, Manifest, Pass};
use compute_market_workloads::digits::{self, Dataset, DotPath, Model};

type Error = Box<dyn std::error::Error>;

/// One workgroup touching 64 words: as little device work as a dispatch can be.
const TOUCH: &str = r#"
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@compute @workgroup_size(64)
fn touch(@builtin(global_invocation_id) id: vec3<u32>) { output[id.x] += 1u; }
"#;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median device time (`dispatch`: submit until the GPU finished) of `job`, after a warm-up.
fn device_time(pool: &WorkerPool, job: &JobDescriptor, runs: usize) -> Result<Duration, Error> {
    pool.execute(job)?;
    let mut times = (0..runs)
        .map(|_| Ok(pool.execute(job)?.timings.dispatch))
        .collect::<Result<Vec<_>, Error>>()?;
    times.sort();
    Ok(times[times.len() / 2])
}

fn main() -> Result<(), Error> {
    let (gpu, runs) = common::args()?;
    let pool = WorkerPool::new(PoolConfig {
        gpu,
        job_timeout: Duration::from_secs(120),
        ..PoolConfig::default()
    })?;
    println!("adapter: {}", pool.device().adapter.name);

    let touch = |passes: Vec<Pass>| {
        Manifest::new(TOUCH, Vec::new(), passes).into_job(Vec::new(), 256, [0; 32])
    };
    let one = device_time(&pool, &touch(vec![Pass::new("touch", [1, 1, 1])]), runs)?;
    let repeated = device_time(
        &pool,
        &touch(vec![Pass::new("touch", [1, 1, 1]).repeat(1024)]),
        runs,
    )?;
    let passes = device_time(&pool, &touch(vec![Pass::new("touch", [1, 1, 1]); 64]), runs)?;
    println!("manifest overhead (device time, median of {runs}):");
    println!("  1 dispatch                {:>9.3} ms", ms(one));
    println!(
        "  1 pass, repeat 1,024      {:>9.3} ms  -> {:.1} us per extra dispatch",
        ms(repeated),
        (ms(repeated) - ms(one)) * 1e3 / 1023.0
    );
    println!(
        "  64 passes                 {:>9.3} ms  -> {:.1} us per extra pass",
        ms(passes),
        (ms(passes) - ms(one)) * 1e3 / 63.0
    );

    let model = Model::bundled()?;
    let data = Dataset::bundled()?;
    let n = data.images.len();
    println!("int8 digits classifier, {n} images, 4 passes (device time, median of {runs}):");
    for dot in [DotPath::Packed, DotPath::Portable] {
        let t = device_time(&pool, &digits::job(&model, &data.images, dot)?, runs)?;
        println!(
            "  {dot:?}: {:>8.2} ms  -> {:.2} us per image",
            ms(t),
            ms(t) * 1e3 / n as f64
        );
    }
    Ok(())
}
