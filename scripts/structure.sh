#!/usr/bin/env bash
# Prints the shape of the code: lines per source file (by folder) and the
# longest functions, as universal-ctags sees them (start and end line of
# every function definition). Usage: scripts/structure.sh [N longest]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-15}
command -v ctags >/dev/null && ctags --version 2>/dev/null | grep -q Universal || {
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq universal-ctags >/dev/null
}
files=$(git ls-files 'base/*' 'crypto/*' 'indexer/*' 'repo/*' 'api/*' 'tools/*' | grep -E '\.(cpp|h)$')
echo "== lines per file"
for f in $files; do printf '%6d  %s\n' "$(wc -l < "$f")" "$f"; done
echo
echo "== lines per folder"
for d in base crypto indexer repo api tools; do
  n=$( (git ls-files "$d/*" | grep -E '\.(cpp|h)$' || true) | xargs -r cat | wc -l)
  c=$(git ls-files "$d/*" | grep -cE '\.(cpp|h)$' || true)
  printf '%6d lines in %2d files  %s/\n' "$n" "$c" "$d"
done
echo
echo "== the $N longest functions (lines, file:line, name)"
# shellcheck disable=SC2086
ctags -x --c++-kinds=f --fields=+ne --output-format=json $files 2>/dev/null |
  python3 -c '
import json, sys
rows = []
for line in sys.stdin:
    t = json.loads(line)
    if t.get("kind") == "function" and "end" in t:
        scope = t.get("scope", "")
        name = (scope.split("::")[-1] + "::" if t.get("scopeKind") in ("class", "struct") else "") + t["name"]
        rows.append((t["end"] - t["line"] + 1, t["path"], t["line"], name))
rows.sort(reverse=True)
for n, path, line, name in rows[:int(sys.argv[1])]:
    print(f"{n:6d}  {path}:{line}  {name}")
' "$N"
