//! `compute-market load-test` at CI size: two daemons, twenty jobs from four clients, a fifth of
//! them hostile (a tarpit, a refused URI, an infinite loop); then the market padded to thirty
//! open jobs, idle counts and two probes. The command itself checks that every honest job
//! completed with the CPU reference's result and that nobody was slashed; this checks that it
//! says so.

use std::process::Command;

#[test]
fn a_small_load_test_completes_every_honest_job_and_slashes_nobody() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_compute-market"))
        .args([
            "load-test",
            "--daemons",
            "2",
            "--jobs",
            "20",
            "--hostile-percent",
            "20",
            "--open-jobs",
            "30",
            "--idle-seconds",
            "10",
            "--probes",
            "2",
            "--stall-timeout",
            "120",
        ])
        .env("HOME", home.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "load-test failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 16 honest jobs and 2 probes, each with the CPU reference's result hash.
    assert!(
        stdout.contains("| honest jobs completed with the right result hash | 18/18 | all |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("jobs: 20 posted") && stdout.contains("1 infinite loops"),
        "{stdout}"
    );
    // The loop was claimed and given back at least once; nobody was slashed.
    let give_backs = stdout
        .lines()
        .find_map(|l| l.strip_prefix("| give-backs of the 1 loop jobs / providers slashed | "))
        .expect("the give-back row");
    assert!(give_backs.ends_with(" / 0 | — / 0 |"), "{give_backs}");
    assert!(!give_backs.starts_with("0 "), "{give_backs}");
    for row in [
        "| pickup of 2 probes by the idle fleet with 30 open jobs",
        "| RPC requests per completed one-replica job",
        "| idle RPC per open job per minute, 30 open",
    ] {
        assert!(stdout.contains(row), "{row:?} missing from\n{stdout}");
    }
}
