#!/usr/bin/env bash
# verify.sh - signed releases end to end: `dmvfilter keys export-public`
# writes the public key, `dmvfilter filter --format framed` writes a signed
# release, `dmvfilter verify --public-key PUB` accepts it (exit 0, with the
# request count, byte count and key) and refuses it with exit 5 once any
# byte is changed, cut, appended, or when the key is another keyring's;
# malformed bytes exit 65, usage errors 64, I/O errors 74.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
policy=$DMVF_SRC/examples/policy.yaml
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-verify.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE

. "$DMVF_SRC/tests/cli_lib.sh"

# ---- help and usage ----
expect_rc 0 "verify --help" "$cli" verify --help
check "verify --help names its flags and exit 5" grep -q -- "--public-key" "$T/stdout"
check "verify --help names --in" grep -q -- "--in F" "$T/stdout"
check "verify --help names exit 5" grep -q "5 does not verify" "$T/stdout"
expect_rc 0 "help verify" "$cli" help verify
check "help verify prints the usage" grep -q "usage: dmvfilter verify" "$T/stdout"
expect_rc 0 "top help lists verify" "$cli" --help
check "top help lists verify and export-public" grep -q "keys export-public" "$T/stdout"
expect_rc 64 "verify: no --public-key" "$cli" verify --in /dev/null
check "the usage error says what is missing" grep -q -- "--public-key is required" "$T/err"
expect_rc 64 "verify: unknown flag" "$cli" verify --public-key x --bogus
expect_rc 64 "verify: a positional argument" "$cli" verify --public-key x release.bin
expect_rc 64 "verify: --public-key without a value" "$cli" verify --public-key
expect_rc 0 "keys export-public --help" "$cli" keys export-public --help
check "keys help names export-public" grep -q "export-public" "$T/stdout"
expect_rc 64 "export-public: no --keyring" "$cli" keys export-public
expect_rc 64 "export-public: unknown flag" "$cli" keys export-public --keyring "$T/kr" --bogus

# ---- a keyring, its public key, a signed release ----
expect_rc 0 "keys init --unsealed" "$cli" keys init --keyring "$T/kr" --unsealed
expect_rc 79 "export-public: a missing keyring" "$cli" keys export-public --keyring "$T/nokr"
expect_rc 0 "export-public to stdout" "$cli" keys export-public --keyring "$T/kr"
check "stdout is one public key line" grep -qE '^dmvfilter-ed25519 [0-9a-f]{64}$' "$T/stdout"
check "stdout is one line" [ "$(wc -l <"$T/stdout")" -eq 1 ]
cp "$T/stdout" "$T/pub.stdout"
expect_rc 0 "export-public --out" "$cli" keys export-public --keyring "$T/kr" --out "$T/pub"
check "--out writes the same key" cmp -s "$T/pub" "$T/pub.stdout"
expect_rc 74 "export-public --out: the file exists" "$cli" keys export-public --keyring "$T/kr" \
    --out "$T/pub"
check "the existing file is kept" cmp -s "$T/pub" "$T/pub.stdout"
hex=$(cut -d' ' -f2 "$T/pub")

"$gen" --framed --count 8 --seed 31 --requests 2 --request-id pol --ori NY0300000 \
    --agency-kind local --jurisdiction NY --purpose 1 --query-kind by_license --date 20261122 \
    --out "$T/pol.bin"
"$gen" --framed --count 2 --seed 32 --request-id ice --ori DCICE0100 --agency-kind federal \
    --tag immigration-enforcement --legal-process administrative_subpoena \
    --query-kind by_license --date 20261122 --out "$T/ice.bin"
cat "$T/pol.bin" "$T/ice.bin" >"$T/in.bin"
# judged on the requests' own day: they are dated 2026-11-22, and on another
# clock every one of them would be refused as backdated
F=(--policy "$policy" --keyring "$T/kr" --format framed --quiet --date 2026-11-22)
expect_rc 3 "filter --format framed (one request refused)" "$cli" filter "${F[@]}" --in "$T/in.bin" \
    --out "$T/rel"
size=$(stat -c %s "$T/rel")

expect_rc 0 "verify the release" "$cli" verify --public-key "$T/pub" --in "$T/rel"
check "it says requests, bytes and key" \
    [ "$(cat "$T/stdout")" = "verified: 3 requests, $size bytes, signed by ${hex:0:16}" ]
check "nothing on stderr" [ ! -s "$T/err" ]
"$cli" verify --public-key "$T/pub" <"$T/rel" >"$T/stdout" 2>"$T/err"
check "verify from stdin" [ $? -eq 0 ]
gzip -c "$T/rel" >"$T/rel.gz"
expect_rc 0 "verify a gzip release" "$cli" verify --public-key "$T/pub" --in "$T/rel.gz"
check "gzip: the inflated byte count" grep -q "3 requests, $size bytes" "$T/stdout"
expect_rc 3 "filter --format framed --gzip" "$cli" filter "${F[@]}" --gzip --in "$T/in.bin" \
    --out "$T/rel2.gz"
expect_rc 0 "verify the --gzip output" "$cli" verify --public-key "$T/pub" --in "$T/rel2.gz"
expect_rc 0 "filter framed: empty input" "$cli" filter "${F[@]}" --in /dev/null --out "$T/empty"
check "the release carries the two police requests' records (not refusals alone)" \
    [ "$size" -gt $(( $(stat -c %s "$T/empty") + 1000 )) ]
expect_rc 0 "verify a release of no request (the seal alone)" "$cli" verify --public-key "$T/pub" \
    --in "$T/empty"
check "it says 0 requests" grep -q "verified: 0 requests" "$T/stdout"

# ---- tampering: exit 5 ----
cp "$T/rel" "$T/t1"
flip_byte "$T/t1" $((size / 2))
expect_rc 5 "a changed byte does not verify" "$cli" verify --public-key "$T/pub" --in "$T/t1"
check "the message names the frame and the byte offset" grep -qE 'frame [0-9]+ at byte offset [0-9]+' "$T/err"
check "nothing on stdout" [ ! -s "$T/stdout" ]
cp "$T/rel" "$T/t2"
flip_byte "$T/t2" $((size - 3))
expect_rc 5 "a changed seal byte does not verify" "$cli" verify --public-key "$T/pub" --in "$T/t2"
head -c $((size - 1)) "$T/rel" >"$T/t3"
expect_rc 5 "a cut release does not verify" "$cli" verify --public-key "$T/pub" --in "$T/t3"
check "it says truncated" grep -q "truncated" "$T/err"
cp "$T/rel" "$T/t4"
printf '\0' >>"$T/t4"
expect_rc 5 "an appended byte does not verify" "$cli" verify --public-key "$T/pub" --in "$T/t4"
check "it says bytes follow the seal" grep -q "follow the seal" "$T/err"
cat "$T/rel" "$T/rel" >"$T/t5"
expect_rc 5 "a release twice does not verify" "$cli" verify --public-key "$T/pub" --in "$T/t5"
: >"$T/t6"
expect_rc 5 "an empty file does not verify" "$cli" verify --public-key "$T/pub" --in "$T/t6"
expect_rc 5 "the framed input is no release" "$cli" verify --public-key "$T/pub" --in "$T/in.bin"
"$gen" --count 3 --seed 33 --out "$T/recs.bin"
expect_rc 0 "records-format output" "$cli" filter --policy "$policy" --keyring "$T/kr" --quiet \
    --ori NY0300000 --agency-kind local --jurisdiction NY --purpose 1 --query-kind by_license \
    --date 2026-11-22 --in "$T/recs.bin" --out "$T/recs.out"
expect_rc 5 "records-format output is not signed" "$cli" verify --public-key "$T/pub" --in "$T/recs.out"
check "the message says records-format output is not signed" grep -q "not signed" "$T/err"

# ---- another keyring ----
expect_rc 0 "a second keyring" "$cli" keys init --keyring "$T/kr2" --unsealed
expect_rc 0 "its public key" "$cli" keys export-public --keyring "$T/kr2" --out "$T/pub2"
expect_rc 5 "the wrong public key" "$cli" verify --public-key "$T/pub2" --in "$T/rel"
expect_rc 3 "a release made with the second keyring" "$cli" filter --policy "$policy" \
    --keyring "$T/kr2" --format framed --quiet --date 2026-11-22 --in "$T/in.bin" --out "$T/rel.kr2"
expect_rc 0 "verifies under its own key" "$cli" verify --public-key "$T/pub2" --in "$T/rel.kr2"
expect_rc 5 "not under the first key" "$cli" verify --public-key "$T/pub" --in "$T/rel.kr2"

# ---- malformed, I/O ----
printf '\x02\x08\x01' >"$T/bad"
expect_rc 65 "bytes that are no frame: 65" "$cli" verify --public-key "$T/pub" --in "$T/bad"
check "the message says not a release" grep -q "not a release" "$T/err"
echo "not a key" >"$T/badpub"
expect_rc 65 "a malformed public key file: 65" "$cli" verify --public-key "$T/badpub" --in "$T/rel"
expect_rc 74 "a missing public key file: 74" "$cli" verify --public-key "$T/nopub" --in "$T/rel"
expect_rc 74 "a missing release: 74" "$cli" verify --public-key "$T/pub" --in "$T/norel"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
