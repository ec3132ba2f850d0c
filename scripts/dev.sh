#!/usr/bin/env bash
# The newcomer's entry point (README, first lines) and CI's test command.
#   bash scripts/dev.sh demo   install what is needed, then run the main job
#   bash scripts/dev.sh test   install what is needed, then run the whole test suite
#   bash scripts/dev.sh setup  only install
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the workspace builds against: bindgen (clang) and FFmpeg for
# gpu-encode, the ffmpeg CLI that its tests use to generate clips, fonts for plots.
APT_PACKAGES=(
  build-essential pkg-config clang libclang-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavfilter-dev ffmpeg
  libfontconfig1-dev fonts-dejavu-core
  python3-pip
)

# The Ethereum client libraries of the node's web3 test (crates/node/tests/eth_client.rs),
# pinned, under the cache directory (not the system's Python). If they cannot be
# installed (no network), that one test says so and skips; the rest runs.
eth_client_setup() {
  local dir="$HOME/.cache/meshcast/pyeth"
  local check=(python3 -c "import web3, eth_account")
  if ! PYTHONPATH="$dir" "${check[@]}" 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check --no-warn-conflicts \
      --target "$dir" eth-account==0.14.0 web3==7.6.0 >/dev/null 2>&1 || true
  fi
  if PYTHONPATH="$dir" "${check[@]}" 2>/dev/null; then
    export MESHCAST_PYETH="$dir" MESHCAST_REQUIRE_ETH_CLIENT=1
  else
    echo "note: web3 / eth-account not installed: the web3 client test will skip" >&2
  fi
}

setup() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    [ -f "$HOME/.cargo/env" ] || curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
  fi
}

case "${1:-}" in
  setup) setup ;;
  demo)
    setup
    shift
    # A local network: every validator and guardian a `meshcast run` process on
    # loopback (libp2p, its own redb store); blocks settle and finalize, signed transfers
    # move TFUEL; live progress, then a summary (`--json`: one JSON line).
    cargo run --release --locked -p meshcast-node --bin meshcast -- localnet "$@"
    ;;
  test)
    setup
    eth_client_setup
    cargo test --workspace --locked
    ;;
  *)
    echo "usage: bash scripts/dev.sh demo|test|setup" >&2
    exit 2
    ;;
esac
