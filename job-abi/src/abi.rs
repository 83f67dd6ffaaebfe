//! ABI constants, the job descriptor and the limit structs validation runs against.

/// Version of this ABI; part of the result-hash domain (`compute-market/result/v1`).
pub const ABI_VERSION: u32 = 1;

/// The only bind group a job shader may use.
pub const BIND_GROUP: u32 = 0;
/// Binding of the input: `var<storage, read>`.
pub const BINDING_INPUT: u32 = 0;
/// Binding of the output: `var<storage, read_write>`, zero-initialised.
pub const BINDING_OUTPUT: u32 = 1;
/// Binding of the parameter block: `var<uniform>`.
pub const BINDING_PARAMS: u32 = 2;

/// How each binding must be declared, indexed by binding number (input, output, params, the
/// pass block and the four scratch buffers of ABI v2).
pub(crate) const BINDING_DECLARATIONS: [&str; 8] = [
    "var<storage, read>",
    "var<storage, read_write>",
    "var<uniform>",
    "var<uniform>",
    "var<storage, read_write>",
    "var<storage, read_write>",
    "var<storage, read_write>",
    "var<storage, read_write>",
];

/// Size of the uniform parameter block, in bytes. A job always carries exactly this many bytes;
/// the shader's uniform type may be smaller.
pub const PARAMS_LEN: usize = 32;

/// Largest accepted WGSL source, in bytes (1 MiB).
pub const MAX_SOURCE_LEN: usize = 1 << 20;
/// Longest accepted entry-point name, in bytes.
pub const MAX_ENTRY_POINT_LEN: usize = 32;
/// Largest input the ABI allows, in bytes (128 MiB, WebGPU's default storage-binding limit).
/// Devices and providers may allow less.
pub const MAX_INPUT_LEN: u64 = 128 << 20;
/// Largest output the ABI allows, in bytes (128 MiB). Devices and providers may allow less.
pub const MAX_OUTPUT_LEN: u64 = 128 << 20;
/// Most workgroups in one dispatch dimension (WebGPU's limit).
pub const MAX_WORKGROUPS_PER_DIMENSION: u32 = 65_535;
/// Most bytes of `var<private>` plus `var<function>` memory per invocation. Real GPUs spill
/// large per-thread arrays to slow scratch memory and software adapters put them on the stack,
/// so a huge private array is a resource attack rather than a useful job.
pub const MAX_PRIVATE_MEMORY: u64 = 16 << 10;
/// Most device memory one job's buffers may take together (input, output and scratch), in
/// bytes (1 GiB). Providers may allow less.
pub const MAX_JOB_MEMORY: u64 = 1 << 30;

/// A compute job, exactly as the ABI defines it (see the crate documentation).
///
/// A v1 job has no `passes`: one dispatch of `entry_point` over `workgroups`. A multi-pass job
/// (ABI v2, from a [`crate::Manifest`]) lists its passes, and `entry_point`/`workgroups` are its
/// first pass's (as on chain).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobDescriptor {
    /// WGSL source bytes (must be UTF-8).
    pub wgsl: Vec<u8>,
    /// Name of the `@compute` entry point.
    pub entry_point: String,
    /// Workgroup counts `[x, y, z]` of the single dispatch.
    pub workgroups: [u32; 3],
    /// Input bytes, bound read-only at binding 0.
    pub input: Vec<u8>,
    /// Output length in bytes; the output starts zeroed.
    pub output_len: u64,
    /// Uniform parameter block, bound at binding 2 (in every pass).
    pub params: [u8; PARAMS_LEN],
    /// ABI v2: the passes, in order (empty for a v1 job).
    pub passes: Vec<crate::Pass>,
    /// ABI v2: sizes of the scratch buffers at bindings 4…7, in bytes.
    pub scratch: Vec<u64>,
}

impl Default for JobDescriptor {
    /// An empty v1 job: no source, entry point `main`, one workgroup, 4 bytes of output.
    fn default() -> Self {
        Self {
            wgsl: Vec::new(),
            entry_point: "main".into(),
            workgroups: [1, 1, 1],
            input: Vec::new(),
            output_len: 4,
            params: [0; PARAMS_LEN],
            passes: Vec::new(),
            scratch: Vec::new(),
        }
    }
}

/// What a device can do. [`Limits::default`] is WebGPU's default limit set, which every
/// conforming adapter supports; the daemon passes its adapter's real limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest `@workgroup_size` per axis `[x, y, z]`.
    pub max_workgroup_size: [u32; 3],
    /// Largest product of the workgroup size.
    pub max_invocations_per_workgroup: u32,
    /// Most workgroups per dispatch dimension.
    pub max_workgroups_per_dimension: u32,
    /// Largest storage-buffer binding, in bytes.
    pub max_storage_binding_size: u64,
    /// Largest buffer, in bytes.
    pub max_buffer_size: u64,
    /// Most `var<workgroup>` bytes per workgroup.
    pub max_workgroup_storage_size: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_workgroup_size: [256, 256, 64],
            max_invocations_per_workgroup: 256,
            max_workgroups_per_dimension: MAX_WORKGROUPS_PER_DIMENSION,
            max_storage_binding_size: 128 << 20,
            max_buffer_size: 256 << 20,
            max_workgroup_storage_size: 16 << 10,
        }
    }
}

/// What a provider is willing to run (its policy, on top of the device's limits).
/// [`Caps::default`] is the ABI maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    /// Largest WGSL source, in bytes (at most [`MAX_SOURCE_LEN`]).
    pub max_source_len: usize,
    /// Largest input, in bytes.
    pub max_input_len: u64,
    /// Largest output, in bytes.
    pub max_output_len: u64,
    /// Most workgroups in one job (`x * y * z`, summed over every dispatch of every pass).
    pub max_total_workgroups: u64,
    /// Most dispatches in one job (every pass's repeat count, summed).
    pub max_dispatches: u64,
    /// Most device memory one job may take, in bytes ([`JobDescriptor::memory_bytes`]).
    pub max_job_memory: u64,
    /// Most private + function memory per invocation, in bytes.
    pub max_private_memory: u64,
}

impl Default for Caps {
    fn default() -> Self {
        Self {
            max_source_len: MAX_SOURCE_LEN,
            max_input_len: MAX_INPUT_LEN,
            max_output_len: MAX_OUTPUT_LEN,
            max_total_workgroups: u64::from(MAX_WORKGROUPS_PER_DIMENSION).pow(3),
            max_dispatches: crate::MAX_DISPATCHES,
            max_job_memory: MAX_JOB_MEMORY,
            max_private_memory: MAX_PRIVATE_MEMORY,
        }
    }
}

/// Which bound a job exceeded: the ABI itself, the device, or the provider's policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum LimitSource {
    /// A constant of this ABI.
    Abi,
    /// The adapter's limits ([`Limits`]).
    Device,
    /// The provider's configured caps ([`Caps`]).
    Provider,
}

impl std::fmt::Display for LimitSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LimitSource::Abi => "job ABI limit",
            LimitSource::Device => "device limit",
            LimitSource::Provider => "provider cap",
        })
    }
}

/// The smaller of an ABI, a device and a provider bound, with where it came from.
pub(crate) fn tightest(bounds: &[(u64, LimitSource)]) -> (u64, LimitSource) {
    bounds
        .iter()
        .copied()
        .min_by_key(|(value, _)| *value)
        .unwrap_or((u64::MAX, LimitSource::Abi))
}
