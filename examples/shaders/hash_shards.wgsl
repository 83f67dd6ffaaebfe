// Hash kernel written to be split across providers (`job submit --shards N`): each invocation
// hashes its global index `rounds` times with MurmurHash3's 32-bit finaliser. The job's X
// workgroups are split into ranges; a shard learns its range's first workgroup from params word 7
// (`first`) and writes its part of the output from byte 0 of its own output, 1,024 bytes (256
// u32) per workgroup, so the shards' outputs laid end to end are the whole job's.
// params = (rounds, seed, 0, 0, 0, 0, 0, first). Exact class: verifiable by replicas.

struct Params {
    rounds: u32,
    seed: u32,
    _p2: u32,
    _p3: u32,
    _p4: u32,
    _p5: u32,
    _p6: u32,
    first: u32,
}

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
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    var x = (gid.x + params.first * 256u) ^ params.seed;
    for (var r = 0u; r < params.rounds; r++) {
        x = fmix32(x) + r;
    }
    output[gid.x] = x;
}
