#!/usr/bin/env bash
# gzip_twins.sh - `--gzip` members follow the released bytes, not the input
# (issue 11, item 8): records and their twins (differing only in M and C
# fields, so in size: marking one record used to move a record from one
# member to the next) give byte-identical gzip files, at 1, 2 and 3 threads,
# to a file and to a pipe, and whatever the chunk size; the members are
# many, each ending at a record, and gunzip to the plain release. Framed
# streams end a member at each request.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-gzip-twins.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE DMVF_CHUNK_BYTES DMVF_GZIP_MEMBER_BYTES
. "$DMVF_SRC/tests/cli_lib.sh"

same() { if cmp -s "$2" "$3"; then ok "$1"; else bad "$1 ($(cmp "$2" "$3" 2>&1 | head -1))"; fi; }
# members FILE: the uncompressed size of each gzip member, one per line
members() {
    python3 - "$1" <<'EOF'
import sys, zlib
d = open(sys.argv[1], "rb").read()
while d:
    z = zlib.decompressobj(31)
    out = z.decompress(d)
    if not z.eof: sys.exit("not a whole gzip member")
    print(len(out)); d = z.unused_data
EOF
}
# whole FILE.gz: every member ends at a record boundary of the release
whole() {
    py - "$1" <<'EOF'
import sys, zlib
from delimited import split
d = open(sys.argv[1], "rb").read()
while d:
    z = zlib.decompressobj(31)
    m = z.decompress(d); d = z.unused_data
    if not split(m)[1]: sys.exit(1)
EOF
}

expect_rc 0 "keys init" "$cli" keys init --keyring "$T/kr" --unsealed
expect_rc 0 "25,000 records and their twins" "$gen" --count 25000 --seed 61 --marked 0.3 \
    --out "$T/a.bin" --twins "$T/b.bin"
check "the twins differ from the records" ! cmp -s "$T/a.bin" "$T/b.bin"
check "and in size" [ "$(stat -c %s "$T/a.bin")" != "$(stat -c %s "$T/b.bin")" ]
sed '/max_records: 50/d' "$DMVF_SRC/examples/policy.yaml" >"$T/policy.yaml"
F=(--policy "$T/policy.yaml" --keyring "$T/kr" --quiet)
police=(--ori NY0300000 --purpose 1 --query-kind by_license --date 2026-11-22)
research=(--ori NYUNIV000 --purpose 5 --query-kind list --date 2026-11-22)

for who in police research; do
    declare -n req=$who
    expect_rc 0 "$who: plain release of the records" "$cli" filter "${F[@]}" "${req[@]}" \
        --in "$T/a.bin" --out "$T/$who.a"
    expect_rc 0 "$who: plain release of the twins" "$cli" filter "${F[@]}" "${req[@]}" \
        --in "$T/b.bin" --out "$T/$who.b"
    same "$who: records and twins release the same bytes" "$T/$who.a" "$T/$who.b"
    for n in 1 2 3; do
        for x in a b; do
            expect_rc 0 "$who: --gzip --threads $n ($x)" "$cli" filter "${F[@]}" "${req[@]}" --gzip \
                --threads $n --in "$T/$x.bin" --out "$T/$who.$x.$n.gz"
        done
        same "$who: --threads $n: the twins' gzip file is the records' one" "$T/$who.a.$n.gz" "$T/$who.b.$n.gz"
        same "$who: --threads $n gives the bytes of --threads 1" "$T/$who.a.1.gz" "$T/$who.a.$n.gz"
    done
    check "$who: the gzip file gunzips to the plain release" cmp -s <(gzip -dc "$T/$who.a.1.gz") "$T/$who.a"
    members "$T/$who.a.1.gz" >"$T/$who.members"
    m=$(wc -l <"$T/$who.members")
    check "$who: $m members, each about 1 MiB of released output" python3 -c '
import sys
sizes = [int(l) for l in open(sys.argv[1])]
full = sizes[:-1]
sys.exit(not (len(sizes) >= 2 and all(abs(s - (1 << 20)) < 4096 for s in full)
              and sizes[-1] <= (1 << 20) + 4096))' "$T/$who.members"
    check "$who: every member ends at a record" whole "$T/$who.a.1.gz"
    cat "$T/b.bin" | "$cli" filter "${F[@]}" "${req[@]}" --gzip --threads 2 2>/dev/null | cat >"$T/$who.pipe.gz"
    same "$who: twins through pipes give the file's gzip bytes" "$T/$who.a.1.gz" "$T/$who.pipe.gz"
    DMVF_CHUNK_BYTES=3K "$cli" filter "${F[@]}" "${req[@]}" --gzip --threads 3 --in "$T/b.bin" \
        --out "$T/$who.small.gz" 2>/dev/null
    same "$who: 3K chunks (members spanning many chunks) give the same gzip bytes" \
        "$T/$who.a.1.gz" "$T/$who.small.gz"
    unset -n req
done

# members of 64K: many, still the same for twins and thread counts
for x in a b; do
    DMVF_GZIP_MEMBER_BYTES=64K "$cli" filter "${F[@]}" "${police[@]}" --gzip --threads 3 \
        --in "$T/$x.bin" --out "$T/small.$x.gz" 2>/dev/null
done
same "64K members: the twins' gzip file is the records' one" "$T/small.a.gz" "$T/small.b.gz"
check "64K members: more than 50 of them" [ "$(members "$T/small.a.gz" | wc -l)" -gt 50 ]
check "64K members: each ends at a record" whole "$T/small.a.gz"

# framed: a member per request, the same for twins
"$gen" --framed --count 3000 --requests 3 --request-id tw --seed 62 --marked 0.3 --ori NYUNIV000 \
    --agency-kind research --purpose 5 --query-kind list --date 20261122 --out "$T/a.fr" 2>/dev/null
"$gen" --framed --count 3000 --requests 3 --request-id tw --seed 62 --marked 0.3 --ori NYUNIV000 \
    --agency-kind research --purpose 5 --query-kind list --date 20261122 --out "$T/a2.fr" \
    --twins "$T/b.fr" 2>/dev/null
check "framed twins differ" ! cmp -s "$T/a.fr" "$T/b.fr"
FR=(--policy "$T/policy.yaml" --keyring "$T/kr" --quiet --format framed --date 2026-11-22 --gzip)
expect_rc 0 "framed --gzip, records" "$cli" filter "${FR[@]}" --in "$T/a.fr" --out "$T/fa.gz"
expect_rc 0 "framed --gzip, twins" "$cli" filter "${FR[@]}" --in "$T/b.fr" --out "$T/fb.gz"
same "framed: the twins' gzip file is the records' one" "$T/fa.gz" "$T/fb.gz"
"$cli" filter "${FR[@]}" --in "$T/b.fr" 2>/dev/null | cat >"$T/fpipe.gz"
same "framed: to a pipe, the same gzip bytes" "$T/fa.gz" "$T/fpipe.gz"
check "framed: a member per request, then the seal's" [ "$(members "$T/fa.gz" | wc -l)" = 4 ]

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
