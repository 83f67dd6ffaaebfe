//! The worker pool's own failures are typed errors, never hangs or panics, and a worker that
//! died, lost its device or misbehaved is never given another job.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use compute_market_executor::child::fault::DEVICE_LOST_MARKER;
use compute_market_executor::kernels::{self, bytes_to_words, cpu};
use compute_market_executor::sandbox::Sandbox;
use compute_market_executor::validate::Validator;
use compute_market_executor::{
    AdapterChoice, ExecError, GpuConfig, PoolConfig, SandboxConfig, WorkerPool,
};
use compute_market_job::{Caps, Limits};

fn pool_with(exe: &str) -> Result<WorkerPool, ExecError> {
    WorkerPool::new(PoolConfig {
        worker_exe: Some(exe.into()),
        startup_timeout: Duration::from_secs(10),
        ..PoolConfig::default()
    })
}

/// A pool of `workers` on the local adapter (lavapipe here).
fn gpu_pool(workers: usize) -> WorkerPool {
    WorkerPool::new(PoolConfig {
        worker_exe: Some(common::WORKER.into()),
        gpu: GpuConfig {
            adapter: AdapterChoice::Auto,
            allow_cpu: true,
        },
        workers,
        job_timeout: common::JOB_TIMEOUT,
        ..PoolConfig::default()
    })
    .unwrap_or_else(|e| panic!("GPU tests need an adapter: {e}"))
}

fn assert_serves(pool: &WorkerPool) {
    let input = kernels::test_words(1000, 42);
    let outcome = pool
        .execute(&kernels::vector_transform_job(&input, 5, 3))
        .unwrap_or_else(|e| panic!("the pool cannot run a job: {e}"));
    assert_eq!(
        bytes_to_words(&outcome.output),
        cpu::vector_transform(&input, 5, 3)
    );
}

/// Waits until `pid` has exited (a zombie counts: it is its parent's to reap).
fn wait_exited(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        if state.is_none_or(|s| s.starts_with('Z')) {
            return;
        }
        assert!(Instant::now() < deadline, "{pid} did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn missing_worker_executable() {
    let err = pool_with("/nonexistent/compute-market-worker").err();
    assert!(
        matches!(&err, Some(ExecError::WorkerStart { message }) if message.contains("cannot run")),
        "{err:?}"
    );
}

#[test]
fn worker_that_exits_before_its_handshake() {
    let err = pool_with("/bin/false").err();
    assert!(
        matches!(&err, Some(ExecError::WorkerStart { message }) if message.contains("exited before it was ready")),
        "{err:?}"
    );
}

#[test]
fn idle_workers_killed_between_jobs_are_replaced() {
    let pool = gpu_pool(2);
    assert_serves(&pool);
    let killed = pool.idle_worker_pids();
    assert_eq!(killed.len(), 2);
    for pid in &killed {
        let status = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        wait_exited(*pid);
    }
    assert_serves(&pool);
    assert_serves(&pool);
    for pid in pool.idle_worker_pids() {
        assert!(
            !killed.contains(&pid),
            "dead worker {pid} is still in the pool"
        );
    }
}

#[test]
fn a_worker_that_lost_its_device_is_replaced_before_the_next_job() {
    let pool = gpu_pool(1);
    let before = pool.idle_worker_pids();
    let mut job = kernels::vector_transform_job(&[1, 2, 3, 4], 2, 1);
    job.wgsl
        .extend_from_slice(format!("\n// {DEVICE_LOST_MARKER}\n").as_bytes());
    let result = pool.execute(&job);
    assert!(
        matches!(&result, Err(ExecError::DeviceLost { .. })),
        "{result:?}"
    );
    let after = pool.idle_worker_pids();
    assert_eq!(after.len(), 1);
    assert_ne!(
        after, before,
        "the worker without a device went back to the pool"
    );
    assert_serves(&pool);
}

/// A validator process at `script` (a shell script) instead of the real one.
fn fake_validator(dir: &std::path::Path, script: &str, timeout: Duration) -> Validator {
    let exe = dir.join("fake-validator");
    std::fs::write(&exe, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    Validator::new(
        exe,
        Arc::new(Sandbox::new(SandboxConfig::default()).unwrap()),
        Limits::default(),
        Caps::default(),
        timeout,
    )
}

#[test]
fn a_validator_that_hangs_is_killed_at_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let limit = Duration::from_secs(1);
    let validator = fake_validator(dir.path(), "exec sleep 60", limit);
    let started = Instant::now();
    let result = validator.validate(&kernels::vector_transform_job(&[1], 1, 1));
    assert!(
        matches!(result, Err(ExecError::ValidationTimeout { limit: l }) if l == limit),
        "{result:?}"
    );
    assert!(started.elapsed() < limit + Duration::from_secs(2));
}

#[test]
fn a_validator_that_dies_or_babbles_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let job = kernels::vector_transform_job(&[1], 1, 1);
    let dies = fake_validator(dir.path(), "exit 3", Duration::from_secs(10));
    let result = dies.validate(&job);
    assert!(
        matches!(&result, Err(ExecError::ValidationCrashed { status }) if status.contains('3')),
        "{result:?}"
    );
    // Echoes the request back: a frame, but not a verdict.
    let babbles = fake_validator(dir.path(), "exec cat", Duration::from_secs(10));
    let result = babbles.validate(&job);
    assert!(
        matches!(&result, Err(ExecError::Protocol { .. })),
        "{result:?}"
    );
}

/// A job's input and output travel through the worker's sealed shared region (Linux), also when
/// they exceed what stays resident between jobs; the result is the CPU reference's.
#[cfg(target_os = "linux")]
#[test]
fn job_data_travels_through_shared_memory() {
    let pool = gpu_pool(1);
    let pid = pool.idle_worker_pids()[0];
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    assert!(
        maps.contains("memfd:compute-market-job-io"),
        "the worker has not mapped the shared region"
    );
    // 20 MiB in and out: beyond compute_market_executor::shm::RESIDENT_KEEP, so trimmed after.
    let input = kernels::test_words(5 << 20, 7);
    for _ in 0..2 {
        let outcome = pool
            .execute(&kernels::vector_transform_job(&input, 3, 1))
            .unwrap();
        assert!(bytes_to_words(&outcome.output) == cpu::vector_transform(&input, 3, 1));
    }
    assert_eq!(pool.idle_worker_pids(), [pid], "the worker was replaced");
    assert_serves(&pool);
}
