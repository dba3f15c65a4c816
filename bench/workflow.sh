#!/usr/bin/env bash
# Case management at scale (bench/workflow_bench.cpp): CASES cases with
# TASKS tasks each; a reminder check (quiet and firing), the reports, the
# overdue list, the inbox, the board's case list and stage moves.
# Usage: bench/workflow.sh [CASES] [TASKS] (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build --target workflow_bench >/dev/null
mkdir -p bench/out/workflow-work
build/bench/workflow_bench bench/out/workflow-work "${1:-10000}" "${2:-5}"
rm -rf bench/out/workflow-work
