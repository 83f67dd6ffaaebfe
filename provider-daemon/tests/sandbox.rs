//! The worker sandbox, observed from outside (the `/proc` entries of real workers) and from
//! inside (the test-only `sandbox-probe` subcommand, started exactly as workers are).
#![cfg(target_os = "linux")]

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use provider_daemon::gpu::kernels;
use provider_daemon::gpu::sandbox::{self, Sandbox, DEFAULT_MAX_ADDRESS_SPACE};
use provider_daemon::gpu::{AdapterChoice, GpuConfig, PoolConfig, SandboxConfig, WorkerPool};

/// The daemon binary, for its test-only `sandbox-probe` subcommand (the workers themselves are
/// `compute-market-worker`, found in target/<profile>/).
const EXE: &str = env!("CARGO_BIN_EXE_provider-daemon");
const SECRET: &str = "AWS_SECRET_ACCESS_KEY";
/// Set when this test binary runs again as a child process in one of the roles below.
const ROLE: &str = "SANDBOX_TEST_ROLE";

fn pool_config() -> PoolConfig {
    PoolConfig {
        worker_exe: None,
        gpu: GpuConfig {
            adapter: AdapterChoice::Auto,
            allow_cpu: true,
        },
        job_timeout: common::JOB_TIMEOUT,
        ..PoolConfig::default()
    }
}

/// Runs the test `name` again in a child process of this binary, with `env` added: a process
/// that plays the daemon (tests share one process, so none may change its own environment).
fn rerun(name: &str, env: &[(&str, &str)]) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

fn environ_names(pid: u32) -> Vec<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    environ
        .split(|b| *b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| {
            let v = String::from_utf8_lossy(v);
            v.split_once('=')
                .map_or(v.to_string(), |(k, _)| k.to_string())
        })
        .collect()
}

#[test]
fn the_daemons_secrets_do_not_reach_its_workers() {
    if std::env::var(ROLE).as_deref() != Ok("secret-holder") {
        let child = rerun(
            "the_daemons_secrets_do_not_reach_its_workers",
            &[(ROLE, "secret-holder"), (SECRET, "sentinel-secret")],
        );
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "the daemon-like process failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        return;
    }
    assert_eq!(std::env::var(SECRET).as_deref(), Ok("sentinel-secret"));
    let pool = WorkerPool::new(pool_config()).unwrap();
    let pid = pool.idle_worker_pids()[0];
    let names = environ_names(pid);
    assert!(!names.iter().any(|n| n == SECRET), "{names:?}");
    assert!(!names.iter().any(|n| n == ROLE), "{names:?}");
    let config = SandboxConfig::default();
    for name in &names {
        assert!(config.passes(name.as_ref()), "{name} reached the worker");
    }
    assert!(names.iter().any(|n| n == "XDG_RUNTIME_DIR"), "{names:?}");
}

fn limits_of(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap()
}

/// The soft and hard values of one row of `/proc/<pid>/limits`.
fn limit(limits: &str, row: &str) -> (String, String) {
    let line = limits
        .lines()
        .find(|l| l.starts_with(row))
        .unwrap_or_else(|| panic!("no {row} in {limits}"));
    let fields: Vec<&str> = line[row.len()..].split_whitespace().collect();
    (fields[0].to_string(), fields[1].to_string())
}

#[test]
fn workers_run_under_resource_limits_without_privileges_or_network() {
    let pool = WorkerPool::new(pool_config()).unwrap();
    let pid = pool.idle_worker_pids()[0];
    let limits = limits_of(pid);
    let space = DEFAULT_MAX_ADDRESS_SPACE.to_string();
    assert_eq!(limit(&limits, "Max address space"), (space.clone(), space));
    let files = (String::from("1024"), String::from("1024"));
    assert_eq!(limit(&limits, "Max open files"), files);
    let cpu = (String::from("3601"), String::from("3601"));
    assert_eq!(limit(&limits, "Max cpu time"), cpu);
    let zero = (String::from("0"), String::from("0"));
    assert_eq!(limit(&limits, "Max core file size"), zero);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    assert!(
        sandbox::has_own_network(pid) == Some(true) || !user_namespaces_work(),
        "the worker shares the daemon's network namespace"
    );
    // And the worker still does its job under all this.
    let input = kernels::test_words(1000, 7);
    let outcome = pool
        .execute(&kernels::vector_transform_job(&input, 5, 3))
        .unwrap();
    assert_eq!(
        kernels::bytes_to_words(&outcome.output),
        kernels::cpu::vector_transform(&input, 5, 3)
    );
    let peak = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmPeak"))
        .map(str::to_string);
    eprintln!("worker {pid} after a job: {peak:?}");
}

/// Whether this host lets an unprivileged process create a user namespace (checked with the
/// real `unshare` tool when there is one; assumed yes otherwise).
fn user_namespaces_work() -> bool {
    Command::new("unshare")
        .args(["--user", "--net", "true"])
        .status()
        .map_or(true, |s| s.success())
}

#[test]
fn inside_the_sandbox_there_is_no_network_no_secret_and_a_death_signal() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let sandbox = Sandbox::new(SandboxConfig::default()).unwrap();
    let mut command = sandbox.command(EXE.as_ref(), Duration::from_secs(30));
    command
        .args(["sandbox-probe", "--connect", &address.to_string()])
        .stdout(Stdio::piped());
    let child = sandbox.spawn(command).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("probe: {report}");
    if user_namespaces_work() {
        let connect = report["connect"].as_str().unwrap();
        assert_ne!(connect, "connected");
        assert!(connect.contains("unreachable"), "{connect}");
    }
    assert_eq!(report["death_signal"], 9);
    assert_eq!(report["no_new_privs"], true);
    let env = report["env"].as_array().unwrap();
    assert!(env.iter().all(|n| n != SECRET && n != "HOME"), "{env:?}");
}

#[test]
fn a_busy_worker_dies_with_its_daemon() {
    if std::env::var(ROLE).as_deref() == Ok("doomed-daemon") {
        let pool = WorkerPool::new(pool_config()).unwrap();
        println!("\nworker-pid={}", pool.idle_worker_pids()[0]);
        // Keeps the worker busy until this process is killed.
        let _ = pool.execute_with_timeout(&runaway(), Duration::from_secs(600));
        return;
    }
    let mut daemon = rerun(
        "a_busy_worker_dies_with_its_daemon",
        &[(ROLE, "doomed-daemon")],
    );
    let mut lines = BufReader::new(daemon.stdout.take().unwrap()).lines();
    let pid: u32 = loop {
        let line = lines.next().expect("the daemon exited").unwrap();
        // (libtest may have written the test's name on the same line.)
        if let Some((_, pid)) = line.rsplit_once("worker-pid=") {
            break pid.trim().parse().unwrap();
        }
    };
    // Let the job reach the device, then kill the daemon as the OOM killer would.
    std::thread::sleep(Duration::from_secs(2));
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_running(pid) {
        assert!(
            Instant::now() < deadline,
            "worker {pid} outlived its daemon"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Alive and not a zombie.
fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

/// Loops forever on every invocation.
fn runaway() -> compute_market_job::JobDescriptor {
    compute_market_job::JobDescriptor {
        wgsl: b"@group(0) @binding(1) var<storage, read_write> o: array<u32>;\n\
            @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {\n\
            var x = id.x; loop { x = x * 1664525u + 1013904223u; o[x % 16u] = x; } }"
            .to_vec(),
        entry_point: "main".into(),
        workgroups: [65_535, 1, 1],
        input: Vec::new(),
        output_len: 64,
        params: [0; compute_market_job::PARAMS_LEN],
        ..Default::default()
    }
}
