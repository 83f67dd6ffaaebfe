//! # Compute Market workloads
//!
//! Multi-pass jobs (job ABI v2, see `compute_market_job::Manifest`) that do real work, each with
//! an exact CPU reference in Rust: because every operation is integer, any conforming GPU gives
//! the same bytes as the reference, so replicas agree bit for bit and a quorum verifies them.
//!
//! * [`digits`] — int8 inference of a small classifier trained on scikit-learn's 8×8 digits.
//! * [`raytrace`] — a fixed-point (integer-only) ray tracer, rendered in tiles.
//! * [`sim`] — integer heat diffusion: one pass repeated hundreds of times over scratch buffers.
//!
//! The GPU side of each (the provider's real executor, worker processes and wgpu) is tested in
//! `executor/tests/manifest.rs`.

#![warn(missing_docs)]

pub mod digits;
pub mod raytrace;
pub mod sim;
