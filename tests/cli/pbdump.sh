#!/usr/bin/env bash
# pbdump.sh - scripts/pbdump's exit codes: 0 for a good stream (plain and
# gzip, --first), 65 for every kind of bad input (a stream cut inside a
# length prefix or a message, an 11-byte length prefix, a cut gzip stream, a
# message protoc cannot decode), 64 for bad usage, 66 for a file that cannot
# be read; stdout holds nothing for the message that failed.
set -u
: "${DMVF_GEN:?}" "${DMVF_SRC:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-pbdump.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
. "$DMVF_SRC/tests/cli_lib.sh"
pb="$DMVF_SRC/scripts/pbdump"

if ! command -v protoc >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP: pbdump needs python3 and protoc"
    exit 0
fi

expect_rc 0 "generate 2 records" "$DMVF_GEN" --count 2 --seed 4 --out "$T/rec.bin"
expect_rc 0 "a good stream" python3 "$pb" "$T/rec.bin"
check "two records printed" [ "$(grep -c '^# DriverRecord [0-9]* ([0-9]* bytes)$' "$T/stdout")" = 2 ]
expect_rc 0 "--first 1" python3 "$pb" --first 1 "$T/rec.bin"
check "one record printed" [ "$(grep -c '^# DriverRecord' "$T/stdout")" = 1 ]
gzip -c "$T/rec.bin" >"$T/rec.gz"
expect_rc 0 "gzip input" python3 "$pb" "$T/rec.gz"
check "two records from gzip" [ "$(grep -c '^# DriverRecord' "$T/stdout")" = 2 ]
expect_rc 0 "standard input" python3 "$pb" <"$T/rec.bin"

bad_input() { # bad_input DESCRIPTION FILE
    expect_rc 65 "$1" python3 "$pb" "$2"
    check "$1: a message on stderr" grep -q '^pbdump: ' "$T/err"
    check "$1: no traceback" ! grep -q 'Traceback' "$T/err"
}
printf '\x80' >"$T/cut-prefix.bin"
bad_input "a stream cut inside a length prefix" "$T/cut-prefix.bin"
check "... says so, with the byte offset" grep -q 'inside a length prefix at byte 0' "$T/err"
{ cat "$T/rec.bin"; printf '\x85'; } >"$T/cut-prefix-late.bin"
bad_input "a good stream, then a cut length prefix" "$T/cut-prefix-late.bin"
printf '\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01' >"$T/long-prefix.bin"
bad_input "an 11-byte length prefix" "$T/long-prefix.bin"
printf '\x05ab' >"$T/cut-message.bin"
bad_input "a stream cut inside a message" "$T/cut-message.bin"
head -c 40 "$T/rec.gz" >"$T/cut.gz"
bad_input "a cut gzip stream" "$T/cut.gz"
printf '\x1f\x8bgarbage' >"$T/garbage.gz"
bad_input "gzip magic, then garbage" "$T/garbage.gz"
printf '\x02\xff\xff' >"$T/undecodable.bin"
expect_rc 65 "a message protoc cannot decode" python3 "$pb" "$T/undecodable.bin"
check "... nothing printed for it" ! grep -q '^# DriverRecord' "$T/stdout"

expect_rc 64 "an unknown flag" python3 "$pb" --frobnicate "$T/rec.bin"
expect_rc 64 "--first without a value" python3 "$pb" --first
expect_rc 64 "--first not a number" python3 "$pb" --first x "$T/rec.bin"
expect_rc 66 "a missing file" python3 "$pb" "$T/nope.bin"
check "... no traceback" ! grep -q 'Traceback' "$T/err"
expect_rc 0 "--help" python3 "$pb" --help
check "--help documents 65" grep -q '65 bad input' "$T/stdout"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
