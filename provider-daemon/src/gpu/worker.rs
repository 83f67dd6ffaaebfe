//! Worker processes: untrusted shaders run in a child process so that a hung or runaway shader
//! can be killed (the GPU cannot be interrupted from inside the process that submitted it).
//!
//! The parent spawns the daemon's own binary with the hidden `worker` subcommand and speaks a
//! length-prefixed binary protocol over the child's stdin/stdout (stderr carries its logs):
//!
//! ```text
//! frame    = u64_le(len) || header || bulk     (len <= MAX_FRAME; bulk = the rest of the frame)
//! request  = 0x01 Execute  wgsl entry workgroups output_len params | bulk: input
//! response = 0x01 Ready    adapter limits      (sent once, after the device opened)
//!          | 0x02 Done     determinism timings | bulk: output
//!          | 0x03 Failed   kind message line column
//!          | 0x04 InitFailed message
//! ```
//!
//! The bulk bytes (input, output) travel last and are written straight from the caller's
//! buffer, so a large job costs one copy into the pipe and one out of it per direction.
//!
//! The parent validates every job before a worker sees it, waits at most the job's wall-clock
//! limit for the answer, and on timeout kills the worker and starts a fresh one. Workers stay
//! warm between jobs, so a job pays neither device start-up nor (for a repeated shader) compile.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use compute_market_job::{
    result_hash, AbiError, Caps, DeterminismClass, JobDescriptor, Limits, Location, PARAMS_LEN,
};

use super::context::{AdapterSummary, GpuConfig, GpuContext, GpuError};
use super::executor::{DeviceError, DeviceTimings, Executor};
use super::{ExecOutcome, JobTimings};

/// Largest protocol frame: the largest input or output plus headroom for the rest.
pub const MAX_FRAME: u64 =
    compute_market_job::MAX_INPUT_LEN + compute_market_job::MAX_SOURCE_LEN as u64 + (1 << 20);

/// How to run workers.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// The executable to run as `<exe> worker …`: the provider-daemon binary. `None` means the
    /// current executable (right inside the daemon; tests and other crates point at the built
    /// binary, e.g. `env!("CARGO_BIN_EXE_provider-daemon")`).
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
        }
    }
}

/// Why a job did not produce an output.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// Rejected by validation before it reached a device.
    #[error("job rejected: {0}")]
    Rejected(#[from] AbiError),
    /// The worker re-validated the job against its device and refused it.
    #[error("job rejected by the worker: {message}")]
    WorkerRejected {
        /// The worker's message.
        message: String,
    },
    /// wgpu refused to compile the shader.
    #[error("shader compilation failed{}: {message}", location.map(|l| format!(" at {l}")).unwrap_or_default())]
    Compile {
        /// The compiler's message.
        message: String,
        /// Where, if known.
        location: Option<Location>,
    },
    /// A GPU validation or out-of-memory error.
    #[error("GPU error: {message}")]
    Gpu {
        /// wgpu's message.
        message: String,
    },
    /// The device was lost; the worker was replaced.
    #[error("GPU device lost: {message}; the worker was replaced")]
    DeviceLost {
        /// The driver's reason.
        message: String,
    },
    /// The job ran past its wall-clock limit; its worker was killed and replaced.
    #[error("job exceeded its wall-clock limit of {limit:?}; worker {worker_pid} was killed and replaced")]
    Timeout {
        /// The limit.
        limit: Duration,
        /// Process id of the killed worker.
        worker_pid: u32,
    },
    /// The worker died while running the job; it was replaced.
    #[error("worker process died during the job ({status}); it was replaced")]
    WorkerCrashed {
        /// Exit status or signal.
        status: String,
    },
    /// A worker could not start or open its device.
    #[error("worker could not start: {message}")]
    WorkerStart {
        /// Why.
        message: String,
    },
    /// The worker sent something that is not the protocol.
    #[error("worker protocol error: {message}")]
    Protocol {
        /// What was wrong.
        message: String,
    },
}

/// The device the pool's workers run on, as the first worker reported it.
#[derive(Clone, Debug)]
pub struct DeviceDescription {
    /// The adapter.
    pub adapter: AdapterSummary,
    /// Its limits, as the ABI sees them.
    pub limits: Limits,
}

struct Worker {
    child: Child,
    stdin: BufWriter<ChildStdin>,
    frames: Receiver<io::Result<Vec<u8>>>,
    ready: bool,
}

impl Worker {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Exit status if the process ended (reaping it), else `still running`.
    fn status(&mut self) -> String {
        match self.child.try_wait() {
            Ok(Some(status)) => status.to_string(),
            Ok(None) => "still running".into(),
            Err(e) => e.to_string(),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Idle workers would exit on stdin EOF; a busy one may be stuck on the GPU, so kill.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct PoolState {
    idle: Vec<Worker>,
    live: usize,
}

/// A pool of warm worker processes. `execute` blocks; it is `Sync`, so an async daemon can share
/// it in an `Arc` and call it from `spawn_blocking`.
pub struct WorkerPool {
    config: PoolConfig,
    exe: PathBuf,
    state: Mutex<PoolState>,
    returned: Condvar,
    device: DeviceDescription,
}

impl WorkerPool {
    /// Starts `config.workers` workers and waits until the first has opened its device.
    pub fn new(config: PoolConfig) -> Result<Self, ExecError> {
        let exe = match &config.worker_exe {
            Some(exe) => exe.clone(),
            None => std::env::current_exe().map_err(|e| ExecError::WorkerStart {
                message: format!("cannot find the current executable: {e}"),
            })?,
        };
        let workers = config.workers.max(1);
        let mut first = spawn(&exe, &config.gpu)?;
        let device = wait_ready(&mut first, config.startup_timeout)?;
        tracing::info!(
            adapter = %device.adapter,
            limits = ?device.limits,
            workers,
            job_timeout = ?config.job_timeout,
            "worker pool ready"
        );
        let mut idle = vec![first];
        for _ in 1..workers {
            idle.push(spawn(&exe, &config.gpu)?);
        }
        Ok(Self {
            config,
            exe,
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
        let started = Instant::now();
        let info = super::validate::validate_for_device(job, &self.device, &self.config.caps)?;
        let validate = started.elapsed();

        let header = encode_job_header(job);
        let mut worker = self.checkout()?;
        if !worker.ready {
            if let Err(e) = wait_ready(&mut worker, self.config.startup_timeout) {
                self.replace(worker);
                return Err(e);
            }
        }
        let sent = Instant::now();
        let result = run_on(&mut worker, &header, &job.input, limit);
        let on_worker = sent.elapsed();
        let response = match result {
            Ok(response) => {
                self.checkin(worker);
                response
            }
            Err(RunFailure::Timeout) => {
                let worker_pid = worker.pid();
                tracing::warn!(
                    pid = worker_pid,
                    ?limit,
                    "job timed out; killing its worker"
                );
                self.replace(worker);
                return Err(ExecError::Timeout { limit, worker_pid });
            }
            Err(RunFailure::Died) => {
                // Give the OS a moment to report the exit status.
                std::thread::sleep(Duration::from_millis(20));
                let status = worker.status();
                tracing::warn!(pid = worker.pid(), %status, "worker died during a job");
                self.replace(worker);
                return Err(ExecError::WorkerCrashed { status });
            }
            Err(RunFailure::Protocol(message)) => {
                self.replace(worker);
                return Err(ExecError::Protocol { message });
            }
        };

        match response {
            Response::Done {
                output,
                determinism,
                timings,
            } => {
                if output.len() as u64 != job.output_len {
                    return Err(ExecError::Protocol {
                        message: format!(
                            "worker returned {} bytes for a {}-byte output",
                            output.len(),
                            job.output_len
                        ),
                    });
                }
                if determinism != info.determinism {
                    return Err(ExecError::Protocol {
                        message: "worker and parent disagree on the determinism class".into(),
                    });
                }
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
                })
            }
            Response::Failed {
                kind,
                message,
                location,
            } => Err(match kind {
                FailKind::Rejected => ExecError::WorkerRejected { message },
                FailKind::Compile => ExecError::Compile { message, location },
                FailKind::Gpu => ExecError::Gpu { message },
                FailKind::DeviceLost => ExecError::DeviceLost { message },
            }),
            Response::Ready(_) | Response::InitFailed(_) => Err(ExecError::Protocol {
                message: "unexpected handshake message after a job".into(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn checkout(&self) -> Result<Worker, ExecError> {
        let mut state = self.lock();
        loop {
            if let Some(worker) = state.idle.pop() {
                return Ok(worker);
            }
            if state.live < self.config.workers.max(1) {
                state.live += 1;
                drop(state);
                return spawn(&self.exe, &self.config.gpu).inspect_err(|_| {
                    self.lock().live -= 1;
                });
            }
            state = self.returned.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn checkin(&self, worker: Worker) {
        self.lock().idle.push(worker);
        self.returned.notify_one();
    }

    /// Kills `worker` and starts a warm replacement (it opens its device while idle).
    fn replace(&self, worker: Worker) {
        drop(worker);
        match spawn(&self.exe, &self.config.gpu) {
            Ok(fresh) => self.checkin(fresh),
            Err(e) => {
                tracing::error!(%e, "could not respawn a worker; will retry on the next job");
                self.lock().live -= 1;
                self.returned.notify_one();
            }
        }
    }
}

fn spawn(exe: &PathBuf, gpu: &GpuConfig) -> Result<Worker, ExecError> {
    let mut command = Command::new(exe);
    command
        .arg("worker")
        .arg("--adapter")
        .arg(gpu.adapter.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if gpu.allow_cpu {
        command.arg("--allow-cpu");
    }
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // Mesa's Vulkan loader complains on every start without one (services and CI often
        // have none); the worker never writes there.
        command.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    let mut child = command.spawn().map_err(|e| ExecError::WorkerStart {
        message: format!("cannot run `{} worker`: {e}", exe.display()),
    })?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        return Err(ExecError::WorkerStart {
            message: "worker has no stdin/stdout pipes".into(),
        });
    };
    let (tx, frames) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("worker-{}-reader", child.id()))
        .spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let frame = read_frame(&mut reader);
                let stop = frame.is_err();
                if tx.send(frame).is_err() || stop {
                    break;
                }
            }
        })
        .map_err(|e| ExecError::WorkerStart {
            message: format!("cannot start a reader thread: {e}"),
        })?;
    Ok(Worker {
        child,
        stdin: BufWriter::new(stdin),
        frames,
        ready: false,
    })
}

fn wait_ready(worker: &mut Worker, timeout: Duration) -> Result<DeviceDescription, ExecError> {
    match worker.frames.recv_timeout(timeout) {
        Ok(Ok(frame)) => match decode_response(frame) {
            Ok(Response::Ready(device)) => {
                worker.ready = true;
                Ok(device)
            }
            Ok(Response::InitFailed(message)) => Err(ExecError::WorkerStart { message }),
            Ok(_) => Err(ExecError::Protocol {
                message: "worker spoke before its handshake".into(),
            }),
            Err(message) => Err(ExecError::Protocol { message }),
        },
        Ok(Err(e)) => Err(ExecError::WorkerStart {
            message: format!(
                "worker exited before it was ready ({}): {e}",
                worker.status()
            ),
        }),
        Err(RecvTimeoutError::Timeout) => Err(ExecError::WorkerStart {
            message: format!("worker did not open its device within {timeout:?}"),
        }),
        Err(RecvTimeoutError::Disconnected) => Err(ExecError::WorkerStart {
            message: format!("worker exited before it was ready ({})", worker.status()),
        }),
    }
}

enum RunFailure {
    Timeout,
    Died,
    Protocol(String),
}

fn run_on(
    worker: &mut Worker,
    header: &[u8],
    input: &[u8],
    limit: Duration,
) -> Result<Response, RunFailure> {
    let deadline = Instant::now() + limit;
    if write_frame(&mut worker.stdin, header, input).is_err() {
        return Err(RunFailure::Died);
    }
    let remaining = deadline.saturating_duration_since(Instant::now());
    match worker.frames.recv_timeout(remaining) {
        Ok(Ok(frame)) => decode_response(frame).map_err(RunFailure::Protocol),
        Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => Err(RunFailure::Died),
        Err(RecvTimeoutError::Timeout) => Err(RunFailure::Timeout),
    }
}

// ---------------------------------------------------------------------------------------------
// The worker side.

/// Entry point of `provider-daemon worker`: opens the device, announces it, then runs jobs from
/// stdin until EOF. Only protocol frames go to stdout.
pub fn run_worker(gpu: &GpuConfig) -> io::Result<()> {
    let stdin = io::stdin();
    let mut input = BufReader::new(stdin.lock());
    let stdout = io::stdout();
    let mut output = BufWriter::new(stdout.lock());

    let ctx = match GpuContext::new(gpu) {
        Ok(ctx) => ctx,
        Err(e) => {
            write_frame(&mut output, &encode_init_failed(&e), &[])?;
            return Ok(());
        }
    };
    // The worker re-validates against the ABI and its device; provider caps are the parent's.
    let mut executor = Executor::new(ctx, Caps::default());
    write_frame(
        &mut output,
        &encode_ready(&executor.context().adapter, &executor.abi_limits()),
        &[],
    )?;

    loop {
        let frame = match read_frame(&mut input) {
            Ok(frame) => frame,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        let job = decode_job(frame).map_err(|m| io::Error::new(io::ErrorKind::InvalidData, m))?;
        let result = executor.run(&job);
        let lost = matches!(result, Err(DeviceError::DeviceLost { .. }));
        let (header, bulk) = encode_result(&result);
        write_frame(&mut output, &header, bulk)?;
        if lost {
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Framing and encoding.

fn write_frame(w: &mut impl Write, header: &[u8], bulk: &[u8]) -> io::Result<()> {
    w.write_all(&((header.len() + bulk.len()) as u64).to_le_bytes())?;
    w.write_all(header)?;
    w.write_all(bulk)?;
    w.flush()
}

/// Splits a frame after its header: what remains is the bulk. Moves the bulk to the front of
/// the frame's own allocation (one `memmove`, no new allocation).
fn into_bulk(mut frame: Vec<u8>, header_len: usize) -> Vec<u8> {
    frame.drain(..header_len.min(frame.len()));
    frame
}

fn read_frame(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 8];
    r.read_exact(&mut len)?;
    let len = u64::from_le_bytes(len);
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the {MAX_FRAME}-byte maximum"),
        ));
    }
    let mut payload = vec![0u8; usize::try_from(len).map_err(io::Error::other)?];
    r.read_exact(&mut payload)?;
    Ok(payload)
}

#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(mut self, v: &[u8]) -> Self {
        self = self.u64(v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }
    fn str(self, v: &str) -> Self {
        self.bytes(v.as_bytes())
    }
    fn duration(self, d: Duration) -> Self {
        self.u64(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

struct Dec<'a>(&'a [u8]);

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated message".into());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = usize::try_from(self.u64()?).map_err(|e| e.to_string())?;
        self.take(len)
    }
    fn string(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|e| e.to_string())
    }
    fn duration(&mut self) -> Result<Duration, String> {
        Ok(Duration::from_nanos(self.u64()?))
    }
}

const REQ_EXECUTE: u8 = 1;
const RESP_READY: u8 = 1;
const RESP_DONE: u8 = 2;
const RESP_FAILED: u8 = 3;
const RESP_INIT_FAILED: u8 = 4;

/// Everything of a job but its input (which follows as the frame's bulk).
fn encode_job_header(job: &JobDescriptor) -> Vec<u8> {
    let mut enc = Enc(Vec::with_capacity(
        job.wgsl.len() + job.entry_point.len() + 128,
    ));
    enc = enc
        .u8(REQ_EXECUTE)
        .bytes(&job.wgsl)
        .str(&job.entry_point)
        .u32(job.workgroups[0])
        .u32(job.workgroups[1])
        .u32(job.workgroups[2])
        .u64(job.output_len)
        .bytes(&job.params);
    enc.0
}

fn decode_job(frame: Vec<u8>) -> Result<JobDescriptor, String> {
    let mut d = Dec(&frame);
    if d.u8()? != REQ_EXECUTE {
        return Err("unknown request".into());
    }
    let wgsl = d.bytes()?.to_vec();
    let entry_point = d.string()?;
    let workgroups = [d.u32()?, d.u32()?, d.u32()?];
    let output_len = d.u64()?;
    let params: [u8; PARAMS_LEN] = d
        .bytes()?
        .try_into()
        .map_err(|_| "params must be 32 bytes".to_string())?;
    let header_len = frame.len() - d.0.len();
    Ok(JobDescriptor {
        wgsl,
        entry_point,
        workgroups,
        input: into_bulk(frame, header_len),
        output_len,
        params,
    })
}

#[derive(Debug)]
enum FailKind {
    Rejected,
    Compile,
    Gpu,
    DeviceLost,
}

#[derive(Debug)]
enum Response {
    Ready(DeviceDescription),
    Done {
        output: Vec<u8>,
        determinism: DeterminismClass,
        timings: DeviceTimings,
    },
    Failed {
        kind: FailKind,
        message: String,
        location: Option<Location>,
    },
    InitFailed(String),
}

fn encode_ready(adapter: &AdapterSummary, limits: &Limits) -> Vec<u8> {
    Enc::default()
        .u8(RESP_READY)
        .u64(adapter.index as u64)
        .str(&adapter.name)
        .str(&adapter.backend)
        .str(&adapter.device_type)
        .str(&adapter.driver)
        .u8(u8::from(adapter.is_cpu))
        .u32(limits.max_workgroup_size[0])
        .u32(limits.max_workgroup_size[1])
        .u32(limits.max_workgroup_size[2])
        .u32(limits.max_invocations_per_workgroup)
        .u32(limits.max_workgroups_per_dimension)
        .u64(limits.max_storage_binding_size)
        .u64(limits.max_buffer_size)
        .u32(limits.max_workgroup_storage_size)
        .0
}

fn encode_init_failed(error: &GpuError) -> Vec<u8> {
    Enc::default()
        .u8(RESP_INIT_FAILED)
        .str(&error.to_string())
        .0
}

/// The response header and its bulk (the output, for `Done`).
fn encode_result(result: &Result<super::executor::DeviceRun, DeviceError>) -> (Vec<u8>, &[u8]) {
    match result {
        Ok(run) => {
            let header = Enc::default()
                .u8(RESP_DONE)
                .u8(match run.determinism {
                    DeterminismClass::Exact => 0,
                    DeterminismClass::Float => 1,
                })
                .duration(run.timings.validate)
                .duration(run.timings.compile)
                .duration(run.timings.upload)
                .duration(run.timings.dispatch)
                .duration(run.timings.readback)
                .u8(u8::from(run.timings.pipeline_cached))
                .0;
            (header, &run.output)
        }
        Err(error) => {
            let (kind, location) = match error {
                DeviceError::Abi(_) => (0, None),
                DeviceError::Compile { location, .. } => (1, *location),
                DeviceError::Gpu { .. } => (2, None),
                DeviceError::DeviceLost { .. } => (3, None),
            };
            let message = match error {
                DeviceError::Compile { message, .. } => message.clone(),
                other => other.to_string(),
            };
            let (line, column) = location.map_or((0, 0), |l| (l.line, l.column));
            let header = Enc::default()
                .u8(RESP_FAILED)
                .u8(kind)
                .str(&message)
                .u32(line)
                .u32(column)
                .0;
            (header, &[])
        }
    }
}

fn decode_response(frame: Vec<u8>) -> Result<Response, String> {
    let mut d = Dec(&frame);
    match d.u8()? {
        RESP_READY => {
            let adapter = AdapterSummary {
                index: usize::try_from(d.u64()?).map_err(|e| e.to_string())?,
                name: d.string()?,
                backend: d.string()?,
                device_type: d.string()?,
                driver: d.string()?,
                is_cpu: d.u8()? != 0,
            };
            let limits = Limits {
                max_workgroup_size: [d.u32()?, d.u32()?, d.u32()?],
                max_invocations_per_workgroup: d.u32()?,
                max_workgroups_per_dimension: d.u32()?,
                max_storage_binding_size: d.u64()?,
                max_buffer_size: d.u64()?,
                max_workgroup_storage_size: d.u32()?,
            };
            Ok(Response::Ready(DeviceDescription { adapter, limits }))
        }
        RESP_DONE => {
            let determinism = match d.u8()? {
                0 => DeterminismClass::Exact,
                _ => DeterminismClass::Float,
            };
            let timings = DeviceTimings {
                validate: d.duration()?,
                compile: d.duration()?,
                upload: d.duration()?,
                dispatch: d.duration()?,
                readback: d.duration()?,
                pipeline_cached: d.u8()? != 0,
            };
            let header_len = frame.len() - d.0.len();
            Ok(Response::Done {
                output: into_bulk(frame, header_len),
                determinism,
                timings,
            })
        }
        RESP_FAILED => {
            let kind = match d.u8()? {
                0 => FailKind::Rejected,
                1 => FailKind::Compile,
                2 => FailKind::Gpu,
                _ => FailKind::DeviceLost,
            };
            let message = d.string()?;
            let (line, column) = (d.u32()?, d.u32()?);
            let location = (line > 0).then_some(Location { line, column });
            Ok(Response::Failed {
                kind,
                message,
                location,
            })
        }
        RESP_INIT_FAILED => Ok(Response::InitFailed(d.string()?)),
        other => Err(format!("unknown response tag {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_round_trips() {
        let job = JobDescriptor {
            wgsl: b"fn main() {}".to_vec(),
            entry_point: "main".into(),
            workgroups: [3, 2, 1],
            input: vec![1, 2, 3, 4],
            output_len: 16,
            params: [7; PARAMS_LEN],
        };
        let mut frame = Vec::new();
        write_frame(&mut frame, &encode_job_header(&job), &job.input).unwrap();
        let payload = read_frame(&mut frame.as_slice()).unwrap();
        assert_eq!(decode_job(payload), Ok(job));
    }

    #[test]
    fn done_round_trips_with_its_bulk_output() {
        let run = Ok(super::super::executor::DeviceRun {
            output: vec![9, 8, 7, 6],
            determinism: DeterminismClass::Float,
            timings: DeviceTimings {
                dispatch: Duration::from_micros(1500),
                pipeline_cached: true,
                ..DeviceTimings::default()
            },
        });
        let (header, bulk) = encode_result(&run);
        let mut frame = Vec::new();
        write_frame(&mut frame, &header, bulk).unwrap();
        let decoded = decode_response(read_frame(&mut frame.as_slice()).unwrap()).unwrap();
        let Response::Done {
            output,
            determinism,
            timings,
        } = decoded
        else {
            panic!("{decoded:?}")
        };
        assert_eq!(output, vec![9, 8, 7, 6]);
        assert_eq!(determinism, DeterminismClass::Float);
        assert_eq!(timings.dispatch, Duration::from_micros(1500));
        assert!(timings.pipeline_cached);
    }

    #[test]
    fn frames_round_trip_and_reject_oversize() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"hel", b"lo").unwrap();
        assert_eq!(read_frame(&mut buf.as_slice()).unwrap(), b"hello");
        let huge = (MAX_FRAME + 1).to_le_bytes();
        assert!(read_frame(&mut huge.as_slice()).is_err());
        assert!(decode_response(vec![RESP_DONE, 1]).is_err());
    }
}
