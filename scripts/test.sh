#!/usr/bin/env bash
# The project's single test command: builds the SBF program, then formatting, lints and every
# test of the workspace (program tests in LiteSVM against the .so, IDL freshness, GPU executor
# on the local wgpu adapter).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-sbf.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
