//! The scene as data: what the tracer renders, and its encoding as the job's input words.

use super::fixed::{self, from_f64, V3};

/// Most spheres a scene may hold (the shader's loop bound).
pub const MAX_SPHERES: usize = 8;
/// Most reflections followed per pixel.
pub const MAX_BOUNCES: u32 = 4;
/// Words of the scene header (before the spheres).
pub const HEADER_WORDS: usize = 32;
/// Words per sphere.
pub const SPHERE_WORDS: usize = 8;
/// Words of an encoded scene: the job's input is this many little-endian `i32`s.
pub const SCENE_WORDS: usize = HEADER_WORDS + MAX_SPHERES * SPHERE_WORDS;

/// An RGB colour, each channel in 16.16 (`fixed::ONE` is full intensity).
pub type Rgb = [i32; 3];

/// A sphere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sphere {
    /// Centre, 16.16 world units.
    pub center: V3,
    /// Radius, 16.16 (positive).
    pub radius: i32,
    /// Diffuse colour.
    pub color: Rgb,
    /// Share of light reflected like a mirror, 16.16 in `0..=ONE`.
    pub reflectivity: i32,
}

/// Where the camera is and where it looks; [`Scene::words`] turns it into an orthonormal basis
/// (computed once, in fixed point, so the scene data is all the shader needs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Camera {
    /// Eye position, 16.16.
    pub eye: V3,
    /// A point the camera looks at, 16.16.
    pub target: V3,
    /// Half the vertical field of view as a tangent, 16.16 (`ONE` is 90° in total).
    pub tan_half_fov: i32,
}

/// A scene: spheres over a checkered ground plane (`y = 0`, squares of one unit), lit by one
/// point light with hard shadows, under a sky gradient. Every number is 16.16 fixed point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scene {
    /// The camera.
    pub camera: Camera,
    /// The point light's position (above the plane).
    pub light: V3,
    /// Light every surface gets, shadowed or not, 16.16 in `0..=ONE`.
    pub ambient: i32,
    /// Sky colour at the horizon.
    pub sky_horizon: Rgb,
    /// Sky colour straight up.
    pub sky_zenith: Rgb,
    /// The plane's two checker colours.
    pub checker: [Rgb; 2],
    /// The plane's mirror share, 16.16.
    pub plane_reflectivity: i32,
    /// Reflections followed per pixel (at most [`MAX_BOUNCES`]).
    pub bounces: u32,
    /// The spheres (at most [`MAX_SPHERES`]).
    pub spheres: Vec<Sphere>,
}

fn rgb(r: f64, g: f64, b: f64) -> Rgb {
    [from_f64(r), from_f64(g), from_f64(b)]
}

fn v3(x: f64, y: f64, z: f64) -> V3 {
    [from_f64(x), from_f64(y), from_f64(z)]
}

impl Default for Scene {
    /// The fixed demo scene: a mirror sphere in the middle, red, blue, green and gold spheres
    /// around it, a grey checkerboard, a light up and to the left, three reflections.
    fn default() -> Self {
        let sphere = |c: V3, r: f64, color: Rgb, refl: f64| Sphere {
            center: c,
            radius: from_f64(r),
            color,
            reflectivity: from_f64(refl),
        };
        Self {
            camera: Camera {
                eye: v3(0.0, 1.7, -4.2),
                target: v3(0.0, 0.8, 2.5),
                tan_half_fov: from_f64(0.55),
            },
            light: v3(-4.0, 7.0, -2.5),
            ambient: from_f64(0.18),
            sky_horizon: rgb(0.85, 0.9, 1.0),
            sky_zenith: rgb(0.3, 0.5, 0.9),
            checker: [rgb(0.9, 0.9, 0.88), rgb(0.25, 0.27, 0.3)],
            plane_reflectivity: from_f64(0.12),
            bounces: 3,
            spheres: vec![
                sphere(v3(0.0, 1.0, 2.6), 1.0, rgb(0.95, 0.95, 0.95), 0.85),
                sphere(v3(-2.1, 0.7, 1.7), 0.7, rgb(0.9, 0.15, 0.12), 0.0),
                sphere(v3(2.0, 0.6, 1.4), 0.6, rgb(0.15, 0.3, 0.95), 0.1),
                sphere(v3(0.9, 0.35, 0.5), 0.35, rgb(0.2, 0.85, 0.25), 0.0),
                sphere(v3(-0.9, 1.5, 5.5), 1.5, rgb(0.95, 0.75, 0.2), 0.25),
            ],
        }
    }
}

impl Scene {
    /// The scene as the shader reads it (`input: array<i32, SCENE_WORDS>`):
    ///
    /// | words   | meaning                                                        |
    /// |---------|----------------------------------------------------------------|
    /// | 0..3    | eye                                                            |
    /// | 3..6    | forward (unit)                                                 |
    /// | 6..9    | right (unit × `tan_half_fov`)                                  |
    /// | 9..12   | up (unit × `tan_half_fov`)                                     |
    /// | 12..15  | light position                                                 |
    /// | 15      | ambient                                                        |
    /// | 16..22  | sky horizon, sky zenith                                        |
    /// | 22..28  | checker colours                                                |
    /// | 28      | plane reflectivity                                             |
    /// | 29      | bounces (clamped to [`MAX_BOUNCES`])                           |
    /// | 30      | sphere count (clamped to [`MAX_SPHERES`])                      |
    /// | 31      | reserved (0)                                                   |
    /// | 32 + 8i | sphere i: centre (3), radius, colour (3), reflectivity         |
    pub fn words(&self) -> [i32; SCENE_WORDS] {
        let mut w = [0i32; SCENE_WORDS];
        let cam = &self.camera;
        let forward = fixed::normalize(fixed::sub(cam.target, cam.eye));
        let right = fixed::normalize(fixed::cross([0, fixed::ONE, 0], forward));
        let up = fixed::cross(forward, right);
        let put = |w: &mut [i32; SCENE_WORDS], at: usize, v: &[i32]| {
            w[at..at + v.len()].copy_from_slice(v)
        };
        put(&mut w, 0, &cam.eye);
        put(&mut w, 3, &forward);
        put(&mut w, 6, &fixed::scale(right, cam.tan_half_fov));
        put(&mut w, 9, &fixed::scale(up, cam.tan_half_fov));
        put(&mut w, 12, &self.light);
        w[15] = self.ambient;
        put(&mut w, 16, &self.sky_horizon);
        put(&mut w, 19, &self.sky_zenith);
        put(&mut w, 22, &self.checker[0]);
        put(&mut w, 25, &self.checker[1]);
        w[28] = self.plane_reflectivity;
        w[29] = self.bounces.min(MAX_BOUNCES) as i32;
        let count = self.spheres.len().min(MAX_SPHERES);
        w[30] = count as i32;
        for (i, s) in self.spheres.iter().take(count).enumerate() {
            let at = HEADER_WORDS + i * SPHERE_WORDS;
            put(&mut w, at, &s.center);
            w[at + 3] = s.radius;
            put(&mut w, at + 4, &s.color);
            w[at + 7] = s.reflectivity;
        }
        w
    }

    /// [`Scene::words`] as the job's input bytes (little-endian).
    pub fn input_bytes(&self) -> Vec<u8> {
        self.words().iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}
