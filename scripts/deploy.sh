#!/usr/bin/env bash
# The operator's path in one go: deploy the program and its IDL, then create the market of a
# payment mint with parameters from a file (see migrations/README.md).
#
#   scripts/deploy.sh <CLUSTER> <KEYPAIR> <MINT> [PARAMS]
#   scripts/deploy.sh http://127.0.0.1:8899 ~/.config/solana/id.json <MINT>
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 3 ]; then
    sed -n '5,6p' "$0" | sed 's/^# *//' >&2
    exit 2
fi
CLUSTER=$1 KEYPAIR=$2 MINT=$3 PARAMS=${4:-migrations/market.example.toml}
scripts/build-sbf.sh
cargo build --release -q -p compute-market-cli
CM=target/release/compute-market
# Idempotent: what is already deployed and identical is left alone.
"$CM" --url "$CLUSTER" --keypair "$KEYPAIR" market deploy
# Fails, naming the program error, if the market of this mint exists already.
"$CM" --url "$CLUSTER" --keypair "$KEYPAIR" market init --params "$PARAMS" --mint "$MINT"
