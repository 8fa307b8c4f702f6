#!/usr/bin/env bash
# serve_tls.sh - `dmvfilter serve --listen tcp:...` with TLS: a client
# certificate signed by --client-ca whose fingerprint the policy names is
# that client; no certificate is unauthenticated; TLS below 1.2 is refused.
set -u
: "${DMVF_CLI:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-serve-tls.XXXXXX") || exit 1
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE
. "$DMVF_SRC/tests/cli_lib.sh"
command -v curl >/dev/null && command -v openssl >/dev/null ||
    { echo "ok   - # SKIP curl or openssl is not installed"; exit 0; }
tls_ca "$T" test-ca || bad "make a CA"
tls_cert "$T" srv localhost || bad "server certificate"
tls_cert "$T" cl client || bad "client certificate"
tls_cert "$T" other other || bad "a second client certificate"
fp=$(openssl x509 -in "$T/cl.pem" -outform der | sha256sum | cut -d' ' -f1)
cp "$DMVF_SRC/examples/policy.yaml" "$T/p.yaml"
printf 'clients:\n  - name: portal\n    tls_fingerprint: "sha256:%s"\n    oris: [NY0300000]\n' "$fp" >>"$T/p.yaml"
"$cli" keys init --keyring "$T/kr" --unsealed >/dev/null 2>&1 || bad "keys init"
# a port picked at random, below the kernel's ephemeral range (32768 on);
# one another process holds is tried again with the next pick (5 at most)
for try in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 12000))
    "$cli" serve --policy "$T/p.yaml" --keyring "$T/kr" --listen "tcp:127.0.0.1:$port" --tls-cert "$T/srv.pem" \
        --tls-key "$T/srv.key" --client-ca "$T/ca.pem" --date 2026-11-22 --quiet 2>"$T/log" &
    pid=$!
    C=(-s --resolve "localhost:$port:127.0.0.1" --cacert "$T/ca.pem")
    U=https://localhost:$port
    for _ in $(seq 1 300); do
        curl "${C[@]}" --cert "$T/cl.pem" --key "$T/cl.key" -f "$U/healthz" >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && break
    wait "$pid"
    grep -q "Address already in use" "$T/log" || break
done
J='{"request":{"requestId":"t1","ori":"NY0300000","purpose":1,"queryKind":"QUERY_KIND_BY_LICENSE"},"records":[{"record_id":"X1","person":{"family_name":"Doe"}}]}'
rel() { curl "${C[@]}" "$@" -o "$T/out" -w '%{http_code}' -H 'Content-Type: application/json' -d "$J" \
    "$U/dmv.v1.ReleaseService/Release"; }
check "the client's certificate: 200" [ "$(rel --cert "$T/cl.pem" --key "$T/cl.key")" = 200 ]
check "... released" grep -q '"family_name":"Doe"' "$T/out"
check "no client certificate: 401" [ "$(rel)" = 401 ]
check "a certificate no client has: 401" [ "$(rel --cert "$T/other.pem" --key "$T/other.key")" = 401 ]
check "TLS 1.1 is refused" [ "$(curl "${C[@]}" --tls-max 1.1 -o /dev/null -w '%{http_code}' "$U/healthz")" = 000 ]
expect_rc 64 "TLS listener without its files is a usage error" "$cli" serve --policy "$T/p.yaml" \
    --keyring "$T/kr" --listen "tcp:127.0.0.1:$((port + 1))"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check "SIGTERM: exit 0" [ "$rc" -eq 0 ]
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
