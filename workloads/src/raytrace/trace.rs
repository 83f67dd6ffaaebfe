//! The CPU tracer: `shader.wgsl` line for line, in Rust, over the same scene words.

use super::fixed::{add, div, dot, length, mul, normalize, reflect, scale, sqrt, sub, ONE, V3};
use super::scene::{HEADER_WORDS, MAX_BOUNCES, MAX_SPHERES, SCENE_WORDS, SPHERE_WORDS};

/// Smallest hit distance (1/1024 unit), so a ray does not hit the surface it leaves.
const EPS: i32 = 64;
/// How far off a surface secondary rays start, along its normal (1/256 unit).
pub(super) const OFFSET: i32 = 256;
/// Plane hits beyond this distance are sky (48 units).
const T_MAX: i32 = 48 * ONE;
/// Distance of no hit.
pub(super) const NO_HIT: i32 = i32::MAX;
/// Strength of the specular highlight.
const SPECULAR: i32 = ONE / 2;

/// What a ray hit.
pub(super) struct Hit {
    pub(super) t: i32,
    pub(super) normal: V3,
    pub(super) color: V3,
    pub(super) reflectivity: i32,
}

pub(super) fn word3(w: &[i32; SCENE_WORDS], at: usize) -> V3 {
    [w[at], w[at + 1], w[at + 2]]
}

fn sphere_count(w: &[i32; SCENE_WORDS]) -> usize {
    w[30].clamp(0, MAX_SPHERES as i32) as usize
}

/// Distance along the unit ray `(o, d)` to the sphere `(c, r)`, or [`NO_HIT`].
fn hit_sphere(o: V3, d: V3, c: V3, r: i32) -> i32 {
    let oc = sub(o, c);
    let b = dot(oc, d);
    let cc = dot(oc, oc).wrapping_sub(mul(r, r));
    let disc = mul(b, b).wrapping_sub(cc);
    if disc < 0 {
        return NO_HIT;
    }
    let s = sqrt(disc);
    let mut t = 0i32.wrapping_sub(b).wrapping_sub(s);
    if t <= EPS {
        t = s.wrapping_sub(b);
    }
    if t <= EPS {
        return NO_HIT;
    }
    t
}

/// The nearest surface along the unit ray `(o, d)`.
pub(super) fn nearest(w: &[i32; SCENE_WORDS], o: V3, d: V3) -> Hit {
    let mut best = Hit {
        t: NO_HIT,
        normal: [0; 3],
        color: [0; 3],
        reflectivity: 0,
    };
    let mut best_sphere = usize::MAX;
    for i in 0..sphere_count(w) {
        let at = HEADER_WORDS + i * SPHERE_WORDS;
        let t = hit_sphere(o, d, word3(w, at), w[at + 3]);
        if t < best.t {
            best.t = t;
            best_sphere = i;
        }
    }
    if best_sphere != usize::MAX {
        let at = HEADER_WORDS + best_sphere * SPHERE_WORDS;
        let p = add(o, scale(d, best.t));
        best.normal = normalize(sub(p, word3(w, at)));
        best.color = word3(w, at + 4);
        best.reflectivity = w[at + 7];
    }
    if d[1] < -EPS && o[1] > 0 {
        let t = div(o[1], 0i32.wrapping_sub(d[1]));
        if t > EPS && t < best.t && t < T_MAX {
            let p = add(o, scale(d, t));
            let parity = ((p[0] >> 16).wrapping_add(p[2] >> 16) & 1) as usize;
            best.t = t;
            best.normal = [0, ONE, 0];
            best.color = word3(w, 22 + 3 * parity);
            best.reflectivity = w[28];
        }
    }
    best
}

/// Whether a sphere lies on the unit ray `(o, l)` closer than `dist`.
pub(super) fn shadowed(w: &[i32; SCENE_WORDS], o: V3, l: V3, dist: i32) -> bool {
    for i in 0..sphere_count(w) {
        let at = HEADER_WORDS + i * SPHERE_WORDS;
        if hit_sphere(o, l, word3(w, at), w[at + 3]) < dist {
            return true;
        }
    }
    false
}

/// Direct light at `p` (unit normal `n`, diffuse `color`) seen along `d`: ambient, Lambert
/// with a hard shadow, and a white highlight.
fn shade(w: &[i32; SCENE_WORDS], p: V3, n: V3, color: V3, d: V3) -> V3 {
    let to_light = sub(word3(w, 12), p);
    let dist = length(to_light);
    let l = [
        div(to_light[0], dist),
        div(to_light[1], dist),
        div(to_light[2], dist),
    ];
    let ndl = dot(n, l);
    let mut diffuse = 0;
    let mut highlight = 0;
    if ndl > 0 && !shadowed(w, add(p, scale(n, OFFSET)), l, dist) {
        diffuse = ndl;
        let mut s = dot(reflect(d, n), l);
        if s > 0 {
            for _ in 0..5 {
                s = mul(s, s);
            }
            highlight = mul(s, SPECULAR);
        }
    }
    let ambient = w[15];
    let intensity = ambient.wrapping_add(mul(ONE.wrapping_sub(ambient), diffuse));
    add(scale(color, intensity), [highlight; 3])
}

/// The sky seen along the unit direction `d`.
fn sky(w: &[i32; SCENE_WORDS], d: V3) -> V3 {
    let t = d[1].clamp(0, ONE);
    let horizon = word3(w, 16);
    add(horizon, scale(sub(word3(w, 19), horizon), t))
}

/// The colour seen along the unit ray `(o, d)`, following mirror reflections.
fn trace(w: &[i32; SCENE_WORDS], mut o: V3, mut d: V3) -> V3 {
    let bounces = w[29].clamp(0, MAX_BOUNCES as i32);
    let mut acc = [0; 3];
    let mut throughput = ONE;
    for bounce in 0..=MAX_BOUNCES as i32 {
        let hit = nearest(w, o, d);
        if hit.t == NO_HIT {
            acc = add(acc, scale(sky(w, d), throughput));
            break;
        }
        let p = add(o, scale(d, hit.t));
        let local = shade(w, p, hit.normal, hit.color, d);
        let k = if bounce >= bounces {
            0
        } else {
            hit.reflectivity
        };
        acc = add(acc, scale(local, mul(throughput, ONE.wrapping_sub(k))));
        if k <= 0 {
            break;
        }
        throughput = mul(throughput, k);
        d = reflect(d, hit.normal);
        o = add(p, scale(hit.normal, OFFSET));
    }
    acc
}

fn channel(c: i32) -> u32 {
    ((c.clamp(0, ONE) * 255 + (1 << 15)) >> 16) as u32
}

/// The unit direction of the primary ray through pixel `(x, y)`.
pub(super) fn primary(w: &[i32; SCENE_WORDS], width: u32, height: u32, x: u32, y: u32) -> V3 {
    let (wi, hi) = (width as i32, height as i32);
    let u = ((2 * x as i32 + 1 - wi) << 16) / hi;
    let v = ((hi - 2 * y as i32 - 1) << 16) / hi;
    normalize(add(
        add(word3(w, 3), scale(word3(w, 6), u)),
        scale(word3(w, 9), v),
    ))
}

/// The RGBA8 word (`r | g << 8 | b << 16 | a << 24`) of pixel `(x, y)` of a
/// `width` × `height` image (`0 < width, height <= MAX_SIDE`).
pub(super) fn pixel(w: &[i32; SCENE_WORDS], width: u32, height: u32, x: u32, y: u32) -> u32 {
    let c = trace(w, word3(w, 0), primary(w, width, height, x, y));
    channel(c[0]) | channel(c[1]) << 8 | channel(c[2]) << 16 | 255 << 24
}
