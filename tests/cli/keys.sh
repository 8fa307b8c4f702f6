#!/usr/bin/env bash
# keys.sh - `dmvfilter keys init|rotate|list` and `dmvfilter reveal`:
# sealed and unsealed keyrings, passphrase sources, rotation, listing without
# key bytes, and revealing the researcher's encrypted license numbers.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
policy=$DMVF_SRC/examples/policy.yaml
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-keys.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE

. "$DMVF_SRC/tests/cli_lib.sh"
iso='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'

# ---- unsealed ----
expect_rc 0 "keys init --unsealed" "$cli" keys init --keyring "$T/kr" --unsealed
check "unsealed keyring is mode 0600" [ "$(stat -c %a "$T/kr")" = 600 ]
sum=$(cksum <"$T/kr")
expect_rc 74 "keys init over an existing keyring" "$cli" keys init --keyring "$T/kr" --unsealed
check "the existing keyring is untouched" [ "$(cksum <"$T/kr")" = "$sum" ]
expect_rc 0 "keys list" "$cli" keys list --keyring "$T/kr"
check "list: unsealed, one epoch" grep -q "unsealed, 1 epoch" "$T/stdout"
check "list: epoch 1 with an ISO 8601 UTC time, current" grep -qE "epoch 1 +created $iso +current" "$T/stdout"
check "list: no key material (no long hex or base64 runs)" ! grep -qE '[A-Za-z0-9+/_=-]{24,}' "$T/stdout"
expect_rc 0 "keys rotate" "$cli" keys rotate --keyring "$T/kr"
check "rotate names the new epoch" grep -q "current epoch 2" "$T/stdout"
check "rotated keyring is still mode 0600" [ "$(stat -c %a "$T/kr")" = 600 ]
expect_rc 0 "keys list after rotate" "$cli" keys list --keyring "$T/kr"
check "list: two epochs" grep -q "2 epochs, current epoch 2" "$T/stdout"
check "list: epoch 1 not current" grep -qE "epoch 1 +created $iso\$" "$T/stdout"
check "list: epoch 2 current" grep -qE "epoch 2 +created $iso +current" "$T/stdout"
expect_rc 79 "keys list: missing keyring" "$cli" keys list --keyring "$T/none"
cp "$T/kr" "$T/kr644" && chmod 644 "$T/kr644"
expect_rc 79 "keys list: keyring readable by others" "$cli" keys list --keyring "$T/kr644"
grep -q "kr644" "$T/err" && ok "keyring error names the file" || bad "keyring error names the file"

# ---- sealed ----
printf 'open sesame\n' >"$T/pass"
printf 'open says me\n' >"$T/wrong"
expect_rc 0 "keys init sealed with --passphrase-file" "$cli" keys init --keyring "$T/sealed" \
    --passphrase-file "$T/pass"
check "the passphrase is not in the file" ! grep -q "open sesame" "$T/sealed"
expect_rc 79 "sealed keyring without a passphrase" "$cli" keys list --keyring "$T/sealed"
expect_rc 79 "sealed keyring, wrong passphrase" "$cli" keys list --keyring "$T/sealed" \
    --passphrase-file "$T/wrong"
DMVFILTER_PASSPHRASE='open sesame' expect_rc 0 "env passphrase (file's newline was stripped)" \
    "$cli" keys list --keyring "$T/sealed"
check "list says sealed" grep -q ": sealed, 1 epoch" "$T/stdout"
expect_rc 0 "keys rotate a sealed keyring" "$cli" keys rotate --keyring "$T/sealed" \
    --passphrase-file "$T/pass"
expect_rc 0 "the rotated keyring opens with the same passphrase" "$cli" keys list \
    --keyring "$T/sealed" --passphrase-file "$T/pass"
check "sealed, 2 epochs" grep -q "sealed, 2 epochs" "$T/stdout"
expect_rc 79 "keys rotate with a wrong passphrase" "$cli" keys rotate --keyring "$T/sealed" \
    --passphrase-file "$T/wrong"
DMVFILTER_PASSPHRASE='x' expect_rc 0 "keys init sealed with env passphrase" "$cli" keys init \
    --keyring "$T/sealed2"
expect_rc 74 "missing passphrase file" "$cli" keys list --keyring "$T/sealed" \
    --passphrase-file "$T/nope"
: >"$T/emptypass"
expect_rc 64 "keys init with an empty passphrase" "$cli" keys init --keyring "$T/sealed3" \
    --passphrase-file "$T/emptypass"
check "no keyring after the refused init" [ ! -e "$T/sealed3" ]

# ---- reading a passphrase (filter/cli/passphrase.c): read(2), first line only ----
printf 'open sesame\nopen says me\n' >"$T/twolines"
expect_rc 0 "the first line is the passphrase" "$cli" keys list --keyring "$T/sealed" \
    --passphrase-file "$T/twolines"
printf 'open sesame\r\n' >"$T/crlf"
expect_rc 0 "a CRLF line end is stripped" "$cli" keys list --keyring "$T/sealed" \
    --passphrase-file "$T/crlf"
printf 'open sesame' >"$T/noeol"
expect_rc 0 "a file without a line end" "$cli" keys list --keyring "$T/sealed" \
    --passphrase-file "$T/noeol"
# a pipe: only the first line is taken, what follows stays in the pipe
printf 'open sesame\nWHAT FOLLOWS\n' | {
    "$cli" keys list --keyring "$T/sealed" --passphrase-file /dev/stdin >"$T/stdout" 2>"$T/err"
    echo "rc=$?"
    cat
} >"$T/piped"
check "a pipe (/dev/stdin): exit 0" grep -qx "rc=0" "$T/piped"
check "a pipe: nothing past the first line is read" grep -qx "WHAT FOLLOWS" "$T/piped"
expect_rc 64 "an empty passphrase file is refused when loading too" "$cli" keys list \
    --keyring "$T/sealed" --passphrase-file "$T/emptypass"
check "... saying it is empty" grep -q "is empty" "$T/err"
printf '\nopen sesame\n' >"$T/emptyfirst"
expect_rc 64 "an empty first line is refused" "$cli" keys list --keyring "$T/sealed" \
    --passphrase-file "$T/emptyfirst"
DMVFILTER_PASSPHRASE= expect_rc 64 "an empty DMVFILTER_PASSPHRASE is refused" "$cli" keys list \
    --keyring "$T/sealed"
printf 'open\0sesame\n' >"$T/nul"
expect_rc 64 "a passphrase holding a NUL byte is refused" "$cli" keys init --keyring "$T/sealed4" \
    --passphrase-file "$T/nul"
check "no keyring after it" [ ! -e "$T/sealed4" ]
head -c 4097 /dev/zero | tr '\0' x >"$T/long"
expect_rc 64 "a passphrase over 4096 bytes is refused" "$cli" keys init --keyring "$T/sealed4" \
    --passphrase-file "$T/long"
check "no keyring after it" [ ! -e "$T/sealed4" ]

# ---- reveal: the researcher's encrypted license numbers ----
expect_rc 0 "generate records" "$gen" --count 6 --seed 21 --out "$T/rec.bin"
research=(--ori NYUNIV000 --agency-kind research --purpose 5 --query-kind list --date 2026-11-22)
expect_rc 0 "researcher release" "$cli" filter --policy "$policy" --keyring "$T/kr" \
    "${research[@]}" --in "$T/rec.bin" --out "$T/research.bin"
python3 - "$DMVF_SRC/schema" "$T/rec.bin" "$T/research.bin" "$T/plain.txt" "$T/tokens.txt" <<'EOF'
import re, subprocess, sys
inc, rec, rel, plain_out, tok_out = sys.argv[1:6]
def msgs(path):
    d = open(path, "rb").read(); i = 0
    while i < len(d):
        n = s = 0
        while True:
            b = d[i]; i += 1; n |= (b & 0x7f) << s; s += 7
            if not b & 0x80: break
        yield d[i:i + n]; i += n
def number(m):
    t = subprocess.run(["protoc", "-I" + inc, "--decode", "dmv.v1.DriverRecord", "dmv/v1/record.proto"],
                       input=m, capture_output=True, check=True).stdout.decode()
    x = re.search(r'^license \{\n(?:  .*\n)*?  number: "([^"]*)"', t, re.M)
    return x.group(1) if x else ""
open(plain_out, "w").write("".join(number(m) + "\n" for m in msgs(rec)))
open(tok_out, "w").write("".join(number(m) + "\n" for m in msgs(rel)))
EOF
check "the release carries encryption tokens" grep -qE '^E[0-9a-f]{4}\.[A-Za-z0-9_-]+$' "$T/tokens.txt"
check "no plaintext license number in the release" ! grep -qxFf "$T/plain.txt" "$T/tokens.txt"
mapfile -t toks <"$T/tokens.txt"
[ ${#toks[@]} -gt 0 ] || toks=(no-token-released)
expect_rc 0 "reveal tokens given as arguments" "$cli" reveal --keyring "$T/kr" --ori NYUNIV000 "${toks[@]}"
check "revealed values are the original license numbers" cmp -s "$T/stdout" "$T/plain.txt"
expect_rc 0 "reveal tokens from stdin" "$cli" reveal --keyring "$T/kr" --ori NYUNIV000 <"$T/tokens.txt"
check "stdin: same values" cmp -s "$T/stdout" "$T/plain.txt"
expect_rc 65 "reveal under another requester's ORI" "$cli" reveal --keyring "$T/kr" --ori NY0300000 "${toks[0]}"
# the last character changed (to A, or to B when it is an A: a token ends in A
# one time in 64, and "changing" it to A would leave it as it was)
tampered=${toks[0]%?}A
[ "$tampered" = "${toks[0]}" ] && tampered=${toks[0]%?}B
expect_rc 65 "reveal a tampered token" "$cli" reveal --keyring "$T/kr" --ori NYUNIV000 "$tampered"
expect_rc 65 "reveal garbage" "$cli" reveal --keyring "$T/kr" --ori NYUNIV000 "not-a-token"
expect_rc 0 "keys rotate" "$cli" keys rotate --keyring "$T/kr"
expect_rc 0 "tokens of an older epoch still reveal after rotation" "$cli" reveal --keyring "$T/kr" \
    --ori NYUNIV000 "${toks[@]}"
check "older epoch: same values" cmp -s "$T/stdout" "$T/plain.txt"
expect_rc 0 "release after rotation" "$cli" filter --policy "$policy" --keyring "$T/kr" \
    "${research[@]}" --in "$T/rec.bin" --out "$T/research2.bin"
check "a rotation changes the tokens" ! cmp -s "$T/research.bin" "$T/research2.bin"
expect_rc 79 "reveal with a missing keyring" "$cli" reveal --keyring "$T/none" --ori NYUNIV000 x

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
