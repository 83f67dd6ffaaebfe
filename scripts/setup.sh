#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian/Ubuntu machine: the pinned host Rust
# toolchain, the Vulkan loader and Mesa's software Vulkan driver (lavapipe) so wgpu has an
# adapter even without a GPU. The SBF toolchain installs itself on the first scripts/build-sbf.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if command -v apt-get >/dev/null; then
    if ! dpkg -s mesa-vulkan-drivers libvulkan1 >/dev/null 2>&1; then
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers libvulkan1 >/dev/null
    fi
else
    echo "setup: not a Debian-like system; install a Vulkan driver (or Metal/DX12 on macOS/Windows) yourself" >&2
fi

TOOLCHAIN=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
rustup toolchain install "$TOOLCHAIN" --profile minimal -c clippy,rustfmt
echo "setup: done (host toolchain $TOOLCHAIN)"
