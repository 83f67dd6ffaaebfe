//! The example shaders of `examples/shaders/` with job builders and CPU references. The daemon
//! uses them for its self-test and benchmark; tests, SDK docs and the demo use the same files.

use compute_market_job::{JobDescriptor, PARAMS_LEN};

/// `examples/shaders/vector_transform.wgsl` (exact; memory-bound).
pub const VECTOR_TRANSFORM: &str = include_str!("../../examples/shaders/vector_transform.wgsl");
/// `examples/shaders/matmul_u32.wgsl` (exact).
pub const MATMUL_U32: &str = include_str!("../../examples/shaders/matmul_u32.wgsl");
/// `examples/shaders/hash_mix.wgsl` (exact; arithmetic-bound).
pub const HASH_MIX: &str = include_str!("../../examples/shaders/hash_mix.wgsl");
/// `examples/shaders/reduce_sum.wgsl` (exact).
pub const REDUCE_SUM: &str = include_str!("../../examples/shaders/reduce_sum.wgsl");
/// `examples/shaders/mandelbrot.wgsl` (float).
pub const MANDELBROT: &str = include_str!("../../examples/shaders/mandelbrot.wgsl");

/// Integer operations per round of `hash_mix` (3 shifts, 3 xors, 2 multiplies, 1 add).
pub const HASH_MIX_OPS_PER_ROUND: u64 = 9;

/// Workgroup counts for `workgroups` 1-D workgroups, split over x and y to stay under 65,535
/// per dimension (the kernels rebuild the linear index from `num_workgroups.x`).
pub fn split_workgroups(workgroups: u32) -> [u32; 3] {
    let x = workgroups.clamp(1, 65_535);
    [x, workgroups.div_ceil(x).max(1), 1]
}

fn params(words: &[u32]) -> [u8; PARAMS_LEN] {
    let mut p = [0u8; PARAMS_LEN];
    for (chunk, w) in p.as_chunks_mut::<4>().0.iter_mut().zip(words) {
        *chunk = w.to_le_bytes();
    }
    p
}

fn words_to_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Little-endian u32 words of a byte buffer (a trailing partial word is ignored).
pub fn bytes_to_words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .as_chunks::<4>()
        .0
        .iter()
        .map(|c| u32::from_le_bytes(*c))
        .collect()
}

fn job(
    wgsl: &str,
    workgroups: [u32; 3],
    input: Vec<u8>,
    output_len: u64,
    p: &[u32],
) -> JobDescriptor {
    JobDescriptor {
        wgsl: wgsl.as_bytes().to_vec(),
        entry_point: "main".into(),
        workgroups,
        input,
        output_len,
        params: params(p),
        ..Default::default()
    }
}

/// A deterministic pseudo-random input of `n` words (xorshift32 from `seed`).
pub fn test_words(n: usize, seed: u32) -> Vec<u32> {
    let mut x = seed.max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        })
        .collect()
}

/// Job: `output[i] = input[i] * scale + offset`.
pub fn vector_transform_job(input: &[u32], scale: u32, offset: u32) -> JobDescriptor {
    let n = u32::try_from(input.len()).unwrap_or(u32::MAX);
    job(
        VECTOR_TRANSFORM,
        split_workgroups(n.div_ceil(256)),
        words_to_bytes(input),
        input.len() as u64 * 4,
        &[n, scale, offset],
    )
}

/// Job: `C = A * B` for `n x n` matrices.
pub fn matmul_job(a: &[u32], b: &[u32], n: u32) -> JobDescriptor {
    let mut input = words_to_bytes(a);
    input.extend(words_to_bytes(b));
    let groups = n.div_ceil(8);
    job(
        MATMUL_U32,
        [groups, groups, 1],
        input,
        u64::from(n) * u64::from(n) * 4,
        &[n],
    )
}

/// Job: `rounds` rounds of `fmix32` per element.
pub fn hash_mix_job(input: &[u32], rounds: u32, seed: u32) -> JobDescriptor {
    let n = u32::try_from(input.len()).unwrap_or(u32::MAX);
    job(
        HASH_MIX,
        split_workgroups(n.div_ceil(256)),
        words_to_bytes(input),
        input.len() as u64 * 4,
        &[n, rounds, seed],
    )
}

/// Job: per-256-element wrapping sums.
pub fn reduce_sum_job(input: &[u32]) -> JobDescriptor {
    let n = u32::try_from(input.len()).unwrap_or(u32::MAX);
    let groups = n.div_ceil(256).max(1);
    job(
        REDUCE_SUM,
        split_workgroups(groups),
        words_to_bytes(input),
        u64::from(groups) * 4,
        &[n],
    )
}

/// Job: a `width x height` Mandelbrot image of iteration counts.
pub fn mandelbrot_job(width: u32, height: u32, max_iter: u32) -> JobDescriptor {
    job(
        MANDELBROT,
        [width.div_ceil(16), height.div_ceil(16), 1],
        Vec::new(),
        u64::from(width) * u64::from(height) * 4,
        &[width, height, max_iter],
    )
}

/// CPU references of the kernels, bit-exact for the exact ones.
pub mod cpu {
    /// Reference of `vector_transform`.
    pub fn vector_transform(input: &[u32], scale: u32, offset: u32) -> Vec<u32> {
        input
            .iter()
            .map(|x| x.wrapping_mul(scale).wrapping_add(offset))
            .collect()
    }

    /// Reference of `matmul_u32`.
    pub fn matmul(a: &[u32], b: &[u32], n: usize) -> Vec<u32> {
        let mut c = vec![0u32; n * n];
        for row in 0..n {
            for col in 0..n {
                c[row * n + col] = (0..n).fold(0u32, |acc, k| {
                    acc.wrapping_add(a[row * n + k].wrapping_mul(b[k * n + col]))
                });
            }
        }
        c
    }

    /// MurmurHash3's 32-bit finaliser.
    pub fn fmix32(mut h: u32) -> u32 {
        h ^= h >> 16;
        h = h.wrapping_mul(0x85eb_ca6b);
        h ^= h >> 13;
        h = h.wrapping_mul(0xc2b2_ae35);
        h ^= h >> 16;
        h
    }

    /// Reference of `hash_mix`.
    pub fn hash_mix(input: &[u32], rounds: u32, seed: u32) -> Vec<u32> {
        input
            .iter()
            .map(|&v| (0..rounds).fold(v ^ seed, |x, r| fmix32(x).wrapping_add(r)))
            .collect()
    }

    /// Reference of `reduce_sum`.
    pub fn reduce_sum(input: &[u32]) -> Vec<u32> {
        let groups = input.len().div_ceil(256).max(1);
        (0..groups)
            .map(|g| {
                input
                    .iter()
                    .skip(g * 256)
                    .take(256)
                    .fold(0u32, |a, &x| a.wrapping_add(x))
            })
            .collect()
    }

    /// Reference of `mandelbrot` (f32, like the shader; a GPU may round differently).
    pub fn mandelbrot(width: u32, height: u32, max_iter: u32) -> Vec<u32> {
        let mut out = Vec::with_capacity(width as usize * height as usize);
        for py in 0..height {
            for px in 0..width {
                let cx = -2.5f32 + 3.5 * (px as f32 + 0.5) / width as f32;
                let cy = -1.25f32 + 2.5 * (py as f32 + 0.5) / height as f32;
                let (mut x, mut y, mut i) = (0.0f32, 0.0f32, 0u32);
                while i < max_iter && x * x + y * y <= 4.0 {
                    let xt = x * x - y * y + cx;
                    y = 2.0 * x * y + cy;
                    x = xt;
                    i += 1;
                }
                out.push(i);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use compute_market_job::{validate_job, Caps, DeterminismClass, Limits};

    #[test]
    fn example_jobs_validate_with_the_expected_class() {
        let input = test_words(1000, 7);
        let jobs = [
            (vector_transform_job(&input, 3, 1), DeterminismClass::Exact),
            (
                matmul_job(&input[..16], &input[16..32], 4),
                DeterminismClass::Exact,
            ),
            (hash_mix_job(&input, 8, 5), DeterminismClass::Exact),
            (reduce_sum_job(&input), DeterminismClass::Exact),
            (mandelbrot_job(64, 48, 100), DeterminismClass::Float),
        ];
        for (job, class) in jobs {
            let info = validate_job(&job, &Limits::default(), &Caps::default())
                .unwrap_or_else(|e| panic!("{}: {e}", job.wgsl.len()));
            assert_eq!(info.determinism, class);
        }
    }

    #[test]
    fn splits_large_dispatches() {
        assert_eq!(split_workgroups(10), [10, 1, 1]);
        assert_eq!(split_workgroups(65_536), [65_535, 2, 1]);
        assert_eq!(split_workgroups(0), [1, 1, 1]);
    }
}
