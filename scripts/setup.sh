#!/usr/bin/env bash
# Installs every Debian package Dossier builds, tests and benchmarks with,
# then configures and builds it. Idempotent: run it again at any time.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libxapian-dev xapian-tools libsodium-dev libsqlite3-dev libunistring-dev
  nlohmann-json3-dev libcli11-dev catch2
  libarchive-dev libxml2-dev libpoppler-cpp-dev libgmime-3.0-dev
  libmagic-dev libuchardet-dev libexttextcat-dev libssl-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DDOSSIER_WERROR=ON >/dev/null
cmake --build build -j "$(nproc)"
