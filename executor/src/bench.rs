//! The self-test a new provider runs first (`provider-daemon check`) and the benchmarks
//! (`provider-daemon bench`): memory bandwidth, integer throughput, and the executor's overhead
//! against a bare wgpu dispatch.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use compute_market_job::{result_hash, JobDescriptor};

use crate::context::GpuContext;
use crate::executor::{DeviceError, Executor};
use crate::kernels::{self, bytes_to_words, cpu};

/// Why a self-test or benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The executor failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The GPU's result differs from the CPU reference.
    #[error("self-test `{kernel}` FAILED: GPU output differs from the CPU reference at word {index} (gpu {gpu:#010x}, cpu {cpu:#010x})")]
    Mismatch {
        /// The kernel.
        kernel: &'static str,
        /// First differing word.
        index: usize,
        /// GPU value.
        gpu: u32,
        /// CPU value.
        cpu: u32,
    },
    /// A bare wgpu run failed.
    #[error("bare wgpu run failed: {0}")]
    Bare(String),
}

/// Median of a set of durations (the upper median for even counts).
pub fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn compare(kernel: &'static str, gpu: &[u32], cpu: &[u32]) -> Result<(), BenchError> {
    if let Some(index) = gpu.iter().zip(cpu).position(|(g, c)| g != c) {
        return Err(BenchError::Mismatch {
            kernel,
            index,
            gpu: gpu[index],
            cpu: cpu[index],
        });
    }
    if gpu.len() != cpu.len() {
        return Err(BenchError::Mismatch {
            kernel,
            index: gpu.len().min(cpu.len()),
            gpu: 0,
            cpu: 0,
        });
    }
    Ok(())
}

/// Result of the built-in self-test.
#[derive(Clone, Debug)]
pub struct SelfTest {
    /// Kernels checked bit-exactly against their CPU references.
    pub kernels: Vec<&'static str>,
    /// Result hash of the vector-transform self-test output (the same on every correct device).
    pub vector_transform_hash: [u8; 32],
    /// Iterations after which the adapter silently stops a loop, if it does (lavapipe: 65,535).
    pub loop_cap: Option<u32>,
}

/// Iterations the loop-cap probe asks for (more than lavapipe's 65,535).
pub const LOOP_PROBE_ITERATIONS: u32 = 100_000;

const LOOP_PROBE: &str = r#"
struct Params { n: u32 }
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;
@compute @workgroup_size(1)
fn main() {
    var count = 0u;
    var h = 1u;
    for (var i = 0u; i < params.n; i++) {
        count += 1u;
        h = h * 1664525u + 1013904223u + count;
    }
    output[0] = count;
    output[1] = h;
}
"#;

/// Runs the exact example kernels against their CPU references and probes for a loop cap.
pub fn self_test(exec: &mut Executor) -> Result<SelfTest, BenchError> {
    let input = kernels::test_words(1 << 16, 0x5eed);
    let run = exec.run(&kernels::vector_transform_job(
        &input,
        2_654_435_761,
        12_345,
    ))?;
    compare(
        "vector_transform",
        &bytes_to_words(&run.output),
        &cpu::vector_transform(&input, 2_654_435_761, 12_345),
    )?;
    let vector_transform_hash = result_hash(&run.output);

    let mixed = exec.run(&kernels::hash_mix_job(&input, 16, 99))?;
    compare(
        "hash_mix",
        &bytes_to_words(&mixed.output),
        &cpu::hash_mix(&input, 16, 99),
    )?;

    let n = 24;
    let (a, b) = (kernels::test_words(n * n, 1), kernels::test_words(n * n, 2));
    let product = exec.run(&kernels::matmul_job(&a, &b, n as u32))?;
    compare(
        "matmul_u32",
        &bytes_to_words(&product.output),
        &cpu::matmul(&a, &b, n),
    )?;

    let sums = exec.run(&kernels::reduce_sum_job(&input))?;
    compare(
        "reduce_sum",
        &bytes_to_words(&sums.output),
        &cpu::reduce_sum(&input),
    )?;

    let mut probe = JobDescriptor {
        wgsl: LOOP_PROBE.as_bytes().to_vec(),
        entry_point: "main".into(),
        workgroups: [1, 1, 1],
        input: Vec::new(),
        output_len: 8,
        params: [0; compute_market_job::PARAMS_LEN],
        ..Default::default()
    };
    probe.params[..4].copy_from_slice(&LOOP_PROBE_ITERATIONS.to_le_bytes());
    let counted = bytes_to_words(&exec.run(&probe)?.output);
    let loop_cap = counted
        .first()
        .copied()
        .filter(|&c| c < LOOP_PROBE_ITERATIONS);

    Ok(SelfTest {
        kernels: vec!["vector_transform", "hash_mix", "matmul_u32", "reduce_sum"],
        vector_transform_hash,
        loop_cap,
    })
}

/// A throughput measurement: the median dispatch time over several runs.
#[derive(Clone, Copy, Debug)]
pub struct Throughput {
    /// Units per second (bytes/s or integer ops/s).
    pub per_second: f64,
    /// Median dispatch time.
    pub median_dispatch: Duration,
    /// Runs measured (after one warm-up).
    pub runs: usize,
}

fn measure(
    exec: &mut Executor,
    job: &JobDescriptor,
    units: f64,
    runs: usize,
) -> Result<Throughput, BenchError> {
    exec.run(job)?; // warm-up: compile, first-touch allocations
    let samples = (0..runs.max(1))
        .map(|_| exec.run(job).map(|r| r.timings.dispatch))
        .collect::<Result<Vec<_>, _>>()?;
    let median_dispatch = median(&samples);
    Ok(Throughput {
        per_second: units / median_dispatch.as_secs_f64().max(1e-9),
        median_dispatch,
        runs: samples.len(),
    })
}

/// Memory bandwidth of `vector_transform` over `words` u32s: bytes read plus written per second.
pub fn memory_bandwidth(
    exec: &mut Executor,
    words: usize,
    runs: usize,
) -> Result<Throughput, BenchError> {
    let input = kernels::test_words(words, 3);
    let job = kernels::vector_transform_job(&input, 3, 7);
    measure(exec, &job, (words * 8) as f64, runs)
}

/// Integer throughput of `hash_mix`: `words * rounds * 9` operations per second.
pub fn integer_ops(
    exec: &mut Executor,
    words: usize,
    rounds: u32,
    runs: usize,
) -> Result<Throughput, BenchError> {
    let input = kernels::test_words(words, 4);
    let job = kernels::hash_mix_job(&input, rounds, 11);
    let ops = words as f64 * f64::from(rounds) * kernels::HASH_MIX_OPS_PER_ROUND as f64;
    measure(exec, &job, ops, runs)
}

/// The baseline of the overhead benchmark: the same job with the least wgpu code that can run it
/// (pipeline built once, then per run: buffers, upload, one submit with dispatch and copy, map,
/// read). Returns each run's wall-clock time.
pub fn bare_runs(
    ctx: &GpuContext,
    job: &JobDescriptor,
    runs: usize,
) -> Result<(Vec<u8>, Vec<Duration>), BenchError> {
    let device = &ctx.device;
    let source = std::str::from_utf8(&job.wgsl).map_err(|e| BenchError::Bare(e.to_string()))?;
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("bare"),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("bare"),
        layout: None,
        module: &module,
        entry_point: Some(&job.entry_point),
        compilation_options: Default::default(),
        cache: None,
    });
    let layout = pipeline.get_bind_group_layout(0);
    let mut samples = Vec::with_capacity(runs);
    let mut last = Vec::new();
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let buffer = |size: u64, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        use wgpu::BufferUsages as U;
        let input = buffer(job.input.len().max(4) as u64, U::STORAGE | U::COPY_DST);
        let output = buffer(job.output_len, U::STORAGE | U::COPY_SRC);
        let params = buffer(job.params.len() as u64, U::UNIFORM | U::COPY_DST);
        let staging = buffer(job.output_len, U::MAP_READ | U::COPY_DST);
        ctx.queue.write_buffer(&input, 0, &job.input);
        ctx.queue.write_buffer(&params, 0, &job.params);
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &layout,
            entries: &[
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
            ],
        });
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(job.workgroups[0], job.workgroups[1], job.workgroups[2]);
        }
        encoder.copy_buffer_to_buffer(&output, 0, &staging, 0, job.output_len);
        ctx.queue.submit([encoder.finish()]);
        let (tx, rx) = mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .map_err(|e| BenchError::Bare(e.to_string()))?;
        rx.recv()
            .map_err(|e| BenchError::Bare(e.to_string()))?
            .map_err(|e| BenchError::Bare(e.to_string()))?;
        last = staging
            .get_mapped_range(..)
            .map_err(|e| BenchError::Bare(e.to_string()))?
            .to_vec();
        staging.unmap();
        samples.push(started.elapsed());
    }
    Ok((last, samples))
}

/// Everything `provider-daemon bench` measures.
#[derive(Clone, Debug)]
pub struct BenchReport {
    /// The adapter.
    pub adapter: String,
    /// Runs per measurement.
    pub runs: usize,
    /// `vector_transform` throughput (bytes/s) per problem size in u32 words.
    pub bandwidth: Vec<(usize, Throughput)>,
    /// `hash_mix` throughput (ops/s).
    pub int_ops: Throughput,
    /// Words and rounds of the integer run.
    pub int_ops_shape: (usize, u32),
    /// Overhead kernel: words and rounds of `hash_mix`.
    pub overhead_shape: (usize, u32),
    /// Median bare wgpu time of the overhead kernel.
    pub bare_median: Duration,
    /// Median full-executor time of the overhead kernel.
    pub executor_median: Duration,
    /// Median per-phase timings of the overhead kernel through the executor.
    pub executor_phases: crate::JobTimings,
    /// Phases of the first (pipeline not yet cached) run of the overhead kernel.
    pub first_run_phases: crate::JobTimings,
    /// Median bare time of a tiny job (64 words of `vector_transform`).
    pub tiny_bare_median: Duration,
    /// Median executor time of the same tiny job.
    pub tiny_executor_median: Duration,
    /// Phases of the tiny job (median by total).
    pub tiny_phases: crate::JobTimings,
}

impl BenchReport {
    /// Executor time over bare time for the overhead kernel.
    pub fn overhead_ratio(&self) -> f64 {
        self.executor_median.as_secs_f64() / self.bare_median.as_secs_f64().max(1e-9)
    }
}

/// Why the full benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum FullBenchError {
    /// In-process part.
    #[error(transparent)]
    Bench(#[from] BenchError),
    /// Worker-pool part.
    #[error(transparent)]
    Exec(#[from] crate::ExecError),
}

/// Runs every benchmark. The overhead kernel is `hash_mix` with enough rounds for a >= 50 ms
/// dispatch (calibrated on this adapter), run `runs` times bare and `runs` times through `pool`.
pub fn full_benchmark(
    pool: &crate::WorkerPool,
    exec: &mut Executor,
    runs: usize,
) -> Result<BenchReport, FullBenchError> {
    let runs = runs.max(3);
    let bandwidth = [1 << 22, 1 << 24]
        .into_iter()
        .map(|words| memory_bandwidth(exec, words, runs).map(|t| (words, t)))
        .collect::<Result<Vec<_>, _>>()?;
    let int_ops_shape = (1 << 20, 256);
    let int_ops = integer_ops(exec, int_ops_shape.0, int_ops_shape.1, runs)?;

    // Calibrate the overhead kernel to ~100 ms of dispatch (goal: >= 50 ms).
    let words = 1 << 20;
    let input = kernels::test_words(words, 5);
    let probe_rounds = 64;
    let probe = exec
        .run(&kernels::hash_mix_job(&input, probe_rounds, 1))
        .map_err(BenchError::from)?;
    let per_round = probe.timings.dispatch.as_secs_f64() / f64::from(probe_rounds);
    let rounds = ((0.1 / per_round.max(1e-9)) as u32).clamp(probe_rounds, 8192);
    let job = kernels::hash_mix_job(&input, rounds, 1);

    let (bare_output, mut bare) = bare_runs(exec.context(), &job, runs + 1)?;
    bare.remove(0); // warm-up
                    // Warm-up: the worker compiles and caches the pipeline (reported as the cold-pipeline run).
    let first_run_phases = pool.execute(&job)?.timings;
    let mut full = Vec::with_capacity(runs);
    for _ in 0..runs {
        let outcome = pool.execute(&job)?;
        if outcome.output != bare_output {
            return Err(BenchError::Bare("executor and bare outputs differ".into()).into());
        }
        full.push(outcome.timings);
    }
    full.sort_by_key(|t| t.total);
    let executor_phases = full[full.len() / 2];

    let tiny_input = kernels::test_words(64, 6);
    let tiny = kernels::vector_transform_job(&tiny_input, 3, 1);
    let (_, mut tiny_bare) = bare_runs(exec.context(), &tiny, runs * 3 + 1)?;
    tiny_bare.remove(0);
    pool.execute(&tiny)?;
    let mut tiny_full = (0..runs * 3)
        .map(|_| pool.execute(&tiny).map(|o| o.timings))
        .collect::<Result<Vec<_>, _>>()?;
    tiny_full.sort_by_key(|t| t.total);
    let tiny_phases = tiny_full[tiny_full.len() / 2];

    Ok(BenchReport {
        adapter: pool.device().adapter.to_string(),
        runs,
        bandwidth,
        int_ops,
        int_ops_shape,
        overhead_shape: (words, rounds),
        bare_median: median(&bare),
        executor_median: executor_phases.total,
        executor_phases,
        first_run_phases,
        tiny_bare_median: median(&tiny_bare),
        tiny_executor_median: tiny_phases.total,
        tiny_phases,
    })
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        writeln!(
            f,
            "Adapter: {}  (medians of {} runs)",
            self.adapter, self.runs
        )?;
        writeln!(f)?;
        writeln!(f, "| measurement | result |")?;
        writeln!(f, "|---|---|")?;
        for (words, t) in &self.bandwidth {
            writeln!(
                f,
                "| memory bandwidth, `vector_transform` ({} MiB in + {} MiB out) | **{:.2} GB/s** (dispatch {:.1} ms) |",
                (words * 4) >> 20,
                (words * 4) >> 20,
                t.per_second / 1e9,
                ms(t.median_dispatch)
            )?;
        }
        writeln!(
            f,
            "| integer throughput, `hash_mix` ({} u32 x {} rounds x {} ops) | **{:.2} Gops/s** (dispatch {:.1} ms) |",
            self.int_ops_shape.0,
            self.int_ops_shape.1,
            HASH_MIX_OPS,
            self.int_ops.per_second / 1e9,
            ms(self.int_ops.median_dispatch)
        )?;
        writeln!(
            f,
            "| overhead kernel `hash_mix` ({} u32 x {} rounds): bare wgpu | {:.1} ms |",
            self.overhead_shape.0,
            self.overhead_shape.1,
            ms(self.bare_median)
        )?;
        writeln!(f, "| same kernel, full executor path (validate, worker IPC, cached pipeline, hash) | {:.1} ms |", ms(self.executor_median))?;
        writeln!(
            f,
            "| **overhead ratio** (executor / bare) | **{:.3}x** |",
            self.overhead_ratio()
        )?;
        writeln!(
            f,
            "| fixed per-job cost: tiny job (64 u32) bare / executor | {:.2} ms / {:.2} ms (**+{:.2} ms**) |",
            ms(self.tiny_bare_median),
            ms(self.tiny_executor_median),
            ms(self.tiny_executor_median.saturating_sub(self.tiny_bare_median))
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "Per-job phases, overhead kernel: {}",
            self.executor_phases
        )?;
        writeln!(
            f,
            "Per-job phases, overhead kernel, first run (pipeline compiled): {}",
            self.first_run_phases
        )?;
        writeln!(f, "Per-job phases, tiny job: {}", self.tiny_phases)
    }
}

const HASH_MIX_OPS: u64 = kernels::HASH_MIX_OPS_PER_ROUND;
