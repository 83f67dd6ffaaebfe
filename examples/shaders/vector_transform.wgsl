// Vector transform (copy/scale), exact class.
//   output[i] = input[i] * params.scale + params.offset   (u32, wrapping), for i < params.n
// Dispatch: ceil(n / 256) workgroups, split over x and y when above 65,535
// (index = global_id.x + global_id.y * num_workgroups.x * 256).
// Memory-bound: the benchmark reports its throughput in GB/s (bytes read + written).

struct Params {
    n: u32,
    scale: u32,
    offset: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i < params.n {
        output[i] = input[i] * params.scale + params.offset;
    }
}
