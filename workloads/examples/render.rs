//! Renders the demo scene on the CPU, tile by tile, and writes a PNG.
//!
//! `cargo run --release -p compute-market-workloads --example render -- [out.png] [width] [height] [bands]`

use compute_market_workloads::raytrace::{self, RenderSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "render.png".into());
    let width = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(raytrace::DEFAULT_WIDTH);
    let height = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(raytrace::DEFAULT_HEIGHT);
    let bands = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4);
    let spec = RenderSpec::new(width, height);
    let started = std::time::Instant::now();
    let rendered = raytrace::tiles(&spec, bands)?
        .into_iter()
        .map(|tile| Ok((tile, raytrace::cpu_tile(&spec, tile)?)))
        .collect::<Result<Vec<_>, raytrace::Error>>()?;
    let image = raytrace::assemble(&spec, &rendered)?;
    std::fs::write(&path, raytrace::encode_png(width, height, &image)?)?;
    println!(
        "{path}: {width}x{height} in {bands} bands, {:?}",
        started.elapsed()
    );
    Ok(())
}
