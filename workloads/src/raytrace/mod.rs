//! A fixed-point, integer-only ray tracer, rendered in tiles.
//!
//! The scene ([`Scene`], [`Scene::default`] is the demo) is spheres — one of them a mirror — over
//! a checkered ground plane, lit by one point light with hard shadows, Lambert shading and a
//! specular highlight, following up to three mirror reflections per pixel. Every number is
//! signed 16.16 fixed point in an `i32` (WGSL has no `i64`): products from 16-bit halves,
//! quotients by long division, square roots digit by digit (see `fixed.rs`). The module has no
//! floating point at all, so it validates as [`DeterminismClass::Exact`] and every GPU renders
//! exactly the bytes of [`cpu_tile`].
//!
//! An image is cut into [`Tile`]s ([`tiles`] for horizontal bands, [`grid`] for a grid) so that
//! several providers can each render one: [`tile_job`] is a single-pass job whose output is
//! that tile's pixels, [`assemble`] puts the tiles back together and [`encode_png`] writes the
//! image.
//!
//! ## The job
//!
//! * shader: `shader.wgsl`, entry point `main`, `@workgroup_size(8, 8)`, one invocation per
//!   pixel of the tile, `ceil(tile_w / 8) × ceil(tile_h / 8)` workgroups;
//! * input: the scene, [`SCENE_WORDS`] little-endian `i32`s ([`Scene::words`]);
//! * params (32 bytes, little-endian `u32`s): `width, height, tile_x0, tile_y0, tile_w, tile_h,
//!   0, 0` — the whole image's size and the tile's rectangle within it;
//! * output: `tile_w × tile_h` pixels, row by row, RGBA8 (one `u32` per pixel:
//!   `r | g << 8 | b << 16 | 255 << 24`, so the bytes are R, G, B, A).
//!
//! [`DeterminismClass::Exact`]: compute_market_job::DeterminismClass::Exact

mod fixed;
mod scene;
mod trace;

#[cfg(test)]
mod tests;

use compute_market_job::{JobDescriptor, PARAMS_LEN};

pub use scene::{
    Camera, Rgb, Scene, Sphere, HEADER_WORDS, MAX_BOUNCES, MAX_SPHERES, SCENE_WORDS, SPHERE_WORDS,
};

/// The WGSL module of every tile job.
pub const SHADER: &str = include_str!("shader.wgsl");
/// The entry point of every tile job.
pub const ENTRY_POINT: &str = "main";
/// The shader's `@workgroup_size` (square).
pub const WORKGROUP_SIDE: u32 = 8;
/// Largest image side, in pixels (keeps the shader's pixel arithmetic within `i32`).
pub const MAX_SIDE: u32 = 4096;
/// Default image width, in pixels.
pub const DEFAULT_WIDTH: u32 = 256;
/// Default image height, in pixels.
pub const DEFAULT_HEIGHT: u32 = 192;
/// Bytes per pixel (RGBA8).
pub const BYTES_PER_PIXEL: usize = 4;

/// What went wrong building, checking or encoding an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image is empty or larger than [`MAX_SIDE`] on a side.
    #[error("image size {width}x{height} is not within 1..={MAX_SIDE} on each side")]
    ImageSize {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// The scene has more spheres than the shader reads.
    #[error("the scene has {count} spheres; at most {MAX_SPHERES}")]
    TooManySpheres {
        /// Spheres in the scene.
        count: usize,
    },
    /// A tile is empty or reaches outside the image.
    #[error("tile {tile:?} is empty or outside the {width}x{height} image")]
    TileOutOfBounds {
        /// The tile.
        tile: Tile,
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
    },
    /// The image cannot be cut into this many tiles.
    #[error("cannot cut a {width}x{height} image into {cols}x{rows} tiles")]
    TileCount {
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
        /// Tiles across.
        cols: u32,
        /// Tiles down.
        rows: u32,
    },
    /// A tile's pixel bytes are not `tile_w × tile_h × 4` long.
    #[error("tile {tile:?} has {len} bytes; expected {expected}")]
    TileBytes {
        /// The tile.
        tile: Tile,
        /// Bytes given.
        len: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// Two tiles cover the same pixel.
    #[error("pixel ({x}, {y}) is covered by more than one tile")]
    Overlap {
        /// Column.
        x: u32,
        /// Row.
        y: u32,
    },
    /// Some pixels are covered by no tile.
    #[error("{missing} pixels are covered by no tile")]
    Gap {
        /// Pixels missing.
        missing: usize,
    },
    /// The RGBA buffer is not `width × height × 4` bytes.
    #[error("{len} bytes of RGBA for a {width}x{height} image; expected {expected}")]
    ImageBytes {
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
        /// Bytes given.
        len: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// The PNG encoder failed.
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
}

/// An image to render: its size and scene.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderSpec {
    /// Width in pixels, `1..=MAX_SIDE`.
    pub width: u32,
    /// Height in pixels, `1..=MAX_SIDE`.
    pub height: u32,
    /// What to render.
    pub scene: Scene,
}

impl Default for RenderSpec {
    /// The demo scene at [`DEFAULT_WIDTH`] × [`DEFAULT_HEIGHT`].
    fn default() -> Self {
        Self::new(DEFAULT_WIDTH, DEFAULT_HEIGHT)
    }
}

impl RenderSpec {
    /// The demo scene at `width` × `height`.
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            scene: Scene::default(),
        }
    }

    /// The whole image as one tile.
    pub fn full(&self) -> Tile {
        Tile {
            x0: 0,
            y0: 0,
            width: self.width,
            height: self.height,
        }
    }

    fn check(&self) -> Result<(), Error> {
        if !(1..=MAX_SIDE).contains(&self.width) || !(1..=MAX_SIDE).contains(&self.height) {
            return Err(Error::ImageSize {
                width: self.width,
                height: self.height,
            });
        }
        if self.scene.spheres.len() > MAX_SPHERES {
            return Err(Error::TooManySpheres {
                count: self.scene.spheres.len(),
            });
        }
        Ok(())
    }

    fn check_tile(&self, tile: Tile) -> Result<(), Error> {
        let inside = |start: u32, len: u32, side: u32| {
            len > 0 && start.checked_add(len).is_some_and(|end| end <= side)
        };
        if inside(tile.x0, tile.width, self.width) && inside(tile.y0, tile.height, self.height) {
            Ok(())
        } else {
            Err(Error::TileOutOfBounds {
                tile,
                width: self.width,
                height: self.height,
            })
        }
    }
}

/// A rectangle of the image, in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tile {
    /// Left column.
    pub x0: u32,
    /// Top row.
    pub y0: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl Tile {
    /// Pixels in the tile.
    pub fn pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Bytes of the tile's RGBA8 pixels (the job's `output_len`).
    pub fn byte_len(&self) -> usize {
        self.pixels() * BYTES_PER_PIXEL
    }

    /// The job parameter block: `width, height, x0, y0, tile width, tile height, 0, 0`.
    pub fn params(&self, spec: &RenderSpec) -> [u8; PARAMS_LEN] {
        let words = [
            spec.width,
            spec.height,
            self.x0,
            self.y0,
            self.width,
            self.height,
        ];
        let mut params = [0u8; PARAMS_LEN];
        for (chunk, word) in params.as_chunks_mut::<4>().0.iter_mut().zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        params
    }
}

/// The image cut into `n` horizontal bands, top to bottom, as even as possible (the first
/// `height % n` bands one row taller). `n` must be in `1..=height`.
pub fn tiles(spec: &RenderSpec, n: u32) -> Result<Vec<Tile>, Error> {
    grid(spec, 1, n)
}

/// The image cut into `cols` × `rows` tiles, row by row, as even as possible. `cols` must be in
/// `1..=width` and `rows` in `1..=height`.
pub fn grid(spec: &RenderSpec, cols: u32, rows: u32) -> Result<Vec<Tile>, Error> {
    spec.check()?;
    if !(1..=spec.width).contains(&cols) || !(1..=spec.height).contains(&rows) {
        return Err(Error::TileCount {
            width: spec.width,
            height: spec.height,
            cols,
            rows,
        });
    }
    let split = |side: u32, n: u32| -> Vec<(u32, u32)> {
        let (base, extra) = (side / n, side % n);
        let mut start = 0;
        (0..n)
            .map(|i| {
                let len = base + u32::from(i < extra);
                start += len;
                (start - len, len)
            })
            .collect()
    };
    let columns = split(spec.width, cols);
    Ok(split(spec.height, rows)
        .into_iter()
        .flat_map(|(y0, height)| {
            columns.iter().map(move |&(x0, width)| Tile {
                x0,
                y0,
                width,
                height,
            })
        })
        .collect())
}

/// The job that renders `tile` of `spec`: one pass of [`SHADER`] over the tile, the scene as
/// input, the tile's pixels as output.
pub fn tile_job(spec: &RenderSpec, tile: Tile) -> Result<JobDescriptor, Error> {
    spec.check()?;
    spec.check_tile(tile)?;
    Ok(JobDescriptor {
        wgsl: SHADER.as_bytes().to_vec(),
        entry_point: ENTRY_POINT.into(),
        workgroups: [
            tile.width.div_ceil(WORKGROUP_SIDE),
            tile.height.div_ceil(WORKGROUP_SIDE),
            1,
        ],
        input: spec.scene.input_bytes(),
        output_len: tile.byte_len() as u64,
        params: tile.params(spec),
        ..Default::default()
    })
}

/// The exact bytes the GPU writes for `tile`: its RGBA8 pixels, row by row.
pub fn cpu_tile(spec: &RenderSpec, tile: Tile) -> Result<Vec<u8>, Error> {
    spec.check()?;
    spec.check_tile(tile)?;
    let words = spec.scene.words();
    let mut out = Vec::with_capacity(tile.byte_len());
    for y in tile.y0..tile.y0 + tile.height {
        for x in tile.x0..tile.x0 + tile.width {
            let rgba = trace::pixel(&words, spec.width, spec.height, x, y);
            out.extend_from_slice(&rgba.to_le_bytes());
        }
    }
    Ok(out)
}

/// The whole image (RGBA8, row by row) from rendered tiles, which must cover every pixel
/// exactly once.
pub fn assemble(spec: &RenderSpec, tiles: &[(Tile, Vec<u8>)]) -> Result<Vec<u8>, Error> {
    spec.check()?;
    let (w, h) = (spec.width as usize, spec.height as usize);
    let mut image = vec![0u8; w * h * BYTES_PER_PIXEL];
    let mut covered = vec![false; w * h];
    for (tile, bytes) in tiles {
        spec.check_tile(*tile)?;
        if bytes.len() != tile.byte_len() {
            return Err(Error::TileBytes {
                tile: *tile,
                len: bytes.len(),
                expected: tile.byte_len(),
            });
        }
        let row_bytes = tile.width as usize * BYTES_PER_PIXEL;
        for (r, row) in bytes.chunks_exact(row_bytes).enumerate() {
            let y = tile.y0 as usize + r;
            let first = y * w + tile.x0 as usize;
            if let Some(x) = covered[first..first + tile.width as usize]
                .iter()
                .position(|&c| c)
            {
                return Err(Error::Overlap {
                    x: tile.x0 + x as u32,
                    y: y as u32,
                });
            }
            covered[first..first + tile.width as usize].fill(true);
            image[first * BYTES_PER_PIXEL..first * BYTES_PER_PIXEL + row_bytes]
                .copy_from_slice(row);
        }
    }
    let missing = covered.iter().filter(|&&c| !c).count();
    if missing > 0 {
        return Err(Error::Gap { missing });
    }
    Ok(image)
}

/// A PNG (8-bit RGBA, default compression) of a `width` × `height` RGBA8 image. The same
/// pixels always give the same bytes.
pub fn encode_png(width: u32, height: u32, rgba: &[u8]) -> Result<Vec<u8>, Error> {
    let expected = width as usize * height as usize * BYTES_PER_PIXEL;
    if width == 0 || height == 0 || rgba.len() != expected {
        return Err(Error::ImageBytes {
            width,
            height,
            len: rgba.len(),
            expected,
        });
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgba)?;
    writer.finish()?;
    Ok(out)
}
