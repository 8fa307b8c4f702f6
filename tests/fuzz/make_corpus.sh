#!/usr/bin/env bash
# tests/fuzz/make_corpus.sh [BUILD] - regenerates the committed seed corpora
# (tests/fuzz/corpus/<target>/) and the generated part of the record
# dictionaries, from dmvf-gen, the golden files, the policies under
# tests/data/policies and fuzz_mkseeds. Deterministic: the same tree gives
# the same files. BUILD is a fuzz build directory (default build-fuzz, made
# by tests/fuzz/run.sh); dmvf-gen and fuzz_mkseeds are taken from it.
# Review the diff before committing; keep each corpus to a few dozen files.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build-fuzz}
gen=$build/dmvf-gen
mkseeds=$build/tests/fuzz/fuzz_mkseeds
for x in "$gen" "$mkseeds"; do
    [ -x "$x" ] || { echo "make_corpus.sh: $x is missing: build first (tests/fuzz/run.sh --build-only)" >&2; exit 1; }
done
corpus=$here/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# (serve: its seeds are written by hand, request bodies of each call and form;
# this script leaves them alone)
for t in rewrite framed gzip policy keyring jsonl csv; do
    rm -rf "${corpus:?}/$t"
    mkdir -p "$corpus/$t"
done

# ---- rewrite: a header byte (checks.c: the plan, a requested-field mask),
# then a bare record ----
"$gen" --count 12 --seed 101 --out "$tmp/plain.pb"
"$gen" --count 4 --seed 103 --marked 1 --out "$tmp/marked.pb"
"$gen" --wild --count 10 --seed 102 --out "$tmp/wild.pb"
"$gen" --hostile --count 8 --seed 106 --marked 0.5 --out "$tmp/hostile.pb"
"$gen" --canary --count 4 --seed 104 --manifest "$tmp/manifest" --out "$tmp/canary.pb"
"$gen" --photo --count 1 --seed 105 --out "$tmp/photo.pb"
python3 - "$tmp" "$corpus/rewrite" "$root/tests/data/golden/records.bin" <<'EOF'
import sys
tmp, out, golden = sys.argv[1:4]
NPLANS = 10   # checks.c: the rewrite target's plan set
seq = [0]
def header():
    """one plan by turn; now and then a requested-field mask, or every plan"""
    k = seq[0]; seq[0] += 1
    if k % 7 == 6: return b"\xff"
    if k % 5 == 4: return bytes([0x40 | (k % NPLANS), (k * 37) & 0xff])
    return bytes([k % NPLANS])
def records(path):
    b = open(path, 'rb').read(); i = 0
    while i < len(b):
        n = s = 0
        while True:
            c = b[i]; i += 1; n |= (c & 0x7f) << s; s += 7
            if c < 0x80: break
        yield b[i:i + n]; i += n
def put(name, data):
    open(f"{out}/{name}", 'wb').write(header() + data)
for k, r in enumerate(records(f"{tmp}/plain.pb")): put(f"gen-{k:02d}", r)
for k, r in enumerate(records(f"{tmp}/marked.pb")): put(f"gen-marked-{k:02d}", r)
for k, r in enumerate(records(f"{tmp}/wild.pb")): put(f"gen-wild-{k:02d}", r)
for k, r in enumerate(records(f"{tmp}/hostile.pb")): put(f"gen-hostile-{k:02d}", r)
for k, r in enumerate(records(f"{tmp}/canary.pb")): put(f"gen-canary-{k:02d}", r)
for k, r in enumerate(records(golden)):
    if k < 8: put(f"golden-{k:02d}", r)
# the photo record, cut to its first 4 KiB (the image is what makes it long)
for r in records(f"{tmp}/photo.pb"): put("gen-photo-cut", r[:4096])
put("empty", b"")
# past the repeated-field limit of the fuzz build (16), alone and with a
# malformed field as well (malformed wins), in fields the plans look at:
# police restrictions, research history, documents under marking: release
def v(n):
    b = bytearray()
    while True:
        c = n & 0x7f; n >>= 7
        b.append(c | (0x80 if n else 0))
        if not n: return bytes(b)
def ld(num, p): return v(num << 3 | 2) + v(len(p)) + p
def raw(name, head, data): open(f"{out}/{name}", 'wb').write(head + data)
raw("many-restrictions", b"\x00", ld(1, b"R1") + ld(3, ld(1, b"D1") + ld(6, b"B") * 20))
raw("many-history-and-malformed", b"\x03",
    ld(8, v(1 << 3) + v(20240101)) * 20 + ld(2, ld(6, b"\x01")))
raw("many-documents", b"\x08", ld(5, v(1 << 3) + v(1)) * 20)
EOF

# ---- framed: a header byte (checks.c: options, audit hook, policy), then
# request and record frames; the headers are put in front below ----
f() { local name=$1; shift; "$gen" --framed --date 20260101 "$@" --out "$corpus/framed/$name"; }
f police-2 --count 2 --seed 201
f police-claims-state --count 1 --seed 201 --agency-kind state
f police-local-3 --count 3 --seed 202
f police-wild --count 2 --seed 203 --wild
f police-hostile --count 3 --seed 217 --hostile --marked 0.5
f research-hostile --count 2 --seed 218 --hostile --agency-kind research --ori NYRES0001 --purpose 5
f police-by-plate --count 1 --seed 204 --query-kind by_plate
f police-out-of-state --count 1 --seed 205 --jurisdiction CA
f police-no-purpose --count 1 --seed 206 --purpose 0
f police-3-requests --count 6 --seed 207 --requests 3
f police-marked --count 2 --seed 208 --marked 1
f ice-warrant --count 1 --seed 209 --agency-kind federal --ori DCICE0000 --tag immigration-enforcement \
    --legal-process judicial_warrant
f ice-warrant-over-limit --count 2 --seed 210 --agency-kind federal --ori DCICE0000 \
    --tag immigration-enforcement --legal-process judicial_warrant
f ice-no-process --count 1 --seed 211 --agency-kind federal --ori DCICE0000 --tag immigration-enforcement
f ice-list --count 2 --seed 212 --agency-kind federal --ori DCICE0000 --tag immigration-enforcement \
    --legal-process court_order --query-kind list
f research --count 2 --seed 213 --agency-kind research --ori NYRES0001 --purpose 5
f internal --count 2 --seed 214 --agency-kind internal --ori NYDMV0001 --marked 1
f not-in-directory --count 1 --seed 215 --agency-kind commercial --ori XX0000000
f lapsed-certification --count 1 --seed 216 --ori NY0990000
f ice-no-tag --count 1 --seed 217 --ori DCICE0100 --legal-process judicial_warrant
f research-scope --count 2 --seed 218 --ori NYRES0002 --purpose 5
f bad-ori --count 1 --seed 219 --ori dcice0100
f no-ori --count 1 --seed 220 --ori ""
"$gen" --framed --date 20991230 --count 1 --seed 221 --ori DCICE0100 --legal-process judicial_warrant \
    --out "$corpus/framed/future-dated"
python3 - "$corpus/framed" "$tmp/plain.pb" <<'EOF'
import sys
out, plain = sys.argv[1:3]
def varint(n):
    b = bytearray()
    while True:
        c = n & 0x7f; n >>= 7
        b.append(c | (0x80 if n else 0))
        if not n: return bytes(b)
def field(num, wt, payload):
    key = varint(num << 3 | wt)
    return key + (varint(len(payload)) + payload if wt == 2 else payload)
def s(num, text): return field(num, 2, text.encode())
def u(num, v): return field(num, 0, varint(v))
def frame(num, body): m = field(num, 2, body); return varint(len(m)) + m
b = open(plain, 'rb').read(); recs = []; i = 0
while i < len(b):
    n = sh = 0
    while True:
        c = b[i]; i += 1; n |= (c & 0x7f) << sh; sh += 7
        if c < 0x80: break
    recs.append(b[i:i + n]); i += n
police = s(1, "req-1") + s(2, "NY0303000") + u(4, 3) + s(5, "NY") + u(8, 1) + u(11, 1) + u(14, 20260101)
def put(name, data): open(f"{out}/{name}", 'wb').write(data)
# requested fields: release is the intersection
put("police-fields", frame(1, police + s(12, "person.family_name") + s(12, "license.*") + s(12, "vehicles"))
    + frame(2, recs[0]) + frame(2, recs[1]))
# a requested field the schema does not have
put("police-bad-field", frame(1, police + s(12, "person.nope")) + frame(2, recs[0]))
# explicit trailer frames between requests, and an unknown frame field
put("trailers", frame(1, police) + frame(2, recs[2]) + frame(3, b"") + frame(1, s(1, "req-2") + s(2, "NYDMV0001") + u(4, 9) + s(5, "NY"))
    + frame(2, recs[3]) + frame(3, s(1, "ignored")))
m = field(2, 2, recs[4]) + u(15, 7)
put("unknown-frame-field", frame(1, police) + varint(len(m)) + m)
# malformed: a record outside a request, two bodies, a trailer first, a cut record
put("record-first", frame(2, recs[0]))
m = field(1, 2, police) + field(2, 2, recs[0])
put("two-bodies", varint(len(m)) + m)
put("trailer-first", frame(3, b"") + frame(1, police))
whole = frame(1, police) + frame(2, recs[5])
put("cut", whole[:-7])
put("empty", b"")
EOF

python3 - "$corpus/framed" <<'EOF'
import os, sys
out = sys.argv[1]
# the configurations by turn: the plain one (0xff), then each option alone
# and some together (checks.c framed_cfg)
heads = [0xff, 0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x18, 0x20, 0x40, 0x41, 0x43, 0x80, 0x13, 0x60]
for k, name in enumerate(sorted(os.listdir(out))):
    p = os.path.join(out, name)
    data = open(p, 'rb').read()
    open(p, 'wb').write(bytes([heads[k % len(heads)]]) + data)
EOF

# ---- gzip: compressed record streams, as the command line reads them ----
"$gen" --framed --date 20260101 --count 2 --seed 301 --out "$tmp/framed.pb"
python3 - "$corpus/gzip" "$tmp" <<'EOF'
import sys, gzip, zlib, struct
out, tmp = sys.argv[1:3]
plain = open(f"{tmp}/plain.pb", 'rb').read()
marked = open(f"{tmp}/marked.pb", 'rb').read()
framed = open(f"{tmp}/framed.pb", 'rb').read()
def records(b):
    i = 0; r = []
    while i < len(b):
        j = i; n = sh = 0
        while True:
            c = b[j]; j += 1; n |= (c & 0x7f) << sh; sh += 7
            if c < 0x80: break
        r.append(b[i:j + n]); i = j + n
    return r
few = b"".join(records(plain)[:3])
def gz(data, level=6, flags=0, extra=b"", name=b"", comment=b"", hcrc=False):
    h = b"\x1f\x8b\x08" + bytes([flags | (2 if hcrc else 0)]) + b"\x00\x00\x00\x00\x00\x03"
    if flags & 4: h += struct.pack("<H", len(extra)) + extra
    if flags & 8: h += name + b"\x00"
    if flags & 16: h += comment + b"\x00"
    if hcrc: h += struct.pack("<H", zlib.crc32(h) & 0xffff)
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = c.compress(data) + c.flush()
    return h + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xffffffff)
def put(name, data): open(f"{out}/{name}", 'wb').write(data)
put("records", gz(few))
put("records-stored", gz(few, level=0))
put("records-best", gz(b"".join(records(plain)[:6]), level=9))
put("marked", gz(marked))
put("two-members", gz(few) + gz(b"".join(records(marked)[:1])))
put("three-members-empty-middle", gz(few[:200]) + gz(b"") + gz(few[200:]))
put("member-split-in-record", gz(few[:100]) + gz(few[100:]))
put("header-fields", gz(few, flags=4 | 8 | 16, extra=b"XY\x02\x00ab", name=b"records.pb", comment=b"dmv", hcrc=True))
put("then-zlib-member", gz(few) + zlib.compress(b"".join(records(marked)[:1])))
put("trailing-zero", gz(few) + b"\x00")
put("trailing-garbage", gz(few) + b"garbage")
put("truncated", gz(few)[:-9])
put("bad-crc", gz(few)[:-8] + b"\x00\x00\x00\x00" + gz(few)[-4:])
put("empty-member", gz(b""))
put("magic-only", b"\x1f\x8b")
put("framed-in-gzip", gz(framed))
put("not-gzip", few)
put("broken-stream-inside", gz(few[:-5]))
# a small bomb: many zero bytes as a record stream (one huge length prefix)
put("zeros", gz(b"\x00" * 100000, level=9))
EOF

# ---- policy: the example and every test policy ----
cp "$root/examples/policy.yaml" "$corpus/policy/example.yaml"
for p in "$root"/tests/data/policies/good/*.yaml; do cp "$p" "$corpus/policy/good-$(basename "$p")"; done
for p in "$root"/tests/data/policies/bad/*.yaml; do cp "$p" "$corpus/policy/bad-$(basename "$p")"; done

# ---- jsonl, csv: dmvf-gen's text formats, and hand-made lines and rows ----
"$gen" --format jsonl --count 3 --seed 301 --out "$corpus/jsonl/gen-3"
"$gen" --format jsonl --count 1 --seed 302 --marked 1 --out "$corpus/jsonl/gen-marked"
"$gen" --format jsonl --count 1 --seed 303 --photo --out "$tmp/photo.jsonl"
head -c 2900 "$tmp/photo.jsonl" > "$corpus/jsonl/gen-photo-cut"
"$gen" --format csv --count 3 --seed 311 --out "$corpus/csv/gen-3"
"$gen" --format csv --count 2 --seed 312 --marked 1 --out "$corpus/csv/gen-marked"
python3 - "$corpus" <<'EOF'
import sys
out = sys.argv[1]
def put(t, name, text):
    open(f"{out}/{t}/{name}", "wb").write(text if isinstance(text, bytes) else text.encode())
put("jsonl", "json-names", '{"recordId":"r1","person":{"familyName":"Ng","givenName":"Ada","birthDate":19470326,'
    '"sex":"SEX_FEMALE","residence":{"postalCode":"14785"},"organDonor":true},"license":{"number":"1",'
    '"status":"STATUS_VALID","restrictions":["B","FLA"]},"vehicles":[{"plateYear":2014,"registeredAddress":{}}]}\n')
put("jsonl", "numbers-and-enums", '{"person":{"sex":2,"heightCm":"170","weight_kg":6.0e1,"ssn_status":"3"},'
    '"history":[{"points":-3,"kind":"KIND_POINTS"},{"points":"-0"},{}],"license":{"kind":0}}\n')
put("jsonl", "escapes", r'{"record_id":"\u00e9\ud83d\ude00\n\t\"\\\/","person":{"family\u005fname":"O\u2019B"}}' + '\n')
put("jsonl", "bytes", '{"photo":{"image":"AAEC","face_template":"_-8","capture_date":20200101,'
    '"image_format":"jpeg"}}\n{"photo":{"image":"+/8="}}\n')
put("jsonl", "nulls-and-empties", '{"person":null,"license":{},"vehicles":[],"history":null,"record_id":""}\n{}\n')
put("jsonl", "unknown-keys", '{"favorite":{"a":[1,2.5e-3,{"b":null,"c":[true,false]}]},"person":'
    '{"favorite_color":"x","aliases":["A",""]},"vehicles":[{"paint":"red","plate":"P1"},{"plate":"P2"}]}\n')
put("jsonl", "crlf-and-bom", b'\xef\xbb\xbf{"record_id":"a"}\r\n {"record_id":"b"} \r\n')
put("jsonl", "bad-duplicate", '{"record_id":"a"}\n{"person":{"family_name":"a","familyName":"b"}}\n')
put("jsonl", "bad-types", '{"record_id":5}\n{"person":{"height_cm":-1}}\n{"person":{"height_cm":1.5}}\n'
    '{"person":{"sex":"SEX_NONE"}}\n{"photo":{"image":"A"}}\n')
put("jsonl", "bad-syntax", '{"record_id":"a",}\n[1]\n\n' + r'{"record_id":"\ud800"}' + '\n{"x":tru}\n{"a":1} x\n')
put("jsonl", "bad-utf8", b'{"record_id":"a\xff"}\n{"record_id":"\xc0\xaf"}\n')
put("jsonl", "deep", '{"x":' + '[' * 70 + ']' * 70 + '}\n')
put("jsonl", "no-final-newline", '{"record_id":"a"}\n{"record_id":"b"}')
put("csv", "presence", 'record_id,person.aliases.0,person.aliases.1,vehicles.0.plate,vehicles.1.plate,'
    'person.mailing.city,person.residence.city,photo.image\nr1,,A,,P2,"","two\nlines",\'+/8=\n'
    'r2,"",,,,,,\n')
put("csv", "unordered-header", 'person.sex,record_id,history.1.points,history.0.points,license.restrictions.1,'
    'license.restrictions.0\nSEX_X,r1,-2,3,B,FLA\n2,r2,,,,\n')
put("csv", "unknown-columns", 'favorite,record_id,person.residence,license.restrictions,vehicles.01.plate,'
    'vehicles.0.plate,person.family_name.x\na,r1,b,c,d,P,e\n')
put("csv", "guards", "record_id,person.family_name,person.given_name,history.0.points\n"
    "'=1+1,\"'@SUM(A1)\",''x,'-5\n")
put("csv", "crlf-and-bom", b'\xef\xbb\xbfrecord_id,person.sex\r\na,SEX_MALE\r\n"b\r\nc",1\r\n')
put("csv", "bad-quoting", 'record_id,person.sex\na"b,1\n"a"b,1\na\r,1\n"open,1\n')
put("csv", "bad-cells", 'record_id,person.height_cm,person.sex,person.organ_donor,photo.image\n'
    'a,x,SEX_X,true,AA\nb,1,BOGUS,true,AA\nc,1,1,yes,AA\nd,1,1,true,A\ne,1\nf,1,1,true,AA,extra\n')
put("csv", "bad-header", 'record_id,record_id\na,b\n')
put("csv", "header-only", 'record_id,person.family_name\n')
put("csv", "no-final-newline", 'record_id\na\nb')
put("jsonl", "empty", b"")
put("csv", "empty", b"")
EOF

# jsonl.dict, csv.dict: every field name (proto and JSON spelling), column
# path and enum value name of the schema, and the formats' punctuation
"$gen" --format csv --count 0 --out "$tmp/header.csv"
python3 - "$tmp/header.csv" "$root/schema/dmv/v1/record.proto" "$here" <<'EOF'
import re, sys
header, proto, here = sys.argv[1:4]
cols = open(header).read().strip().split(",")
names = sorted({p for c in cols for p in c.split(".") if not p.isdigit()})
camel = lambda n: re.sub(r"_([a-z])", lambda m: m.group(1).upper(), n)
enums = sorted(set(re.findall(r"^\s+([A-Z][A-Z0-9_]+) = \d+;", open(proto).read(), re.M)))
def q(s):
    b = s if isinstance(s, bytes) else s.encode()
    return '"' + "".join(chr(c) if 0x20 <= c < 0x7f and c not in (0x22, 0x5c) else "\\x%02x" % c
                         for c in b) + '"'
with open(f"{here}/jsonl.dict", "w") as f:
    f.write("# Generated by tests/fuzz/make_corpus.sh: do not edit.\n")
    for n in names:
        f.write(q('"%s":' % n) + "\n")
        if camel(n) != n:
            f.write(q('"%s":' % camel(n)) + "\n")
    for e in enums:
        f.write(q('"%s"' % e) + "\n")
    for t in ["{", "}", "[", "]", ",", ":", "true", "false", "null", "{}", "[]", '""', "-0", "1e3", "4294967296",
              "2147483648", "\\u0000", "\\ud83d\\ude00", "\\udc00", "\r\n", b"\xef\xbb\xbf"]:
        f.write(q(t) + "\n")
with open(f"{here}/csv.dict", "w") as f:
    f.write("# Generated by tests/fuzz/make_corpus.sh: do not edit.\n")
    for c in cols:
        f.write(q(c) + "\n")
    for e in enums:
        f.write(q(e) + "\n")
    for t in [",", '"', '""', "\r\n", "\n", "'=", "'+", "''", "true", "false", "-1", "4294967296", ".10000",
              b"\xef\xbb\xbf"]:
        f.write(q(t) + "\n")
EOF

# ---- keyring ----
"$mkseeds" keyrings "$corpus/keyring"

# ---- the record dictionaries: values, then the schema's field keys ----
record_values() {
    cat <<'DICT'
# Values the policy and the marking normalization act on.
"DP"
"D"
"FLA"
"TVDL"
"AB60"
"DAC"
"DPC"
"FEDERAL LIMITS APPLY"
"NY"
"10027"
"\x00"
"\xc3\xbc"
"\xf0\x9f\x9a\x97"
"\xff\xff\xff\xff\x0f"
"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"
"\x80\x80\x80\x80\x00"
"\xe5\xf8\xba\x09"
DICT
}
framed_values() {
    cat <<'DICT'
# Frame bodies (dmv.v1.Frame: 1 request, 2 record, 3 trailer) and request values.
"\x0a"
"\x12"
"\x1a"
"\x20\x09"
"\x20\x02"
"\x20\x01"
"\x40\x01"
"\x48\x05"
"\x58\x09"
"\x70\xe5\xf8\xba\x09"
"immigration-enforcement"
"NY0303000"
"DCICE0000"
"NYDMV0001"
"NY0990000"
"NYRES0002"
"dcice0100"
"person.family_name"
"license.*"
"vehicles"
"marking"
DICT
}
{
    echo "# Generated by tests/fuzz/make_corpus.sh: do not edit."
    record_values
    echo "# The record schema's field keys at every position (fuzz_mkseeds record-dict)."
    "$mkseeds" record-dict
} > "$here/rewrite.dict"
{
    echo "# Generated by tests/fuzz/make_corpus.sh: do not edit."
    framed_values
    record_values
    echo "# The record schema's field keys (fuzz_mkseeds record-dict)."
    "$mkseeds" record-dict
} > "$here/framed.dict"

for t in rewrite framed gzip policy keyring jsonl csv; do
    printf '%-8s %3d files, %6d bytes\n' "$t" "$(ls "$corpus/$t" | wc -l)" "$(cat "$corpus/$t"/* | wc -c)"
done
