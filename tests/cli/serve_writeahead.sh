#!/usr/bin/env bash
# serve_writeahead.sh - nothing leaves `dmvfilter serve` before it is
# accounted for: an HTTP reply is an output like a pipe or a file (issue 11's
# rule, writeahead.sh for the command line). The immigration rule of the
# example policy notifies its subjects; with a notice queue that cannot be
# written (a directory, a file at mode 0644) a Release call gets 500
# `internal` with not a record in it, the reply names only the kind of step
# that failed (no path: that is the DMV's), the service's log names the
# queue, the audit log holds the REQUEST entry and no RELEASE entry, the
# service goes on answering; a marked record and its twin get the same
# reply, byte for byte, both when the queue works and when it does not. A
# record without record_id under that rule gets 400, nothing released, no
# notice, and a RELEASE entry that says why. Waits on /healthz, never on
# fixed sleeps.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
. "$DMVF_SRC/tests/cli_lib.sh"
serve_prelude serve-wa
command -v curl >/dev/null || { echo "ok   - # SKIP curl is not installed"; exit 0; }
umask 077

serve_policy "$T/p.yaml" "$(id -u)"
"$cli" keys init --keyring "$T/kr" --unsealed >/dev/null 2>&1 || { bad "keys init"; exit 1; }
"$gen" --count 1 --seed 42 --marked 1 --twins "$T/twin.bin" --out "$T/one.bin" 2>/dev/null ||
    { bad "generator"; exit 1; }
py - "$T/one.bin" "$T/noid.bin" <<'PY'
import sys
from delimited import *
recs = split(open(sys.argv[1], "rb").read())[0]
open(sys.argv[2], "wb").write(join([without_field(recs[0], 1)]))
PY

# body OUT RECORDS: a ReleaseRequest for the immigration rule (one record:
# the rule's limit) with the records of RECORDS
ICE='request_id: "i1" ori: "DCICE0100" tags: "immigration-enforcement" query_kind: QUERY_KIND_BY_LICENSE legal_process: LEGAL_PROCESS_JUDICIAL_WARRANT'
printf '%s' "$ICE" | protoc -I"$DMVF_SRC/schema" --encode dmv.v1.Request dmv/v1/request.proto >"$T/req.pb" ||
    { bad "protoc --encode"; exit 1; }
body() {
    py - "$T/req.pb" "$2" "$1" <<'PY'
import sys
from delimited import *
req = open(sys.argv[1], "rb").read()
recs = split(open(sys.argv[2], "rb").read())[0]
open(sys.argv[3], "wb").write(ld(1, req) + b"".join(ld(2, r) for r in recs))
PY
}
body "$T/b.one" "$T/one.bin"
body "$T/b.twin" "$T/twin.bin"
body "$T/b.noid" "$T/noid.bin"
# call SOCK BODY OUT: the HTTP status on stdout
call() {
    curl -s --unix-socket "$T/$1.sock" -o "$3" -w '%{http_code}' -H 'Content-Type: application/proto' \
        --data-binary @"$2" http://x/dmv.v1.ReleaseService/Release
}
releases() { "$cli" audit query "$T/$1.audit" --kind release 2>/dev/null | grep -c '"request_id":"i1"'; }
requests() { "$cli" audit query "$T/$1.audit" --kind request 2>/dev/null | grep -c '"request_id":"i1"'; }

# ---- control: a queue that works ----
: >"$T/queue.ok"
chmod 600 "$T/queue.ok"
serve_start ok "$T/p.yaml" --audit "$T/ok.audit" --notices "$T/queue.ok" --quiet || exit 1
check "control: 200" [ "$(call ok "$T/b.one" "$T/r.ok")" = 200 ]
protoc -I"$DMVF_SRC/schema" --decode dmv.v1.ReleaseResponse dmv/v1/service.proto <"$T/r.ok" >"$T/r.ok.txt" 2>/dev/null
check "control: the record is released" [ "$(grep -c '^records {' "$T/r.ok.txt")" -eq 1 ]
check "control: one notice queued" [ "$(grep -c '"type":"notice"' "$T/queue.ok")" -eq 1 ]
check "control: the RELEASE entry is in the log" [ "$(releases ok)" -eq 1 ]
check "control: the twin gets 200" [ "$(call ok "$T/b.twin" "$T/r.ok.twin")" = 200 ]
check "control: the marked record and its twin get the same reply" cmp -s "$T/r.ok" "$T/r.ok.twin"
check "control: a second notice queued" [ "$(grep -c '"type":"notice"' "$T/queue.ok")" -eq 2 ]

# ---- a record without record_id: nothing released, the log says why ----
check "no record_id: 400" [ "$(call ok "$T/b.noid" "$T/r.noid")" = 400 ]
check "... invalid_argument, naming the record" grep -q '"code":"invalid_argument","message":"record 0: ' "$T/r.noid"
check "... nothing released" grep -q 'nothing released' "$T/r.noid"
check "... no notice queued" [ "$(grep -c '"type":"notice"' "$T/queue.ok")" -eq 2 ]
check "... a RELEASE entry that releases nothing" sh -c \
    "'$cli' audit query '$T/ok.audit' --kind release 2>/dev/null | tail -1 | grep -q '\"records_out\":0'"

# ---- a queue that cannot be written: 500, nothing released ----
# failing NAME QUEUE: one service whose notice queue is QUEUE
failing() {
    local n=$1
    serve_start "$n" "$T/p.yaml" --audit "$T/$n.audit" --notices "$2" --quiet || return
    check "$n: 500" [ "$(call "$n" "$T/b.one" "$T/r.$n")" = 500 ]
    check "$n: internal, nothing released" \
        grep -qx '{"code":"internal","message":"the request could not be accounted for (notice queue); nothing released"}' "$T/r.$n"
    check "$n: the reply does not name the queue" ! grep -q "$T" "$T/r.$n"
    check "$n: the service's log names the queue" grep -q "notice queue $2: .*; nothing released" "$T/$n.log"
    check "$n: the REQUEST entry is in the log" [ "$(requests "$n")" -eq 1 ]
    check "$n: no RELEASE entry: the log says nothing left" [ "$(releases "$n")" -eq 0 ]
    check "$n: the twin gets 500" [ "$(call "$n" "$T/b.twin" "$T/r.$n.twin")" = 500 ]
    check "$n: the marked record and its twin get the same reply" cmp -s "$T/r.$n" "$T/r.$n.twin"
    check "$n: the service still answers" curl -sf --unix-socket "$T/$n.sock" -o /dev/null http://x/healthz
    curl -s --unix-socket "$T/$n.sock" http://x/metrics >"$T/$n.metrics"
    check "$n: the errors are counted" grep -q 'code="internal"} 2' "$T/$n.metrics"
    kill -TERM "$pid"
    wait "$pid"
    check "$n: SIGTERM: exit 0" [ $? -eq 0 ]
    expect_rc 0 "$n: the audit log verifies" "$cli" audit verify "$T/$n.audit" --keyring "$T/kr"
}
mkdir "$T/queue.dir"
failing qdir "$T/queue.dir"
: >"$T/queue.644"
chmod 644 "$T/queue.644"
failing q644 "$T/queue.644"
check "q644: the queue is not written" [ ! -s "$T/queue.644" ]

kill -TERM "${pids[0]}"
wait "${pids[0]}"
check "control: SIGTERM: exit 0" [ $? -eq 0 ]
expect_rc 0 "control: the audit log verifies" "$cli" audit verify "$T/ok.audit" --keyring "$T/kr"

echo "serve_writeahead: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
