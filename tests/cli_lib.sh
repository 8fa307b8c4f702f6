# tests/cli_lib.sh - the checks shared by tests/cli/*.sh (sourced, not a test).
# The script sets T (its temp dir) first; it ends with `finish`.
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() { # check DESCRIPTION [!] CMD...
    local desc=$1 neg=0; shift
    if [ "$1" = "!" ]; then neg=1; shift; fi
    "$@"
    if [ $(( $? == 0 )) -ne "$neg" ]; then ok "$desc"; else bad "$desc"; fi
}
# expect_rc WANT DESCRIPTION CMD... : stdout to $T/stdout, stderr to $T/err
expect_rc() {
    local want=$1 desc=$2; shift 2
    "$@" >"$T/stdout" 2>"$T/err"
    local rc=$?
    if [ "$rc" -eq "$want" ]; then
        ok "$desc (exit $rc)"
    else
        bad "$desc: exit $rc, want $want"
        sed 's/^/      /' "$T/err" | head -5
    fi
}

# py ARGS...: python3 with tests/delimited.py importable (delimited streams,
# protobuf fields, frames)
py() { PYTHONPATH="$DMVF_SRC/tests${PYTHONPATH:+:$PYTHONPATH}" python3 "$@"; }

# make_bomb FILE COUNT : a gzip bomb: COUNT records, each with an 8 MiB photo of
# zeros (redacted by every profile), compressed ~1000:1 as one gzip member
make_bomb() {
    python3 - "$1" "$2" <<'PY'
import sys, zlib
def varint(n):
    out = bytearray()
    while n >= 0x80: out.append((n & 0x7f) | 0x80); n >>= 7
    out.append(n); return bytes(out)
img = 8 << 20
photo = b"\x0a" + varint(img)                     # Photo.image, 8 MiB of zeros
head = b"\x0a\x04BOMB" + b"\x32" + varint(len(photo) + img) + photo
rec = varint(len(head) + img) + head
co = zlib.compressobj(9, zlib.DEFLATED, 31)
zeros = bytes(1 << 20)
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[2])):
        f.write(co.compress(rec))
        for _ in range(8): f.write(co.compress(zeros))
    f.write(co.flush())
PY
}
