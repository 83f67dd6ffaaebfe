//! The inference job: its input layout, its WGSL (one template, two dot-product paths) and its
//! manifest of one pass per layer plus an argmax pass.

use compute_market_job::{JobDescriptor, Manifest, Pass, MAX_WORKGROUPS_PER_DIMENSION, PARAMS_LEN};

use super::model::{Image, Model, CLASSES, PIXELS};
use super::DigitsError;

/// Invocations per workgroup (along x, one image each).
pub const WORKGROUP_SIZE: u32 = 64;

/// How the shader takes the dot product of two words of four packed int8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DotPath {
    /// WGSL's `dot4I8Packed` builtin (native on recent GPUs; naga polyfills it elsewhere).
    Packed,
    /// Sign-extension by shifts and four `i32` multiplies: runs everywhere.
    Portable,
}

const HEADER: &str = r#"// Int8 inference of a quantised MLP over 8x8 digits (compute-market-workloads `digits`),
// dot path: {dot}.
// Input words: per layer the int8 weights [out][in], 4 per u32 (byte k of word j is element
// 4j + k), the i32 biases and, for hidden layers, the multiplier and the shift; then the
// images, 64 int8 (16 words) each. Output: the u32 class of each image, then the i32 logits
// [image][10]. Scratch: packed int8 activations of the hidden layers.

struct Params { images: u32 }

@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;
{scratch}
// Hidden-layer requantisation (multiplier at input[q], shift at input[q + 1]): acc * m / 2^s
// rounded half up, then ReLU and int8 saturation. i32 arithmetic wraps, as the CPU reference's.
fn requantise(acc: i32, q: u32) -> u32 {
    let m = bitcast<i32>(input[q]);
    let s = input[q + 1u];
    return u32(clamp((acc * m + (1i << (s - 1u))) >> s, 0i, 127i));
}
"#;

const DOT_PACKED: &str = r#"
// The dot product of two words of four packed int8.
fn dot4(a: u32, b: u32) -> i32 {
    return dot4I8Packed(a, b);
}
"#;

const DOT_PORTABLE: &str = r#"
// Byte k of a word, sign-extended: shift it to the top, then arithmetic-shift it back down.
fn byte_i8(w: u32, k: u32) -> i32 {
    return bitcast<i32>(w << (24u - 8u * k)) >> 24u;
}

// The dot product of two words of four packed int8.
fn dot4(a: u32, b: u32) -> i32 {
    return byte_i8(a, 0u) * byte_i8(b, 0u) + byte_i8(a, 1u) * byte_i8(b, 1u)
        + byte_i8(a, 2u) * byte_i8(b, 2u) + byte_i8(a, 3u) * byte_i8(b, 3u);
}
"#;

const HIDDEN: &str = r#"
// Layer {index}: {inputs} -> {outputs}, ReLU. Invocation (image, y) computes neurons 4y..4y+3.
@compute @workgroup_size(64)
fn {entry}(@builtin(global_invocation_id) id: vec3<u32>) {
    let image = id.x;
    if image >= params.images { return; }
    let src = {src_base}u + image * {in_words}u;
    var packed = 0u;
    for (var k = 0u; k < 4u; k += 1u) {
        let o = id.y * 4u + k;
        let row = {w}u + o * {in_words}u;
        var acc = bitcast<i32>(input[{b}u + o]);
        for (var j = 0u; j < {in_words}u; j += 1u) {
            acc += dot4(input[row + j], {src}[src + j]);
        }
        packed |= requantise(acc, {q}u) << (8u * k);
    }
    {dst}[image * {out_words}u + id.y] = packed;
}
"#;

const LOGITS: &str = r#"
// Layer {index}, the last: {inputs} -> 10 logits. Invocation (image, y) computes logit y.
@compute @workgroup_size(64)
fn logits(@builtin(global_invocation_id) id: vec3<u32>) {
    let image = id.x;
    if image >= params.images { return; }
    let src = {src_base}u + image * {in_words}u;
    let row = {w}u + id.y * {in_words}u;
    var acc = bitcast<i32>(input[{b}u + id.y]);
    for (var j = 0u; j < {in_words}u; j += 1u) {
        acc += dot4(input[row + j], {src}[src + j]);
    }
    output[params.images + image * 10u + id.y] = bitcast<u32>(acc);
}
"#;

const ARGMAX: &str = r#"
// The class of each image: the lowest index of its largest logit.
@compute @workgroup_size(64)
fn argmax(@builtin(global_invocation_id) id: vec3<u32>) {
    let image = id.x;
    if image >= params.images { return; }
    let base = params.images + image * 10u;
    var best = 0u;
    var top = bitcast<i32>(output[base]);
    for (var c = 1u; c < 10u; c += 1u) {
        let v = bitcast<i32>(output[base + c]);
        if v > top {
            top = v;
            best = c;
        }
    }
    output[image] = best;
}
"#;

/// Where a layer's parameters sit in the input, in words.
struct LayerAt {
    weights: usize,
    bias: usize,
    /// Multiplier and shift (hidden layers only).
    requant: Option<usize>,
}

/// The model section of the input (the words before the images) and where each layer is.
fn model_words(model: &Model) -> (Vec<u8>, Vec<LayerAt>) {
    let mut bytes = Vec::new();
    let mut at = Vec::with_capacity(model.layers.len());
    let last = model.layers.len().saturating_sub(1);
    for (index, layer) in model.layers.iter().enumerate() {
        let weights = bytes.len() / 4;
        bytes.extend(layer.weights.iter().map(|&w| w as u8));
        let bias = bytes.len() / 4;
        for b in &layer.bias {
            bytes.extend_from_slice(&b.to_le_bytes());
        }
        let requant = (index != last).then(|| {
            let q = bytes.len() / 4;
            bytes.extend_from_slice(&layer.multiplier.to_le_bytes());
            bytes.extend_from_slice(&layer.shift.to_le_bytes());
            q
        });
        at.push(LayerAt {
            weights,
            bias,
            requant,
        });
    }
    (bytes, at)
}

/// Name of the scratch buffer hidden layer `index` writes (they alternate).
fn act(index: usize) -> String {
    format!("act{}", index % 2)
}

fn fill(template: &str, pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .fold(template.to_owned(), |text, (key, value)| {
            text.replace(&format!("{{{key}}}"), value)
        })
}

/// The WGSL module of the job for `model` (it depends on the model's shape only through word
/// offsets and widths, not on its weights or the batch).
pub fn wgsl(model: &Model, dot: DotPath) -> String {
    let (model_bytes, at) = model_words(model);
    let images_at = model_bytes.len() / 4;
    let hidden = model.layers.len().saturating_sub(1);
    let scratch: String = (0..hidden.min(2))
        .map(|i| {
            format!(
                "@group(0) @binding({}) var<storage, read_write> act{i}: array<u32>;\n",
                compute_market_job::BINDING_SCRATCH as usize + i
            )
        })
        .collect();
    let dot_name = match dot {
        DotPath::Packed => "packed (dot4I8Packed)",
        DotPath::Portable => "portable (shifts and multiplies)",
    };
    let mut text = fill(HEADER, &[("dot", dot_name.into()), ("scratch", scratch)]);
    text.push_str(match dot {
        DotPath::Packed => DOT_PACKED,
        DotPath::Portable => DOT_PORTABLE,
    });
    for (index, (layer, at)) in model.layers.iter().zip(&at).enumerate() {
        let (src, src_base) = if index == 0 {
            ("input".to_owned(), images_at)
        } else {
            (act(index - 1), 0)
        };
        let mut pairs = vec![
            ("index", index.to_string()),
            ("inputs", layer.inputs.to_string()),
            ("outputs", layer.outputs.to_string()),
            ("entry", format!("layer{index}")),
            ("src", src),
            ("src_base", src_base.to_string()),
            ("in_words", (layer.inputs / 4).to_string()),
            ("out_words", (layer.outputs / 4).to_string()),
            ("w", at.weights.to_string()),
            ("b", at.bias.to_string()),
            ("dst", act(index)),
        ];
        match at.requant {
            Some(q) => {
                pairs.push(("q", q.to_string()));
                text.push_str(&fill(HIDDEN, &pairs));
            }
            None => text.push_str(&fill(LOGITS, &pairs)),
        }
    }
    text.push_str(ARGMAX);
    text
}

/// The inference job over `images`: one pass per layer, then an argmax pass. Its output is
/// exactly [`super::cpu_reference`]`(model, images)`.
pub fn job(model: &Model, images: &[Image], dot: DotPath) -> Result<JobDescriptor, DigitsError> {
    const MAX_IMAGES: usize = MAX_WORKGROUPS_PER_DIMENSION as usize * WORKGROUP_SIZE as usize;
    if images.is_empty() {
        return Err(DigitsError::EmptyBatch);
    }
    if images.len() > MAX_IMAGES {
        return Err(DigitsError::TooManyImages {
            count: images.len(),
            max: MAX_IMAGES,
        });
    }
    let count = images.len();
    // Both bounds above keep these in u32.
    let groups = count.div_ceil(WORKGROUP_SIZE as usize) as u32;
    let (mut input, _) = model_words(model);
    input.reserve(count * PIXELS);
    for image in images {
        input.extend(image.iter().map(|&p| p as u8));
    }

    let hidden = model.layers.len().saturating_sub(1);
    let mut scratch = vec![0u64; hidden.min(2)];
    let mut passes = Vec::with_capacity(model.layers.len() + 1);
    for (index, layer) in model.layers.iter().enumerate() {
        if index < hidden {
            let bytes = (count * layer.outputs) as u64;
            scratch[index % 2] = scratch[index % 2].max(bytes);
            passes.push(Pass::new(
                format!("layer{index}"),
                [groups, (layer.outputs / 4) as u32, 1],
            ));
        } else {
            passes.push(Pass::new("logits", [groups, CLASSES as u32, 1]));
        }
    }
    passes.push(Pass::new("argmax", [groups, 1, 1]));

    let mut params = [0u8; PARAMS_LEN];
    params[..4].copy_from_slice(&(count as u32).to_le_bytes());
    let output_len = (count * 4 * (1 + CLASSES)) as u64;
    Ok(Manifest::new(wgsl(model, dot), scratch, passes).into_job(input, output_len, params))
}
