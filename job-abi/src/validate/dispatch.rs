//! The checks of a job's dispatches and sizes against a validated shader: cheap, no parsing.

use crate::abi::{
    tightest, Caps, JobDescriptor, LimitSource, Limits, MAX_INPUT_LEN, MAX_JOB_MEMORY,
    MAX_OUTPUT_LEN, MAX_WORKGROUPS_PER_DIMENSION,
};
use crate::error::AbiError;
use crate::manifest::{Pass, BINDING_SCRATCH, MAX_DISPATCHES, MAX_PASSES, MAX_SCRATCH_BUFFERS};

use super::ShaderInfo;

/// Checks a job's dispatches and buffer sizes against a validated shader, the device and the
/// provider: each pass's workgroup counts and repeat, the job's total dispatches and workgroups,
/// each buffer's size and all of them together. Cheap: no parsing, so a daemon can run it on
/// every job with a cached [`ShaderInfo`].
pub fn check_dispatch(
    job: &JobDescriptor,
    info: &ShaderInfo,
    limits: &Limits,
    caps: &Caps,
) -> Result<(), AbiError> {
    let passes = job.effective_passes();
    if passes.len() > MAX_PASSES {
        return Err(AbiError::TooManyPasses {
            count: passes.len(),
            max: MAX_PASSES,
        });
    }
    let mut total_workgroups: u64 = 0;
    let mut dispatches: u64 = 0;
    for (index, pass) in passes.iter().enumerate() {
        let workgroups = check_pass(pass, limits).map_err(|error| {
            if job.is_manifest() {
                AbiError::InPass {
                    pass: index,
                    entry_point: pass.entry_point.clone(),
                    error: Box::new(error),
                }
            } else {
                error
            }
        })?;
        dispatches = dispatches.saturating_add(u64::from(pass.repeat));
        total_workgroups =
            total_workgroups.saturating_add(workgroups.saturating_mul(u64::from(pass.repeat)));
    }
    let (max_dispatches, source_of_limit) = tightest(&[
        (MAX_DISPATCHES, LimitSource::Abi),
        (caps.max_dispatches, LimitSource::Provider),
    ]);
    if dispatches > max_dispatches {
        return Err(AbiError::TooManyDispatches {
            count: dispatches,
            max: max_dispatches,
            source_of_limit,
        });
    }
    if total_workgroups > caps.max_total_workgroups {
        return Err(AbiError::TooManyWorkgroups {
            total: total_workgroups,
            max: caps.max_total_workgroups,
            source_of_limit: LimitSource::Provider,
        });
    }
    check_buffers(job, info, limits, caps)
}

/// One pass's workgroup counts and repeat; its workgroups per dispatch.
fn check_pass(pass: &Pass, limits: &Limits) -> Result<u64, AbiError> {
    let (max_per_dim, source_of_limit) = tightest(&[
        (u64::from(MAX_WORKGROUPS_PER_DIMENSION), LimitSource::Abi),
        (
            u64::from(limits.max_workgroups_per_dimension),
            LimitSource::Device,
        ),
    ]);
    for (axis, &count) in ['x', 'y', 'z'].into_iter().zip(&pass.workgroups) {
        if count == 0 {
            return Err(AbiError::WorkgroupCountZero { axis });
        }
        if u64::from(count) > max_per_dim {
            return Err(AbiError::WorkgroupCountTooLarge {
                axis,
                count,
                max: u32::try_from(max_per_dim).unwrap_or(u32::MAX),
                source_of_limit,
            });
        }
    }
    if pass.repeat == 0 {
        return Err(AbiError::RepeatZero);
    }
    Ok(pass.workgroups.iter().map(|&c| u64::from(c)).product())
}

/// Input, output and scratch sizes, each and together.
fn check_buffers(
    job: &JobDescriptor,
    info: &ShaderInfo,
    limits: &Limits,
    caps: &Caps,
) -> Result<(), AbiError> {
    let device_binding = limits.max_storage_binding_size.min(limits.max_buffer_size);
    let input_len = job.input.len() as u64;
    let (max_input, source_of_limit) = tightest(&[
        (MAX_INPUT_LEN, LimitSource::Abi),
        (device_binding, LimitSource::Device),
        (caps.max_input_len, LimitSource::Provider),
    ]);
    if input_len > max_input {
        return Err(AbiError::InputTooLarge {
            len: input_len,
            max: max_input,
            source_of_limit,
        });
    }
    if !input_len.is_multiple_of(4) {
        return Err(AbiError::InputNotAligned { len: input_len });
    }
    // An empty input is bound as one zero word (see the crate docs).
    let bound_input = input_len.max(4);
    if info.declares_input && bound_input < info.input_min_len {
        return Err(AbiError::InputTooShort {
            len: bound_input,
            min: info.input_min_len,
        });
    }

    let output_len = job.output_len;
    if output_len == 0 {
        return Err(AbiError::OutputEmpty);
    }
    let (max_output, source_of_limit) = tightest(&[
        (MAX_OUTPUT_LEN, LimitSource::Abi),
        (device_binding, LimitSource::Device),
        (caps.max_output_len, LimitSource::Provider),
    ]);
    if output_len > max_output {
        return Err(AbiError::OutputTooLarge {
            len: output_len,
            max: max_output,
            source_of_limit,
        });
    }
    if !output_len.is_multiple_of(4) {
        return Err(AbiError::OutputNotAligned { len: output_len });
    }
    if output_len < info.output_min_len {
        return Err(AbiError::OutputTooShort {
            len: output_len,
            min: info.output_min_len,
        });
    }
    check_scratch(job, info, device_binding)?;
    let (max_memory, source_of_limit) = tightest(&[
        (MAX_JOB_MEMORY, LimitSource::Abi),
        (caps.max_job_memory, LimitSource::Provider),
    ]);
    let bytes = job.memory_bytes();
    if bytes > max_memory {
        return Err(AbiError::JobMemoryTooLarge {
            bytes,
            max: max_memory,
            source_of_limit,
        });
    }
    Ok(())
}

fn check_scratch(
    job: &JobDescriptor,
    info: &ShaderInfo,
    device_binding: u64,
) -> Result<(), AbiError> {
    if job.scratch.len() > MAX_SCRATCH_BUFFERS {
        return Err(AbiError::TooManyScratchBuffers {
            count: job.scratch.len(),
            max: MAX_SCRATCH_BUFFERS,
        });
    }
    let (max_scratch, source_of_limit) = tightest(&[
        (MAX_OUTPUT_LEN, LimitSource::Abi),
        (device_binding, LimitSource::Device),
    ]);
    for (index, &len) in job.scratch.iter().enumerate() {
        if len == 0 || !len.is_multiple_of(4) {
            return Err(AbiError::ScratchInvalid { index, len });
        }
        if len > max_scratch {
            return Err(AbiError::ScratchTooLarge {
                index,
                len,
                max: max_scratch,
                source_of_limit,
            });
        }
    }
    for (index, min) in info.scratch_min_len.iter().enumerate() {
        let Some(min) = *min else { continue };
        let Some(&len) = job.scratch.get(index) else {
            return Err(AbiError::ScratchMissing {
                index,
                binding: BINDING_SCRATCH + index as u32,
                available: job.scratch.len(),
            });
        };
        if len < min {
            return Err(AbiError::ScratchTooShort { index, len, min });
        }
    }
    Ok(())
}
