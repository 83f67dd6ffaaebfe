//! What a provider publishes on-chain about its hardware: the [`Capabilities`] every one of its
//! devices has (measured by `init`, as `check` prints them) and its [`Capacity`] (devices
//! served, jobs at once), which `run` keeps true.

use compute_market_sdk::{Capabilities, Capacity, DeviceClass};

use crate::gpu::{bench, AdapterSummary, Executor, GpuConfig, GpuContext};

/// Why an adapter could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// The device did not open.
    #[error(transparent)]
    Gpu(#[from] crate::gpu::GpuError),
    /// The self-test or a benchmark failed.
    #[error(transparent)]
    Bench(#[from] crate::gpu::bench::BenchError),
}

/// The on-chain class of an adapter.
pub fn device_class(adapter: &AdapterSummary) -> DeviceClass {
    match adapter.device_type.to_ascii_lowercase() {
        t if adapter.is_cpu || t.contains("cpu") => DeviceClass::Cpu,
        t if t.contains("discrete") => DeviceClass::DiscreteGpu,
        t if t.contains("integrated") => DeviceClass::IntegratedGpu,
        t if t.contains("virtual") => DeviceClass::VirtualGpu,
        _ => DeviceClass::Other,
    }
}

/// The capabilities of one adapter from its description, limits and measured figures (bytes
/// and operations per second).
pub fn capabilities_of(
    adapter: &AdapterSummary,
    limits: &compute_market_job::Limits,
    bandwidth_per_second: f64,
    ops_per_second: f64,
) -> Capabilities {
    Capabilities {
        vendor_id: adapter.vendor_id,
        device_class: device_class(adapter),
        memory_mib: adapter.memory_mib(limits),
        max_workgroup_invocations: limits.max_invocations_per_workgroup,
        max_storage_buffer_bytes: limits.max_storage_binding_size,
        bandwidth_mbps: (bandwidth_per_second / 1e6) as u32,
        int_mops: (ops_per_second / 1e6) as u32,
    }
}

/// Opens the adapter `config` chooses, runs the self-test kernels against their CPU references
/// and measures it: its description and capabilities.
pub fn measure(config: &GpuConfig) -> Result<(AdapterSummary, Capabilities), MeasureError> {
    let ctx = GpuContext::new(config)?;
    let adapter = ctx.adapter.clone();
    let limits = ctx.abi_limits();
    let mut exec = Executor::new(ctx, compute_market_job::Caps::default());
    bench::self_test(&mut exec)?;
    let bandwidth = bench::memory_bandwidth(&mut exec, 1 << 22, 5)?;
    let ops = bench::integer_ops(&mut exec, 1 << 18, 256, 5)?;
    let capabilities = capabilities_of(&adapter, &limits, bandwidth.per_second, ops.per_second);
    Ok((adapter, capabilities))
}

/// What several devices can all do: the least of every figure; the vendor when they share one
/// (0 for a mix); the class when they share one (`Cpu` if any is a CPU adapter, else `Other`
/// for a mix). A job that meets these can run on any of the devices.
pub fn combine(all: &[Capabilities]) -> Option<Capabilities> {
    let (first, rest) = all.split_first()?;
    Some(rest.iter().fold(*first, |a, b| Capabilities {
        vendor_id: if a.vendor_id == b.vendor_id {
            a.vendor_id
        } else {
            0
        },
        device_class: match (a.device_class, b.device_class) {
            (x, y) if x == y => x,
            (DeviceClass::Cpu, _) | (_, DeviceClass::Cpu) => DeviceClass::Cpu,
            _ => DeviceClass::Other,
        },
        memory_mib: a.memory_mib.min(b.memory_mib),
        max_workgroup_invocations: a.max_workgroup_invocations.min(b.max_workgroup_invocations),
        max_storage_buffer_bytes: a.max_storage_buffer_bytes.min(b.max_storage_buffer_bytes),
        bandwidth_mbps: a.bandwidth_mbps.min(b.bandwidth_mbps),
        int_mops: a.int_mops.min(b.int_mops),
    }))
}

/// The capacity a daemon with `devices` devices and `max_concurrent_jobs` publishes (each
/// figure at least 1, saturating at `u16::MAX`).
pub fn capacity(devices: usize, max_concurrent_jobs: usize) -> Capacity {
    let clamp = |n: usize| u16::try_from(n.max(1)).unwrap_or(u16::MAX);
    Capacity {
        devices: clamp(devices),
        max_concurrent_jobs: clamp(max_concurrent_jobs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(vendor_id: u32, device_class: DeviceClass, memory_mib: u32) -> Capabilities {
        Capabilities {
            vendor_id,
            device_class,
            memory_mib,
            max_workgroup_invocations: 1024,
            max_storage_buffer_bytes: 1 << 30,
            bandwidth_mbps: 500_000,
            int_mops: 1_000_000,
        }
    }

    #[test]
    fn combined_capabilities_hold_for_every_device() {
        let big = caps(0x10de, DeviceClass::DiscreteGpu, 80_000);
        let small = Capabilities {
            max_workgroup_invocations: 256,
            bandwidth_mbps: 100,
            ..caps(0x10de, DeviceClass::DiscreteGpu, 8_000)
        };
        let both = combine(&[big, small]).unwrap();
        assert_eq!(
            (
                both.vendor_id,
                both.memory_mib,
                both.max_workgroup_invocations
            ),
            (0x10de, 8_000, 256)
        );
        assert_eq!(both.bandwidth_mbps, 100);
        assert_eq!(both.device_class, DeviceClass::DiscreteGpu);
        let mixed = combine(&[big, caps(0x1002, DeviceClass::IntegratedGpu, 4_000)]).unwrap();
        assert_eq!(
            (mixed.vendor_id, mixed.device_class),
            (0, DeviceClass::Other)
        );
        let with_cpu = combine(&[big, caps(0x10005, DeviceClass::Cpu, 16_000)]).unwrap();
        assert_eq!(with_cpu.device_class, DeviceClass::Cpu);
        assert_eq!(combine(&[]), None);
        assert_eq!(combine(&[big]), Some(big));
    }

    #[test]
    fn capacity_is_at_least_one_of_each() {
        assert_eq!(
            capacity(0, 0),
            Capacity {
                devices: 1,
                max_concurrent_jobs: 1
            }
        );
        assert_eq!(capacity(3, 100_000).max_concurrent_jobs, u16::MAX);
    }
}
