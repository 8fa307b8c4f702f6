#!/usr/bin/env bash
# gzip_threads.sh - a gzip input's members inflated on --threads threads
# (filter/cli/io.c, "gzip members on threads") give what one decoder gives:
#
#   same bytes   members of random sizes, not cut at records, at every
#                level: --threads 2 and 4 release byte for byte what
#                --threads 1 (one decoder) and the plain input release,
#                and the report says the threads were used
#   guesses      records carry, in an unknown field, bytes that look like a
#                member's start (a whole gzip member among them), stored
#                as they are: the first guess inside a member hands the
#                rest to the one decoder, and the release is still the same
#   too long     a member of more than 2 MiB compressed: the one decoder
#                from there on, the same release
#   errors       a flipped byte, a bad CRC, a cut file, trailing garbage,
#                zero padding, a bomb over --max-inflate, each in a late
#                member, and a read that fails (EIO) after a corrupt member
#                or in a whole file: the same exit status and message (the
#                same compressed offset) at --threads 1 and 2, nothing written
#   twins        records and their twins, as gzip members, release the same
#                bytes at --threads 2
#   memory       each of the run's last allocations failing in turn: the
#                same release, or exit 71 with nothing written
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-gzthreads.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE DMVF_CHUNK_BYTES DMVF_GZIP_MEMBER_BYTES DMVFILTER_GZIP DMVF_INFLATE_REPORT
. "$DMVF_SRC/tests/cli_lib.sh"

same() { if cmp -s "$2" "$3"; then ok "$1"; else bad "$1 ($(cmp "$2" "$3" 2>&1 | head -1))"; fi; }

expect_rc 0 "keys init" "$cli" keys init --keyring "$T/kr" --unsealed
expect_rc 0 "20,000 records" "$gen" --count 20000 --seed 29 --marked 0.3 --out "$T/rec.bin"
sed '/max_records: 50/d' "$DMVF_SRC/examples/policy.yaml" >"$T/policy.yaml"
F=(--policy "$T/policy.yaml" --keyring "$T/kr" --quiet)
police=(--ori NY0300000 --purpose 1 --query-kind by_license --date 2026-11-22)
expect_rc 0 "the plain input's release" "$cli" filter "${F[@]}" "${police[@]}" --threads 1 \
    --in "$T/rec.bin" --out "$T/plain.out"

# the inputs, written by python's zlib (members of their own sizes)
py - "$T" <<'EOF'
import random, sys, zlib
import delimited
t = sys.argv[1]
d = open(t + "/rec.bin", "rb").read()
rnd = random.Random(7)

def member(data, level):
    c = zlib.compressobj(level, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()

def write(name, parts):
    open(t + "/" + name, "wb").write(b"".join(parts))

# members of 1 B .. 300 KiB, cut anywhere, at levels 0 (stored), 1, 6, 9
parts, i, ends = [], 0, []
while i < len(d):
    k = rnd.choice([1, 17, 4096, rnd.randint(1, 300000)])
    parts.append(member(d[i:i + k], rnd.choice([0, 1, 6, 9])))
    i += k
write("multi.gz", parts)
# guesses: records from the 8,000th on carry an unknown field (dropped by every rule) holding a
# whole small member and a bare header, in stored members, so that those
# bytes stand in the compressed stream as they are
fake = member(b"not a record", 6) + b"\x1f\x8b\x08\x00\0\0\0\0\0\xff\x1f\x8b"
msgs, whole = delimited.split(d)
assert whole
g = delimited.join(r + delimited.ld(1000, fake) if k >= 8000 and k % 7 == 3 else r
                   for k, r in enumerate(msgs))
open(t + "/guesses.bin", "wb").write(g)
parts, i = [], 0
while i < len(g):
    k = rnd.randint(20000, 400000)
    parts.append(member(bytes(g[i:i + k]), rnd.choice([0, 0, 1])))
    i += k
write("guesses.gz", parts)
# too long: 1 MiB, then 6 MiB in one member (over 2 MiB compressed at level 0), then 64 KiB ones
parts = [member(d[:1 << 20], 1), member(d[1 << 20:7 << 20], 0)]
i = 7 << 20
while i < len(d):
    parts.append(member(d[i:i + 65536], 1))
    i += 65536
write("long.gz", parts)
# errors, in a member about 70 % into multi.gz
m = open(t + "/multi.gz", "rb").read()
offs, o = [], 0
while o < len(m):
    z = zlib.decompressobj(31); z.decompress(m[o:]); n = len(m) - o - len(z.unused_data)
    offs.append((o, n)); o += n
big = [x for x in offs if x[1] > 5000]
s, n = min(big, key=lambda x: abs(x[0] - 0.7 * len(m)))
flip = bytearray(m); flip[s + n // 2] ^= 0x55; open(t + "/flip.gz", "wb").write(flip)
crc = bytearray(m); crc[s + n - 8] ^= 0x01; open(t + "/crc.gz", "wb").write(crc)
open(t + "/cut.gz", "wb").write(m[:s + n // 2])
open(t + "/garbage.gz", "wb").write(m + b"garbage after the last member")
open(t + "/zeros.gz", "wb").write(m + b"\0" * 4096)
EOF
check "the inputs were written" [ -s "$T/multi.gz" ] && [ -s "$T/guesses.gz" ] && [ -s "$T/flip.gz" ]

# ---- the same bytes ----
expect_rc 0 "guesses: the plain input's release" "$cli" filter "${F[@]}" "${police[@]}" --threads 1 \
    --in "$T/guesses.bin" --out "$T/guesses.out"
same "guesses: the unknown field is not released (the plain input's release)" "$T/plain.out" "$T/guesses.out"
for in in multi guesses long; do
    want=$T/plain.out
    [ "$in" = guesses ] && want=$T/guesses.out
    expect_rc 0 "$in: --threads 1" "$cli" filter "${F[@]}" "${police[@]}" --threads 1 \
        --in "$T/$in.gz" --out "$T/$in.1"
    same "$in: --threads 1 releases what the plain input releases" "$want" "$T/$in.1"
    for n in 2 4; do
        DMVF_INFLATE_REPORT=1 expect_rc 0 "$in: --threads $n" "$cli" filter "${F[@]}" "${police[@]}" \
            --threads "$n" --in "$T/$in.gz" --out "$T/$in.$n"
        same "$in: --threads $n releases what --threads 1 releases" "$T/$in.1" "$T/$in.$n"
        cp "$T/err" "$T/report.$in.$n"
    done
done
# what the report says: threads used; where the one decoder took over
check "multi: inflated on threads, to the end" \
    grep -qE '^dmvfilter: gzip input: [0-9]+ segments inflated on 2 threads$' "$T/report.multi.2"
segs=$(sed -n 's/^dmvfilter: gzip input: \([0-9]*\) segments.*/\1/p' "$T/report.multi.4")
check "multi: more than ten segments on 4 threads (${segs:-none})" [ "${segs:-0}" -gt 10 ]
check "guesses: the one decoder took over at a guess" \
    grep -qE 'one decoder from byte [1-9][0-9]*$' "$T/report.guesses.2"
check "long: the one decoder took over at the long member" \
    grep -qE 'one decoder from byte [1-9][0-9]*$' "$T/report.long.2"
# a plain input and a single member are not affected
DMVF_INFLATE_REPORT=1 expect_rc 0 "plain input, --threads 2" "$cli" filter "${F[@]}" "${police[@]}" \
    --threads 2 --in "$T/rec.bin" --out "$T/plain.2"
check "plain input: no inflate report" [ ! -s "$T/err" ]

# twins (records differing only in M and C fields): the marking changes the
# compressed bytes, so where segments are cut and whether the one decoder
# takes over, but not what is released
expect_rc 0 "records and their twins" "$gen" --count 20000 --seed 29 --marked 0.3 \
    --out "$T/tw.a" --twins "$T/tw.b"
py - "$T" <<'EOF'
import random, sys, zlib
t = sys.argv[1]
for side in "ab":
    d, rnd, parts, i = open(t + "/tw." + side, "rb").read(), random.Random(11), [], 0
    while i < len(d):
        k = rnd.randint(20000, 400000)
        c = zlib.compressobj(rnd.choice([0, 1, 6]), zlib.DEFLATED, 31)
        parts.append(c.compress(d[i:i + k]) + c.flush())
        i += k
    open(t + "/tw." + side + ".gz", "wb").write(b"".join(parts))
EOF
for side in a b; do
    DMVF_INFLATE_REPORT=1 expect_rc 0 "twins $side: gzip members, --threads 2" "$cli" filter "${F[@]}" \
        "${police[@]}" --threads 2 --in "$T/tw.$side.gz" --out "$T/tw.$side.out"
    cp "$T/err" "$T/tw.$side.report"
done
check "twins: the inputs differ" ! cmp -s "$T/tw.a.gz" "$T/tw.b.gz"
check "twins: inflated on threads" grep -q "segments inflated on 2 threads" "$T/tw.a.report"
same "twins: records and twins release the same bytes on threads" "$T/tw.a.out" "$T/tw.b.out"

# ---- errors: the same status and message either way ----
for in in flip crc cut garbage zeros; do
    rm -f "$T/o.$in.1" "$T/o.$in.2"
    "$cli" filter "${F[@]}" "${police[@]}" --threads 1 --in "$T/$in.gz" --out "$T/o.$in.1" 2>"$T/e.$in.1"
    rc1=$?
    "$cli" filter "${F[@]}" "${police[@]}" --threads 2 --in "$T/$in.gz" --out "$T/o.$in.2" 2>"$T/e.$in.2"
    rc2=$?
    check "$in: exit 65 with one decoder ($rc1)" [ "$rc1" -eq 65 ]
    check "$in: the same exit status on threads ($rc2)" [ "$rc2" -eq "$rc1" ]
    same "$in: the same message on threads" "$T/e.$in.1" "$T/e.$in.2"
    check "$in: the message names a compressed offset" grep -q 'compressed byte offset' "$T/e.$in.2"
    check "$in: nothing written" [ ! -e "$T/o.$in.2" ]
done
# a bomb over --max-inflate in a late member: refused either way
lim=$(( $(stat -c %s "$T/rec.bin") - 100000 ))
for n in 1 2; do
    rm -f "$T/o.bomb"
    expect_rc 65 "--max-inflate below the input, --threads $n" "$cli" filter "${F[@]}" "${police[@]}" \
        --threads "$n" --max-inflate "$lim" --in "$T/multi.gz" --out "$T/o.bomb"
    check "--threads $n: the limit is named" grep -q "inflates past $lim bytes, the --max-inflate limit" "$T/err"
    cp "$T/err" "$T/e.bomb.$n"
    check "--threads $n: nothing written" [ ! -e "$T/o.bomb" ]
done
same "--max-inflate: the same message (the same offset) at 1 and 2 threads" "$T/e.bomb.1" "$T/e.bomb.2"
# a read that fails (EIO on standard input, tests/faultshim.c): reported
# where one decoder reports it, after what it read before (a corrupt member
# before the failure is what is reported), the same at 1 and 2 threads
faultshim_build
for in in multi flip; do
    at=$(( $(stat -c %s "$T/$in.gz") * 9 / 10 ))
    for n in 1 2; do
        DMVF_FAULT_READ=eio:$at LD_PRELOAD=$PRE "$cli" filter "${F[@]}" "${police[@]}" --threads "$n" \
            --out "$T/o.eio.$in.$n" <"$T/$in.gz" 2>"$T/e.eio.$in.$n"
        echo $? >"$T/rc.eio.$in.$n"
    done
    same "$in, EIO at byte $at: the same exit status at 1 and 2 threads ($(cat "$T/rc.eio.$in.1"))" \
        "$T/rc.eio.$in.1" "$T/rc.eio.$in.2"
    same "$in, EIO at byte $at: the same message" "$T/e.eio.$in.1" "$T/e.eio.$in.2"
    check "$in, EIO: nothing written" [ ! -e "$T/o.eio.$in.2" ]
done
check "multi, EIO: the read failure is reported (exit 74)" [ "$(cat "$T/rc.eio.multi.2")" = 74 ]
check "flip, EIO after the flipped byte: the corruption is reported (exit 65)" [ "$(cat "$T/rc.eio.flip.2")" = 65 ]
# every allocation of the run's end failing in turn (tests/faultshim.c), on
# the input whose inflate goes from the threads to the one decoder part way:
# the threads' start, segments and decoders, the hand-over's buffer, the
# rewrite. Each run releases the same bytes (a shortage while cutting, or at
# the threads' start, leaves the rest to the one decoder) or fails cleanly:
# exit 71, a message that says memory, nothing written; never a crash, a
# hang or an internal error.
if [ -n "$asan" ]; then
    echo "ok   - # SKIP allocation faults under AddressSanitizer"
else
    alloc_torture "gzip members on threads, handed to one decoder" "$T/guesses.out" 300 71 \
        filter "${F[@]}" "${police[@]}" --threads 2 --in "$T/guesses.gz"
fi
expect_rc 0 "--max-inflate at the input's size, --threads 2" "$cli" filter "${F[@]}" "${police[@]}" \
    --threads 2 --max-inflate "$(stat -c %s "$T/rec.bin")" --in "$T/multi.gz" --out "$T/o.limit"
same "at the limit: the same release" "$T/plain.out" "$T/o.limit"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
