//! Job validation on the daemon side: the ABI's single definition (`compute_market_job`) checked
//! against *this* device's limits and the provider's caps, before a job is claimed or handed to a
//! worker.
//!
//! Parsing untrusted WGSL is the risky part: naga's parser limits how deeply parentheses, calls
//! and blocks nest, but lowers and validates a long chain of binary operators (`1 + 1 + … + 1`)
//! recursively, so a few kilobytes of source overflow a thread's stack, and a stack overflow
//! aborts the whole process. So the daemon never parses a shader itself: [`Validator`] runs
//! [`validate_shader`] in a short-lived child process (`compute-market-worker --validate`, in the
//! [sandbox](crate::sandbox)) and only the cheap, parse-free [`check_dispatch`] in-process. A
//! crash costs that child and the job ([`ExecError::ValidationCrashed`]); verdicts are cached by
//! module id (the source and its entry points), so a shader seen before costs no process.

use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use compute_market_job::{
    check_dispatch, module_id, validate_module, AbiError, Caps, JobDescriptor, Limits, ShaderInfo,
    MAX_PASSES,
};

use crate::error::ExecError;
use crate::protocol::{self, Response};
use crate::sandbox::Sandbox;

/// Verdicts kept; the least recently used is dropped beyond this.
pub const VERDICT_CACHE_CAPACITY: usize = 256;

/// Stack of the validator's parsing thread, explicit so that what it accepts does not depend on
/// the host's `ulimit -s`. Smaller than a worker's ([`crate::child::WORKER_STACK`]): a shader
/// that passes here has room to spare when wgpu parses it again inside the worker.
pub const VALIDATOR_STACK: usize = 8 << 20;

/// Validates jobs in sandboxed child processes (see the module documentation).
pub struct Validator {
    exe: PathBuf,
    sandbox: Arc<Sandbox>,
    limits: Limits,
    caps: Caps,
    timeout: Duration,
    cache: Mutex<VerdictCache>,
}

impl Validator {
    /// A validator running `<exe> --validate` (`exe`: the worker program) for shaders against `limits` and `caps`,
    /// each allowed `timeout` of wall-clock time.
    pub fn new(
        exe: PathBuf,
        sandbox: Arc<Sandbox>,
        limits: Limits,
        caps: Caps,
        timeout: Duration,
    ) -> Self {
        Self {
            exe,
            sandbox,
            limits,
            caps,
            timeout,
            cache: Mutex::new(VerdictCache::default()),
        }
    }

    /// Validates the whole job: its shader (in a child process, or from the cache) and then its
    /// dispatch and sizes. Blocks; call it from `spawn_blocking` in async code.
    pub fn validate(&self, job: &JobDescriptor) -> Result<ShaderInfo, ExecError> {
        // One verdict per module and list of entry points (a v1 job has one), each name
        // length-prefixed: a job naming the entry point "a,b" never borrows the verdict of a
        // manifest over `a` and `b`.
        let passes = job.pass_count();
        if passes > MAX_PASSES {
            // Before listing them, and before a child refuses the count unexplained.
            return Err(AbiError::TooManyPasses {
                count: passes,
                max: MAX_PASSES,
            }
            .into());
        }
        let entry_points = job.entry_points();
        let key = module_id(&job.wgsl, &entry_points);
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key);
        let verdict = match cached {
            Some(verdict) => verdict,
            None => {
                let verdict = self.run_child(&job.wgsl, &entry_points)?;
                self.cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, verdict.clone());
                verdict
            }
        };
        let info = verdict?;
        check_dispatch(job, &info, &self.limits, &self.caps)?;
        Ok(info)
    }

    /// One validation in a fresh child process.
    fn run_child(
        &self,
        wgsl: &[u8],
        entry_points: &[String],
    ) -> Result<Result<ShaderInfo, AbiError>, ExecError> {
        let start_error = |e: io::Error| ExecError::WorkerStart {
            message: format!(
                "cannot run the shader validator `{} --validate`: {e}",
                self.exe.display()
            ),
        };
        // naga is single-threaded: the wall-clock limit bounds its CPU time too.
        let mut command = self.sandbox.command(&self.exe, self.timeout);
        command
            .arg("--validate")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = self.sandbox.spawn(command).map_err(start_error)?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(start_error(io::Error::other("no stdin/stdout pipes")));
        };
        // The reply is read on a thread so that the wait below can time out.
        let (tx, reply) = mpsc::channel();
        let reader = std::thread::Builder::new()
            .name(format!("validator-{}-reader", child.id()))
            .spawn(move || {
                let _ = tx.send(protocol::read_frame(&mut BufReader::new(stdout)));
            });
        if let Err(e) = reader {
            let _ = child.kill();
            let _ = child.wait();
            return Err(start_error(e));
        }
        let header = protocol::encode_validate(entry_points, &self.limits, &self.caps);
        // A write error means the child is already gone; its exit status says why.
        let _ = protocol::write_frame(&mut BufWriter::new(stdin), &header, wgsl);
        let answer = reply.recv_timeout(self.timeout);
        if matches!(answer, Err(RecvTimeoutError::Timeout)) {
            let _ = child.kill();
        }
        let status = child.wait().map_err(start_error)?;
        match answer {
            Ok(Ok(frame)) => match protocol::decode_response(frame) {
                Ok(Response::Verdict(verdict)) => Ok(verdict),
                Ok(_) => Err(ExecError::Protocol {
                    message: "the validator answered with something other than a verdict".into(),
                }),
                Err(message) => Err(ExecError::Protocol { message }),
            },
            Err(RecvTimeoutError::Timeout) => Err(ExecError::ValidationTimeout {
                limit: self.timeout,
            }),
            Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => {
                tracing::warn!(%status, "a shader crashed the validator process");
                Err(ExecError::ValidationCrashed {
                    status: status.to_string(),
                })
            }
        }
    }
}

/// Verdicts by shader id, least recently used dropped first.
#[derive(Default)]
struct VerdictCache {
    entries: HashMap<[u8; 32], (Result<ShaderInfo, AbiError>, u64)>,
    clock: u64,
}

impl VerdictCache {
    fn get(&mut self, key: &[u8; 32]) -> Option<Result<ShaderInfo, AbiError>> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(verdict, used)| {
            *used = clock;
            verdict.clone()
        })
    }

    fn insert(&mut self, key: [u8; 32], verdict: Result<ShaderInfo, AbiError>) {
        if self.entries.len() >= VERDICT_CACHE_CAPACITY {
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k)
            {
                self.entries.remove(&oldest);
            }
        }
        self.clock += 1;
        self.entries.insert(key, (verdict, self.clock));
    }
}

/// Entry point of `compute-market-worker --validate`: reads one validation request from stdin, validates
/// the shader on a thread of [`VALIDATOR_STACK`] bytes, writes the verdict to stdout and exits.
/// A shader that crashes the parser kills only this process.
pub fn run_validator() -> io::Result<()> {
    let frame = protocol::read_frame(&mut io::stdin().lock())?;
    let request = protocol::decode_validate(frame)
        .map_err(|m| io::Error::new(io::ErrorKind::InvalidData, m))?;
    let verdict = std::thread::Builder::new()
        .name("validate".into())
        .stack_size(VALIDATOR_STACK)
        .spawn(move || {
            validate_module(
                &request.wgsl,
                &request.entry_points,
                &request.limits,
                &request.caps,
            )
        })?
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    protocol::write_frame(
        &mut BufWriter::new(io::stdout().lock()),
        &protocol::encode_verdict(&verdict),
        &[],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_drops_the_least_recently_used_verdict() {
        let key = |i: u16| {
            let mut key = [0u8; 32];
            key[..2].copy_from_slice(&i.to_le_bytes());
            key
        };
        let mut cache = VerdictCache::default();
        for i in 0..VERDICT_CACHE_CAPACITY as u16 {
            cache.insert(key(i), Err(AbiError::SourceEmpty));
        }
        // Touch the first: the second is now the oldest.
        assert!(cache.get(&key(0)).is_some());
        cache.insert(key(1000), Err(AbiError::SourceEmpty));
        assert_eq!(cache.entries.len(), VERDICT_CACHE_CAPACITY);
        assert!(cache.get(&key(0)).is_some());
        assert!(cache.get(&key(1)).is_none());
        assert!(cache.get(&key(1000)).is_some());
    }
}
