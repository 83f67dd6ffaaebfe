//! Several GPUs behind one provider identity: one [`WorkerPool`] per adapter. A job is
//! validated against the devices until one accepts it, and runs on the least busy device that
//! accepts it; a device whose workers die or lose their device is repaired by its own pool.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use compute_market_job::{JobDescriptor, Limits, ShaderInfo};

use super::error::ExecError;
use super::worker::{DeviceDescription, PoolConfig, WorkerPool};
use super::ExecOutcome;

/// One device's pool and its load.
struct Device {
    pool: WorkerPool,
    /// Jobs running on it now.
    busy: AtomicUsize,
    /// Jobs it finished (successfully or not) since start.
    ran: AtomicU64,
}

/// The worker pools of every adapter a daemon serves. `Sync`: share it in an `Arc` and call the
/// blocking methods from `spawn_blocking`.
pub struct GpuFleet {
    devices: Vec<Device>,
}

/// A job's outcome and the device (index in [`GpuFleet::devices`]) that ran it.
#[derive(Debug)]
pub struct FleetOutcome {
    /// Which device ran the job.
    pub device: usize,
    /// What it produced.
    pub outcome: ExecOutcome,
}

impl GpuFleet {
    /// Starts one pool per configuration (their devices open in parallel). Fails when any pool
    /// fails: a daemon told to serve a GPU must not quietly serve fewer.
    pub fn new(configs: Vec<PoolConfig>) -> Result<Self, ExecError> {
        if configs.is_empty() {
            return Err(ExecError::WorkerStart {
                message: "no adapter to serve (gpu.adapters resolved to none)".into(),
            });
        }
        let pools: Vec<Result<WorkerPool, ExecError>> = std::thread::scope(|scope| {
            let started: Vec<_> = configs
                .into_iter()
                .map(|config| scope.spawn(move || WorkerPool::new(config)))
                .collect();
            started
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|_| {
                        Err(ExecError::WorkerStart {
                            message: "starting a worker pool panicked".into(),
                        })
                    })
                })
                .collect()
        });
        let devices = pools
            .into_iter()
            .map(|pool| {
                pool.map(|pool| Device {
                    pool,
                    busy: AtomicUsize::new(0),
                    ran: AtomicU64::new(0),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { devices })
    }

    /// A fleet of one pool.
    pub fn single(pool: WorkerPool) -> Self {
        Self {
            devices: vec![Device {
                pool,
                busy: AtomicUsize::new(0),
                ran: AtomicU64::new(0),
            }],
        }
    }

    /// The devices, in the order of `gpu.adapters`.
    pub fn devices(&self) -> Vec<&DeviceDescription> {
        self.devices.iter().map(|d| d.pool.device()).collect()
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Always false: a fleet has at least one device.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// The pool of device `index`.
    pub fn pool(&self, index: usize) -> Option<&WorkerPool> {
        self.devices.get(index).map(|d| &d.pool)
    }

    /// Jobs each device has run since start.
    pub fn jobs_run(&self) -> Vec<u64> {
        self.devices
            .iter()
            .map(|d| d.ran.load(Ordering::Relaxed))
            .collect()
    }

    /// The limits every device has (the least of each): what the provider can promise for any
    /// of its devices.
    pub fn common_limits(&self) -> Limits {
        let mut devices = self.devices.iter().map(|d| d.pool.device().limits);
        let first = devices.next().unwrap_or_default();
        devices.fold(first, |a, b| Limits {
            max_workgroup_size: [
                a.max_workgroup_size[0].min(b.max_workgroup_size[0]),
                a.max_workgroup_size[1].min(b.max_workgroup_size[1]),
                a.max_workgroup_size[2].min(b.max_workgroup_size[2]),
            ],
            max_invocations_per_workgroup: a
                .max_invocations_per_workgroup
                .min(b.max_invocations_per_workgroup),
            max_workgroups_per_dimension: a
                .max_workgroups_per_dimension
                .min(b.max_workgroups_per_dimension),
            max_storage_binding_size: a.max_storage_binding_size.min(b.max_storage_binding_size),
            max_buffer_size: a.max_buffer_size.min(b.max_buffer_size),
            max_workgroup_storage_size: a
                .max_workgroup_storage_size
                .min(b.max_workgroup_storage_size),
        })
    }

    /// Validates a job against the devices in turn until one accepts it (the shader is parsed in
    /// a sandboxed child process per try). A verdict that does not depend on the device (the
    /// validator crashed, timed out) is returned at once. Blocks.
    pub fn validate(&self, job: &JobDescriptor) -> Result<ShaderInfo, ExecError> {
        let mut refused = None;
        for device in &self.devices {
            match device.pool.validate(job) {
                Ok(info) => return Ok(info),
                Err(e @ ExecError::Rejected(_)) => {
                    refused.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(refused.unwrap_or_else(|| ExecError::WorkerStart {
            message: "no device".into(),
        }))
    }

    /// Runs a job on the least busy device that accepts it (ties: the first listed), with a
    /// wall-clock limit. A device that refuses the job (its limits) passes it to the next.
    /// Blocks.
    pub fn execute_with_timeout(
        &self,
        job: &JobDescriptor,
        limit: Duration,
    ) -> Result<FleetOutcome, ExecError> {
        let mut order: Vec<usize> = (0..self.devices.len()).collect();
        order.sort_by_key(|i| self.devices[*i].busy.load(Ordering::Relaxed));
        let mut refused = None;
        for index in order {
            let device = &self.devices[index];
            device.busy.fetch_add(1, Ordering::Relaxed);
            let result = device.pool.execute_with_timeout(job, limit);
            device.busy.fetch_sub(1, Ordering::Relaxed);
            match result {
                Err(e @ ExecError::Rejected(_)) => {
                    refused.get_or_insert(e);
                }
                other => {
                    device.ran.fetch_add(1, Ordering::Relaxed);
                    return other.map(|outcome| FleetOutcome {
                        device: index,
                        outcome,
                    });
                }
            }
        }
        Err(refused.unwrap_or_else(|| ExecError::WorkerStart {
            message: "no device".into(),
        }))
    }
}
