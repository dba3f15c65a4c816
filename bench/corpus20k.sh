#!/usr/bin/env bash
# The 20,000 distinct real documents bench/http.sh and bench/search.sh
# share: bench/corpus.sh with translated man pages and the HTML
# documentation of PostgreSQL, git and OpenJDK added, into bench/out/corpus20k.
set -euo pipefail
cd "$(dirname "$0")/.."
N_DOCS=20000 BIG=0 EXTRA_EXT=.html \
  EXTRA_DEBS="manpages-de manpages-fr manpages-es manpages-it manpages-pl manpages-nl manpages-pt-br manpages-ru postgresql-doc-15 git-doc openjdk-17-doc" \
  bench/corpus.sh bench/out/corpus20k
