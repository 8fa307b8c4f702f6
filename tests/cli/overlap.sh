#!/usr/bin/env bash
# overlap.sh - `dmvfilter filter --threads 1` reads, rewrites and writes on
# three threads (parallel.c, "Overlap"; with gzip the writer compresses);
# DMVF_NO_OVERLAP (hidden) runs the same pipeline inline, one chunk after
# the other. Both must give the same bytes (plain, gzip, the text formats,
# pipes) and the same failure (exit
# code, message with its byte offset and record index, no output left),
# and the overlapped run must not hold more than a few chunks in memory.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-overlap.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE DMVF_CHUNK_BYTES DMVF_GZIP_MEMBER_BYTES DMVF_NO_OVERLAP

. "$DMVF_SRC/tests/cli_lib.sh"
same() { # same DESCRIPTION A B
    if cmp -s "$2" "$3"; then ok "$1"; else bad "$1 ($(cmp "$2" "$3" 2>&1 | head -1))"; fi
}

police=(--ori NY0300000 --agency-kind local --jurisdiction NY --purpose 1
        --query-kind by_license --request-id t-overlap --date 2026-11-22)
expect_rc 0 "keys init --unsealed" "$cli" keys init --keyring "$T/kr" --unsealed
expect_rc 0 "generate 5000 records" "$gen" --count 5000 --seed 21 --marked 0.3 --out "$T/rec.bin"
expect_rc 0 "generate 2000 records as JSON Lines" "$gen" --count 2000 --seed 22 --format jsonl \
    --out "$T/rec.jsonl"
sed '/max_records: 50/d' "$DMVF_SRC/examples/policy.yaml" >"$T/policy.yaml"
F=(--policy "$T/policy.yaml" --keyring "$T/kr" --threads 1)
export DMVF_CHUNK_BYTES=16K DMVF_GZIP_MEMBER_BYTES=16K

# twin NAME ARGS...: the request run overlapped and inline, to $T/NAME.o and
# $T/NAME.i; exit codes and stderr (progress aside) compared
twin() {
    local name=$1; shift
    "$cli" filter "${F[@]}" "${police[@]}" --quiet "$@" --out "$T/$name.o" 2>"$T/$name.o.err"
    local rc_o=$?
    DMVF_NO_OVERLAP=1 "$cli" filter "${F[@]}" "${police[@]}" --quiet "$@" --out "$T/$name.i" 2>"$T/$name.i.err"
    local rc_i=$?
    check "$name: the same exit code overlapped and inline ($rc_o, $rc_i)" [ "$rc_o" -eq "$rc_i" ]
    same "$name: the same stderr overlapped and inline" "$T/$name.o.err" "$T/$name.i.err"
    return "$rc_o"
}

twin plain --in "$T/rec.bin" && ok "plain: released" || bad "plain: $(cat "$T/plain.o.err")"
check "plain: the release is not empty" [ -s "$T/plain.o" ]
same "plain: the same bytes overlapped and inline" "$T/plain.o" "$T/plain.i"
twin gzip --gzip --in "$T/rec.bin"
same "gzip: the same bytes overlapped and inline" "$T/gzip.o" "$T/gzip.i"
check "gzip: gunzips to the plain release" cmp -s <(gzip -dc "$T/gzip.o") "$T/plain.o"
gzip -c "$T/rec.bin" >"$T/rec.bin.gz"
twin gzin --in "$T/rec.bin.gz"
same "gzip input: the plain release" "$T/gzin.o" "$T/plain.o"
twin csv --output-format csv --in "$T/rec.bin"
same "CSV output: the same bytes overlapped and inline" "$T/csv.o" "$T/csv.i"
# with one worker the writer thread compresses (parallel.c): the CSV header
# is placed there, before the first record, as the inline run places it
twin gzcsv --output-format csv --gzip --in "$T/rec.bin"
same "CSV output, gzip: the same bytes overlapped and inline" "$T/gzcsv.o" "$T/gzcsv.i"
check "CSV output, gzip: gunzips to the CSV release" cmp -s <(gzip -dc "$T/gzcsv.o") "$T/csv.o"
twin jsonl --format jsonl --in "$T/rec.jsonl"
same "JSON Lines: the same bytes overlapped and inline" "$T/jsonl.o" "$T/jsonl.i"
DMVF_CHUNK_BYTES=1 twin tiny --in "$T/rec.bin"
same "a record per chunk: the plain release" "$T/tiny.o" "$T/plain.o"
"$cli" filter "${F[@]}" "${police[@]}" --quiet <"$T/rec.bin" 2>"$T/err" | cat >"$T/pipe.o"
same "pipe to pipe: the plain release" "$T/pipe.o" "$T/plain.o"

# ---- failures: a malformed record far into the input, a cut gzip input ----
python3 - "$T/rec.bin" "$T/bad.bin" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
i = k = 0
while k < 4000:
    n = shift = 0
    while True:
        b = d[i]; i += 1; n |= (b & 0x7f) << shift; shift += 7
        if not b & 0x80: break
    i += n; k += 1
open(sys.argv[2], "wb").write(d[:i] + b"\x03\xff\xff\xff" + d[i:])
EOF
twin bad --in "$T/bad.bin"
check "malformed record: exit 65" [ $? -eq 65 ]
grep -q "record 4000" "$T/bad.o.err" && ok "malformed record: its index in the message" \
    || bad "malformed record: $(cat "$T/bad.o.err")"
check "malformed record: no output file" [ ! -e "$T/bad.o" ]
twin gzbad --gzip --in "$T/bad.bin"
check "malformed record, gzip output: exit 65" [ $? -eq 65 ]
grep -q "record 4000" "$T/gzbad.o.err" && ok "malformed record, gzip output: its index in the message" \
    || bad "malformed record, gzip output: $(cat "$T/gzbad.o.err")"
check "malformed record, gzip output: no output file" [ ! -e "$T/gzbad.o" ]
head -c $(( $(stat -c %s "$T/rec.bin.gz") * 2 / 3 )) "$T/rec.bin.gz" >"$T/cut.gz"
twin cut --in "$T/cut.gz"
check "cut gzip input: exit 65" [ $? -eq 65 ]
check "cut gzip input: no output file" [ ! -e "$T/cut.o" ]

# ---- memory: a few chunks in flight, whatever the input's size ----
if [ -x /usr/bin/time ]; then
    expect_rc 0 "generate 40000 records" "$gen" --count 40000 --seed 23 --out "$T/big.bin"
    rss() { /usr/bin/time -f %M -o "$T/rss" "$cli" filter "${F[@]}" "${police[@]}" --quiet --in "$1" \
        --out "$T/rss.out" 2>/dev/null && cat "$T/rss"; }
    small=$(DMVF_CHUNK_BYTES=64K rss "$T/rec.bin") large=$(DMVF_CHUNK_BYTES=64K rss "$T/big.bin")
    check "peak RSS flat: $small KiB for 5000 records, $large KiB for 40000" \
        [ "${large:-999999}" -le $(( ${small:-0} + 2048 )) ]
else
    ok "GNU time absent: peak RSS not measured"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
