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
  libmagic-dev libuchardet-dev libexttextcat-dev libssl-dev libphonenumber-dev libpsl-dev
  libboost-dev prometheus-cpp-dev liboath-dev libqrencode-dev libpodofo-dev fonts-dejavu-core
  fonts-droid-fallback
  openssl python3 curl nodejs npm chromium
)
# npm comes with Debian's nodejs on a fresh machine; where a newer Node.js
# from elsewhere already provides npm, the Debian package is not needed.
if command -v npm >/dev/null 2>&1; then
  PACKAGES=("${PACKAGES[@]/npm}")
  command -v node >/dev/null 2>&1 && PACKAGES=("${PACKAGES[@]/nodejs}")
fi

missing=()
for p in "${PACKAGES[@]}"; do
  [ -n "$p" ] || continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The browser test's npm dependency (playwright-core drives Debian's
# chromium; it downloads no browser). Installed from the lock file.
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
# The page's libraries (cytoscape for the link graph, Chart.js for the
# reports), served from web/node_modules.
if [ ! -d web/node_modules/cytoscape ] || [ ! -d web/node_modules/chart.js ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DDOSSIER_WERROR=ON >/dev/null
cmake --build build -j "$(nproc)"
