// Compute Market fixed-point ray tracer: one tile of the image, one invocation per pixel.
// Integer only (16.16 fixed point on i32, no i64), so every GPU gives the bytes of the Rust
// reference in raytrace/trace.rs, which mirrors this file function for function.

struct Params {
    width: u32,
    height: u32,
    tile_x0: u32,
    tile_y0: u32,
    tile_w: u32,
    tile_h: u32,
    reserved0: u32,
    reserved1: u32,
}

// The scene words (see Scene::words).
@group(0) @binding(0) var<storage, read> input: array<i32, 96>;
// The tile's pixels, RGBA8 (r | g << 8 | b << 16 | a << 24), row by row.
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

const ONE: i32 = 65536;
const SATURATED: i32 = 2147483647;
const MAX_SPHERES: i32 = 8;
const MAX_BOUNCES: i32 = 4;
const HEADER_WORDS: i32 = 32;
const SPHERE_WORDS: i32 = 8;
const EPS: i32 = 64;
const OFFSET: i32 = 256;
const T_MAX: i32 = 3145728; // 48 units
const NO_HIT: i32 = 2147483647;
const SPECULAR: i32 = 32768;

// floor(a * b / 2^16) from 16-bit halves, wrapping.
fn fmul(a: i32, b: i32) -> i32 {
    let ah = a >> 16u;
    let al = bitcast<u32>(a) & 0xFFFFu;
    let bh = b >> 16u;
    let bl = bitcast<u32>(b) & 0xFFFFu;
    let low = i32((al * bl) >> 16u);
    return ((ah * bh) << 16u) + ah * i32(bl) + i32(al) * bh + low;
}

// a / b in 16.16, truncated, by long division; SATURATED (signed) if it does not fit.
fn fdiv(a: i32, b: i32) -> i32 {
    let negative = (a < 0) != (b < 0);
    if b == 0 {
        return select(SATURATED, -SATURATED, a < 0);
    }
    let ua = bitcast<u32>(abs(a));
    let ub = bitcast<u32>(abs(b));
    var q = ua / ub;
    var r = ua % ub;
    if q >= 32768u {
        return select(SATURATED, -SATURATED, negative);
    }
    for (var i = 0u; i < 16u; i++) {
        r = r << 1u;
        q = q << 1u;
        if r >= ub {
            r -= ub;
            q |= 1u;
        }
    }
    let s = i32(q);
    return select(s, -s, negative);
}

// floor(sqrt(x)) in 16.16: the integer square root of x * 2^16, two bits a step.
fn fsqrt(x: i32) -> i32 {
    if x <= 0 {
        return 0;
    }
    let n = bitcast<u32>(x);
    var rem = 0u;
    var root = 0u;
    for (var i = 0u; i < 24u; i++) {
        var pair = 0u;
        if i < 16u {
            pair = (n >> (30u - 2u * i)) & 3u;
        }
        rem = (rem << 2u) | pair;
        root = root << 1u;
        let trial = (root << 1u) | 1u;
        if rem >= trial {
            rem -= trial;
            root |= 1u;
        }
    }
    return i32(root);
}

fn vscale(v: vec3<i32>, s: i32) -> vec3<i32> {
    return vec3<i32>(fmul(v.x, s), fmul(v.y, s), fmul(v.z, s));
}

fn vdot(a: vec3<i32>, b: vec3<i32>) -> i32 {
    return fmul(a.x, b.x) + fmul(a.y, b.y) + fmul(a.z, b.z);
}

fn vlength(v: vec3<i32>) -> i32 {
    return fsqrt(vdot(v, v));
}

fn vnormalize(v: vec3<i32>) -> vec3<i32> {
    let len = vlength(v);
    if len == 0 {
        return vec3<i32>(0);
    }
    return vec3<i32>(fdiv(v.x, len), fdiv(v.y, len), fdiv(v.z, len));
}

fn vreflect(d: vec3<i32>, n: vec3<i32>) -> vec3<i32> {
    let k = vdot(d, n) * 2;
    return d - vscale(n, k);
}

fn word3(at: i32) -> vec3<i32> {
    return vec3<i32>(input[at], input[at + 1], input[at + 2]);
}

fn sphere_count() -> i32 {
    return clamp(input[30], 0, MAX_SPHERES);
}

struct Hit {
    t: i32,
    normal: vec3<i32>,
    color: vec3<i32>,
    reflectivity: i32,
}

fn hit_sphere(o: vec3<i32>, d: vec3<i32>, c: vec3<i32>, r: i32) -> i32 {
    let oc = o - c;
    let b = vdot(oc, d);
    let cc = vdot(oc, oc) - fmul(r, r);
    let disc = fmul(b, b) - cc;
    if disc < 0 {
        return NO_HIT;
    }
    let s = fsqrt(disc);
    var t = 0 - b - s;
    if t <= EPS {
        t = s - b;
    }
    if t <= EPS {
        return NO_HIT;
    }
    return t;
}

fn nearest(o: vec3<i32>, d: vec3<i32>) -> Hit {
    var best = Hit(NO_HIT, vec3<i32>(0), vec3<i32>(0), 0);
    var best_sphere = -1;
    let count = sphere_count();
    for (var i = 0; i < count; i++) {
        let at = HEADER_WORDS + i * SPHERE_WORDS;
        let t = hit_sphere(o, d, word3(at), input[at + 3]);
        if t < best.t {
            best.t = t;
            best_sphere = i;
        }
    }
    if best_sphere >= 0 {
        let at = HEADER_WORDS + best_sphere * SPHERE_WORDS;
        let p = o + vscale(d, best.t);
        best.normal = vnormalize(p - word3(at));
        best.color = word3(at + 4);
        best.reflectivity = input[at + 7];
    }
    if d.y < -EPS && o.y > 0 {
        let t = fdiv(o.y, 0 - d.y);
        if t > EPS && t < best.t && t < T_MAX {
            let p = o + vscale(d, t);
            let parity = ((p.x >> 16u) + (p.z >> 16u)) & 1;
            best.t = t;
            best.normal = vec3<i32>(0, ONE, 0);
            best.color = word3(22 + 3 * parity);
            best.reflectivity = input[28];
        }
    }
    return best;
}

fn shadowed(o: vec3<i32>, l: vec3<i32>, dist: i32) -> bool {
    let count = sphere_count();
    for (var i = 0; i < count; i++) {
        let at = HEADER_WORDS + i * SPHERE_WORDS;
        if hit_sphere(o, l, word3(at), input[at + 3]) < dist {
            return true;
        }
    }
    return false;
}

fn shade(p: vec3<i32>, n: vec3<i32>, color: vec3<i32>, d: vec3<i32>) -> vec3<i32> {
    let to_light = word3(12) - p;
    let dist = vlength(to_light);
    let l = vec3<i32>(fdiv(to_light.x, dist), fdiv(to_light.y, dist), fdiv(to_light.z, dist));
    let ndl = vdot(n, l);
    var diffuse = 0;
    var highlight = 0;
    if ndl > 0 && !shadowed(p + vscale(n, OFFSET), l, dist) {
        diffuse = ndl;
        var s = vdot(vreflect(d, n), l);
        if s > 0 {
            for (var i = 0; i < 5; i++) {
                s = fmul(s, s);
            }
            highlight = fmul(s, SPECULAR);
        }
    }
    let ambient = input[15];
    let intensity = ambient + fmul(ONE - ambient, diffuse);
    return vscale(color, intensity) + vec3<i32>(highlight);
}

fn sky(d: vec3<i32>) -> vec3<i32> {
    let t = clamp(d.y, 0, ONE);
    let horizon = word3(16);
    return horizon + vscale(word3(19) - horizon, t);
}

fn trace(origin: vec3<i32>, direction: vec3<i32>) -> vec3<i32> {
    var o = origin;
    var d = direction;
    let bounces = clamp(input[29], 0, MAX_BOUNCES);
    var acc = vec3<i32>(0);
    var throughput = ONE;
    for (var bounce = 0; bounce <= MAX_BOUNCES; bounce++) {
        let hit = nearest(o, d);
        if hit.t == NO_HIT {
            acc = acc + vscale(sky(d), throughput);
            break;
        }
        let p = o + vscale(d, hit.t);
        let local = shade(p, hit.normal, hit.color, d);
        var k = hit.reflectivity;
        if bounce >= bounces {
            k = 0;
        }
        acc = acc + vscale(local, fmul(throughput, ONE - k));
        if k <= 0 {
            break;
        }
        throughput = fmul(throughput, k);
        d = vreflect(d, hit.normal);
        o = p + vscale(hit.normal, OFFSET);
    }
    return acc;
}

fn channel(c: i32) -> u32 {
    return u32((clamp(c, 0, ONE) * 255 + 32768) >> 16u);
}

fn primary(x: u32, y: u32) -> vec3<i32> {
    let wi = i32(params.width);
    let hi = i32(params.height);
    let u = ((2 * i32(x) + 1 - wi) << 16u) / hi;
    let v = ((hi - 2 * i32(y) - 1) << 16u) / hi;
    return vnormalize(word3(3) + vscale(word3(6), u) + vscale(word3(9), v));
}

fn pixel(x: u32, y: u32) -> u32 {
    let c = trace(word3(0), primary(x, y));
    return channel(c.x) | (channel(c.y) << 8u) | (channel(c.z) << 16u) | (255u << 24u);
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.tile_w || gid.y >= params.tile_h {
        return;
    }
    output[gid.y * params.tile_w + gid.x] = pixel(params.tile_x0 + gid.x, params.tile_y0 + gid.y);
}
