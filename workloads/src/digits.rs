//! Verifiable int8 inference: a small classifier of scikit-learn's 8×8 handwritten digits.
//!
//! The model and the data set are committed binaries written by `workloads/digits/train.py`
//! (scikit-learn's bundled `load_digits()`: 1,797 images of 64 pixels valued 0..=16, with
//! labels). The network is **64 → 32 → 16 → 10** with ReLU, trained in float on `pixels / 16`
//! (`MLPClassifier`, Adam, `alpha = 1e-3`, `random_state = 0`, on a stratified 75 % training
//! split) and quantised to integers:
//!
//! ```text
//! x0[i]     = pixel[i]                                  int8, 0..=16
//! acc[o]    = b[o] + Σ_i w[o][i] · x[i]                 w int8 (−127..=127), b and acc i32
//! hidden:     x'[o] = clamp((acc[o] · m + (1 << (s − 1))) >> s, 0, 127)
//! last:       logits[o] = acc[o]                        i32
//! class     = the lowest o with the largest logit
//! ```
//!
//! `m` and `s` (`1 ≤ s ≤ 31`) are the layer's multiplier and shift; `>>` is an arithmetic
//! shift, so the hidden-layer formula is `acc · m / 2^s` rounded half up, and the clamp is ReLU
//! plus int8 saturation. All arithmetic is i32 with WGSL's wrapping semantics (the training
//! script checks that the bundled model cannot overflow for any input of 0..=16). Weights use
//! one symmetric scale per layer; see the script for how scales, biases and multipliers were
//! chosen and for the exact file layouts ([`Model::parse`], [`Dataset::parse`]).
//!
//! ## Accuracy (scikit-learn 1.9.1, NumPy 2.4.6)
//!
//! | model               | all 1,797 images  | held-out test (450) | training (1,347) |
//! |---------------------|-------------------|---------------------|------------------|
//! | float (scikit-learn)| 99.33 % (1,785)   | 97.33 %             | 100.00 %         |
//! | int8 (this module)  | 99.28 % (1,784)   | 97.11 %             | 100.00 %         |
//!
//! The int8 and float models agree on 1,796 of 1,797 images. [`FLOAT_ACCURACY_ALL`] and
//! [`FLOAT_ACCURACY_TEST`] record the float figures for the tests.
//!
//! ## The job
//!
//! [`job`] builds an ABI v2 manifest with one pass per layer and an argmax pass (four
//! dispatches for the bundled model), each invocation one (image, 4 hidden neurons) or
//! (image, logit) or image:
//!
//! | binding | buffer                                                                      |
//! |---------|-----------------------------------------------------------------------------|
//! | 0       | input: per layer int8 weights `[out][in]` (4 per `u32`), i32 biases, and for hidden layers `m`, `s`; then the images, 64 int8 each (16 words) |
//! | 1       | output: `u32` class per image, then `i32` logits `[image][10]`               |
//! | 2       | params: `u32` image count                                                   |
//! | 4, 5    | scratch: packed int8 activations of the hidden layers (ping-pong)           |
//!
//! For the 1,797 bundled images: input 117,976 bytes (2,968 of model, 115,008 of images), output 79,068, scratch 57,504 and 28,752;
//! passes `layer0` [29, 8, 1], `layer1` [29, 4, 1], `logits` [29, 10, 1], `argmax` [29, 1, 1]
//! workgroups of 64 invocations. [`DotPath`] picks how the shader takes int8 dot products
//! (`dot4I8Packed` or shifts and multiplies); both give the same bytes, which are exactly
//! [`cpu_reference`]'s. (Checked once on lavapipe, Mesa 22.3.6, with a throwaway wgpu harness
//! running the four passes: both variants' 79,068 bytes equal the reference's.)
//!
//! ```
//! use compute_market_workloads::digits::{self, Dataset, DotPath, Model};
//!
//! let model = Model::bundled()?;
//! let data = Dataset::bundled()?;
//! let images = &data.images[..100];
//! let job = digits::job(&model, images, DotPath::Packed)?;
//! let expected = digits::cpu_reference(&model, images);
//! assert_eq!(job.output_len, expected.len() as u64);
//! let classes = digits::classes(&expected, images.len());
//! assert!(digits::accuracy(&classes, &data.labels[..100]) > 0.9);
//! # Ok::<(), digits::DigitsError>(())
//! ```

mod model;
mod shader;
#[cfg(test)]
mod tests;

pub use model::{
    accuracy, argmax, classes, cpu_reference, dot_i8, logits_of, requantise, Dataset, Image, Layer,
    Model, CLASSES, PIXELS,
};
pub use shader::{job, wgsl, DotPath, WORKGROUP_SIZE};

/// The bundled quantised model (`workloads/digits/model.bin`).
pub const MODEL_BIN: &[u8] = include_bytes!("../digits/model.bin");
/// The bundled data set (`workloads/digits/digits.bin`).
pub const DIGITS_BIN: &[u8] = include_bytes!("../digits/digits.bin");

/// Accuracy of the float model on all 1,797 images, as `train.py` printed it (a fraction).
pub const FLOAT_ACCURACY_ALL: f64 = 0.9933;
/// Accuracy of the float model on the held-out test split (450 images), as `train.py` printed it.
pub const FLOAT_ACCURACY_TEST: f64 = 0.9733;

/// Why a model, a data set or a batch was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DigitsError {
    /// The file ends before a field.
    #[error("{file}: truncated: {needed} bytes needed, {len} present")]
    Truncated {
        /// Which file.
        file: &'static str,
        /// Bytes needed to read the next field.
        needed: usize,
        /// The file's length.
        len: usize,
    },
    /// The file does not start with the expected magic.
    #[error("{file}: bad magic {found:?} (expected {expected:?})")]
    BadMagic {
        /// Which file.
        file: &'static str,
        /// The magic this module reads.
        expected: [u8; 4],
        /// The file's first four bytes.
        found: [u8; 4],
    },
    /// The file's version is not one this module reads.
    #[error("{file}: version {version} (this module reads version 1)")]
    UnsupportedVersion {
        /// Which file.
        file: &'static str,
        /// The file's version.
        version: u32,
    },
    /// The file is well-formed but describes something this module cannot run.
    #[error("{file}: {message}")]
    Invalid {
        /// Which file.
        file: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The file has bytes after its last field.
    #[error("{file}: {extra} bytes after the end")]
    TrailingBytes {
        /// Which file.
        file: &'static str,
        /// How many.
        extra: usize,
    },
    /// A job needs at least one image.
    #[error("a job needs at least one image")]
    EmptyBatch,
    /// More images than one dispatch can cover.
    #[error("{count} images; one job takes at most {max}")]
    TooManyImages {
        /// Images asked for.
        count: usize,
        /// The most one job takes.
        max: usize,
    },
}
