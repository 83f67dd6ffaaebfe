//! # Compute Market job ABI
//!
//! The one definition of what a compute job *is*, shared by the client SDK (which validates a job
//! before paying for it) and the provider daemon (which validates it again before it touches a
//! GPU). This crate has no GPU dependency: it parses and validates WGSL with `naga` and hashes
//! with `sha2`, so it builds anywhere the SDK does.
//!
//! ```text
//!  client SDK ──┐                        ┌── provider-daemon (parent: validate, hash)
//!               ├─ compute_market_job ───┤
//!  docs/tests ──┘  abi · validate · hash └── worker process (wgpu: compile, dispatch, read back)
//! ```
//!
//! ## The job ABI (version 1)
//!
//! A job ([`JobDescriptor`]) is:
//!
//! | field          | meaning                                                                  |
//! |----------------|--------------------------------------------------------------------------|
//! | `wgsl`         | WGSL source as bytes: UTF-8, non-empty, at most [`MAX_SOURCE_LEN`] bytes |
//! | `entry_point`  | name of a `@compute` function in that source                             |
//! | `workgroups`   | dispatch size `[x, y, z]`, each `1..=65_535` (and within the device)     |
//! | `input`        | bytes bound read-only at binding 0; length a multiple of 4 (may be 0)    |
//! | `output_len`   | length of the zero-initialised output at binding 1; multiple of 4, > 0   |
//! | `params`       | exactly [`PARAMS_LEN`] (32) bytes bound as a uniform at binding 2        |
//!
//! The shader sees exactly these bindings, all in `@group(0)`, and nothing else may be bound:
//!
//! ```wgsl
//! @group(0) @binding(0) var<storage, read>       input:  array<u32>;   // optional
//! @group(0) @binding(1) var<storage, read_write> output: array<u32>;   // required
//! @group(0) @binding(2) var<uniform>             params: Params;      // optional, <= 32 bytes
//! ```
//!
//! Element types are up to the shader (structs, vectors, atomics in the output); the bound sizes
//! must cover the types' minimum sizes (a runtime-sized array counts one element). An empty input
//! is bound as one zero `u32` (WebGPU cannot bind an empty buffer), so `arrayLength(&input)` is 1
//! for an empty input. Out-of-bounds accesses do what WGSL defines (loads return some in-bounds
//! value or zero, stores may be dropped or land in bounds); they never reach other memory.
//! `override` declarations and `var<immediate>` are not part of the ABI.
//!
//! ## Multi-pass jobs (version 2)
//!
//! A job's shader blob may instead be a [`Manifest`] (JSON; see [`manifest`](Manifest) for the
//! format): one WGSL module, up to [`MAX_SCRATCH_BUFFERS`] scratch buffers and up to
//! [`MAX_PASSES`] passes run in order, each an entry point, its workgroup counts, a repeat count
//! and four `u32` arguments. Every pass sees the same input, output and parameter block, plus:
//!
//! ```wgsl
//! struct PassInfo { index: u32, iteration: u32, repeat: u32, passes: u32, args: vec4<u32> }
//! @group(0) @binding(3) var<uniform>             pass_info: PassInfo;      // optional
//! @group(0) @binding(4) var<storage, read_write> scratch0:  array<u32>;    // 4..=7, optional
//! ```
//!
//! Scratch buffers start zeroed and keep their contents from pass to pass; only the output is
//! hashed. Each dispatch sees the results of every earlier one. A plain WGSL blob is a job of
//! one pass without scratch buffers, exactly as in version 1 (and it may read `pass_info`, all
//! zero but `repeat = passes = 1`). The whole job is checked before it is claimed: every entry
//! point, each pass's workgroups, the dispatches summed ([`MAX_DISPATCHES`], `Caps::max_dispatches`),
//! the workgroups summed over every dispatch (`Caps::max_total_workgroups`) and the memory of all
//! buffers together ([`MAX_JOB_MEMORY`], `Caps::max_job_memory`).
//!
//! ## Result hash
//!
//! [`result_hash`] is `SHA-256("compute-market/result/v1" || u64_le(output.len()) || output)`.
//! It is the only implementation: the provider publishes it and the SDK checks it.
//!
//! ## Determinism class
//!
//! [`DeterminismClass::Exact`] jobs use only integer and boolean arithmetic: every conforming GPU
//! gives the same bytes, so results can be verified by comparing hashes between providers.
//! [`DeterminismClass::Float`] jobs use any floating-point type or builtin; their bytes may differ
//! between GPUs, drivers and even CPU features of a software rasteriser, so **they cannot be
//! verified by comparing hashes**. (Exact also assumes the shader is race-free: unsynchronised
//! writes to the same output word are nondeterministic whatever the types.)
//!
//! ## Example
//!
//! ```
//! use compute_market_job::{validate_job, Caps, DeterminismClass, JobDescriptor, Limits};
//!
//! let job = JobDescriptor {
//!     wgsl: br#"
//!         @group(0) @binding(0) var<storage, read> input: array<u32>;
//!         @group(0) @binding(1) var<storage, read_write> output: array<u32>;
//!         @compute @workgroup_size(64)
//!         fn main(@builtin(global_invocation_id) id: vec3<u32>) {
//!             if id.x < arrayLength(&output) { output[id.x] = input[id.x] * 2u; }
//!         }"#
//!     .to_vec(),
//!     entry_point: "main".into(),
//!     workgroups: [1, 1, 1],
//!     input: vec![0; 256],
//!     output_len: 256,
//!     params: [0; compute_market_job::PARAMS_LEN],
//!     ..Default::default()
//! };
//! let info = validate_job(&job, &Limits::default(), &Caps::default())?;
//! assert_eq!(info.workgroup_size, [64, 1, 1]);
//! assert_eq!(info.determinism, DeterminismClass::Exact);
//! let hash = compute_market_job::result_hash(&[0u8; 256]);
//! assert_eq!(hash.len(), 32);
//! # Ok::<(), compute_market_job::AbiError>(())
//! ```

#![warn(missing_docs)]

mod abi;
mod error;
mod hash;
mod manifest;
mod validate;

pub use abi::{
    Caps, JobDescriptor, LimitSource, Limits, ABI_VERSION, BINDING_INPUT, BINDING_OUTPUT,
    BINDING_PARAMS, BIND_GROUP, MAX_ENTRY_POINT_LEN, MAX_INPUT_LEN, MAX_JOB_MEMORY, MAX_OUTPUT_LEN,
    MAX_PRIVATE_MEMORY, MAX_SOURCE_LEN, MAX_WORKGROUPS_PER_DIMENSION, PARAMS_LEN,
};
pub use error::{AbiError, Location};
pub use hash::{
    module_id, result_hash, sha256, shader_id, MODULE_ID_DOMAIN, RESULT_HASH_DOMAIN,
    SHADER_ID_DOMAIN,
};
pub use manifest::{
    is_manifest, Manifest, Pass, PassInfo, BINDING_PASS, BINDING_SCRATCH, MANIFEST_ABI,
    MAX_DISPATCHES, MAX_MANIFEST_LEN, MAX_PASSES, MAX_SCRATCH_BUFFERS, PASS_BLOCK_STRIDE,
    PASS_INFO_LEN,
};
pub use validate::{
    check_dispatch, validate_job, validate_module, validate_shader, DeterminismClass, ShaderInfo,
};
