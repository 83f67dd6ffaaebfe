//! Multi-pass jobs (job ABI v2) through the full executor: worker processes, real wgpu, every
//! pass in one submission. Each result is compared byte for byte with a CPU reference.

mod common;

use std::time::Duration;

use compute_market_executor::kernels::bytes_to_words;
use compute_market_executor::ExecError;
use compute_market_job::{result_hash, AbiError, DeterminismClass, Manifest, Pass, PARAMS_LEN};
use compute_market_workloads::digits::{self, Dataset, DotPath, Model};

/// Pass 0 seeds the scratch buffer, pass 1 adds `iteration + args.x` to it `repeat` times,
/// pass 2 copies it to the output with the pass block's fields and the job's params.
const PASSES: &str = r#"
struct PassInfo { index: u32, iteration: u32, repeat: u32, passes: u32, args: vec4<u32> }
struct Params { base: u32 }
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<uniform> pass_info: PassInfo;
@group(0) @binding(4) var<storage, read_write> acc: array<u32>;

@compute @workgroup_size(64)
fn seed(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x < arrayLength(&acc) { acc[id.x] = params.base + id.x; }
}
@compute @workgroup_size(64)
fn step(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x < arrayLength(&acc) { acc[id.x] = acc[id.x] * 3u + pass_info.iteration + pass_info.args.x; }
}
@compute @workgroup_size(64)
fn finish(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x < arrayLength(&acc) { output[id.x] = acc[id.x]; }
    if id.x == 0u {
        let n = arrayLength(&acc);
        output[n] = pass_info.index;
        output[n + 1u] = pass_info.passes;
        output[n + 2u] = pass_info.repeat;
    }
}
"#;

const N: u32 = 1000;
const STEPS: u32 = 50;

fn passes_job(steps: u32) -> compute_market_job::JobDescriptor {
    let mut params = [0u8; PARAMS_LEN];
    params[..4].copy_from_slice(&7u32.to_le_bytes());
    Manifest::new(
        PASSES,
        vec![u64::from(N) * 4],
        vec![
            Pass::new("seed", [N.div_ceil(64), 1, 1]),
            Pass::new("step", [N.div_ceil(64), 1, 1])
                .repeat(steps)
                .args([11, 0, 0, 0]),
            Pass::new("finish", [N.div_ceil(64), 1, 1]),
        ],
    )
    .into_job(Vec::new(), u64::from(N + 3) * 4, params)
}

fn passes_cpu(steps: u32) -> Vec<u32> {
    let mut out: Vec<u32> = (0..N)
        .map(|i| {
            (0..steps).fold(7 + i, |v, it| {
                v.wrapping_mul(3).wrapping_add(it).wrapping_add(11)
            })
        })
        .collect();
    out.extend([2, 3, 1]);
    out
}

#[test]
fn passes_run_in_order_over_persistent_scratch_with_their_pass_blocks() {
    let job = passes_job(STEPS);
    let outcome = common::pool()
        .execute(&job)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bytes_to_words(&outcome.output), passes_cpu(STEPS));
    assert_eq!(outcome.result_hash, result_hash(&outcome.output));
    assert_eq!(outcome.determinism, DeterminismClass::Exact);
    assert!(outcome.pass_times.is_empty(), "not profiled");

    // Profiled: the same bytes, one time per pass.
    let profiled = common::pool()
        .execute_profiled(&job, common::JOB_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(profiled.output, outcome.output);
    assert_eq!(profiled.pass_times.len(), 3);
}

#[test]
fn the_int8_classifier_gives_the_cpu_references_bytes_on_both_dot_product_paths() {
    let model = Model::bundled().unwrap();
    let data = Dataset::bundled().unwrap();
    let expected = digits::cpu_reference(&model, &data.images);
    let mut outputs = Vec::new();
    for dot in [DotPath::Packed, DotPath::Portable] {
        let job = digits::job(&model, &data.images, dot).unwrap();
        let outcome = common::pool()
            .execute(&job)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outcome.determinism, DeterminismClass::Exact);
        assert!(
            outcome.output == expected,
            "{dot:?}: the GPU's bytes differ from the CPU int8 reference"
        );
        outputs.push(outcome.output);
    }
    assert_eq!(outputs[0], outputs[1]);
    let predicted = digits::classes(&outputs[0], data.images.len());
    let accuracy = digits::accuracy(&predicted, &data.labels);
    assert!(
        (accuracy - digits::FLOAT_ACCURACY_ALL).abs() <= 0.03,
        "int8 accuracy {accuracy} vs float {}",
        digits::FLOAT_ACCURACY_ALL
    );
}

#[test]
fn a_bad_pass_is_named_and_refused_before_any_device_work() {
    let mut job = passes_job(STEPS);
    job.passes[2].workgroups = [0, 1, 1];
    let err = common::pool().execute(&job).unwrap_err();
    let ExecError::Rejected(AbiError::InPass {
        pass, entry_point, ..
    }) = &err
    else {
        panic!("{err}")
    };
    assert_eq!((*pass, entry_point.as_str()), (2, "finish"));
    assert!(err.to_string().contains("pass 2 (`finish`)"), "{err}");

    let mut job = passes_job(STEPS);
    job.scratch.clear();
    let err = common::pool().execute(&job).unwrap_err();
    assert!(
        matches!(
            err,
            ExecError::Rejected(AbiError::ScratchMissing { index: 0, .. })
        ),
        "{err}"
    );
    common::assert_pool_healthy();
}

#[test]
fn one_wall_clock_limit_covers_every_pass() {
    // Each pass is quick; together (a few thousand dispatches of a heavier step) they are not.
    let heavy = PASSES.replace(
        "acc[id.x] = acc[id.x] * 3u + pass_info.iteration + pass_info.args.x;",
        "var v = acc[id.x]; for (var i = 0u; i < 20000u; i++) { v = v * 3u + i; } acc[id.x] = v + pass_info.iteration;",
    );
    let mut job = passes_job(4000);
    job.wgsl = heavy.into_bytes();
    let err = common::pool()
        .execute_with_timeout(&job, Duration::from_secs(2))
        .unwrap_err();
    assert!(matches!(err, ExecError::Timeout { .. }), "{err}");
    common::assert_pool_healthy();
}

#[test]
fn ray_traced_tiles_are_the_cpu_references_bytes_and_assemble_into_the_image() {
    use compute_market_workloads::raytrace::{self, RenderSpec};
    let spec = RenderSpec::new(96, 72);
    let mut tiles = Vec::new();
    for tile in raytrace::grid(&spec, 2, 3).unwrap() {
        let job = raytrace::tile_job(&spec, tile).unwrap();
        let outcome = common::pool()
            .execute(&job)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outcome.determinism, DeterminismClass::Exact);
        assert!(
            outcome.output == raytrace::cpu_tile(&spec, tile).unwrap(),
            "tile {tile:?} differs from the CPU reference"
        );
        tiles.push((tile, outcome.output));
    }
    let image = raytrace::assemble(&spec, &tiles).unwrap();
    assert_eq!(image, raytrace::cpu_tile(&spec, spec.full()).unwrap());
    assert!(raytrace::encode_png(96, 72, &image).is_ok());
}

#[test]
fn the_heat_simulation_of_hundreds_of_passes_is_the_cpu_references_bytes() {
    use compute_market_workloads::sim::{self, Grid};
    let grid = Grid::demo(100, 60);
    for steps in [1, 2, 301] {
        let job = sim::job(&grid, steps).unwrap();
        assert_eq!(job.dispatch_count(), u64::from(steps) + 2);
        let outcome = common::pool()
            .execute(&job)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            outcome.output == sim::cpu_reference(&grid, steps).unwrap(),
            "{steps} steps differ from the CPU reference"
        );
        let end = Grid::from_bytes(100, 60, &outcome.output).unwrap();
        assert_eq!(end.total(), grid.total(), "heat is conserved");
    }
}

#[test]
fn a_cached_verdict_for_several_entry_points_is_no_verdict_for_one_named_like_them() {
    // A manifest over entry points `a` and `b` is valid and its verdict cached; a one-pass job
    // naming the entry point "a,b" (no such function) must not borrow that verdict: claimed on
    // it, the job would fail in the worker and cost its provider a give-back.
    const TWO: &str = "@group(0) @binding(1) var<storage, read_write> o: array<u32>;\n\
        @compute @workgroup_size(1) fn a() { o[0] = 1u; }\n\
        @compute @workgroup_size(1) fn b() { o[0] += 1u; }";
    let manifest = Manifest::new(
        TWO,
        Vec::new(),
        vec![Pass::new("a", [1, 1, 1]), Pass::new("b", [1, 1, 1])],
    )
    .into_job(Vec::new(), 4, [0; PARAMS_LEN]);
    common::pool().validate(&manifest).unwrap();
    let impostor = compute_market_job::JobDescriptor {
        wgsl: TWO.as_bytes().to_vec(),
        entry_point: "a,b".into(),
        ..Default::default()
    };
    let err = common::pool().validate(&impostor).unwrap_err();
    assert!(
        matches!(
            err,
            ExecError::Rejected(AbiError::EntryPointNotFound { .. })
        ),
        "{err}"
    );
}

#[test]
fn more_entry_points_than_passes_allowed_are_rejected_not_a_validator_crash() {
    let passes: Vec<Pass> = (0..=compute_market_job::MAX_PASSES)
        .map(|i| Pass::new(format!("p{i}"), [1, 1, 1]))
        .collect();
    let job = Manifest::new(PASSES, vec![u64::from(N) * 4], passes).into_job(
        Vec::new(),
        u64::from(N + 3) * 4,
        [0; PARAMS_LEN],
    );
    let err = common::pool().validate(&job).unwrap_err();
    assert!(
        matches!(
            err,
            ExecError::Rejected(AbiError::TooManyPasses { count: 65, max: 64 })
        ),
        "{err}"
    );
}
