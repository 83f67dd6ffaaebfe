//! Several GPUs behind one provider identity: one [`WorkerPool`] per adapter. A job is
//! validated against the devices until one accepts it (a refusal passes on only when it is about
//! a limit another device may not have), and runs on the least busy device that accepts it; a
//! device whose workers die or lose their device is repaired by its own pool, and one whose
//! workers keep failing to start is passed over for a while.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use compute_market_job::{JobDescriptor, LimitSource, ShaderInfo};

use crate::error::ExecError;
use crate::worker::{DeviceDescription, PoolConfig, WorkerPool};
use crate::ExecOutcome;

/// Consecutive worker-start failures after which a device is passed over.
pub const QUARANTINE_AFTER: u32 = 3;
/// How long a failing device is passed over (while another device is healthy).
pub const QUARANTINE: Duration = Duration::from_secs(60);

/// One device's pool and its load.
struct Device {
    pool: WorkerPool,
    /// Jobs running on it now (or about to: reserved when chosen).
    busy: AtomicUsize,
    /// Jobs it finished (successfully or not) since start.
    ran: AtomicU64,
    /// Worker-start failures in a row.
    failures: AtomicU32,
    /// Passed over until then, after [`QUARANTINE_AFTER`] failures in a row.
    quarantined_until: Mutex<Option<Instant>>,
}

impl Device {
    fn new(pool: WorkerPool) -> Self {
        Self {
            pool,
            busy: AtomicUsize::new(0),
            ran: AtomicU64::new(0),
            failures: AtomicU32::new(0),
            quarantined_until: Mutex::new(None),
        }
    }

    fn quarantined(&self) -> bool {
        let until = self
            .quarantined_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        until.is_some_and(|t| Instant::now() < t)
    }

    /// Records how a run went: a worker that could not start counts towards quarantine;
    /// anything else resets the count.
    fn record(&self, result: &Result<ExecOutcome, ExecError>) {
        if matches!(result, Err(ExecError::WorkerStart { .. })) {
            let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
            if failures >= QUARANTINE_AFTER {
                tracing::warn!(
                    adapter = %self.pool.device().adapter,
                    failures,
                    "a device's workers keep failing to start: passing it over for a while"
                );
                *self
                    .quarantined_until
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + QUARANTINE);
            }
        } else {
            self.failures.store(0, Ordering::Relaxed);
        }
    }
}

/// Whether another device may accept a job this one refused: only a refusal about a device
/// limit or a provider cap (pools may differ in both); a shader's own error is the same
/// everywhere.
fn another_device_may_accept(error: &ExecError) -> bool {
    match error {
        ExecError::Rejected(abi) => matches!(
            abi.limit_source(),
            Some(LimitSource::Device | LimitSource::Provider)
        ),
        _ => false,
    }
}

/// The worker pools of every adapter a daemon serves. `Sync`: share it in an `Arc` and call the
/// blocking methods from `spawn_blocking`.
pub struct GpuFleet {
    devices: Vec<Device>,
    /// Serializes the choice of a device, so two jobs arriving together see each other's
    /// reservation.
    choosing: Mutex<()>,
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
            .map(|pool| pool.map(Device::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            devices,
            choosing: Mutex::new(()),
        })
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

    /// Validates a job against the devices in turn until one accepts it (the shader is parsed in
    /// a sandboxed child process per try). Only a refusal about a device limit or a provider cap
    /// passes the job on; any other verdict (a parse error, the validator crashed or timed out)
    /// is returned at once. Blocks.
    pub fn validate(&self, job: &JobDescriptor) -> Result<ShaderInfo, ExecError> {
        let mut refused = None;
        for device in &self.devices {
            match device.pool.validate(job) {
                Ok(info) => return Ok(info),
                Err(e) if another_device_may_accept(&e) => {
                    refused.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(refused.unwrap_or_else(|| ExecError::WorkerStart {
            message: "no device".into(),
        }))
    }

    /// [`GpuFleet::execute_by`] without a latest start.
    pub fn execute_with_timeout(
        &self,
        job: &JobDescriptor,
        limit: Duration,
    ) -> Result<FleetOutcome, ExecError> {
        self.execute_by(job, limit, None)
    }

    /// Runs a job on the least busy device that accepts it (ties: the first listed; devices in
    /// quarantine last), with a wall-clock limit, on a worker free by `start_by`
    /// ([`ExecError::Busy`] otherwise). A device that refuses the job for one of its limits, or
    /// whose worker could not start, passes it to the next. Blocks.
    pub fn execute_by(
        &self,
        job: &JobDescriptor,
        limit: Duration,
        start_by: Option<Instant>,
    ) -> Result<FleetOutcome, ExecError> {
        let mut tried = vec![false; self.devices.len()];
        let mut passed_on = None;
        while let Some(index) = self.reserve(&tried) {
            tried[index] = true;
            let device = &self.devices[index];
            let result = device.pool.execute_by(job, limit, start_by);
            device.busy.fetch_sub(1, Ordering::Relaxed);
            device.record(&result);
            match result {
                Err(e) if another_device_may_accept(&e) => {
                    passed_on.get_or_insert(e);
                }
                Err(e @ ExecError::WorkerStart { .. }) => {
                    tracing::warn!(device = index, error = %e, "trying the job on another device");
                    passed_on = Some(e);
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
        Err(passed_on.unwrap_or_else(|| ExecError::WorkerStart {
            message: "no device".into(),
        }))
    }

    /// Chooses the least busy device not yet tried (healthy ones first) and reserves it.
    fn reserve(&self, tried: &[bool]) -> Option<usize> {
        let _choosing = self.choosing.lock().unwrap_or_else(|p| p.into_inner());
        let index = (0..self.devices.len())
            .filter(|i| !tried[*i])
            .min_by_key(|i| {
                let d = &self.devices[*i];
                (d.quarantined(), d.busy.load(Ordering::Relaxed), *i)
            })?;
        self.devices[index].busy.fetch_add(1, Ordering::Relaxed);
        Some(index)
    }
}
