#!/usr/bin/env bash
# serve.sh - `dmvfilter serve` over its Unix socket with curl: binary and
# JSON calls, the twin property, not-found indistinguishability, unknown
# clients, ORIs outside a client's list, malformed and oversized bodies, a
# slow client, reloads with a good and a bad policy, SIGTERM and SIGKILL
# under load (the audit log verifies; each reply that left has its RELEASE
# entry). Waits on /healthz, never on fixed sleeps.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
. "$DMVF_SRC/tests/cli_lib.sh"
serve_prelude serve
command -v curl >/dev/null || { echo "ok   - # SKIP curl is not installed"; exit 0; }

uid=$(id -u)
serve_policy "$T/p.yaml" "$uid"
"$cli" keys init --keyring "$T/kr" --unsealed >/dev/null 2>&1 || bad "keys init"

# body OUT REQUEST_TEXT [RECORDS_FILE]: a ReleaseRequest (protoc text for the request)
body() {
    printf '%s' "$2" | protoc -I"$DMVF_SRC/schema" --encode dmv.v1.Request dmv/v1/request.proto >"$T/req.pb" ||
        { bad "protoc --encode"; return 1; }
    python3 - "$T/req.pb" "${3:-}" "$1" <<'PY'
import sys
def varint(n):
    o = bytearray()
    while n >= 0x80: o.append(n & 0x7f | 0x80); n >>= 7
    o.append(n); return bytes(o)
req = open(sys.argv[1], "rb").read()
out = b"\x0a" + varint(len(req)) + req
if sys.argv[2]:
    d = open(sys.argv[2], "rb").read(); i = 0
    while i < len(d):
        n = s = 0
        while True:
            b = d[i]; i += 1; n |= (b & 0x7f) << s; s += 7
            if not b & 0x80: break
        out += b"\x12" + varint(n) + d[i:i + n]; i += n
open(sys.argv[3], "wb").write(out)
PY
}
# call SOCK METHOD CTYPE BODYFILE OUT: status code on stdout, headers in OUT.h
call() {
    curl -s --unix-socket "$T/$1.sock" -D "$5.h" -o "$5" -w '%{http_code}' -H "Content-Type: $3" \
        --data-binary @"$4" "http://x/dmv.v1.ReleaseService/$2"
}
decode() { protoc -I"$DMVF_SRC/schema" --decode dmv.v1.ReleaseResponse dmv/v1/service.proto <"$1"; }

POLICE='request_id: "p1" ori: "NY0300000" purpose: 1 query_kind: QUERY_KIND_BY_LICENSE'
serve_start a "$T/p.yaml" --audit "$T/audit" --quiet || exit 1
check "the socket is mode 0660" [ "$(stat -c %a "$T/a.sock")" = 660 ]

# ---- binary: the same release as filter --format framed ----
"$gen" --count 5 --seed 7 --marked 0.5 --twins "$T/twins.bin" --out "$T/recs.bin"
body "$T/b1" "$POLICE" "$T/recs.bin"
check "binary Release: 200" [ "$(call a Release application/proto "$T/b1" "$T/r1")" = 200 ]
check "binary reply is application/proto" grep -qi '^content-type: application/proto' "$T/r1.h"
decode "$T/r1" >"$T/r1.txt" 2>"$T/err" || bad "protoc decodes the reply: $(cat "$T/err")"
check "five records released" [ "$(grep -c '^records {' "$T/r1.txt")" -eq 5 ]
check "the trailer counts them" grep -q 'records_out: 5' "$T/r1.txt"
check "the trailer is signed" grep -q 'signature:' "$T/r1.txt"
python3 - "$T/b1" "$T/framed.bin" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
def varint(n):
    o = bytearray()
    while n >= 0x80: o.append(n & 0x7f | 0x80); n >>= 7
    o.append(n); return bytes(o)
out = b""; i = 0
while i < len(d):
    key = d[i]; i += 1; n = s = 0
    while True:
        b = d[i]; i += 1; n |= (b & 0x7f) << s; s += 7
        if not b & 0x80: break
    f = bytes([key]) + varint(n) + d[i:i + n]; i += n
    out += varint(len(f)) + f
open(sys.argv[2], "wb").write(out)
PY
"$cli" filter --policy "$T/p.yaml" --keyring "$T/kr" --format framed --date 2026-11-22 --quiet \
    --in "$T/framed.bin" --out "$T/framed.out" 2>/dev/null
python3 - "$T/framed.out" "$T/r1" <<'PY' && ok "the reply holds the framed release's records and trailer, byte for byte" || bad "reply differs from filter --format framed"
import sys
def frames(d):
    i = 0
    while i < len(d):
        n = s = 0
        while True:
            b = d[i]; i += 1; n |= (b & 0x7f) << s; s += 7
            if not b & 0x80: break
        yield d[i:i + n]; i += n
want = b""
for f in frames(open(sys.argv[1], "rb").read()):
    if f[0] == 0x12: want += b"\x0a" + f[1:]
    elif f[0] == 0x1a: want += b"\x12" + f[1:]
sys.exit(0 if want == open(sys.argv[2], "rb").read() else 1)
PY

# ---- twins: a marked record and its twin give identical replies ----
body "$T/b2" "$POLICE" "$T/twins.bin"
call a Release application/proto "$T/b2" "$T/r2" >/dev/null
check "twin: the replies are identical" cmp -s "$T/r1" "$T/r2"

# ---- JSON ----
printf '%s' '{"request":{"requestId":"j1","ori":"NY0300000","purpose":1,"queryKind":"QUERY_KIND_BY_LICENSE"},
  "records":[{"record_id":"X1","person":{"family_name":"Doe","ssn":"CANARY-123-45-6789"},
  "marking":{"program":"AB60-CANARY-PROGRAM"}}]}' >"$T/j1"
check "JSON Release: 200" [ "$(call a Release application/json "$T/j1" "$T/rj")" = 200 ]
check "JSON reply is application/json" grep -qi '^content-type: application/json' "$T/rj.h"
check "JSON reply releases the name" grep -q '"family_name":"Doe"' "$T/rj"
check "canary: the SSN is not in the reply" ! grep -q CANARY "$T/rj"
check "canary: the marking is not in the reply" ! grep -q -e AB60-CANARY -e '"marking"' "$T/rj"
check "JSON trailer: uint64 as strings" grep -q '"records_out":"1"' "$T/rj"
printf '%s' '{"request":{"ori":"NY0300000"}}' >"$T/jx"
check "Explain: 200" [ "$(call a Explain application/json "$T/jx" "$T/rx")" = 200 ]
check "Explain says the rule" grep -q "in-state police" "$T/rx"

# ---- not found: a refusal is exactly a genuine miss ----
ICE='request_id: "q" ori: "DCICE0100" tags: "immigration-enforcement" query_kind: QUERY_KIND_BY_LICENSE'
body "$T/miss" "$ICE legal_process: LEGAL_PROCESS_JUDICIAL_WARRANT"
body "$T/refuse" "$ICE legal_process: LEGAL_PROCESS_ADMINISTRATIVE_SUBPOENA" "$T/recs.bin"
sm=$(call a Release application/proto "$T/miss" "$T/rm")
sr=$(call a Release application/proto "$T/refuse" "$T/rr")
check "not-found: both 200" [ "$sm" = 200 ] && [ "$sr" = 200 ]
check "not-found: the bodies are identical" cmp -s "$T/rm" "$T/rr"
grep -vi '^date:' "$T/rm.h" >"$T/rm.hh"; grep -vi '^date:' "$T/rr.h" >"$T/rr.hh"
check "not-found: the headers but Date are identical" cmp -s "$T/rm.hh" "$T/rr.hh"

# ---- errors: ORI outside the client's list, malformed, oversized ----
body "$T/ca" 'request_id: "c1" ori: "CA0000001"' "$T/recs.bin"
check "ORI outside the client's list: 403" [ "$(call a Release application/proto "$T/ca" "$T/rc")" = 403 ]
check "... permission_denied" grep -q '"code":"permission_denied"' "$T/rc"
printf '\x0a\x05abc' >"$T/bad"
check "malformed binary body: 400" [ "$(call a Release application/proto "$T/bad" "$T/rb")" = 400 ]
check "... invalid_argument" grep -q '"code":"invalid_argument"' "$T/rb"
printf '{"request":' >"$T/badj"
check "malformed JSON body: 400" [ "$(call a Release application/json "$T/badj" "$T/rbj")" = 400 ]
python3 -c 'print("{\"request\":{\"ori\":\"NY0300000\"},\"records\":[" + "{\"x\":" * 40 + "1" + "}" * 40 + "]}")' >"$T/deep"
check "JSON nested too deep: 429" [ "$(call a Release application/json "$T/deep" "$T/rd")" = 429 ]
check "wrong content type: 400" [ "$(call a Release text/plain "$T/b1" "$T/rt")" = 400 ]
check "no such procedure: 404" [ "$(call a Nope application/proto "$T/b1" "$T/rn")" = 404 ]

# ---- metrics: counts, never content ----
curl -s --unix-socket "$T/a.sock" http://x/metrics >"$T/metrics"
check "metrics: requests by decision and rule" grep -q 'dmvf_requests_total{decision="release",rule="in-state police"}' "$T/metrics"
check "metrics: permission_denied counted" grep -q 'code="permission_denied"} 1' "$T/metrics"
check "metrics: audit step latency" grep -q '^dmvf_audit_step_seconds_count [1-9]' "$T/metrics"
check "metrics: no record content" ! grep -qE 'Doe|CANARY|P0001|NY0300000' "$T/metrics"

# ---- the audit log: REQUEST and RELEASE entries with the client ----
"$cli" audit query "$T/audit" --client message-switch --kind release >"$T/q" 2>/dev/null
check "audit: RELEASE entries name the client" grep -q '"client":"message-switch"' "$T/q"
"$cli" audit query "$T/audit" --ori CA0000001 >"$T/qc" 2>/dev/null
check "audit: the permission_denied request is logged, denied" grep -q '"decision":"deny".*permission denied' "$T/qc"

# ---- the report counts by client what the log holds ----
"$cli" audit query "$T/audit" --client message-switch >"$T/qall" 2>/dev/null
"$cli" audit report "$T/audit" --from 2000-01-01 --to 2099-12-31 --format json >"$T/rep.json" 2>/dev/null
python3 - "$T/qall" "$T/rep.json" <<'PY' && ok "report: the client's row counts its log entries" || bad "report: the client's row counts its log entries"
import json, sys
ents = [json.loads(l) for l in open(sys.argv[1])]
req = [e for e in ents if e["kind"] == "request"]
rel = [e for e in ents if e["kind"] == "release"]
rows = {x["key"]: x for x in json.load(open(sys.argv[2]))["breakdowns"]["client"]}
c = rows.get("message-switch")
want = {"requests": len(req), "released": sum(e["decision"] == "release" for e in req),
        "refused": sum(e["decision"] == "deny" for e in req),
        "records_released": sum(e["records_out"] for e in rel)}
ok = c is not None and len(req) > 3 and all(c[k] == v for k, v in want.items()) and list(rows) == ["message-switch"]
if not ok: print(c, want, list(rows), file=sys.stderr)
sys.exit(0 if ok else 1)
PY
"$cli" audit report "$T/audit" --from 2000-01-01 --to 2099-12-31 --format csv >"$T/rep.csv" 2>/dev/null
check "report csv: a client row" grep -q '^client,message-switch,,' "$T/rep.csv"
"$cli" audit report "$T/audit" --from 2000-01-01 --to 2099-12-31 --format md >"$T/rep.md" 2>/dev/null
check "report md: a By client section" grep -q '^## By client' "$T/rep.md"

# ---- reload: a bad policy keeps the old one; a good one is used ----
pa=$pid
cp "$T/p.yaml" "$T/p.good"
printf 'version: 1\nrules: [' >"$T/p.yaml"
kill -HUP "$pa"
for _ in $(seq 1 100); do grep -q 'reload failed' "$T/a.log" 2>/dev/null && break; sleep 0.05; done
check "bad reload: logged" grep -q 'reload failed' "$T/a.log"
check "bad reload: calls still answered" [ "$(call a Release application/proto "$T/b1" "$T/r3")" = 200 ]
curl -s --unix-socket "$T/a.sock" http://x/metrics | grep -q 'dmvf_reloads_total{result="failed"} 1' &&
    ok "bad reload: counted in metrics" || bad "bad reload: counted in metrics"
serve_policy "$T/p.yaml" 4242424
kill -HUP "$pa"
for _ in $(seq 1 100); do grep -q 'reloaded' "$T/a.log" 2>/dev/null && break; sleep 0.05; done
check "good reload: logged" grep -q 'reloaded' "$T/a.log"
check "after reload the uid is no client: 401" [ "$(call a Release application/proto "$T/b1" "$T/r4")" = 401 ]
check "... unauthenticated" grep -q '"code":"unauthenticated"' "$T/r4"
cp "$T/p.good" "$T/p.yaml"
kill -HUP "$pa"
for _ in $(seq 1 100); do [ "$(grep -c reloaded "$T/a.log")" -ge 2 ] && break; sleep 0.05; done

# ---- SIGTERM during load: drains, exits 0, the log verifies ----
for i in $(seq 1 20); do call a Release application/proto "$T/b1" "$T/load$i" >"$T/load$i.st" & done
sleep 0.2
kill -TERM "$pa"
wait "$pa"; rc=$?
wait
check "SIGTERM: exit 0" [ "$rc" -eq 0 ]
check "SIGTERM: the socket is removed" [ ! -e "$T/a.sock" ]
expect_rc 0 "SIGTERM: the audit log verifies" "$cli" audit verify "$T/audit" --keyring "$T/kr"

# ---- SIGKILL during load: the log verifies; each reply that left has its entry ----
serve_start k "$T/p.yaml" --audit "$T/kaudit" --quiet || exit 1
pk=$pid
for i in $(seq 1 30); do
    body "$T/kb$i" "request_id: \"k$i\" ori: \"NY0300000\" purpose: 1 query_kind: QUERY_KIND_BY_LICENSE" "$T/recs.bin"
done
for i in $(seq 1 30); do call k Release application/proto "$T/kb$i" "$T/kr$i" >"$T/kr$i.st" & done
sleep 0.3
kill -KILL "$pk"
wait 2>/dev/null
"$cli" audit verify "$T/kaudit" --keyring "$T/kr" >/dev/null 2>&1 && ok "SIGKILL: the audit log verifies" ||
    bad "SIGKILL: the audit log verifies"
"$cli" audit query "$T/kaudit" --kind release >"$T/kq" 2>/dev/null
missing=0
for i in $(seq 1 30); do
    if [ "$(cat "$T/kr$i.st" 2>/dev/null)" = 200 ] && ! grep -q "\"request_id\":\"k$i\"" "$T/kq"; then
        missing=$((missing + 1))
    fi
done
check "SIGKILL: every reply that left has its RELEASE entry" [ "$missing" -eq 0 ]

# ---- limits: body size, slow client ----
serve_start l "$T/p.yaml" --quiet --max-body 1K --timeout 1 || exit 1
pl=$pid
check "oversized body: 429" [ "$(call l Release application/proto "$T/b1" "$T/ro")" = 429 ]
check "... resource_exhausted" grep -q '"code":"resource_exhausted"' "$T/ro"
python3 - "$T/l.sock" <<'PY' && ok "a slow client is cut off by the timeout" || bad "a slow client is cut off by the timeout"
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"POST /dmv.v1.ReleaseService/Release HTTP/1.1\r\nHost: x\r\nContent-Type: application/proto\r\nContent-Length: 100\r\n\r\nab")
s.settimeout(10); t0 = time.time()
try:
    while s.recv(4096): pass
except socket.timeout:
    sys.exit(1)
sys.exit(0 if time.time() - t0 < 8 else 1)
PY
check "the service still answers after it" [ "$(call l Explain application/json "$T/jx" "$T/rz")" = 200 ]
kill -TERM "$pl"; wait "$pl"

# ---- an unknown client ----
serve_policy "$T/other.yaml" 4242424
serve_start u "$T/other.yaml" --quiet || exit 1
check "a uid no client has: 401" [ "$(call u Release application/proto "$T/b1" "$T/ru")" = 401 ]
check "... unauthenticated" grep -q '"code":"unauthenticated"' "$T/ru"
kill -TERM "$pid"; wait "$pid"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
