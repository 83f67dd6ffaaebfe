//! A validated job, built before any RPC or payment: the shader is checked against the job ABI
//! with the same code the provider daemon runs (`compute-market-job`), and sizes, replicas,
//! quorum and deadlines against the program's rules.
//!
//! ```
//! use compute_market_sdk::JobSpec;
//!
//! let job = JobSpec::builder()
//!     .shader_wgsl(r#"
//!         @group(0) @binding(0) var<storage, read> input: array<u32>;
//!         @group(0) @binding(1) var<storage, read_write> output: array<u32>;
//!         @compute @workgroup_size(64)
//!         fn main(@builtin(global_invocation_id) id: vec3<u32>) {
//!             if id.x < arrayLength(&output) { output[id.x] = input[id.x] * 3u; }
//!         }"#)
//!     .entry_point("main")
//!     .input(vec![1; 256])
//!     .output_len(256)
//!     .workgroups([1, 1, 1])
//!     .reward(1_000)
//!     .replicas(3, 2)
//!     .build()?;
//! assert!(job.warnings.is_empty());
//! # Ok::<(), compute_market_sdk::SdkError>(())
//! ```

use std::time::Duration;

use compute_market_job::{
    validate_job, Caps, DeterminismClass, JobDescriptor, Limits, Manifest, Pass, ShaderInfo,
};

use crate::error::{Result, SdkError};
use crate::types::{
    check_replication, ClaimRules, Determinism, JobPostArgs, MarketError, MinCapabilities,
    OnChainJobSpec as OnChainSpec, MAX_ALLOWLIST, MAX_ENTRY_POINT_LEN, MAX_REPLICAS, MAX_URI_LEN,
    PARAMS_LEN,
};

/// When a job's phases end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Deadlines {
    /// The market's default windows.
    #[default]
    MarketDefault,
    /// Windows from posting: claim, then commit (or submit), then reveal.
    Windows {
        /// Claim window after posting.
        claim: Duration,
        /// Commit window after the claim deadline.
        commit: Duration,
        /// Reveal window after the commit deadline (ignored with one replica).
        reveal: Duration,
    },
}

/// Entry point to [`JobSpecBuilder`].
pub struct JobSpec;

impl JobSpec {
    /// A builder with defaults: entry point `main`, one workgroup, one replica, no input, zero
    /// params, market-default deadlines, no minimum capabilities.
    pub fn builder() -> JobSpecBuilder {
        JobSpecBuilder::default()
    }

    /// A builder holding everything the job ABI describes (shader, entry point, input, params,
    /// output length, workgroups, and a multi-pass job's passes and scratch buffers); add the
    /// reward and replicas.
    pub fn from_descriptor(job: &JobDescriptor) -> JobSpecBuilder {
        let builder = JobSpecBuilder::default()
            .shader_wgsl(&job.wgsl)
            .entry_point(&job.entry_point)
            .input(job.input.clone())
            .params(job.params)
            .output_len(job.output_len)
            .workgroups(job.workgroups);
        if job.is_manifest() {
            builder
                .passes(job.passes.clone())
                .scratch(job.scratch.clone())
        } else {
            builder
        }
    }

    /// A builder for a multi-pass job (job ABI v2): the manifest's module, passes and scratch
    /// buffers; add the input, output length, params, reward and replicas.
    pub fn from_manifest(manifest: Manifest) -> JobSpecBuilder {
        JobSpecBuilder::default()
            .shader_wgsl(manifest.wgsl.as_bytes())
            .passes(manifest.passes)
            .scratch(manifest.scratch)
    }
}

/// Builds a [`ValidatedJob`].
#[derive(Clone, Debug)]
pub struct JobSpecBuilder {
    wgsl: Option<Vec<u8>>,
    entry_point: String,
    input: Vec<u8>,
    params: [u8; PARAMS_LEN],
    output_len: Option<u64>,
    workgroups: [u32; 3],
    passes: Vec<Pass>,
    scratch: Vec<u64>,
    reward: Option<u64>,
    replicas: u8,
    quorum: u8,
    deadlines: Deadlines,
    min_capabilities: MinCapabilities,
    rules: ClaimRules,
    limits: Limits,
}

impl Default for JobSpecBuilder {
    fn default() -> Self {
        Self {
            wgsl: None,
            entry_point: "main".into(),
            input: Vec::new(),
            params: [0; PARAMS_LEN],
            output_len: None,
            workgroups: [1, 1, 1],
            passes: Vec::new(),
            scratch: Vec::new(),
            reward: None,
            replicas: 1,
            quorum: 1,
            deadlines: Deadlines::MarketDefault,
            min_capabilities: MinCapabilities::default(),
            rules: ClaimRules::default(),
            limits: Limits::default(),
        }
    }
}

impl JobSpecBuilder {
    /// The WGSL source.
    pub fn shader_wgsl(mut self, source: impl AsRef<[u8]>) -> Self {
        self.wgsl = Some(source.as_ref().to_vec());
        self
    }
    /// The `@compute` entry point.
    pub fn entry_point(mut self, name: impl Into<String>) -> Self {
        self.entry_point = name.into();
        self
    }
    /// Input bytes (bound read-only at binding 0).
    pub fn input(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.input = bytes.into();
        self
    }
    /// The 32-byte uniform parameter block (binding 2).
    pub fn params(mut self, params: [u8; PARAMS_LEN]) -> Self {
        self.params = params;
        self
    }
    /// Output length in bytes (binding 1, zero-initialised).
    pub fn output_len(mut self, len: u64) -> Self {
        self.output_len = Some(len);
        self
    }
    /// Workgroup counts of the dispatch.
    pub fn workgroups(mut self, workgroups: [u32; 3]) -> Self {
        self.workgroups = workgroups;
        self
    }
    /// Multi-pass job (ABI v2): the passes, run in order. The first pass's entry point and
    /// workgroups replace [`Self::entry_point`] and [`Self::workgroups`] (they go on chain).
    pub fn passes(mut self, passes: Vec<Pass>) -> Self {
        self.passes = passes;
        self
    }
    /// Multi-pass job (ABI v2): sizes of the scratch buffers at bindings 4…7, in bytes.
    pub fn scratch(mut self, sizes: Vec<u64>) -> Self {
        self.scratch = sizes;
        self
    }
    /// Reward per agreeing replica, in base units of the market's mint.
    pub fn reward(mut self, amount: u64) -> Self {
        self.reward = Some(amount);
        self
    }
    /// `n` replicas, `k` of which must agree.
    pub fn replicas(mut self, n: u8, k: u8) -> Self {
        self.replicas = n;
        self.quorum = k;
        self
    }
    /// Phase deadlines.
    pub fn deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }
    /// Least capabilities a provider must publish to claim.
    pub fn min_capabilities(mut self, min: MinCapabilities) -> Self {
        self.min_capabilities = min;
        self
    }
    /// Who may claim (an allowlist of provider accounts and/or a minimum record); default:
    /// any active provider meeting the market's rules.
    pub fn claim_rules(mut self, rules: ClaimRules) -> Self {
        self.rules = rules;
        self
    }
    /// Device limits to validate against (default: WebGPU's defaults, which every adapter
    /// supports; raising them lets fewer providers run the job).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Validates everything; nothing is sent or paid.
    pub fn build(self) -> Result<ValidatedJob> {
        let wgsl = self
            .wgsl
            .ok_or_else(|| SdkError::InvalidJob("a shader is required (shader_wgsl)".into()))?;
        let output_len = self
            .output_len
            .ok_or_else(|| SdkError::InvalidJob("an output length is required".into()))?;
        let reward = self
            .reward
            .ok_or_else(|| SdkError::InvalidJob("a reward is required".into()))?;
        if reward == 0 {
            return Err(SdkError::InvalidJob("the reward must be positive".into()));
        }
        let (n, k) = (self.replicas, self.quorum);
        // The program's own rule, checked here too (the float part once the shader is known).
        match check_replication(n, k, Determinism::Exact) {
            Err(MarketError::InvalidReplicas) => {
                return Err(SdkError::InvalidJob(format!(
                    "replicas must be 1 or 3..={MAX_REPLICAS}, got {n} (with 2, one replica \
                     could veto the other's payment)"
                )))
            }
            Err(_) => {
                return Err(SdkError::InvalidJob(format!(
                    "quorum {k} of {n} is not allowed: use 1 of 1, or a strict majority (more than {} of {n})",
                    n / 2
                )))
            }
            Ok(()) => {}
        }
        if self.rules.allowlist.len() > MAX_ALLOWLIST {
            return Err(SdkError::InvalidJob(format!(
                "the allowlist names {} providers; at most {MAX_ALLOWLIST}",
                self.rules.allowlist.len()
            )));
        }
        if self.entry_point.len() > MAX_ENTRY_POINT_LEN {
            return Err(SdkError::InvalidJob(format!(
                "entry point name is {} bytes; at most {MAX_ENTRY_POINT_LEN}",
                self.entry_point.len()
            )));
        }
        if let Deadlines::Windows {
            claim,
            commit,
            reveal,
        } = self.deadlines
        {
            let total = claim + commit + if n > 1 { reveal } else { Duration::ZERO };
            if claim.as_secs() == 0
                || commit.as_secs() == 0
                || (n > 1 && reveal.as_secs() == 0)
                || total > Duration::from_secs(30 * 24 * 3600)
            {
                return Err(SdkError::InvalidJob(
                    "deadline windows must each be at least 1 s and together at most 30 days"
                        .into(),
                ));
            }
        }
        if self.passes.is_empty() && !self.scratch.is_empty() {
            return Err(SdkError::InvalidJob(
                "scratch buffers belong to a multi-pass job: add passes".into(),
            ));
        }
        let (entry_point, workgroups) = match self.passes.first() {
            Some(first) => (first.entry_point.clone(), first.workgroups),
            None => (self.entry_point, self.workgroups),
        };
        let descriptor = JobDescriptor {
            wgsl,
            entry_point,
            workgroups,
            input: self.input,
            output_len,
            params: self.params,
            passes: self.passes,
            scratch: self.scratch,
        };
        let info = validate_job(&descriptor, &self.limits, &Caps::default())?;
        let warnings = Vec::new();
        if info.determinism == DeterminismClass::Float && n > 1 {
            return Err(SdkError::InvalidJob(format!(
                "this shader uses floating point: {n} replicas may legitimately produce different \
                 bytes on different GPUs, and an honest one would be slashed for rounding; the \
                 market takes one replica for float jobs (or write the shader with integers only)"
            )));
        }
        Ok(ValidatedJob {
            limits: self.limits,
            descriptor,
            info,
            reward_per_replica: reward,
            replicas: n,
            quorum: k,
            deadlines: self.deadlines,
            min_capabilities: self.min_capabilities,
            rules: self.rules,
            warnings,
        })
    }
}

/// A job that passed every check the SDK can make without the chain.
#[derive(Clone, Debug)]
pub struct ValidatedJob {
    /// The job as the ABI defines it.
    pub descriptor: JobDescriptor,
    /// What validation learned (workgroup size, determinism class, ...).
    pub info: ShaderInfo,
    /// Reward per agreeing replica.
    pub reward_per_replica: u64,
    /// `n`.
    pub replicas: u8,
    /// `k`.
    pub quorum: u8,
    /// Phase deadlines.
    pub deadlines: Deadlines,
    /// Least provider capabilities.
    pub min_capabilities: MinCapabilities,
    /// Who may claim.
    pub rules: ClaimRules,
    /// Things worth telling the user (advisories that do not stop the job).
    pub warnings: Vec<String>,
    /// The device limits it was validated against.
    limits: Limits,
}

impl ValidatedJob {
    /// The same job (reward, replicas, deadlines, claim rules) computing `descriptor` instead,
    /// validated again: how a job is split into shards ([`crate::shard`]).
    pub fn with_descriptor(&self, descriptor: JobDescriptor) -> Result<ValidatedJob> {
        let info = validate_job(&descriptor, &self.limits, &Caps::default())?;
        if info.determinism != self.info.determinism {
            return Err(SdkError::InvalidJob(
                "a shard must have its whole job's determinism class".into(),
            ));
        }
        Ok(ValidatedJob {
            descriptor,
            info,
            warnings: Vec::new(),
            ..self.clone()
        })
    }

    /// On-chain determinism class. Only `Exact` jobs can be verified by comparing hashes.
    pub fn determinism(&self) -> Determinism {
        match self.info.determinism {
            DeterminismClass::Exact => Determinism::Exact,
            DeterminismClass::Float => Determinism::Float,
        }
    }

    /// The escrow this job takes at a market charging `fee_bps`: `n × (reward + fee)`.
    pub fn escrow_total(&self, fee_bps: u16) -> Option<u64> {
        let fee = u64::try_from(u128::from(self.reward_per_replica) * u128::from(fee_bps) / 10_000)
            .ok()?;
        self.reward_per_replica
            .checked_add(fee)?
            .checked_mul(u64::from(self.replicas))
    }

    /// The `job_post` arguments, once the blobs are uploaded. `now` is the chain's Unix time
    /// (windows are turned into deadlines from it).
    pub fn post_args(
        &self,
        job_id: u64,
        shader_uri: &str,
        input_uri: &str,
        now: i64,
    ) -> Result<JobPostArgs> {
        for uri in [shader_uri, input_uri] {
            if uri.len() > MAX_URI_LEN {
                return Err(SdkError::InvalidJob(format!(
                    "blob URI is {} bytes; at most {MAX_URI_LEN}: {uri}",
                    uri.len()
                )));
            }
        }
        let input_uri = if self.descriptor.input.is_empty() {
            ""
        } else {
            input_uri
        };
        let (claim, commit, reveal) = match self.deadlines {
            Deadlines::MarketDefault => (0, 0, 0),
            Deadlines::Windows {
                claim,
                commit,
                reveal,
            } => {
                let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                let claim = now.saturating_add(secs(claim));
                let commit = claim.saturating_add(secs(commit));
                let reveal = if self.replicas > 1 {
                    commit.saturating_add(secs(reveal))
                } else {
                    0
                };
                (claim, commit, reveal)
            }
        };
        let to_u32 = |what: &str, v: u64| {
            u32::try_from(v).map_err(|_| SdkError::InvalidJob(format!("{what} {v} is too large")))
        };
        Ok(JobPostArgs {
            job_id,
            spec: OnChainSpec {
                min_capabilities: self.min_capabilities,
                shader_hash: compute_market_job::sha256(&self.descriptor.shader_blob()),
                input_hash: compute_market_job::sha256(&self.descriptor.input),
                input_len: to_u32("input length", self.descriptor.input.len() as u64)?,
                output_len: to_u32("output length", self.descriptor.output_len)?,
                workgroups: self.descriptor.workgroups,
                params: self.descriptor.params,
                determinism: self.determinism() as u8,
                padding: [0; 3],
            },
            entry_point: self.descriptor.entry_point.clone(),
            shader_uri: shader_uri.to_string(),
            input_uri: input_uri.to_string(),
            reward_per_replica: self.reward_per_replica,
            replicas: self.replicas,
            quorum: self.quorum,
            claim_deadline: claim,
            commit_deadline: commit,
            reveal_deadline: reveal,
            rules: self.rules.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOUBLE: &str = include_str!("../../tests/fixtures/double_u32.wgsl");
    const FLOAT: &str = r#"
        @group(0) @binding(1) var<storage, read_write> output: array<f32>;
        @compute @workgroup_size(64)
        fn main(@builtin(global_invocation_id) id: vec3<u32>) {
            if id.x < arrayLength(&output) { output[id.x] = sqrt(f32(id.x)); }
        }"#;

    fn base() -> JobSpecBuilder {
        JobSpec::builder()
            .shader_wgsl(DOUBLE)
            .input(vec![0; 256])
            .output_len(256)
            .reward(10)
    }

    #[test]
    fn a_good_job_builds_and_converts_to_post_args() {
        let job = base().replicas(3, 2).build().unwrap();
        assert_eq!(job.determinism(), Determinism::Exact);
        assert_eq!(job.escrow_total(500), Some(3 * 10));
        assert_eq!(
            base().reward(1_000).build().unwrap().escrow_total(500),
            Some(1_050)
        );
        let args = job.post_args(9, "file:///s", "file:///i", 1_000).unwrap();
        assert_eq!(
            args.spec.shader_hash,
            compute_market_job::sha256(DOUBLE.as_bytes())
        );
        assert_eq!(
            (args.replicas, args.quorum, args.spec.output_len),
            (3, 2, 256)
        );
        assert_eq!(
            (
                args.claim_deadline,
                args.commit_deadline,
                args.reveal_deadline
            ),
            (0, 0, 0)
        );
        let windows = base()
            .deadlines(Deadlines::Windows {
                claim: Duration::from_secs(10),
                commit: Duration::from_secs(20),
                reveal: Duration::from_secs(30),
            })
            .replicas(3, 2)
            .build()
            .unwrap()
            .post_args(1, "a", "b", 1_000)
            .unwrap();
        assert_eq!(
            (
                windows.claim_deadline,
                windows.commit_deadline,
                windows.reveal_deadline
            ),
            (1_010, 1_030, 1_060)
        );
    }

    #[test]
    fn bad_jobs_are_refused_before_any_rpc() {
        let err = |b: JobSpecBuilder| b.build().unwrap_err().to_string();
        assert!(err(JobSpec::builder().output_len(4).reward(1)).contains("shader is required"));
        assert!(err(base().replicas(0, 0)).contains("replicas must be"));
        assert!(err(base().replicas(8, 5)).contains("replicas must be"));
        assert!(err(base().replicas(4, 2)).contains("strict majority"));
        assert!(err(base().replicas(1, 2)).contains("quorum 2 of 1"));
        assert!(err(base().reward(0)).contains("reward must be positive"));
        assert!(err(base().entry_point("x".repeat(33))).contains("at most 32"));
        assert!(err(base().shader_wgsl("fn broken(")).contains("invalid shader"));
        assert!(err(base().entry_point("nope")).contains("invalid shader"));
        assert!(err(base().deadlines(Deadlines::Windows {
            claim: Duration::ZERO,
            commit: Duration::from_secs(1),
            reveal: Duration::from_secs(1)
        }))
        .contains("deadline windows"));
        let long_uri = "u".repeat(MAX_URI_LEN + 1);
        assert!(base()
            .build()
            .unwrap()
            .post_args(1, &long_uri, "i", 0)
            .is_err());
    }

    #[test]
    fn float_jobs_take_one_replica_and_two_replicas_are_refused() {
        let err = JobSpec::builder()
            .shader_wgsl(FLOAT)
            .output_len(256)
            .reward(1)
            .replicas(3, 2)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("floating point"), "{err}");
        let err = base().replicas(2, 2).build().unwrap_err();
        assert!(err.to_string().contains("veto"), "{err}");
        let single = JobSpec::builder()
            .shader_wgsl(FLOAT)
            .output_len(256)
            .reward(1)
            .build()
            .unwrap();
        assert!(single.warnings.is_empty());
        assert_eq!(single.determinism(), Determinism::Float);
    }
}
