//! The model and data set files, and the exact integer pipeline the GPU must reproduce.

use super::{DigitsError, DIGITS_BIN, MODEL_BIN};

/// Pixels per image (8 × 8).
pub const PIXELS: usize = 64;
/// Classes (the digits 0–9).
pub const CLASSES: usize = 10;
/// One image: 64 pixels, row-major, each 0..=16, read as int8.
pub type Image = [i8; PIXELS];

const MODEL_MAGIC: [u8; 4] = *b"CMDM";
const DIGITS_MAGIC: [u8; 4] = *b"CMDD";
const MODEL_FILE: &str = "model.bin";
const DIGITS_FILE: &str = "digits.bin";
/// Largest layer width a model file may declare (keeps a bad file from asking for gigabytes).
const MAX_WIDTH: usize = 4096;
/// Most layers a model file may declare.
const MAX_LAYERS: usize = 16;

/// One dense layer: `acc = bias + weights · x` in i32, then (except in the last layer)
/// [`requantise`] with `multiplier` and `shift`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Input width (a multiple of 4).
    pub inputs: usize,
    /// Output width (a multiple of 4 in hidden layers; [`CLASSES`] in the last).
    pub outputs: usize,
    /// Requantisation multiplier `m` (0 in the last layer).
    pub multiplier: i32,
    /// Requantisation shift `s`, 1..=31 (0 in the last layer).
    pub shift: u32,
    /// Weights, `[outputs][inputs]` row-major.
    pub weights: Vec<i8>,
    /// Biases, one per output.
    pub bias: Vec<i32>,
}

impl Layer {
    /// The i32 accumulators of this layer for the activations `x` (WGSL's wrapping arithmetic).
    fn accumulate(&self, x: &[i8]) -> Vec<i32> {
        self.weights
            .chunks_exact(self.inputs)
            .zip(&self.bias)
            .map(|(row, &bias)| bias.wrapping_add(dot_i8(row, x)))
            .collect()
    }
}

/// A quantised multilayer perceptron read from a model file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    /// The layers, input first; every one but the last is followed by ReLU and requantisation.
    pub layers: Vec<Layer>,
}

/// A little-endian reader over a file that names the file in its errors.
struct Reader<'a> {
    file: &'static str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(file: &'static str, bytes: &'a [u8]) -> Self {
        Self { file, bytes, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DigitsError> {
        let end = self.at.saturating_add(n);
        let slice = self.bytes.get(self.at..end).ok_or(DigitsError::Truncated {
            file: self.file,
            needed: end,
            len: self.bytes.len(),
        })?;
        self.at = end;
        Ok(slice)
    }

    fn word(&mut self) -> Result<[u8; 4], DigitsError> {
        let mut word = [0; 4];
        word.copy_from_slice(self.take(4)?);
        Ok(word)
    }

    fn u32(&mut self) -> Result<u32, DigitsError> {
        self.word().map(u32::from_le_bytes)
    }

    fn i32(&mut self) -> Result<i32, DigitsError> {
        self.word().map(i32::from_le_bytes)
    }

    fn header(&mut self, magic: [u8; 4]) -> Result<(), DigitsError> {
        let found = self.word()?;
        if found != magic {
            return Err(DigitsError::BadMagic {
                file: self.file,
                expected: magic,
                found,
            });
        }
        match self.u32()? {
            1 => Ok(()),
            version => Err(DigitsError::UnsupportedVersion {
                file: self.file,
                version,
            }),
        }
    }

    fn finish(self) -> Result<(), DigitsError> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            extra => Err(DigitsError::TrailingBytes {
                file: self.file,
                extra,
            }),
        }
    }

    fn invalid(&self, message: String) -> DigitsError {
        DigitsError::Invalid {
            file: self.file,
            message,
        }
    }
}

fn i8s(bytes: &[u8]) -> Vec<i8> {
    bytes.iter().map(|&b| b as i8).collect()
}

impl Model {
    /// The bundled model (`workloads/digits/model.bin`, 64 → 32 → 16 → 10).
    pub fn bundled() -> Result<Self, DigitsError> {
        Self::parse(MODEL_BIN)
    }

    /// Parses a model file (little-endian): magic `CMDM`, `u32` version 1, `u32` layer count,
    /// then per layer `u32` inputs, `u32` outputs, `i32` multiplier, `u32` shift, `i8`
    /// weights `[outputs][inputs]` and `i32` biases `[outputs]`.
    ///
    /// The first layer must take [`PIXELS`] inputs and the last give [`CLASSES`] outputs with
    /// multiplier and shift 0; each layer takes the previous one's outputs; widths are multiples
    /// of 4 (except the last output) and hidden shifts are 1..=31.
    pub fn parse(bytes: &[u8]) -> Result<Self, DigitsError> {
        let mut r = Reader::new(MODEL_FILE, bytes);
        r.header(MODEL_MAGIC)?;
        let count = r.u32()? as usize;
        if !(1..=MAX_LAYERS).contains(&count) {
            return Err(r.invalid(format!("{count} layers; 1 to {MAX_LAYERS} supported")));
        }
        let mut layers: Vec<Layer> = Vec::with_capacity(count);
        for index in 0..count {
            let inputs = r.u32()? as usize;
            let outputs = r.u32()? as usize;
            let multiplier = r.i32()?;
            let shift = r.u32()?;
            let last = index + 1 == count;
            let expected_inputs = layers.last().map_or(PIXELS, |l| l.outputs);
            if inputs != expected_inputs {
                return Err(r.invalid(format!(
                    "layer {index} takes {inputs} inputs; {expected_inputs} expected"
                )));
            }
            let shape_ok = if last {
                outputs == CLASSES && multiplier == 0 && shift == 0
            } else {
                outputs.is_multiple_of(4)
                    && (4..=MAX_WIDTH).contains(&outputs)
                    && (1..=31).contains(&shift)
            };
            if !shape_ok {
                return Err(r.invalid(format!(
                    "layer {index}: {outputs} outputs, multiplier {multiplier}, shift {shift}: \
                     hidden layers need a multiple of 4 up to {MAX_WIDTH} outputs and a shift \
                     of 1 to 31, the last layer {CLASSES} outputs and multiplier and shift 0"
                )));
            }
            let weights = i8s(r.take(inputs * outputs)?);
            let bias = (0..outputs).map(|_| r.i32()).collect::<Result<_, _>>()?;
            layers.push(Layer {
                inputs,
                outputs,
                multiplier,
                shift,
                weights,
                bias,
            });
        }
        r.finish()?;
        Ok(Self { layers })
    }

    /// The i32 logits of one image.
    pub fn logits(&self, image: &Image) -> Vec<i32> {
        let Some((last, hidden)) = self.layers.split_last() else {
            return Vec::new();
        };
        let mut x: Vec<i8> = image.to_vec();
        for layer in hidden {
            x = layer
                .accumulate(&x)
                .into_iter()
                .map(|acc| requantise(acc, layer.multiplier, layer.shift) as i8)
                .collect();
        }
        last.accumulate(&x)
    }

    /// The predicted class of one image.
    pub fn classify(&self, image: &Image) -> u32 {
        argmax(&self.logits(image))
    }
}

/// The int8 dot product of two equally long slices, in i32 with wrapping addition (as WGSL).
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).fold(0i32, |sum, (&x, &y)| {
        sum.wrapping_add(i32::from(x) * i32::from(y))
    })
}

/// Hidden-layer requantisation: `clamp((acc · m + (1 << (s − 1))) >> s, 0, 127)`, with WGSL's
/// semantics (wrapping `·` and `+`, shift amounts taken mod 32, `>>` arithmetic). That is
/// `acc · m / 2^s` rounded half up, then ReLU and int8 saturation.
pub fn requantise(acc: i32, multiplier: i32, shift: u32) -> i32 {
    let rounding = 1i32.wrapping_shl(shift.wrapping_sub(1));
    acc.wrapping_mul(multiplier)
        .wrapping_add(rounding)
        .wrapping_shr(shift)
        .clamp(0, 127)
}

/// Index of the largest value; ties go to the lowest index (0 for an empty slice).
pub fn argmax(values: &[i32]) -> u32 {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// The exact output of [`super::job`] for `images`: the `u32` class of each image, then each
/// image's [`CLASSES`] `i32` logits, all little-endian.
pub fn cpu_reference(model: &Model, images: &[Image]) -> Vec<u8> {
    let logits: Vec<Vec<i32>> = images.iter().map(|image| model.logits(image)).collect();
    let mut out = Vec::with_capacity(images.len() * 4 * (1 + CLASSES));
    for l in &logits {
        out.extend_from_slice(&argmax(l).to_le_bytes());
    }
    for value in logits.iter().flatten() {
        out.extend_from_slice(&value.to_le_bytes());
    }
    out
}

/// The classes in an output of `count` images (its first `count` words).
pub fn classes(output: &[u8], count: usize) -> Vec<u32> {
    words(output).take(count).map(|w| w as u32).collect()
}

/// The logits of image `index` in an output of `count` images.
pub fn logits_of(output: &[u8], count: usize, index: usize) -> Vec<i32> {
    words(output)
        .skip(count + index * CLASSES)
        .take(CLASSES)
        .collect()
}

fn words(bytes: &[u8]) -> impl Iterator<Item = i32> + '_ {
    bytes
        .as_chunks::<4>()
        .0
        .iter()
        .map(|&c| i32::from_le_bytes(c))
}

/// Fraction of `predictions` equal to `labels` (0 when there are none).
pub fn accuracy(predictions: &[u32], labels: &[u8]) -> f64 {
    let n = predictions.len().min(labels.len());
    if n == 0 {
        return 0.0;
    }
    let right = predictions
        .iter()
        .zip(labels)
        .filter(|(&p, &l)| p == u32::from(l))
        .count();
    right as f64 / n as f64
}

/// Labelled images with the split `train.py` trained on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// The images.
    pub images: Vec<Image>,
    /// The digit each image shows (0..=9).
    pub labels: Vec<u8>,
    /// Whether each image is in the held-out test split (else the training split).
    pub test: Vec<bool>,
}

impl Dataset {
    /// The bundled data set: scikit-learn's 1,797 digits (`workloads/digits/digits.bin`).
    pub fn bundled() -> Result<Self, DigitsError> {
        Self::parse(DIGITS_BIN)
    }

    /// Parses a data set file (little-endian): magic `CMDD`, `u32` version 1, `u32` count `n`,
    /// `u32` pixels per image (64), `u8` pixels `[n][64]` (0..=16), `u8` labels `[n]` (0..=9),
    /// `u8` split `[n]` (0 training, 1 test).
    pub fn parse(bytes: &[u8]) -> Result<Self, DigitsError> {
        let mut r = Reader::new(DIGITS_FILE, bytes);
        r.header(DIGITS_MAGIC)?;
        let count = r.u32()? as usize;
        let pixels = r.u32()? as usize;
        if pixels != PIXELS {
            return Err(r.invalid(format!("{pixels} pixels per image; {PIXELS} expected")));
        }
        let raw = r.take(count.saturating_mul(PIXELS))?;
        if let Some(p) = raw.iter().find(|&&p| p > 16) {
            return Err(r.invalid(format!("pixel value {p}; 0 to 16 expected")));
        }
        let images = raw
            .as_chunks::<PIXELS>()
            .0
            .iter()
            .map(|c| c.map(|p| p as i8))
            .collect();
        let labels = r.take(count)?.to_vec();
        if let Some(l) = labels.iter().find(|&&l| usize::from(l) >= CLASSES) {
            return Err(r.invalid(format!("label {l}; 0 to 9 expected")));
        }
        let split = r.take(count)?;
        if let Some(s) = split.iter().find(|&&s| s > 1) {
            return Err(r.invalid(format!("split {s}; 0 or 1 expected")));
        }
        let test = split.iter().map(|&s| s == 1).collect();
        r.finish()?;
        Ok(Self {
            images,
            labels,
            test,
        })
    }
}
