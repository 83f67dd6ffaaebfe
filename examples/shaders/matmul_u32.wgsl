// Integer matrix multiply, exact class.
//   input  = A || B, two n x n row-major u32 matrices
//   output = C = A * B (u32, wrapping), n x n row-major
// params.n = n. Dispatch: (ceil(n / 8), ceil(n / 8), 1).

struct Params {
    n: u32,
}

@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = params.n;
    let row = gid.y;
    let col = gid.x;
    if row >= n || col >= n {
        return;
    }
    var acc = 0u;
    for (var k = 0u; k < n; k++) {
        acc += input[row * n + k] * input[n * n + k * n + col];
    }
    output[row * n + col] = acc;
}
