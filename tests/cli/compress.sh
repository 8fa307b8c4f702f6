#!/usr/bin/env bash
# compress.sh - compressed output and input (filter/cli/compress.c), for
# every engine one build has: gzip through ISA-L (where built) and zlib
# (DMVFILTER_GZIP=zlib), and zstd.
#
#   formats      --compress gzip|zstd|none, --gzip, --gzip-level N: the
#                output gunzips (zstd -d) to the plain release; usage errors
#   engines      each gzip engine reads the other's output, and what it
#                reads releases byte for byte what the plain input releases;
#                the two engines write different bytes (each is really used)
#   members      twins give identical files for gzip (both engines) and
#                zstd; --threads 1 and 2 give identical files; a framed or
#                held release through the sink gets the pipeline's members
#   protections  for every decoder (ISA-L, zlib, zstd): a bomb over
#                --max-inflate is refused (exit 65, nothing written),
#                trailing garbage and zero padding after a member are
#                refused, a truncated input is refused
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-compress.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE DMVF_CHUNK_BYTES DMVF_GZIP_MEMBER_BYTES DMVFILTER_GZIP
. "$DMVF_SRC/tests/cli_lib.sh"

same() { if cmp -s "$2" "$3"; then ok "$1"; else bad "$1 ($(cmp "$2" "$3" 2>&1 | head -1))"; fi; }
said() { if grep -qE "$2" "$T/err"; then ok "$1"; else bad "$1: stderr: $(head -3 "$T/err")"; fi; }
# members FILE: the gzip members of FILE, each whole (python's zlib reads them)
zlib_reads() {
    python3 - "$1" <<'EOF'
import sys, zlib
d = open(sys.argv[1], "rb").read(); n = 0
while d:
    z = zlib.decompressobj(31); z.decompress(d)
    if not z.eof: sys.exit("not a whole gzip member")
    d = z.unused_data; n += 1
print(n)
EOF
}

engines=(zlib)
if "$cli" --version | grep -q 'ISA-L built in'; then engines=(isa-l zlib); else
    echo "      (built without ISA-L: the zlib engine only)"; fi
have_zstd=1
command -v zstd >/dev/null || { have_zstd=0; echo "      (no zstd tool: zstd -d checks skipped)"; }

expect_rc 0 "keys init" "$cli" keys init --keyring "$T/kr" --unsealed
expect_rc 0 "8,000 records and their twins" "$gen" --count 8000 --seed 71 --marked 0.3 \
    --out "$T/a.bin" --twins "$T/b.bin"
sed '/max_records: 50/d' "$DMVF_SRC/examples/policy.yaml" >"$T/policy.yaml"
F=(--policy "$T/policy.yaml" --keyring "$T/kr" --quiet)
police=(--ori NY0300000 --purpose 1 --query-kind by_license --date 2026-11-22)
research=(--ori NYUNIV000 --purpose 5 --query-kind list --date 2026-11-22)
ice=(--ori DCICE0100 --tag immigration-enforcement --legal-process administrative_subpoena
     --query-kind by_license --date 2026-11-22)
expect_rc 0 "plain release" "$cli" filter "${F[@]}" "${police[@]}" --in "$T/a.bin" --out "$T/plain"
# a second pass over a release (research): what a compressed copy of it must release too
expect_rc 0 "plain release, read again" "$cli" filter "${F[@]}" "${research[@]}" --in "$T/plain" --out "$T/plain2"

# ---- usage ----
"$cli" filter --help >"$T/help" 2>&1
check "--help documents --compress" grep -q -- "--compress gzip|zstd|none" "$T/help"
check "--help documents --gzip-level" grep -q -- "--gzip-level N" "$T/help"
expect_rc 64 "--compress lzma is a usage error" "$cli" filter "${F[@]}" "${police[@]}" --compress lzma --in "$T/a.bin"
expect_rc 64 "--gzip-level 10 is a usage error" "$cli" filter "${F[@]}" "${police[@]}" --gzip --gzip-level 10 --in "$T/a.bin"
expect_rc 64 "--gzip-level x is a usage error" "$cli" filter "${F[@]}" "${police[@]}" --gzip --gzip-level x --in "$T/a.bin"
expect_rc 64 "--gzip-level without gzip output" "$cli" filter "${F[@]}" "${police[@]}" --gzip-level 3 --in "$T/a.bin"
expect_rc 64 "--gzip-level with --compress zstd" "$cli" filter "${F[@]}" "${police[@]}" --compress zstd --gzip-level 3 --in "$T/a.bin"
expect_rc 64 "--gzip and --compress zstd contradict" "$cli" filter "${F[@]}" "${police[@]}" --gzip --compress zstd --in "$T/a.bin"
expect_rc 0 "--gzip and --compress gzip agree" "$cli" filter "${F[@]}" "${police[@]}" --gzip --compress gzip \
    --in "$T/a.bin" --out "$T/agree.gz"
DMVFILTER_GZIP=lzma expect_rc 64 "DMVFILTER_GZIP=lzma is refused" "$cli" filter "${F[@]}" "${police[@]}" --gzip --in "$T/a.bin"
expect_rc 0 "--compress none is plain" "$cli" filter "${F[@]}" "${police[@]}" --compress none --in "$T/a.bin" --out "$T/none"
same "--compress none: the plain bytes" "$T/plain" "$T/none"

# ---- every engine: output, levels, threads, twins, cross-reading ----
for eng in "${engines[@]}"; do
    export DMVFILTER_GZIP=$eng
    for lv in 0 1 6 9; do
        expect_rc 0 "$eng: --gzip-level $lv" "$cli" filter "${F[@]}" "${police[@]}" --gzip --gzip-level "$lv" \
            --threads 1 --in "$T/a.bin" --out "$T/$eng.l$lv.gz"
        check "$eng: --gzip-level $lv gunzips to the plain release" cmp -s <(gzip -dc "$T/$eng.l$lv.gz") "$T/plain"
    done
    for n in 1 2; do
        for x in a b; do
            expect_rc 0 "$eng: --gzip --threads $n ($x)" "$cli" filter "${F[@]}" "${police[@]}" --gzip \
                --threads $n --in "$T/$x.bin" --out "$T/$eng.$x.$n.gz"
        done
        same "$eng: --threads $n: the twins' gzip file is the records' one" "$T/$eng.a.$n.gz" "$T/$eng.b.$n.gz"
    done
    same "$eng: --threads 2 gives the bytes of --threads 1" "$T/$eng.a.1.gz" "$T/$eng.a.2.gz"
    same "$eng: the default level is --gzip-level 1" "$T/$eng.a.1.gz" "$T/$eng.l1.gz"
    m=$(zlib_reads "$T/$eng.a.1.gz")
    check "$eng: zlib reads every member whole ($m members)" [ "${m:-0}" -ge 2 ]
    "$cli" filter "${F[@]}" "${police[@]}" --gzip --threads 2 <"$T/b.bin" 2>/dev/null | cat >"$T/$eng.pipe.gz"
    same "$eng: twins through pipes give the file's gzip bytes" "$T/$eng.a.1.gz" "$T/$eng.pipe.gz"
    expect_rc 3 "$eng: a refusal with --gzip" "$cli" filter "${F[@]}" "${ice[@]}" --gzip --in "$T/a.bin" --out "$T/$eng.ice.gz"
    check "$eng: the refusal is an empty gzip file" [ "$(gzip -dc "$T/$eng.ice.gz" | wc -c)" -eq 0 ]
    unset DMVFILTER_GZIP
done
if [ ${#engines[@]} = 2 ]; then
    check "ISA-L and zlib write different bytes (each engine is used)" ! cmp -s "$T/isa-l.a.1.gz" "$T/zlib.a.1.gz"
fi
for eng in "${engines[@]}"; do
    for from in "${engines[@]}"; do
        DMVFILTER_GZIP=$eng expect_rc 0 "$eng reads $from's output" "$cli" filter "${F[@]}" "${research[@]}" \
            --in "$T/$from.a.1.gz" --out "$T/read.$eng.$from"
        same "$eng reading $from's output releases what the plain input releases" "$T/plain2" "$T/read.$eng.$from"
    done
    gzip -c "$T/plain" >"$T/plain.gz"
    DMVFILTER_GZIP=$eng expect_rc 0 "$eng reads gzip's output" "$cli" filter "${F[@]}" "${research[@]}" \
        --in "$T/plain.gz" --out "$T/read.$eng.gzip"
    same "$eng reading gzip's output: the same release" "$T/plain2" "$T/read.$eng.gzip"
done

# ---- zstd ----
for n in 1 2; do
    for x in a b; do
        expect_rc 0 "zstd: --threads $n ($x)" "$cli" filter "${F[@]}" "${police[@]}" --compress zstd \
            --threads $n --in "$T/$x.bin" --out "$T/z.$x.$n.zst"
    done
    same "zstd: --threads $n: the twins' file is the records' one" "$T/z.a.$n.zst" "$T/z.b.$n.zst"
done
same "zstd: --threads 2 gives the bytes of --threads 1" "$T/z.a.1.zst" "$T/z.a.2.zst"
check "zstd: the output starts with the zstd magic" [ "$(head -c 4 "$T/z.a.1.zst" | od -An -tx1 | tr -d ' ')" = 28b52ffd ]
if [ $have_zstd = 1 ]; then
    check "zstd -d reads the output: the plain release" cmp -s <(zstd -qdc "$T/z.a.1.zst") "$T/plain"
    frames=$(zstd -lv "$T/z.a.1.zst" 2>/dev/null | sed -n 's/^# [A-Za-z ]*Frames: *\([0-9]*\).*/\1/p')
    check "zstd: several frames (${frames:-?})" [ "${frames:-0}" -ge 2 ]
    zstd -q -c "$T/plain" >"$T/plain.zst"
    expect_rc 0 "zstd input (zstd's own output)" "$cli" filter "${F[@]}" "${research[@]}" --in "$T/plain.zst" \
        --out "$T/read.zstd.tool"
    same "zstd input: the same release" "$T/plain2" "$T/read.zstd.tool"
fi
expect_rc 0 "zstd input (our output)" "$cli" filter "${F[@]}" "${research[@]}" --in "$T/z.a.1.zst" --out "$T/read.zstd"
same "zstd input, ours: the same release" "$T/plain2" "$T/read.zstd"
expect_rc 3 "zstd: a refusal" "$cli" filter "${F[@]}" "${ice[@]}" --compress zstd --in "$T/a.bin" --out "$T/ice.zst"
[ $have_zstd = 1 ] && check "zstd: the refusal is an empty zstd file" [ "$(zstd -qdc "$T/ice.zst" | wc -c)" -eq 0 ]
expect_rc 0 "zstd: the empty refusal is valid input" "$cli" filter "${F[@]}" "${research[@]}" --in "$T/ice.zst" --out "$T/ice.read"
check "zstd: it releases nothing" [ ! -s "$T/ice.read" ]

# ---- framed: through the sink, a member per request ----
expect_rc 0 "a framed stream of 3 requests" "$gen" --framed --count 30 --requests 3 --request-id fr --seed 73 \
    --ori NYUNIV000 --agency-kind research --purpose 5 --query-kind list --date 20261122 --out "$T/f.framed"
expect_rc 0 "framed, plain" "$cli" filter "${F[@]}" --date 2026-11-22 --format framed --in "$T/f.framed" --out "$T/f.plain"
for eng in "${engines[@]}"; do
    DMVFILTER_GZIP=$eng expect_rc 0 "framed, $eng gzip" "$cli" filter "${F[@]}" --date 2026-11-22 --format framed \
        --gzip --in "$T/f.framed" --out "$T/f.$eng.gz"
    check "framed, $eng: gunzips to the plain release" cmp -s <(gzip -dc "$T/f.$eng.gz") "$T/f.plain"
    m=$(zlib_reads "$T/f.$eng.gz")
    check "framed, $eng: a member per request ($m)" [ "${m:-0}" -ge 3 ]
done
expect_rc 0 "framed, zstd" "$cli" filter "${F[@]}" --date 2026-11-22 --format framed --compress zstd \
    --in "$T/f.framed" --out "$T/f.zst"
[ $have_zstd = 1 ] && check "framed, zstd: zstd -d gives the plain release" cmp -s <(zstd -qdc "$T/f.zst") "$T/f.plain"

# ---- protections, every decoder ----
make_bomb "$T/bomb.gz" 8
decoders=()
for eng in "${engines[@]}"; do decoders+=("gzip:$eng"); done
if [ $have_zstd = 1 ]; then
    gzip -dc "$T/bomb.gz" | zstd -q -19 -c >"$T/bomb.zst"
    zsize=$(stat -c %s "$T/bomb.zst")
    check "the zstd bomb inflates more than 1000 times its size ($zsize bytes)" [ $(( (64 << 20) / zsize )) -gt 1000 ]
    decoders+=(zstd)
fi
ext() { [ "${1%%:*}" = zstd ] && echo zst || echo gz; }
for dec in "${decoders[@]}"; do
    e=$(ext "$dec") eng=${dec#gzip:} name=${dec%%:*}
    [ "$dec" = zstd ] && eng=zlib
    export DMVFILTER_GZIP=$eng
    mkdir -p "$T/o"
    for th in 1 3; do
        expect_rc 65 "$dec: bomb over --max-inflate 8M, --threads $th" "$cli" filter "${F[@]}" "${research[@]}" \
            --max-inflate 8M --threads "$th" --in "$T/bomb.$e" --out "$T/o/bomb.out"
        said "$dec: bomb, --threads $th: says why" "$name: input inflates past 8388608 bytes, the --max-inflate limit \(ratio [0-9]+:1\) at compressed byte offset [0-9]+"
        check "$dec: bomb, --threads $th: nothing written" [ -z "$(ls -A "$T/o")" ]
    done
    # a valid file, then what is no member
    if [ "$dec" = zstd ]; then cp "$T/z.a.1.zst" "$T/good.$e"; else cp "$T/$eng.a.1.gz" "$T/good.$e"; fi
    { cat "$T/good.$e"; printf 'garbage after the last member'; } >"$T/garbage.$e"
    { cat "$T/good.$e"; head -c 64 /dev/zero; } >"$T/zeros.$e"
    { cat "$T/good.$e"; printf 'g'; } >"$T/onebyte.$e"
    head -c $(( $(stat -c %s "$T/good.$e") - 5 )) "$T/good.$e" >"$T/trunc.$e"
    head -c $(( $(stat -c %s "$T/good.$e") / 2 )) "$T/good.$e" >"$T/half.$e"
    for bad in garbage zeros onebyte trunc half; do
        expect_rc 65 "$dec: $bad is refused" "$cli" filter "${F[@]}" "${research[@]}" --threads 1 \
            --in "$T/$bad.$e" --out "$T/o/bad.out"
        said "$dec: $bad: names the compressed offset" "$name: .* at compressed byte offset [0-9]+"
        check "$dec: $bad: nothing written" [ -z "$(ls -A "$T/o")" ]
    done
    expect_rc 0 "$dec: the file itself passes" "$cli" filter "${F[@]}" "${research[@]}" --in "$T/good.$e" --out "$T/o/good.out"
    same "$dec: the file releases what the plain input releases" "$T/plain2" "$T/o/good.out"
    rm -rf "$T/o"
    unset DMVFILTER_GZIP
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
