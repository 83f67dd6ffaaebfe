//! # compute-market-executor
//!
//! The GPU executor of Compute Market: it takes a job (WGSL, entry point, workgroup counts,
//! input, output length, params; the ABI is defined once in [`compute_market_job`]) and returns
//! the output bytes, their canonical result hash and the shader's determinism class, or a typed
//! [`ExecError`], running untrusted shaders in sandboxed worker processes. It knows nothing of
//! the chain; the provider daemon drives it.
//!
//! * [`context`] — adapter enumeration and explicit selection, the process's one device.
//! * [`validate`] — the job checks: the ABI (`compute_market_job`) against the device's limits.
//!   They run in a short-lived child process, so a shader that crashes the parser costs that
//!   process, not the daemon.
//! * [`executor`] — in the worker: pipeline cache, per-job buffers, error scopes, timings.
//! * [`worker`] — the parent's [`WorkerPool`] of warm worker processes, each job under a
//!   wall-clock limit; a worker that timed out, died or lost its device is replaced.
//! * [`fleet`] — one pool per adapter ([`GpuFleet`]): several GPUs behind one provider.
//! * [`sandbox`] — how workers and the validator are started: scrubbed environment, resource
//!   limits, death signal, no new privileges, no network.
//! * [`locate`] — where the worker program, `compute-market-worker`, is found.
//! * [`shm`] — the shared memory region through which a job's input and output travel.
//! * [`protocol`] — the frames parent and children exchange; [`child`] — the children's side;
//!   [`error`] — every way a job can fail.
//! * [`kernels`] — the example shaders with CPU references; [`bench`] — self-test and benchmarks.
//!
//! ```text
//! parent process (daemon)                          worker process (compute-market-worker)
//! ┌──────────────────────────────────────┐  stdin  ┌──────────────────────────────────────┐
//! │ WorkerPool::execute(job)             │ ──────▶ │ Executor: pipeline cache (shader id) │
//! │  1. validate: naga in a short-lived  │  frames │  error scopes · per-job buffers      │
//! │     child (`… --validate`)           │ ◀────── │  upload → dispatch → readback        │
//! │  2. send to a warm, live worker      │  stdout │ GpuContext: one device, chosen       │
//! │  3. wall-clock limit: kill + respawn │         │  explicitly, Backends::PRIMARY       │
//! │  4. result_hash(output)              │         │ sandbox: scrubbed env, rlimits, no   │
//! │                                      │         │  network, dies with the daemon       │
//! └──────────────────────────────────────┘         └──────────────────────────────────────┘
//!            job input ──▶ shared region (memfd, sealed; shm) ──▶ job output
//! ```
//!
//! A hung shader cannot be stopped inside the process that submitted it, and a shader that
//! crashes the parser or the driver must not take the daemon (and its key) with it, hence the
//! child processes; blocking calls (`execute`, `validate`) belong on `spawn_blocking`, never on a
//! tokio worker.
//!
//! ```no_run
//! use compute_market_executor::{kernels, PoolConfig, WorkerPool};
//!
//! let pool = WorkerPool::new(PoolConfig {
//!     // `None` (the default) finds `compute-market-worker` next to the current executable
//!     // (see `locate`); an explicit path overrides that.
//!     worker_exe: Some("target/release/compute-market-worker".into()),
//!     ..PoolConfig::default()
//! })?;
//! let outcome = pool.execute(&kernels::vector_transform_job(&[1, 2, 3], 2, 1))?;
//! println!("{} {} ({})", outcome.result_hash[0], outcome.determinism, outcome.timings);
//! # Ok::<(), compute_market_executor::ExecError>(())
//! ```

#![warn(missing_docs)]

pub mod bench;
pub mod child;
pub mod context;
pub mod error;
pub mod executor;
pub mod fleet;
pub mod kernels;
pub mod locate;
mod procfs;
pub mod protocol;
pub mod sandbox;
pub mod shm;
pub mod validate;
pub mod worker;

use std::time::Duration;

pub use compute_market_job::DeterminismClass;
pub use context::{AdapterChoice, AdapterSummary, GpuConfig, GpuContext, GpuError};
pub use error::ExecError;
pub use executor::Executor;
pub use fleet::{FleetOutcome, GpuFleet};
pub use sandbox::SandboxConfig;
pub use worker::{DeviceDescription, PoolConfig, WorkerPool};

/// A finished job.
#[derive(Clone, Debug)]
pub struct ExecOutcome {
    /// The output bytes.
    pub output: Vec<u8>,
    /// `compute_market_job::result_hash(&output)`, computed by the parent.
    pub result_hash: [u8; 32],
    /// Exact jobs are verifiable by comparing hashes between providers; float jobs are not.
    pub determinism: DeterminismClass,
    /// Where the time went.
    pub timings: JobTimings,
    /// Each pass's time on the device, in manifest order, when the run was profiled
    /// ([`WorkerPool::execute_profiled`]); empty otherwise.
    pub pass_times: Vec<Duration>,
}

/// Per-job timings, end to end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobTimings {
    /// ABI validation (parent, plus the worker's on a pipeline-cache miss).
    pub validate: Duration,
    /// Shader module and pipeline creation (zero on a cache hit).
    pub compile: Duration,
    /// Buffer creation and upload.
    pub upload: Duration,
    /// The dispatch until the GPU finished.
    pub dispatch: Duration,
    /// Copy out of the GPU.
    pub readback: Duration,
    /// The result hash.
    pub hash: Duration,
    /// Process round trip not spent on the device (encoding, pipes, scheduling).
    pub ipc: Duration,
    /// Wall-clock from `execute` to its return.
    pub total: Duration,
    /// Whether the worker had the pipeline cached.
    pub pipeline_cached: bool,
}

impl std::fmt::Display for JobTimings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "validate {:.2} ms, compile {:.2} ms{}, upload {:.2} ms, dispatch {:.2} ms, readback {:.2} ms, hash {:.2} ms, ipc {:.2} ms, total {:.2} ms",
            ms(self.validate),
            ms(self.compile),
            if self.pipeline_cached { " (cached)" } else { "" },
            ms(self.upload),
            ms(self.dispatch),
            ms(self.readback),
            ms(self.hash),
            ms(self.ipc),
            ms(self.total)
        )
    }
}
