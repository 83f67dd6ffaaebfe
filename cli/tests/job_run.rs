//! `compute-market job run`: a job tried on this machine's adapter through the provider's
//! executor, from the README's example files, byte for byte the CPU references.

use std::path::Path;
use std::process::{Command, Output};

use compute_market_workloads::raytrace::{self, RenderSpec};
use compute_market_workloads::sim::{self, Grid};

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn job_run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_compute-market"))
        .current_dir(repo())
        .args(["job", "run"])
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_heat_manifest_runs_with_timings_per_pass() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("heat.bin");
    let out = job_run(&[
        "--shader",
        "examples/jobs/heat.json",
        "--input",
        "examples/jobs/heat-grid.bin",
        "--output-len",
        "16384",
        "--params",
        "64,64",
        "--out",
        out_path.to_str().unwrap(),
    ]);
    let stdout = ok(&out);
    let expected = sim::cpu_reference(&Grid::demo(64, 64), 500).unwrap();
    assert!(std::fs::read(&out_path).unwrap() == expected, "{stdout}");
    for line in [
        "pass 0 init",
        "pass 1 diffuse",
        "×500",
        "pass 2 finish",
        "determinism: exact",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    let hash = hex::encode(compute_market_job::result_hash(&expected));
    assert!(stdout.contains(&format!("result hash: {hash}")), "{stdout}");
}

#[test]
fn the_ray_tracer_renders_a_png_of_the_cpu_references_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let png_path = dir.path().join("render.png");
    let spec = RenderSpec::new(64, 48);
    let out = job_run(&[
        "--shader",
        "workloads/src/raytrace/shader.wgsl",
        "--input",
        "examples/jobs/scene.bin",
        "--workgroups",
        "8,6",
        "--params",
        "64,48,0,0,64,48",
        "--output-len",
        "12288",
        "--out",
        png_path.to_str().unwrap(),
        "--image",
        "64x48",
        "--rgba",
    ]);
    ok(&out);
    let png_bytes = std::fs::read(&png_path).unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    reader.next_frame(&mut pixels).unwrap();
    assert!(pixels == raytrace::cpu_tile(&spec, spec.full()).unwrap());
}

#[test]
fn a_bad_manifest_is_a_clear_error_naming_the_pass() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("bad.json");
    let wgsl = repo().join("workloads/src/sim.wgsl");
    std::fs::write(
        &manifest,
        format!(
            r#"{{ "wgsl_path": "{}", "scratch": [32768],
                 "passes": [ {{ "entry_point": "init", "workgroups": [8, 8, 1] }},
                             {{ "entry_point": "diffuse", "workgroups": [8, 8, 1], "repeat": 0 }} ] }}"#,
            wgsl.display()
        ),
    )
    .unwrap();
    let m = manifest.to_str().unwrap();
    let args = ["--shader", m, "--output-len", "16384", "--params", "64,64"];
    let out = job_run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("pass 1 (`diffuse`): a pass's repeat count must be at least 1"),
        "{stderr}"
    );
    // A manifest names its own entry points.
    let out = job_run(&[&args[..], &["--entry-point", "init"]].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("is a manifest"), "{stderr}");
}
