#!/usr/bin/env bash
# twin.sh - the twin rule through `dmvfilter filter` (issue 11, item 7): a
# marked record and its twin (the same record without M and C fields) are
# released alike, dropped alike and refused alike, in every valid encoding
# of the marking and under every record-size limit:
#   - a marking sub-message sent in two pieces (protobuf merges them);
#   - a marking holding an unknown group field (wire types 3 and 4);
#   - --max-record-bytes 400 with a 440-byte marked record whose twin is 93
#     bytes (the limit judges the record without its M and C fields);
# for the in-state police and the researchers, records and framed streams,
# with and without --drop-malformed, one thread and --threads 2.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
policy=$DMVF_SRC/examples/policy.yaml
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-twin.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE
. "$DMVF_SRC/tests/cli_lib.sh"

expect_rc 0 "keys init --unsealed" "$cli" keys init --keyring "$T/kr" --unsealed
"$gen" --framed --count 1 --seed 1 --request-id twin --ori NY0300000 --agency-kind local \
    --purpose 1 --query-kind by_license --date 20261122 --out "$T/police.frm" \
    || { echo "FAIL - dmvf-gen --framed"; exit 1; }
"$gen" --framed --count 1 --seed 1 --request-id twin --ori NYUNIV000 --agency-kind research \
    --purpose 5 --query-kind list --date 20261122 --out "$T/research.frm" \
    || { echo "FAIL - dmvf-gen --framed"; exit 1; }

# Writes NAME.rec (a records stream) and NAME.POLICE.frm / NAME.research.frm
# (the same records after that requester's request frame) for each input.
py - "$T" <<'EOF' || { echo "FAIL - crafting the records"; exit 1; }
import os, sys
T = sys.argv[1]


from delimited import delim, key, ld, varint, vi


def first_frame(path):
    d = open(path, "rb").read()
    n, i = 0, 0
    shift = 0
    while True:
        b = d[i]
        i += 1
        n |= (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            break
    return d[i:i + n]


# the twin: nothing marked, no M or C field
person = ld(1, b"GARCIA") + ld(2, b"MARIA") + vi(6, 19850314)
lic = ld(1, b"D12345678") + ld(5, b"D") + vi(10, 1)
twin = ld(1, b"NY-2026-000123") + ld(2, person) + ld(3, lic) + ld(8, vi(1, 20240102) + ld(3, b"VTL1180B"))
twin = twin + ld(7, ld(1, b"ABC1234") + ld(5, b"HYUNDAI"))
assert len(twin) == 93, len(twin)

# the marked record: the same, with M and C fields
marking = vi(1, 2) + vi(2, 1) + ld(3, b"AB60") + ld(4, b"FEDERAL LIMITS APPLY") + vi(5, 20270101)
doc = vi(1, 6) + ld(2, b"MEX") + ld(3, b"C0NSULAR99")
pc = person + ld(12, b"HISPANIC") + ld(13, b"MEXICO") + vi(15, 2)
lc = lic + ld(2, b"DD0123456789") + vi(9, 20270101) + vi(11, 20220701) + ld(12, b"NYL000111222")
head = twin[:len(ld(1, b"NY-2026-000123"))]
rest = twin[len(head):]
rest = rest[len(ld(2, person)) + len(ld(3, lic)):]


def marked_with(mark_fields, pad_to=None):
    """the twin's fields with M and C fields among them; application.denial_reason
    (C) makes it pad_to bytes long"""
    for k in range(0, 1000):
        app = vi(1, 20220701) + ld(3, b"NO RECORD FOUND 4455") + (ld(2, b"X" * k) if pad_to else b"")
        rec = head + ld(2, pc) + ld(3, lc) + mark_fields + ld(5, doc) + rest + ld(9, app)
        if pad_to is None or len(rec) == pad_to:
            return rec
    raise ValueError("no padding reaches %d bytes" % pad_to)


cut = len(vi(1, 2) + vi(2, 1))
recs = {
    "twin": twin,
    "pieces": marked_with(ld(4, marking[:cut]) + ld(4, marking[cut:])),
    "group": marked_with(ld(4, marking + key(10, 3) + vi(1, 7) + ld(2, b"in a group") + key(10, 4))),
    "big": marked_with(ld(4, marking), pad_to=440),
}
assert len(recs["big"]) == 440
other = ld(1, b"NY-2026-000999") + ld(2, ld(1, b"LEE") + vi(6, 19700101))
for name, rec in recs.items():
    for k, stream in (("", [rec]), (".pair", [rec, other])):
        open(os.path.join(T, name + k + ".rec"), "wb").write(b"".join(delim(r) for r in stream))
        for who in ("police", "research"):
            frame = first_frame(os.path.join(T, who + ".frm"))
            data = delim(frame) + b"".join(delim(ld(2, r)) for r in stream)
            open(os.path.join(T, "%s%s.%s.frm" % (name, k, who)), "wb").write(data)
# --threads: 3,000 records, each shape in turn, and as many twins
many = [recs[n] for n in ("pieces", "group", "big")] * 1000
open(os.path.join(T, "many.rec"), "wb").write(b"".join(delim(r) for r in many))
open(os.path.join(T, "many.twin.rec"), "wb").write(b"".join(delim(twin) for _ in many))
EOF

police=(--ori NY0300000 --agency-kind local --jurisdiction NY --purpose 1 --query-kind by_license
        --request-id twin --date 2026-11-22)
research=(--ori NYUNIV000 --agency-kind research --purpose 5 --query-kind list --request-id twin
          --date 2026-11-22)
F=(--policy "$policy" --keyring "$T/kr")

# run WHO FORMAT NAME OUT [FLAGS...]: exit status in OUT.rc, stderr in OUT.err
run() {
    local who=$1 fmt=$2 name=$3 out=$4
    shift 4
    if [ "$fmt" = records ]; then
        local -n req=$who
        "$cli" filter "${F[@]}" "${req[@]}" --in "$T/$name.rec" --out "$out" "$@" 2>"$out.err"
    else
        "$cli" filter "${F[@]}" --format framed --date 2026-11-22 --in "$T/$name.$who.frm" --out "$out" "$@" 2>"$out.err"
    fi
    echo $? >"$out.rc"
}

# alike WHAT WHO FORMAT NAME WANT [FLAGS...]: NAME and its twin exit WANT
# alike and, released, write the same bytes
alike() {
    local what=$1 who=$2 fmt=$3 name=$4 want=$5
    shift 5
    local base=twin
    case $name in *.pair) base=twin.pair ;; esac
    rm -f "$T/a" "$T/b"
    run "$who" "$fmt" "$name" "$T/a" "$@"
    run "$who" "$fmt" "$base" "$T/b" "$@"
    local ra rb
    ra=$(cat "$T/a.rc") rb=$(cat "$T/b.rc")
    if [ "$ra" != "$want" ] || [ "$rb" != "$want" ]; then
        bad "$what ($who, $fmt $*): exit $ra, twin exit $rb, want $want"
        sed 's/^/      /' "$T/a.err" | head -3
    elif [ "$want" = 0 ] && ! cmp -s "$T/a" "$T/b"; then
        bad "$what ($who, $fmt $*): released other bytes than its twin"
    else
        ok "$what ($who, $fmt $*): as its twin (exit $want)"
    fi
}

for who in police research; do
    for fmt in records framed; do
        alike "marking in two pieces" "$who" "$fmt" pieces 0
        alike "marking in two pieces" "$who" "$fmt" pieces 0 --drop-malformed
        alike "marking in two pieces, then another record" "$who" "$fmt" pieces.pair 0 --drop-malformed
        alike "marking with an unknown group" "$who" "$fmt" group 0
        alike "marking with an unknown group" "$who" "$fmt" group 0 --drop-malformed
        alike "marking with an unknown group, then another record" "$who" "$fmt" group.pair 0 --drop-malformed
        alike "440-byte marked record, 93-byte twin" "$who" "$fmt" big 0 --max-record-bytes 400
        alike "440-byte marked record, 93-byte twin" "$who" "$fmt" big 0 --max-record-bytes 400 --drop-malformed
        alike "440-byte marked record, 93-byte twin" "$who" "$fmt" big 65 --max-record-bytes 80
    done
done
run police records pieces.pair "$T/d" --drop-malformed
grep -q "released 2 of 2 records" "$T/d.err" && ok "--drop-malformed drops nothing: released 2 of 2" \
    || bad "--drop-malformed: $(cat "$T/d.err")"
run police records big "$T/e" --max-record-bytes 80
grep -q "not counting its marking" "$T/e.err" && ok "the size message says what is counted" \
    || bad "size message: $(cat "$T/e.err")"

# the parallel path (records format, --threads 2) reads and judges alike
for t in 1 2; do
    "$cli" filter "${F[@]}" "${research[@]}" --threads "$t" --max-record-bytes 400 --in "$T/many.rec" \
        --out "$T/m$t" 2>"$T/m$t.err"
    ra=$?
    "$cli" filter "${F[@]}" "${research[@]}" --threads "$t" --max-record-bytes 400 --in "$T/many.twin.rec" \
        --out "$T/t$t" 2>"$T/t$t.err"
    rb=$?
    if [ "$ra" = 0 ] && [ "$rb" = 0 ] && cmp -s "$T/m$t" "$T/t$t"; then
        ok "3,000 shaped records and their twins, --threads $t: the same bytes"
    else
        bad "--threads $t: exit $ra / $rb, or other bytes"
        sed 's/^/      /' "$T/m$t.err" | head -3
    fi
done
cmp -s "$T/m1" "$T/m2" && ok "--threads 1 and 2 give the same bytes" || bad "--threads 1 and 2 differ"

# ---- issue 12, item 4: JSON Lines and CSV, in and out ----
# Records and their twins as JSON Lines and CSV (the same header for both)
# release identical bytes in every output format, for a release through the
# pipeline (researchers, --threads 1 and 2), one with a record limit (police,
# 40 records under 50), a not-found refusal (immigration enforcement) and a
# request held for review (foreign agency): a refusal and a hold are empty in
# every format, CSV too (no header: a refused request's columns are nobody's).
for f in pb jsonl csv; do
    "$gen" --count 40 --seed 12 --marked 0.5 --format "$f" --out "$T/fa.$f" --twins "$T/fb.$f" \
        || bad "dmvf-gen --format $f --twins"
    check "$f: the twins differ from the records" ! cmp -s "$T/fa.$f" "$T/fb.$f"
done
ice=(--ori DCICE0000 --purpose 1 --query-kind by_license --legal-process judicial_warrant
     --request-id twin-ice --date 2026-11-22)
foreign=(--ori CA0000001 --purpose 1 --query-kind by_license --request-id twin-foreign --date 2026-11-22)
"$cli" review keygen --secret-key "$T/rev.key" --public-key "$T/rev.pub" >/dev/null 2>&1 || bad "review keygen"
for who in research police ice foreign; do
    declare -n req=$who
    case $who in research|police) want=0 ;; ice) want=3 ;; foreign) want=4 ;; esac
    for fi in records jsonl csv; do
        x=$fi; [ "$fi" = records ] && x=pb
        for fo in records jsonl csv; do
            for t in 1 2; do
                for side in a b; do
                    "$cli" filter "${F[@]}" "${req[@]}" --format "$fi" --output-format "$fo" --threads "$t" \
                        --review-spool "$T/spool.$side" --review-public-key "$T/rev.pub" \
                        --in "$T/f$side.$x" --out "$T/o.$side" 2>"$T/o.$side.err"
                    eval "rc_$side=\$?"
                done
                if [ "$rc_a" = "$want" ] && [ "$rc_b" = "$want" ] && cmp -s "$T/o.a" "$T/o.b"; then
                    ok "$who, $fi -> $fo, --threads $t: records and twins give the same bytes (exit $want)"
                else
                    bad "$who, $fi -> $fo, --threads $t: exit $rc_a / $rc_b (want $want), or other bytes"
                    sed 's/^/      /' "$T/o.a.err" | head -3
                fi
                if [ "$want" = 0 ]; then
                    check "$who, $fi -> $fo: the release is not empty" [ -s "$T/o.a" ]
                else
                    check "$who, $fi -> $fo: the refusal or hold is empty" [ ! -s "$T/o.a" ]
                fi
            done
        done
    done
    unset -n req
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
