//! Why a job did not produce an output: one error type for the whole executor, from validation
//! to the worker's answer.

use std::time::Duration;

use compute_market_job::{AbiError, Location};

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
    /// Parsing the shader crashed the validator process (a parser bug, or a shader nested deep
    /// enough to exhaust its stack). The shader is refused; only that process died.
    #[error("shader validation crashed the validator process ({status})")]
    ValidationCrashed {
        /// Exit status or signal of the validator.
        status: String,
    },
    /// Validating the shader took longer than its limit; the validator process was killed.
    #[error("shader validation exceeded its limit of {limit:?}; the validator process was killed")]
    ValidationTimeout {
        /// The limit.
        limit: Duration,
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
    /// Every worker stayed busy until the job's latest start: it was not run.
    #[error("no GPU worker was free in time (waited {waited:?}); the job was not run")]
    Busy {
        /// How long it waited.
        waited: Duration,
    },
    /// The worker sent something that is not the protocol.
    #[error("worker protocol error: {message}")]
    Protocol {
        /// What was wrong.
        message: String,
    },
}
