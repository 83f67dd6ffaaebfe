//! Job ABI v2: multi-pass jobs described by a manifest.
//!
//! A manifest is a JSON document stored as the job's *shader blob* (its SHA-256 is the on-chain
//! `shader_hash`, so it is content-addressed like any blob). It carries the WGSL module inline and
//! the passes to run over one fixed set of buffers. A blob whose first non-whitespace byte is `{`
//! is a manifest; anything else is WGSL source (ABI v1: one pass, no scratch buffers). WGSL
//! cannot start with `{`, so the rule is unambiguous.
//!
//! ```json
//! {"abi":2,
//!  "wgsl":"…the module…",
//!  "scratch":[4096],
//!  "passes":[{"entry_point":"step","workgroups":[4,1,1],"repeat":100,"args":[0,0,0,0]},
//!            {"entry_point":"finish","workgroups":[4,1,1]}]}
//! ```
//!
//! On chain, `entry_point` and `workgroups` hold the first pass's (so an explorer shows where
//! the job starts) and `params` the job's parameter block, bound unchanged in every pass. Each
//! pass also sees its own [`PassInfo`] block at binding 3 (its index, the iteration of its
//! repeat, and four `u32` arguments from the manifest).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::abi::{JobDescriptor, MAX_SOURCE_LEN};
use crate::error::AbiError;

/// The `abi` value of a manifest.
pub const MANIFEST_ABI: u32 = 2;
/// Largest manifest blob, in bytes: the largest source, escaped, plus room for the passes.
pub const MAX_MANIFEST_LEN: usize = 2 * MAX_SOURCE_LEN + (64 << 10);
/// Most passes in one manifest.
pub const MAX_PASSES: usize = 64;
/// Most dispatches in one job (the sum of every pass's repeat count).
pub const MAX_DISPATCHES: u64 = 16_384;
/// Most scratch buffers (bindings 4, 5, 6 and 7).
pub const MAX_SCRATCH_BUFFERS: usize = 4;
/// Binding of the pass block: `var<uniform>`, [`PASS_INFO_LEN`] bytes.
pub const BINDING_PASS: u32 = 3;
/// Binding of the first scratch buffer: `var<storage, read_write>`; scratch `i` is at
/// `BINDING_SCRATCH + i`.
pub const BINDING_SCRATCH: u32 = 4;
/// Size of the pass block bound at [`BINDING_PASS`].
pub const PASS_INFO_LEN: usize = 32;
/// Device memory counted per dispatch for its pass block: WebGPU's largest uniform-offset
/// alignment (a device may need less).
pub const PASS_BLOCK_STRIDE: u64 = 256;

/// One pass of a manifest: an entry point dispatched `repeat` times in a row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pass {
    /// The `@compute` entry point.
    pub entry_point: String,
    /// Workgroup counts `[x, y, z]` of each dispatch.
    pub workgroups: [u32; 3],
    /// How many times the pass is dispatched in a row (at least 1); the shader reads the current
    /// iteration from its [`PassInfo`].
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub repeat: u32,
    /// Four numbers passed to the shader in its [`PassInfo`] (a layer index, a direction, …).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub args: [u32; 4],
}

fn one() -> u32 {
    1
}
fn is_one(v: &u32) -> bool {
    *v == 1
}
fn is_zero(v: &[u32; 4]) -> bool {
    *v == [0; 4]
}

impl Pass {
    /// A pass dispatched once, without arguments.
    pub fn new(entry_point: impl Into<String>, workgroups: [u32; 3]) -> Self {
        Self {
            entry_point: entry_point.into(),
            workgroups,
            repeat: 1,
            args: [0; 4],
        }
    }

    /// This pass dispatched `count` times in a row.
    pub fn repeat(mut self, count: u32) -> Self {
        self.repeat = count;
        self
    }

    /// This pass with the given arguments.
    pub fn args(mut self, args: [u32; 4]) -> Self {
        self.args = args;
        self
    }
}

/// The block each dispatch sees at binding 3 (32 bytes, little-endian `u32`s):
///
/// ```wgsl
/// struct PassInfo { index: u32, iteration: u32, repeat: u32, passes: u32, args: vec4<u32> }
/// @group(0) @binding(3) var<uniform> pass_info: PassInfo;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PassInfo {
    /// Index of the pass in the manifest.
    pub index: u32,
    /// Which of the pass's `repeat` dispatches this is (from 0).
    pub iteration: u32,
    /// The pass's repeat count.
    pub repeat: u32,
    /// Number of passes in the job.
    pub passes: u32,
    /// The pass's arguments.
    pub args: [u32; 4],
}

impl PassInfo {
    /// The block's bytes.
    pub fn to_bytes(&self) -> [u8; PASS_INFO_LEN] {
        let mut out = [0u8; PASS_INFO_LEN];
        let words = [
            self.index,
            self.iteration,
            self.repeat,
            self.passes,
            self.args[0],
            self.args[1],
            self.args[2],
            self.args[3],
        ];
        for (chunk, word) in out.as_chunks_mut::<4>().0.iter_mut().zip(words) {
            *chunk = word.to_le_bytes();
        }
        out
    }
}

/// A multi-pass job's shader blob (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`MANIFEST_ABI`].
    pub abi: u32,
    /// The WGSL module every pass's entry point is in.
    pub wgsl: String,
    /// Sizes of the scratch buffers, in bytes (bindings 4…7): zeroed at the start of the job,
    /// kept between passes, never part of the result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scratch: Vec<u64>,
    /// The passes, run in order.
    pub passes: Vec<Pass>,
}

/// Whether a shader blob is a manifest (its first non-whitespace byte is `{`).
pub fn is_manifest(blob: &[u8]) -> bool {
    blob.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

impl Manifest {
    /// A manifest of `passes` over `wgsl` and `scratch` buffers.
    pub fn new(wgsl: impl Into<String>, scratch: Vec<u64>, passes: Vec<Pass>) -> Self {
        Self {
            abi: MANIFEST_ABI,
            wgsl: wgsl.into(),
            scratch,
            passes,
        }
    }

    /// Parses a manifest blob. Only the document's shape is checked here; [`crate::validate_job`]
    /// checks what it asks for.
    pub fn from_blob(blob: &[u8]) -> Result<Self, AbiError> {
        if blob.len() > MAX_MANIFEST_LEN {
            return Err(AbiError::ManifestInvalid {
                message: format!(
                    "the manifest is {} bytes; at most {MAX_MANIFEST_LEN}",
                    blob.len()
                ),
            });
        }
        let manifest: Manifest =
            serde_json::from_slice(blob).map_err(|e| AbiError::ManifestInvalid {
                message: e.to_string(),
            })?;
        if manifest.abi != MANIFEST_ABI {
            return Err(AbiError::ManifestInvalid {
                message: format!(
                    "abi is {}; this version reads manifests of abi {MANIFEST_ABI}",
                    manifest.abi
                ),
            });
        }
        if manifest.passes.is_empty() {
            return Err(AbiError::ManifestInvalid {
                message: "a manifest needs at least one pass".into(),
            });
        }
        // Before anything walks the passes (a 2 MiB blob holds ~50,000 of them).
        if manifest.passes.len() > MAX_PASSES {
            return Err(AbiError::TooManyPasses {
                count: manifest.passes.len(),
                max: MAX_PASSES,
            });
        }
        Ok(manifest)
    }

    /// The canonical blob: compact JSON, fields in declaration order. Its SHA-256 is the job's
    /// `shader_hash`.
    pub fn to_blob(&self) -> Vec<u8> {
        // A struct of strings, numbers and arrays always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The job this manifest describes, over `input` and an output of `output_len` bytes, with
    /// the job parameter block `params`.
    pub fn into_job(
        self,
        input: Vec<u8>,
        output_len: u64,
        params: [u8; crate::PARAMS_LEN],
    ) -> JobDescriptor {
        let first = self.passes[0].clone();
        JobDescriptor {
            wgsl: self.wgsl.into_bytes(),
            entry_point: first.entry_point,
            workgroups: first.workgroups,
            input,
            output_len,
            params,
            passes: self.passes,
            scratch: self.scratch,
        }
    }
}

impl JobDescriptor {
    /// Builds the job a shader blob describes, as read from chain: a manifest (ABI v2) or WGSL
    /// source (v1, one pass of `entry_point` over `workgroups`). For a manifest, `entry_point`
    /// and `workgroups` must be its first pass's ([`AbiError::ManifestMismatch`] otherwise).
    pub fn from_shader_blob(
        blob: Vec<u8>,
        entry_point: &str,
        workgroups: [u32; 3],
        input: Vec<u8>,
        output_len: u64,
        params: [u8; crate::PARAMS_LEN],
    ) -> Result<Self, AbiError> {
        if !is_manifest(&blob) {
            return Ok(Self {
                wgsl: blob,
                entry_point: entry_point.into(),
                workgroups,
                input,
                output_len,
                params,
                passes: Vec::new(),
                scratch: Vec::new(),
            });
        }
        let job = Manifest::from_blob(&blob)?.into_job(input, output_len, params);
        if job.entry_point != entry_point || job.workgroups != workgroups {
            return Err(AbiError::ManifestMismatch {
                entry_point: entry_point.into(),
                workgroups,
                first_entry_point: job.entry_point,
                first_workgroups: job.workgroups,
            });
        }
        Ok(job)
    }

    /// Whether this is a multi-pass (manifest) job.
    pub fn is_manifest(&self) -> bool {
        !self.passes.is_empty()
    }

    /// The passes to run: the manifest's (borrowed), or the single pass of a v1 job.
    pub fn effective_passes(&self) -> Cow<'_, [Pass]> {
        if self.passes.is_empty() {
            Cow::Owned(vec![Pass::new(self.entry_point.clone(), self.workgroups)])
        } else {
            Cow::Borrowed(&self.passes)
        }
    }

    /// How many passes the job runs (a v1 job: one).
    pub fn pass_count(&self) -> usize {
        self.passes.len().max(1)
    }

    /// The distinct entry points, in the order the passes first use them.
    pub fn entry_points(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for pass in self.effective_passes().iter() {
            if !names.contains(&pass.entry_point) {
                names.push(pass.entry_point.clone());
            }
        }
        names
    }

    /// The blob to store at the job's shader URI (whose SHA-256 goes on chain): the WGSL source
    /// of a v1 job, or the canonical manifest.
    pub fn shader_blob(&self) -> Vec<u8> {
        if self.passes.is_empty() {
            return self.wgsl.clone();
        }
        Manifest {
            abi: MANIFEST_ABI,
            wgsl: String::from_utf8_lossy(&self.wgsl).into_owned(),
            scratch: self.scratch.clone(),
            passes: self.passes.clone(),
        }
        .to_blob()
    }

    /// Total dispatches (every pass's repeat count, summed).
    pub fn dispatch_count(&self) -> u64 {
        self.effective_passes()
            .iter()
            .map(|p| u64::from(p.repeat))
            .sum()
    }

    /// Bytes of device memory the job takes: input, output, the output's readback copy,
    /// scratch buffers and one 256-byte pass block per dispatch (the largest uniform-offset
    /// alignment a device may require).
    pub fn memory_bytes(&self) -> u64 {
        let input = (self.input.len() as u64).max(4);
        let fixed = input
            .saturating_add(self.output_len.saturating_mul(2))
            .saturating_add(self.dispatch_count().saturating_mul(PASS_BLOCK_STRIDE));
        self.scratch.iter().fold(fixed, |a, &s| a.saturating_add(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest::new(
            "@group(0) @binding(1) var<storage, read_write> o: array<u32>;\n@compute @workgroup_size(1) fn a() { o[0] = 1u; }\n@compute @workgroup_size(1) fn b() { o[0] += 1u; }",
            vec![64],
            vec![
                Pass::new("a", [1, 1, 1]),
                Pass::new("b", [2, 1, 1]).repeat(3).args([7, 0, 0, 0]),
            ],
        )
    }

    #[test]
    fn a_manifest_blob_round_trips_and_is_told_from_wgsl() {
        let m = manifest();
        let blob = m.to_blob();
        assert!(is_manifest(&blob));
        assert!(!is_manifest(b"// comment\n@compute fn main() {}"));
        assert_eq!(Manifest::from_blob(&blob).unwrap(), m);
        let job = JobDescriptor::from_shader_blob(blob.clone(), "a", [1, 1, 1], vec![], 4, [0; 32])
            .unwrap();
        assert_eq!(job.shader_blob(), blob, "the canonical blob is reproduced");
        assert_eq!(job.dispatch_count(), 4);
        assert_eq!(job.entry_points(), ["a", "b"]);
    }

    #[test]
    fn a_manifest_must_agree_with_the_chains_first_pass() {
        let blob = manifest().to_blob();
        let err =
            JobDescriptor::from_shader_blob(blob, "b", [1, 1, 1], vec![], 4, [0; 32]).unwrap_err();
        assert!(matches!(err, AbiError::ManifestMismatch { .. }), "{err}");
    }

    #[test]
    fn malformed_manifests_are_refused_with_a_reason() {
        for (blob, needle) in [
            (&b"{"[..], "EOF"),
            (br#"{"abi":3,"wgsl":"","passes":[]}"#, "abi is 3"),
            (br#"{"abi":2,"wgsl":"","passes":[]}"#, "at least one pass"),
            (
                br#"{"abi":2,"wgsl":"","passes":[],"extra":1}"#,
                "unknown field",
            ),
            (
                br#"{"abi":2,"wgsl":"","passes":[{"entry_point":"a","workgroups":[1,1]}]}"#,
                "array of length 3",
            ),
        ] {
            let err = Manifest::from_blob(blob).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        let huge = vec![b' '; MAX_MANIFEST_LEN + 1];
        assert!(Manifest::from_blob(&huge)
            .unwrap_err()
            .to_string()
            .contains("at most"));
    }

    #[test]
    fn a_manifest_of_more_than_max_passes_is_refused_while_parsing() {
        let passes = (0..=MAX_PASSES)
            .map(|i| Pass::new(format!("p{i}"), [1, 1, 1]))
            .collect();
        let blob = Manifest::new("", Vec::new(), passes).to_blob();
        assert_eq!(
            Manifest::from_blob(&blob),
            Err(AbiError::TooManyPasses {
                count: MAX_PASSES + 1,
                max: MAX_PASSES
            })
        );
    }

    #[test]
    fn pass_info_is_little_endian_words() {
        let info = PassInfo {
            index: 1,
            iteration: 2,
            repeat: 3,
            passes: 4,
            args: [5, 6, 7, 0x0102_0304],
        };
        let bytes = info.to_bytes();
        assert_eq!(&bytes[..8], &[1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(&bytes[28..], &[4, 3, 2, 1]);
    }
}
