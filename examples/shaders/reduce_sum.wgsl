// Reduction, exact class: per-workgroup wrapping u32 sums with a shared-memory tree.
//   output[g] = sum(input[g * 256 .. g * 256 + 256]) (elements at or past params.n count as 0)
// Dispatch: ceil(n / 256) workgroups over x, y (g = workgroup_id.x + workgroup_id.y * num_workgroups.x).
// Wrapping integer addition is associative, so every GPU produces the same partial sums.

struct Params {
    n: u32,
}

@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> partial: array<u32, 256>;

@compute @workgroup_size(256)
fn main(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let group = wid.x + wid.y * nwg.x;
    let i = group * 256u + li;
    var v = 0u;
    if i < params.n {
        v = input[i];
    }
    partial[li] = v;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
        if li < stride {
            partial[li] += partial[li + stride];
        }
        workgroupBarrier();
    }
    if li == 0u {
        output[group] = partial[0];
    }
}
