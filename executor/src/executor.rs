//! Runs one validated job on the process's device: pipeline cache, per-job buffers, error scopes
//! and per-phase timings. Runs inside a worker process (see [`crate::worker`]); the parent never
//! touches the device.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use compute_market_job::{
    check_dispatch, shader_id, validate_module, AbiError, Caps, DeterminismClass, JobDescriptor,
    Location, Pass, PassInfo, ShaderInfo, BINDING_INPUT, BINDING_OUTPUT, BINDING_PARAMS,
    BINDING_PASS, BINDING_SCRATCH, MAX_SCRATCH_BUFFERS, PARAMS_LEN, PASS_INFO_LEN,
};

use crate::context::GpuContext;

/// Pipelines kept per worker; the least recently used is dropped beyond this.
pub const PIPELINE_CACHE_CAPACITY: usize = 64;

/// Why the device could not run a job.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The job violates the ABI or the device's limits.
    #[error(transparent)]
    Abi(#[from] AbiError),
    /// wgpu rejected the shader or pipeline (after naga accepted it).
    #[error("shader compilation failed{}: {message}", location.map(|l| format!(" at {l}")).unwrap_or_default())]
    Compile {
        /// wgpu's message.
        message: String,
        /// Where, if the compiler said.
        location: Option<Location>,
    },
    /// A wgpu validation or out-of-memory error while uploading, dispatching or reading back.
    #[error("GPU error during {phase}: {message}")]
    Gpu {
        /// `upload`, `dispatch` or `readback`.
        phase: &'static str,
        /// wgpu's message.
        message: String,
    },
    /// The device was lost; the process must start over.
    #[error("GPU device lost: {message}")]
    DeviceLost {
        /// The driver's reason.
        message: String,
    },
}

/// Device-side phase timings of one job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceTimings {
    /// naga validation inside the worker (zero on a pipeline-cache hit: same source, same checks).
    pub validate: Duration,
    /// Shader module and pipeline creation (zero on a cache hit).
    pub compile: Duration,
    /// Buffer creation and upload of input and params.
    pub upload: Duration,
    /// Every pass's dispatches, from submit until the GPU finished.
    pub dispatch: Duration,
    /// Copy to a mappable buffer, map and copy out.
    pub readback: Duration,
    /// Whether the pipeline came from the cache.
    pub pipeline_cached: bool,
}

/// A finished job on the device.
#[derive(Clone, Debug)]
pub struct DeviceRun {
    /// The output bytes (`job.output_len` of them).
    pub output: Vec<u8>,
    /// The shader's determinism class.
    pub determinism: DeterminismClass,
    /// Phase timings.
    pub timings: DeviceTimings,
    /// Each pass's time on the device, when the run was profiled ([`Executor::run_profiled`]);
    /// empty otherwise.
    pub pass_times: Vec<Duration>,
}

struct CachedPipeline {
    pipeline: wgpu::ComputePipeline,
    info: ShaderInfo,
    last_used: u64,
}

/// Owns the device and the pipeline cache of one process.
pub struct Executor {
    ctx: GpuContext,
    caps: Caps,
    bind_group_layout: wgpu::BindGroupLayout,
    pipeline_layout: wgpu::PipelineLayout,
    cache: HashMap<[u8; 32], CachedPipeline>,
    clock: u64,
}

impl Executor {
    /// Builds the ABI's fixed bind group layout on `ctx`.
    pub fn new(ctx: GpuContext, caps: Caps) -> Self {
        let buffer = |binding, ty, has_dynamic_offset| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset,
                min_binding_size: None,
            },
            count: None,
        };
        let mut entries = vec![
            buffer(
                BINDING_INPUT,
                wgpu::BufferBindingType::Storage { read_only: true },
                false,
            ),
            buffer(
                BINDING_OUTPUT,
                wgpu::BufferBindingType::Storage { read_only: false },
                false,
            ),
            buffer(BINDING_PARAMS, wgpu::BufferBindingType::Uniform, false),
            // One pass block per dispatch, all in one buffer: a dynamic offset selects it.
            buffer(BINDING_PASS, wgpu::BufferBindingType::Uniform, true),
        ];
        for i in 0..MAX_SCRATCH_BUFFERS as u32 {
            entries.push(buffer(
                BINDING_SCRATCH + i,
                wgpu::BufferBindingType::Storage { read_only: false },
                false,
            ));
        }
        let bind_group_layout =
            ctx.device
                .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some("job ABI v2"),
                    entries: &entries,
                });
        let pipeline_layout = ctx
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("job ABI v2"),
                bind_group_layouts: &[Some(&bind_group_layout)],
                immediate_size: 0,
            });
        Self {
            ctx,
            caps,
            bind_group_layout,
            pipeline_layout,
            cache: HashMap::new(),
            clock: 0,
        }
    }

    /// The device context.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// The ABI limits of this device.
    pub fn abi_limits(&self) -> compute_market_job::Limits {
        self.ctx.abi_limits()
    }

    /// Number of cached pipelines.
    pub fn cached_pipelines(&self) -> usize {
        self.cache.len()
    }

    /// Validates (or finds the cached validation of) every entry point the job's passes use,
    /// checks the dispatches and sizes, then uploads, runs every pass in one submission and
    /// reads back. Blocks until the GPU is done.
    pub fn run(&mut self, job: &JobDescriptor) -> Result<DeviceRun, DeviceError> {
        self.run_with(job, false)
    }

    /// [`Executor::run`], submitting and timing each pass on its own ([`DeviceRun::pass_times`]):
    /// for a job author's local runs, not for providers (more submissions, more waiting).
    pub fn run_profiled(&mut self, job: &JobDescriptor) -> Result<DeviceRun, DeviceError> {
        self.run_with(job, true)
    }

    fn run_with(&mut self, job: &JobDescriptor, profile: bool) -> Result<DeviceRun, DeviceError> {
        let mut timings = DeviceTimings::default();
        let limits = self.ctx.abi_limits();
        let passes = job.effective_passes();
        let pipelines = self.pipelines(job, &mut timings)?;
        let Some((_, _, info)) = pipelines.first() else {
            return Err(DeviceError::Gpu {
                phase: "compile",
                message: "the job has no passes".into(),
            });
        };
        let info = info.clone();
        let started = Instant::now();
        check_dispatch(job, &info, &limits, &self.caps)?;
        timings.validate += started.elapsed();
        let ordered = passes
            .iter()
            .map(|pass| {
                let (_, pipeline, _) = pipelines
                    .iter()
                    .find(|(name, _, _)| *name == pass.entry_point)
                    .ok_or_else(|| DeviceError::Gpu {
                        phase: "compile",
                        message: format!("no pipeline for `{}`", pass.entry_point),
                    })?;
                Ok((pass, pipeline.clone()))
            })
            .collect::<Result<Vec<_>, DeviceError>>()?;
        let (output, pass_times) = self.dispatch(job, &ordered, profile, &mut timings)?;
        Ok(DeviceRun {
            output,
            determinism: info.determinism,
            timings,
            pass_times,
        })
    }

    /// The pipeline of every entry point the job uses, in first-use order: from the cache, or
    /// (those not cached) validated with one parse of the module and compiled from one shader
    /// module, whatever their number.
    fn pipelines(
        &mut self,
        job: &JobDescriptor,
        timings: &mut DeviceTimings,
    ) -> Result<Vec<(String, wgpu::ComputePipeline, ShaderInfo)>, DeviceError> {
        let entry_points = job.entry_points();
        self.clock += 1;
        let mut found: Vec<Option<(wgpu::ComputePipeline, ShaderInfo)>> = entry_points
            .iter()
            .map(|name| {
                self.cache
                    .get_mut(&shader_id(&job.wgsl, name))
                    .map(|cached| {
                        cached.last_used = self.clock;
                        (cached.pipeline.clone(), cached.info.clone())
                    })
            })
            .collect();
        let missing: Vec<&str> = entry_points
            .iter()
            .zip(&found)
            .filter(|(_, hit)| hit.is_none())
            .map(|(name, _)| name.as_str())
            .collect();
        timings.pipeline_cached = missing.is_empty();
        if !missing.is_empty() {
            let started = Instant::now();
            let info = validate_module(&job.wgsl, &missing, &self.ctx.abi_limits(), &self.caps)?;
            timings.validate += started.elapsed();
            let started = Instant::now();
            let compiled = self.compile(&job.wgsl, &missing)?;
            timings.compile += started.elapsed();
            let mut compiled = missing.iter().zip(compiled);
            for (slot, name) in found.iter_mut().zip(&entry_points) {
                if slot.is_none() {
                    let Some((_, pipeline)) = compiled.next() else {
                        break;
                    };
                    self.remember(shader_id(&job.wgsl, name), &pipeline, &info);
                    *slot = Some((pipeline, info.clone()));
                }
            }
        }
        entry_points
            .into_iter()
            .zip(found)
            .map(|(name, hit)| match hit {
                Some((pipeline, info)) => Ok((name, pipeline, info)),
                None => Err(DeviceError::Gpu {
                    phase: "compile",
                    message: format!("no pipeline for `{name}`"),
                }),
            })
            .collect()
    }

    /// Caches a pipeline, dropping the least recently used beyond the capacity.
    fn remember(&mut self, key: [u8; 32], pipeline: &wgpu::ComputePipeline, info: &ShaderInfo) {
        if self.cache.len() >= PIPELINE_CACHE_CAPACITY {
            if let Some(oldest) = self
                .cache
                .iter()
                .min_by_key(|(_, c)| c.last_used)
                .map(|(k, _)| *k)
            {
                self.cache.remove(&oldest);
            }
        }
        self.cache.insert(
            key,
            CachedPipeline {
                pipeline: pipeline.clone(),
                info: info.clone(),
                last_used: self.clock,
            },
        );
    }

    /// One shader module for the source, one pipeline per entry point, under error scopes.
    fn compile(
        &self,
        wgsl: &[u8],
        entry_points: &[&str],
    ) -> Result<Vec<wgpu::ComputePipeline>, DeviceError> {
        let source = std::str::from_utf8(wgsl).map_err(|e| AbiError::SourceNotUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        let device = &self.ctx.device;
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        // Not `create_shader_module_trusted`: wgpu keeps its bounds checks on untrusted code.
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("job"),
            source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(source)),
        });
        let pipelines = entry_points
            .iter()
            .map(|entry_point| {
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry_point),
                    layout: Some(&self.pipeline_layout),
                    module: &module,
                    entry_point: Some(entry_point),
                    compilation_options: wgpu::PipelineCompilationOptions::default(),
                    cache: None,
                })
            })
            .collect();
        let validation_error = pollster::block_on(validation.pop());
        let oom_error = pollster::block_on(oom.pop());
        if let Some(error) = validation_error.or(oom_error) {
            let info = pollster::block_on(module.get_compilation_info());
            let first = info
                .messages
                .iter()
                .find(|m| m.message_type == wgpu::CompilationMessageType::Error);
            return Err(DeviceError::Compile {
                message: first
                    .map(|m| m.message.clone())
                    .unwrap_or_else(|| error.to_string()),
                location: first.and_then(|m| m.location).map(|l| Location {
                    line: l.line_number,
                    column: l.line_position,
                }),
            });
        }
        Ok(pipelines)
    }

    fn dispatch(
        &self,
        job: &JobDescriptor,
        passes: &[(&Pass, wgpu::ComputePipeline)],
        profile: bool,
        timings: &mut DeviceTimings,
    ) -> Result<(Vec<u8>, Vec<Duration>), DeviceError> {
        let started = Instant::now();
        let scopes = Scopes::push(&self.ctx.device);
        let buffers = self.upload(job, passes)?;
        let index = self.ctx.queue.submit([]);
        self.wait(index, "upload")?;
        scopes.pop("upload")?;
        timings.upload = started.elapsed();

        let started = Instant::now();
        let mut pass_times = Vec::new();
        let mut slot = 0u64;
        let groups: Vec<&[(&Pass, wgpu::ComputePipeline)]> = if profile {
            passes.chunks(1).collect()
        } else {
            vec![passes]
        };
        for group in groups {
            let pass_started = Instant::now();
            let scopes = Scopes::push(&self.ctx.device);
            let mut encoder =
                self.ctx
                    .device
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                        label: Some("job passes"),
                    });
            for (pass, pipeline) in group {
                let mut compute = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(&pass.entry_point),
                    timestamp_writes: None,
                });
                compute.set_pipeline(pipeline);
                let [x, y, z] = pass.workgroups;
                for _ in 0..pass.repeat {
                    let offset = u32::try_from(slot * buffers.pass_stride).map_err(|_| {
                        DeviceError::Gpu {
                            phase: "dispatch",
                            message: "the pass blocks do not fit a 32-bit offset".into(),
                        }
                    })?;
                    compute.set_bind_group(0, &buffers.bind_group, &[offset]);
                    compute.dispatch_workgroups(x, y, z);
                    slot += 1;
                }
            }
            let index = self.ctx.queue.submit([encoder.finish()]);
            self.wait(index, "dispatch")?;
            scopes.pop("dispatch")?;
            if profile {
                pass_times.push(pass_started.elapsed());
            }
        }
        timings.dispatch = started.elapsed();

        let started = Instant::now();
        let bytes = self.read_back(&buffers.output, job.output_len)?;
        timings.readback = started.elapsed();
        Ok((bytes, pass_times))
    }

    /// Creates and fills the job's buffers: input, output, params, one pass block per
    /// dispatch, and the scratch buffers (a 4-byte stand-in where the job has fewer).
    fn upload(
        &self,
        job: &JobDescriptor,
        passes: &[(&Pass, wgpu::ComputePipeline)],
    ) -> Result<JobBuffers, DeviceError> {
        let device = &self.ctx.device;
        let queue = &self.ctx.queue;
        let storage = |label: &str, size: u64, usage: wgpu::BufferUsages| {
            // wgpu zero-initialises new buffers, as WebGPU requires.
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        let copy_dst = wgpu::BufferUsages::COPY_DST;
        // WebGPU cannot bind an empty buffer: an empty input is one zero word (see the ABI).
        let input = storage(
            "job input",
            (job.input.len() as u64).max(4),
            wgpu::BufferUsages::STORAGE | copy_dst,
        );
        let output = storage(
            "job output",
            job.output_len,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let params = storage(
            "job params",
            PARAMS_LEN as u64,
            wgpu::BufferUsages::UNIFORM | copy_dst,
        );
        let pass_stride = u64::from(
            self.ctx
                .limits
                .min_uniform_buffer_offset_alignment
                .max(PASS_INFO_LEN as u32),
        );
        let total: u64 = passes.iter().map(|(p, _)| u64::from(p.repeat)).sum();
        let mut blocks = vec![0u8; usize::try_from(total * pass_stride).unwrap_or(usize::MAX)];
        let mut slot = 0usize;
        for (index, (pass, _)) in passes.iter().enumerate() {
            for iteration in 0..pass.repeat {
                let info = PassInfo {
                    index: index as u32,
                    iteration,
                    repeat: pass.repeat,
                    passes: passes.len() as u32,
                    args: pass.args,
                };
                let at = slot * pass_stride as usize;
                blocks[at..at + PASS_INFO_LEN].copy_from_slice(&info.to_bytes());
                slot += 1;
            }
        }
        let pass_blocks = storage(
            "job pass blocks",
            blocks.len() as u64,
            wgpu::BufferUsages::UNIFORM | copy_dst,
        );
        let scratch: Vec<wgpu::Buffer> = (0..MAX_SCRATCH_BUFFERS)
            .map(|i| {
                let size = job.scratch.get(i).copied().unwrap_or(4);
                storage("job scratch", size, wgpu::BufferUsages::STORAGE)
            })
            .collect();
        if !job.input.is_empty() {
            queue.write_buffer(&input, 0, &job.input);
        }
        queue.write_buffer(&params, 0, &job.params);
        queue.write_buffer(&pass_blocks, 0, &blocks);
        let mut entries = vec![
            wgpu::BindGroupEntry {
                binding: BINDING_INPUT,
                resource: input.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: BINDING_OUTPUT,
                resource: output.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: BINDING_PARAMS,
                resource: params.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: BINDING_PASS,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &pass_blocks,
                    offset: 0,
                    size: wgpu::BufferSize::new(PASS_INFO_LEN as u64),
                }),
            },
        ];
        for (i, buffer) in scratch.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: BINDING_SCRATCH + i as u32,
                resource: buffer.as_entire_binding(),
            });
        }
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("job"),
            layout: &self.bind_group_layout,
            entries: &entries,
        });
        Ok(JobBuffers {
            output,
            bind_group,
            pass_stride,
        })
    }

    /// Copies the output to a mappable buffer and out of the device.
    fn read_back(&self, output: &wgpu::Buffer, len: u64) -> Result<Vec<u8>, DeviceError> {
        let device = &self.ctx.device;
        let scopes = Scopes::push(device);
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("job readback"),
            size: len,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("job readback"),
        });
        encoder.copy_buffer_to_buffer(output, 0, &staging, 0, len);
        let index = self.ctx.queue.submit([encoder.finish()]);
        let (tx, rx) = mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            // The receiver lives until `recv` below; a send error cannot happen.
            let _ = tx.send(result);
        });
        self.wait(index, "readback")?;
        scopes.pop("readback")?;
        let mapped = rx.recv().map_err(|_| DeviceError::Gpu {
            phase: "readback",
            message: "map callback never ran".into(),
        })?;
        mapped.map_err(|e| DeviceError::Gpu {
            phase: "readback",
            message: e.to_string(),
        })?;
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| DeviceError::Gpu {
                phase: "readback",
                message: e.to_string(),
            })?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }

    fn wait(&self, index: wgpu::SubmissionIndex, phase: &'static str) -> Result<(), DeviceError> {
        // No timeout here: a hung shader is the parent's to kill (see `worker`).
        let result = self.ctx.device.poll(wgpu::PollType::Wait {
            submission_index: Some(index),
            timeout: None,
        });
        if let Some(message) = self.ctx.lost_reason() {
            return Err(DeviceError::DeviceLost { message });
        }
        result.map(|_| ()).map_err(|e| DeviceError::Gpu {
            phase,
            message: e.to_string(),
        })
    }
}

/// What the passes need of a job's buffers once uploaded (the rest are kept alive by the bind
/// group).
struct JobBuffers {
    output: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    pass_stride: u64,
}

/// An out-of-memory scope under a validation scope.
struct Scopes {
    oom: wgpu::ErrorScopeGuard,
    validation: wgpu::ErrorScopeGuard,
}

impl Scopes {
    fn push(device: &wgpu::Device) -> Self {
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        Self { oom, validation }
    }

    fn pop(self, phase: &'static str) -> Result<(), DeviceError> {
        let validation = pollster::block_on(self.validation.pop());
        let oom = pollster::block_on(self.oom.pop());
        match validation.or(oom) {
            Some(error) => Err(DeviceError::Gpu {
                phase,
                message: error.to_string(),
            }),
            None => Ok(()),
        }
    }
}
