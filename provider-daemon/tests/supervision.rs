//! The daemon's supervision: on SIGTERM it takes no new work, lets the jobs in flight finish
//! and exits cleanly; a job-discovery task that dies leaves the daemon blind, so the daemon
//! stops with an error naming the task (and a non-zero exit) instead of running on.

mod common;

use std::time::{Duration, Instant};

use common::node::*;
use compute_market_localnet::LocalNet;
use compute_market_sdk::JobStatus;

/// How long a daemon whose watcher died may take to stop, once it said it was starting.
const STOPS_WITHIN: Duration = Duration::from_secs(10);

#[test]
fn a_dead_watcher_stops_the_daemon_with_an_error_naming_it() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        for (task, named) in [("websocket", "websocket watcher"), ("resync", "resync")] {
            let fault = format!("[fault]\nwatcher_panics = \"{task}\"\n");
            let setup = provider(&net, dir.path(), task, &fault).await;
            let mut daemon = start(&setup, dir.path(), task);
            // Starting (GPU workers on lavapipe, the journal, the chain) takes a while; the clock
            // starts once the daemon says it is starting.
            let deadline = Instant::now() + Duration::from_secs(120);
            while !daemon.log().contains("provider daemon starting") {
                assert!(
                    Instant::now() < deadline,
                    "never started:\n{}",
                    daemon.log()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let started = Instant::now();
            let status = loop {
                if let Some(status) = daemon.child.try_wait().unwrap() {
                    break status;
                }
                assert!(
                    started.elapsed() < STOPS_WITHIN,
                    "the {task} task died but the daemon still runs {STOPS_WITHIN:?} later:\n{}",
                    daemon.log()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            let log = daemon.log();
            assert!(!status.success(), "{status}: {log}");
            assert!(
                log.contains(&format!("error: the {named} task stopped unexpectedly")),
                "{log}"
            );
        }
    });
}

#[test]
fn sigterm_lets_the_job_in_flight_finish_and_exits_cleanly() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        let setup = provider(&net, dir.path(), "p", "").await;
        let mut daemon = start(&setup, dir.path(), "p");
        let client = client(&net).await;
        let (job, expected) = vector_job(1, 1);
        let handle = client.submit(&job).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !daemon.log().contains(": claimed ") {
            assert!(
                Instant::now() < deadline,
                "never claimed:\n{}",
                daemon.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let term = std::process::Command::new("kill")
            .args(["-TERM", &daemon.child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        // The claimed job is finished within the grace period, not dropped.
        let settled = wait_settled(&handle, &[&daemon]).await;
        assert_eq!(settled.status(), JobStatus::Completed);
        assert_eq!(handle.result().await.unwrap(), expected);
        let stopping = Instant::now();
        let status = loop {
            if let Some(status) = daemon.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                stopping.elapsed() < Duration::from_secs(30),
                "still running after SIGTERM:\n{}",
                daemon.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let log = daemon.log();
        assert!(status.success(), "{status}: {log}");
        assert!(log.contains("shutting down: no new work"), "{log}");
        assert!(
            log.contains("INFO provider_daemon::daemon: stopped"),
            "{log}"
        );
        assert!(!log.contains("grace period over"), "{log}");
    });
}
