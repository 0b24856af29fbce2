#!/usr/bin/env bash
# Installs what cld needs on a fresh machine: npm dependencies, and — when Dawn finds no
# GPU adapter — Mesa's lavapipe (software Vulkan) from Debian's bookworm-backports, since
# Debian 12's own Mesa 22.3 is rejected by Dawn. Safe to run repeatedly; quiet when done.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-cld-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

is_root_apt() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; }

# apt's own chatter (debconf notices, progress) goes to a log that is shown only on failure.
apt_log="$(mktemp -t cld-setup-apt.XXXXXX)"
trap 'rm -f "$apt_log"' EXIT
quiet_apt() {
  if ! DEBIAN_FRONTEND=noninteractive apt-get "$@" >>"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    echo "setup: 'apt-get $*' failed (its output is above)" >&2
    return 1
  fi
}

# Fashion-MNIST (Debian's dataset-fashion-mnist) for the small continual-learning track.
if [ ! -d /usr/share/datasets/fashion-mnist ] && is_root_apt; then
  echo "setup: installing dataset-fashion-mnist"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 ||
    { quiet_apt update -qq && quiet_apt install -y -qq dataset-fashion-mnist; }
fi

# A C++ compiler for the native CPU target (cldc --device cpu / auto without a GPU).
if ! command -v g++ >/dev/null && ! command -v c++ >/dev/null && ! command -v clang++ >/dev/null; then
  if is_root_apt; then
    echo "setup: installing g++ (the native CPU target builds its kernels with it)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null 2>&1 ||
      { quiet_apt update -qq && quiet_apt install -y -qq g++; }
  else
    echo "setup: no C++ compiler; the native CPU target needs one: apt-get install g++ (as root)" >&2
  fi
fi

if node scripts/probe-adapter.mjs >/dev/null 2>&1; then
  exit 0
fi

if ! is_root_apt; then
  node scripts/probe-adapter.mjs || true
  echo "setup: no WebGPU adapter. As root on Debian 12, run:" >&2
  echo "  echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list" >&2
  echo "  apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers" >&2
  exit 3
fi

echo "setup: no WebGPU adapter; installing Mesa's lavapipe from bookworm-backports"
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat > /etc/apt/sources.list.d/cld-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
quiet_apt update -qq
quiet_apt install -y -qq -t bookworm-backports mesa-vulkan-drivers
node scripts/probe-adapter.mjs
