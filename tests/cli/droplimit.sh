#!/usr/bin/env bash
# droplimit.sh - `--drop-malformed` and a rule's record limit count the same
# records (issue 11, item 3): a dropped record is not released, so it never
# makes a request pass its limit, and the limit check, stderr, the trailer,
# the RELEASE entry and the transparency report all count the records that
# were released. Records and framed, a malformed record before and after a
# good one, under the example policy's immigration rule (max_records: 1).
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
policy=$DMVF_SRC/examples/policy.yaml
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-droplimit.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE
. "$DMVF_SRC/tests/cli_lib.sh"
umask 077

expect_rc 0 "keys init" "$cli" keys init --keyring "$T/kr" --unsealed
"$gen" --count 2 --seed 51 --out "$T/two.bin" 2>/dev/null
# make IN KIND OUT SHAPE: OUT is a records (KIND records) or framed (KIND
# framed, one court-ordered immigration request) stream of the records SHAPE
# names: g for a good record of IN, m for a malformed one (a string field
# that claims more bytes than it has)
make() {
    py - "$@" <<'EOF'
import sys
from delimited import *
src, kind, dst, shape = sys.argv[1:5]
good = split(open(src, "rb").read())[0]
recs = [good.pop(0) if c == "g" else b"\x0a\x05AB" for c in shape]
if kind == "records":
    out = join(recs)
else:
    req = (ld(1, b"ice-" + shape.encode()) + ld(2, b"DCICE0100") + vi(8, 1) + vi(9, 4) + vi(11, 1)
           + vi(14, 20261122))
    out = join([ld(1, req)] + [ld(2, r) for r in recs])
open(dst, "wb").write(out)
EOF
}
# frames FILE: "record" per record frame, "trailer IN OUT DROPPED" per
# trailer, "seal"
frames() {
    py - "$1" <<'EOF'
import sys
from delimited import *
for kind, body in frames(open(sys.argv[1], "rb").read()):
    if kind == "trailer":
        t = fields(body)
        print("trailer", t.get(2, 0), t.get(3, 0), t.get(4, 0))
    else:
        print(kind)
EOF
}
# frame_records FILE: the record frames of a framed output as a records stream
frame_records() {
    py -c '
import sys
from delimited import *
sys.stdout.buffer.write(join(b for k, b in frames(open(sys.argv[1], "rb").read()) if k == "record"))' "$1"
}
# count FILE: the records of a records-format stream
count() {
    py -c 'import sys; from delimited import *; print(len(split(open(sys.argv[1], "rb").read())[0]))' "$1"
}
# release LOG: "IN OUT DROPPED NOTE" of the log's RELEASE entry
release() {
    "$cli" audit query "$1" --kind release 2>/dev/null | python3 -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    print(e.get("records_in", 0), e.get("records_out", 0), e.get("records_dropped", 0), e.get("note") or "-")'
}
# report LOG: "RELEASED REFUSED RECORDS" of the report's totals
report() {
    "$cli" audit report "$1" --from 2020-01-01 --to 2099-12-31 --format json 2>/dev/null | python3 -c '
import json, sys
t = json.load(sys.stdin)["totals"]
print(t["released"], t["refused"], t["records_released"])'
}
ice=(--ori DCICE0100 --legal-process court_order --query-kind by_license --date 2026-11-22)
R=(--policy "$policy" --keyring "$T/kr" "${ice[@]}" --drop-malformed)
FR=(--policy "$policy" --keyring "$T/kr" --format framed --date 2026-11-22 --drop-malformed)

# ---- one malformed record and one good one: one released, and said so everywhere ----
for shape in mg gm; do
    : >"$T/q.$shape" && chmod 600 "$T/q.$shape"
    make "$T/two.bin" records "$T/in.$shape.rec" "$shape"
    expect_rc 0 "records $shape: released" "$cli" filter "${R[@]}" --in "$T/in.$shape.rec" \
        --out "$T/out.$shape.rec" --audit "$T/log.$shape.rec" --notices "$T/q.$shape"
    check "records $shape: one record out" [ "$(count "$T/out.$shape.rec")" = 1 ]
    check "records $shape: stderr says 1 of 2 released, 1 dropped" \
        grep -q "released 1 of 2 records (rule 'immigration enforcement', policy [0-9a-f]*); 1 malformed dropped" "$T/err"
    check "records $shape: the RELEASE entry counts 2 in, 1 out, 1 dropped" \
        [ "$(release "$T/log.$shape.rec")" = "2 1 1 -" ]
    check "records $shape: the report counts it released, with 1 record" [ "$(report "$T/log.$shape.rec")" = "1 0 1" ]
    check "records $shape: one notice, for the record released" [ "$(grep -c '"type":"notice"' "$T/q.$shape")" = 1 ]

    make "$T/two.bin" framed "$T/in.$shape.fr" "$shape"
    expect_rc 0 "framed $shape: released" "$cli" filter "${FR[@]}" --in "$T/in.$shape.fr" \
        --out "$T/out.$shape.fr" --audit "$T/log.$shape.fr" --notices "$T/q.$shape"
    check "framed $shape: one record frame, a trailer counting 2 in, 1 out, 1 dropped, the seal" \
        [ "$(frames "$T/out.$shape.fr" | tr '\n' ' ')" = "record trailer 2 1 1 seal " ]
    check "framed $shape: stderr says 1 of 2 released, 1 dropped" \
        grep -q "request ice-$shape: released 1 of 2 records (rule 'immigration enforcement'); 1 malformed dropped" "$T/err"
    check "framed $shape: the summary says 1 released" grep -q "1 requests: 1 released, 0 refused" "$T/err"
    check "framed $shape: the RELEASE entry counts 2 in, 1 out, 1 dropped" \
        [ "$(release "$T/log.$shape.fr")" = "2 1 1 -" ]
    check "framed $shape: the report counts it released, with 1 record" [ "$(report "$T/log.$shape.fr")" = "1 0 1" ]
    check "framed and records release the same record" cmp -s <(frame_records "$T/out.$shape.fr") "$T/out.$shape.rec"
done

# ---- two good records (one dropped besides): past the limit, refused, and said so everywhere ----
"$gen" --count 2 --seed 52 --out "$T/more.bin" 2>/dev/null
cat "$T/two.bin" "$T/more.bin" >"$T/four.bin"
make "$T/four.bin" records "$T/in.mgg.rec" mgg
expect_rc 3 "records mgg: two records released would pass the limit: refused" "$cli" filter "${R[@]}" \
    --in "$T/in.mgg.rec" --out "$T/out.mgg.rec" --audit "$T/log.mgg.rec" --notices "$T/q.mgg"
check "records mgg: nothing released" [ -e "$T/out.mgg.rec" ] && [ ! -s "$T/out.mgg.rec" ]
check "records mgg: the RELEASE entry says refused, nothing out" \
    grep -q " 0 1 refused: more than the record limit; nothing released" <(release "$T/log.mgg.rec")
make "$T/four.bin" framed "$T/in.mgg.fr" mgg
expect_rc 3 "framed mgg: refused" "$cli" filter "${FR[@]}" --in "$T/in.mgg.fr" \
    --out "$T/out.mgg.fr" --audit "$T/log.mgg.fr" --notices "$T/q.mgg"
check "framed mgg: no record frame" ! frames "$T/out.mgg.fr" | grep -q record
check "framed mgg: stderr counts the 2 records not dropped against the limit" \
    grep -q "request ice-mgg: refused by rule 'immigration enforcement': 2 records not dropped, more than the record limit of 1" "$T/err"
check "framed mgg: the RELEASE entry says refused, nothing out" \
    grep -q " 0 1 refused: more than the record limit; nothing released" <(release "$T/log.mgg.fr")
check "framed mgg: the report counts no record released" [ "$(report "$T/log.mgg.fr" | cut -d' ' -f3)" = 0 ]

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
