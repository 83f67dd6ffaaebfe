#!/usr/bin/env bash
# Builds the on-chain program into a real SBF binary, target/deploy/compute_market.so, with
# upstream rustc and sbpf-linker: no Solana platform-tools needed (they cannot be downloaded on
# our CI machines). Installs what it needs on first use; later runs only rebuild what changed.
#
#   scripts/build-sbf.sh            # build (idempotent, ~5 s when nothing changed)
#
# What it uses (see shared/TOOLCHAIN.md §1 for the measurements behind each choice):
#   - a pinned nightly with rust-src (for -Zbuild-std),
#   - sbpf-linker 0.2.6, installed once into $TOOLS,
#   - a copy of the nightly's std sources patched for target_os = "solana" (scripts/sbf/),
#   - the target spec scripts/sbf/bpfel-solana.json (bpfel + os=solana),
#   - `cargo rustc --crate-type cdylib`: the .so is built as a cdylib alone, because a
#     cdylib+lib build miscompiles under this pipeline,
#   - `-bpf-stack-size=4096`: the SVM gives each call frame 4 KiB. With a larger value LLVM
#     lays out bigger frames that silently overrun the next one at run time (we saw
#     "Access violation writing 1 bytes at address 0x0" in every instruction with a large frame).
# People with Solana's own toolchain can still run `anchor build` instead.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NIGHTLY=nightly-2026-10-30
SBPF_LINKER_VERSION=0.2.6
TOOLS=${COMPUTE_MARKET_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/compute-market/sbf-tools}
SPEC="$ROOT/scripts/sbf/bpfel-solana.json"
PATCH="$ROOT/scripts/sbf/std-solana.patch"
TARGET_DIR="$ROOT/target/sbf"
OUT="$ROOT/target/deploy/compute_market.so"

log() { printf '[build-sbf] %s\n' "$*" >&2; }

# 1. The pinned nightly with rust-src.
if ! rustup run "$NIGHTLY" rustc --version >/dev/null 2>&1 \
    || [ ! -d "$(rustup run "$NIGHTLY" rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
    log "installing $NIGHTLY with rust-src"
    rustup toolchain install "$NIGHTLY" --profile minimal -c rust-src
fi
SYSROOT=$(rustup run "$NIGHTLY" rustc --print sysroot)

# 2. sbpf-linker (loads the nightly's own libLLVM at run time).
LINKER="$TOOLS/bin/sbpf-linker"
if [ ! -x "$LINKER" ] || ! grep -qx "$SBPF_LINKER_VERSION" "$TOOLS/sbpf-linker.version" 2>/dev/null; then
    log "installing sbpf-linker $SBPF_LINKER_VERSION into $TOOLS (one-time, a few minutes)"
    cargo +"$NIGHTLY" install sbpf-linker --version "$SBPF_LINKER_VERSION" --locked --root "$TOOLS"
    echo "$SBPF_LINKER_VERSION" > "$TOOLS/sbpf-linker.version"
fi

# 3. std sources patched for target_os = "solana", re-made whenever the patch or nightly changes.
STAMP=$( (sha256sum "$PATCH"; echo "$NIGHTLY") | sha256sum | cut -c1-16)
STD_SRC="$TOOLS/std-src-$STAMP"
if [ ! -f "$STD_SRC/.complete" ]; then
    log "preparing patched std sources in $STD_SRC"
    rm -rf "$STD_SRC"
    mkdir -p "$STD_SRC"
    cp -r "$SYSROOT/lib/rustlib/src/rust/library" "$STD_SRC/library"
    (cd "$STD_SRC" && patch -s -p0 < "$PATCH")
    touch "$STD_SRC/.complete"
    # Cargo does not notice edits to std sources: drop the cached std build.
    rm -rf "$TARGET_DIR/bpfel-solana/release/build/std-"* "$TARGET_DIR/bpfel-solana/release/deps/libstd-"*
fi

# 4. The program, as a cdylib alone.
log "building programs/compute-market for SBF"
cd "$ROOT"
RUSTFLAGS_TOML='["-C", "linker='"$LINKER"'", "-Z", "unstable-options", "-C", "panic=immediate-abort", "-C", "link-arg=--llvm-args=-bpf-stack-size=4096", "-C", "relocation-model=static", "-C", "passes=lower-atomic", "-A", "linker_messages"]'
# RUSTUP_TOOLCHAIN from an outer `cargo` would override the `+nightly` below.
env -u RUSTUP_TOOLCHAIN -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS \
    __CARGO_TESTS_ONLY_SRC_ROOT="$STD_SRC/library" \
    cargo +"$NIGHTLY" rustc \
    --package compute-market --lib --crate-type cdylib \
    --release --locked \
    --target "$SPEC" -Z build-std=std,panic_abort -Z json-target-spec \
    --target-dir "$TARGET_DIR" \
    --config "target.bpfel-solana.rustflags=$RUSTFLAGS_TOML" \
    "$@" 2> >(grep -v 'dlopen failed' >&2)

mkdir -p "$(dirname "$OUT")"
cp "$TARGET_DIR/bpfel-solana/release/libcompute_market.so" "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "wrote $OUT ($(stat -c %s "$OUT") bytes)"
