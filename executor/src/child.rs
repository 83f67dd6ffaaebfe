//! The child processes' side, the `compute-market-worker` binary
//! (`executor/src/bin/compute-market-worker.rs`): `compute-market-worker` is a GPU worker (opens
//! the device, then runs jobs from stdin until EOF) and `compute-market-worker --validate` the
//! shader validator (one verdict, then exit). The parent finds the binary with
//! [`crate::locate::worker_exe`].
//!
//! Only protocol frames go to stdout; logs go to stderr.

use std::io::{self, BufReader, BufWriter};

use compute_market_job::Caps;

use crate::context::{AdapterChoice, GpuConfig, GpuContext};
use crate::executor::{DeviceError, Executor};
use crate::protocol;
use crate::shm::Region;

/// Stack of the thread that runs a worker's jobs: wgpu parses and translates every new shader
/// again, recursively, so it gets four times the validator's
/// ([`crate::validate::VALIDATOR_STACK`]).
pub const WORKER_STACK: usize = 32 << 20;

/// The worker's command line. The parent passes it; nothing else should.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerArgs {
    /// Adapter: `auto`, an index from `check`, or part of its name (`--adapter`).
    pub adapter: String,
    /// Allow a CPU (software) adapter (`--allow-cpu`).
    pub allow_cpu: bool,
    /// Validate one shader from stdin (no device) and exit (`--validate`).
    pub validate: bool,
    /// The inherited descriptor of the shared region for jobs' input and output
    /// (`--shm-fd`; see [`crate::shm`]).
    pub shm_fd: Option<i32>,
}

impl Default for WorkerArgs {
    fn default() -> Self {
        Self {
            adapter: "auto".into(),
            allow_cpu: false,
            validate: false,
            shm_fd: None,
        }
    }
}

impl WorkerArgs {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut parsed = Self::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--adapter" => {
                    parsed.adapter = args.next().ok_or("--adapter needs a value")?;
                }
                "--allow-cpu" => parsed.allow_cpu = true,
                "--validate" => parsed.validate = true,
                "--shm-fd" => {
                    let fd = args.next().ok_or("--shm-fd needs a value")?;
                    parsed.shm_fd = Some(fd.parse().map_err(|_| format!("bad --shm-fd `{fd}`"))?);
                }
                other => {
                    return Err(format!(
                        "unexpected argument `{other}` (usage: compute-market-worker \
                         [--adapter <auto|index|name>] [--allow-cpu] [--shm-fd <fd>] [--validate]; the \
                         executor starts this program, people do not)"
                    ))
                }
            }
        }
        Ok(parsed)
    }

    /// The arguments that [`WorkerArgs::parse`] reads back.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec!["--adapter".to_string(), self.adapter.clone()];
        if self.allow_cpu {
            args.push("--allow-cpu".into());
        }
        if self.validate {
            args.push("--validate".into());
        }
        if let Some(fd) = self.shm_fd {
            args.extend(["--shm-fd".into(), fd.to_string()]);
        }
        args
    }
}

/// Runs a worker or, with `--validate`, the validator.
pub fn run(args: &WorkerArgs) -> io::Result<()> {
    if args.validate {
        return crate::validate::run_validator();
    }
    let gpu = GpuConfig {
        adapter: args.adapter.parse().unwrap_or(AdapterChoice::Auto),
        allow_cpu: args.allow_cpu,
    };
    let region = args.shm_fd.and_then(open_region);
    std::thread::Builder::new()
        .name("worker".into())
        .stack_size(WORKER_STACK)
        .spawn(move || run_worker(&gpu, region))?
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Maps the shared region the parent passed as descriptor `fd`; `None` (logged) if it cannot:
/// the worker then tells the parent so in its handshake and gets its jobs through the pipes.
#[cfg(target_os = "linux")]
fn open_region(fd: i32) -> Option<Region> {
    use std::os::fd::{BorrowedFd, FromRawFd as _, OwnedFd};
    // Only take ownership of a descriptor that is open (a wrong number must not make us close
    // something else, nor trip the I/O-safety check on drop).
    // SAFETY: `fd` is only borrowed for this check.
    if rustix::io::fcntl_getfd(unsafe { BorrowedFd::borrow_raw(fd) }).is_err() {
        tracing::error!(fd, "no shared region at this descriptor; using the pipes");
        return None;
    }
    // SAFETY: the descriptor is open, was inherited for this purpose and nothing else in this
    // process refers to it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    Region::open(owned)
        .inspect_err(|e| tracing::error!(%e, "cannot map the shared region; using the pipes"))
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn open_region(_fd: i32) -> Option<Region> {
    None
}

/// A GPU worker: opens the device, announces it, then runs jobs from stdin until EOF.
fn run_worker(gpu: &GpuConfig, mut region: Option<Region>) -> io::Result<()> {
    let stdin = io::stdin();
    let mut input = BufReader::new(stdin.lock());
    let stdout = io::stdout();
    let mut output = BufWriter::new(stdout.lock());

    let ctx = match GpuContext::new(gpu) {
        Ok(ctx) => ctx,
        Err(e) => {
            protocol::write_frame(&mut output, &protocol::encode_init_failed(&e), &[])?;
            return Ok(());
        }
    };
    // The worker re-validates against the ABI and its device; provider caps are the parent's.
    let mut executor = Executor::new(ctx, Caps::default());
    protocol::write_frame(
        &mut output,
        &protocol::encode_ready(
            &executor.context().adapter,
            &executor.abi_limits(),
            region.is_some(),
        ),
        &[],
    )?;

    loop {
        let frame = match protocol::read_frame(&mut input) {
            Ok(frame) => frame,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        let request = protocol::decode_job(frame, region.as_ref())
            .map_err(|m| io::Error::new(io::ErrorKind::InvalidData, m))?;
        let (job, profile) = (&request.job, request.profile);
        let run = |executor: &mut Executor| {
            if profile {
                executor.run_profiled(job)
            } else {
                executor.run(job)
            }
        };
        #[cfg(feature = "fault-injection")]
        let result = match fault::device_lost(job) {
            Some(lost) => Err(lost),
            None => run(&mut executor),
        };
        #[cfg(not(feature = "fault-injection"))]
        let result = run(&mut executor);
        let lost = matches!(result, Err(DeviceError::DeviceLost { .. }));
        // Into the shared region when the output was asked for there (decode_job checked that
        // it fits; the executor returns exactly `output_len` bytes).
        let shared = match (&result, request.output_offset, region.as_mut()) {
            (Ok(run), Some(offset), Some(region)) => {
                region.write_at(offset, &run.output)?;
                true
            }
            _ => false,
        };
        let (header, bulk) = protocol::encode_result(&result, shared);
        protocol::write_frame(&mut output, &header, bulk)?;
        if lost {
            // The device is gone for good in this process.
            return Ok(());
        }
    }
}

/// TEST-ONLY: a job whose source contains [`fault::DEVICE_LOST_MARKER`] makes the worker report a
/// lost device (and exit, as after a real loss), which no software adapter can be made to do.
#[cfg(feature = "fault-injection")]
pub mod fault {
    use compute_market_job::JobDescriptor;

    use super::DeviceError;

    /// Put this in a shader's source (a comment will do) to simulate a lost device.
    pub const DEVICE_LOST_MARKER: &str = "fault-injection: device lost";

    pub(super) fn device_lost(job: &JobDescriptor) -> Option<DeviceError> {
        let marker = DEVICE_LOST_MARKER.as_bytes();
        job.wgsl
            .windows(marker.len())
            .any(|w| w == marker)
            .then(|| DeviceError::DeviceLost {
                message: "simulated by fault injection".into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::WorkerArgs;

    #[test]
    fn arguments_round_trip() {
        let args = WorkerArgs {
            adapter: "llvmpipe".into(),
            allow_cpu: true,
            validate: false,
            shm_fd: Some(3),
        };
        assert_eq!(WorkerArgs::parse(args.to_args()), Ok(args));
        assert_eq!(WorkerArgs::parse([]), Ok(WorkerArgs::default()));
        assert!(WorkerArgs::parse(["worker".to_string()]).is_err());
        assert!(WorkerArgs::parse(["--adapter".to_string()]).is_err());
    }
}
