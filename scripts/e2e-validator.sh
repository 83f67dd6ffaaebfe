#!/usr/bin/env bash
# The marketplace end to end on Agave's own `solana-test-validator` instead of the embedded
# Surfpool node. Not part of CI (the validator's first build takes ~25 min on 2 cores); one
# command:
#
#   scripts/e2e-validator.sh
#
# Builds (or reuses) solana-test-validator 4.2.2 from crates.io into
# $COMPUTE_MARKET_TOOLS/agave-4.2.2 (the newest version that builds from published crates:
# shared/TOOLCHAIN.md §4), starts it on free loopback ports with a fresh ledger, and runs there:
#   1. `compute-market demo --url`: the program deployed through the upgradeable BPF loader,
#      its IDL published, an airdropped payer, three daemons, both jobs, verified, paid;
#   2. the cross-crate end-to-end suite (`cargo test -p compute-market-e2e`, attached to the
#      validator through $COMPUTE_MARKET_E2E_RPC_URL; deadlines pass by waiting there);
#   3. `compute-market bench-pickup` (pickup latency in ms and slots, throughput);
# then, on a validator of its own that it kills and restarts from its ledger,
#   4. a provider daemon surviving the crash (provider-daemon's `validator` test).
# It prints how long each step took.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
AGAVE_VERSION=4.2.2
AGAVE_RUST=1.95.0
TOOLS=${COMPUTE_MARKET_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/compute-market}
AGAVE="$TOOLS/agave-$AGAVE_VERSION"
VALIDATOR="$AGAVE/bin/solana-test-validator"

log() { printf '[e2e-validator] %s\n' "$*" >&2; }
now() { date +%s; }
start=$(now)

# 1. The validator, built once.
if [ ! -x "$VALIDATOR" ]; then
    log "building solana-test-validator $AGAVE_VERSION (one-time, ~25 min on 2 cores)"
    if command -v apt-get >/dev/null && ! dpkg -s clang libclang-dev protobuf-compiler libudev-dev cmake >/dev/null 2>&1; then
        SUDO=""; if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends clang libclang-dev protobuf-compiler libudev-dev cmake >/dev/null
    fi
    rustup toolchain install "$AGAVE_RUST" --profile minimal >/dev/null
    CARGO_TARGET_DIR="$TOOLS/agave-target" cargo +"$AGAVE_RUST" install --locked agave-validator \
        --version "$AGAVE_VERSION" --bin solana-test-validator --root "$AGAVE"
fi
built=$(now)

# 2. The program, the CLI and the tests.
scripts/build-sbf.sh
cargo build -q --locked -p compute-market-cli -p compute-market-executor   # the CLI and the GPU worker
cargo test -q --locked -p compute-market-e2e --no-run
cargo test -q --locked -p provider-daemon --test validator --no-run
CM="$ROOT/target/debug/compute-market"
compiled=$(now)

# 3. A fresh validator on free ports.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d)
# The RPC port and the next one (the validator's websocket) both free.
RPC_PORT=$(python3 -c '
import socket
while True:
    a = socket.socket(); a.bind(("127.0.0.1", 0)); port = a.getsockname()[1]
    try:
        b = socket.socket(); b.bind(("127.0.0.1", port + 1)); print(port); break
    except OSError:
        pass
')
FAUCET_PORT=$(free_port)
GOSSIP_PORT=$(free_port)
# Validator ports (TPU, TVU, repair...) come from a range; pick one unlikely to be taken.
RANGE_START=$(( 20000 + RANDOM % 20000 ))
log "starting solana-test-validator on 127.0.0.1:$RPC_PORT (ledger $WORK/ledger)"
"$VALIDATOR" --ledger "$WORK/ledger" --reset --quiet \
    --bind-address 127.0.0.1 --rpc-port "$RPC_PORT" --faucet-port "$FAUCET_PORT" \
    --gossip-port "$GOSSIP_PORT" --dynamic-port-range "$RANGE_START-$(( RANGE_START + 100 ))" \
    > "$WORK/validator.log" 2>&1 &
VALIDATOR_PID=$!
cleanup() {
    kill "$VALIDATOR_PID" 2>/dev/null || true
    wait "$VALIDATOR_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
URL="http://127.0.0.1:$RPC_PORT"
for _ in $(seq 1 120); do
    if curl -s -X POST -H 'Content-Type: application/json' \
        -d '{"jsonrpc":"2.0","id":1,"method":"getHealth"}' "$URL" | grep -q '"ok"'; then
        break
    fi
    if ! kill -0 "$VALIDATOR_PID" 2>/dev/null; then
        log "the validator exited:"; tail -20 "$WORK/validator.log" >&2; exit 1
    fi
    sleep 0.5
done
up=$(now)

# 4. The demo on it: BPF-loader deploy, IDL, market, three daemons, every job, summary.
log "running compute-market --url $URL demo"
(cd "$WORK" && "$CM" --url "$URL" demo --out "$WORK/mandelbrot.png" --render-out "$WORK/render.png") | tee "$WORK/demo.log"
grep -q "output equals the CPU reference, byte for byte" "$WORK/demo.log"
grep -q "Completed · 3/3 replicas agreed (quorum 2)" "$WORK/demo.log"
demo_done=$(now)

# 5. The end-to-end suite on it (the demo deployed the program and published the IDL).
log "running the end-to-end suite against $URL"
COMPUTE_MARKET_E2E_RPC_URL="$URL" cargo test -q --locked -p compute-market-e2e
suite_done=$(now)

# 6. Pickup latency and throughput on it.
log "running bench-pickup against $URL"
"$CM" --url "$URL" bench-pickup --jobs 50 | tee "$WORK/bench.log"
bench_done=$(now)

# 7. A daemon surviving its validator's crash and restart (on a validator of its own).
kill "$VALIDATOR_PID" 2>/dev/null || true
wait "$VALIDATOR_PID" 2>/dev/null || true
log "running the validator-restart test"
COMPUTE_MARKET_VALIDATOR="$VALIDATOR" cargo test -q --locked -p provider-daemon --test validator -- --ignored
restart_done=$(now)

log "passed: validator build/reuse $(( built - start )) s, program/CLI/tests build $(( compiled - built )) s, validator start $(( up - compiled )) s, demo $(( demo_done - up )) s, end-to-end suite $(( suite_done - demo_done )) s, bench-pickup $(( bench_done - suite_done )) s, restart test $(( restart_done - bench_done )) s, total $(( restart_done - start )) s"
