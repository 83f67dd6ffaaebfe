//! Worker-pool start-up failures are typed errors, never hangs or panics.

use std::time::Duration;

use provider_daemon::gpu::{ExecError, PoolConfig, WorkerPool};

fn pool_with(exe: &str) -> Result<WorkerPool, ExecError> {
    WorkerPool::new(PoolConfig {
        worker_exe: Some(exe.into()),
        startup_timeout: Duration::from_secs(10),
        ..PoolConfig::default()
    })
}

#[test]
fn missing_worker_executable() {
    let err = pool_with("/nonexistent/provider-daemon").err();
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
