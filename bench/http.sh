#!/usr/bin/env bash
# The HTTP server under wrk, against a repository of 20,000 distinct real
# documents (bench/corpus.sh with translated man pages and the HTML
# documentation of PostgreSQL, git and OpenJDK added), with nginx serving a
# small static file on another loopback port in the same run as the
# yardstick. Requests per second and p50/p99 for /healthz, a document's
# metadata and a search with snippets, at 1, 16 and 64 connections; the
# same search through Repository directly on one thread; the server's RSS
# at rest before and after the load.
# wrk shares the machine's cores with the server: beyond one connection
# the figures measure queueing as much as serving.
# Usage: bench/http.sh [SECONDS_PER_RUN] (after scripts/setup.sh; needs
# wrk and nginx-light, which it installs if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-10}"
for p in wrk nginx-light; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; }
done
cmake --build build --target dossier dossier-extract search_latency >/dev/null
C=bench/out/corpus20k
bench/corpus20k.sh

W="$PWD/bench/out/http"
D="$PWD/build/tools/dossier"
REPO="$W/repo"
export DOSSIER_PASSWORD_COST=interactive
if [ ! -f "$W/.ingested" ]; then
  rm -rf "$W" && mkdir -p "$W"
  echo "benchmark-password" > "$W/pw"
  "$D" init "$REPO" --admin bench --no-protect --password-file "$W/pw" >/dev/null
  as() { "$D" "$@" --user bench --password-file "$W/pw"; }
  as role add "$REPO" readers >/dev/null
  CASE=$(as case create "$REPO" --title "HTTP benchmark" --roles readers --json |
         sed -n 's/^  "id": "\(.*\)",$/\1/p')
  echo "ingesting $(ls "$C/small" | wc -l) documents (once; kept in $W)"
  /usr/bin/time -f "ingest: %e s, max RSS %M KiB" "$D" ingest "$REPO" --case "$CASE" "$C/small" \
    --user bench --password-file "$W/pw" >/dev/null
  touch "$W/.ingested"
fi
QUERY="memory"

echo "== the same search through Repository directly (one thread)"
build/bench/search_latency "$REPO" bench "$W/pw" "$QUERY" "$SECS" | tee "$W/direct.txt"

# nginx: the static-file yardstick.
mkdir -p "$W/www" "$W/nginx"
printf '{"ok":true}' > "$W/www/healthz"
cat > "$W/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server { listen 127.0.0.1:18481; root $W/www; location / { default_type application/json; } }
}
EOF
nginx -c "$W/nginx/nginx.conf" -p "$W/nginx" &
NGINX=$!
"$D" serve "$REPO" --listen 127.0.0.1:18480 > "$W/serve.out" 2> "$W/serve.log" &
SERVER=$!
trap 'kill $SERVER $NGINX 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q serving "$W/serve.out" 2>/dev/null && break; sleep 0.1; done
sleep 0.5
rss() { awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' /proc/$SERVER/status; }
echo "server RSS at rest, before the load: $(rss)"

BASE=http://127.0.0.1:18480
TOKEN=$(curl -sf -X POST "$BASE/api/v1/auth/login" -H 'Content-Type: application/json' \
        -d "{\"user\":\"bench\",\"password\":\"$(cat "$W/pw")\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
AUTH="Authorization: Bearer $TOKEN"
DOC=$(curl -sf "$BASE/api/v1/search?q=$QUERY&limit=1" -H "$AUTH" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["hits"][0]["document_id"])')
TOTAL=$(curl -sf "$BASE/api/v1/search?q=&limit=1" -H "$AUTH" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
echo "documents searchable: $TOTAL"

# One wrk run: prints "name conns rps p50 p99".
run() {
  local name=$1 conns=$2 url=$3; shift 3
  local threads=$(( conns < 2 ? 1 : 2 ))
  wrk -t"$threads" -c"$conns" -d"${SECS}s" --latency "$@" "$url" > "$W/wrk.txt"
  python3 - "$name" "$conns" "$W/wrk.txt" <<'PY'
import re, sys
name, conns, path = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read()
def ms(v):
    n, unit = re.match(r"([\d.]+)(\w+)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
p = {k: ms(v) for k, v in re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M)}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
bad = f"  non-2xx: {errors.group(1)}" if errors else ""
print(f"{name:<10} {conns:>5} {rps:>10.0f} {p['50']:>9.3f} {p['99']:>9.3f}{bad}")
PY
}

echo
echo "name       conns    req/s   p50_ms    p99_ms"
for c in 1 16 64; do
  run nginx "$c" http://127.0.0.1:18481/healthz
  run healthz "$c" "$BASE/healthz"
  run document "$c" "$BASE/api/v1/documents/$DOC" -H "$AUTH"
  run search "$c" "$BASE/api/v1/search?q=$QUERY" -H "$AUTH"
done | tee "$W/results.txt"
sleep 2
echo
echo "server RSS at rest, after the load: $(rss)"
