//! One worker process seen from the parent: how it is started (sandbox, shared region passed
//! down), its handshake, and one job's round trip (frames over the pipes, data through the
//! shared region where the worker mapped it).

use std::io::{self, BufReader, BufWriter};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use compute_market_job::JobDescriptor;

use super::DeviceDescription;
use crate::child::WorkerArgs;
use crate::context::GpuConfig;
use crate::error::ExecError;
use crate::procfs;
use crate::protocol::{self, Output, Response, SharedIo};
use crate::sandbox::Sandbox;
use crate::shm::{Layout, Region};

/// One worker process: its pipes, its handshake, its shared region.
pub(super) struct Worker {
    pub(super) child: Child,
    pub(super) stdin: BufWriter<ChildStdin>,
    pub(super) frames: Receiver<io::Result<Vec<u8>>>,
    pub(super) ready: bool,
    /// The region for jobs' input and output, while the worker has it mapped (see
    /// [`crate::shm`]); `None`: jobs go through the pipes.
    pub(super) shared: Option<Region>,
}

impl Worker {
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Exit status if the process ended (reaping it), else `still running`.
    pub(super) fn status(&mut self) -> String {
        match self.child.try_wait() {
            Ok(Some(status)) => status.to_string(),
            Ok(None) => "still running".into(),
            Err(e) => e.to_string(),
        }
    }

    /// Whether an idle worker can take a job: not exited (nor dying), its stdout open, and
    /// silent but for the handshake of a worker that was still opening its device.
    pub(super) fn is_usable(&mut self) -> bool {
        if !matches!(self.child.try_wait(), Ok(None)) || procfs::has_exited(self.pid()) {
            return false;
        }
        match self.frames.try_recv() {
            Err(TryRecvError::Empty) => true,
            Ok(Ok(frame)) if !self.ready => match protocol::decode_response(frame) {
                Ok(Response::Ready { shared, .. }) => {
                    self.handshake(shared);
                    true
                }
                _ => false,
            },
            Ok(_) | Err(TryRecvError::Disconnected) => false,
        }
    }
}

impl Worker {
    /// The worker is ready; `shared`: it mapped the shared region (else the pipes it is).
    fn handshake(&mut self, shared: bool) {
        self.ready = true;
        if !shared {
            self.shared = None;
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

/// Starts a worker of `exe` in the sandbox, with a shared region laid out as `layout`.
pub(super) fn spawn(
    sandbox: &Sandbox,
    exe: &Path,
    gpu: &GpuConfig,
    layout: Layout,
) -> Result<Worker, ExecError> {
    let mut command = sandbox.command(exe, sandbox.config().max_cpu_time);
    let shared = shared_region(layout);
    #[cfg(target_os = "linux")]
    let shm_fd = shared
        .as_ref()
        .map(|region| inherit(&mut command, region.fd()));
    #[cfg(not(target_os = "linux"))]
    let shm_fd = None;
    let args = WorkerArgs {
        adapter: gpu.adapter.to_string(),
        allow_cpu: gpu.allow_cpu,
        validate: false,
        shm_fd,
    };
    command
        .args(args.to_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = sandbox.spawn(command).map_err(|e| ExecError::WorkerStart {
        message: format!("cannot run the worker `{}`: {e}", exe.display()),
    })?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
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
                let frame = protocol::read_frame(&mut reader);
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
        shared,
    })
}

/// A new shared region for a worker, or `None` (logged once) where there is none to be had.
fn shared_region(layout: Layout) -> Option<Region> {
    #[cfg(target_os = "linux")]
    match Region::create(layout.len()) {
        Ok(region) => return Some(region),
        Err(e) => {
            static WARNED: std::sync::atomic::AtomicBool =
                std::sync::atomic::AtomicBool::new(false);
            if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(%e, "no shared memory for job data; using the workers' pipes");
            }
        }
    }
    let _ = layout;
    None
}

/// Lets the child inherit `fd` (created close-on-exec, so that no other child gets it): clears
/// the flag in the child between `fork` and `exec`. Returns the descriptor's number there.
#[cfg(target_os = "linux")]
fn inherit(command: &mut std::process::Command, fd: std::os::fd::BorrowedFd<'_>) -> i32 {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::process::CommandExt as _;
    let raw = fd.as_raw_fd();
    let hook = move || -> io::Result<()> {
        // SAFETY: the parent keeps the descriptor open until the child has started (the
        // region lives in the `Worker`); only a raw system call runs here, as the sandbox's
        // hook requires.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(raw) };
        rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
        Ok(())
    };
    // SAFETY: the hook only makes one async-signal-safe system call.
    unsafe {
        command.pre_exec(hook);
    }
    raw
}

/// Waits for the worker's handshake: its device.
pub(super) fn wait_ready(
    worker: &mut Worker,
    timeout: Duration,
) -> Result<DeviceDescription, ExecError> {
    match worker.frames.recv_timeout(timeout) {
        Ok(Ok(frame)) => match protocol::decode_response(frame) {
            Ok(Response::Ready { device, shared }) => {
                worker.handshake(shared);
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

/// Why a job got no answer.
pub(super) enum RunFailure {
    Timeout,
    Died,
    Protocol(String),
}

impl RunFailure {
    /// The job's error; logs what happened to the worker (which the caller replaces).
    pub(super) fn into_error(self, worker: &mut Worker, limit: Duration) -> ExecError {
        match self {
            RunFailure::Timeout => {
                let worker_pid = worker.pid();
                tracing::warn!(
                    pid = worker_pid,
                    ?limit,
                    "job timed out; killing its worker"
                );
                ExecError::Timeout { limit, worker_pid }
            }
            RunFailure::Died => {
                // Give the OS a moment to report the exit status.
                std::thread::sleep(Duration::from_millis(20));
                let status = worker.status();
                tracing::warn!(pid = worker.pid(), %status, "worker died during a job");
                ExecError::WorkerCrashed { status }
            }
            RunFailure::Protocol(message) => ExecError::Protocol { message },
        }
    }
}

/// Sends `job` to `worker` (its input and output through the shared region when the worker has
/// one and they fit) and waits up to `limit` for the answer; a `Done` answer comes back with
/// its output inline, copied out of the region and checked to be exactly the job's length.
pub(super) fn run_on(
    worker: &mut Worker,
    layout: Layout,
    job: &JobDescriptor,
    profile: bool,
    limit: Duration,
) -> Result<Response, RunFailure> {
    let started = Instant::now();
    let shared = match worker.shared.as_mut() {
        Some(region) if layout.fits(job.input.len() as u64, job.output_len) => {
            region
                .write_at(0, &job.input)
                .map_err(|e| RunFailure::Protocol(e.to_string()))?;
            Some(SharedIo {
                input_offset: 0,
                output_offset: layout.output_offset,
            })
        }
        _ => None,
    };
    let header = protocol::encode_job_header(job, profile, shared);
    let bulk: &[u8] = if shared.is_some() { &[] } else { &job.input };
    if protocol::write_frame(&mut worker.stdin, &header, bulk).is_err() {
        return Err(RunFailure::Died);
    }
    let remaining = limit.saturating_sub(started.elapsed());
    let response = match worker.frames.recv_timeout(remaining) {
        Ok(Ok(frame)) => protocol::decode_response(frame).map_err(RunFailure::Protocol)?,
        Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => return Err(RunFailure::Died),
        Err(RecvTimeoutError::Timeout) => return Err(RunFailure::Timeout),
    };
    let (Some(io), Some(region)) = (shared, worker.shared.as_ref()) else {
        return Ok(response);
    };
    let response = match response {
        Response::Done {
            output: Output::Shared(len),
            determinism,
            timings,
            pass_times,
        } => {
            // Our offset and the job's length, never the worker's: a lying worker gets a
            // protocol error, not a larger read.
            if len != job.output_len {
                return Err(RunFailure::Protocol(format!(
                    "worker returned {len} bytes for a {}-byte output",
                    job.output_len
                )));
            }
            let output = region
                .read_at(io.output_offset, len)
                .map_err(|e| RunFailure::Protocol(e.to_string()))?;
            Response::Done {
                output: Output::Inline(output),
                determinism,
                timings,
                pass_times,
            }
        }
        other => other,
    };
    // A large job's pages go back to the kernel rather than stay with an idle worker.
    let trimmed = region
        .trim(io.input_offset, job.input.len() as u64)
        .and_then(|()| region.trim(io.output_offset, job.output_len));
    if let Err(e) = trimmed {
        tracing::debug!(%e, "could not release shared pages");
    }
    Ok(response)
}
