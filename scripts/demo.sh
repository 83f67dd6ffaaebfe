#!/usr/bin/env bash
# The README's "run it" command: builds the SBF program if needed, then runs the whole
# marketplace on this machine (local node, three provider daemons on the local GPU adapter,
# an exact 3-replica job, a Mandelbrot image job, the int8 digits classifier with 3 replicas and
# a ray-traced image split across the 3 daemons) and prints a summary.
#   scripts/demo.sh [--out mandelbrot.png] [--render-out render.png]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-sbf.sh
# The GPU worker program the demo's daemons start (found next to the `compute-market` binary).
cargo build --locked -p compute-market-executor --bin compute-market-worker
exec cargo run --locked -p compute-market-cli -- demo "$@"
