use std::collections::HashSet;

use compute_market_job::{validate_job, Caps, DeterminismClass, Limits};

use super::fixed::{self, add, scale, sub, ONE};
use super::trace::{self, word3, NO_HIT, OFFSET};
use super::*;

/// Small enough to render many times in a debug build.
fn small() -> RenderSpec {
    RenderSpec::new(64, 48)
}

fn pixel_at(image: &[u8], width: u32, x: u32, y: u32) -> [u8; 4] {
    let at = (y * width + x) as usize * BYTES_PER_PIXEL;
    image[at..at + 4].try_into().unwrap()
}

fn luminance(p: [u8; 4]) -> u32 {
    u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])
}

#[test]
fn bands_and_grids_cover_the_image_exactly_once() {
    let spec = RenderSpec::new(37, 23);
    for (cols, rows) in [(1, 1), (1, 5), (1, 23), (3, 4), (37, 1), (5, 7)] {
        let tiles = grid(&spec, cols, rows).unwrap();
        assert_eq!(tiles.len(), (cols * rows) as usize);
        let mut hits = vec![0u8; 37 * 23];
        for t in &tiles {
            assert!(t.width > 0 && t.height > 0 && t.x0 + t.width <= 37 && t.y0 + t.height <= 23);
            for y in t.y0..t.y0 + t.height {
                for x in t.x0..t.x0 + t.width {
                    hits[(y * 37 + x) as usize] += 1;
                }
            }
        }
        assert!(hits.iter().all(|&h| h == 1), "{cols}x{rows}");
    }
    let bands = tiles(&spec, 5).unwrap();
    assert_eq!(
        bands.iter().map(|t| t.height).collect::<Vec<_>>(),
        [5, 5, 5, 4, 4]
    );
    assert!(bands.iter().all(|t| t.x0 == 0 && t.width == 37));
    for bad in [0, 24] {
        assert!(matches!(tiles(&spec, bad), Err(Error::TileCount { .. })));
    }
}

#[test]
fn assembled_cpu_tiles_equal_the_image_rendered_whole() {
    let spec = small();
    let whole = cpu_tile(&spec, spec.full()).unwrap();
    assert_eq!(whole.len(), 64 * 48 * 4);
    for split in [tiles(&spec, 5).unwrap(), grid(&spec, 3, 4).unwrap()] {
        let rendered: Vec<_> = split
            .iter()
            .map(|&t| (t, cpu_tile(&spec, t).unwrap()))
            .collect();
        assert_eq!(assemble(&spec, &rendered).unwrap(), whole);
    }
}

#[test]
fn assemble_refuses_gaps_overlaps_and_wrong_sizes() {
    let spec = RenderSpec::new(8, 4);
    let bands = tiles(&spec, 2).unwrap();
    let with = |t: Tile| (t, vec![0u8; t.byte_len()]);
    assert!(matches!(
        assemble(&spec, &[with(bands[0])]),
        Err(Error::Gap { missing: 16 })
    ));
    assert!(matches!(
        assemble(&spec, &[with(bands[0]), with(bands[0]), with(bands[1])]),
        Err(Error::Overlap { x: 0, y: 0 })
    ));
    assert!(matches!(
        assemble(&spec, &[with(bands[0]), (bands[1], vec![0; 4])]),
        Err(Error::TileBytes { .. })
    ));
    let outside = Tile {
        x0: 4,
        y0: 0,
        width: 5,
        height: 1,
    };
    assert!(matches!(
        assemble(&spec, &[with(outside)]),
        Err(Error::TileOutOfBounds { .. })
    ));
    assert!(matches!(
        tile_job(&spec, outside),
        Err(Error::TileOutOfBounds { .. })
    ));
    assert!(matches!(
        cpu_tile(
            &RenderSpec::new(0, 4),
            Tile {
                x0: 0,
                y0: 0,
                width: 1,
                height: 1
            }
        ),
        Err(Error::ImageSize { .. })
    ));
}

#[test]
fn tile_jobs_validate_as_exact() {
    let spec = RenderSpec::default();
    for tile in grid(&spec, 3, 2).unwrap().into_iter().chain([spec.full()]) {
        let job = tile_job(&spec, tile).unwrap();
        let info = validate_job(&job, &Limits::default(), &Caps::default()).unwrap();
        assert_eq!(info.determinism, DeterminismClass::Exact);
        assert_eq!(info.workgroup_size, [WORKGROUP_SIDE, WORKGROUP_SIDE, 1]);
        assert_eq!(job.output_len, tile.byte_len() as u64);
        assert_eq!(job.input.len(), SCENE_WORDS * 4);
        let [gx, gy, _] = job.workgroups;
        assert!(gx * WORKGROUP_SIDE >= tile.width && gy * WORKGROUP_SIDE >= tile.height);
        assert_eq!(job.dispatch_count(), 1);
    }
    let tile = Tile {
        x0: 3,
        y0: 4,
        width: 5,
        height: 6,
    };
    let params = tile.params(&spec);
    let words: Vec<u32> = params
        .as_chunks::<4>()
        .0
        .iter()
        .map(|&c| u32::from_le_bytes(c))
        .collect();
    assert_eq!(words, [256, 192, 3, 4, 5, 6, 0, 0]);
}

#[test]
fn the_png_decodes_to_the_same_pixels() {
    let spec = RenderSpec::new(40, 30);
    let rgba = cpu_tile(&spec, spec.full()).unwrap();
    let png_bytes = encode_png(40, 30, &rgba).unwrap();
    assert_eq!(
        encode_png(40, 30, &rgba).unwrap(),
        png_bytes,
        "deterministic"
    );
    let mut reader = png::Decoder::new(png_bytes.as_slice()).read_info().unwrap();
    let mut decoded = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut decoded).unwrap();
    assert_eq!((frame.width, frame.height), (40, 30));
    assert_eq!(frame.color_type, png::ColorType::Rgba);
    assert_eq!(&decoded[..frame.buffer_size()], rgba.as_slice());
    assert!(matches!(
        encode_png(40, 30, &rgba[4..]),
        Err(Error::ImageBytes { .. })
    ));
}

/// The default image, rendered once: shadows on the ground, reflections in the mirror sphere,
/// and many colours.
#[test]
fn the_default_image_has_shadows_reflections_and_many_colours() {
    let spec = RenderSpec::default();
    let image = cpu_tile(&spec, spec.full()).unwrap();
    let words = spec.scene.words();
    let eye = word3(&words, 0);
    let (mut shadowed, mut lit) = (Vec::new(), Vec::new());
    let mut mirror_colours = HashSet::new();
    let mut mirror_pixels = 0;
    for y in 0..spec.height {
        for x in 0..spec.width {
            let p = pixel_at(&image, spec.width, x, y);
            assert_eq!(p[3], 255);
            let d = trace::primary(&words, spec.width, spec.height, x, y);
            let hit = trace::nearest(&words, eye, d);
            if hit.t == NO_HIT {
                continue;
            }
            let at = add(eye, scale(d, hit.t));
            if hit.normal == [0, ONE, 0] && hit.color == spec.scene.checker[0] {
                let to_light = sub(spec.scene.light, at);
                let dist = fixed::length(to_light);
                let l = fixed::normalize(to_light);
                let from = add(at, scale(hit.normal, OFFSET));
                if trace::shadowed(&words, from, l, dist) {
                    shadowed.push(luminance(p));
                } else {
                    lit.push(luminance(p));
                }
            } else if hit.reflectivity == spec.scene.spheres[0].reflectivity
                && hit.color == spec.scene.spheres[0].color
            {
                mirror_pixels += 1;
                mirror_colours.insert(p);
            }
        }
    }
    let mean = |v: &[u32]| v.iter().sum::<u32>() / v.len().max(1) as u32;
    assert!(
        shadowed.len() > 200 && lit.len() > 2000,
        "{} {}",
        shadowed.len(),
        lit.len()
    );
    assert!(
        mean(&shadowed) * 2 < mean(&lit),
        "shadows {} vs lit {}",
        mean(&shadowed),
        mean(&lit)
    );
    assert!(mirror_pixels > 1000, "{mirror_pixels}");
    assert!(mirror_colours.len() > 300, "{}", mirror_colours.len());
    let colours: HashSet<[u8; 4]> = image.as_chunks::<4>().0.iter().copied().collect();
    assert!(colours.len() > 2000, "{}", colours.len());
}

#[test]
fn scenes_with_too_many_spheres_are_refused() {
    let mut spec = small();
    let one = spec.scene.spheres[0];
    spec.scene.spheres = vec![one; MAX_SPHERES + 1];
    assert!(matches!(
        tile_job(&spec, spec.full()),
        Err(Error::TooManySpheres { count: 9 })
    ));
}
