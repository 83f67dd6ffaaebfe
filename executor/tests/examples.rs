//! The example shaders of `examples/shaders/` through the full executor (worker processes, real
//! wgpu): bit-exact against CPU references, identical bytes and hashes across runs.

mod common;

use compute_market_executor::kernels::{self, bytes_to_words, cpu};
use compute_market_executor::ExecOutcome;
use compute_market_job::{result_hash, DeterminismClass, JobDescriptor};

/// Runs `job` twice: same bytes, same hash, hash = result_hash(bytes), second run cached.
fn run_twice(job: &JobDescriptor) -> ExecOutcome {
    let pool = common::pool();
    let first = pool.execute(job).unwrap_or_else(|e| panic!("{e}"));
    let second = pool.execute(job).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.output, second.output, "output differs between runs");
    assert_eq!(first.result_hash, second.result_hash);
    assert_eq!(first.result_hash, result_hash(&first.output));
    assert_eq!(first.output.len() as u64, job.output_len);
    let t = second.timings;
    assert!(
        t.total >= t.dispatch && t.dispatch > std::time::Duration::ZERO,
        "{t:?}"
    );
    first
}

#[test]
fn vector_transform_matches_cpu() {
    let input = kernels::test_words(100_000, 1);
    let out = run_twice(&kernels::vector_transform_job(&input, 0x9e37_79b9, 17));
    assert_eq!(out.determinism, DeterminismClass::Exact);
    assert_eq!(
        bytes_to_words(&out.output),
        cpu::vector_transform(&input, 0x9e37_79b9, 17)
    );
}

#[test]
fn vector_transform_over_65535_workgroups() {
    // 65,536 workgroups: the dispatch is split over x and y.
    let input = kernels::test_words(256 * 65_536, 9);
    let out = common::pool()
        .execute(&kernels::vector_transform_job(&input, 3, 1))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        bytes_to_words(&out.output),
        cpu::vector_transform(&input, 3, 1)
    );
}

#[test]
fn integer_matmul_matches_cpu() {
    let n = 64;
    let (a, b) = (kernels::test_words(n * n, 2), kernels::test_words(n * n, 3));
    let out = run_twice(&kernels::matmul_job(&a, &b, n as u32));
    assert_eq!(out.determinism, DeterminismClass::Exact);
    assert_eq!(bytes_to_words(&out.output), cpu::matmul(&a, &b, n));
}

#[test]
fn hash_mix_matches_cpu() {
    let input = kernels::test_words(50_000, 4);
    let out = run_twice(&kernels::hash_mix_job(&input, 100, 0xdead_beef));
    assert_eq!(out.determinism, DeterminismClass::Exact);
    assert_eq!(
        bytes_to_words(&out.output),
        cpu::hash_mix(&input, 100, 0xdead_beef)
    );
}

#[test]
fn reduction_matches_cpu() {
    let input = kernels::test_words(300_001, 5);
    let out = run_twice(&kernels::reduce_sum_job(&input));
    assert_eq!(out.determinism, DeterminismClass::Exact);
    assert_eq!(bytes_to_words(&out.output), cpu::reduce_sum(&input));
}

#[test]
fn exact_result_hash_is_pinned() {
    // The same job gives the same hash on every conforming GPU: pin it so a regression in the
    // executor, the hash or the shader shows up here. (Computed by the CPU reference.)
    let input = kernels::test_words(4096, 77);
    let expected = cpu::vector_transform(&input, 7, 11);
    let expected_bytes: Vec<u8> = expected.iter().flat_map(|w| w.to_le_bytes()).collect();
    let out = run_twice(&kernels::vector_transform_job(&input, 7, 11));
    assert_eq!(out.result_hash, result_hash(&expected_bytes));
}

#[test]
fn mandelbrot_is_float_and_renders_a_png() {
    let (w, h, max_iter) = (256u32, 192u32, 200u32);
    let out = run_twice(&kernels::mandelbrot_job(w, h, max_iter));
    assert_eq!(out.determinism, DeterminismClass::Float);
    assert!(!out.determinism.is_hash_verifiable());
    let gpu = bytes_to_words(&out.output);
    let reference = cpu::mandelbrot(w, h, max_iter);
    // Float class: rounding may differ from the CPU near the set's boundary, nowhere else.
    let differing = gpu.iter().zip(&reference).filter(|(g, c)| g != c).count();
    assert!(
        differing * 100 < gpu.len(),
        "{differing} of {} pixels differ",
        gpu.len()
    );
    assert!(
        gpu.contains(&max_iter) && gpu.contains(&1),
        "the image has both the set and escapes"
    );

    let pixels: Vec<u8> = gpu.iter().map(|&i| (i * 255 / max_iter) as u8).collect();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("mandelbrot.png");
    let file = std::fs::File::create(&path).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .unwrap()
        .write_image_data(&pixels)
        .unwrap();

    let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (w, h));
    assert_eq!(&buf[..info.buffer_size()], &pixels[..]);
}

#[test]
fn integer_edge_cases_follow_wgsl() {
    // WGSL defines integer division by zero and MIN / -1 (result: the dividend) and the same
    // cases of % (result: 0); GL would differ, which is why the executor never uses it.
    let src = r#"
        @group(0) @binding(0) var<storage, read> input: array<i32>;
        @group(0) @binding(1) var<storage, read_write> output: array<i32>;
        @compute @workgroup_size(1)
        fn main() {
            let a = input[0]; let zero = input[1]; let minus_one = input[2]; let min = input[3];
            output[0] = a / zero;
            output[1] = a % zero;
            output[2] = min / minus_one;
            output[3] = min % minus_one;
            output[4] = -7 / input[4];
            output[5] = -7 % input[4];
        }"#;
    let words: [i32; 5] = [42, 0, -1, i32::MIN, 2];
    let job = JobDescriptor {
        wgsl: src.as_bytes().to_vec(),
        entry_point: "main".into(),
        workgroups: [1, 1, 1],
        input: words.iter().flat_map(|w| w.to_le_bytes()).collect(),
        output_len: 24,
        params: [0; compute_market_job::PARAMS_LEN],
        ..Default::default()
    };
    let out = run_twice(&job);
    let got: Vec<i32> = bytes_to_words(&out.output)
        .into_iter()
        .map(|w| w as i32)
        .collect();
    assert_eq!(got, vec![42, 0, i32::MIN, 0, -3, -1]);
}
