//! Job validation on the daemon side: the ABI's single definition (`compute_market_job`) checked
//! against *this* device's limits and the provider's caps. Runs in the parent before a job is
//! handed to a worker, so an invalid job never touches the device.

use compute_market_job::{validate_job, AbiError, Caps, JobDescriptor, ShaderInfo};

use super::worker::DeviceDescription;

/// Validates `job` against the device the workers use and the provider's caps.
pub fn validate_for_device(
    job: &JobDescriptor,
    device: &DeviceDescription,
    caps: &Caps,
) -> Result<ShaderInfo, AbiError> {
    validate_job(job, &device.limits, caps)
}
