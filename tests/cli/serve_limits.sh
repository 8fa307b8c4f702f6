#!/usr/bin/env bash
# serve_limits.sh - the limits of `dmvfilter serve` that hold a resource:
# calls in flight (--max-in-flight: one more is resource_exhausted, 429,
# nothing released, no audit entry), open connections (--max-connections:
# one more gets no reply while the others are open, and is answered once
# they close) and header memory (--max-header-bytes: a larger header gets
# no release and no audit entry). The connections are held open by slow
# clients in the background (python3 sockets that send part of a call and
# wait); every wait is on a condition (the metrics, a file), never a fixed
# sleep, so that a loaded machine only makes the test slower.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
. "$DMVF_SRC/tests/cli_lib.sh"
serve_prelude serve-limits
command -v curl >/dev/null || { echo "ok   - # SKIP curl is not installed"; exit 0; }

serve_policy "$T/p.yaml" "$(id -u)"
"$cli" keys init --keyring "$T/kr" --unsealed >/dev/null 2>&1 || bad "keys init"
printf '%s' '{"request":{"requestId":"j1","ori":"NY0300000","purpose":1,"queryKind":"QUERY_KIND_BY_LICENSE"},
  "records":[{"record_id":"X1","person":{"family_name":"Doe"}}]}' >"$T/j1"

# start NAME [flags]: a service on $T/NAME.sock with its audit log $T/NAME.audit
start() { local name=$1; shift; serve_start "$name" "$T/p.yaml" --audit "$T/$name.audit" --quiet "$@"; }
# call NAME OUT [curl args]: a JSON Release; the status on stdout ("000": no reply)
call() {
    local name=$1 out=$2; shift 2
    curl -s --unix-socket "$T/$name.sock" -o "$out" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary @"$T/j1" "$@" http://x/dmv.v1.ReleaseService/Release
}
# metric NAME GAUGE: its value now
metric() { curl -s --unix-socket "$T/$1.sock" http://x/metrics | sed -n "s/^$2 //p"; }
# wait_for DESCRIPTION COMMAND...: until COMMAND succeeds (at most 60 s)
wait_for() {
    local what=$1; shift
    for _ in $(seq 1 1200); do "$@" && return 0; sleep 0.05; done
    bad "timed out waiting: $what"
    return 1
}
entries() { "$cli" audit query "$T/$1.audit" 2>/dev/null | wc -l; }
# hold SOCK READY N [PARTIAL]: N connections held open in the background
# until $T/release exists; PARTIAL: each sends the headers of a call and
# half of its body first. READY is written once all are connected (and sent).
hold() {
    python3 - "$@" <<'PY' &
import os, socket, sys, time
sock, ready, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
partial = len(sys.argv) > 4
conns = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    if partial:
        s.sendall(b"POST /dmv.v1.ReleaseService/Release HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"request\":")
    conns.append(s)
open(ready, "w").close()
release = os.path.join(os.path.dirname(ready), "release")
while not os.path.exists(release):
    time.sleep(0.05)
for s in conns:
    s.close()
PY
    pids+=("$!")
    holder=$!
}

# ---- in flight: one call whose body is still arriving holds the only slot ----
start f --max-in-flight 1 --timeout 60 || exit 1
pf=$pid
check "a call is released before the limit is reached" [ "$(call f "$T/r0")" = 200 ]
before=$(entries f)
rm -f "$T/release"
hold "$T/f.sock" "$T/f.ready" 1 partial
wait_for "the slow call is connected" test -e "$T/f.ready"
in_flight_is() { [ "$(metric f dmvf_in_flight)" = "$1" ]; }
wait_for "the slow call is in flight" in_flight_is 1
check "one call more: 429" [ "$(call f "$T/r1")" = 429 ]
check "... resource_exhausted" grep -q '"code":"resource_exhausted"' "$T/r1"
check "... too many calls in flight" grep -q 'too many calls in flight' "$T/r1"
check "... nothing released" ! grep -q 'Doe' "$T/r1"
check "... the audit log is unchanged" [ "$(entries f)" -eq "$before" ]
curl -s --unix-socket "$T/f.sock" http://x/metrics >"$T/fm"
check "... counted in metrics" grep -q 'code="resource_exhausted"} 1' "$T/fm"
touch "$T/release"
wait "$holder" 2>/dev/null
wait_for "the slot is free again" in_flight_is 0
check "after the slow call is gone a call is released" [ "$(call f "$T/r2")" = 200 ]
check "... with its REQUEST and RELEASE entries" [ "$(entries f)" -eq $((before + 2)) ]
kill -TERM "$pf"; wait "$pf"
expect_rc 0 "in flight: the audit log verifies" "$cli" audit verify "$T/f.audit" --keyring "$T/kr"

# ---- connections: two held open fill --max-connections 2 ----
start c --max-connections 2 --threads 1 --timeout 60 || exit 1
pc=$pid
before=$(entries c)
rm -f "$T/release"
hold "$T/c.sock" "$T/c.ready1" 1
wait_for "the first idle connection is held" test -e "$T/c.ready1"
h1=$holder
conns_are() { [ "$(metric c dmvf_connections)" = "$1" ]; }
wait_for "the service counts it (and the metrics call)" conns_are 2
hold "$T/c.sock" "$T/c.ready2" 1
wait_for "the second idle connection is held" test -e "$T/c.ready2"
h2=$holder
st=$(call c "$T/rc1" --max-time 3)
check "one connection more gets no reply while both are open" [ "$st" = 000 ]
check "... nothing released" ! grep -qs 'Doe' "$T/rc1"
touch "$T/release"
wait "$h1" "$h2" 2>/dev/null
released() { [ "$(call c "$T/rc2" --max-time 5)" = 200 ]; }
wait_for "a call is answered once they close" released && ok "a call is answered once the held connections close"
check "... the refused connection left no audit entry" [ "$(entries c)" -eq $((before + 2)) ]
kill -TERM "$pc"; wait "$pc"

# ---- header size: more than --max-header-bytes ----
start h --max-header-bytes 8K || exit 1
ph=$pid
before=$(entries h)
pad=$(head -c 20000 /dev/zero | tr '\0' a)
st=$(call h "$T/rh" -H "X-Pad: $pad")
check "a header larger than the limit is refused (431 or 413: $st)" [ "$st" = 431 ] || [ "$st" = 413 ]
check "... nothing released" ! grep -qs 'Doe' "$T/rh"
check "... the audit log is unchanged" [ "$(entries h)" -eq "$before" ]
check "a header within the limit is answered" [ "$(call h "$T/rh2" -H "X-Pad: ${pad:0:2000}")" = 200 ]
kill -TERM "$ph"; wait "$ph"
expect_rc 0 "header size: the audit log verifies" "$cli" audit verify "$T/h.audit" --keyring "$T/kr"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
