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
        worker_exe: Some(env!("CARGO_BIN_EXE_provider-daemon").into()),
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
    assert_eq!(delta.iter().sum::<u64>(), 2);
    // The two may run one after the other on a 2-core machine; either way both devices serve.
    assert!(after.iter().all(|n| *n >= 1), "{after:?}");

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
