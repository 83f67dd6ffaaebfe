//! One test per `AbiError` variant, plus the determinism classifier.

use super::*;
use crate::abi::MAX_OUTPUT_LEN;

const OK: &str = r#"
struct Params { n: u32, a: u32 }
@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x < params.n { output[id.x] = input[id.x] * params.a; }
}
"#;

const OUT: &str = "@group(0) @binding(1) var<storage, read_write> output: array<u32>;\n";

fn job(wgsl: &str) -> JobDescriptor {
    JobDescriptor {
        wgsl: wgsl.as_bytes().to_vec(),
        entry_point: "main".into(),
        workgroups: [1, 1, 1],
        input: vec![0; 64],
        output_len: 64,
        params: [0; PARAMS_LEN],
        ..Default::default()
    }
}

fn check(job: &JobDescriptor) -> Result<ShaderInfo, AbiError> {
    validate_job(job, &Limits::default(), &Caps::default())
}

fn shader(wgsl: &str) -> Result<ShaderInfo, AbiError> {
    check(&job(wgsl))
}

/// A compute shader with `body` inside `main` and `decls` before it.
fn with(decls: &str, body: &str) -> String {
    format!("{OUT}{decls}\n@compute @workgroup_size(1)\nfn main() {{ output[0] = 1u; {body} }}\n")
}

#[test]
fn accepts_the_reference_shader() {
    let info = shader(OK).unwrap();
    assert_eq!(info.workgroup_size, [64, 1, 1]);
    assert_eq!(info.determinism, DeterminismClass::Exact);
    assert!(info.declares_input && info.declares_params);
    assert_eq!(info.input_min_len, 4);
    assert_eq!(info.output_min_len, 4);
}

#[test]
fn classifies_float_shaders() {
    let float_body = shader(&with(
        "",
        "let x = f32(output[1]) * 0.5; output[2] = u32(x);",
    ))
    .unwrap();
    assert_eq!(float_body.determinism, DeterminismClass::Float);
    let float_type = shader(
        "@group(0) @binding(1) var<storage, read_write> output: array<f32>;\n\
         @compute @workgroup_size(1) fn main() { output[0] = 1.0; }",
    )
    .unwrap();
    assert_eq!(float_type.determinism, DeterminismClass::Float);
    let builtin = shader(&with("", "output[1] = pack4x8unorm(vec4(0.5));")).unwrap();
    assert_eq!(builtin.determinism, DeterminismClass::Float);
    let exact = shader(&with(
        "",
        "output[1] = countOneBits(output[2]) ^ (output[3] >> 2u);",
    ))
    .unwrap();
    assert_eq!(exact.determinism, DeterminismClass::Exact);
    assert!(DeterminismClass::Exact.is_hash_verifiable());
    assert!(!DeterminismClass::Float.is_hash_verifiable());
    assert!(DeterminismClass::Float
        .to_string()
        .contains("NOT verifiable"));
}

#[test]
fn source_empty() {
    assert_eq!(shader(""), Err(AbiError::SourceEmpty));
    assert_eq!(shader(" \n\t "), Err(AbiError::SourceEmpty));
}

#[test]
fn source_too_large() {
    let big = format!("{OK}{}", " ".repeat(MAX_SOURCE_LEN));
    assert!(matches!(
        shader(&big),
        Err(AbiError::SourceTooLarge {
            max: MAX_SOURCE_LEN,
            source_of_limit: LimitSource::Abi,
            ..
        })
    ));
    let caps = Caps {
        max_source_len: 100,
        ..Caps::default()
    };
    assert!(matches!(
        validate_job(&job(OK), &Limits::default(), &caps),
        Err(AbiError::SourceTooLarge {
            max: 100,
            source_of_limit: LimitSource::Provider,
            ..
        })
    ));
}

#[test]
fn source_not_utf8() {
    let mut j = job(OK);
    j.wgsl.splice(3..3, [0xff, 0xfe]);
    assert_eq!(check(&j), Err(AbiError::SourceNotUtf8 { valid_up_to: 3 }));
}

#[test]
fn parse_error_has_line_and_column() {
    let err = shader("@compute @workgroup_size(1)\nfn main() {\n    let x = ;\n}\n").unwrap_err();
    let AbiError::Parse {
        location,
        diagnostic,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        *location,
        Some(Location {
            line: 3,
            column: 13
        })
    );
    assert!(diagnostic.contains("let x = ;"), "{diagnostic}");
    assert!(
        err.to_string().starts_with("WGSL parse error at 3:13"),
        "{err}"
    );
}

#[test]
fn invalid_module() {
    let err = shader(&with("", "let x: u32 = 1i;")).unwrap_err();
    assert!(
        matches!(err, AbiError::Parse { .. } | AbiError::Invalid { .. }),
        "{err:?}"
    );
    // Writing through a read-only binding parses but fails naga's validator.
    let err = shader(&with(
        "@group(0) @binding(0) var<storage, read> input: array<u32>;",
        "input[0] = 1u;",
    ))
    .unwrap_err();
    let AbiError::Invalid {
        location, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        *location,
        Some(Location {
            line: 4,
            column: 29
        })
    );
    assert!(
        message.contains("not a valid destination") || message.contains("store"),
        "{message}"
    );
    assert!(err.to_string().starts_with("invalid WGSL at 4:29"), "{err}");
}

#[test]
fn entry_point_name_invalid() {
    let mut j = job(OK);
    j.entry_point = String::new();
    assert!(matches!(
        check(&j),
        Err(AbiError::EntryPointNameInvalid { len: 0, .. })
    ));
}

#[test]
fn entry_point_not_found() {
    let mut j = job(OK);
    j.entry_point = "nope".into();
    assert_eq!(
        check(&j),
        Err(AbiError::EntryPointNotFound {
            name: "nope".into(),
            available: vec!["main".into()]
        })
    );
}

#[test]
fn not_compute() {
    let vs = "@vertex fn main() -> @builtin(position) vec4<f32> { return vec4(0.0); }";
    assert_eq!(
        shader(&format!("{OUT}{vs}")),
        Err(AbiError::NotCompute {
            name: "main".into(),
            stage: "vertex".into()
        })
    );
    let fs = "@fragment fn main() -> @location(0) vec4<f32> { return vec4(1.0); }";
    assert_eq!(
        shader(&format!("{OUT}{fs}")),
        Err(AbiError::NotCompute {
            name: "main".into(),
            stage: "fragment".into()
        })
    );
}

#[test]
fn overrides_unsupported() {
    assert_eq!(
        shader(&with("override k: u32 = 4u;", "output[1] = k;")),
        Err(AbiError::OverridesUnsupported { name: "k".into() })
    );
}

#[test]
fn unexpected_binding() {
    assert_eq!(
        shader(&with(
            "@group(0) @binding(8) var<storage, read> extra: array<u32>;",
            ""
        )),
        Err(AbiError::UnexpectedBinding {
            name: "extra".into(),
            group: 0,
            binding: 8
        })
    );
    // Binding 3 is the pass block (a uniform), 4…7 the scratch buffers (read_write).
    assert_eq!(
        shader(&with(
            "@group(0) @binding(3) var<storage, read> extra: array<u32>;",
            ""
        )),
        Err(AbiError::WrongBindingType {
            name: "extra".into(),
            binding: 3,
            expected: "var<uniform>",
            found: "var<storage, read>".into(),
        })
    );
    assert_eq!(
        shader(&with(
            "@group(1) @binding(0) var<storage, read> extra: array<u32>;",
            ""
        )),
        Err(AbiError::UnexpectedBinding {
            name: "extra".into(),
            group: 1,
            binding: 0
        })
    );
}

#[test]
fn forbidden_address_space() {
    let err = shader(&with("var<immediate> k: u32;", "output[1] = k;")).unwrap_err();
    // naga's validator rejects immediates without the capability before the ABI check can.
    assert!(
        matches!(
            err,
            AbiError::Invalid { .. } | AbiError::ForbiddenAddressSpace { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn duplicate_binding() {
    let err = shader(&with(
        "@group(0) @binding(0) var<storage, read> a: array<u32>;\n\
         @group(0) @binding(0) var<storage, read> b: array<u32>;",
        "output[1] = a[0] + b[0];",
    ))
    .unwrap_err();
    assert!(
        matches!(
            &err,
            AbiError::DuplicateBinding { binding: 0, .. } | AbiError::Invalid { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn wrong_binding_types() {
    let err = shader(&with(
        "@group(0) @binding(0) var<storage, read_write> input: array<u32>;",
        "",
    ));
    assert_eq!(
        err,
        Err(AbiError::WrongBindingType {
            name: "input".into(),
            binding: 0,
            expected: "var<storage, read>",
            found: "var<storage, read_write>".into(),
        })
    );
    let out_uniform = "@group(0) @binding(1) var<uniform> output: vec4<u32>;\n\
        @compute @workgroup_size(1) fn main() { _ = output; }";
    assert!(matches!(
        shader(out_uniform),
        Err(AbiError::WrongBindingType { binding: 1, .. })
    ));
    assert!(matches!(
        shader(&with(
            "@group(0) @binding(2) var<storage, read> params: array<u32>;",
            ""
        )),
        Err(AbiError::WrongBindingType { binding: 2, .. })
    ));
    assert!(matches!(
        shader(&with("@group(0) @binding(2) var tex: texture_2d<f32>;", "")),
        Err(AbiError::WrongBindingType { binding: 2, .. })
    ));
}

#[test]
fn missing_output_binding() {
    let src = "@group(0) @binding(0) var<storage, read> input: array<u32>;\n\
        @compute @workgroup_size(1) fn main() { _ = input[0]; }";
    assert_eq!(shader(src), Err(AbiError::MissingOutputBinding));
}

#[test]
fn params_too_large() {
    assert_eq!(
        shader(&with(
            "@group(0) @binding(2) var<uniform> params: array<vec4<u32>, 3>;",
            ""
        )),
        Err(AbiError::ParamsTooLarge { size: 48, max: 32 })
    );
}

#[test]
fn workgroup_size_and_invocations() {
    let src = |size: &str| {
        format!("{OUT}@compute @workgroup_size({size}) fn main() {{ output[0] = 1u; }}")
    };
    assert!(matches!(
        shader(&src("1024")),
        Err(AbiError::WorkgroupSizeTooLarge {
            axis: 'x',
            size: 1024,
            max: 256,
            ..
        })
    ));
    assert!(matches!(
        shader(&src("1, 1, 65")),
        Err(AbiError::WorkgroupSizeTooLarge {
            axis: 'z',
            size: 65,
            max: 64,
            ..
        })
    ));
    assert!(matches!(
        shader(&src("32, 16")),
        Err(AbiError::TooManyInvocations {
            invocations: 512,
            max: 256,
            ..
        })
    ));
}

#[test]
fn workgroup_storage_too_large() {
    assert!(matches!(
        shader(&with(
            "var<workgroup> big: array<u32, 8192>;",
            "big[0] = 1u;"
        )),
        Err(AbiError::WorkgroupStorageTooLarge {
            bytes: 32768,
            max: 16384,
            ..
        })
    ));
}

#[test]
fn private_memory_too_large() {
    assert!(matches!(
        shader(&with(
            "var<private> big: array<u32, 1048576>;",
            "big[0] = 1u;"
        )),
        Err(AbiError::PrivateMemoryTooLarge {
            bytes: 4_194_304,
            ..
        })
    ));
    assert!(matches!(
        shader(&with(
            "",
            "var local: array<u32, 8192>; local[1] = 2u; output[1] = local[1];"
        )),
        Err(AbiError::PrivateMemoryTooLarge { bytes: 32768, .. })
    ));
}

#[test]
fn workgroup_counts() {
    let mut j = job(OK);
    j.workgroups = [1, 0, 1];
    assert_eq!(check(&j), Err(AbiError::WorkgroupCountZero { axis: 'y' }));
    j.workgroups = [70_000, 1, 1];
    assert!(matches!(
        check(&j),
        Err(AbiError::WorkgroupCountTooLarge {
            axis: 'x',
            count: 70_000,
            max: 65_535,
            ..
        })
    ));
    j.workgroups = [1000, 1000, 1];
    let caps = Caps {
        max_total_workgroups: 100_000,
        ..Caps::default()
    };
    assert!(matches!(
        validate_job(&j, &Limits::default(), &caps),
        Err(AbiError::TooManyWorkgroups {
            total: 1_000_000,
            max: 100_000,
            ..
        })
    ));
}

#[test]
fn input_checks() {
    let mut j = job(OK);
    j.input = vec![0; 6];
    assert_eq!(check(&j), Err(AbiError::InputNotAligned { len: 6 }));
    j.input = vec![0; 1024];
    let caps = Caps {
        max_input_len: 512,
        ..Caps::default()
    };
    assert!(matches!(
        validate_job(&j, &Limits::default(), &caps),
        Err(AbiError::InputTooLarge {
            len: 1024,
            max: 512,
            source_of_limit: LimitSource::Provider
        })
    ));
    let fixed = "@group(0) @binding(0) var<storage, read> input: array<u32, 16>;\n\
        @group(0) @binding(1) var<storage, read_write> output: array<u32>;\n\
        @compute @workgroup_size(1) fn main() { output[0] = input[15]; }";
    let mut j = job(fixed);
    j.input = vec![0; 32];
    assert_eq!(check(&j), Err(AbiError::InputTooShort { len: 32, min: 64 }));
    j.input = vec![];
    assert_eq!(check(&j), Err(AbiError::InputTooShort { len: 4, min: 64 }));
    j.input = vec![0; 64];
    assert!(check(&j).is_ok());
}

#[test]
fn output_checks() {
    let mut j = job(OK);
    j.output_len = 0;
    assert_eq!(check(&j), Err(AbiError::OutputEmpty));
    j.output_len = 10;
    assert_eq!(check(&j), Err(AbiError::OutputNotAligned { len: 10 }));
    j.output_len = MAX_OUTPUT_LEN + 4;
    assert!(matches!(
        check(&j),
        Err(AbiError::OutputTooLarge {
            source_of_limit: LimitSource::Abi,
            ..
        })
    ));
    let small_device = Limits {
        max_storage_binding_size: 1024,
        ..Limits::default()
    };
    j.output_len = 2048;
    assert!(matches!(
        validate_job(&j, &small_device, &Caps::default()),
        Err(AbiError::OutputTooLarge {
            max: 1024,
            source_of_limit: LimitSource::Device,
            ..
        })
    ));
    let fixed = "@group(0) @binding(1) var<storage, read_write> output: array<u32, 8>;\n\
        @compute @workgroup_size(1) fn main() { output[7] = 1u; }";
    let mut j = job(fixed);
    j.output_len = 16;
    assert_eq!(
        check(&j),
        Err(AbiError::OutputTooShort { len: 16, min: 32 })
    );
}

/// A verdict reported by a validator in another process comes back as the same typed error.
#[cfg(feature = "serde")]
#[test]
fn errors_round_trip_through_serde() {
    let wrong_types = [
        "@group(0) @binding(0) var<storage, read_write> input: array<u32>;",
        "@group(0) @binding(1) var<uniform> o: vec4<u32>;",
        "@group(0) @binding(2) var<storage, read> params: array<u32>;",
    ];
    let mut errors: Vec<AbiError> = wrong_types
        .iter()
        .map(|decl| {
            let src = format!("{decl}\n@compute @workgroup_size(1) fn main() {{}}");
            shader(&src).expect_err(decl)
        })
        .collect();
    errors.push(shader(&format!("{OUT}@compute fn main( {{")).expect_err("parse"));
    errors.push(shader("").expect_err("empty"));
    for error in errors {
        let json = serde_json::to_string(&error).expect("serializes");
        let back: AbiError = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, error, "{json}");
    }
    let forged =
        r#"{"WrongBindingType":{"name":"x","binding":0,"expected":"var<private>","found":"y"}}"#;
    assert!(serde_json::from_str::<AbiError>(forged).is_err());
}

// --- ABI v2: manifests ---

const MULTI: &str = r#"
struct PassInfo { index: u32, iteration: u32, repeat: u32, passes: u32, args: vec4<u32> }
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@group(0) @binding(3) var<uniform> pass_info: PassInfo;
@group(0) @binding(4) var<storage, read_write> acc: array<u32, 16>;
@compute @workgroup_size(16)
fn step(@builtin(global_invocation_id) id: vec3<u32>) { acc[id.x] += pass_info.iteration + pass_info.args.x; }
@compute @workgroup_size(16)
fn finish(@builtin(global_invocation_id) id: vec3<u32>) { output[id.x] = acc[id.x]; }
"#;

fn multi(scratch: Vec<u64>, passes: Vec<crate::Pass>) -> JobDescriptor {
    crate::Manifest::new(MULTI, scratch, passes).into_job(Vec::new(), 64, [0; PARAMS_LEN])
}

fn two_passes() -> Vec<crate::Pass> {
    vec![
        crate::Pass::new("step", [1, 1, 1]).repeat(10),
        crate::Pass::new("finish", [1, 1, 1]),
    ]
}

#[test]
fn a_manifest_validates_every_entry_point_and_its_scratch() {
    let info = check(&multi(vec![64], two_passes())).unwrap();
    assert_eq!(info.scratch_min_len, [Some(64), None, None, None]);
    assert_eq!(info.determinism, DeterminismClass::Exact);

    let mut passes = two_passes();
    passes[1].entry_point = "nope".into();
    assert!(matches!(
        check(&multi(vec![64], passes)),
        Err(AbiError::EntryPointNotFound { .. })
    ));
    assert_eq!(
        check(&multi(vec![], two_passes())),
        Err(AbiError::ScratchMissing {
            index: 0,
            binding: 4,
            available: 0
        })
    );
    assert_eq!(
        check(&multi(vec![32], two_passes())),
        Err(AbiError::ScratchTooShort {
            index: 0,
            len: 32,
            min: 64
        })
    );
    assert_eq!(
        check(&multi(vec![64, 6], two_passes())),
        Err(AbiError::ScratchInvalid { index: 1, len: 6 })
    );
    assert!(matches!(
        check(&multi(vec![64; 5], two_passes())),
        Err(AbiError::TooManyScratchBuffers { count: 5, .. })
    ));
}

#[test]
fn a_manifests_whole_job_limits_are_checked_before_claiming() {
    let mut passes = two_passes();
    passes[0].repeat = 0;
    let err = check(&multi(vec![64], passes)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "pass 0 (`step`): a pass's repeat count must be at least 1"
    );

    let mut passes = two_passes();
    passes[1].workgroups = [1, 0, 1];
    assert!(matches!(
        check(&multi(vec![64], passes)),
        Err(AbiError::InPass { pass: 1, .. })
    ));

    let mut passes = two_passes();
    passes[0].repeat = 20_000;
    let err = check(&multi(vec![64], passes)).unwrap_err();
    assert_eq!(
        err,
        AbiError::TooManyDispatches {
            count: 20_001,
            max: crate::MAX_DISPATCHES,
            source_of_limit: LimitSource::Abi
        }
    );

    // The provider's caps: dispatches, workgroups summed over every dispatch, memory.
    let caps = Caps {
        max_dispatches: 8,
        ..Caps::default()
    };
    let err = validate_job(&multi(vec![64], two_passes()), &Limits::default(), &caps).unwrap_err();
    assert_eq!(err.limit_source(), Some(LimitSource::Provider));
    let caps = Caps {
        max_total_workgroups: 10,
        ..Caps::default()
    };
    assert_eq!(
        validate_job(&multi(vec![64], two_passes()), &Limits::default(), &caps),
        Err(AbiError::TooManyWorkgroups {
            total: 11,
            max: 10,
            source_of_limit: LimitSource::Provider
        })
    );
    let caps = Caps {
        max_job_memory: 1000,
        ..Caps::default()
    };
    // Input (an empty one is bound as 4 bytes), output and its readback copy, scratch, and
    // 256 bytes of pass block per dispatch.
    assert_eq!(
        validate_job(&multi(vec![64], two_passes()), &Limits::default(), &caps),
        Err(AbiError::JobMemoryTooLarge {
            bytes: 4 + 2 * 64 + 64 + 11 * 256,
            max: 1000,
            source_of_limit: LimitSource::Provider
        })
    );
}

#[test]
fn too_many_passes_are_refused() {
    let passes = vec![crate::Pass::new("finish", [1, 1, 1]); crate::MAX_PASSES + 1];
    assert!(matches!(
        check(&multi(vec![64], passes)),
        Err(AbiError::TooManyPasses { .. })
    ));
}

#[test]
fn a_pass_block_larger_than_32_bytes_is_refused() {
    let wgsl = format!(
        "{OUT}struct Big {{ a: array<vec4<u32>, 3> }}\n@group(0) @binding(3) var<uniform> big: Big;\n@compute @workgroup_size(1) fn main() {{ output[0] = big.a[0].x; }}"
    );
    assert_eq!(
        shader(&wgsl),
        Err(AbiError::PassInfoTooLarge { size: 48, max: 32 })
    );
}
