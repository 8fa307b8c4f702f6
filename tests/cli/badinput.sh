#!/usr/bin/env bash
# badinput.sh - hostile and broken input through `dmvfilter filter`, one row
# per case, in both stream formats (plain records and framed).
#
# Every input is crafted here with python3 from valid records made by dmvf-gen:
# broken length prefixes, empty and oversized records, malformed protobuf
# inside a record (truncated varints, lengths past the end, wrong wire types
# of fields the plan looks at, groups that do not close, wire types 6 and 7,
# field number 0), gzip garbage and truncated gzip content. The requester is the example
# policy's researchers (no record limit). A failing case must:
#   - exit 65 (bad input);
#   - say on stderr where: "byte offset N" with the offset of the failing byte
#     (the length prefix for a framing error), and "(record I)", the 0-based
#     index of the failing record; framed, where the request frame comes
#     first, "(frame I+1)" or "(record I)";
#   - with --out F: leave neither F nor a temp file, and write nothing to stdout;
#   - without --out: write only whole messages before the failing record, and
#     no trailer.
# Hostile but valid input (unknown or opaque fields nested 100 deep, groups
# and other wire types where the plan does not look, a sub-message sent in
# pieces) must be released exactly as its control record (without the
# nesting, without the group, the pieces merged); an empty stream is
# a genuine miss (exit 0, empty output); --drop-malformed drops and counts a
# malformed record and releases the good ones after it.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
policy=$DMVF_SRC/examples/policy.yaml
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-badinput.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE
. "$DMVF_SRC/tests/cli_lib.sh"

# verdict LINE [STDERR]: ok when the array errs is empty, else FAIL with its
# reasons and the first lines of STDERR (default $T/se)
verdict() {
    if [ ${#errs[@]} -eq 0 ]; then
        ok "$1"
    else
        local why
        why=$(printf '%s; ' "${errs[@]}")
        bad "$1: ${why%; }"
        sed 's/^/      /' "${2:-$T/se}" | head -3
    fi
}

"$cli" keys init --keyring "$T/kr" --unsealed >/dev/null 2>"$T/err" \
    || { cat "$T/err"; echo "FAIL - keys init"; exit 1; }
"$gen" --count 3 --seed 1 --out "$T/gen.bin" 2>"$T/err" \
    || { cat "$T/err"; echo "FAIL - dmvf-gen"; exit 1; }
"$gen" --framed --count 1 --seed 1 --request-id bad --ori NYUNIV000 --agency-kind research \
    --purpose 5 --query-kind list --out "$T/genf.bin" 2>"$T/err" \
    || { cat "$T/err"; echo "FAIL - dmvf-gen --framed"; exit 1; }
mkdir "$T/c" "$T/out"

# ---- the inputs ----
# Writes NAME.rec (records format) and NAME.frm (framed) per case into $T/c,
# and cases.tsv: name, exit, record index, byte offset (records), why,
# extra flag, framed?, byte offset (framed), description; "-" where none.
py - "$T/gen.bin" "$T/genf.bin" "$T/c" <<'EOF' || { echo "FAIL - crafting the inputs"; exit 1; }
import gzip, os, sys
from delimited import delim, key, ld, read_varint, split, varint, vi

records_path, framed_path, outdir = sys.argv[1:4]


def fields(m):
    """(number, field start, value start, field end) of every field of m."""
    out, i = [], 0
    while i < len(m):
        start = i
        k, i = read_varint(m, i)
        wt = k & 7
        vstart = i
        if wt == 0:
            _, i = read_varint(m, i)
        elif wt == 2:
            n, vstart = read_varint(m, i)
            i = vstart + n
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        else:
            raise ValueError("unexpected wire type %d" % wt)
        out.append((k >> 3, start, vstart, i))
    return out


def get(m, num):
    for f in fields(m):
        if f[0] == num:
            return m[f[2]:f[3]]
    raise KeyError(num)


# the marking (M) and marking-correlated (C) fields of the schema, by message
MC_TOP = {4, 5, 9}                      # marking, documents, application
MC_PERSON = {12, 13, 14, 15, 20, 23}    # race ... voter_registered
MC_LICENSE = {2, 9, 11, 12, 14}         # document_discriminator ... enhanced


def without_mc(m):
    """m without its M and C fields (person and license at the top level)."""
    out = b""
    for num, start, vstart, end in fields(m):
        if num in MC_TOP:
            continue
        if num in (2, 3):
            inner = m[vstart:end]
            drop = MC_PERSON if num == 2 else MC_LICENSE
            inner = b"".join(inner[f[1]:f[3]] for f in fields(inner) if f[0] not in drop)
            out += ld(num, inner)
        else:
            out += m[start:end]
    return out


def replace(m, num, new):
    """m with its first field `num` replaced by the bytes `new`; (bytes, where new starts)."""
    for f in fields(m):
        if f[0] == num:
            return m[:f[1]] + new + m[f[3]:], f[1]
    raise KeyError(num)


good = split(open(records_path, "rb").read())[0]
request_frame = split(open(framed_path, "rb").read())[0][0]
assert len(good) == 3 and all(len(r) < 1000 for r in good)
assert request_frame[0] == 0x0a  # Frame.request
g0, g1, g2 = good
person = get(g0, 2)
residence = get(person, 16)


def rec_stream(*recs):
    return b"".join(delim(r) for r in recs)


def frm_stream(*recs):
    return delim(request_frame) + b"".join(delim(ld(2, r)) for r in recs)


def write(name, data):
    with open(os.path.join(outdir, name), "wb") as fh:
        fh.write(data)


manifest = []


def case(name, desc, rec, index="-", rec_off="-", why="-", flag="-", frm=None, frm_off="-"):
    write(name + ".rec", rec)
    if frm is not None:
        write(name + ".frm", frm)
    manifest.append("\t".join(str(x) for x in (
        name, 65, index, rec_off, why, flag, "yes" if frm is not None else "no", frm_off, desc)))


# -- broken framing after two good records: the offset is the third prefix --
lead_r = rec_stream(g0, g1)
lead_f = frm_stream(g0, g1)
for name, desc, tail, why, flag in (
        ("prefix_cut", "the stream ends inside a length prefix", b"\xa1\x84",
         "inside its length prefix", "-"),
        ("prefix_past_end", "a length prefix runs past the end of the stream",
         varint(5000) + g2, "cut short", "-"),
        ("prefix_11_cont", "a length prefix of 11 continuation bytes",
         b"\xff" * 11 + b"\x01" + g2, "length prefix", "-"),
        ("prefix_huge", "a length prefix of 2^62 bytes", varint(1 << 62) + g2, "exceeds", "-"),
        ("zero_length", "a 0-length record", b"\x00" + delim(g2), "empty", "-"),
        ("drop_prefix_cut", "--drop-malformed: the stream ends inside a length prefix",
         b"\xa1\x84", "inside its length prefix", "--drop-malformed")):
    case(name, desc, lead_r + tail, 2, len(lead_r), why, flag, lead_f + tail, len(lead_f))

# a record over --max-record-bytes 1000, valid otherwise (an unknown field pads
# it): the limit judges the record, so the offset is the record's first byte
def rec_at(rec):
    return len(lead_r) + len(varint(len(rec)))


def frm_at(rec):
    return len(lead_f) + len(varint(len(ld(2, rec)))) + 1 + len(varint(len(rec)))


big = g0 + ld(100, b"p" * 600)
case("too_big", "a record larger than --max-record-bytes 1000",
     rec_stream(g0, g1, big, g2), 2, rec_at(big), "exceeds", "--max-record-bytes=1000",
     frm_stream(g0, g1, big, g2), frm_at(big))
# 1010 bytes without its M and C fields (what the limit judges), more with them
pad = 1010 - len(without_mc(g0)) - 4
big2 = g0 + ld(100, b"p" * pad)
assert len(without_mc(big2)) == 1010 and len(big2) > 1010 and pad >= 128
case("too_big_by_10", "1010 bytes without its M and C fields, --max-record-bytes 1000",
     rec_stream(g0, g1, big2, g2), 2, rec_at(big2), "exceeds", "--max-record-bytes=1000",
     frm_stream(g0, g1, big2, g2), frm_at(big2))


# -- malformed content, framing intact: the third record (index 2) --
def bad_record(name, desc, rec, at, why):
    """rec is malformed at its own byte `at`; offsets are those of that byte in the stream."""
    r_off = len(lead_r) + len(varint(len(rec))) + at
    f_off = len(lead_f) + len(varint(len(ld(2, rec)))) + 1 + len(varint(len(rec))) + at
    case(name, desc, rec_stream(g0, g1, rec, g2), 2, r_off, why, "-",
         frm_stream(g0, g1, rec, g2), f_off)


def in_person(extra, where=0):
    """g0 with `extra` appended to its person: (record, offset of extra[where] in it)."""
    p2 = person + extra
    rec, at = replace(g0, 2, ld(2, p2))
    return rec, at + len(key(2, 2)) + len(varint(len(p2))) + len(person) + where


bad_record("varint_cut", "a truncated varint at the end of the record",
           g0 + key(20, 0) + b"\xff\xff", len(g0) + 2, "unterminated varint")
bad_record("varint_cut_person", "a truncated varint (birth_date) at the end of person",
           *in_person(key(6, 0) + b"\x80\x80", 1), "unterminated varint")
bad_record("len_past_end", "record_id's length runs past the end of the record",
           g0 + key(1, 2) + varint(200) + b"abc", len(g0) + 1, "runs past the end")
bad_record("len_past_end_person", "family_name's length runs past the end of person",
           *in_person(key(1, 2) + varint(50) + b"abc", 1), "runs past the end")
bad_record("wt_record_id", "record_id as a varint", *replace(g0, 1, vi(1, 5)), "wrong wire type")
bad_record("wt_person", "person as a varint", *replace(g0, 2, vi(2, 7)), "wrong wire type")
bad_record("wt_residence", "person.residence as a varint", *in_person(vi(16, 3)),
           "wrong wire type")
bad_record("wt_birth_date", "person.birth_date length-delimited",
           *in_person(ld(6, b"\x01\x02")), "wrong wire type")
bad_record("wt_history", "history (repeated message the plan releases) as fixed32",
           *replace(g0, 8, key(8, 5) + b"\0\0\0\0"), "wrong wire type")
bad_record("group_person_field", "person encoded as a group",
           g0 + key(2, 3) + key(2, 4), len(g0), "group")
bad_record("end_group", "a lone end-group key at top level", g0 + key(11, 4), len(g0), "group")
bad_record("group_unclosed", "a group at top level that never closes",
           g0 + key(10, 3) + vi(1, 1), len(g0), "group")
bad_record("group_mismatch", "a group closed by another number, inside person",
           *in_person(key(30, 3) + key(31, 4), 2), "group")
bad_record("wt6", "wire type 6 at top level", g0 + key(10, 6) + b"\0" * 8, len(g0), "wire type")
bad_record("wt7", "wire type 7 at top level", g0 + key(10, 7) + b"\0" * 8, len(g0), "wire type")
bad_record("wt6_person", "wire type 6 inside person", *in_person(key(25, 6) + b"\0" * 4),
           "wire type")
bad_record("wt7_person", "wire type 7 inside person", *in_person(key(25, 7) + b"\0" * 4),
           "wire type")
bad_record("field0", "a key for field number 0", g0 + b"\x00\x01", len(g0), "key")
bad_record("field0_person", "a key for field number 0 (length-delimited) inside person",
           *in_person(b"\x02\x00"), "key")
bad_record("field0_2byte", "a two-byte key (80 00) for field number 0",
           g0 + b"\x80\x00\x01", len(g0), "key")

# -- gzip --
garbage = b"\x1f\x8b\x08\x00" + bytes(range(7, 250, 3))
case("gzip_garbage", "gzip magic followed by garbage", garbage, why="gzip", frm=garbage)
z = gzip.compress(rec_stream(g0, g1, g2), mtime=0)
zf = gzip.compress(frm_stream(g0, g1, g2), mtime=0)
case("gzip_cut", "a gzip stream cut in half", z[:len(z) // 2], why="gzip", frm=zf[:len(zf) // 2])
case("gzip_record_cut", "gzip whose content ends inside the third record",
     gzip.compress(rec_stream(g0, g1, g2)[:-7], mtime=0), 2, len(lead_r), "cut short",
     frm=gzip.compress(frm_stream(g0, g1, g2)[:-7], mtime=0), frm_off=len(lead_f))

with open(os.path.join(outdir, "cases.tsv"), "w") as fh:
    fh.write("\n".join(manifest) + "\n")

# -- valid but hostile: each NAME.rec/.frm has a control NAME.ctl.rec/.ctl.frm that
#    differs only in what the research profile redacts, so the outputs must match --
MARK = b"DEEP-NEST-MARKER"


def nest(nums, inner):
    """inner wrapped in LEN fields, nums[0] outermost."""
    for num in reversed(nums):
        inner = ld(num, inner)
    return inner


hostiles = []


def hostile(name, rec, control, desc):
    write(name + ".rec", rec_stream(g0, g1, rec, g2))
    write(name + ".frm", frm_stream(g0, g1, rec, g2))
    write(name + ".ctl.rec", rec_stream(g0, g1, control, g2))
    write(name + ".ctl.frm", frm_stream(g0, g1, control, g2))
    hostiles.append("\t".join((name, desc)))


# unknown LEN fields nested 100 deep inside person
hostile("nest_unknown_person", replace(g0, 2, ld(2, person + nest([99] * 100, MARK)))[0], g0,
        "nested 100 deep: released as without the nesting")
# person.residence -> field 16 (unknown in Address) -> 16 -> ... 100 deep
res2 = residence + nest([16] * 100, MARK)
hostile("nest_residence",
        replace(g0, 2, ld(2, replace(person, 16, ld(16, res2))[0]))[0], g0,
        "nested 100 deep: released as without the nesting")
# 100 nested known-looking LEN fields: person -> residence -> street -> person ...
hostile("nest_known_looking", replace(g0, 2, nest(([2, 16, 1] * 34)[:100], MARK))[0],
        replace(g0, 2, nest([2, 16, 1], b"x"))[0], "nested 100 deep: released as without the nesting")

# groups (wire types 3 and 4) are valid protobuf: stepped over where the plan
# does not look, nested ones too
hostile("group_top", g0 + key(10, 3) + vi(1, 1) + ld(2, MARK) + key(11, 3) + key(11, 4) + key(10, 4), g0,
        "an unknown group at top level: released as without it")
hostile("group_person", replace(g0, 2, ld(2, person + key(30, 3) + key(30, 4)))[0], g0,
        "an unknown group inside person: released as without it")
# vehicles, which the researchers' plan redacts, as a fixed32: not looked into
hostile("wt_vehicles_redacted", replace(g0, 7, key(7, 5) + b"\0\0\0\0")[0], g0,
        "vehicles (redacted) as fixed32: released as without it")
# a singular sub-message in pieces is merged (the last scalar wins)
hostile("person_pieces", g0 + ld(2, vi(6, 19990101)),
        replace(g0, 2, ld(2, replace(person, 6, vi(6, 19990101))[0]))[0],
        "person in two pieces, the second sets birth_date: released merged")
lic = get(g0, 3)
hostile("license_pieces", g0 + ld(3, ld(1, b"X1234567")),
        replace(g0, 3, ld(3, replace(lic, 1, ld(1, b"X1234567"))[0]))[0],
        "license in two pieces, the second sets number: released merged")
res3 = replace(residence, 5, ld(5, b"12345"))[0]
hostile("residence_pieces", replace(g0, 2, ld(2, person + ld(16, ld(5, b"12345"))))[0],
        replace(g0, 2, ld(2, replace(person, 16, ld(16, res3))[0]))[0],
        "person.residence in two pieces, the second sets postal_code: released merged")
with open(os.path.join(outdir, "hostile.tsv"), "w") as fh:
    fh.write("\n".join(hostiles) + "\n")

# a malformed record first, then only good ones
bad = replace(g0, 2, vi(2, 7))[0]
write("drop.rec", rec_stream(bad, g0, g1, g2))
write("drop.frm", frm_stream(bad, g0, g1, g2))
write("good.rec", rec_stream(g0, g1, g2))
write("good.frm", frm_stream(g0, g1, g2))
write("empty.rec", b"")
write("empty.frm", b"")
EOF

# shape.py DIR: for every DIR/FORMAT.NAME.so (the stdout of a failing run
# without --out) with its DIR/FORMAT.NAME.most, writes DIR/FORMAT.NAME.shape:
# empty when the file holds only whole delimited messages, at most MOST
# records ("-": any number) and, framed, no trailer and no seal; else why not
cat >"$T/shape.py" <<'EOF'
import glob, os, sys
def shape(fmt, d, most):
    i = records = 0
    while i < len(d):
        n = s = 0
        while True:
            if i >= len(d):
                return "a half length prefix on stdout"
            b = d[i]
            i += 1
            n |= (b & 0x7f) << s
            s += 7
            if not b & 0x80:
                break
        if i + n > len(d):
            return "a half message on stdout"
        if fmt == "framed" and n and d[i] == 0x1a:
            return "a trailer on stdout after a failure"
        if fmt == "framed" and n and d[i] == 0x22:
            return "a seal on stdout after a failure"
        if fmt == "records" or (n and d[i] == 0x12):
            records += 1
        i += n
    if most != "-" and records > int(most):
        return "%d records on stdout, the failing record is record %s" % (records, most)
    return ""
for so in glob.glob(os.path.join(sys.argv[1], "*.so")):
    base = so[:-3]
    fmt = os.path.basename(base).split(".")[0]
    most = open(base + ".most").read().strip()
    with open(base + ".shape", "w") as fh:
        fh.write(shape(fmt, open(so, "rb").read(), most))
EOF

# frames FILE: one line per frame: "record HEX", "trailer in out dropped" or
# "seal" (a signed release ends with one)
frames() {
    python3 - "$1" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
def varint(d, i):
    n = s = 0
    while True:
        b = d[i]; i += 1
        n |= (b & 0x7f) << s; s += 7
        if not b & 0x80:
            return n, i
i = 0
while i < len(d):
    n, i = varint(d, i)
    f = d[i:i + n]
    i += n
    if f[0] == 0x1a:
        _, j = varint(f, 1)
        t = {}
        while j < len(f):
            k, j = varint(f, j)
            if k & 7 == 0:
                t[k >> 3], j = varint(f, j)
            else:
                l, j = varint(f, j)
                j += l
        print("trailer", t.get(2, 0), t.get(3, 0), t.get(4, 0))
    elif f[0] == 0x22:
        print("seal")
    else:
        print("record", f.hex())
EOF
}

REQ=(--ori NYUNIV000 --agency-kind research --purpose 5 --query-kind list)
# filt FORMAT IN [ARGS...]: runs the filter for FORMAT; stdout $T/so, stderr $T/se
filt() {
    local fmt=$1 in=$2; shift 2
    if [ "$fmt" = records ]; then
        "$cli" filter --policy "$policy" --keyring "$T/kr" "${REQ[@]}" --in "$in" "$@" \
            >"$T/so" 2>"$T/se"
    else
        "$cli" filter --policy "$policy" --keyring "$T/kr" --format framed --in "$in" "$@" \
            >"$T/so" 2>"$T/se"
    fi
}

# ---- failing cases: one line per case and format ----
# Each input runs twice: to stdout (first, for all cases, so that one python
# run checks every stdout), then with --out.
mkdir "$T/s"
# each_case CMD: CMD FORMAT NAME EXIT INDEX OFFSET WHY FLAG DESCRIPTION, per case and format
each_case() {
    local name rc index off why flag framed foff desc
    while IFS=$'\t' read -r name rc index off why flag framed foff desc; do
        "$1" records "$name" "$rc" "$index" "$off" "$why" "$flag" "$desc"
        if [ "$framed" = yes ]; then
            "$1" framed "$name" "$rc" "$index" "$foff" "$why" "$flag" "$desc"
        fi
    done <"$T/c/cases.tsv"
}
ext_of() { if [ "$1" = framed ]; then echo frm; else echo rec; fi; }
to_stdout() {
    local fmt=$1 name=$2 index=$4 flag=$7 flags=()
    [ "$flag" != - ] && flags=("$flag")
    local r=$T/s/$fmt.$name
    filt "$fmt" "$T/c/$name.$(ext_of "$fmt")" "${flags[@]}"
    echo $? >"$r.rc"
    mv "$T/so" "$r.so"
    case $name in
    gzip_garbage) echo 0 ;;
    gzip_cut) echo - ;;   # whatever inflated before the cut may be released
    *) echo "$index" ;;
    esac >"$r.most"
}
each_case to_stdout
python3 "$T/shape.py" "$T/s" || { echo "FAIL - checking stdout of the failing runs"; exit 1; }

expect_bad() {
    local fmt=$1 name=$2 want=$3 index=$4 off=$5 why=$6 flag=$7 desc=$8 flags=() rc
    [ "$flag" != - ] && flags=("$flag")
    errs=()
    rm -rf "$T/out" && mkdir "$T/out"
    filt "$fmt" "$T/c/$name.$(ext_of "$fmt")" "${flags[@]}" --out "$T/out/released.bin"
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        errs+=("exit $rc, want $want")
    else
        grep -q 'byte offset' "$T/se" || errs+=("stderr does not say 'byte offset'")
        if [ "$off" != - ] && ! grep -qE "byte offset $off( |$)" "$T/se"; then
            errs+=("stderr does not say 'byte offset $off'")
        fi
        if [ "$fmt" = records ] && [ "$index" != - ] && ! grep -qF "(record $index)" "$T/se"; then
            errs+=("stderr does not say '(record $index)'")
        fi
        # framed: the request frame comes first, so record I is frame I+1
        if [ "$fmt" = framed ] && [ "$index" != - ] \
            && ! grep -qE "\((frame $((index + 1))|record $index)\)" "$T/se"; then
            errs+=("stderr says neither '(frame $((index + 1)))' nor '(record $index)'")
        fi
        [ "$why" != - ] && ! grep -qiF -- "$why" "$T/se" && errs+=("stderr does not say '$why'")
    fi
    [ -e "$T/out/released.bin" ] && errs+=("the output file exists")
    [ -n "$(ls -A "$T/out")" ] && [ ! -e "$T/out/released.bin" ] && errs+=("a temp file is left")
    [ -s "$T/so" ] && errs+=("stdout is not empty")
    local r=$T/s/$fmt.$name
    rc=$(cat "$r.rc")
    [ "$rc" -eq "$want" ] || errs+=("to stdout: exit $rc, want $want")
    [ -s "$r.shape" ] && errs+=("to stdout: $(cat "$r.shape")")
    verdict "$(printf '%-7s %-20s %s' "$fmt" "$name" "$desc")"
}
each_case expect_bad

# ---- valid but hostile: released exactly as its control record ----
while IFS=$'\t' read -r name desc; do
    for fmt in records framed; do
        ext=rec
        [ "$fmt" = framed ] && ext=frm
        errs=()
        filt "$fmt" "$T/c/$name.ctl.$ext" --out "$T/ctl.out"
        rc=$?
        [ "$rc" -eq 0 ] || errs+=("control: exit $rc, want 0")
        filt "$fmt" "$T/c/$name.$ext" --out "$T/hostile.out"
        rc=$?
        [ "$rc" -eq 0 ] || errs+=("exit $rc, want 0")
        cmp -s "$T/ctl.out" "$T/hostile.out" || errs+=("output differs from the control record's")
        grep -qa DEEP-NEST-MARKER "$T/hostile.out" 2>/dev/null && errs+=("the nested value is released")
        verdict "$(printf '%-7s %-20s %s (exit 0)' "$fmt" "$name" "$desc")"
        rm -f "$T/ctl.out" "$T/hostile.out"
    done
done <"$T/c/hostile.tsv"

# ---- an empty stream is a genuine miss (framed: a signed release of no
# request, the seal alone) ----
for fmt in records framed; do
    ext=rec
    [ "$fmt" = framed ] && ext=frm
    errs=()
    rm -rf "$T/out" && mkdir "$T/out"
    filt "$fmt" "$T/c/empty.$ext" --out "$T/out/released.bin"
    rc=$?
    [ "$rc" -eq 0 ] || errs+=("exit $rc, want 0")
    [ -e "$T/out/released.bin" ] || errs+=("no output file")
    if [ "$fmt" = records ]; then
        [ -s "$T/out/released.bin" ] && errs+=("the output is not empty")
    elif [ "$(frames "$T/out/released.bin" 2>/dev/null)" != seal ]; then
        errs+=("the output is not the seal alone")
    fi
    [ "$(ls -A "$T/out" | wc -l)" -le 1 ] || errs+=("a temp file is left")
    [ -s "$T/so" ] && errs+=("stdout is not empty")
    if [ "$fmt" = records ] && ! grep -q "released 0 of 0 records" "$T/se"; then
        errs+=("stderr does not say 'released 0 of 0 records'")
    fi
    verdict "$(printf '%-7s %-20s an empty stream: an empty release (exit 0)' "$fmt" empty)"
done

# ---- --drop-malformed: a malformed record, then only good ones ----
errs=()
filt records "$T/c/good.rec" --out "$T/good.out"
rc=$?
[ "$rc" -eq 0 ] || errs+=("good records alone: exit $rc, want 0")
filt records "$T/c/drop.rec" --drop-malformed --out "$T/drop.out"
rc=$?
[ "$rc" -eq 0 ] || errs+=("exit $rc, want 0")
grep -q "released 3 of 4 records .*; 1 malformed dropped" "$T/se" \
    || errs+=("stderr does not say 'released 3 of 4 records ...; 1 malformed dropped'")
cmp -s "$T/good.out" "$T/drop.out" || errs+=("the output is not that of the good records alone")
filt records "$T/c/drop.rec" --out "$T/out/x.bin"
rc=$?
[ "$rc" -eq 65 ] || errs+=("without --drop-malformed: exit $rc, want 65")
verdict "$(printf '%-7s %-20s --drop-malformed: 1 dropped, 3 released as without it (exit 0)' records drop_malformed)"

errs=()
filt framed "$T/c/good.frm" --out "$T/good.out"
rc=$?
[ "$rc" -eq 0 ] || errs+=("good records alone: exit $rc, want 0")
filt framed "$T/c/drop.frm" --drop-malformed --out "$T/drop.out"
rc=$?
[ "$rc" -eq 0 ] || errs+=("exit $rc, want 0")
grep -q "request bad: released 3 of 4 records .*; 1 malformed dropped" "$T/se" \
    || errs+=("stderr does not say 'request bad: released 3 of 4 records ...; 1 malformed dropped'")
frames "$T/good.out" >"$T/good.txt" 2>/dev/null
frames "$T/drop.out" >"$T/drop.txt" 2>/dev/null
cmp -s <(grep '^record' "$T/good.txt") <(grep '^record' "$T/drop.txt") \
    || errs+=("the record frames are not those of the good records alone")
[ "$(grep -c '^record' "$T/drop.txt")" -eq 3 ] || errs+=("not 3 record frames")
[ "$(grep '^trailer' "$T/drop.txt")" = "trailer 4 3 1" ] \
    || errs+=("trailer: '$(grep '^trailer' "$T/drop.txt")', want records in 4, out 3, dropped 1")
verdict "$(printf '%-7s %-20s --drop-malformed: 1 dropped, 3 released as without it (exit 0)' framed drop_malformed)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
