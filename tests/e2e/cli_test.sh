#!/usr/bin/env bash
# End-to-end test of the dossier CLI as a user runs it: exit codes (0 ok,
# 1 failure, 2 usage), password sources, --json bodies, search, get -o,
# grant and revoke, a second writer, reindex with the recovery key.
# Usage: cli_test.sh PATH_TO_DOSSIER FIXTURES_DIR
set -uo pipefail
DOSSIER=$1
FIXTURES=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export DOSSIER_PASSWORD_COST=interactive
fails=0
check() {  # check DESCRIPTION EXPECTED_EXIT command...
  local what=$1 want=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: $what: exit $got, wanted $want"; sed 's/^/  | /' "$T/out" "$T/err"; fails=$((fails+1))
  else
    echo "ok: $what"
  fi
}
contains() {  # contains DESCRIPTION FILE TEXT
  if grep -qF -- "$3" "$2"; then echo "ok: $1"; else echo "FAIL: $1 (no '$3')"; sed 's/^/  | /' "$2"; fails=$((fails+1)); fi
}
lacks() {
  if grep -qF -- "$3" "$2"; then echo "FAIL: $1 (found '$3')"; fails=$((fails+1)); else echo "ok: $1"; fi
}
for u in alice ivan lena; do echo "$u-password-123" > "$T/$u"; done
R="$T/repo"
as() { local u=$1; shift; "$DOSSIER" "$@" --user "$u" --password-file "$T/$u"; }

check "no arguments is a usage error" 2 "$DOSSIER"
check "unknown subcommand is a usage error" 2 "$DOSSIER" frobnicate
check "--help works" 0 "$DOSSIER" search --help
check "init" 0 "$DOSSIER" init "$R" --admin alice --no-protect --password-file "$T/alice"
contains "init names the recovery key file" "$T/out" "$R.recovery-key"
test -f "$R.recovery-key" && test ! -e "$R/recovery-key" && echo "ok: recovery key outside" || { echo "FAIL: recovery key placement"; fails=$((fails+1)); }
check "init again refuses a non-empty directory" 1 "$DOSSIER" init "$R" --admin alice --no-protect --password-file "$T/alice"
check "role add" 0 as alice role add "$R" investigator
check "role add legal" 0 as alice role add "$R" legal
check "user add ivan" 0 as alice user add "$R" ivan --roles investigator --new-password-file "$T/ivan"
check "user add lena" 0 as alice user add "$R" lena --roles legal --new-password-file "$T/lena"
check "non-admin cannot add users" 1 as ivan user add "$R" eve --roles investigator --new-password-file "$T/ivan"
check "wrong password" 1 "$DOSSIER" case list "$R" --user ivan --password-file "$T/lena"
contains "wrong password message" "$T/err" "unknown user or wrong password"
check "password from the environment" 0 env DOSSIER_USER=ivan DOSSIER_PASSWORD="ivan-password-123" "$DOSSIER" case list "$R"
check "no acting user is a usage error" 2 env -u DOSSIER_USER "$DOSSIER" case list "$R" --password-file "$T/ivan"

check "case create --json" 0 as alice case create "$R" --title "Tidewater" --roles investigator --risk high --json
contains "case JSON has the API fields" "$T/out" '"document_count": 0'
CASE=$(sed -n 's/^  "id": "\(.*\)",$/\1/p' "$T/out")
check "case create for legal" 0 as alice case create "$R" --title "Counsel" --roles legal --json
LCASE=$(sed -n 's/^  "id": "\(.*\)",$/\1/p' "$T/out")
check "bad risk is a usage error" 2 as alice case create "$R" --title X --roles legal --risk extreme

check "ingest a directory" 0 as ivan ingest "$R" --case "$CASE" "$FIXTURES/tidewater" --custodian Audit
contains "ingest prints ids and a summary" "$T/out" "6 indexed"
check "ingest again adds nothing" 0 as ivan ingest "$R" --case "$CASE" "$FIXTURES/tidewater" --custodian Audit
contains "re-ingest reports existing documents" "$T/out" "6 exists"
check "ingest into an invisible case" 1 as lena ingest "$R" --case "$CASE" "$FIXTURES/counsel"
check "ingest a missing path" 2 as ivan ingest "$R" --case "$CASE" "$T/nope"
check "lena ingests counsel" 0 as lena ingest "$R" --case "$LCASE" "$FIXTURES/counsel" --json
contains "ingest --json body" "$T/out" '"documents": ['

check "search a phrase" 0 as ivan search "$R" '"phantom container repairs"'
contains "phrase hits" "$T/out" "3 hits for ivan"
contains "snippet marks the phrase" "$T/out" "*phantom container repairs*"
check "search --json" 0 as ivan search "$R" 'invoice' --json --limit 2
contains "search JSON" "$T/out" '"total": 4'
contains "search JSON snippet" "$T/out" '<mark>'
DOC=$(grep -m1 '"document_id"' "$T/out" | sed 's/.*: "\(.*\)",*/\1/')
check "lena finds none of ivan's" 0 as lena search "$R" Corvo
contains "no hits for lena" "$T/out" "0 hits for lena"
check "a limit out of range is a usage error" 2 as ivan search "$R" invoice --limit 0
check "get metadata" 0 as ivan get "$R" "$DOC"
contains "get shows sha256" "$T/out" "sha256:"
check "get -o writes the original" 0 as ivan get "$R" "$DOC" -o "$T/original"
SHA=$(sha256sum "$T/original" | cut -d' ' -f1)
check "get --json" 0 as ivan get "$R" "$DOC" --json
contains "the stored SHA-256 matches the bytes" "$T/out" "$SHA"
check "lena cannot get it" 1 as lena get "$R" "$DOC"
contains "not found, not forbidden" "$T/err" "no such document"
check "get --text --matches marks the query in the text" 0 as ivan get "$R" "$DOC" --text --matches 'invoic*'
contains "a marked match" "$T/out" ">>invoice"
contains "the count of matches" "$T/err" "match(es)"
check "get --matches --json gives character ranges" 0 as ivan get "$R" "$DOC" --text --matches invoice --json
contains "ranges" "$T/out" '"matches": ['
check "a malformed --matches query is a usage error" 2 as ivan get "$R" "$DOC" --text --matches 'invoice AND'
check "--matches without --text is a usage error" 2 as ivan get "$R" "$DOC" --matches invoice
check "get lists the document's entities" 0 as ivan get "$R" "$DOC"
check "entity: finds documents by a validated value" 0 as ivan search "$R" 'entity:phone:+351912345678 OR entity:domain:corvo-supplies.example'
lacks "entity: search finds something" "$T/out" "0 hits for ivan"
check "entities lists an entity's documents and cases" 0 as ivan entities "$R" 'iban:pt50 0035 0217 0004 1234 5678 3'
contains "the normalised value and its count" "$T/out" "iban PT50003502170004123456783: "
contains "its case" "$T/out" "case $CASE"
check "lena sees none of them" 0 as lena entities "$R" 'iban:PT50003502170004123456783'
contains "no document of a case she cannot open" "$T/out" ": 0 documents in 0 cases"
check "an entity of an unknown type is a usage error" 2 as ivan entities "$R" 'shoe:42'
check "entity: with an invalid value is a usage error" 2 as ivan search "$R" 'entity:iban:DE00123'
contains "the error names the type" "$T/err" "is not a valid iban"

# Case links: a second investigator case holds the same IBAN.
check "case create Marsh" 0 as alice case create "$R" --title "Marsh" --roles investigator --json
MCASE=$(sed -n 's/^  "id": "\(.*\)",$/\1/p' "$T/out")
mkdir -p "$T/marsh" && printf 'Transfer to PT50 0035 0217 0004 1234 5678 3 on Monday.\n' >"$T/marsh/transfer.txt"
check "ingest into Marsh" 0 as ivan ingest "$R" --case "$MCASE" "$T/marsh"
check "links lists the case sharing the IBAN" 0 as ivan links "$R" "$CASE"
contains "the linked case, suggested" "$T/out" "$MCASE  Marsh  score "
contains "the shared entity" "$T/out" "iban PT50003502170004123456783"
contains "its evidence there" "$T/out" "there: "
check "a decision needs a reason" 2 as ivan links "$R" "$CASE" --confirm "$MCASE"
check "confirm the link" 0 as ivan links "$R" "$CASE" --confirm "$MCASE" --why "same beneficiary"
contains "confirmed, with who and why" "$T/out" "decided by ivan at "
check "the other side sees the decision" 0 as ivan links "$R" "$MCASE" --json
contains "confirmed in JSON" "$T/out" '"state": "confirmed"'
check "lena cannot list an investigator case's links" 1 as lena links "$R" "$CASE"
check "the graph as JSON" 0 as ivan links "$R" "$CASE" --graph --json
contains "a case node" "$T/out" '"kind": "case"'
check "a stop-entity by hand" 0 as ivan links "$R" --stop 'iban:PT50003502170004123456783'
check "settings are for admins" 1 as ivan links "$R" --settings --stop-threshold 10
check "an admin changes the stop threshold" 0 as alice links "$R" --settings --stop-threshold 10
contains "the new threshold" "$T/out" '"stop_threshold": 10'
check "a stop-entity lifted" 0 as ivan links "$R" --unstop 'iban:PT50003502170004123456783'

check "a second writer is refused while one holds the lock" 0 bash -c "
  exec 9>>'$R/lock'; flock -n 9 || exit 9
  '$DOSSIER' role add '$R' records --user alice --password-file '$T/alice'; test \$? = 1"
check "grant legal" 0 as alice case grant "$R" "$CASE" legal
check "lena finds it after the grant" 0 as lena search "$R" '"phantom container repairs"'
contains "granted hits" "$T/out" "3 hits for lena"
check "revoke legal" 0 as alice case revoke "$R" "$CASE" legal
check "lena loses it after the revoke" 0 as lena search "$R" Corvo
contains "revoked" "$T/out" "0 hits for lena"

# Formats, families and the failure report.
mkdir -p "$T/mixed"
printf 'From: a@corvo.example\r\nTo: b@mares.example\r\nSubject: crane quote\r\nDate: Fri, 14 Feb 2025 10:00:00 +0000\r\n\r\nThe gantry crane quote is attached.\r\n' > "$T/mixed/quote.eml"
printf '%%PDF-1.4 truncated' > "$T/mixed/broken.pdf"
head -c 2000 /dev/urandom > "$T/mixed/blob.bin"
(cd "$T/mixed" && tar czf "$T/bundle.tgz" quote.eml)
cp "$T/bundle.tgz" "$T/mixed/"
check "ingest mixed formats" 0 as ivan ingest "$R" --case "$CASE" "$T/mixed"
contains "the archived copy is a duplicate" "$T/out" "duplicate  quote.eml"
contains "the summary counts errors" "$T/out" "1 error"
contains "the summary counts unsupported" "$T/out" "1 unsupported"
contains "the summary points at the report" "$T/out" "--failures"
check "from: finds the message" 0 as ivan search "$R" 'from:a@corvo.example'
contains "from: hits once (the archived copy is a duplicate)" "$T/out" "1 hit for ivan"
check "failure report as JSON" 0 as ivan ingest "$R" --failures --case "$CASE"
contains "report names the broken PDF" "$T/out" '"filename": "broken.pdf"'
contains "report gives the reason" "$T/out" "unreadable PDF"
check "failure report as CSV" 0 as ivan ingest "$R" --failures --format csv
contains "CSV header" "$T/out" "document_id,case_id,parent_id,path,filename,mime,status,error"
contains "CSV row" "$T/out" '"blob.bin"'
check "ingest without --case is a usage error" 2 as ivan ingest "$R" "$T/mixed"

# A consume folder.
mkdir -p "$T/inbox/sub"
echo "first dropped note about the ferry" > "$T/inbox/a.txt"
echo "second dropped note about the ferry" > "$T/inbox/sub/b.txt"
check "watch --once ingests the folder" 0 as ivan watch "$R" --case "$CASE" "$T/inbox" --once
contains "watch acknowledges sub/b.txt" "$T/out" "indexed  sub/b.txt"
check "watch --once again adds nothing" 0 as ivan watch "$R" --case "$CASE" "$T/inbox" --once
# A running watch takes a file the moment it is closed (inotify), not at
# its next scan: with an hour between scans, only inotify can find it.
(exec "$DOSSIER" watch "$R" --case "$CASE" "$T/inbox" --interval 3600 --user ivan \
   --password-file "$T/ivan" >"$T/watch.out" 2>&1) &
WATCH=$!  # the dossier process itself (exec), so the signal reaches it
for _ in $(seq 50); do grep -q Watching "$T/watch.out" && break; sleep 0.2; done
mkdir -p "$T/inbox/later" && sleep 0.5
echo "a late memo about the orchard shipment" > "$T/inbox/later/late.txt"
for _ in $(seq 100); do grep -q "late.txt" "$T/watch.out" && break; sleep 0.2; done
# A folder moved in whole: its file was written before any watch could
# see it, so no inotify event comes for the file itself.
mkdir -p "$T/elsewhere/moved" && echo "a memo about the walnut cargo" > "$T/elsewhere/moved/inside.txt"
mv "$T/elsewhere/moved" "$T/inbox/moved"
for _ in $(seq 100); do grep -q "inside.txt" "$T/watch.out" && break; sleep 0.2; done
kill -TERM $WATCH; wait $WATCH
contains "a running watch ingests a new file in a new subfolder at once" "$T/watch.out" "indexed  later/late.txt"
contains "a running watch ingests a folder moved in whole" "$T/watch.out" "indexed  moved/inside.txt"
contains "second pass: exists" "$T/out" "exists  a.txt"
check "the dropped files are searchable" 0 as ivan search "$R" ferry
contains "ferry hits" "$T/out" "2 hits for ivan"

rm -rf "$R/index"
check "reindex with the recovery key" 0 "$DOSSIER" reindex "$R" --recovery-key "$R.recovery-key"
check "search works after reindex" 0 as ivan search "$R" '"phantom container repairs"'
contains "hits after reindex" "$T/out" "3 hits for ivan"

# Searches from other processes while grants and revokes move a case back
# and forth: lena holds the case's role throughout, so every search finds
# all of it (never a half-moved case, never 0 hits).
mkdir -p "$T/many"
for i in $(seq 300); do echo "moving memo $i about the causeway" > "$T/many/m$i.txt"; done
check "ingest 300 documents" 0 as lena ingest "$R" --case "$LCASE" "$T/many"
( for _ in 1 2 3; do
    as alice case grant "$R" "$LCASE" investigator >/dev/null 2>&1
    as alice case revoke "$R" "$LCASE" investigator >/dev/null 2>&1
  done ) &
MOVER=$!
searched=0; wrong=0
while kill -0 "$MOVER" 2>/dev/null && [ "$searched" -lt 100 ]; do
  out=$(as lena search "$R" causeway --limit 1 2>&1)
  searched=$((searched+1))
  case "$out" in "300 hits for lena"*) ;; *) wrong=$((wrong+1)); echo "  | ${out%%$'\n'*}";; esac
done
wait "$MOVER"
if [ "$wrong" = 0 ] && [ "$searched" -gt 0 ]; then echo "ok: $searched searches during moves all found 300"
else echo "FAIL: $wrong of $searched searches during moves were wrong"; fails=$((fails+1)); fi

check "role remove-member" 0 as alice role remove-member "$R" legal lena
contains "remove-member rotates the keys" "$T/out" "rotated"
check "lena no longer finds counsel's documents" 0 as lena search "$R" causeway
contains "none left" "$T/out" "0 hits for lena"
# Case management: stages, history, tasks, notes, reminders, reports.
check "case stage" 0 as ivan case stage "$R" "$CASE" planning --reason "kestrelreason ledgers in"
check "an unknown stage is a usage error" 2 as ivan case stage "$R" "$CASE" nowhere
check "case update: owner, assignees, risk" 0 as ivan case update "$R" "$CASE" --owner ivan --assignees ivan --risk moderate --json
contains "the case has its new owner" "$T/out" '"owner": "ivan"'
check "an assignee who cannot open the case is refused" 2 as ivan case update "$R" "$CASE" --assignees lena
check "lena cannot move ivan's case" 1 as lena case stage "$R" "$CASE" evaluation
check "case history" 0 as ivan case history "$R" "$CASE"
contains "the history has the move and its reason" "$T/out" "stage: screening -> planning  (kestrelreason ledgers in)"
check "task add" 0 as ivan task add "$R" "$CASE" --title "kestreltask call the bank" --due 2020-01-31 --assignee ivan --json
TASK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/out")
check "a bad due date is a usage error" 2 as ivan task add "$R" "$CASE" --title x --due "next week"
check "task list --overdue" 0 as ivan task list "$R" --overdue
contains "the overdue list has the task" "$T/out" "$TASK"
check "lena's overdue list" 0 as lena task list "$R" --overdue
lacks "does not have it" "$T/out" "$TASK"
check "note add" 0 as ivan note add "$R" "$CASE" --text "kestrelnote spoke to the harbourmaster"
check "note list" 0 as ivan note list "$R" "$CASE"
contains "lists the note" "$T/out" "kestrelnote spoke to the harbourmaster"
check "remind fires the overdue task through the hook" 0 "$DOSSIER" remind "$R" --hook "cat >> '$T/hook.jsonl'"
contains "the hook got the task's id" "$T/hook.jsonl" "\"task_id\":\"$TASK\""
lacks "and not its title" "$T/hook.jsonl" "kestrel"
check "remind again fires nothing" 0 "$DOSSIER" remind "$R" --json
contains "nothing" "$T/out" '"fired": []'
check "notifications" 0 as ivan notifications "$R" --read-all
contains "ivan's inbox has it" "$T/out" "$TASK"
check "task done" 0 as ivan task update "$R" "$TASK" --done
check "report" 0 as ivan report "$R"
contains "the report counts the case by stage" "$T/out" "planning         moderate  1"
check "report overdue --csv" 0 as ivan report "$R" overdue --csv
contains "as CSV" "$T/out" "case_id,title,stage,since,target_seconds,over_seconds"
check "an unknown report is a usage error" 2 as ivan report "$R" nope
check "case targets (admin) --set" 0 as alice case targets "$R" --set planning=21 --json
contains "the new target" "$T/out" '"planning": 1814400'
check "case targets is for admins" 1 as ivan case targets "$R" --set planning=1

check "user disable" 0 as alice user disable "$R" ivan
check "a disabled user cannot log in" 1 as ivan case list "$R"
contains "the refusal says why" "$T/err" "disabled"

# The audit trail: everything above is in it, chained and signed.
CHECKER="$(dirname "$0")/../../scripts/audit_check.py"
check "audit verify" 0 "$DOSSIER" audit verify "$R"
contains "verify counts the events" "$T/out" "events chained"
check "audit head exports the signed head" 0 "$DOSSIER" audit head "$R" -o "$T/head.json"
check "audit list (admin)" 0 as alice audit list "$R" --by lena --limit 1000
contains "lena's searches are listed" "$T/out" "searched"
check "audit list is refused to a user without the auditor role" 1 as lena audit list "$R"
check "audit list --csv" 0 as alice audit list "$R" --csv --action case_created
contains "the CSV has its header" "$T/out" "seq,time,user,action,target,detail,detail_hash,hash"
check "audit custody" 0 as alice audit custody "$R" "$DOC" --csv
contains "the custody report has the intake hash" "$T/out" "sha256,"
contains "and the document's ingest" "$T/out" "document_added"
check "audit custody --pdf" 0 as alice audit custody "$R" "$DOC" --pdf -o "$T/custody.pdf"
contains "writes a PDF" "$T/custody.pdf" "%PDF-"
check "audit custody is refused to a user without the auditor role" 1 as ivan audit custody "$R" "$DOC"
check "audit prove" 0 as alice audit prove "$R" 3 -o "$T/proof.json"
check "the independent checker accepts the proof" 0 python3 "$CHECKER" "$T/proof.json"
python3 - "$T/proof.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1])); p["event"]["target"] = "forged"; json.dump(p, open(sys.argv[1], "w"))
PY
check "and refuses it once an event field is changed" 1 python3 "$CHECKER" "$T/proof.json"
as ivan case list "$R" >/dev/null 2>&1  # one more event after the head kept
check "audit prove --since" 0 "$DOSSIER" audit prove "$R" --since "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["size"])' "$T/head.json")" -o "$T/cons.json"
check "the checker accepts the consistency proof from the kept head" 0 python3 "$CHECKER" "$T/cons.json" --old-head "$T/head.json"
check "audit verify against the kept head" 0 "$DOSSIER" audit verify "$R" --against "$T/head.json"
cp -r "$R" "$T/cut" && python3 - "$T/cut/dossier.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); db.execute("UPDATE audit_events SET actor = 'nobody' WHERE seq = 4"); db.commit()
PY
check "verify catches an edited event" 1 "$DOSSIER" audit verify "$T/cut"
contains "and names it" "$T/err" "event 4 was changed"
rm -rf "$T/cut"

# Words of the fixtures, five letters or more (a shorter one turns up by
# chance in megabytes of ciphertext and hashes: "falc" did, once).
if grep -raqi -e corvo -e tidewater -e falcao -e 'falcão' -e kestrel "$R"; then
  echo "FAIL: plaintext on disk:"; grep -raoi -e corvo -e tidewater -e falcao -e 'falcão' -e kestrel "$R" | head -5
  fails=$((fails+1)); else echo "ok: no plaintext on disk"; fi

echo "$((fails == 0 ? 1 : 0)) passed, $fails failed"
[ "$fails" = 0 ]
