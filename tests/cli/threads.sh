#!/usr/bin/env bash
# threads.sh - `dmvfilter filter --threads N`: the records pipeline cuts the
# input into chunks, rewrites them on N workers and writes them in order, so
# the output must be the same bytes for every N (plain, and gzip with a
# member per so many bytes of released output), pipes must give what files
# give, and a failure must be reported exactly as on one thread (exit code,
# byte offset, record index), leaving no output file. DMVF_CHUNK_BYTES
# (hidden) makes chunks small so that a few thousand records make many
# chunks, DMVF_GZIP_MEMBER_BYTES (hidden) members small so that they make
# many members.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-threads.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE DMVF_CHUNK_BYTES DMVF_GZIP_MEMBER_BYTES

. "$DMVF_SRC/tests/cli_lib.sh"
absent() { # absent DESCRIPTION FILE: the file and any temp file beside it are absent
    if [ ! -e "$2" ] && ! ls -A "$(dirname "$2")" | grep -q '\.tmp\.'; then
        ok "$1: no output file"
    else
        bad "$1: output file or temp file left behind"
    fi
}
# same DESCRIPTION A B: files A and B are the same bytes
same() {
    if cmp -s "$2" "$3"; then ok "$1"; else bad "$1 ($(cmp "$2" "$3" 2>&1 | head -1))"; fi
}
# members FILE: the number of gzip members in FILE (exit 1 if it is not gzip)
members() {
    python3 - "$1" <<'EOF'
import sys, zlib
d = open(sys.argv[1], "rb").read()
n = 0
while d:
    z = zlib.decompressobj(31)
    z.decompress(d)
    if not z.eof: sys.exit("not a whole gzip member")
    d = z.unused_data; n += 1
print(n)
EOF
}
# insert_bad IN OUT K: OUT is IN with a malformed record (3 bytes 0xff)
# inserted before record K; prints the byte offset of the inserted record
insert_bad() {
    python3 - "$1" "$2" "$3" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
i = k = 0
while k < int(sys.argv[3]):
    n = shift = 0
    while True:
        b = d[i]; i += 1; n |= (b & 0x7f) << shift; shift += 7
        if not b & 0x80: break
    i += n; k += 1
open(sys.argv[2], "wb").write(d[:i] + b"\x03\xff\xff\xff" + d[i:])
print(i)
EOF
}

police=(--ori NY0300000 --agency-kind local --jurisdiction NY --purpose 1
        --query-kind by_license --request-id t-police --date 2026-11-22)
research=(--ori NYUNIV000 --agency-kind research --purpose 5 --query-kind list
          --request-id t-research --date 2026-11-22)

# ---- setup: keyring, 20000 records, the policy without the police record limit ----
expect_rc 0 "keys init --unsealed" "$cli" keys init --keyring "$T/kr" --unsealed
expect_rc 0 "generate 20000 records" "$gen" --count 20000 --seed 11 --marked 0.3 --out "$T/rec.bin"
sed '/max_records: 50/d' "$DMVF_SRC/examples/policy.yaml" >"$T/policy.yaml"
check "the policy copy lost the police record limit" \
    [ "$(grep -c max_records "$T/policy.yaml")" -lt "$(grep -c max_records "$DMVF_SRC/examples/policy.yaml")" ]
F=(--policy "$T/policy.yaml" --keyring "$T/kr")
export DMVF_CHUNK_BYTES=64K      # ~140 chunks of the ~9 MB input
export DMVF_GZIP_MEMBER_BYTES=64K # a member per 64K of released output

# ---- the same bytes for every thread count, plain and gzip ----
for who in police research; do
    declare -n req=$who
    expect_rc 0 "$who: --threads 1" "$cli" filter "${F[@]}" "${req[@]}" --threads 1 \
        --in "$T/rec.bin" --out "$T/$who.1"
    grep -q "released [1-9][0-9]* of 20000 records" "$T/err" && ok "$who: summary counts 20000 records" \
        || bad "$who: summary: $(cat "$T/err")"
    cp "$T/err" "$T/$who.1.err"
    check "$who: the release is not empty" [ -s "$T/$who.1" ]
    for n in 2 3 8; do
        expect_rc 0 "$who: --threads $n" "$cli" filter "${F[@]}" "${req[@]}" --threads "$n" \
            --in "$T/rec.bin" --out "$T/$who.$n"
        same "$who: --threads $n gives the bytes of --threads 1" "$T/$who.1" "$T/$who.$n"
        same "$who: --threads $n gives the summary of --threads 1" "$T/$who.1.err" "$T/err"
    done
    for n in 1 2 3 8; do
        expect_rc 0 "$who: --threads $n --gzip" "$cli" filter "${F[@]}" "${req[@]}" --threads "$n" \
            --gzip --in "$T/rec.bin" --out "$T/$who.$n.gz"
        check "$who: --threads $n --gzip gunzips to the plain output" \
            cmp -s <(gzip -dc "$T/$who.$n.gz") "$T/$who.1"
    done
    for n in 2 3 8; do
        same "$who: --gzip --threads $n gives the bytes of --threads 1" "$T/$who.1.gz" "$T/$who.$n.gz"
    done
    m=$(members "$T/$who.1.gz")
    check "$who: --gzip writes one member per 64K released ($m members)" [ "${m:-0}" -gt 20 ]
    unset -n req
done
check "police and research releases differ" ! cmp -s "$T/police.1" "$T/research.1"

# the chunk size changes neither the plain bytes nor the gzip members
DMVF_CHUNK_BYTES=1 expect_rc 0 "one record per chunk, --threads 3" "$cli" filter "${F[@]}" \
    "${police[@]}" --threads 3 --in "$T/rec.bin" --out "$T/police.tiny"
same "one record per chunk gives the same plain bytes" "$T/police.1" "$T/police.tiny"
DMVF_CHUNK_BYTES=1 expect_rc 0 "one record per chunk, --threads 3 --gzip" "$cli" filter "${F[@]}" \
    "${police[@]}" --threads 3 --gzip --in "$T/rec.bin" --out "$T/police.tiny.gz"
same "one record per chunk gives the same gzip bytes" "$T/police.1.gz" "$T/police.tiny.gz"
env -u DMVF_CHUNK_BYTES "$cli" filter "${F[@]}" "${police[@]}" --quiet --threads 2 \
    --in "$T/rec.bin" --out "$T/police.1m" 2>"$T/err"
same "default chunk size gives the same plain bytes" "$T/police.1" "$T/police.1m"
"$cli" filter "${F[@]}" "${police[@]}" --quiet --in "$T/rec.bin" --out "$T/police.auto" 2>"$T/err"
same "no --threads (the cores available) gives the same bytes" "$T/police.1" "$T/police.auto"
# records larger than a chunk (photos of ~20 KB, 4K chunks)
expect_rc 0 "generate 300 records with photos" "$gen" --count 300 --seed 12 --photo --out "$T/photo.bin"
DMVF_CHUNK_BYTES=4K "$cli" filter "${F[@]}" "${research[@]}" --quiet --threads 1 \
    --in "$T/photo.bin" --out "$T/photo.1" 2>"$T/err"
DMVF_CHUNK_BYTES=4K "$cli" filter "${F[@]}" "${research[@]}" --quiet --threads 4 \
    --in "$T/photo.bin" --out "$T/photo.4" 2>"$T/err"
check "photo records released" [ -s "$T/photo.1" ]
same "records larger than a chunk: --threads 4 gives the bytes of --threads 1" "$T/photo.1" "$T/photo.4"

# ---- pipes: input and output through pipes equal the files ----
cat "$T/rec.bin" | "$cli" filter "${F[@]}" "${police[@]}" --quiet --threads 3 2>"$T/err" | cat >"$T/police.pipe"
same "pipe to pipe, --threads 3, gives the file output" "$T/police.1" "$T/police.pipe"
cat "$T/rec.bin" | "$cli" filter "${F[@]}" "${research[@]}" --quiet --threads 2 --gzip 2>"$T/err" \
    | cat >"$T/research.pipe.gz"
same "pipe to pipe, --gzip --threads 2, gives the file output" "$T/research.1.gz" "$T/research.pipe.gz"
"$cli" filter "${F[@]}" "${police[@]}" --quiet --threads 1 <"$T/rec.bin" >"$T/police.redir" 2>"$T/err"
same "stdin/stdout redirected from files, --threads 1" "$T/police.1" "$T/police.redir"
# a named output that is a FIFO is written in place, never replaced by a file
mkfifo "$T/fifo"
timeout 120 cat "$T/fifo" >"$T/police.fifo" &   # (timeout: no hang if nothing opens it)
reader=$!
expect_rc 0 "--out a FIFO, --threads 2" "$cli" filter "${F[@]}" "${police[@]}" --threads 2 \
    --in "$T/rec.bin" --out "$T/fifo"
wait "$reader"
check "the FIFO is still a FIFO" [ -p "$T/fifo" ]
same "--out a FIFO gives the file output" "$T/police.1" "$T/police.fifo"
gzip -c "$T/rec.bin" >"$T/rec.gz"
cat "$T/rec.gz" | "$cli" filter "${F[@]}" "${police[@]}" --quiet --threads 8 2>"$T/err" >"$T/police.fromgz"
same "gzip input through a pipe, --threads 8" "$T/police.1" "$T/police.fromgz"

# ---- a malformed record in the middle ----
at=$(insert_bad "$T/rec.bin" "$T/bad.bin" 12345)
mkdir -p "$T/o"
expect_rc 65 "malformed record 12345, --threads 1" "$cli" filter "${F[@]}" "${police[@]}" --threads 1 \
    --in "$T/bad.bin" --out "$T/o/bad1.out"
cp "$T/err" "$T/bad1.err"
# the failing byte is the record's first (a bad field key), after its 1-byte prefix
grep -qE "malformed record at byte offset $((at + 1)) \(record 12345\)" "$T/bad1.err" \
    && ok "--threads 1 names byte offset $((at + 1)), record 12345" \
    || bad "--threads 1 message: $(cat "$T/bad1.err")"
absent "--threads 1, malformed record" "$T/o/bad1.out"
for n in 2 4 8; do
    expect_rc 65 "malformed record 12345, --threads $n" "$cli" filter "${F[@]}" "${police[@]}" \
        --threads "$n" --in "$T/bad.bin" --out "$T/o/bad$n.out"
    same "--threads $n: the same message (offset, record) as --threads 1" "$T/bad1.err" "$T/err"
    absent "--threads $n, malformed record" "$T/o/bad$n.out"
done
expect_rc 65 "malformed record, --threads 4 --gzip" "$cli" filter "${F[@]}" "${police[@]}" \
    --threads 4 --gzip --in "$T/bad.bin" --out "$T/o/badgz.out"
same "--gzip: the same message" "$T/bad1.err" "$T/err"
absent "--threads 4 --gzip, malformed record" "$T/o/badgz.out"
# to stdout: only whole records before the failing one, in order
"$cli" filter "${F[@]}" "${police[@]}" --threads 4 --in "$T/bad.bin" >"$T/bad.stdout" 2>"$T/err"
check "to stdout: exit 65 too" [ $? -eq 65 ]
check "to stdout: what was written is a prefix of the full release" \
    cmp -s "$T/bad.stdout" <(head -c "$(stat -c %s "$T/bad.stdout")" "$T/police.1")
check "to stdout: less than the full release" [ "$(stat -c %s "$T/bad.stdout")" -lt "$(stat -c %s "$T/police.1")" ]
# the first failing chunk decides: a second bad record later does not matter
insert_bad "$T/bad.bin" "$T/bad2.bin" 19000 >/dev/null
expect_rc 65 "two malformed records, --threads 8" "$cli" filter "${F[@]}" "${police[@]}" \
    --threads 8 --in "$T/bad2.bin" --out "$T/o/bad2.out"
same "two malformed records: the first is reported" "$T/bad1.err" "$T/err"
insert_bad "$T/rec.bin" "$T/bad0.bin" 0 >/dev/null
"$cli" filter "${F[@]}" "${police[@]}" --threads 1 --in "$T/bad0.bin" --out "$T/o/b0.out" 2>"$T/b0.err"
expect_rc 65 "malformed first record, --threads 3" "$cli" filter "${F[@]}" "${police[@]}" \
    --threads 3 --in "$T/bad0.bin" --out "$T/o/b0.out"
same "malformed first record: the same message" "$T/b0.err" "$T/err"
grep -q "byte offset 1 (record 0)" "$T/err" && ok "malformed first record: offset 1, record 0" \
    || bad "record 0: $(cat "$T/err")"

# ---- --drop-malformed: counts equal across N ----
for n in 1 2 4 8; do
    expect_rc 0 "--drop-malformed --threads $n" "$cli" filter "${F[@]}" "${police[@]}" --threads "$n" \
        --drop-malformed --in "$T/bad2.bin" --out "$T/drop.$n"
    cp "$T/err" "$T/drop.$n.err"
    same "--drop-malformed --threads $n releases the good records" "$T/police.1" "$T/drop.$n"
done
grep -q "released [0-9]* of 20002 records .*; 2 malformed dropped" "$T/drop.1.err" \
    && ok "--drop-malformed counts 2 dropped of 20002" || bad "drop summary: $(cat "$T/drop.1.err")"
for n in 2 4 8; do
    same "--drop-malformed --threads $n: the counts of --threads 1" "$T/drop.1.err" "$T/drop.$n.err"
done

# ---- a stream cut inside its last record; a record over the limit; corrupt gzip ----
size=$(stat -c %s "$T/rec.bin")
head -c "$((size - 5))" "$T/rec.bin" >"$T/cut.bin"
"$cli" filter "${F[@]}" "${police[@]}" --threads 1 --in "$T/cut.bin" --out "$T/o/cut.out" 2>"$T/cut1.err"
expect_rc 65 "cut stream, --threads 4" "$cli" filter "${F[@]}" "${police[@]}" --threads 4 \
    --in "$T/cut.bin" --out "$T/o/cut.out"
same "cut stream: the same message" "$T/cut1.err" "$T/err"
last=$(python3 - "$T/rec.bin" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
i = last = 0
while i < len(d):
    last = i; n = shift = 0
    while True:
        b = d[i]; i += 1; n |= (b & 0x7f) << shift; shift += 7
        if not b & 0x80: break
    i += n
print(last)
EOF
)
grep -q "byte offset $last (record 19999)" "$T/err" && ok "cut stream names offset $last, record 19999" \
    || bad "cut: $(cat "$T/err")"
absent "cut stream" "$T/o/cut.out"
"$cli" filter "${F[@]}" "${police[@]}" --threads 1 --max-record-bytes 500 --in "$T/rec.bin" \
    --out "$T/o/big.out" 2>"$T/big1.err"
expect_rc 65 "record over --max-record-bytes, --threads 4" "$cli" filter "${F[@]}" "${police[@]}" \
    --threads 4 --max-record-bytes 500 --in "$T/rec.bin" --out "$T/o/big.out"
same "record too large: the same message" "$T/big1.err" "$T/err"
absent "record too large" "$T/o/big.out"
gzsize=$(stat -c %s "$T/rec.gz")
head -c "$((gzsize * 3 / 4))" "$T/rec.gz" >"$T/cut.gz"
printf 'garbage that is not deflate data' >>"$T/cut.gz"
"$cli" filter "${F[@]}" "${police[@]}" --threads 1 --in "$T/cut.gz" --out "$T/o/gz.out" 2>"$T/gz1.err"
expect_rc 65 "corrupt gzip input, --threads 4" "$cli" filter "${F[@]}" "${police[@]}" --threads 4 \
    --in "$T/cut.gz" --out "$T/o/gz.out"
same "corrupt gzip: the same message" "$T/gz1.err" "$T/err"
grep -q "compressed byte offset" "$T/err" && ok "corrupt gzip names the offset" || bad "gzip: $(cat "$T/err")"
absent "corrupt gzip" "$T/o/gz.out"
# a malformed record before the corrupt gzip data is reported first
insert_bad "$T/rec.bin" "$T/bad100.bin" 100 >/dev/null
gzip -c "$T/bad100.bin" | head -c "$((gzsize / 2))" >"$T/bad100.gz"
expect_rc 65 "malformed record, then corrupt gzip, --threads 4" "$cli" filter "${F[@]}" \
    "${police[@]}" --threads 4 --in "$T/bad100.gz" --out "$T/o/bg.out"
grep -q "(record 100)" "$T/err" && ! grep -q "gzip:" "$T/err" \
    && ok "the malformed record is reported, not the later gzip error" || bad "order: $(cat "$T/err")"

# ---- empty input and empty releases ----
: >"$T/empty.bin"
for n in 1 4; do
    expect_rc 0 "empty input --gzip --threads $n" "$cli" filter "${F[@]}" "${police[@]}" --threads "$n" \
        --gzip --in "$T/empty.bin" --out "$T/empty.$n.gz"
    check "empty input --gzip --threads $n: one gzip member" [ "$(members "$T/empty.$n.gz")" = 1 ]
    check "empty input --gzip --threads $n gunzips to nothing" [ "$(gzip -dc "$T/empty.$n.gz" | wc -c)" -eq 0 ]
done
same "empty input --gzip: the same bytes for 1 and 4 threads" "$T/empty.1.gz" "$T/empty.4.gz"
expect_rc 0 "empty input, --threads 4, plain" "$cli" filter "${F[@]}" "${police[@]}" --threads 4 \
    --in "$T/empty.bin" --out "$T/empty.out"
check "empty input: empty output" test -e "$T/empty.out" -a ! -s "$T/empty.out"

# ---- one thread where it must be: record limits, framed streams, refusals ----
P0=(--policy "$DMVF_SRC/examples/policy.yaml" --keyring "$T/kr")
expect_rc 3 "record limit passed, --threads 4: refused" "$cli" filter "${P0[@]}" "${police[@]}" \
    --threads 4 --in "$T/rec.bin" --out "$T/limit.out"
check "record limit: nothing released" [ ! -s "$T/limit.out" ]
"$gen" --count 5 --seed 13 --out "$T/few.bin"
expect_rc 0 "under the record limit, --threads 4" "$cli" filter "${P0[@]}" "${police[@]}" --threads 4 \
    --in "$T/few.bin" --out "$T/few.4"
expect_rc 0 "under the record limit, --threads 1" "$cli" filter "${P0[@]}" "${police[@]}" --threads 1 \
    --in "$T/few.bin" --out "$T/few.1"
same "under the record limit: the same bytes" "$T/few.1" "$T/few.4"
expect_rc 3 "refused request, --threads 4 --gzip" "$cli" filter "${F[@]}" --ori DCICE0100 \
    --agency-kind federal --tag immigration-enforcement --legal-process administrative_subpoena \
    --query-kind by_license --date 2026-11-22 --threads 4 --gzip --in "$T/rec.bin" --out "$T/ice.gz" \
    --notices "$T/notices.jsonl"
check "refusal with --gzip gunzips to nothing" [ "$(gzip -dc "$T/ice.gz" | wc -c)" -eq 0 ]
expect_rc 0 "generate a framed stream" "$gen" --framed --count 30 --seed 14 --requests 2 \
    --request-id fr --ori NY0300000 --agency-kind local --jurisdiction NY --purpose 1 \
    --query-kind by_license --date 20261122 --out "$T/framed.bin"
"$cli" filter "${F[@]}" --format framed --date 2026-11-22 --threads 1 --in "$T/framed.bin" \
    --out "$T/framed.1" 2>"$T/err"
expect_rc 0 "framed, --threads 4" "$cli" filter "${F[@]}" --format framed --date 2026-11-22 --threads 4 \
    --in "$T/framed.bin" --out "$T/framed.4"
same "framed: the same bytes for 1 and 4 threads" "$T/framed.1" "$T/framed.4"

# ---- usage ----
expect_rc 64 "--threads 0" "$cli" filter "${F[@]}" "${police[@]}" --threads 0 --in "$T/rec.bin"
grep -q -- "--threads '0'" "$T/err" && ok "--threads 0 is named" || bad "--threads 0: $(cat "$T/err")"
expect_rc 64 "--threads x" "$cli" filter "${F[@]}" "${police[@]}" --threads x --in "$T/rec.bin"
expect_rc 64 "--threads 2x" "$cli" filter "${F[@]}" "${police[@]}" --threads 2x --in "$T/rec.bin"
check "--threads 0 writes nothing" [ ! -s "$T/stdout" ]
expect_rc 0 "filter --help" "$cli" filter --help
grep -q -- "--threads N" "$T/stdout" && ok "--help describes --threads" || bad "--help lacks --threads"
grep -q "one thread" "$T/stdout" && ok "--help says what stays on one thread" \
    || bad "--help does not say what stays on one thread"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
