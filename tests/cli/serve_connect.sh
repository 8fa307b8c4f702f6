#!/usr/bin/env bash
# serve_connect.sh - `dmvfilter serve` called by a Connect client nobody here
# wrote: @connectrpc/connect-node and @bufbuild/protobuf from npm
# (tests/connect/package-lock.json, installed by `scripts/dev test`), the
# messages and the service generated from schema/dmv/v1/service.proto by
# protoc-gen-es and protoc at test time. tests/connect/client.mjs makes the
# calls (binary and JSON releases against `filter --format framed`, Explain,
# twins, canary, not-found, permission_denied, unauthenticated, an oversized
# body); this script starts the services, runs it, checks its report, then
# checks the DMV side: the audit log verifies and holds what the client could
# not see.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
C=$DMVF_SRC/tests/connect
. "$DMVF_SRC/tests/cli_lib.sh"
serve_prelude serve-connect

# No silent pass: the client is part of the suite, installed by `scripts/dev test`.
missing() { echo "FAIL - $*; run scripts/dev test (it installs npm and runs npm ci in tests/connect)"; exit 1; }
command -v node >/dev/null || missing "node is not installed"
command -v protoc >/dev/null || missing "protoc is not installed"
command -v curl >/dev/null || missing "curl is not installed"
[ -x "$C/node_modules/.bin/protoc-gen-es" ] && [ -d "$C/node_modules/@connectrpc/connect-node" ] ||
    missing "tests/connect/node_modules is missing"
[ "$(cat "$C/node_modules/.dmvf-lock-sha256" 2>/dev/null)" = "$(sha256sum <"$C/package-lock.json" | cut -d' ' -f1)" ] ||
    missing "tests/connect/node_modules is not from the committed package-lock.json"

# The generated code lives in $T; its imports of @bufbuild/protobuf resolve
# through $T/node_modules to the installed packages.
ln -s "$C/node_modules" "$T/node_modules"
mkdir "$T/gen"
protoc -I"$DMVF_SRC/schema" --plugin=protoc-gen-es="$C/node_modules/.bin/protoc-gen-es" --es_out="$T/gen" \
    --es_opt=target=js,import_extension=js dmv/v1/service.proto dmv/v1/request.proto dmv/v1/record.proto \
    2>"$T/err" || bad "protoc-gen-es: $(cat "$T/err")"
check "protoc-gen-es generated service_pb.js" grep -q 'export const ReleaseService' "$T/gen/dmv/v1/service_pb.js"

uid=$(id -u)
serve_policy "$T/p.yaml" "$uid"
serve_policy "$T/other.yaml" 4242424
"$cli" keys init --keyring "$T/kr" --unsealed >/dev/null 2>&1 || bad "keys init"

serve_start a "$T/p.yaml" --quiet --audit "$T/audit" || exit 1
serve_start l "$T/p.yaml" --quiet --max-body 1K || exit 1
serve_start u "$T/other.yaml" --quiet || exit 1

"$gen" --count 5 --seed 7 --marked 0.5 --twins "$T/twins.bin" --out "$T/recs.bin"
node "$C/client.mjs" prepare "$T/gen" "$T" 2>"$T/err" || bad "client.mjs prepare: $(cat "$T/err")"
"$cli" filter --policy "$T/p.yaml" --keyring "$T/kr" --format framed --date 2026-11-22 --quiet \
    --in "$T/framed.in" --out "$T/framed.out" 2>"$T/err" || bad "filter --format framed: $(cat "$T/err")"

node "$C/client.mjs" check "$T/gen" "$T" >"$T/client.out" 2>"$T/client.err"
rc=$?
sed 's/^/  client: /' "$T/client.out"
[ -s "$T/client.err" ] && sed 's/^/  client stderr: /' "$T/client.err" | head -20
check "the client exits 0" [ "$rc" -eq 0 ]
check "the client reports no failure" ! grep -q '^FAIL' "$T/client.out"
# every check ran: a client that stopped early reports fewer
check "the client ran its 43 checks" grep -qx '43 passed, 0 failed' "$T/client.out"

# ---- the DMV side: what the client could not tell apart is in the log ----
"$cli" audit query "$T/audit" --ori DCICE0100 >"$T/q" 2>/dev/null
check "not-found: the log tells the refusal from the miss" grep -q '"decision":"deny"' "$T/q"
check "not-found: ... and has the miss released" grep -q '"decision":"release"' "$T/q"
"$cli" audit query "$T/audit" --ori CA0000001 >"$T/qc" 2>/dev/null
check "permission_denied: audited, denied, with the client's name" \
    grep -q '"client":"message-switch".*"decision":"deny"\|"decision":"deny".*"client":"message-switch"' "$T/qc"
curl -s --unix-socket "$T/u.sock" http://x/metrics >"$T/metrics.u"
check "unauthenticated: counted" grep -q 'code="unauthenticated"} [1-9]' "$T/metrics.u"
curl -s --unix-socket "$T/l.sock" http://x/metrics >"$T/metrics.l"
check "resource_exhausted: counted" grep -q 'code="resource_exhausted"} [1-9]' "$T/metrics.l"
for p in "${pids[@]}"; do kill -TERM "$p"; wait "$p" || bad "service $p: exit $?"; done
pids=()
expect_rc 0 "the audit log verifies" "$cli" audit verify "$T/audit" --keyring "$T/kr"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
