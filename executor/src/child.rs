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
}

impl Default for WorkerArgs {
    fn default() -> Self {
        Self {
            adapter: "auto".into(),
            allow_cpu: false,
            validate: false,
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
                other => {
                    return Err(format!(
                        "unexpected argument `{other}` (usage: compute-market-worker \
                         [--adapter <auto|index|name>] [--allow-cpu] [--validate]; the \
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
    std::thread::Builder::new()
        .name("worker".into())
        .stack_size(WORKER_STACK)
        .spawn(move || run_worker(&gpu))?
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// A GPU worker: opens the device, announces it, then runs jobs from stdin until EOF.
fn run_worker(gpu: &GpuConfig) -> io::Result<()> {
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
        &protocol::encode_ready(&executor.context().adapter, &executor.abi_limits()),
        &[],
    )?;

    loop {
        let frame = match protocol::read_frame(&mut input) {
            Ok(frame) => frame,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        let (job, profile) = protocol::decode_job(frame)
            .map_err(|m| io::Error::new(io::ErrorKind::InvalidData, m))?;
        let run = |executor: &mut Executor| {
            if profile {
                executor.run_profiled(&job)
            } else {
                executor.run(&job)
            }
        };
        #[cfg(feature = "fault-injection")]
        let result = match fault::device_lost(&job) {
            Some(lost) => Err(lost),
            None => run(&mut executor),
        };
        #[cfg(not(feature = "fault-injection"))]
        let result = run(&mut executor);
        let lost = matches!(result, Err(DeviceError::DeviceLost { .. }));
        let (header, bulk) = protocol::encode_result(&result);
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
        };
        assert_eq!(WorkerArgs::parse(args.to_args()), Ok(args));
        assert_eq!(WorkerArgs::parse([]), Ok(WorkerArgs::default()));
        assert!(WorkerArgs::parse(["worker".to_string()]).is_err());
        assert!(WorkerArgs::parse(["--adapter".to_string()]).is_err());
    }
}
