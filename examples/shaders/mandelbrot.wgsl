// Mandelbrot image, FLOAT class: results may differ between GPUs (rounding, fused multiply-add),
// so this job is NOT verifiable by comparing result hashes between providers.
//   output[y * width + x] = escape iteration count (0..=max_iter) of the pixel's centre
//   over the region [-2.5, 1.0] x [-1.25, 1.25].
// params = (width, height, max_iter). Dispatch: (ceil(width / 16), ceil(height / 16), 1).
// No input binding: the job's input may be empty.

struct Params {
    width: u32,
    height: u32,
    max_iter: u32,
    _pad: u32,
}

@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.width || gid.y >= params.height {
        return;
    }
    let cx = -2.5 + 3.5 * (f32(gid.x) + 0.5) / f32(params.width);
    let cy = -1.25 + 2.5 * (f32(gid.y) + 0.5) / f32(params.height);
    var x = 0.0;
    var y = 0.0;
    var i = 0u;
    loop {
        if i >= params.max_iter || x * x + y * y > 4.0 {
            break;
        }
        let xt = x * x - y * y + cx;
        y = 2.0 * x * y + cy;
        x = xt;
        i++;
    }
    output[gid.y * params.width + gid.x] = i;
}
