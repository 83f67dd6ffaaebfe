struct Params { width: u32, height: u32 }
struct PassInfo { index: u32, iteration: u32, repeat: u32, passes: u32, args: vec4<u32> }

@group(0) @binding(0) var<storage, read> input: array<i32>;
@group(0) @binding(1) var<storage, read_write> output: array<i32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<uniform> pass_info: PassInfo;
// Two grids of width * height cells, one after the other.
@group(0) @binding(4) var<storage, read_write> grid: array<i32>;

@compute @workgroup_size(8, 8)
fn init(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.width || gid.y >= params.height {
        return;
    }
    let i = gid.y * params.width + gid.x;
    grid[i] = input[i];
}

@compute @workgroup_size(8, 8)
fn diffuse(@builtin(global_invocation_id) gid: vec3<u32>) {
    let w = params.width;
    let h = params.height;
    if gid.x >= w || gid.y >= h {
        return;
    }
    let n = w * h;
    let src = (pass_info.iteration & 1u) * n;
    let dst = n - src;
    let i = gid.y * w + gid.x;
    let u = grid[src + i];
    var delta = 0;
    if gid.x > 0u {
        delta += (grid[src + i - 1u] - u) / 8;
    }
    if gid.x + 1u < w {
        delta += (grid[src + i + 1u] - u) / 8;
    }
    if gid.y > 0u {
        delta += (grid[src + i - w] - u) / 8;
    }
    if gid.y + 1u < h {
        delta += (grid[src + i + w] - u) / 8;
    }
    grid[dst + i] = u + delta;
}

@compute @workgroup_size(8, 8)
fn finish(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.width || gid.y >= params.height {
        return;
    }
    let i = gid.y * params.width + gid.x;
    output[i] = grid[(pass_info.args.x & 1u) * params.width * params.height + i];
}
