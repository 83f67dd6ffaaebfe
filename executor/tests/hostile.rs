//! The hostile corpus: every case asserts its specific error (or the WGSL-defined result) and
//! that the daemon's worker pool still runs a known job correctly afterwards.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use compute_market_executor::kernels::bytes_to_words;
use compute_market_executor::sandbox::Sandbox;
use compute_market_executor::validate::Validator;
use compute_market_executor::{ExecError, ExecOutcome, SandboxConfig};
use compute_market_job::{AbiError, Caps, JobDescriptor, LimitSource, Location, PARAMS_LEN};

const OUT: &str = "@group(0) @binding(1) var<storage, read_write> output: array<u32>;\n";

fn job(wgsl: impl Into<Vec<u8>>) -> JobDescriptor {
    JobDescriptor {
        wgsl: wgsl.into(),
        entry_point: "main".into(),
        workgroups: [1, 1, 1],
        input: vec![0; 64],
        output_len: 64,
        params: [0; PARAMS_LEN],
        ..Default::default()
    }
}

fn simple(decls: &str, attrs: &str, body: &str) -> String {
    format!("{OUT}{decls}\n@compute {attrs}\nfn main() {{ output[0] = 1u; {body} }}\n")
}

/// Runs `job`, returns its result, and checks the pool is unharmed.
fn run(job: &JobDescriptor) -> Result<ExecOutcome, ExecError> {
    let result = common::pool().execute(job);
    common::assert_pool_healthy();
    result
}

fn rejected(job: &JobDescriptor) -> AbiError {
    match run(job) {
        Err(ExecError::Rejected(e)) => e,
        other => panic!("expected a validation rejection, got {other:?}"),
    }
}

#[test]
fn h01_parse_error_with_line_and_column() {
    let err = rejected(&job(format!(
        "{OUT}@compute @workgroup_size(1)\nfn main() {{\n  output[0] = 1u +;\n}}"
    )));
    let AbiError::Parse { location, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        *location,
        Some(Location {
            line: 4,
            column: 19
        }),
        "{err}"
    );
}

#[test]
fn h02_unknown_entry_point() {
    let mut j = job(simple("", "@workgroup_size(1)", ""));
    j.entry_point = "missing".into();
    assert!(matches!(rejected(&j), AbiError::EntryPointNotFound { name, .. } if name == "missing"));
}

#[test]
fn h03_vertex_entry_point() {
    let src =
        format!("{OUT}@vertex fn main() -> @builtin(position) vec4<f32> {{ return vec4(0.0); }}");
    assert!(matches!(rejected(&job(src)), AbiError::NotCompute { stage, .. } if stage == "vertex"));
}

#[test]
fn h04_fragment_entry_point() {
    let src = format!("{OUT}@fragment fn main() -> @location(0) vec4<f32> {{ return vec4(1.0); }}");
    assert!(
        matches!(rejected(&job(src)), AbiError::NotCompute { stage, .. } if stage == "fragment")
    );
}

#[test]
fn h05_extra_binding() {
    // Bindings 4..=7 are the ABI v2 scratch buffers; 8 is beyond every binding the ABI defines.
    let src = simple(
        "@group(0) @binding(8) var<storage, read_write> extra: array<u32>;",
        "@workgroup_size(1)",
        "extra[0] = 1u;",
    );
    assert!(matches!(
        rejected(&job(src)),
        AbiError::UnexpectedBinding {
            group: 0,
            binding: 8,
            ..
        }
    ));
}

#[test]
fn h06_extra_bind_group() {
    let src = simple(
        "@group(1) @binding(0) var<storage, read> other: array<u32>;",
        "@workgroup_size(1)",
        "output[1] = other[0];",
    );
    assert!(matches!(
        rejected(&job(src)),
        AbiError::UnexpectedBinding {
            group: 1,
            binding: 0,
            ..
        }
    ));
}

#[test]
fn h07_missing_output_binding() {
    let src = "@group(0) @binding(0) var<storage, read> input: array<u32>;\n\
               @compute @workgroup_size(1) fn main() { _ = input[0]; }";
    assert_eq!(rejected(&job(src)), AbiError::MissingOutputBinding);
}

#[test]
fn h08_writable_input() {
    let src = simple(
        "@group(0) @binding(0) var<storage, read_write> input: array<u32>;",
        "@workgroup_size(1)",
        "input[0] = 2u;",
    );
    assert!(matches!(
        rejected(&job(src)),
        AbiError::WrongBindingType { binding: 0, .. }
    ));
}

#[test]
fn h09_uniform_output_and_storage_params() {
    let src = "@group(0) @binding(1) var<uniform> output: vec4<u32>;\n\
               @compute @workgroup_size(1) fn main() { _ = output.x; }";
    assert!(matches!(
        rejected(&job(src)),
        AbiError::WrongBindingType { binding: 1, .. }
    ));
    let src = simple(
        "@group(0) @binding(2) var<storage, read> params: array<u32>;",
        "@workgroup_size(1)",
        "output[1] = params[0];",
    );
    assert!(matches!(
        rejected(&job(src)),
        AbiError::WrongBindingType { binding: 2, .. }
    ));
}

#[test]
fn h10_texture_binding() {
    let src = simple(
        "@group(0) @binding(2) var tex: texture_2d<f32>;",
        "@workgroup_size(1)",
        "",
    );
    assert!(matches!(
        rejected(&job(src)),
        AbiError::WrongBindingType { binding: 2, .. }
    ));
}

#[test]
fn h11_workgroup_too_large() {
    // Beyond this adapter's own limits (lavapipe allows 1024 per axis; WebGPU's default is 256).
    let max = common::pool().device().limits.max_workgroup_size[0];
    let src = simple("", &format!("@workgroup_size({})", max + 1), "");
    assert!(matches!(
        rejected(&job(src)),
        AbiError::WorkgroupSizeTooLarge {
            axis: 'x',
            source_of_limit: LimitSource::Device,
            ..
        }
    ));
}

#[test]
fn h12_too_many_workgroups() {
    let mut j = job(simple("", "@workgroup_size(1)", ""));
    j.workgroups = [1, 65_536, 1];
    assert!(matches!(
        rejected(&j),
        AbiError::WorkgroupCountTooLarge {
            axis: 'y',
            count: 65_536,
            ..
        }
    ));
    j.workgroups = [0, 1, 1];
    assert_eq!(rejected(&j), AbiError::WorkgroupCountZero { axis: 'x' });
}

#[test]
fn h13_output_larger_than_allowed() {
    let mut j = job(simple("", "@workgroup_size(1)", ""));
    j.output_len = 1 << 30;
    assert!(matches!(rejected(&j), AbiError::OutputTooLarge { len, .. } if len == 1 << 30));
}

#[test]
fn h14_output_over_provider_cap() {
    let caps = Caps {
        max_output_len: 1 << 10,
        ..Caps::default()
    };
    let mut j = job(simple("", "@workgroup_size(1)", ""));
    j.output_len = 1 << 12;
    let validator = Validator::new(
        common::WORKER.into(),
        Arc::new(Sandbox::new(SandboxConfig::default()).unwrap()),
        common::pool().device().limits,
        caps,
        common::JOB_TIMEOUT,
    );
    let result = validator.validate(&j);
    assert!(
        matches!(
            result,
            Err(ExecError::Rejected(AbiError::OutputTooLarge {
                max: 1024,
                source_of_limit: LimitSource::Provider,
                ..
            }))
        ),
        "{result:?}"
    );
}

#[test]
fn h15_input_length_mismatch() {
    let src = "@group(0) @binding(0) var<storage, read> input: array<u32, 64>;\n\
               @group(0) @binding(1) var<storage, read_write> output: array<u32>;\n\
               @compute @workgroup_size(1) fn main() { output[0] = input[63]; }";
    let mut j = job(src);
    j.input = vec![0; 128];
    assert_eq!(rejected(&j), AbiError::InputTooShort { len: 128, min: 256 });
    j.input = vec![0; 255];
    assert_eq!(rejected(&j), AbiError::InputNotAligned { len: 255 });
}

#[test]
fn h16_infinite_loop_is_killed_within_the_limit() {
    // 16.7 M invocations, each looping forever while storing: even lavapipe's 65,535-iteration
    // cap leaves ~10^12 iterations, far past the limit.
    let src = "@group(0) @binding(1) var<storage, read_write> output: array<u32>;\n\
        @compute @workgroup_size(256)\n\
        fn main(@builtin(global_invocation_id) id: vec3<u32>) {\n\
            var x = id.x;\n\
            loop { x = x * 1664525u + 1013904223u; output[x % 16u] = x; }\n\
        }";
    let mut j = job(src);
    j.workgroups = [65_535, 1, 1];
    let limit = Duration::from_secs(2);
    let started = Instant::now();
    let result = common::pool().execute_with_timeout(&j, limit);
    let elapsed = started.elapsed();
    let Err(ExecError::Timeout {
        limit: l,
        worker_pid,
    }) = result
    else {
        panic!("expected a timeout, got {result:?}")
    };
    assert_eq!(l, limit);
    assert!(
        elapsed >= limit && elapsed < limit + Duration::from_millis(1500),
        "{elapsed:?}"
    );
    // Killed and reaped: the process is gone, and a fresh worker took its place.
    let proc_entry = format!("/proc/{worker_pid}");
    assert!(
        !std::path::Path::new(&proc_entry).exists(),
        "worker {worker_pid} still exists"
    );
    assert!(!common::pool().idle_worker_pids().contains(&worker_pid));
    common::assert_pool_healthy();
}

#[test]
fn h17_huge_loop_is_killed_within_the_limit() {
    let src = "struct P { n: u32 }\n\
        @group(0) @binding(1) var<storage, read_write> output: array<u32>;\n\
        @group(0) @binding(2) var<uniform> params: P;\n\
        @compute @workgroup_size(256)\n\
        fn main(@builtin(global_invocation_id) id: vec3<u32>) {\n\
            var acc = id.x;\n\
            for (var i = 0u; i < params.n; i++) { acc = acc * 747796405u + i; output[acc % 16u] = acc; }\n\
        }";
    let mut j = job(src);
    j.workgroups = [65_535, 4, 1];
    j.params[..4].copy_from_slice(&4_000_000_000u32.to_le_bytes());
    let limit = Duration::from_secs(2);
    let started = Instant::now();
    let result = common::pool().execute_with_timeout(&j, limit);
    assert!(
        matches!(result, Err(ExecError::Timeout { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < limit + Duration::from_millis(1500));
    common::assert_pool_healthy();
}

#[test]
fn h18_out_of_bounds_access_is_contained() {
    // WGSL: out-of-bounds loads return an in-bounds value or zero, stores land in bounds or are
    // dropped. Nothing crashes and only the job's own buffers can change.
    // Indices come from the input so that naga cannot reject them as constant.
    let src = "@group(0) @binding(0) var<storage, read> input: array<u32>;\n\
        @group(0) @binding(1) var<storage, read_write> output: array<u32>;\n\
        @compute @workgroup_size(1)\n\
        fn main() {\n\
            output[input[0]] = 7u;\n\
            output[input[1]] = 9u;\n\
            output[1] = input[input[2]];\n\
        }";
    let mut j = job(src);
    let words = [1_000_000u32, u32::MAX, 123_456_789, 0xABAB_ABAB];
    j.input = words
        .iter()
        .cycle()
        .take(16)
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let out = run(&j).unwrap_or_else(|e| panic!("out-of-bounds access must not fail: {e}"));
    assert_eq!(out.output.len(), 64);
    for w in bytes_to_words(&out.output) {
        assert!(
            w == 0 || w == 7 || w == 9 || words.contains(&w),
            "unexpected word {w:#x}"
        );
    }
}

#[test]
fn h19_workgroup_memory_beyond_device_limits() {
    let max = common::pool().device().limits.max_workgroup_storage_size;
    let words = max / 4 + 1;
    let src = simple(
        &format!("var<workgroup> big: array<u32, {words}>;"),
        "@workgroup_size(1)",
        "big[0] = 1u;",
    );
    assert!(matches!(
        rejected(&job(src)),
        AbiError::WorkgroupStorageTooLarge {
            source_of_limit: LimitSource::Device,
            ..
        }
    ));
}

#[test]
fn h20_private_memory_beyond_limits() {
    let src = simple(
        "var<private> big: array<u32, 67108864>;",
        "@workgroup_size(1)",
        "big[1] = 2u; output[1] = big[1];",
    );
    assert!(matches!(
        rejected(&job(src)),
        AbiError::PrivateMemoryTooLarge {
            bytes: 268_435_456,
            ..
        }
    ));
}

#[test]
fn h21_empty_shader() {
    assert_eq!(rejected(&job("")), AbiError::SourceEmpty);
    assert_eq!(rejected(&job("\n\n   \t")), AbiError::SourceEmpty);
}

#[test]
fn h22_non_utf8_source() {
    let mut bytes = simple("", "@workgroup_size(1)", "").into_bytes();
    bytes.insert(10, 0xC3);
    bytes.insert(11, 0x28);
    assert_eq!(
        rejected(&job(bytes)),
        AbiError::SourceNotUtf8 { valid_up_to: 10 }
    );
}

#[test]
fn h23_very_large_source() {
    let src = format!(
        "{}//{}",
        simple("", "@workgroup_size(1)", ""),
        "x".repeat(2 << 20)
    );
    assert!(matches!(rejected(&job(src)), AbiError::SourceTooLarge { len, .. } if len > 2 << 20));
}

#[test]
fn h24_params_block_too_large() {
    let src = simple(
        "@group(0) @binding(2) var<uniform> params: array<vec4<u32>, 4>;",
        "@workgroup_size(1)",
        "output[1] = params[3].w;",
    );
    assert_eq!(
        rejected(&job(src)),
        AbiError::ParamsTooLarge { size: 64, max: 32 }
    );
}

#[test]
fn h25_override_constants() {
    let src = simple(
        "override n: u32 = 3u;",
        "@workgroup_size(1)",
        "output[1] = n;",
    );
    assert!(matches!(
        rejected(&job(src)),
        AbiError::OverridesUnsupported { .. }
    ));
}

#[test]
fn h26_output_not_covering_declared_type() {
    let src = "@group(0) @binding(1) var<storage, read_write> output: array<u32, 1024>;\n\
               @compute @workgroup_size(1) fn main() { output[1023] = 1u; }";
    assert_eq!(
        rejected(&job(src)),
        AbiError::OutputTooShort { len: 64, min: 4096 }
    );
}

#[test]
fn h27_invalid_module_store_to_read_only() {
    let src = simple(
        "@group(0) @binding(0) var<storage, read> input: array<u32>;",
        "@workgroup_size(1)",
        "input[0] = 1u;",
    );
    let err = rejected(&job(src));
    assert!(
        matches!(
            err,
            AbiError::Invalid {
                location: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn h28_non_uniform_barrier_does_not_hang_the_daemon() {
    // naga accepts a barrier under non-uniform control flow; the GPU may deadlock or not.
    // Either way the job ends (result or timeout) and the pool survives.
    let src = "@group(0) @binding(1) var<storage, read_write> output: array<u32>;\n\
        @compute @workgroup_size(64)\n\
        fn main(@builtin(local_invocation_index) li: u32) {\n\
            if li < 32u { workgroupBarrier(); }\n\
            output[li % 16u] = li;\n\
        }";
    let result = common::pool().execute_with_timeout(&job(src), Duration::from_secs(3));
    assert!(
        matches!(result, Ok(_) | Err(ExecError::Timeout { .. })),
        "{result:?}"
    );
    common::assert_pool_healthy();
}

#[test]
fn h29_deeply_nested_parentheses_are_a_parse_error() {
    // naga's parser limits nesting depth: 100,000 parentheses are refused, not recursed into.
    let depth = 100_000;
    let body = format!("output[1] = {}1u{};", "(".repeat(depth), ")".repeat(depth));
    let err = rejected(&job(simple("", "@workgroup_size(1)", &body)));
    assert!(matches!(err, AbiError::Parse { .. }), "{err:?}");
}

#[test]
fn h30_a_shader_that_overflows_the_parsers_stack_costs_only_the_validator() {
    // A left-deep chain of 100,000 additions: naga lowers and validates it recursively, which
    // overflows any thread's stack. Parsed in the daemon, this would abort the daemon.
    let body = format!("output[1] = 1u{};", " + 1u".repeat(99_999));
    let result = run(&job(simple("", "@workgroup_size(1)", &body)));
    let Err(ExecError::ValidationCrashed { status }) = &result else {
        panic!("expected a crashed validator, got {result:?}")
    };
    assert!(status.contains("signal"), "{status}");
    assert!(result
        .unwrap_err()
        .to_string()
        .contains("shader validation crashed the validator process"),);
}
