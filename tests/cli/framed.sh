#!/usr/bin/env bash
# framed.sh - `dmvfilter filter --format framed`: streams carrying their own
# requests, one trailer per request, per-request lines on stderr, and the
# exit code over all requests (0 all released, 3 any refused, else 4 any held
# for review); plus exit 4 for a held request in records format.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
policy=$DMVF_SRC/examples/policy.yaml
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-framed.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE

. "$DMVF_SRC/tests/cli_lib.sh"
# frames FILE : one line per frame of a framed stream: "request ID", "record",
# "trailer ID in out decision", or "seal REQUESTS"; each frame is decoded with
# protoc
frames() {
    python3 - "$DMVF_SRC/schema" "$1" <<'EOF'
import re, subprocess, sys
inc, path = sys.argv[1:3]
data = open(path, "rb").read()
i = 0
def field(txt, name):
    m = re.search(r"^\s*%s: (\S+)" % name, txt, re.M)
    return m.group(1).strip('"') if m else "-"
while i < len(data):
    n = shift = 0
    while True:
        if i >= len(data): sys.exit("stream ends inside a length prefix")
        b = data[i]; i += 1
        n |= (b & 0x7f) << shift; shift += 7
        if not b & 0x80: break
    if i + n > len(data): sys.exit("stream ends inside a frame")
    r = subprocess.run(["protoc", "-I" + inc, "--decode", "dmv.v1.Frame", "dmv/v1/request.proto"],
                       input=data[i:i + n], capture_output=True)
    if r.returncode != 0: sys.exit("protoc: " + r.stderr.decode())
    t = r.stdout.decode()
    if t.startswith("request"):
        print("request", field(t, "request_id"))
    elif t.startswith("record"):
        print("record")
    elif t.startswith("trailer"):
        print("trailer", field(t, "request_id"), field(t, "records_in"), field(t, "records_out"),
              field(t, "decision"))
    elif t.startswith("seal"):
        r = field(t, "requests")
        print("seal", "0" if r == "-" else r)
    else:
        print("empty")
    i += n
EOF
}

expect_rc 0 "keys init --unsealed" "$cli" keys init --keyring "$T/kr" --unsealed
# the generated requests are dated 2026-11-22: judged as of that day (the DMV's replay)
F=(--policy "$policy" --keyring "$T/kr" --format framed --date 2026-11-22)

# ---- two police requests in one stream ----
expect_rc 0 "generate a framed stream with two requests" "$gen" --framed --count 10 --seed 5 \
    --requests 2 --request-id pol --ori NY0300000 --agency-kind local --jurisdiction NY \
    --purpose 1 --query-kind by_license --date 20261122 --marked 0.5 --out "$T/two.bin"
frames "$T/two.bin" >"$T/two.in.txt" 2>"$T/err" || bad "decode the generated stream: $(cat "$T/err")"
check "the input has two request frames" [ "$(grep -c '^request' "$T/two.in.txt")" -eq 2 ]
expect_rc 0 "framed: two released requests" "$cli" filter "${F[@]}" --in "$T/two.bin" --out "$T/two.out"
cp "$T/err" "$T/two.err"
if frames "$T/two.out" >"$T/two.txt" 2>"$T/err"; then
    ok "protoc decodes every output frame"
else
    bad "protoc decodes every output frame: $(cat "$T/err")"
fi
check "two trailers" [ "$(grep -c '^trailer' "$T/two.txt")" -eq 2 ]
check "trailers name the requests" grep -q '^trailer pol-1 ' "$T/two.txt"
check "second trailer" grep -q '^trailer pol-2 ' "$T/two.txt"
check "ten released records" [ "$(grep -c '^record' "$T/two.txt")" -eq 10 ]
check "a trailer ends the last request" [ "$(tail -n 2 "$T/two.txt" | head -n 1 | cut -d' ' -f1)" = trailer ]
check "a seal counting two requests ends the release" [ "$(tail -n 1 "$T/two.txt")" = "seal 2" ]
check "one seal" [ "$(grep -c '^seal' "$T/two.txt")" -eq 1 ]
check "trailers count 5 in, 5 out" [ "$(grep -c '^trailer pol-[12] 5 5 DECISION_RELEASE' "$T/two.txt")" -eq 2 ]
check "stderr: a line per request" [ "$(grep -c '^dmvfilter: request pol-[12]: released 5 of 5' "$T/two.err")" -eq 2 ]
check "stderr: summary" grep -q "2 requests: 2 released, 0 refused" "$T/two.err"
"$cli" filter "${F[@]}" --quiet <"$T/two.bin" >"$T/two.stdout" 2>"$T/err"
check "stdin/stdout gives the same bytes" cmp -s "$T/two.out" "$T/two.stdout"
check "--quiet: no lines for released requests" [ ! -s "$T/err" ]
gzip -c "$T/two.bin" >"$T/two.gz"
expect_rc 0 "framed gzip input" "$cli" filter "${F[@]}" --in "$T/two.gz" --out "$T/two.gz.out"
check "framed gzip input gives the same output" cmp -s "$T/two.out" "$T/two.gz.out"

# ---- a refused request among released ones: exit 3 ----
expect_rc 0 "generate an immigration request" "$gen" --framed --count 3 --seed 6 --request-id ice \
    --ori DCICE0100 --agency-kind federal --tag immigration-enforcement \
    --legal-process administrative_subpoena --query-kind by_license --date 20261122 --out "$T/ice.bin"
cat "$T/two.bin" "$T/ice.bin" >"$T/mixed.bin"
expect_rc 3 "framed: one refused request gives 3" "$cli" filter "${F[@]}" --in "$T/mixed.bin" \
    --out "$T/mixed.out"
cp "$T/err" "$T/mixed.err"
frames "$T/mixed.out" >"$T/mixed.txt" 2>/dev/null
check "three trailers" [ "$(grep -c '^trailer' "$T/mixed.txt")" -eq 3 ]
check "the seal counts three requests" [ "$(tail -n 1 "$T/mixed.txt")" = "seal 3" ]
check "the refused request releases no record" grep -qE '^trailer ice (-|[0-9]+) (-|0) ' "$T/mixed.txt"
check "still ten released records" [ "$(grep -c '^record' "$T/mixed.txt")" -eq 10 ]
check "stderr names the refused request" grep -q "request ice: refused by rule" "$T/mixed.err"
grep -q "request ice: reply form" "$T/mixed.err" && ok "stderr names its reply form" || bad "stderr names its reply form"

# ---- bad framed input: 65, no output ----
size=$(stat -c %s "$T/two.bin")
head -c "$((size - 2))" "$T/two.bin" >"$T/cut.bin"
expect_rc 65 "framed: stream cut inside a frame" "$cli" filter "${F[@]}" --in "$T/cut.bin" \
    --out "$T/cut.out"
check "no output file after the failure" [ ! -e "$T/cut.out" ]
check "no temp file after the failure" [ -z "$(ls -A "$T" | grep '\.tmp\.')" ]
expect_rc 0 "framed: empty input" "$cli" filter "${F[@]}" --in /dev/null --out "$T/empty.out"
frames "$T/empty.out" >"$T/empty.txt" 2>/dev/null
check "framed: empty input gives the seal alone" [ "$(cat "$T/empty.txt")" = "seal 0" ]

# ---- held for review: exit 4 (records and framed) ----
cat >"$T/review.yaml" <<'EOF'
version: 1
jurisdiction: NY
review: {spool: review-spool, public_key: reviewers.pub}
profiles:
  basic:
    default: redact
    fields:
      person.family_name: release
requesters:
  - {ori: NYINS0000, name: Empire Mutual Insurance, kind: commercial, jurisdiction: NY}
  - {ori: NYCOURT00, name: New York State Unified Court System, kind: court, jurisdiction: NY}
  - {ori: DCFBI0000, name: Federal Bureau of Investigation, kind: federal, jurisdiction: DC}
rules:
  - name: commercial review
    match: {agency_kind: [commercial]}
    decision: review
    profile: basic
  - name: courts
    match: {agency_kind: [court]}
    decision: release
    profile: basic
EOF
expect_rc 0 "review policy checks" "$cli" policy check "$T/review.yaml"
# the policy's review section names reviewers.pub (beside the policy)
expect_rc 0 "reviewer keys" "$cli" review keygen --secret-key "$T/reviewers.key" \
    --public-key "$T/reviewers.pub"
"$gen" --count 4 --seed 8 --out "$T/rec.bin"
expect_rc 4 "records: held for review" "$cli" filter --policy "$T/review.yaml" --keyring "$T/kr" \
    --ori NYINS0000 --agency-kind commercial --in "$T/rec.bin" --out "$T/review.out"
check "review: empty reply" test -e "$T/review.out" -a ! -s "$T/review.out"
check "review: stderr says held for review" grep -q "held for review by rule 'commercial review'" "$T/err"
expect_rc 0 "records: court released" "$cli" filter --policy "$T/review.yaml" --keyring "$T/kr" \
    --ori NYCOURT00 --agency-kind court --in "$T/rec.bin" --out "$T/court.out"
"$gen" --framed --count 2 --seed 9 --request-id court --ori NYCOURT00 --agency-kind court --out "$T/c.bin"
"$gen" --framed --count 2 --seed 9 --request-id ins --ori NYINS0000 --agency-kind commercial --out "$T/i.bin"
"$gen" --framed --count 2 --seed 9 --request-id fed --ori DCFBI0000 --agency-kind federal --out "$T/f.bin"
cat "$T/c.bin" "$T/i.bin" >"$T/ci.bin"
cat "$T/c.bin" "$T/i.bin" "$T/f.bin" >"$T/cif.bin"
R=(--policy "$T/review.yaml" --keyring "$T/kr" --format framed)
expect_rc 4 "framed: released + held for review gives 4" "$cli" filter "${R[@]}" --in "$T/ci.bin" \
    --out "$T/ci.out"
expect_rc 3 "framed: released + review + refused gives 3" "$cli" filter "${R[@]}" --in "$T/cif.bin" \
    --out "$T/cif.out"
frames "$T/cif.out" >"$T/cif.txt" 2>/dev/null
check "framed: three trailers for three requests" [ "$(grep -c '^trailer' "$T/cif.txt")" -eq 3 ]
check "framed: only the court's records released" [ "$(grep -c '^record' "$T/cif.txt")" -eq 2 ]

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
