//! Shared set-up: one worker pool per test binary, on the built `compute-market-worker` binary.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::sync::OnceLock;
use std::time::Duration;

use compute_market_executor::kernels::{self, bytes_to_words, cpu};
use compute_market_executor::{AdapterChoice, GpuConfig, PoolConfig, WorkerPool};

/// The worker program this package builds (with the test-only `fault-injection` feature).
pub const WORKER: &str = env!("CARGO_BIN_EXE_compute-market-worker");

/// Wall-clock limit for ordinary test jobs (lavapipe on 2 busy cores is slow).
pub const JOB_TIMEOUT: Duration = Duration::from_secs(60);

/// The pool shared by every test in this binary. Fails loudly (naming the packages to install)
/// when there is no adapter: GPU tests never pass silently.
pub fn pool() -> &'static WorkerPool {
    static POOL: OnceLock<WorkerPool> = OnceLock::new();
    POOL.get_or_init(|| {
        WorkerPool::new(PoolConfig {
            worker_exe: Some(WORKER.into()),
            gpu: GpuConfig {
                adapter: AdapterChoice::Auto,
                allow_cpu: true,
            },
            workers: 2,
            job_timeout: JOB_TIMEOUT,
            ..PoolConfig::default()
        })
        .unwrap_or_else(|e| panic!("GPU tests need an adapter: {e}"))
    })
}

/// Runs a small known job and checks it bit-exactly: the pool still works.
pub fn assert_pool_healthy() {
    let input = kernels::test_words(1000, 42);
    let outcome = pool()
        .execute(&kernels::vector_transform_job(&input, 5, 3))
        .unwrap_or_else(|e| panic!("the pool is unhealthy after a hostile job: {e}"));
    assert_eq!(
        bytes_to_words(&outcome.output),
        cpu::vector_transform(&input, 5, 3)
    );
}
