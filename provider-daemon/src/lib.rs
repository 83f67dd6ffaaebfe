//! # provider-daemon
//!
//! The provider side of Compute Market: what a GPU owner leaves running.
//!
//! - [`daemon`]: the supervisor of `provider-daemon run` (start order, graceful shutdown).
//! - [`chain`]: job discovery: websocket subscription plus periodic resync, merged by slot.
//! - [`jobs`]: [`jobs::policy`] decides which jobs to claim (and says why it skips the others);
//!   [`jobs::runner`] drives a claimed job: claim, fetch and verify blobs, execute, upload,
//!   submit or commit/reveal, crank settlement, each job in a span of its own ([`jobs::span`]);
//!   [`jobs::retention`] deletes the outputs of jobs finished long enough ago.
//! - [`state`]: the write-ahead journal (SQLite): intents and salts are stored before every
//!   transaction, and every step is resumed from the chain's truth after a crash.
//! - [`settings`]: one `Settings` (TOML file, then `COMPUTE_MARKET__…` environment overrides).
//! - [`metrics`]: Prometheus metrics.
//! - [`publish`]: the capabilities and capacity a provider publishes on-chain.
//! - [`gpu`]: the **GPU executor**: it takes a job (WGSL, entry point, workgroup counts, input,
//!   output length, params; the ABI is defined once in [`compute_market_job`]) and returns the
//!   output bytes, their canonical result hash and the shader's determinism class, or a typed
//!   error, running untrusted shaders in worker processes.
//!
//! ```text
//! daemon process                                   worker process (same binary, `worker`)
//! ┌──────────────────────────────────────┐  stdin  ┌──────────────────────────────────────┐
//! │ WorkerPool::execute(job)             │ ──────▶ │ Executor: pipeline cache (shader id) │
//! │  1. validate: naga in a short-lived  │  frames │  error scopes · per-job buffers      │
//! │     child (`worker --validate`)      │ ◀────── │  upload → dispatch → readback        │
//! │  2. send to a warm, live worker      │  stdout │ GpuContext: one device, chosen       │
//! │  3. wall-clock limit: kill + respawn │         │  explicitly, Backends::PRIMARY       │
//! │  4. result_hash(output)              │         │ sandbox: scrubbed env, rlimits, no   │
//! │                                      │         │  network, dies with the daemon       │
//! └──────────────────────────────────────┘         └──────────────────────────────────────┘
//! ```
//!
//! A hung shader cannot be stopped inside the process that submitted it, and a shader that
//! crashes the parser or the driver must not take the daemon (and its key) with it, hence the
//! child processes; blocking calls (`execute`, `validate`) belong on `spawn_blocking`, never on a
//! tokio worker.
//!
//! ```no_run
//! use provider_daemon::gpu::{kernels, PoolConfig, WorkerPool};
//!
//! let pool = WorkerPool::new(PoolConfig {
//!     // Inside the daemon the default (the current executable) is right; elsewhere point at
//!     // the built binary, e.g. env!("CARGO_BIN_EXE_provider-daemon") in integration tests.
//!     worker_exe: Some("target/release/provider-daemon".into()),
//!     ..PoolConfig::default()
//! })?;
//! let outcome = pool.execute(&kernels::vector_transform_job(&[1, 2, 3], 2, 1))?;
//! println!("{} {} ({})", hex::encode(outcome.result_hash), outcome.determinism, outcome.timings);
//! # Ok::<(), provider_daemon::gpu::ExecError>(())
//! ```

#![warn(missing_docs)]

pub mod chain;
pub mod daemon;
pub mod gpu;
pub mod jobs;
pub mod lock;
pub mod metrics;
pub mod publish;
pub mod settings;
pub mod state;
