#!/usr/bin/env bash
# Sets everything up and runs every test: the Catch2 suites (slow ones
# included) and the end-to-end tests (the CLI, the HTTP server, the page in
# headless Chromium), through CTest on both cores; then the tests that
# parse untrusted input (the HTTP server's among them) or read a damaged
# database again under AddressSanitizer and UBSan, and the concurrency
# tests and the HTTP server under ThreadSanitizer. DOSSIER_SKIP_SANITIZERS=1 skips the sanitizer builds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build -j "$(nproc)" --output-on-failure

if [ "${DOSSIER_SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== sanitizer build (address, undefined)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDOSSIER_SANITIZE=ON -DDOSSIER_WERROR=ON >/dev/null
  cmake --build build-asan -j "$(nproc)" --target crypto_test indexer_test extract_test \
    repo_ingest_formats_test repo_damage_test repo_audit_test repo_workflow_test api_service_test dossier dossier-extract
  # The damage test runs a sample (every third case) under the sanitizer.
  ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan -j "$(nproc)" --output-on-failure \
    -R '^(crypto_test|indexer_test|extract_test|repo_ingest_formats_test|repo_damage_test|repo_audit_test|repo_workflow_test|api_service_test):' \
    -E '\[slow\]|1 GiB'
  # The HTTP server parses what any client sends: the end-to-end HTTP test
  # runs again against the sanitizer build.
  ASAN_OPTIONS=detect_leaks=0 python3 tests/e2e/http_test.py --dossier build-asan/tools/dossier

  echo "== sanitizer build (thread)"
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDOSSIER_SANITIZE=thread \
    -DDOSSIER_WERROR=ON >/dev/null
  cmake --build build-tsan -j "$(nproc)" --target repo_concurrency_test repo_jobs_test repo_audit_test dossier \
    dossier-extract
  TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan -j "$(nproc)" --output-on-failure \
    -R '^(repo_concurrency_test|repo_jobs_test|repo_audit_test):'
  # The server's threads (network, lanes, jobs) under ThreadSanitizer: a
  # race ends the server, and the end-to-end HTTP test fails.
  TSAN_OPTIONS=halt_on_error=1 python3 tests/e2e/http_test.py --dossier build-tsan/tools/dossier
fi
