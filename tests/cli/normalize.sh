#!/usr/bin/env bash
# normalize.sh - marking.normalize fails closed, end to end. Records whose
# class code, restrictions and endorsements hold a state's marking values
# in odd spellings ("dp", " DP", "DP\0", "fla", "FLA ", "F<U+200B>LA"), values
# on no allow list, and allowed ones go through `dmvfilter filter --audit`
# for the in-state police (the example policy, its police profile releasing
# endorsements too): only allowed values leave (DP mapped to D, FLA
# dropped); every other value is redacted and counted as redacted at its
# path in the RELEASE entry and in the transparency report. `policy check`
# and `policy explain` print each field's map, drop and allow list; a
# policy that releases a class code without an allow list, or still uses
# the old {DP: D} form, does not load (exit 78, file:line:column).
set -u
: "${DMVF_CLI:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-normalize.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE

. "$DMVF_SRC/tests/cli_lib.sh"

# the example policy without subject notices (not under test here), its
# police profile releasing endorsements as well as class code and restrictions
policy=$T/policy.yaml
sed -e '/notify_subject: *true/d' \
    -e 's/^      license\.restrictions: release$/&\n      license.endorsements: release/' \
    "$DMVF_SRC/examples/policy.yaml" >"$policy"
check "the police profile releases endorsements in the test policy" \
    grep -q '^      license.endorsements: release$' "$policy"

# ---- policy check and explain show every table ----
expect_rc 0 "policy check" "$cli" policy check "$policy"
check "check: class code map and allow list" grep -qF \
    '  license.class_code: "DP"->"D"; allow only "A", "B", "C", "CDL-A", "CDL-B", "CDL-C", "D", "DJ", "E", "M", "MJ"; any other value redacted' \
    "$T/stdout"
check "check: restrictions drop and allow list" grep -qF \
    '  license.restrictions: drop "FLA"; allow only "A", "B", "C", "D", "E", "F", "G", "I", "J", "K", "W"; any other value redacted' \
    "$T/stdout"
check "check: endorsements allow list" grep -qF \
    '  license.endorsements: allow only "H", "M", "N", "P", "S", "T", "X"; any other value redacted' "$T/stdout"
check "check: values are compared byte for byte" grep -q 'values compared byte for byte' "$T/stdout"

REQ=(--ori NY0300000 --agency-kind local --jurisdiction NY --purpose 1 --query-kind by_license
     --date 2026-06-01)
expect_rc 0 "policy explain for the police" "$cli" policy explain "$policy" "${REQ[@]}"
for f in class_code restrictions endorsements; do
    check "explain: license.$f is class N, released, with its allow list" \
        grep -Eq "^license\.$f +N +release .*; normalized: .*allow only .*; any other value redacted$" "$T/stdout"
done
expect_rc 0 "policy explain for the DMV's own staff" "$cli" policy explain "$policy" --ori NYDMV0000 \
    --agency-kind internal --jurisdiction NY --date 2026-06-01
check "explain: marking released, class code not normalized" \
    grep -Eq "^license\.class_code +N +release .*marking released: values not normalized$" "$T/stdout"

# ---- the records ----
python3 - "$T/in.bin" "$T/expect" <<'EOF'
import sys
def varint(n):
    out = bytearray()
    while n >= 0x80: out.append((n & 0x7f) | 0x80); n >>= 7
    out.append(n); return bytes(out)
def field(num, v): return varint(num << 3 | 2) + varint(len(v)) + v
zw = "\u200b".encode()
# (value, released as) - None: redacted
classes = [(b"D", b"D"), (b"DP", b"D"), (b"dp", None), (b" DP", None), (b"DP\0", None), (b"DP ", None),
           (b"M", b"M"), (b"TVDL", None), (b"CDL-A", b"CDL-A"), (b"D" + zw + b"P", None), (b"d", None)]
restr = [(b"B", b"B"), (b"FLA", None), (b"fla", None), (b"FLA ", None), (b"F" + zw + b"LA", None),
         (b"FLA\0", None), (b"K", b"K"), (b"", None), (b"Fla", None)]
endorse = [(b"H", b"H"), (b"h", None), (b"X", b"X"), (b"FLA", None), (b" H", None), (b"N", b"N")]
n = 44  # within the police rule's max_records (50)
recs, exp = bytearray(), []
c_ok = c_bad = r_ok = r_bad = e_ok = e_bad = 0
for i in range(n):
    c = classes[i % len(classes)]
    rs = [restr[i % len(restr)], restr[(i + 4) % len(restr)]]
    es = [endorse[i % len(endorse)]]
    lic = field(1, b"12345678%d" % (i % 10)) + field(5, c[0])
    lic += b"".join(field(6, r[0]) for r in rs) + b"".join(field(7, e[0]) for e in es)
    rec = field(1, b"N%03d" % i) + field(2, field(1, b"DOE")) + field(3, lic)
    recs += varint(len(rec)) + rec
    exp.append((c[1] or b"", [r[1] for r in rs if r[1] is not None], [e[1] for e in es if e[1] is not None]))
    c_ok += c[1] is not None; c_bad += c[1] is None
    r_ok += sum(r[1] is not None for r in rs); r_bad += sum(r[1] is None for r in rs)
    e_ok += sum(e[1] is not None for e in es); e_bad += sum(e[1] is None for e in es)
open(sys.argv[1], "wb").write(recs)
with open(sys.argv[2], "w") as f:
    f.write("%d %d %d %d %d %d %d\n" % (n, c_ok, c_bad, r_ok, r_bad, e_ok, e_bad))
    for c, rs, es in exp:
        f.write(repr((c, rs, es)) + "\n")
EOF
read -r N C_OK C_BAD R_OK R_BAD E_OK E_BAD <"$T/expect"

expect_rc 0 "keys init --unsealed" "$cli" keys init --keyring "$T/kr" --unsealed
expect_rc 0 "filter --audit: the police get the records" "$cli" filter --policy "$policy" --keyring "$T/kr" \
    --audit "$T/log" "${REQ[@]}" --in "$T/in.bin" --out "$T/out.bin"
check "stderr: every record released" grep -q "released $N of $N records" "$T/err"

# ---- what left: only allowed values, in order ----
check "only allowed values leave, each where the records had it" python3 - "$T/out.bin" "$T/expect" <<'EOF'
import ast, sys
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if c < 0x80: return v, i
def fields(b):
    i, out = 0, []
    while i < len(b):
        k, i = varint(b, i)
        if k & 7 == 0: v, i = varint(b, i); out.append((k >> 3, v)); continue
        assert k & 7 == 2, "wire type %d" % (k & 7)
        n, i = varint(b, i); out.append((k >> 3, b[i:i + n])); i += n
    return out
data = open(sys.argv[1], "rb").read()
lines = open(sys.argv[2]).read().splitlines()
want = [ast.literal_eval(l) for l in lines[1:]]
i, got = 0, []
while i < len(data):
    n, i = varint(data, i); got.append(data[i:i + n]); i += n
assert len(got) == len(want), "%d records out, %d expected" % (len(got), len(want))
for k, (rec, (c, rs, es)) in enumerate(zip(got, want)):
    lic = [v for num, v in fields(rec) if num == 3]
    assert len(lic) == 1, "record %d: %d licenses" % (k, len(lic))
    lf = fields(lic[0])
    gc = [v for num, v in lf if num == 5]
    assert gc == ([c] if c else []), "record %d: class code %r, want %r" % (k, gc, c)
    gr = [v for num, v in lf if num == 6]
    assert gr == rs, "record %d: restrictions %r, want %r" % (k, gr, rs)
    ge = [v for num, v in lf if num == 7]
    assert ge == es, "record %d: endorsements %r, want %r" % (k, ge, es)
EOF

# ---- the RELEASE entry counts what normalization removed as redacted ----
expect_rc 0 "audit query --kind release" "$cli" audit query "$T/log" --kind release
cp "$T/stdout" "$T/release.jsonl"
# count PATH ACTION : values of PATH under ACTION in the one RELEASE entry ("absent" if none)
count() {
    python3 - "$T/release.jsonl" "$1" "$2" <<'EOF'
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(entries) == 1, "%d release entries" % len(entries)
hits = [f for f in entries[0].get("fields", []) if f["path"] == sys.argv[2] and f["action"] == sys.argv[3]]
print(hits[0]["values"] if hits else "absent")
EOF
}
# klass PATH : the class letters the entry gives PATH
klass() {
    python3 - "$T/release.jsonl" "$1" <<'EOF'
import json, sys
e = json.loads(open(sys.argv[1]).readline())
print(sorted({f["class"] for f in e.get("fields", []) if f["path"] == sys.argv[2]}))
EOF
}
want_count() { # PATH ACTION N
    local got
    got=$(count "$1" "$2")
    [ "$3" -eq 0 ] && [ "$got" = absent ] && got=0
    if [ "$got" = "$3" ]; then ok "RELEASE entry: $1 $2 $3"; else bad "RELEASE entry: $1 $2: $got, want $3"; fi
}
want_count license.class_code release "$C_OK"
want_count license.class_code redact "$C_BAD"
want_count license.restrictions release "$R_OK"
want_count license.restrictions redact "$R_BAD"
want_count license.endorsements release "$E_OK"
want_count license.endorsements redact "$E_BAD"
for f in class_code restrictions endorsements; do
    check "RELEASE entry: license.$f is class N" test "$(klass "license.$f")" = "['N']"
done

# ---- the report counts them among the redacted fields ----
expect_rc 0 "audit report --format json" "$cli" audit report "$T/log" --from 2020-01-01 --to 2099-12-31 \
    --format json --out "$T/r.json"
total() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"][sys.argv[2]])' "$T/r.json" "$1"; }
# record_id (pseudonymized), person.family_name, license.number: released in every record
want_released=$((3 * N + C_OK + R_OK + E_OK)) want_redacted=$((C_BAD + R_BAD + E_BAD))
check "report: $want_redacted fields redacted (the values no allow list names)" \
    test "$(total fields_redacted)" = "$want_redacted"
check "report: $want_released ordinary fields released" \
    test "$(total fields_released_ordinary)" = "$want_released"
check "report: no marking field released" test "$(total fields_released_c)" = 0

# ---- policies that do not load ----
sed -e 's/^\(    license\.class_code:\).*/\1 {map: {DP: D}}/' "$policy" >"$T/noallow.yaml"
line=$(grep -n '^      license.class_code: release$' "$T/noallow.yaml" | head -1 | cut -d: -f1)
expect_rc 78 "policy check: class code released without an allow list" "$cli" policy check "$T/noallow.yaml"
check "the error names the place, the field and the profile" grep -qF \
    "$T/noallow.yaml:$line:7: profile 'police' gives license.class_code action release, but a state's marking values may appear in license.class_code: marking.normalize must give it an allow list" \
    "$T/err"
expect_rc 78 "filter refuses to start with it" "$cli" filter --policy "$T/noallow.yaml" --keyring "$T/kr" \
    "${REQ[@]}" --in "$T/in.bin" --out "$T/never.bin"
check "and writes nothing" test ! -e "$T/never.bin"
sed -e 's/^\(    license\.class_code:\).*/\1 {DP: D}/' "$policy" >"$T/old.yaml"
expect_rc 78 "policy check: the old {DP: D} form" "$cli" policy check "$T/old.yaml"
check "the error says the key is unknown" grep -q \
    "unknown key 'DP' in the normalization of license.class_code (expected map, drop, allow or otherwise)" "$T/err"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
