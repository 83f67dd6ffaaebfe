//! The workloads on a real adapter (lavapipe where there is no GPU): the bytes must be exactly
//! the CPU references'. Each test passes without running anything where wgpu finds no adapter.
//!
//! The executor here is the least wgpu code that runs a job of ABI v2 (all passes in order, one
//! bind group over input, output, params, the pass block and the scratch buffers); the provider
//! daemon has the real one.

use std::sync::mpsc;

use compute_market_job::{JobDescriptor, PassInfo, PASS_INFO_LEN};
use compute_market_workloads::{raytrace, sim};

/// Uniform offsets must be multiples of this (WebGPU's default alignment).
const PASS_STRIDE: u64 = 256;

struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
}

fn gpu() -> Option<Gpu> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::PRIMARY,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapter = pollster::block_on(instance.request_adapter(&Default::default())).ok();
    let Some(adapter) = adapter else {
        eprintln!("no wgpu adapter: skipping");
        return None;
    };
    eprintln!("adapter: {}", adapter.get_info().name);
    let (device, queue) = pollster::block_on(adapter.request_device(&Default::default())).ok()?;
    Some(Gpu { device, queue })
}

fn storage(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn uniform(binding: u32, dynamic: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: dynamic,
            min_binding_size: None,
        },
        count: None,
    }
}

impl Gpu {
    fn buffer(&self, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage,
            mapped_at_creation: false,
        })
    }

    /// Runs every pass of `job` in order and returns the output.
    fn run(&self, job: &JobDescriptor) -> Vec<u8> {
        use wgpu::BufferUsages as U;
        let device = &self.device;
        let passes = job.effective_passes();
        let source = std::str::from_utf8(&job.wgsl).unwrap();
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: None,
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let mut entries = vec![
            storage(0, true),
            storage(1, false),
            uniform(2, false),
            uniform(3, true),
        ];
        entries.extend((0..job.scratch.len() as u32).map(|i| storage(4 + i, false)));
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: None,
            entries: &entries,
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: None,
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });

        let input = self.buffer(job.input.len().max(4) as u64, U::STORAGE | U::COPY_DST);
        let output = self.buffer(job.output_len, U::STORAGE | U::COPY_SRC);
        let params = self.buffer(job.params.len() as u64, U::UNIFORM | U::COPY_DST);
        let dispatches = job.dispatch_count();
        let infos = self.buffer(dispatches * PASS_STRIDE, U::UNIFORM | U::COPY_DST);
        let scratch: Vec<_> = job
            .scratch
            .iter()
            .map(|&s| self.buffer(s, U::STORAGE))
            .collect();
        let staging = self.buffer(job.output_len, U::MAP_READ | U::COPY_DST);
        if !job.input.is_empty() {
            self.queue.write_buffer(&input, 0, &job.input);
        }
        self.queue.write_buffer(&params, 0, &job.params);
        let mut block = vec![0u8; (dispatches * PASS_STRIDE) as usize];
        let mut k = 0;
        for (index, pass) in passes.iter().enumerate() {
            for iteration in 0..pass.repeat {
                let info = PassInfo {
                    index: index as u32,
                    iteration,
                    repeat: pass.repeat,
                    passes: passes.len() as u32,
                    args: pass.args,
                };
                let at = k * PASS_STRIDE as usize;
                block[at..at + PASS_INFO_LEN].copy_from_slice(&info.to_bytes());
                k += 1;
            }
        }
        self.queue.write_buffer(&infos, 0, &block);

        let mut bindings = vec![
            wgpu::BindGroupEntry {
                binding: 0,
                resource: input.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: output.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 2,
                resource: params.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 3,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &infos,
                    offset: 0,
                    size: wgpu::BufferSize::new(PASS_INFO_LEN as u64),
                }),
            },
        ];
        for (i, buffer) in scratch.iter().enumerate() {
            bindings.push(wgpu::BindGroupEntry {
                binding: 4 + i as u32,
                resource: buffer.as_entire_binding(),
            });
        }
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &layout,
            entries: &bindings,
        });

        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut cpass = encoder.begin_compute_pass(&Default::default());
            let mut k = 0u64;
            for pass in &passes {
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: None,
                    layout: Some(&pipeline_layout),
                    module: &module,
                    entry_point: Some(&pass.entry_point),
                    compilation_options: Default::default(),
                    cache: None,
                });
                cpass.set_pipeline(&pipeline);
                for _ in 0..pass.repeat {
                    cpass.set_bind_group(0, &bind_group, &[(k * PASS_STRIDE) as u32]);
                    let [x, y, z] = pass.workgroups;
                    cpass.dispatch_workgroups(x, y, z);
                    k += 1;
                }
            }
        }
        encoder.copy_buffer_to_buffer(&output, 0, &staging, 0, job.output_len);
        self.queue.submit([encoder.finish()]);
        let (tx, rx) = mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .unwrap();
        rx.recv().unwrap().unwrap();
        let bytes = staging.get_mapped_range(..).unwrap().to_vec();
        staging.unmap();
        bytes
    }
}

#[test]
fn ray_traced_tiles_match_the_cpu_reference_byte_for_byte() {
    let Some(gpu) = gpu() else { return };
    let spec = raytrace::RenderSpec::default();
    let mut rendered = Vec::new();
    for tile in raytrace::grid(&spec, 2, 3).unwrap() {
        let job = raytrace::tile_job(&spec, tile).unwrap();
        let bytes = gpu.run(&job);
        let expected = raytrace::cpu_tile(&spec, tile).unwrap();
        let differing = bytes
            .as_chunks::<4>()
            .0
            .iter()
            .zip(expected.as_chunks::<4>().0)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(differing, 0, "{tile:?}: {differing} pixels differ");
        rendered.push((tile, bytes));
    }
    let image = raytrace::assemble(&spec, &rendered).unwrap();
    assert_eq!(image, raytrace::cpu_tile(&spec, spec.full()).unwrap());
}

#[test]
fn the_heat_simulation_matches_the_cpu_reference_byte_for_byte() {
    let Some(gpu) = gpu() else { return };
    let grid = sim::Grid::demo(100, 60);
    for steps in [1, 2, 301] {
        let job = sim::job(&grid, steps).unwrap();
        let bytes = gpu.run(&job);
        assert_eq!(
            bytes,
            sim::cpu_reference(&grid, steps).unwrap(),
            "{steps} steps"
        );
    }
}
