//! Runs one validated job on the process's device: pipeline cache, per-job buffers, error scopes
//! and per-phase timings. Runs inside a worker process (see [`super::worker`]); the parent never
//! touches the device.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use compute_market_job::{
    check_dispatch, shader_id, validate_shader, AbiError, Caps, DeterminismClass, JobDescriptor,
    Location, ShaderInfo, BINDING_INPUT, BINDING_OUTPUT, BINDING_PARAMS, PARAMS_LEN,
};

use super::context::GpuContext;

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
    /// The dispatch, from submit until the GPU finished.
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
        let buffer = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let bind_group_layout =
            ctx.device
                .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some("job ABI v1"),
                    entries: &[
                        buffer(
                            BINDING_INPUT,
                            wgpu::BufferBindingType::Storage { read_only: true },
                        ),
                        buffer(
                            BINDING_OUTPUT,
                            wgpu::BufferBindingType::Storage { read_only: false },
                        ),
                        buffer(BINDING_PARAMS, wgpu::BufferBindingType::Uniform),
                    ],
                });
        let pipeline_layout = ctx
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("job ABI v1"),
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

    /// Validates (or finds the cached validation of) the shader, checks the dispatch, then
    /// uploads, dispatches and reads back. Blocks until the GPU is done.
    pub fn run(&mut self, job: &JobDescriptor) -> Result<DeviceRun, DeviceError> {
        let mut timings = DeviceTimings::default();
        let key = shader_id(&job.wgsl, &job.entry_point);
        self.clock += 1;
        let limits = self.ctx.abi_limits();

        if let Some(cached) = self.cache.get_mut(&key) {
            cached.last_used = self.clock;
            timings.pipeline_cached = true;
        } else {
            let started = Instant::now();
            let info = validate_shader(&job.wgsl, &job.entry_point, &limits, &self.caps)?;
            timings.validate = started.elapsed();
            let started = Instant::now();
            let pipeline = self.compile(job)?;
            timings.compile = started.elapsed();
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
                    pipeline,
                    info,
                    last_used: self.clock,
                },
            );
        }
        let Some(cached) = self.cache.get(&key) else {
            return Err(DeviceError::Gpu {
                phase: "compile",
                message: "pipeline cache lost its entry".into(),
            });
        };
        let started = Instant::now();
        check_dispatch(job, &cached.info, &limits, &self.caps)?;
        timings.validate += started.elapsed();
        let determinism = cached.info.determinism;
        let pipeline = cached.pipeline.clone();

        let output = self.dispatch(job, &pipeline, &mut timings)?;
        Ok(DeviceRun {
            output,
            determinism,
            timings,
        })
    }

    fn compile(&self, job: &JobDescriptor) -> Result<wgpu::ComputePipeline, DeviceError> {
        let source = std::str::from_utf8(&job.wgsl).map_err(|e| AbiError::SourceNotUtf8 {
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
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("job"),
            layout: Some(&self.pipeline_layout),
            module: &module,
            entry_point: Some(&job.entry_point),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            cache: None,
        });
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
        Ok(pipeline)
    }

    fn dispatch(
        &self,
        job: &JobDescriptor,
        pipeline: &wgpu::ComputePipeline,
        timings: &mut DeviceTimings,
    ) -> Result<Vec<u8>, DeviceError> {
        let device = &self.ctx.device;
        let queue = &self.ctx.queue;

        // Upload.
        let started = Instant::now();
        let scopes = Scopes::push(device);
        // WebGPU cannot bind an empty buffer: an empty input is one zero word (see the ABI).
        let input_size = (job.input.len() as u64).max(4);
        let input = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("job input"),
            size: input_size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        // wgpu zero-initialises new buffers, as WebGPU requires.
        let output = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("job output"),
            size: job.output_len,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("job params"),
            size: PARAMS_LEN as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("job readback"),
            size: job.output_len,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if !job.input.is_empty() {
            queue.write_buffer(&input, 0, &job.input);
        }
        queue.write_buffer(&params, 0, &job.params);
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("job"),
            layout: &self.bind_group_layout,
            entries: &[
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
            ],
        });
        let index = queue.submit([]);
        self.wait(index, "upload")?;
        scopes.pop("upload")?;
        timings.upload = started.elapsed();

        // Dispatch.
        let started = Instant::now();
        let scopes = Scopes::push(device);
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("job dispatch"),
        });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("job"),
                timestamp_writes: None,
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            let [x, y, z] = job.workgroups;
            pass.dispatch_workgroups(x, y, z);
        }
        let index = queue.submit([encoder.finish()]);
        self.wait(index, "dispatch")?;
        scopes.pop("dispatch")?;
        timings.dispatch = started.elapsed();

        // Readback.
        let started = Instant::now();
        let scopes = Scopes::push(device);
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("job readback"),
        });
        encoder.copy_buffer_to_buffer(&output, 0, &staging, 0, job.output_len);
        let index = queue.submit([encoder.finish()]);
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
        timings.readback = started.elapsed();
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
