//! What a job computes, from local files: the arguments `job submit` and `job run` share, and
//! manifest files (job ABI v2) as a job author writes them.
//!
//! `--shader` is a WGSL file (one pass of `--entry-point` over `--workgroups`), or a manifest:
//! a JSON file (its first non-whitespace byte is `{`) listing the passes, in the canonical form
//! (`"wgsl"` holding the source) or with `"wgsl_path"` naming the WGSL file (relative to the
//! manifest's directory), e.g.
//!
//! ```json
//! { "wgsl_path": "heat.wgsl", "scratch": [40000],
//!   "passes": [ { "entry_point": "init", "workgroups": [13, 13, 1] },
//!               { "entry_point": "diffuse", "workgroups": [13, 13, 1], "repeat": 500 },
//!               { "entry_point": "finish", "workgroups": [13, 13, 1] } ] }
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use compute_market_job::{is_manifest, JobDescriptor, Manifest, MANIFEST_ABI};

/// The job's files and dispatch.
#[derive(Args, Clone, Debug)]
pub struct JobSource {
    /// WGSL shader file, or a manifest (JSON) of a multi-pass job.
    #[arg(long)]
    pub shader: PathBuf,
    /// Input file (bound at binding 0); none for an empty input.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Entry point (a WGSL shader; a manifest names its passes' own).
    #[arg(long, default_value = "main")]
    pub entry_point: String,
    /// Workgroup counts, X[,Y[,Z]] (a WGSL shader; a manifest names its passes' own).
    #[arg(long, default_value = "1")]
    pub workgroups: String,
    /// Output length in bytes.
    #[arg(long)]
    pub output_len: u64,
    /// Uniform parameters: up to 8 u32 values, comma-separated (e.g. 256,256,200).
    #[arg(long)]
    pub params: Option<String>,
}

impl JobSource {
    /// Reads the files into the job they describe (not yet validated).
    pub fn descriptor(&self) -> Result<JobDescriptor> {
        let shader = read_file("shader", &self.shader)?;
        let input = match &self.input {
            Some(path) => read_file("input", path)?,
            None => Vec::new(),
        };
        let params = match &self.params {
            Some(params) => parse_params(params)?,
            None => [0; 32],
        };
        if !is_manifest(&shader) {
            return Ok(JobDescriptor {
                wgsl: shader,
                entry_point: self.entry_point.clone(),
                workgroups: parse_workgroups(&self.workgroups)?,
                input,
                output_len: self.output_len,
                params,
                ..Default::default()
            });
        }
        if self.entry_point != "main" || self.workgroups != "1" {
            bail!(
                "{} is a manifest: its passes name their entry points and workgroups (drop \
                 --entry-point and --workgroups)",
                self.shader.display()
            );
        }
        let manifest = read_manifest(&self.shader, &shader)?;
        Ok(manifest.into_job(input, self.output_len, params))
    }
}

/// A manifest file, canonical or with `"wgsl_path"`.
pub fn read_manifest(path: &Path, bytes: &[u8]) -> Result<Manifest> {
    let what = || format!("manifest {}", path.display());
    let mut value: serde_json::Value = serde_json::from_slice(bytes).with_context(what)?;
    let Some(object) = value.as_object_mut() else {
        bail!("{}: expected a JSON object", what());
    };
    object
        .entry("abi")
        .or_insert_with(|| serde_json::Value::from(MANIFEST_ABI));
    if let Some(wgsl_path) = object.remove("wgsl_path") {
        if object.contains_key("wgsl") {
            bail!("{}: give \"wgsl\" or \"wgsl_path\", not both", what());
        }
        let Some(relative) = wgsl_path.as_str() else {
            bail!("{}: \"wgsl_path\" must be a string", what());
        };
        let full = path.parent().unwrap_or(Path::new(".")).join(relative);
        let source = std::fs::read_to_string(&full)
            .with_context(|| format!("{}: cannot read {}", what(), full.display()))?;
        object.insert("wgsl".into(), source.into());
    }
    let canonical = serde_json::to_vec(&value).with_context(what)?;
    Manifest::from_blob(&canonical).with_context(what)
}

pub fn read_file(what: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

pub fn parse_workgroups(s: &str) -> Result<[u32; 3]> {
    let parts: Vec<u32> = s
        .split(',')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!("--workgroups {s:?}: expected X[,Y[,Z]] with positive integers")
        })?;
    match parts.as_slice() {
        [x] => Ok([*x, 1, 1]),
        [x, y] => Ok([*x, *y, 1]),
        [x, y, z] => Ok([*x, *y, *z]),
        _ => bail!("--workgroups {s:?}: expected at most three numbers"),
    }
}

pub fn parse_params(s: &str) -> Result<[u8; 32]> {
    let values: Vec<u32> = s
        .split(',')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--params {s:?}: expected comma-separated u32 values"))?;
    if values.len() > 8 {
        bail!(
            "--params: at most 8 u32 values (32 bytes), got {}",
            values.len()
        );
    }
    let mut params = [0u8; 32];
    for (i, v) in values.iter().enumerate() {
        params[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
    }
    Ok(params)
}

/// `WIDTHxHEIGHT` of `--image`.
pub fn parse_dims(s: &str) -> Result<(u32, u32)> {
    s.split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .with_context(|| format!("--image {s:?}: expected WIDTHxHEIGHT"))
}

/// A PNG of an output of one `u32` per pixel: RGBA colours, or values in grayscale.
pub fn png(output: &[u8], dims: &str, rgba: bool) -> Result<Vec<u8>> {
    let (w, h) = parse_dims(dims)?;
    Ok(if rgba {
        compute_market_sdk::image::rgba_png(output, w, h)?
    } else {
        compute_market_sdk::image::u32_grayscale_png(output, w, h)?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_file_may_name_its_wgsl_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k.wgsl"), "// kernel\n").unwrap();
        let path = dir.path().join("job.json");
        let text = r#"{ "wgsl_path": "k.wgsl", "passes": [{ "entry_point": "a", "workgroups": [2, 1, 1], "repeat": 3 }] }"#;
        let m = read_manifest(&path, text.as_bytes()).unwrap();
        assert_eq!(m.wgsl, "// kernel\n");
        assert_eq!(m.passes[0].repeat, 3);
        let both = r#"{ "wgsl": "", "wgsl_path": "k.wgsl", "passes": [] }"#;
        assert!(read_manifest(&path, both.as_bytes()).is_err());
        let missing = r#"{ "wgsl_path": "nope.wgsl", "passes": [] }"#;
        let err = format!(
            "{:#}",
            read_manifest(&path, missing.as_bytes()).unwrap_err()
        );
        assert!(err.contains("nope.wgsl"), "{err}");
    }
}
