//! The worker protocol: length-prefixed binary frames over a child's stdin/stdout (its stderr
//! carries logs). GPU workers and the shader validator both speak it:
//!
//! ```text
//! frame    = u64_le(len) || header || bulk     (len <= MAX_FRAME; bulk = the rest of the frame)
//! request  = 0x01 Execute  profile place wgsl entry workgroups output_len params passes scratch
//!                          | bulk: input (place = 0)
//!          | 0x02 Validate entry limits caps                      | bulk: wgsl
//! response = 0x01 Ready    adapter limits shared  (a worker, once, after the device opened)
//!          | 0x02 Done     determinism timings passes output-place | bulk: output (place = 0)
//!          | 0x03 Failed   kind message line column
//!          | 0x04 InitFailed message
//!          | 0x05 Verdict  0 shader-info | 1 abi-error-json     (the validator, once)
//! place    = 0 (inline: the frame's bulk)
//!          | 1 input_offset input_len output_offset  (request: in the shared region)
//!          | 1 output_len                            (response: at the request's output_offset)
//! ```
//!
//! Where the worker mapped the shared region ([`crate::shm`]; `shared` in its handshake), a
//! job's input and output stay out of the frames: the parent copies the input into the region
//! and the output out of it, and the frames carry offsets and lengths, checked against the
//! region on both sides. Otherwise (and for the validator's source) the bulk bytes travel last
//! in the frame and are written straight from the caller's buffer.

use std::io::{self, Read, Write};
use std::time::Duration;

use compute_market_job::{
    AbiError, Caps, DeterminismClass, JobDescriptor, Limits, Location, Pass, ShaderInfo,
    MAX_PASSES, MAX_SCRATCH_BUFFERS, PARAMS_LEN,
};

use crate::context::{AdapterSummary, GpuError};
use crate::executor::{DeviceError, DeviceRun, DeviceTimings};
use crate::shm::Region;
use crate::worker::DeviceDescription;

/// Largest protocol frame: the largest input or output plus headroom for the rest.
pub const MAX_FRAME: u64 =
    compute_market_job::MAX_INPUT_LEN + compute_market_job::MAX_SOURCE_LEN as u64 + (1 << 20);

pub(super) fn write_frame(w: &mut impl Write, header: &[u8], bulk: &[u8]) -> io::Result<()> {
    w.write_all(&((header.len() + bulk.len()) as u64).to_le_bytes())?;
    w.write_all(header)?;
    w.write_all(bulk)?;
    w.flush()
}

/// Splits a frame after its header: what remains is the bulk. Moves the bulk to the front of
/// the frame's own allocation (one `memmove`, no new allocation).
fn into_bulk(mut frame: Vec<u8>, header_len: usize) -> Vec<u8> {
    frame.drain(..header_len.min(frame.len()));
    frame
}

pub(super) fn read_frame(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 8];
    r.read_exact(&mut len)?;
    let len = u64::from_le_bytes(len);
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the {MAX_FRAME}-byte maximum"),
        ));
    }
    let mut payload = vec![0u8; usize::try_from(len).map_err(io::Error::other)?];
    r.read_exact(&mut payload)?;
    Ok(payload)
}

#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(mut self, v: &[u8]) -> Self {
        self = self.u64(v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }
    fn str(self, v: &str) -> Self {
        self.bytes(v.as_bytes())
    }
    fn duration(self, d: Duration) -> Self {
        self.u64(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
    fn limits(self, l: &Limits) -> Self {
        self.u32(l.max_workgroup_size[0])
            .u32(l.max_workgroup_size[1])
            .u32(l.max_workgroup_size[2])
            .u32(l.max_invocations_per_workgroup)
            .u32(l.max_workgroups_per_dimension)
            .u64(l.max_storage_binding_size)
            .u64(l.max_buffer_size)
            .u32(l.max_workgroup_storage_size)
    }
    fn caps(self, c: &Caps) -> Self {
        self.u64(c.max_source_len as u64)
            .u64(c.max_input_len)
            .u64(c.max_output_len)
            .u64(c.max_total_workgroups)
            .u64(c.max_private_memory)
            .u64(c.max_dispatches)
            .u64(c.max_job_memory)
    }
    fn strs(self, v: &[impl AsRef<str>]) -> Self {
        v.iter()
            .fold(self.u32(v.len() as u32), |e, s| e.str(s.as_ref()))
    }
}

struct Dec<'a>(&'a [u8]);

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated message".into());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = usize::try_from(self.u64()?).map_err(|e| e.to_string())?;
        self.take(len)
    }
    fn string(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|e| e.to_string())
    }
    fn duration(&mut self) -> Result<Duration, String> {
        Ok(Duration::from_nanos(self.u64()?))
    }
    fn limits(&mut self) -> Result<Limits, String> {
        Ok(Limits {
            max_workgroup_size: [self.u32()?, self.u32()?, self.u32()?],
            max_invocations_per_workgroup: self.u32()?,
            max_workgroups_per_dimension: self.u32()?,
            max_storage_binding_size: self.u64()?,
            max_buffer_size: self.u64()?,
            max_workgroup_storage_size: self.u32()?,
        })
    }
    fn caps(&mut self) -> Result<Caps, String> {
        Ok(Caps {
            max_source_len: usize::try_from(self.u64()?).map_err(|e| e.to_string())?,
            max_input_len: self.u64()?,
            max_output_len: self.u64()?,
            max_total_workgroups: self.u64()?,
            max_private_memory: self.u64()?,
            max_dispatches: self.u64()?,
            max_job_memory: self.u64()?,
        })
    }
    /// A count, refused beyond `max` (a corrupt count must not size an allocation).
    fn count(&mut self, max: usize) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(format!("count {n} exceeds {max}"));
        }
        Ok(n)
    }
    fn strs(&mut self, max: usize) -> Result<Vec<String>, String> {
        (0..self.count(max)?).map(|_| self.string()).collect()
    }
}

const REQ_EXECUTE: u8 = 1;
const REQ_VALIDATE: u8 = 2;
const RESP_READY: u8 = 1;
const RESP_DONE: u8 = 2;
const RESP_FAILED: u8 = 3;
const RESP_INIT_FAILED: u8 = 4;
const RESP_VERDICT: u8 = 5;

/// Where a job's input is and its output goes in the shared region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SharedIo {
    /// Offset of the input, already copied there by the parent.
    pub input_offset: u64,
    /// Offset the worker writes the output to.
    pub output_offset: u64,
}

/// Everything of a job but its input, which follows as the frame's bulk or, with `shared`,
/// lies in the shared region; `profile` asks the worker to submit and time each pass on its
/// own.
pub(super) fn encode_job_header(
    job: &JobDescriptor,
    profile: bool,
    shared: Option<SharedIo>,
) -> Vec<u8> {
    let mut enc = Enc(Vec::with_capacity(
        job.wgsl.len() + job.entry_point.len() + 128,
    ));
    enc = enc.u8(REQ_EXECUTE).u8(u8::from(profile));
    enc = match shared {
        None => enc.u8(0),
        Some(io) => enc
            .u8(1)
            .u64(io.input_offset)
            .u64(job.input.len() as u64)
            .u64(io.output_offset),
    };
    enc = enc
        .bytes(&job.wgsl)
        .str(&job.entry_point)
        .u32(job.workgroups[0])
        .u32(job.workgroups[1])
        .u32(job.workgroups[2])
        .u64(job.output_len)
        .bytes(&job.params)
        .u32(job.passes.len() as u32);
    for pass in &job.passes {
        enc = enc
            .str(&pass.entry_point)
            .u32(pass.workgroups[0])
            .u32(pass.workgroups[1])
            .u32(pass.workgroups[2])
            .u32(pass.repeat);
        for arg in pass.args {
            enc = enc.u32(arg);
        }
    }
    enc = enc.u32(job.scratch.len() as u32);
    for &len in &job.scratch {
        enc = enc.u64(len);
    }
    enc.0
}

/// A decoded job request.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct JobRequest {
    /// The job, its input included (copied out of the shared region if it was there).
    pub job: JobDescriptor,
    /// Whether to time each pass.
    pub profile: bool,
    /// Where the output goes in the shared region (`None`: inline, in the response).
    pub output_offset: Option<u64>,
}

/// A job request; `region` is the worker's shared region, if it mapped one. Offsets and
/// lengths are checked against it: a request outside it is an error, never an access.
pub(super) fn decode_job(frame: Vec<u8>, region: Option<&Region>) -> Result<JobRequest, String> {
    let mut d = Dec(&frame);
    if d.u8()? != REQ_EXECUTE {
        return Err("unknown request".into());
    }
    let profile = d.u8()? != 0;
    let shared = match d.u8()? {
        0 => None,
        _ => Some((d.u64()?, d.u64()?, d.u64()?)),
    };
    let wgsl = d.bytes()?.to_vec();
    let entry_point = d.string()?;
    let workgroups = [d.u32()?, d.u32()?, d.u32()?];
    let output_len = d.u64()?;
    let params: [u8; PARAMS_LEN] = d
        .bytes()?
        .try_into()
        .map_err(|_| "params must be 32 bytes".to_string())?;
    let passes = (0..d.count(MAX_PASSES)?)
        .map(|_| {
            Ok(Pass {
                entry_point: d.string()?,
                workgroups: [d.u32()?, d.u32()?, d.u32()?],
                repeat: d.u32()?,
                args: [d.u32()?, d.u32()?, d.u32()?, d.u32()?],
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let scratch = (0..d.count(MAX_SCRATCH_BUFFERS)?)
        .map(|_| d.u64())
        .collect::<Result<Vec<_>, String>>()?;
    let header_len = frame.len() - d.0.len();
    let (input, output_offset) = match shared {
        None => (into_bulk(frame, header_len), None),
        Some((input_offset, input_len, output_offset)) => {
            let region = region.ok_or("a shared-memory job, but no shared region")?;
            if input_len > compute_market_job::MAX_INPUT_LEN {
                return Err(format!("input of {input_len} bytes"));
            }
            // The output must fit too, before any work is done.
            output_offset
                .checked_add(output_len)
                .filter(|&end| end <= region.len())
                .ok_or("the output does not fit the shared region")?;
            let input = region
                .read_at(input_offset, input_len)
                .map_err(|e| e.to_string())?;
            (input, Some(output_offset))
        }
    };
    Ok(JobRequest {
        job: JobDescriptor {
            wgsl,
            entry_point,
            workgroups,
            input,
            output_len,
            params,
            passes,
            scratch,
        },
        profile,
        output_offset,
    })
}

/// What kind of failure a worker reported.
#[derive(Debug)]
pub(super) enum FailKind {
    Rejected,
    Compile,
    Gpu,
    DeviceLost,
}

/// Where a finished job's output is.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Output {
    /// In the response frame.
    Inline(Vec<u8>),
    /// In the shared region at the request's output offset, this long.
    Shared(u64),
}

/// A decoded response.
#[derive(Debug)]
pub(super) enum Response {
    /// The worker's device is open; `shared`: it mapped the shared region.
    Ready {
        device: DeviceDescription,
        shared: bool,
    },
    Done {
        output: Output,
        determinism: DeterminismClass,
        timings: DeviceTimings,
        pass_times: Vec<Duration>,
    },
    Failed {
        kind: FailKind,
        message: String,
        location: Option<Location>,
    },
    InitFailed(String),
    Verdict(Result<ShaderInfo, AbiError>),
}

pub(super) fn encode_ready(adapter: &AdapterSummary, limits: &Limits, shared: bool) -> Vec<u8> {
    Enc::default()
        .u8(RESP_READY)
        .u64(adapter.index as u64)
        .str(&adapter.name)
        .str(&adapter.backend)
        .str(&adapter.device_type)
        .str(&adapter.driver)
        .u8(u8::from(adapter.is_cpu))
        .u32(adapter.vendor_id)
        .u64(adapter.memory_bytes.map_or(0, |b| b.max(1)))
        .limits(limits)
        .u8(u8::from(shared))
        .0
}

pub(super) fn encode_init_failed(error: &GpuError) -> Vec<u8> {
    Enc::default()
        .u8(RESP_INIT_FAILED)
        .str(&error.to_string())
        .0
}

/// The response header and its bulk (the output, for `Done`, unless `shared`: the worker
/// wrote it to the shared region).
pub(super) fn encode_result(
    result: &Result<DeviceRun, DeviceError>,
    shared: bool,
) -> (Vec<u8>, &[u8]) {
    match result {
        Ok(run) => {
            let header = Enc::default()
                .u8(RESP_DONE)
                .u8(match run.determinism {
                    DeterminismClass::Exact => 0,
                    DeterminismClass::Float => 1,
                })
                .duration(run.timings.validate)
                .duration(run.timings.compile)
                .duration(run.timings.upload)
                .duration(run.timings.dispatch)
                .duration(run.timings.readback)
                .u8(u8::from(run.timings.pipeline_cached))
                .u32(run.pass_times.len() as u32);
            let header = run.pass_times.iter().fold(header, |e, &t| e.duration(t));
            if shared {
                (header.u8(1).u64(run.output.len() as u64).0, &[])
            } else {
                (header.u8(0).0, &run.output)
            }
        }
        Err(error) => {
            let (kind, location) = match error {
                DeviceError::Abi(_) => (0, None),
                DeviceError::Compile { location, .. } => (1, *location),
                DeviceError::Gpu { .. } => (2, None),
                DeviceError::DeviceLost { .. } => (3, None),
            };
            let message = match error {
                DeviceError::Compile { message, .. } => message.clone(),
                other => other.to_string(),
            };
            let (line, column) = location.map_or((0, 0), |l| (l.line, l.column));
            let header = Enc::default()
                .u8(RESP_FAILED)
                .u8(kind)
                .str(&message)
                .u32(line)
                .u32(column)
                .0;
            (header, &[])
        }
    }
}

pub(super) fn decode_response(frame: Vec<u8>) -> Result<Response, String> {
    let mut d = Dec(&frame);
    match d.u8()? {
        RESP_READY => {
            let adapter = AdapterSummary {
                index: usize::try_from(d.u64()?).map_err(|e| e.to_string())?,
                name: d.string()?,
                backend: d.string()?,
                device_type: d.string()?,
                driver: d.string()?,
                is_cpu: d.u8()? != 0,
                vendor_id: d.u32()?,
                // 0: not reported (a real heap is never empty).
                memory_bytes: Some(d.u64()?).filter(|b| *b != 0),
            };
            let limits = d.limits()?;
            Ok(Response::Ready {
                device: DeviceDescription { adapter, limits },
                shared: d.u8()? != 0,
            })
        }
        RESP_DONE => {
            let determinism = match d.u8()? {
                0 => DeterminismClass::Exact,
                _ => DeterminismClass::Float,
            };
            let timings = DeviceTimings {
                validate: d.duration()?,
                compile: d.duration()?,
                upload: d.duration()?,
                dispatch: d.duration()?,
                readback: d.duration()?,
                pipeline_cached: d.u8()? != 0,
            };
            let pass_times = (0..d.count(MAX_PASSES)?)
                .map(|_| d.duration())
                .collect::<Result<Vec<_>, String>>()?;
            let output = match d.u8()? {
                0 => {
                    let header_len = frame.len() - d.0.len();
                    Output::Inline(into_bulk(frame, header_len))
                }
                _ => Output::Shared(d.u64()?),
            };
            Ok(Response::Done {
                output,
                determinism,
                timings,
                pass_times,
            })
        }
        RESP_FAILED => {
            let kind = match d.u8()? {
                0 => FailKind::Rejected,
                1 => FailKind::Compile,
                2 => FailKind::Gpu,
                _ => FailKind::DeviceLost,
            };
            let message = d.string()?;
            let (line, column) = (d.u32()?, d.u32()?);
            let location = (line > 0).then_some(Location { line, column });
            Ok(Response::Failed {
                kind,
                message,
                location,
            })
        }
        RESP_INIT_FAILED => Ok(Response::InitFailed(d.string()?)),
        RESP_VERDICT => decode_verdict(&mut d).map(Response::Verdict),
        other => Err(format!("unknown response tag {other}")),
    }
}

/// What the validator is asked: a shader (the frame's bulk) checked against these limits.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ValidateRequest {
    pub wgsl: Vec<u8>,
    pub entry_points: Vec<String>,
    pub limits: Limits,
    pub caps: Caps,
}

/// The header of a validation request for `entry_points`; the source follows as the bulk.
pub(super) fn encode_validate(
    entry_points: &[impl AsRef<str>],
    limits: &Limits,
    caps: &Caps,
) -> Vec<u8> {
    Enc::default()
        .u8(REQ_VALIDATE)
        .strs(entry_points)
        .limits(limits)
        .caps(caps)
        .0
}

pub(super) fn decode_validate(frame: Vec<u8>) -> Result<ValidateRequest, String> {
    let mut d = Dec(&frame);
    if d.u8()? != REQ_VALIDATE {
        return Err("not a validation request".into());
    }
    let entry_points = d.strs(MAX_PASSES)?;
    let limits = d.limits()?;
    let caps = d.caps()?;
    let header_len = frame.len() - d.0.len();
    Ok(ValidateRequest {
        wgsl: into_bulk(frame, header_len),
        entry_points,
        limits,
        caps,
    })
}

pub(super) fn encode_verdict(verdict: &Result<ShaderInfo, AbiError>) -> Vec<u8> {
    let enc = Enc::default().u8(RESP_VERDICT);
    match verdict {
        Ok(info) => {
            let enc = enc
                .u8(0)
                .u32(info.workgroup_size[0])
                .u32(info.workgroup_size[1])
                .u32(info.workgroup_size[2])
                .u8(match info.determinism {
                    DeterminismClass::Exact => 0,
                    DeterminismClass::Float => 1,
                })
                .u8(u8::from(info.declares_input))
                .u8(u8::from(info.declares_params))
                .u64(info.input_min_len)
                .u64(info.output_min_len)
                .u64(info.workgroup_storage_bytes)
                .u64(info.private_memory_bytes);
            info.scratch_min_len
                .iter()
                .fold(enc, |e, min| {
                    e.u8(u8::from(min.is_some())).u64(min.unwrap_or(0))
                })
                .0
        }
        // The error's JSON cannot fail to encode: its fields are strings and numbers.
        Err(error) => {
            enc.u8(1)
                .str(&serde_json::to_string(error).unwrap_or_default())
                .0
        }
    }
}

fn decode_verdict(d: &mut Dec<'_>) -> Result<Result<ShaderInfo, AbiError>, String> {
    if d.u8()? != 0 {
        let error = serde_json::from_str(&d.string()?).map_err(|e| e.to_string())?;
        return Ok(Err(error));
    }
    Ok(Ok(ShaderInfo {
        workgroup_size: [d.u32()?, d.u32()?, d.u32()?],
        determinism: match d.u8()? {
            0 => DeterminismClass::Exact,
            _ => DeterminismClass::Float,
        },
        declares_input: d.u8()? != 0,
        declares_params: d.u8()? != 0,
        input_min_len: d.u64()?,
        output_min_len: d.u64()?,
        workgroup_storage_bytes: d.u64()?,
        private_memory_bytes: d.u64()?,
        scratch_min_len: {
            let mut mins = [None; MAX_SCRATCH_BUFFERS];
            for min in &mut mins {
                let (declared, len) = (d.u8()? != 0, d.u64()?);
                *min = declared.then_some(len);
            }
            mins
        },
    }))
}

#[cfg(test)]
mod tests;
