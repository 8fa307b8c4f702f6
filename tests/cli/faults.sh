#!/usr/bin/env bash
# faults.sh - `dmvfilter filter` under I/O and allocation faults, and a gzip
# bomb. Faults come from tests/faultshim.c, compiled here into the temp
# directory and preloaded (LD_PRELOAD):
#
#   short writes, 1-byte reads, EINTR on reads   same bytes as a clean run, exit 0
#   ENOSPC, EIO, EPIPE on write                   exit 74 naming the cause; --out
#   EIO on read; fsync, rename, close failing     never appears (an older file of
#                                                 that name is left as it was), no
#                                                 temp file is left; on stdout a
#                                                 framed stream has no trailer for
#                                                 a request that did not finish
#   the Nth allocation failing, for every N       exit 0 with the same bytes, or a
#                                                 clean failure naming memory; never
#                                                 a signal; no output file
#   /dev/full as --out, a real closed pipe        the same without the shim
#   a gzip bomb (~1000:1)                         memory stays bounded
#
# Under AddressSanitizer the sanitizer runtime is preloaded first and the
# allocation faults are skipped (the sanitizer's allocator cannot be failed
# from outside).
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
policy=$DMVF_SRC/examples/policy.yaml
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-faults.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE

. "$DMVF_SRC/tests/cli_lib.sh"
said() { # said DESCRIPTION REGEX: stderr of the last expect_rc matches
    if grep -qE "$2" "$T/err"; then ok "$1"; else bad "$1: stderr: $(head -3 "$T/err")"; fi
}
absent() { # absent DESCRIPTION FILE: the file and any temp file beside it are absent
    if [ ! -e "$2" ] && ! ls -A "$(dirname "$2")" | grep -q '\.tmp\.'; then
        ok "$1: no output file"
    else
        bad "$1: output file or temp file left behind"
    fi
}

faultshim_build

# frames FILE: checks a (possibly cut) framed output: every trailer frame
# counts exactly the record frames before it since the previous trailer; a
# seal frame (a signed release ends with one) is last and whole.
# Prints the number of trailers, then "sealed" when the seal is there; exit
# 1 when a trailer does not match or a frame follows the seal.
frames() {
    python3 - "$1" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
def varint(b, i):
    v = s = 0
    while True:
        if i >= len(b): return None, i
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if not c & 0x80: return v, i
i = recs = trailers = sealed = 0
while i < len(d):
    n, j = varint(d, i)
    if n is None or j + n > len(d): break          # a cut frame at the end
    body = d[j:j + n]; i = j + n
    if sealed: sys.exit("a frame after the seal")
    if body[0] == 0x22: sealed = 1; continue
    if body[0] == 0x12: recs += 1; continue
    if body[0] != 0x1a: sys.exit("unexpected frame key %#x" % body[0])
    ln, k = varint(body, 1); t = body[k:k + ln]; k = 0; out = 0
    while k < len(t):
        key, k = varint(t, k)
        if key & 7 == 0:
            v, k = varint(t, k)
            if key >> 3 == 3: out = v
        elif key & 7 == 2:
            l, k = varint(t, k); k += l
        else: sys.exit("unexpected wire type in trailer")
    if out != recs: print(trailers); sys.exit("trailer %d says %d records, %d were sent" % (trailers, out, recs))
    trailers += 1; recs = 0
print(trailers, "sealed" if sealed else "-")
EOF
}
# seal_at FILE: the byte offset of the seal frame of a framed output, or -1
seal_at() {
    python3 - "$1" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
i = 0
while i < len(d):
    n = s = 0; at = i
    while True:
        c = d[i]; i += 1; n |= (c & 0x7f) << s; s += 7
        if not c & 0x80: break
    if d[i] == 0x22: print(at); sys.exit(0)
    i += n
print(-1)
EOF
}

police=(--ori NY0300000 --agency-kind local --jurisdiction NY --purpose 1
        --query-kind by_license --request-id f-police --date 2026-11-22)
research=(--ori NYUNIV000 --agency-kind research --purpose 5 --query-kind list
          --request-id f-research --date 2026-11-22)

# ---- setup: keyring, records, framed requests, clean outputs ----
expect_rc 0 "keys init" "$cli" keys init --keyring "$T/kr" --unsealed
"$gen" --count 40 --seed 21 --marked 0.4 --out "$T/rec.bin" || bad "generate records"
"$gen" --count 2000 --seed 22 --out "$T/big.bin" || bad "generate 2000 records"
"$gen" --count 20000 --seed 24 --out "$T/huge.bin" || bad "generate 20000 records"
"$gen" --framed --count 40 --requests 2 --request-id fr --seed 23 --date 20261122 \
    --out "$T/framed.bin" || bad "generate framed"
gzip -c "$T/rec.bin" >"$T/rec.gz"
# (the framed requests are dated 2026-11-22: judged as of that day, the DMV's replay)
F=(--policy "$policy" --keyring "$T/kr" --quiet --date 2026-11-22)
expect_rc 0 "clean police run" "$cli" filter "${F[@]}" "${police[@]}" --in "$T/rec.bin" --out "$T/ref.police"
expect_rc 0 "clean research run" "$cli" filter "${F[@]}" "${research[@]}" --in "$T/big.bin" --out "$T/ref.research"
expect_rc 0 "clean framed run" "$cli" filter "${F[@]}" --format framed --in "$T/framed.bin" --out "$T/ref.framed"
check "clean framed run has 2 trailers and the seal" [ "$(frames "$T/ref.framed")" = "2 sealed" ]
expect_rc 0 "clean gzip run" "$cli" filter "${F[@]}" "${police[@]}" --gzip --in "$T/rec.bin" --out "$T/ref.gz"
mkdir -p "$T/o"

# ---- faults a correct program rides through ----
for mode in short; do
    expect_rc 0 "$mode writes to stdout" shim DMVF_FAULT_WRITE=$mode -- \
        "$cli" filter "${F[@]}" "${research[@]}" --in "$T/big.bin"
    check "$mode writes to stdout: same bytes" cmp -s "$T/stdout" "$T/ref.research"
    expect_rc 0 "$mode writes to --out" shim DMVF_FAULT_WRITE=$mode -- \
        "$cli" filter "${F[@]}" "${research[@]}" --in "$T/big.bin" --out "$T/o/short.out"
    check "$mode writes to --out: same bytes" cmp -s "$T/o/short.out" "$T/ref.research"
    expect_rc 0 "$mode writes, framed" shim DMVF_FAULT_WRITE=$mode -- \
        "$cli" filter "${F[@]}" --format framed --in "$T/framed.bin"
    check "$mode writes, framed: same bytes" cmp -s "$T/stdout" "$T/ref.framed"
    expect_rc 0 "$mode writes, gzip" shim DMVF_FAULT_WRITE=$mode -- \
        "$cli" filter "${F[@]}" "${police[@]}" --gzip --in "$T/rec.bin"
    check "$mode writes, gzip: same bytes" cmp -s "$T/stdout" "$T/ref.gz"
done
rm -f "$T/o/short.out"
for mode in one eintr; do
    expect_rc 0 "reads: $mode" shim DMVF_FAULT_READ=$mode -- \
        "$cli" filter "${F[@]}" "${police[@]}" <"$T/rec.bin"
    check "reads: $mode: same bytes" cmp -s "$T/stdout" "$T/ref.police"
    expect_rc 0 "reads: $mode, gzip input" shim DMVF_FAULT_READ=$mode -- \
        "$cli" filter "${F[@]}" "${police[@]}" <"$T/rec.gz"
    check "reads: $mode, gzip input: same bytes" cmp -s "$T/stdout" "$T/ref.police"
    expect_rc 0 "reads: $mode, framed" shim DMVF_FAULT_READ=$mode -- \
        "$cli" filter "${F[@]}" --format framed <"$T/framed.bin"
    check "reads: $mode, framed: same bytes" cmp -s "$T/stdout" "$T/ref.framed"
done

# ---- write failures: exit 74, the cause named, no output file ----
rsize=$(stat -c %s "$T/ref.research")
for err in enospc:0 enospc:1 enospc:4096 enospc:$((rsize / 2)) enospc:$((rsize - 1)) eio:1000 epipe:1000; do
    case $err in enospc*) why="No space left on device";; eio*) why="Input/output error";; *) why="Broken pipe";; esac
    expect_rc 74 "write fails ($err) on --out" shim DMVF_FAULT_WRITE=$err -- \
        "$cli" filter "${F[@]}" "${research[@]}" --in "$T/big.bin" --out "$T/o/w.out"
    said "write fails ($err): says why" "write failed: $why"
    absent "write fails ($err)" "$T/o/w.out"
done
# an older file of the same name is left as it was
echo OLD >"$T/o/keep.out"
expect_rc 74 "write fails over an existing file" shim DMVF_FAULT_WRITE=enospc:5000 -- \
    "$cli" filter "${F[@]}" "${research[@]}" --in "$T/big.bin" --out "$T/o/keep.out"
check "the existing file is untouched" [ "$(cat "$T/o/keep.out")" = OLD ]
check "no temp file beside it" ! ls -A "$T/o" | grep -q '\.tmp\.'
# gzip output failing part way
expect_rc 74 "write fails with --gzip" shim DMVF_FAULT_WRITE=enospc:100 -- \
    "$cli" filter "${F[@]}" "${research[@]}" --gzip --in "$T/big.bin" --out "$T/o/wz.out"
absent "write fails with --gzip" "$T/o/wz.out"
# a real full device
expect_rc 74 "--out /dev/full" "$cli" filter "${F[@]}" "${research[@]}" --in "$T/big.bin" --out /dev/full
said "--out /dev/full: says why" "No space left on device"

# framed on stdout, cut at many points: a request that did not finish has no
# trailer, and a cut release has no seal (cuts before the seal frame: fewer
# than 2 trailers; cuts inside it: both trailers, no seal)
fsize=$(stat -c %s "$T/ref.framed")
sat=$(seal_at "$T/ref.framed")
check "the seal is the last frame" [ "$sat" -gt 0 -a "$((fsize - sat))" -lt 200 ]
cuts_ok=1
for n in 0 1 50 $((sat / 3)) $((sat / 2)) $((sat - 40)) $((sat - 1)) $((fsize - 40)) $((fsize - 1)); do
    shim DMVF_FAULT_WRITE=enospc:$n -- "$cli" filter "${F[@]}" --format framed \
        --in "$T/framed.bin" >"$T/cut" 2>"$T/err"
    rc=$?
    t=$(frames "$T/cut" 2>"$T/frames.err")
    most=1
    [ "$n" -ge "$sat" ] && most=2
    if [ "$rc" -ne 74 ] || [ -s "$T/frames.err" ] || [ "${t%% *}" -gt "$most" ] \
        || [ "${t#* }" != - ]; then
        cuts_ok=0
        bad "framed stdout cut at $n bytes: exit $rc, frames: $t $(cat "$T/frames.err")"
    fi
done
[ "$cuts_ok" = 1 ] && ok "framed stdout cut at 9 points: exit 74, no trailer for an unfinished request, no seal"

# a real closed pipe: EPIPE, not death by SIGPIPE (the output, ~2.4 MB, is
# more than a pipe holds)
"$cli" filter "${F[@]}" "${research[@]}" --in "$T/huge.bin" 2>"$T/err" | head -c 10 >/dev/null
rc=${PIPESTATUS[0]}
check "closed pipe: exit 74 (not killed by SIGPIPE: $rc)" [ "$rc" -eq 74 ]
said "closed pipe: says why" "Broken pipe"

# ---- read failures ----
expect_rc 74 "read fails (EIO) part way" shim DMVF_FAULT_READ=eio:5000 -- \
    "$cli" filter "${F[@]}" "${police[@]}" --out "$T/o/r.out" <"$T/rec.bin"
said "read fails: says why" "read failed: Input/output error"
absent "read fails" "$T/o/r.out"
expect_rc 74 "read fails (EIO) in gzip input" shim DMVF_FAULT_READ=eio:300 -- \
    "$cli" filter "${F[@]}" "${police[@]}" --out "$T/o/rz.out" <"$T/rec.gz"
absent "read fails in gzip input" "$T/o/rz.out"
expect_rc 74 "read fails (EIO), framed" shim DMVF_FAULT_READ=eio:3000 -- \
    "$cli" filter "${F[@]}" --format framed --out "$T/o/rf.out" <"$T/framed.bin"
absent "read fails, framed" "$T/o/rf.out"

# ---- committing the output fails ----
for what in FSYNC RENAME CLOSE; do
    expect_rc 74 "$what fails" shim DMVF_FAULT_$what=eio -- \
        "$cli" filter "${F[@]}" "${police[@]}" --in "$T/rec.bin" --out "$T/o/c.out"
    said "$what fails: says why" "Input/output error"
    absent "$what fails" "$T/o/c.out"
    echo OLD >"$T/o/keep2.out"
    shim DMVF_FAULT_$what=eio -- "$cli" filter "${F[@]}" "${police[@]}" --in "$T/rec.bin" \
        --out "$T/o/keep2.out" >/dev/null 2>&1
    check "$what fails: an existing file is untouched" [ "$(cat "$T/o/keep2.out")" = OLD ]
    rm -f "$T/o/keep2.out"
done

# ---- every allocation failing in turn (alloc_torture, cli_lib.sh) ----
if [ -n "$asan" ]; then
    echo "skip: allocation faults under AddressSanitizer"
else
    alloc_torture "records" "$T/ref.police" 0 "" filter "${F[@]}" "${police[@]}" --in "$T/rec.bin"
    alloc_torture "framed" "$T/ref.framed" 0 "" filter "${F[@]}" --format framed --in "$T/framed.bin"
fi

# ---- a gzip bomb: 64 records of 8 MiB of zeros (in a redacted photo), ~1000:1 ----
make_bomb "$T/bomb.gz" 64
zsize=$(stat -c %s "$T/bomb.gz")
python3 - "$cli" "$T" "${F[@]}" "${research[@]}" <<'EOF' >"$T/bomb.txt"
import resource, subprocess, sys
cli, t, args = sys.argv[1], sys.argv[2], sys.argv[3:]
p = subprocess.run([cli, "filter", *args, "--in", t + "/bomb.gz", "--out", t + "/o/bomb.out"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stderr.write(p.stderr.decode())
EOF
read -r brc brss <"$T/bomb.txt"
echo "      gzip bomb: $zsize bytes inflating to 512 MiB: exit $brc, peak RSS ${brss} KiB"
check "gzip bomb: released (under the default 1 GiB floor of --max-inflate) or refused as bad input, no crash" [ "$brc" -eq 0 -o "$brc" -eq 65 ]
if [ -n "$asan" ]; then
    echo "skip: peak memory under AddressSanitizer"
else
    check "gzip bomb: peak memory below 128 MiB (${brss} KiB)" [ "$brss" -lt 131072 ]
fi
rm -f "$T/o/bomb.out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
