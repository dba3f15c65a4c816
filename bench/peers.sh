#!/usr/bin/env bash
# Ingestion against the peers a user would pick instead, in one run on one
# corpus of real documents from Debian packages (nothing written here):
#   pdf   LaTeX manuals (texlive-latex-base-doc, texlive-latex-recommended-doc)
#   html  the Python 3.11 documentation (python3.11-doc)
#   text  2,000 kernel documentation files (linux-doc-6.1)
#   mail  2,403 messages of the SpamAssassin public corpus ("easy ham",
#         shipped as test data by golang-github-gatherstars-com-jwz-dev)
#         and 115 real bounce reports (python3-flufl.bounce): one .eml each
# Tools: `dossier ingest` (extraction in its worker pool, encryption, blind
# index), Xapian's omindex (xapian-omega) and recollindex (recollcmd).
# Prints docs/s, MB/s, peak RSS, index size and errors per tool and type.
# Usage: bench/peers.sh (after scripts/setup.sh). Takes about 10 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
for p in recollcmd xapian-omega poppler-utils time; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$p" >/dev/null
done
cmake --build build --target dossier dossier-extract stream_floor >/dev/null
OUT=bench/out/peers
C="$OUT/corpus"
if ! grep -qx v2 "$C/.done" 2>/dev/null; then  # v2: the SpamAssassin mail corpus
  rm -rf "$C" && mkdir -p "$C"/{pdf,html,text,mail,debs}
  (cd "$C/debs" && apt-get download texlive-latex-base-doc texlive-latex-recommended-doc \
     python3.11-doc linux-doc-6.1 golang-github-gatherstars-com-jwz-dev python3-flufl.bounce \
    >/dev/null 2>&1 &&
   for d in *.deb; do dpkg-deb -x "$d" x; done)
  find "$C/debs/x" -name '*.pdf' -size +1k | sort | sed -n 1,300p | while read -r f; do
    cp "$f" "$C/pdf/$(echo "${f#$C/debs/x/}" | tr / _)"; done
  find "$C/debs/x/usr/share/doc/python3.11/html" -name '*.html' | sort | sed -n 1,500p | while read -r f; do
    cp "$f" "$C/html/$(echo "${f#$C/debs/x/}" | tr / _)"; done
  find "$C/debs/x/usr/share/doc/linux-doc-6.1/Documentation" -name '*.rst.gz' | sort | sed -n 1,2000p |
    while read -r f; do gzip -dc "$f" > "$C/text/$(echo "${f#$C/debs/x/}" | tr / _ | sed 's/\.gz$//').txt"; done
  cp "$C"/debs/x/usr/share/gocode/src/github.com/gatherstars-com/jwz/test/testdata/ham/* "$C/mail/"
  for f in "$C"/debs/x/usr/lib/python3/dist-packages/flufl/bounce/tests/data/*.txt; do
    cp "$f" "$C/mail/bounce-$(basename "$f" .txt).eml"; done
  rm -rf "$C/debs"
  echo v2 > "$C/.done"
fi

W="$OUT/work"
echo "bench-password" > "$OUT/pw"
printf '%-8s %-5s %6s %8s %8s %9s %8s %8s %9s %6s\n' tool type docs MB secs docs/s MB/s peakMiB indexMB errors
row() {  # tool type docs bytes secs kib index_bytes errors
  python3 -c "
t,ty,d,b,s,k,i,e='$1','$2',int('$3'),int('$4'),float('$5'),int('$6'),int('$7'),'$8'
print(f'{t:<8} {ty:<5} {d:>6} {b/1e6:>8.1f} {s:>8.2f} {d/s:>9.1f} {b/1e6/s:>8.2f} {k//1024:>8} {i/1e6:>9.1f} {e:>6}')"
}
for type in pdf html text mail; do
  dir="$C/$type"
  n=$(ls "$dir" | wc -l)
  bytes=$(du -sb "$dir" | cut -f1)

  # dossier
  rm -rf "$W" "$W.recovery-key"
  build/tools/dossier init "$W" --admin bench --no-protect --password-file "$OUT/pw" >/dev/null
  D() { build/tools/dossier "$@" --user bench --password-file "$OUT/pw"; }
  D role add "$W" team >/dev/null
  CASE=$(D case create "$W" --title bench --roles team --json | sed -n 's/^  "id": "\(.*\)",$/\1/p')
  /usr/bin/time -f "%e %M" -o "$OUT/t" build/tools/dossier ingest "$W" --case "$CASE" "$dir" \
    --user bench --password-file "$OUT/pw" > "$OUT/dossier.log"
  read -r secs kib < "$OUT/t"
  errs=$(grep -cE '  (error|unsupported)  ' "$OUT/dossier.log" || true)
  row dossier "$type" "$n" "$bytes" "$secs" "$kib" "$(du -sb "$W/index" | cut -f1)" "$errs"
  # The same run without its fixed start: the CLI's own clock starts after
  # the Argon2id login (MODERATE: 256 MiB, about 0.9 s here) and opening.
  own=$(sed -n 's/.* documents\? (.*) in \([0-9.]*\) s:.*/\1/p' "$OUT/dossier.log")
  python3 -c "print(f'         after login: {float(\"$own\"):.2f} s = {$n/float(\"$own\"):.1f} docs/s')"
  # Encryption's share of that time: the cipher over the originals (timed
  # in memory, best of three), over the sealed text at the same rate (its
  # size is the text store's), and wrapping each document's key for two
  # recipients.
  build/bench/stream_floor "$OUT/floor" @"$dir" > "$OUT/floor.txt"
  text_bytes=$(du -sb "$W/text" | cut -f1)
  python3 -c "
lines = open('$OUT/floor.txt').read().splitlines()
stream = float(lines[0].split('\t')[3].split()[0]); wrap = float(lines[2].split('\t')[3].split()[0])
text = stream * $text_bytes / $bytes; total = stream + text + wrap; secs = float('$secs')
print(f'         encryption: {total:.3f} s of {secs:.2f} s = {100*total/secs:.1f}% (originals {stream:.3f} s, text {text:.3f} s, key wrapping {wrap:.3f} s)')"

  if [ "$type" = pdf ]; then
    # The PDF target's yardstick: two pdftotext processes in parallel.
    /usr/bin/time -f "%e %M" -o "$OUT/t" sh -c "ls '$dir'/*.pdf | xargs -P2 -I{} pdftotext -q {} /dev/null"
    read -r secs kib < "$OUT/t"
    row pdftotext "$type" "$n" "$bytes" "$secs" "$kib" 0 0
  fi

  # omindex (forks pdftotext per PDF)
  rm -rf "$W.omega"
  /usr/bin/time -f "%e %M" -o "$OUT/t" omindex --db "$W.omega" --url / "$dir" > "$OUT/omindex.log" 2>&1 || true
  read -r secs kib < "$OUT/t"
  errs=$(grep -ciE 'fail|error|skipping' "$OUT/omindex.log" || true)
  row omindex "$type" "$n" "$bytes" "$secs" "$kib" "$(du -sb "$W.omega" | cut -f1)" "$errs"

  # recollindex
  rm -rf "$W.recoll" && mkdir -p "$W.recoll"
  printf 'topdirs = %s\nloglevel = 2\nlogfilename = %s\n' "$(realpath "$dir")" "$(realpath "$W.recoll")/log" > "$W.recoll/recoll.conf"
  /usr/bin/time -f "%e %M" -o "$OUT/t" recollindex -c "$W.recoll" -z > "$OUT/recoll.log" 2>&1 || true
  read -r secs kib < "$OUT/t"
  errs=$(grep -ciE ':[0-9]+:.*(error|fail)' "$W.recoll/log" 2>/dev/null || true)
  row recoll "$type" "$n" "$bytes" "$secs" "$kib" "$(du -sb "$W.recoll/xapiandb" | cut -f1)" "$errs"
done
rm -rf "$W" "$W.recovery-key" "$W.omega" "$W.recoll"
