#!/usr/bin/env bash
# serve_commit.sh - how `dmvfilter serve` commits its audit entries, seen
# through tests/faultshim.c (fsyncs counted and slowed):
#
#   one fsync a call: the REQUEST entry is written before the rewrite and
#     made durable by the RELEASE entry's fsync (audit.h defer_request_sync);
#     a refusal that has no RELEASE entry, and the permission_denied entry,
#     are made durable before the reply: one fsync each too, never none
#   the call pool: with an audit log, calls run on the service's call pool,
#     not on the HTTP thread that read them: with --threads 1 and a disk
#     whose fsync takes 300 ms, eight calls at once are in flight together
#     (the log holds several REQUEST entries before the first RELEASE entry
#     that follows them) and share fsyncs (fewer than one a call); every
#     reply that reached the client has its RELEASE entry, and the log
#     verifies
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
. "$DMVF_SRC/tests/cli_lib.sh"
serve_prelude serve-commit
command -v curl >/dev/null || { echo "ok   - # SKIP curl is not installed"; exit 0; }
faultshim_build
umask 077

serve_policy "$T/p.yaml" "$(id -u)"
"$cli" keys init --keyring "$T/kr" --unsealed >/dev/null 2>&1 || { bad "keys init"; exit 1; }
"$gen" --count 1 --seed 5 --out "$T/one.bin" 2>/dev/null || { bad "generator"; exit 1; }
# body NAME REQUEST-TEXT: $T/b.NAME, a ReleaseRequest of the request and the record
body() {
    printf '%s' "$2" | protoc -I"$DMVF_SRC/schema" --encode dmv.v1.Request dmv/v1/request.proto >"$T/req.$1" ||
        { bad "protoc --encode $1"; exit 1; }
    py - "$T/req.$1" "$T/one.bin" "$T/b.$1" <<'PY'
import sys
from delimited import *
req = open(sys.argv[1], "rb").read()
recs = split(open(sys.argv[2], "rb").read())[0]
open(sys.argv[3], "wb").write(ld(1, req) + b"".join(ld(2, r) for r in recs))
PY
}
body police 'request_id: "p1" ori: "NY0300000" purpose: 1 query_kind: QUERY_KIND_BY_LICENSE'
body lapsed 'request_id: "l1" ori: "NY0990000" purpose: 1 query_kind: QUERY_KIND_BY_LICENSE'
body foreign 'request_id: "f1" ori: "CA0000001" purpose: 1 query_kind: QUERY_KIND_BY_LICENSE'
# call NAME BODY OUT: the HTTP status on stdout
call() {
    curl -s --unix-socket "$T/$1.sock" -o "$3" -w '%{http_code}' -H 'Content-Type: application/proto' \
        --data-binary @"$T/b.$2" http://x/dmv.v1.ReleaseService/Release
}
fsyncs() { cat "$T/$1.count" 2>/dev/null || echo 0; }
kinds() { "$cli" audit query "$T/$1.audit" 2>/dev/null | sed -n 's/.*"kind":"\([a-z_]*\)".*/\1/p' | tr '\n' ' '; }

# ---- one fsync a call ----
serve_env=(DMVF_FAULT_FSYNC_COUNT="$T/one.count" LD_PRELOAD="$PRE")
serve_start one "$T/p.yaml" --threads 1 --audit "$T/one.audit" --quiet || exit 1
n0=$(fsyncs one)
check "released: 200" [ "$(call one police "$T/r1")" = 200 ]
protoc -I"$DMVF_SRC/schema" --decode dmv.v1.ReleaseResponse dmv/v1/service.proto <"$T/r1" >"$T/r1.txt" 2>/dev/null
check "... the record is released" [ "$(grep -c '^records {' "$T/r1.txt")" -eq 1 ]
n1=$(fsyncs one)
check "... its REQUEST and RELEASE entries took one fsync ($((n1 - n0)))" [ $((n1 - n0)) -eq 1 ]
check "... both are in the log" [ "$(kinds one)" = "request release " ]
check "refused (lapsed agreement): 200" [ "$(call one lapsed "$T/r2")" = 200 ]
protoc -I"$DMVF_SRC/schema" --decode dmv.v1.ReleaseResponse dmv/v1/service.proto <"$T/r2" >"$T/r2.txt" 2>/dev/null
check "... no record" [ "$(grep -c '^records {' "$T/r2.txt")" -eq 0 ]
n2=$(fsyncs one)
check "... its REQUEST entry, the only one, was fsync'd before the reply ($((n2 - n1)))" [ $((n2 - n1)) -eq 1 ]
check "... and is in the log" [ "$(kinds one)" = "request release request " ]
check "an ORI the client may not speak for: 403" [ "$(call one foreign "$T/r3")" = 403 ]
n3=$(fsyncs one)
check "... its entry was fsync'd before the reply ($((n3 - n2)))" [ $((n3 - n2)) -eq 1 ]
check "... and is in the log" [ "$(kinds one)" = "request release request request " ]
kill -TERM "$pid"
wait "$pid"
check "the service stops cleanly" [ $? -eq 0 ]
expect_rc 0 "the log verifies" "$cli" audit verify "$T/one.audit" --keyring "$T/kr"

# ---- the call pool: eight calls at once on one HTTP thread, a slow disk ----
serve_env=(DMVF_FAULT_FSYNC_COUNT="$T/pool.count" DMVF_FAULT_FSYNC_DELAY_MS=300 LD_PRELOAD="$PRE")
serve_start pool "$T/p.yaml" --threads 1 --audit "$T/pool.audit" --quiet || exit 1
n0=$(fsyncs pool)
for i in 1 2 3 4 5 6 7 8; do
    call pool police "$T/p$i" >"$T/p$i.status" &
done
wait_for() { for _ in $(seq 1 600); do [ "$(cat "$T/p$1.status" 2>/dev/null)" = 200 ] && return 0; sleep 0.05; done; return 1; }
all=1
for i in 1 2 3 4 5 6 7 8; do wait_for $i || all=0; done
check "eight calls at once: every one 200" [ $all -eq 1 ]
for i in 2 3 4 5 6 7 8; do cmp -s "$T/p1" "$T/p$i" || all=0; done
check "... the same reply each" [ $all -eq 1 ]
n1=$(fsyncs pool)
check "... fewer fsyncs than calls: they shared them ($((n1 - n0)) for 8)" [ $((n1 - n0)) -lt 8 ]
# the most REQUEST entries written before a RELEASE entry came between them:
# 1 when the calls ran one after the other
open=$("$cli" audit query "$T/pool.audit" 2>/dev/null | py -c '
import json, sys
o = m = 0
for line in sys.stdin:
    k = json.loads(line)["kind"]
    o += 1 if k == "request" else -1 if k == "release" else 0
    m = max(m, o)
print(m)')
check "... in flight together: $open REQUEST entries before a RELEASE entry" [ "${open:-0}" -ge 2 ]
check "... eight RELEASE entries" [ "$("$cli" audit query "$T/pool.audit" --kind release 2>/dev/null | wc -l)" -eq 8 ]
kill -TERM "$pid"
wait "$pid"
check "the service stops cleanly" [ $? -eq 0 ]
expect_rc 0 "the log verifies" "$cli" audit verify "$T/pool.audit" --keyring "$T/kr"
echo "serve_commit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
