//! The job files under `examples/jobs/` (the README's copy-paste examples) are what this crate
//! builds: regenerate them with `UPDATE_EXAMPLES=1 cargo test -p compute-market-workloads --test
//! examples`.

use std::path::PathBuf;

use compute_market_workloads::raytrace::RenderSpec;
use compute_market_workloads::sim::{self, Grid};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/jobs")
}

fn check(name: &str, expected: &[u8]) {
    let path = examples().join(name);
    if std::env::var_os("UPDATE_EXAMPLES").is_some() {
        std::fs::write(&path, expected).unwrap();
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{} is out of date: run UPDATE_EXAMPLES=1 cargo test -p compute-market-workloads --test examples",
        path.display()
    );
}

#[test]
fn the_heat_example_is_the_simulation_job() {
    let grid = Grid::demo(64, 64);
    let job = sim::job(&grid, 500).unwrap();
    // The manifest names the module's file, as a job author would write it.
    let mut manifest = String::from("{\n  \"wgsl_path\": \"../../workloads/src/sim.wgsl\",\n");
    manifest += &format!("  \"scratch\": {:?},\n  \"passes\": [\n", job.scratch);
    let passes: Vec<String> = job
        .passes
        .iter()
        .map(|p| {
            let mut line = format!(
                "    {{ \"entry_point\": \"{}\", \"workgroups\": {:?}",
                p.entry_point, p.workgroups
            );
            if p.repeat != 1 {
                line += &format!(", \"repeat\": {}", p.repeat);
            }
            if p.args != [0; 4] {
                line += &format!(", \"args\": {:?}", p.args);
            }
            line + " }"
        })
        .collect();
    manifest += &passes.join(",\n");
    manifest += "\n  ]\n}\n";
    check("heat.json", manifest.as_bytes());
    check("heat-grid.bin", &grid.to_bytes());
}

#[test]
fn the_scene_example_is_the_default_scene() {
    check("scene.bin", &RenderSpec::default().scene.input_bytes());
}
