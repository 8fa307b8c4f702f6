#!/usr/bin/env bash
# filter.sh - `dmvfilter filter` end to end on generated records and the
# example policy: the three requesters, exit codes, gzip in and out, failures
# that must leave no output file, and protoc decoding what was released.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
policy=$DMVF_SRC/examples/policy.yaml
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-filter.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE

. "$DMVF_SRC/tests/cli_lib.sh"
absent() { # absent DESCRIPTION FILE: the file and any temp file beside it are absent
    if [ ! -e "$2" ] && ! ls -A "$(dirname "$2")" | grep -q '\.tmp\.'; then
        ok "$1: no output file"
    else
        bad "$1: output file or temp file left behind"
    fi
}
# decode TYPE PROTO FILE : each varint-delimited message of FILE as protoc text,
# separated by lines "#msg N"; exit 1 on a malformed stream or a protoc failure
decode() {
    python3 - "$DMVF_SRC/schema" "$1" "$2" "$3" <<'EOF'
import subprocess, sys
inc, mtype, proto, path = sys.argv[1:5]
data = open(path, "rb").read()
i = k = 0
while i < len(data):
    n = shift = 0
    while True:
        if i >= len(data): sys.exit("stream ends inside a length prefix")
        b = data[i]; i += 1
        n |= (b & 0x7f) << shift; shift += 7
        if not b & 0x80: break
    if i + n > len(data): sys.exit("stream ends inside a message")
    r = subprocess.run(["protoc", "-I" + inc, "--decode", mtype, proto],
                       input=data[i:i + n], capture_output=True)
    if r.returncode != 0: sys.exit("protoc: " + r.stderr.decode())
    print("#msg %d" % k); sys.stdout.write(r.stdout.decode())
    i += n; k += 1
EOF
}

police=(--ori NY0300000 --agency-kind local --jurisdiction NY --purpose 1
        --query-kind by_license --request-id t-police --date 2026-11-22)
ice=(--ori DCICE0100 --agency-kind federal --tag immigration-enforcement
     --legal-process administrative_subpoena --query-kind by_license --request-id t-ice
     --date 2026-11-22)
research=(--ori NYUNIV000 --agency-kind research --purpose 5 --query-kind list
          --request-id t-research --date 2026-11-22)

# ---- setup: keyring, records ----
expect_rc 0 "keys init --unsealed" "$cli" keys init --keyring "$T/kr" --unsealed
check "unsealed keyring has mode 0600" [ "$(stat -c %a "$T/kr")" = 600 ]
expect_rc 0 "generate 40 records" "$gen" --count 40 --seed 7 --marked 0.5 --out "$T/rec.bin"
check "records generated" [ -s "$T/rec.bin" ]
expect_rc 0 "policy check examples/policy.yaml" "$cli" policy check "$policy"
grep -q ": OK$" "$T/stdout" && ok "policy check says OK" || bad "policy check says OK"
F=(--policy "$policy" --keyring "$T/kr")

# ---- the three requesters ----
expect_rc 0 "in-state police gets records" "$cli" filter "${F[@]}" "${police[@]}" \
    --in "$T/rec.bin" --out "$T/police.bin"
check "police output is not empty" [ -s "$T/police.bin" ]
check "output file is mode 0600" [ "$(stat -c %a "$T/police.bin")" = 600 ]
grep -q "released [0-9]* of 40 records (rule '" "$T/err" && ok "summary line" \
    || bad "summary line: $(cat "$T/err")"
expect_rc 3 "immigration without court order is refused" "$cli" filter "${F[@]}" "${ice[@]}" \
    --in "$T/rec.bin" --out "$T/ice.bin"
check "refusal still writes the (empty) reply" [ -e "$T/ice.bin" ]
check "refusal reply is empty" [ ! -s "$T/ice.bin" ]
grep -q "refused" "$T/err" && ok "stderr says refused" || bad "stderr says refused"
grep -q "reply form" "$T/err" && ok "stderr names the reply form" || bad "stderr names the reply form"
if grep -q "not-found" "$T/err"; then
    grep -q "refused, although the requester sees a miss" "$T/err" \
        && ok "not-found refusal: operator told it was refused" || bad "not-found operator message"
fi
expect_rc 0 "researcher gets records" "$cli" filter "${F[@]}" "${research[@]}" \
    --in "$T/rec.bin" --out "$T/research.bin"
check "research output is not empty" [ -s "$T/research.bin" ]
check "research release differs from police release" ! cmp -s "$T/research.bin" "$T/police.bin"

# ---- stdin/stdout and determinism ----
"$cli" filter "${F[@]}" "${police[@]}" --quiet <"$T/rec.bin" >"$T/police2.bin" 2>"$T/err"
check "stdin to stdout gives the same bytes as --in/--out" cmp -s "$T/police.bin" "$T/police2.bin"
check "--quiet prints nothing on success" [ ! -s "$T/err" ]

# ---- protoc decodes what was released; no marking leaves ----
if decode dmv.v1.DriverRecord dmv/v1/record.proto "$T/rec.bin" >"$T/rec.txt" 2>"$T/err"; then
    ok "protoc decodes the input"
else
    bad "protoc decodes the input: $(cat "$T/err")"
fi
check "the input carries marking (the next checks can fail)" grep -q "marking {" "$T/rec.txt"
if decode dmv.v1.DriverRecord dmv/v1/record.proto "$T/police.bin" >"$T/police.txt" 2>"$T/err"; then
    ok "protoc --decode dmv.v1.DriverRecord decodes every released record"
else
    bad "protoc decodes the release: $(cat "$T/err")"
fi
check "released records counted by decode" [ "$(grep -c '^#msg' "$T/police.txt")" -gt 0 ]
# pseudonyms and encrypted tokens (PREFIX.base32 / PREFIX.base64url) are
# blanked first: random base64url holds "AB60" or "TVDL" about once in 5,000
# runs of this test, and a token's plaintext cannot be read there anyway
untoken() { sed -E 's/"[A-Z][0-9]{4}\.[A-Za-z0-9_-]{20,}"/"<token>"/g' "$1"; }
check "tokens were blanked (the pattern matches)" grep -q '"<token>"' <(untoken "$T/police.txt")
check "no marking in the police release" ! grep -qE "marking \{|FEDERAL LIMITS|AB60|TVDL" <(untoken "$T/police.txt")
decode dmv.v1.DriverRecord dmv/v1/record.proto "$T/research.bin" >"$T/research.txt" 2>/dev/null
check "research: encrypted tokens were blanked" grep -q '"<token>"' <(untoken "$T/research.txt")
check "no marking in the research release" ! grep -qE "marking \{|FEDERAL LIMITS|AB60|TVDL" <(untoken "$T/research.txt")

# ---- gzip in and out ----
gzip -c "$T/rec.bin" >"$T/rec.gz"
expect_rc 0 "gzip input" "$cli" filter "${F[@]}" "${police[@]}" --in "$T/rec.gz" --out "$T/pgz.bin"
check "gzip input gives the same output as plain" cmp -s "$T/police.bin" "$T/pgz.bin"
half=$(( $(stat -c %s "$T/rec.bin") / 2 ))
{ head -c "$half" "$T/rec.bin" | gzip -c; tail -c +"$((half + 1))" "$T/rec.bin" | gzip -c; } >"$T/multi.gz"
expect_rc 0 "multi-member gzip input" "$cli" filter "${F[@]}" "${police[@]}" <"$T/multi.gz"
cp "$T/stdout" "$T/pmulti.bin"
check "multi-member gzip gives the same output as plain" cmp -s "$T/police.bin" "$T/pmulti.bin"
expect_rc 0 "--gzip output" "$cli" filter "${F[@]}" "${police[@]}" --in "$T/rec.bin" --gzip \
    --out "$T/police.bin.gz"
check "--gzip output is gzip" [ "$(head -c 2 "$T/police.bin.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ]
check "--gzip output gunzips to the plain output" cmp -s <(gzip -dc "$T/police.bin.gz") "$T/police.bin"
expect_rc 3 "refusal with --gzip" "$cli" filter "${F[@]}" "${ice[@]}" --in "$T/rec.bin" --gzip \
    --out "$T/ice.bin.gz"
check "refusal with --gzip gunzips to nothing" [ "$(gzip -dc "$T/ice.bin.gz" | wc -c)" -eq 0 ]

# ---- bad input: 65, and the named output never appears ----
size=$(stat -c %s "$T/rec.bin")
head -c "$((size - 3))" "$T/rec.bin" >"$T/trunc.bin"
mkdir -p "$T/o"
expect_rc 65 "truncated record stream" "$cli" filter "${F[@]}" "${police[@]}" --in "$T/trunc.bin" \
    --out "$T/o/trunc.out"
grep -qE "malformed record at byte offset [0-9]+ \(record [0-9]+\)" "$T/err" \
    && ok "error names byte offset and record" || bad "error names byte offset and record: $(cat "$T/err")"
absent "truncated stream" "$T/o/trunc.out"
{ printf '\037\213\010\000'; head -c 200 /dev/zero | tr '\0' 'x'; } >"$T/garbage.gz"
expect_rc 65 "gzip garbage" "$cli" filter "${F[@]}" "${police[@]}" --in "$T/garbage.gz" \
    --out "$T/o/garbage.out"
grep -q "gzip: .* at compressed byte offset [0-9]" "$T/err" && ok "gzip error names the offset" \
    || bad "gzip error names the offset: $(cat "$T/err")"
absent "gzip garbage" "$T/o/garbage.out"
head -c "$(( $(stat -c %s "$T/rec.gz") - 10 ))" "$T/rec.gz" >"$T/trunc.gz"
expect_rc 65 "truncated gzip" "$cli" filter "${F[@]}" "${police[@]}" --in "$T/trunc.gz" \
    --out "$T/o/tgz.out"
absent "truncated gzip" "$T/o/tgz.out"
expect_rc 65 "record larger than --max-record-bytes" "$cli" filter "${F[@]}" "${police[@]}" \
    --max-record-bytes 16 --in "$T/rec.bin" --out "$T/o/big.out"
absent "record too large" "$T/o/big.out"
# a good record, then a record of three 0xff bytes (malformed), then the rest
python3 - "$T/rec.bin" "$T/bad.bin" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
n = shift = i = 0
while True:
    b = d[i]; i += 1; n |= (b & 0x7f) << shift; shift += 7
    if not b & 0x80: break
open(sys.argv[2], "wb").write(d[:i + n] + b"\x03\xff\xff\xff" + d[i + n:])
EOF
expect_rc 65 "malformed record" "$cli" filter "${F[@]}" "${police[@]}" --in "$T/bad.bin" \
    --out "$T/o/bad.out"
grep -q "(record 1)" "$T/err" && ok "malformed record is record 1" || bad "malformed record index: $(cat "$T/err")"
absent "malformed record" "$T/o/bad.out"
expect_rc 0 "--drop-malformed" "$cli" filter "${F[@]}" "${police[@]}" --drop-malformed \
    --in "$T/bad.bin" --out "$T/o/dropped.out"
check "--drop-malformed releases the good records as before" cmp -s "$T/o/dropped.out" "$T/police.bin"
grep -q "1 malformed dropped" "$T/err" && ok "summary counts the dropped record" \
    || bad "summary counts the dropped record: $(cat "$T/err")"
rm -f "$T/o/dropped.out"

# ---- empty input: a release of nothing ----
: >"$T/empty.bin"
expect_rc 0 "empty input" "$cli" filter "${F[@]}" "${police[@]}" --in "$T/empty.bin" --out "$T/empty.out"
check "empty input gives an empty output file" test -e "$T/empty.out" -a ! -s "$T/empty.out"

# ---- bad policy: 78, nothing written ----
printf 'version: 1\nrules:\n  - name: x\n    match: {agency_kind: [nonsense]}\n    profile: nope\n' >"$T/bad.yaml"
expect_rc 78 "bad policy file" "$cli" filter --policy "$T/bad.yaml" --keyring "$T/kr" "${police[@]}" \
    --in "$T/rec.bin" --out "$T/o/pol.out"
grep -qE "bad\.yaml:[0-9]+:[0-9]+" "$T/err" && ok "policy error has file:line:column" \
    || bad "policy error has file:line:column: $(cat "$T/err")"
absent "bad policy" "$T/o/pol.out"
expect_rc 78 "policy check of a bad policy" "$cli" policy check "$T/bad.yaml"
expect_rc 78 "missing policy file" "$cli" filter --policy "$T/none.yaml" --keyring "$T/kr" \
    "${police[@]}" --in "$T/rec.bin" --out "$T/o/pol2.out"
absent "missing policy" "$T/o/pol2.out"
"$cli" filter --policy "$T/bad.yaml" --keyring "$T/kr" "${police[@]}" <"$T/rec.bin" >"$T/stdout.bin" 2>/dev/null
check "bad policy: not a byte on stdout" [ ! -s "$T/stdout.bin" ]

# ---- bad keyring: 79, nothing written ----
expect_rc 79 "missing keyring" "$cli" filter --policy "$policy" --keyring "$T/none.kr" "${police[@]}" \
    --in "$T/rec.bin" --out "$T/o/kr.out"
grep -q "none.kr" "$T/err" && ok "keyring error names the file" || bad "keyring error names the file"
absent "missing keyring" "$T/o/kr.out"
cp "$T/kr" "$T/kr644" && chmod 644 "$T/kr644"
expect_rc 79 "keyring readable by others" "$cli" filter --policy "$policy" --keyring "$T/kr644" \
    "${police[@]}" --in "$T/rec.bin" --out "$T/o/kr644.out"
absent "keyring 0644" "$T/o/kr644.out"
head -c 40 "$T/kr" >"$T/krcut" && chmod 600 "$T/krcut"
expect_rc 79 "corrupt keyring" "$cli" filter --policy "$policy" --keyring "$T/krcut" "${police[@]}" \
    --in "$T/rec.bin" --out "$T/o/krcut.out"
absent "corrupt keyring" "$T/o/krcut.out"

# ---- sealed keyring ----
DMVFILTER_PASSPHRASE='correct horse' expect_rc 0 "keys init sealed (env passphrase)" \
    "$cli" keys init --keyring "$T/sealed"
printf 'correct horse\n' >"$T/pass.ok"
printf 'wrong horse\n' >"$T/pass.bad"
expect_rc 0 "sealed keyring with --passphrase-file" "$cli" filter --policy "$policy" \
    --keyring "$T/sealed" --passphrase-file "$T/pass.ok" "${police[@]}" --in "$T/rec.bin" \
    --out "$T/sealed.out"
check "sealed keyring: records released" [ -s "$T/sealed.out" ]
expect_rc 79 "wrong passphrase" "$cli" filter --policy "$policy" --keyring "$T/sealed" \
    --passphrase-file "$T/pass.bad" "${police[@]}" --in "$T/rec.bin" --out "$T/o/wrong.out"
absent "wrong passphrase" "$T/o/wrong.out"
expect_rc 79 "sealed keyring without a passphrase" env -u DMVFILTER_PASSPHRASE "$cli" filter \
    --policy "$policy" --keyring "$T/sealed" "${police[@]}" --in "$T/rec.bin" --out "$T/o/nopass.out"
absent "no passphrase" "$T/o/nopass.out"

# ---- I/O failures: 74 ----
expect_rc 74 "missing input file" "$cli" filter "${F[@]}" "${police[@]}" --in "$T/none.bin" \
    --out "$T/o/in.out"
absent "missing input" "$T/o/in.out"
expect_rc 74 "output directory does not exist" "$cli" filter "${F[@]}" "${police[@]}" \
    --in "$T/rec.bin" --out "$T/nodir/x.out"
expect_rc 74 "output is a directory" "$cli" filter "${F[@]}" "${police[@]}" --in "$T/rec.bin" --out "$T/o"
for _ in 1 2 3 4 5 6 7 8; do cat "$T/rec.bin"; done >"$T/rec8.bin"
for _ in 1 2 3 4 5 6 7 8; do cat "$T/rec8.bin"; done >"$T/rec64.bin"
# (the researcher: no record limit, so output streams while input is read;
# ~40,000 records give several MB of output, more than any pipe buffer holds)
for _ in $(seq 16); do cat "$T/rec64.bin"; done >"$T/rec1k.bin"
"$cli" filter "${F[@]}" "${research[@]}" --in "$T/rec1k.bin" 2>"$T/err" | head -c 1 >/dev/null
rc=${PIPESTATUS[0]}
[ "$rc" -eq 74 ] && ok "closed pipe on stdout (EPIPE) exits 74" || bad "EPIPE exit $rc, want 74"

# ---- a named output is replaced only on success ----
echo "previous contents" >"$T/keep.out"
expect_rc 65 "failure over an existing output" "$cli" filter "${F[@]}" "${police[@]}" \
    --in "$T/trunc.bin" --out "$T/keep.out"
check "existing output untouched by a failure" grep -q "previous contents" "$T/keep.out"
expect_rc 0 "success over an existing output" "$cli" filter "${F[@]}" "${police[@]}" \
    --in "$T/rec.bin" --out "$T/keep.out"
check "existing output replaced on success" cmp -s "$T/keep.out" "$T/police.bin"
check "no temp files left behind" [ -z "$(ls -A "$T" "$T/o" | grep '\.tmp\.')" ]

# ---- requested fields, explain ----
expect_rc 64 "--field outside the schema" "$cli" filter "${F[@]}" "${police[@]}" \
    --field no.such.field --in "$T/rec.bin" --out "$T/o/field.out"
absent "bad --field" "$T/o/field.out"
expect_rc 0 "--field person.family_name" "$cli" filter "${F[@]}" "${police[@]}" \
    --field person.family_name --in "$T/rec.bin" --out "$T/field.out"
decode dmv.v1.DriverRecord dmv/v1/record.proto "$T/field.out" >"$T/field.txt" 2>/dev/null
check "--field releases only that field" [ "$(grep -vE '^#msg|^person \{|^\}|^  family_name:' "$T/field.txt" | wc -l)" -eq 0 ]
check "--field release keeps the family name" grep -q "family_name" "$T/field.txt"
expect_rc 0 "policy explain for the police" "$cli" policy explain "$policy" "${police[@]}"
check "explain prints something" [ -s "$T/stdout" ]

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
