// Hash/mix kernel, exact class: `rounds` rounds of MurmurHash3's 32-bit finaliser per element.
//   x = input[i] ^ seed
//   repeat rounds: x = fmix32(x) + r       (9 integer ops per round)
//   output[i] = x
// params = (n, rounds, seed). Dispatch like vector_transform: ceil(n / 256) workgroups over x, y.
// Keep rounds below 65,535: lavapipe silently stops longer loops.
// Arithmetic-bound: the benchmark reports integer ops/s = n * rounds * 9 / time.

struct Params {
    n: u32,
    rounds: u32,
    seed: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

fn fmix32(h0: u32) -> u32 {
    var h = h0;
    h ^= h >> 16u;
    h *= 0x85ebca6bu;
    h ^= h >> 13u;
    h *= 0xc2b2ae35u;
    h ^= h >> 16u;
    return h;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= params.n {
        return;
    }
    var x = input[i] ^ params.seed;
    for (var r = 0u; r < params.rounds; r++) {
        x = fmix32(x) + r;
    }
    output[i] = x;
}
