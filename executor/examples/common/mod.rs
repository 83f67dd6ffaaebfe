//! The arguments both executor benchmarks take: `[--allow-cpu] [--adapter A] [--runs N]`.

use compute_market_executor::{AdapterChoice, GpuConfig};

/// The adapter choice and runs per figure (default 7) from the command line.
pub fn args() -> Result<(GpuConfig, usize), Box<dyn std::error::Error>> {
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
    Ok((gpu, runs))
}
