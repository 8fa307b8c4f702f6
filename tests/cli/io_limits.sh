#!/usr/bin/env bash
# io_limits.sh - input and output limits of `dmvfilter filter`:
#
#   gzip bomb        --max-inflate N refuses a gzip input that inflates past N
#                    bytes (exit 65, the ratio and compressed offset named, no
#                    --out file), on one thread, on several, and framed; the
#                    default refuses only past both 1 GiB and 1000x: ordinary
#                    gzip input and a 64 MiB input at over 1000:1 pass, a
#                    1088 MiB one at the same ratio is refused
#   frames           --max-request-frames N: a request of N+1 record frames is
#                    bad input (exit 65, no --out file), one of N passes
#   the temp file    where the --out directory supports O_TMPFILE, the file
#                    being written has no name: none is visible while a run
#                    writes, and SIGKILL or SIGTERM leaves the directory as it
#                    was; a finished run's file is 0600 under any umask
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
policy=$DMVF_SRC/examples/policy.yaml
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-limits.XXXXXX") || exit 1
child=
cleanup() {
    [ -n "$child" ] && kill -9 "$child" 2>/dev/null
    exec 3>&- 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
unset DMVFILTER_PASSPHRASE

. "$DMVF_SRC/tests/cli_lib.sh"
said() { # said DESCRIPTION REGEX: stderr of the last expect_rc matches
    if grep -qE "$2" "$T/err"; then ok "$1"; else bad "$1: stderr: $(head -3 "$T/err")"; fi
}
empty_dir() { # empty_dir DESCRIPTION DIR: nothing at all in DIR
    local left
    left=$(ls -A "$2")
    if [ -z "$left" ]; then ok "$1: the directory is empty"; else bad "$1: left behind: $left"; fi
}

F=(--policy "$policy" --keyring "$T/kr" --quiet --date 2026-11-22)   # (framed requests are dated that day)
research=(--ori NYUNIV000 --agency-kind research --purpose 5 --query-kind list
          --request-id lim --date 2026-11-22)
mkdir "$T/o"
expect_rc 0 "keys init --unsealed" "$cli" keys init --keyring "$T/kr" --unsealed
expect_rc 0 "generate records" "$gen" --count 3000 --seed 41 --out "$T/rec.bin"
gzip -c "$T/rec.bin" >"$T/rec.gz"
expect_rc 0 "reference run on the plain input" "$cli" filter "${F[@]}" "${research[@]}" \
    --in "$T/rec.bin" --out "$T/ref.out"
rsize=$(stat -c %s "$T/rec.bin")

# ---- help and usage ----
"$cli" filter --help >"$T/help" 2>&1
check "--help documents --max-inflate" grep -q -- "--max-inflate N" "$T/help"
check "--help documents --max-request-frames" grep -q -- "--max-request-frames N" "$T/help"
expect_rc 64 "--max-inflate 0 is a usage error" "$cli" filter "${F[@]}" "${research[@]}" \
    --max-inflate 0 --in "$T/rec.gz"
expect_rc 64 "--max-inflate 12X is a usage error" "$cli" filter "${F[@]}" "${research[@]}" \
    --max-inflate 12X --in "$T/rec.gz"
expect_rc 64 "--max-request-frames -1 is a usage error" "$cli" filter "${F[@]}" --format framed \
    --max-request-frames -1 --in "$T/rec.bin"
expect_rc 64 "--max-request-frames without --format framed is a usage error" \
    "$cli" filter "${F[@]}" "${research[@]}" --max-request-frames 3 --in "$T/rec.bin"

# ---- gzip: ordinary input passes, the limit is exact ----
expect_rc 0 "gzip input, default limit" "$cli" filter "${F[@]}" "${research[@]}" \
    --in "$T/rec.gz" --out "$T/o/z.out"
check "gzip input: the same bytes as the plain input" cmp -s "$T/o/z.out" "$T/ref.out"
rm -f "$T/o/z.out"
expect_rc 0 "gzip input, --max-inflate exactly its inflated size ($rsize)" \
    "$cli" filter "${F[@]}" "${research[@]}" --max-inflate "$rsize" --in "$T/rec.gz" --out "$T/o/z.out"
check "--max-inflate at the size: the same bytes" cmp -s "$T/o/z.out" "$T/ref.out"
rm -f "$T/o/z.out"
expect_rc 65 "gzip input, --max-inflate one byte less" \
    "$cli" filter "${F[@]}" "${research[@]}" --max-inflate $((rsize - 1)) --in "$T/rec.gz" --out "$T/o/z.out"
said "one byte less: says the limit" "inflates past $((rsize - 1)) bytes, the --max-inflate limit"
check "one byte less: no output file" [ ! -e "$T/o/z.out" ]
empty_dir "one byte less" "$T/o"
expect_rc 0 "plain input ignores --max-inflate" "$cli" filter "${F[@]}" "${research[@]}" \
    --max-inflate 1K --in "$T/rec.bin" --out "$T/o/p.out"
rm -f "$T/o/p.out"

# ---- a gzip bomb: 8 records each with an 8 MiB photo of zeros, ~1000:1 ----
make_bomb "$T/bomb.gz" 8
zsize=$(stat -c %s "$T/bomb.gz")
echo "      gzip bomb: $zsize bytes, inflating to 64 MiB (ratio $(( (64 << 20) / zsize )):1)"
check "the bomb inflates more than 1000 times its size" [ $(( (64 << 20) / zsize )) -gt 1000 ]
for th in 1 4; do
    expect_rc 65 "bomb, --max-inflate 8M, --threads $th" "$cli" filter "${F[@]}" "${research[@]}" \
        --max-inflate 8M --threads "$th" --in "$T/bomb.gz" --out "$T/o/bomb.out"
    said "bomb, --threads $th: says why, the ratio and where" \
        "input .*bomb.gz: gzip: input inflates past 8388608 bytes, the --max-inflate limit \(ratio [0-9]+:1\) at compressed byte offset [0-9]+"
    check "bomb, --threads $th: no output file" [ ! -e "$T/o/bomb.out" ]
    empty_dir "bomb, --threads $th" "$T/o"
done
expect_rc 65 "bomb on stdin, --max-inflate 8M, --gzip output" "$cli" filter "${F[@]}" "${research[@]}" \
    --max-inflate 8M --gzip --out "$T/o/bomb.out" <"$T/bomb.gz"
said "bomb on stdin: names <stdin>" "input <stdin>: gzip: input inflates past 8388608 bytes"
empty_dir "bomb on stdin" "$T/o"
# under the default both conditions must hold: 64 MiB is under 1 GiB
expect_rc 0 "bomb, default limit: 64 MiB is under 1 GiB, released" "$cli" filter "${F[@]}" \
    "${research[@]}" --in "$T/bomb.gz" --out "$T/o/bomb.out"
check "bomb, default limit: the output file is there" [ -s "$T/o/bomb.out" ]
rm -f "$T/o/bomb.out"
# 17 such members, concatenated: 1088 MiB at the same ratio, past both
for i in $(seq 17); do cat "$T/bomb.gz"; done >"$T/bomb17.gz"
expect_rc 65 "bomb of 1088 MiB, default limit" "$cli" filter "${F[@]}" "${research[@]}" \
    --threads 1 --in "$T/bomb17.gz" --out "$T/o/bomb.out"
said "bomb of 1088 MiB, default limit: says why, the ratio and where" \
    "gzip: input inflates past 1073741824 bytes and 1000 times its compressed size \(ratio 10[0-9][0-9]:1\) at compressed byte offset [0-9]+"
empty_dir "bomb of 1088 MiB, default limit" "$T/o"
rm -f "$T/bomb17.gz"

# framed input, gzipped: the same limit
expect_rc 0 "generate a framed stream of one request of 5 records" "$gen" --framed --count 5 \
    --requests 1 --request-id five --seed 43 --ori NYUNIV000 --agency-kind research --purpose 5 \
    --query-kind list --date 20261122 --out "$T/five.framed"
gzip -c "$T/five.framed" >"$T/five.framed.gz"
fsize=$(stat -c %s "$T/five.framed")
expect_rc 0 "framed gzip input, --max-inflate at its size" "$cli" filter "${F[@]}" --format framed \
    --max-inflate "$fsize" --in "$T/five.framed.gz" --out "$T/o/f.out"
rm -f "$T/o/f.out"
expect_rc 65 "framed gzip input, --max-inflate 1K" "$cli" filter "${F[@]}" --format framed \
    --max-inflate 1K --in "$T/five.framed.gz" --out "$T/o/f.out"
said "framed gzip input: says the limit" "inflates past 1024 bytes, the --max-inflate limit"
empty_dir "framed gzip input over the limit" "$T/o"

# ---- --max-request-frames ----
expect_rc 65 "--max-request-frames 3, a request of 5 records" "$cli" filter "${F[@]}" --format framed \
    --max-request-frames 3 --in "$T/five.framed" --out "$T/o/f.out"
said "--max-request-frames 3: says why" "request 'five' carries more than 3 record frames"
empty_dir "--max-request-frames 3" "$T/o"
expect_rc 0 "--max-request-frames 5, a request of 5 records" "$cli" filter "${F[@]}" --format framed \
    --max-request-frames 5 --in "$T/five.framed" --out "$T/o/f5.out"
expect_rc 0 "no --max-request-frames (the default)" "$cli" filter "${F[@]}" --format framed \
    --in "$T/five.framed" --out "$T/o/fd.out"
check "--max-request-frames 5: the same bytes as the default" cmp -s "$T/o/f5.out" "$T/o/fd.out"
rm -f "$T/o/f5.out" "$T/o/fd.out"

# ---- the temp file: no name while writing, nothing left by a kill ----
tmpfile_ok=$(python3 - "$T/o" <<'EOF'
import os, sys
try:
    fd = os.open(sys.argv[1], os.O_TMPFILE | os.O_WRONLY, 0o600)
    os.close(fd); print(1)
except (AttributeError, OSError):
    print(0)
EOF
)
# writer_fd PID DIR: the link of PID's descriptor open on a file in DIR
# (waits up to 10 s for it to appear)
writer_fd() {
    local i l
    for ((i = 0; i < 200; i++)); do
        for l in /proc/"$1"/fd/*; do
            l=$(readlink "$l" 2>/dev/null) || continue
            case $l in "$2"/*) echo "$l"; return 0;; esac
        done
        sleep 0.05
    done
    return 1
}
mkfifo "$T/fifo"
# run_blocked SIGNAL DESC [OLD]: a run reading a FIFO that stays open, so it
# is writing its output when SIGNAL arrives; OLD: an older file is there
run_blocked() {
    local sig=$1 desc=$2 old=${3:-}
    rm -rf "$T/o"; mkdir "$T/o"
    [ -n "$old" ] && echo "$old" >"$T/o/k.out"
    "$cli" filter "${F[@]}" "${research[@]}" --threads 1 --in "$T/fifo" --out "$T/o/k.out" \
        2>"$T/err" &
    child=$!
    exec 3>"$T/fifo"
    head -c 200000 "$T/rec.bin" >&3
    local link
    if ! link=$(writer_fd "$child" "$T/o"); then
        bad "$desc: the run never opened its output"
    elif [ "$tmpfile_ok" = 1 ]; then
        case $link in
        *"(deleted)") ok "$desc: the file being written has no name ($link)";;
        *) bad "$desc: the file being written has a name: $link";;
        esac
        local seen
        seen=$(ls -A "$T/o")
        if [ "$seen" = "${old:+k.out}" ]; then ok "$desc: nothing new is visible while it writes"
        else bad "$desc: visible while it writes: $seen"; fi
    else
        echo "      (O_TMPFILE is not supported in $T/o: a named temp file is used: $link)"
    fi
    kill -"$sig" "$child"
    { wait "$child"; } 2>/dev/null
    local rc=$?
    child=
    exec 3>&-
    check "$desc: the run ended by the signal (exit $rc)" [ "$rc" -ge 128 ]
}
for sig in KILL TERM; do
    run_blocked "$sig" "SIG$sig"
    if [ "$tmpfile_ok" = 1 ] || [ "$sig" = TERM ]; then
        empty_dir "SIG$sig" "$T/o"
    else
        echo "skip: no O_TMPFILE in $T/o: SIGKILL may leave a temp file"
    fi
done
run_blocked KILL "SIGKILL over an older file" "an older release"
check "SIGKILL over an older file: it is untouched" [ "$(cat "$T/o/k.out")" = "an older release" ]
if [ "$tmpfile_ok" = 1 ]; then
    check "SIGKILL over an older file: nothing else is there" [ "$(ls -A "$T/o")" = k.out ]
fi

# a finished run: the file is in place, 0600 under umask 000, over an older one too
rm -rf "$T/o"; mkdir "$T/o"
expect_rc 0 "--out, umask 000" sh -c 'umask 000; exec "$@"' sh "$cli" filter "${F[@]}" \
    "${research[@]}" --in "$T/rec.bin" --out "$T/o/done.out"
check "--out: the same bytes" cmp -s "$T/o/done.out" "$T/ref.out"
check "--out: mode 600 ($(stat -c %a "$T/o/done.out"))" [ "$(stat -c %a "$T/o/done.out")" = 600 ]
check "--out: nothing else in the directory" [ "$(ls -A "$T/o")" = done.out ]
echo "an older release" >"$T/o/done.out"
ln "$T/o/done.out" "$T/o/other-link"
expect_rc 0 "--out over an older file" "$cli" filter "${F[@]}" "${research[@]}" \
    --in "$T/rec.bin" --out "$T/o/done.out"
check "over an older file: the new bytes" cmp -s "$T/o/done.out" "$T/ref.out"
check "over an older file: replaced, not rewritten in place (another link keeps the old bytes)" \
    [ "$(cat "$T/o/other-link")" = "an older release" ]
check "over an older file: nothing else in the directory" \
    [ "$(ls -A "$T/o" | tr '\n' ' ')" = "done.out other-link " ]
(cd "$T/o" && rm -f done.out other-link && "$cli" filter "${F[@]}" "${research[@]}" \
    --in "$T/rec.bin" --out rel.out >/dev/null 2>&1)
check "--out with a name without a directory: the same bytes" cmp -s "$T/o/rel.out" "$T/ref.out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
