//! The parent's side of the worker processes: untrusted shaders run in a child process so that
//! a hung or runaway shader can be killed (the GPU cannot be interrupted from inside the process
//! that submitted it), and so that a crash, a lost device or a compromised driver costs one
//! sandboxed process rather than the daemon that holds the provider's key.
//!
//! The parent spawns the worker program, `compute-market-worker` (see [`crate::child`]; found
//! by [`crate::locate::worker_exe`]), in the [sandbox](crate::sandbox) and speaks the [protocol]
//! over its stdin/stdout. Every job is validated first, in a separate short-lived process (see
//! [`crate::validate`]); the parent waits at most the job's wall-clock limit for the answer.
//!
//! A worker is never used after anything went wrong with it: one that timed out, died, sent
//! something that is not the protocol or reported a lost device is killed and replaced by a fresh
//! one, and idle workers that died in the meantime are replaced at the next checkout. Workers
//! stay warm between jobs, so a job pays neither device start-up nor (for a repeated shader)
//! compile; one close to its CPU-time limit is retired while idle.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use compute_market_job::{result_hash, Caps, DeterminismClass, JobDescriptor, Limits, ShaderInfo};

use crate::context::{AdapterSummary, GpuConfig};
use crate::error::ExecError;
use crate::executor::DeviceTimings;
use crate::procfs;
use crate::protocol::{FailKind, Output, Response};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::shm::Layout;
use crate::validate::Validator;
use crate::{ExecOutcome, JobTimings};

mod process;

use process::{run_on, spawn, wait_ready, Worker};

/// How to run workers.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// The worker program, `compute-market-worker`. `None`: found by
    /// [`crate::locate::worker_exe`] (the `COMPUTE_MARKET_WORKER_EXE` environment variable, else
    /// next to the current executable).
    pub worker_exe: Option<PathBuf>,
    /// Adapter choice, passed to every worker.
    pub gpu: GpuConfig,
    /// Provider caps, enforced by the parent before a job reaches a worker.
    pub caps: Caps,
    /// Warm workers kept (at least 1). Jobs beyond this wait for a free worker.
    pub workers: usize,
    /// Default wall-clock limit of one job on a worker (upload to readback).
    pub job_timeout: Duration,
    /// Longest a worker may take to open its device.
    pub startup_timeout: Duration,
    /// Longest the validator may take to validate one shader.
    pub validate_timeout: Duration,
    /// The sandbox of workers and validator.
    pub sandbox: SandboxConfig,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            worker_exe: None,
            gpu: GpuConfig::default(),
            caps: Caps::default(),
            workers: 1,
            job_timeout: Duration::from_secs(30),
            startup_timeout: Duration::from_secs(120),
            validate_timeout: Duration::from_secs(30),
            sandbox: SandboxConfig::default(),
        }
    }
}

/// The device the pool's workers run on, as the first worker reported it.
#[derive(Clone, Debug)]
pub struct DeviceDescription {
    /// The adapter.
    pub adapter: AdapterSummary,
    /// Its limits, as the ABI sees them.
    pub limits: Limits,
}

struct PoolState {
    idle: Vec<Worker>,
    live: usize,
}

/// What to do with a worker after a job.
enum Disposition {
    /// Healthy: back to the idle list.
    Keep,
    /// Dead, stuck, lying or without a device: kill it and start a fresh one.
    Replace,
}

/// A pool of warm worker processes. `execute` blocks; it is `Sync`, so an async daemon can share
/// it in an `Arc` and call it from `spawn_blocking`.
pub struct WorkerPool {
    config: PoolConfig,
    exe: PathBuf,
    /// How each worker's shared region is laid out (from the caps).
    layout: Layout,
    sandbox: Arc<Sandbox>,
    validator: Validator,
    state: Mutex<PoolState>,
    returned: Condvar,
    device: DeviceDescription,
}

impl WorkerPool {
    /// Starts `config.workers` workers and waits until the first has opened its device.
    pub fn new(config: PoolConfig) -> Result<Self, ExecError> {
        let exe = crate::locate::worker_exe(config.worker_exe.as_deref())?;
        let sandbox =
            Arc::new(
                Sandbox::new(config.sandbox.clone()).map_err(|e| ExecError::WorkerStart {
                    message: format!("cannot start the sandbox's spawning thread: {e}"),
                })?,
            );
        let workers = config.workers.max(1);
        let layout = Layout::new(config.caps.max_input_len, config.caps.max_output_len);
        let mut first = spawn(&sandbox, &exe, &config.gpu, layout)?;
        let device = wait_ready(&mut first, config.startup_timeout)?;
        tracing::info!(
            adapter = %device.adapter,
            limits = ?device.limits,
            workers,
            job_timeout = ?config.job_timeout,
            sandbox = ?config.sandbox,
            "worker pool ready"
        );
        let mut idle = vec![first];
        for _ in 1..workers {
            idle.push(spawn(&sandbox, &exe, &config.gpu, layout)?);
        }
        let validator = Validator::new(
            exe.clone(),
            sandbox.clone(),
            device.limits,
            config.caps,
            config.validate_timeout,
        );
        Ok(Self {
            config,
            exe,
            layout,
            sandbox,
            validator,
            state: Mutex::new(PoolState {
                idle,
                live: workers,
            }),
            returned: Condvar::new(),
            device,
        })
    }

    /// The adapter and limits the workers use.
    pub fn device(&self) -> &DeviceDescription {
        &self.device
    }

    /// The pool's configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Process ids of the idle workers (for tests and status output).
    pub fn idle_worker_pids(&self) -> Vec<u32> {
        self.lock().idle.iter().map(Worker::pid).collect()
    }

    /// Validates a job against this device and the provider's caps without running it: the
    /// shader is parsed in a sandboxed child process (see [`crate::validate`]). Blocks.
    pub fn validate(&self, job: &JobDescriptor) -> Result<ShaderInfo, ExecError> {
        self.validator.validate(job)
    }

    /// Validates and runs a job with the configured wall-clock limit.
    pub fn execute(&self, job: &JobDescriptor) -> Result<ExecOutcome, ExecError> {
        self.execute_with_timeout(job, self.config.job_timeout)
    }

    /// Validates and runs a job with an explicit wall-clock limit.
    pub fn execute_with_timeout(
        &self,
        job: &JobDescriptor,
        limit: Duration,
    ) -> Result<ExecOutcome, ExecError> {
        self.execute_by(job, limit, None)
    }

    /// Validates and runs a job with an explicit wall-clock limit, on a worker that is free by
    /// `start_by` ([`ExecError::Busy`] if none is: waiting for a worker counts against the job's
    /// deadline as much as running it). `None`: waits as long as it takes.
    pub fn execute_by(
        &self,
        job: &JobDescriptor,
        limit: Duration,
        start_by: Option<Instant>,
    ) -> Result<ExecOutcome, ExecError> {
        self.execute_inner(job, limit, start_by, false)
    }

    /// Validates and runs a job with each pass submitted and timed on its own
    /// ([`ExecOutcome::pass_times`]): a job author's local run (`compute-market job run`).
    pub fn execute_profiled(
        &self,
        job: &JobDescriptor,
        limit: Duration,
    ) -> Result<ExecOutcome, ExecError> {
        self.execute_inner(job, limit, None, true)
    }

    fn execute_inner(
        &self,
        job: &JobDescriptor,
        limit: Duration,
        start_by: Option<Instant>,
        profile: bool,
    ) -> Result<ExecOutcome, ExecError> {
        let started = Instant::now();
        let info = self.validate(job)?;
        let validate = started.elapsed();

        let mut worker = self.checkout(start_by)?;
        if !worker.ready {
            if let Err(e) = wait_ready(&mut worker, self.config.startup_timeout) {
                self.replace(worker);
                return Err(e);
            }
        }
        let sent = Instant::now();
        let result = run_on(&mut worker, self.layout, job, profile, limit);
        let on_worker = sent.elapsed();
        let response = match result {
            Ok(response) => response,
            Err(failure) => {
                let error = failure.into_error(&mut worker, limit);
                self.replace(worker);
                return Err(error);
            }
        };
        let (disposition, result) = outcome(response, job, &info);
        match disposition {
            Disposition::Keep => self.checkin(worker),
            Disposition::Replace => {
                tracing::warn!(pid = worker.pid(), "replacing a worker after its job");
                self.replace(worker);
            }
        }
        let (output, determinism, timings, pass_times) = result?;
        let hashing = Instant::now();
        let result_hash = result_hash(&output);
        let hash = hashing.elapsed();
        let device_time = timings.validate
            + timings.compile
            + timings.upload
            + timings.dispatch
            + timings.readback;
        Ok(ExecOutcome {
            output,
            result_hash,
            determinism,
            timings: JobTimings {
                validate: validate + timings.validate,
                compile: timings.compile,
                upload: timings.upload,
                dispatch: timings.dispatch,
                readback: timings.readback,
                hash,
                ipc: on_worker.saturating_sub(device_time),
                total: started.elapsed(),
                pipeline_cached: timings.pipeline_cached,
            },
            pass_times,
        })
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle worker (dead ones replaced first), or a fresh one (not yet ready) when fewer
    /// than `workers` run; waits while all are busy, until `start_by` if given.
    fn checkout(&self, start_by: Option<Instant>) -> Result<Worker, ExecError> {
        self.replace_dead_idle();
        let waiting = Instant::now();
        let mut state = self.lock();
        loop {
            if let Some(worker) = state.idle.pop() {
                return Ok(worker);
            }
            if state.live < self.config.workers.max(1) {
                state.live += 1;
                drop(state);
                return self.spawn().inspect_err(|_| self.forget_one());
            }
            state = match start_by {
                None => self.returned.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(ExecError::Busy {
                            waited: waiting.elapsed(),
                        });
                    }
                    self.returned
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// Replaces the idle workers that died since their last job (killed, crashed, OOM).
    fn replace_dead_idle(&self) {
        let dead: Vec<Worker> = {
            let mut state = self.lock();
            let mut dead = Vec::new();
            let mut usable = Vec::with_capacity(state.idle.len());
            for mut worker in std::mem::take(&mut state.idle) {
                if worker.is_usable() {
                    usable.push(worker);
                } else {
                    dead.push(worker);
                }
            }
            state.idle = usable;
            dead
        };
        for mut worker in dead {
            let status = worker.status();
            tracing::warn!(pid = worker.pid(), %status, "an idle worker died; replacing it");
            self.replace(worker);
        }
    }

    /// Returns a healthy worker to the idle list, or retires it while idle if its next job
    /// could run into its CPU-time limit.
    fn checkin(&self, worker: Worker) {
        if self.near_cpu_limit(&worker) {
            tracing::info!(
                pid = worker.pid(),
                "retiring a worker close to its CPU-time limit"
            );
            self.replace(worker);
            return;
        }
        self.lock().idle.push(worker);
        self.returned.notify_one();
    }

    /// Whether one more job (all cores busy for a whole `job_timeout`, as a software adapter
    /// can) could take `worker` past its CPU-time limit.
    fn near_cpu_limit(&self, worker: &Worker) -> bool {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let next_job = self
            .config
            .job_timeout
            .saturating_mul(u32::try_from(cores).unwrap_or(u32::MAX));
        procfs::cpu_time_used(worker.pid())
            .is_ok_and(|used| used.saturating_add(next_job) >= self.config.sandbox.max_cpu_time)
    }

    /// Kills `worker` and starts a warm replacement (it opens its device while idle).
    fn replace(&self, worker: Worker) {
        drop(worker);
        match self.spawn() {
            Ok(fresh) => {
                self.lock().idle.push(fresh);
                self.returned.notify_one();
            }
            Err(e) => {
                tracing::error!(%e, "could not respawn a worker; will retry on the next job");
                self.forget_one();
            }
        }
    }

    /// A worker slot is free again (its process is gone and no replacement started).
    fn forget_one(&self) {
        self.lock().live -= 1;
        self.returned.notify_one();
    }

    fn spawn(&self) -> Result<Worker, ExecError> {
        spawn(&self.sandbox, &self.exe, &self.config.gpu, self.layout)
    }
}

/// A job's output, its determinism class and the worker's timings (per pass when profiled).
type Finished = (Vec<u8>, DeterminismClass, DeviceTimings, Vec<Duration>);

/// What a worker's answer means for the job and for the worker.
fn outcome(
    response: Response,
    job: &JobDescriptor,
    info: &ShaderInfo,
) -> (Disposition, Result<Finished, ExecError>) {
    let protocol = |message: String| (Disposition::Replace, Err(ExecError::Protocol { message }));
    match response {
        Response::Done {
            output: Output::Shared(_),
            ..
        } => protocol("worker answered in shared memory unasked".into()),
        Response::Done {
            output: Output::Inline(output),
            determinism,
            timings,
            pass_times,
        } => {
            if output.len() as u64 != job.output_len {
                return protocol(format!(
                    "worker returned {} bytes for a {}-byte output",
                    output.len(),
                    job.output_len
                ));
            }
            if determinism != info.determinism {
                return protocol("worker and validator disagree on the determinism class".into());
            }
            (
                Disposition::Keep,
                Ok((output, determinism, timings, pass_times)),
            )
        }
        Response::Failed {
            kind,
            message,
            location,
        } => match kind {
            FailKind::Rejected => (
                Disposition::Keep,
                Err(ExecError::WorkerRejected { message }),
            ),
            FailKind::Compile => (
                Disposition::Keep,
                Err(ExecError::Compile { message, location }),
            ),
            FailKind::Gpu => (Disposition::Keep, Err(ExecError::Gpu { message })),
            // The device is gone for good in that process: never give it another job.
            FailKind::DeviceLost => (Disposition::Replace, Err(ExecError::DeviceLost { message })),
        },
        Response::Ready { .. } | Response::InitFailed(_) | Response::Verdict(_) => {
            protocol("unexpected message in answer to a job".into())
        }
    }
}
