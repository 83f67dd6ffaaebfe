//! Several devices behind one provider: jobs spread over the pools, a device that refuses a job
//! passes it on, and the capabilities published for an adapter are its own (vendor, memory).

mod common;

use std::sync::Arc;
use std::time::Duration;

use compute_market_job::Caps;
use provider_daemon::gpu::kernels::{self, bytes_to_words, cpu};
use provider_daemon::gpu::{context, AdapterChoice, ExecError, GpuConfig, GpuFleet, PoolConfig};
use provider_daemon::publish;

fn pool_config(caps: Caps) -> PoolConfig {
    PoolConfig {
        worker_exe: None,
        gpu: GpuConfig {
            adapter: AdapterChoice::Auto,
            allow_cpu: true,
        },
        caps,
        workers: 1,
        job_timeout: common::JOB_TIMEOUT,
        ..PoolConfig::default()
    }
}

/// Two pools on this machine's one adapter stand in for two GPUs (the fleet does not know the
/// difference: each pool has its own workers).
#[test]
fn jobs_spread_over_devices_and_a_refusing_device_passes_the_job_on() {
    let small = Caps {
        max_output_len: 64,
        ..Caps::default()
    };
    let fleet = Arc::new(
        GpuFleet::new(vec![pool_config(small), pool_config(Caps::default())])
            .unwrap_or_else(|e| panic!("GPU tests need an adapter: {e}")),
    );
    assert_eq!(fleet.len(), 2);

    // Too big for device 0: validation passes on device 1, and it runs there.
    let input = kernels::test_words(4096, 7);
    let big = kernels::vector_transform_job(&input, 3, 1);
    assert!(matches!(
        fleet.pool(0).unwrap().validate(&big),
        Err(ExecError::Rejected(_))
    ));
    fleet.validate(&big).expect("device 1 accepts it");
    let ran = fleet
        .execute_with_timeout(&big, Duration::from_secs(60))
        .expect("runs on device 1");
    assert_eq!(ran.device, 1);
    assert_eq!(
        bytes_to_words(&ran.outcome.output),
        cpu::vector_transform(&input, 3, 1)
    );

    // Two jobs at once: each device gets one (the least busy goes first).
    let small_input = kernels::test_words(8, 3);
    let job = kernels::vector_transform_job(&small_input, 2, 5);
    let before = fleet.jobs_run();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let (fleet, job) = (fleet.clone(), job.clone());
            std::thread::spawn(move || {
                fleet
                    .execute_with_timeout(&job, Duration::from_secs(60))
                    .expect("runs")
            })
        })
        .collect();
    for run in runs {
        let ran = run.join().unwrap();
        assert_eq!(
            bytes_to_words(&ran.outcome.output),
            cpu::vector_transform(&small_input, 2, 5)
        );
    }
    let after = fleet.jobs_run();
    let delta: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    // Each reserves its device when it chooses: two jobs at once never pile onto one device.
    assert_eq!(delta, vec![1, 1], "{after:?}");

    // Nothing fits anywhere: the device's refusal is the answer.
    let huge = kernels::vector_transform_job(&kernels::test_words(1 << 20, 1), 1, 1);
    let tiny = GpuFleet::new(vec![pool_config(small)]).unwrap();
    assert!(matches!(
        tiny.execute_with_timeout(&huge, Duration::from_secs(60)),
        Err(ExecError::Rejected(_))
    ));
}

/// What `init` publishes is this adapter's: its PCI vendor id (it was always 0) and its
/// device-local memory (it was the largest buffer wgpu allows).
#[test]
fn published_capabilities_are_the_adapters_own() {
    let config = GpuConfig {
        adapter: AdapterChoice::Auto,
        allow_cpu: true,
    };
    let (adapter, caps) = publish::measure(&config).expect("measures");
    assert_ne!(adapter.vendor_id, 0, "{adapter}");
    assert_eq!(caps.vendor_id, adapter.vendor_id);
    let listed = context::enumerate_adapters();
    let same = &listed[adapter.index];
    assert_eq!(same.vendor_id, adapter.vendor_id);
    if adapter.backend == "Vulkan" {
        let memory = adapter.memory_bytes.expect("Vulkan reports its heaps");
        assert_eq!(u64::from(caps.memory_mib), memory >> 20, "{adapter}");
    }
    if adapter.is_cpu {
        assert_eq!(adapter.vendor_id, 0x10005, "Mesa's vendor id: {adapter}");
        assert_eq!(caps.device_class, compute_market_sdk::DeviceClass::Cpu);
    }
    assert!(caps.bandwidth_mbps > 0 && caps.int_mops > 0, "{caps:?}");
}

/// A job whose worker would be free only after its latest start is not run: waiting for a GPU
/// counts against the commit deadline as much as running does (it used to wait as long as the
/// job ahead took, and could then run a full time limit past the deadline).
#[test]
fn a_job_that_cannot_start_in_time_is_refused_as_busy() {
    let fleet = Arc::new(GpuFleet::new(vec![pool_config(Caps::default())]).unwrap());
    // A runaway shader holds the only worker until its 4 s limit.
    let runaway = compute_market_job::JobDescriptor {
        wgsl: b"@group(0) @binding(1) var<storage, read_write> o: array<u32>;\n@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) { var x = id.x; loop { x = x * 1664525u + 1013904223u; o[x % 16u] = x; } }".to_vec(),
        entry_point: "main".into(),
        workgroups: [65_535, 1, 1],
        input: Vec::new(),
        output_len: 64,
        params: [0; 32],
        ..Default::default()
    };
    let busy = {
        let fleet = fleet.clone();
        std::thread::spawn(move || fleet.execute_with_timeout(&runaway, Duration::from_secs(4)))
    };
    std::thread::sleep(Duration::from_millis(500));
    let input = kernels::test_words(8, 1);
    let small = kernels::vector_transform_job(&input, 2, 1);
    let asked = std::time::Instant::now();
    let refused = fleet.execute_by(
        &small,
        Duration::from_secs(10),
        Some(asked + Duration::from_millis(300)),
    );
    assert!(
        matches!(refused, Err(ExecError::Busy { .. })),
        "{refused:?}"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );
    assert!(matches!(
        busy.join().unwrap(),
        Err(ExecError::Timeout { .. })
    ));
    // Once the worker is free (replaced after the kill), the same job runs.
    let ran = fleet
        .execute_by(
            &small,
            Duration::from_secs(10),
            Some(std::time::Instant::now() + Duration::from_secs(5)),
        )
        .expect("runs");
    assert_eq!(
        bytes_to_words(&ran.outcome.output),
        cpu::vector_transform(&input, 2, 1)
    );
}
