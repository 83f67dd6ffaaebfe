use compute_market_job::{validate_job, Caps, DeterminismClass, Limits, MAX_MANIFEST_LEN};

use super::*;

fn bundled() -> (Model, Dataset) {
    (Model::bundled().unwrap(), Dataset::bundled().unwrap())
}

fn predictions(model: &Model, images: &[Image]) -> Vec<u32> {
    classes(&cpu_reference(model, images), images.len())
}

#[test]
fn the_bundled_files_parse_into_the_documented_shapes() {
    let (model, data) = bundled();
    let shape: Vec<(usize, usize)> = model.layers.iter().map(|l| (l.inputs, l.outputs)).collect();
    assert_eq!(shape, [(64, 32), (32, 16), (16, 10)]);
    for layer in &model.layers {
        assert!(layer.weights.iter().all(|&w| w >= -127));
    }
    assert_eq!(data.images.len(), 1797);
    assert_eq!(data.labels.len(), 1797);
    assert_eq!(data.test.iter().filter(|&&t| t).count(), 450);
    assert!(data.images.iter().flatten().all(|&p| (0..=16).contains(&p)));
}

#[test]
fn int8_accuracy_is_within_three_points_of_the_float_model() {
    let (model, data) = bundled();
    let predicted = predictions(&model, &data.images);
    let all = accuracy(&predicted, &data.labels);
    let (test_pred, test_labels): (Vec<u32>, Vec<u8>) = predicted
        .iter()
        .zip(&data.labels)
        .zip(&data.test)
        .filter(|(_, &t)| t)
        .map(|((&p, &l), _)| (p, l))
        .unzip();
    let test = accuracy(&test_pred, &test_labels);
    assert!((all - FLOAT_ACCURACY_ALL).abs() <= 0.03, "all: {all}");
    assert!((test - FLOAT_ACCURACY_TEST).abs() <= 0.03, "test: {test}");
    // train.py computes the same integer pipeline in NumPy and printed exactly these counts,
    // so Rust and Python agree image for image on how many are right.
    let right = |p: &[u32], l: &[u8]| p.iter().zip(l).filter(|(&p, &l)| p == u32::from(l)).count();
    assert_eq!(right(&predicted, &data.labels), 1784);
    assert_eq!(right(&test_pred, &test_labels), 437);
}

#[test]
fn the_reference_output_is_classes_then_logits() {
    let (model, data) = bundled();
    let images = &data.images[..5];
    let out = cpu_reference(&model, images);
    assert_eq!(out.len(), 5 * 4 * (1 + CLASSES));
    for (i, image) in images.iter().enumerate() {
        let logits = model.logits(image);
        assert_eq!(logits_of(&out, 5, i), logits);
        assert_eq!(classes(&out, 5)[i], argmax(&logits));
        assert_eq!(classes(&out, 5)[i], model.classify(image));
    }
}

#[test]
fn requantisation_rounds_half_up_then_applies_relu_and_saturates() {
    // clamp((acc * m + 2^(s-1)) >> s, 0, 127), worked by hand:
    assert_eq!(requantise(100, 3, 3), 38); // 300 / 8 = 37.5 -> 38 (half up)
    assert_eq!(requantise(99, 3, 3), 37); // 297 / 8 = 37.125 -> 37
    assert_eq!(requantise(101, 3, 3), 38); // 303 / 8 = 37.875 -> 38
    assert_eq!(requantise(253, 1, 1), 127); // 126.5 -> 127
    assert_eq!(requantise(255, 1, 1), 127); // 127.5 -> 128, saturated to 127
    assert_eq!(requantise(-4, 1, 3), 0); // -0.5 -> 0 (half up, not away from zero)
    assert_eq!(requantise(-5, 3, 3), 0); // -15 / 8 -> -2, ReLU -> 0
    assert_eq!(requantise(1 << 20, 42_776, 22), 127); // large: saturates
    assert_eq!(requantise(1000, 42_776, 22), 10); // 42,776,000 / 4,194,304 = 10.198 -> 10
    assert_eq!(argmax(&[3, 7, 7, -1]), 1, "ties go to the lowest index");
}

/// `dot4I8Packed` as WGSL defines it: the four bytes of each word as signed int8, multiplied
/// pairwise and summed.
fn dot4_packed(a: u32, b: u32) -> i32 {
    let (a, b) = (a.to_le_bytes(), b.to_le_bytes());
    (0..4)
        .map(|k| i32::from(a[k] as i8) * i32::from(b[k] as i8))
        .sum()
}

/// The portable shader's `dot4`, operation for operation (`bitcast<i32>(w << (24 - 8k)) >> 24`).
fn dot4_portable(a: u32, b: u32) -> i32 {
    let byte = |w: u32, k: u32| ((w << (24 - 8 * k)) as i32) >> 24;
    (0..4)
        .map(|k| byte(a, k).wrapping_mul(byte(b, k)))
        .fold(0, i32::wrapping_add)
}

#[test]
fn packed_and_portable_dot_products_agree_on_edge_values() {
    let edges = [-128i8, -127, -1, 0, 1, 127];
    let words: Vec<u32> = (0..edges.len().pow(4))
        .map(|mut n| {
            let mut bytes = [0u8; 4];
            for byte in &mut bytes {
                *byte = edges[n % edges.len()] as u8;
                n /= edges.len();
            }
            u32::from_le_bytes(bytes)
        })
        .collect();
    for &a in &words {
        for &b in &words {
            let slice = |w: u32| w.to_le_bytes().map(|x| x as i8);
            let expected = dot_i8(&slice(a), &slice(b));
            assert_eq!(dot4_packed(a, b), expected, "{a:#010x} . {b:#010x}");
            assert_eq!(dot4_portable(a, b), expected, "{a:#010x} . {b:#010x}");
        }
    }
    assert_eq!(dot4_portable(0x8080_8080, 0x8080_8080), 4 * 128 * 128);
    assert_eq!(dot4_portable(0x7f7f_7f7f, 0x8080_8080), -4 * 127 * 128);
}

#[test]
fn both_shader_variants_validate_as_exact_within_default_limits() {
    let (model, data) = bundled();
    for dot in [DotPath::Packed, DotPath::Portable] {
        let job = job(&model, &data.images, dot).unwrap();
        let info = validate_job(&job, &Limits::default(), &Caps::default())
            .unwrap_or_else(|e| panic!("{dot:?}: {e}\n{}", String::from_utf8_lossy(&job.wgsl)));
        assert_eq!(info.determinism, DeterminismClass::Exact, "{dot:?}");
        assert_eq!(info.workgroup_size, [WORKGROUP_SIZE, 1, 1]);
        assert_eq!(
            job.dispatch_count(),
            4,
            "one pass per layer and an argmax pass"
        );
        let passes: Vec<(&str, [u32; 3])> = job
            .passes
            .iter()
            .map(|p| (p.entry_point.as_str(), p.workgroups))
            .collect();
        assert_eq!(
            passes,
            [
                ("layer0", [29, 8, 1]),
                ("layer1", [29, 4, 1]),
                ("logits", [29, 10, 1]),
                ("argmax", [29, 1, 1])
            ]
        );
        // The sizes the module documentation gives.
        assert_eq!(job.input.len(), 117_976);
        assert_eq!(job.output_len, 79_068);
        assert_eq!(job.scratch, [57_504, 28_752]);
        assert_eq!(
            job.output_len,
            cpu_reference(&model, &data.images).len() as u64
        );
        assert!(job.shader_blob().len() < MAX_MANIFEST_LEN);
        assert_eq!(&job.params[..4], &1797u32.to_le_bytes());
    }
}

#[test]
fn the_variants_differ_only_in_the_dot_product() {
    let (model, _) = bundled();
    let packed = wgsl(&model, DotPath::Packed);
    let portable = wgsl(&model, DotPath::Portable);
    assert!(packed.contains("dot4I8Packed(") && !portable.contains("dot4I8Packed("));
    let body = |s: &str| s[s.find("@compute").unwrap()..].to_owned();
    assert_eq!(body(&packed), body(&portable));
}

#[test]
fn a_single_image_job_validates() {
    let (model, data) = bundled();
    let job = job(&model, &data.images[..1], DotPath::Portable).unwrap();
    validate_job(&job, &Limits::default(), &Caps::default()).unwrap();
    assert_eq!(job.output_len, 44);
    assert_eq!(job.scratch, [32, 16]);
}

#[test]
fn empty_batches_are_refused() {
    let (model, _) = bundled();
    assert_eq!(
        job(&model, &[], DotPath::Packed).unwrap_err(),
        DigitsError::EmptyBatch
    );
}

#[test]
fn malformed_files_are_refused_with_a_reason() {
    let mut bad_magic = MODEL_BIN.to_vec();
    bad_magic[0] = b'X';
    assert!(matches!(
        Model::parse(&bad_magic),
        Err(DigitsError::BadMagic { .. })
    ));
    let mut version = MODEL_BIN.to_vec();
    version[4] = 2;
    assert_eq!(
        Model::parse(&version).unwrap_err(),
        DigitsError::UnsupportedVersion {
            file: "model.bin",
            version: 2
        }
    );
    assert!(matches!(
        Model::parse(&MODEL_BIN[..MODEL_BIN.len() - 1]),
        Err(DigitsError::Truncated { .. })
    ));
    let mut trailing = DIGITS_BIN.to_vec();
    trailing.push(0);
    assert_eq!(
        Dataset::parse(&trailing).unwrap_err(),
        DigitsError::TrailingBytes {
            file: "digits.bin",
            extra: 1
        }
    );
    let mut pixel = DIGITS_BIN.to_vec();
    pixel[16] = 17;
    let err = Dataset::parse(&pixel).unwrap_err().to_string();
    assert!(err.contains("pixel value 17"), "{err}");
    let mut shift = MODEL_BIN.to_vec();
    shift[24..28].copy_from_slice(&32u32.to_le_bytes()); // layer 0's shift
    let err = Model::parse(&shift).unwrap_err().to_string();
    assert!(err.contains("shift 32"), "{err}");
}
