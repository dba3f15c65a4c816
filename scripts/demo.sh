#!/usr/bin/env bash
# Sets everything up and runs Dossier's main job on the embedded default:
# a demo repository made from fixtures/demo (a made-up invoice-fraud
# investigation in English, Portuguese and Spanish, and privileged legal
# advice about it), searched as two users whose roles differ, then served
# on 127.0.0.1:8080 (DEMO_LISTEN changes it) with the web page, until
# Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

DOSSIER="$PWD/build/tools/dossier"
REPO="${DEMO_REPO:-$PWD/demo-repo}"
SECRETS="$REPO.secrets"
rm -rf "$REPO" "$REPO.recovery-key" "$SECRETS"
mkdir -p "$SECRETS" && chmod 700 "$SECRETS"
# Demo passwords, written to files (never passed as arguments).
for u in alice ivan lena; do
  head -c 12 /dev/urandom | base64 | tr -d '/+=' > "$SECRETS/$u"
done
pw() { cat "$SECRETS/$1"; }
as() { local u=$1; shift; "$DOSSIER" "$@" --user "$u" --password-file "$SECRETS/$u"; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Create the repository (server key unprotected: demo only)"
"$DOSSIER" init "$REPO" --admin alice --no-protect --password-file "$SECRETS/alice"
# A real operator moves the recovery key offline; the demo keeps it beside
# the repository so `reindex --recovery-key` can be tried.

step "Roles and users"
as alice role add "$REPO" investigator
as alice role add "$REPO" legal
as alice user add "$REPO" ivan --roles investigator --new-password-file "$SECRETS/ivan"
as alice user add "$REPO" lena --roles legal --new-password-file "$SECRETS/lena"

step "Two cases"
TIDE=$(as alice case create "$REPO" --title "Operation Tidewater" --risk high \
        --description "Phantom container repairs billed by Corvo Supplies" --roles investigator --json |
       sed -n 's/^  "id": "\(.*\)",$/\1/p')
COUNSEL=$(as alice case create "$REPO" --title "Tidewater - privileged counsel" \
        --roles legal --json | sed -n 's/^  "id": "\(.*\)",$/\1/p')
echo "Operation Tidewater: $TIDE    counsel: $COUNSEL"

step "Ingest the investigators' evidence (EN, PT, ES) and counsel's advice"
as ivan ingest "$REPO" --case "$TIDE" --custodian "Internal Audit" fixtures/demo/tidewater
as lena ingest "$REPO" --case "$COUNSEL" --custodian "Legal" fixtures/demo/counsel

step "ivan (investigator) searches a phrase"
as ivan search "$REPO" '"phantom container repairs"'
step "ivan searches 'invoice': he sees only his case"
as ivan search "$REPO" invoice --limit 3
step "lena (legal) searches 'invoice': she sees only counsel's documents"
as lena search "$REPO" invoice --limit 3
step "lena searches 'Corvo': nothing of the investigation leaks to her"
as lena search "$REPO" Corvo
step "Portuguese and Spanish documents are found too"
as ivan search "$REPO" 'faturas OR facturas'

step "alice grants legal on Operation Tidewater; lena now finds it"
as alice case grant "$REPO" "$TIDE" legal
as lena search "$REPO" Corvo --limit 3
as lena case list "$REPO"

step "ivan moves Operation Tidewater to planning, with a task and a note"
as ivan case stage "$REPO" "$TIDE" planning --reason "supplier invoices in"
as ivan case update "$REPO" "$TIDE" --owner ivan --assignees ivan
as ivan task add "$REPO" "$TIDE" --title "Ask the bank for Corvo's statements" --due "$(date -u -d '+1 day' +%F)" --assignee ivan
as ivan note add "$REPO" "$TIDE" --text "The repair invoices match no container movement."
as ivan case history "$REPO" "$TIDE"
as ivan task list "$REPO"

step "What is on disk is ciphertext and hashes"
if grep -raqi corvo "$REPO"; then echo "plaintext found on disk!"; exit 1; fi
echo "grep -ri corvo $REPO: no match (content, titles, filenames, index terms are encrypted or hashed)"

LISTEN="${DEMO_LISTEN:-127.0.0.1:8080}"
step "Serve the demo repository: the API and the web page"
cat <<EOT
Open http://$LISTEN/ in a browser and log in as:
  alice  (admin; investigator, legal)  password: $(pw alice)
  ivan   (investigator)                password: $(pw ivan)
  lena   (legal)                       password: $(pw lena)
(password files in $SECRETS). The CLI's searches and reads work beside the
server, e.g. in another terminal:
  DOSSIER_USER=ivan DOSSIER_PASSWORD=\$(cat $SECRETS/ivan) $DOSSIER search $REPO 'Falcão'
(commands that write wait until the server stops: it holds the write lock)
Ctrl-C stops the server.
EOT
exec "$DOSSIER" serve "$REPO" --listen "$LISTEN"
