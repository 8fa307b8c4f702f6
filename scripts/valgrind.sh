#!/usr/bin/env bash
# scripts/valgrind.sh - the command-line tests under valgrind memcheck.
#
#   scripts/valgrind.sh [BUILD_DIR] [TEST.sh ...]
#
# Runs tests/cli/*.sh (or the named ones) with DMVF_CLI pointing at a
# wrapper that runs the real dmvfilter of BUILD_DIR (default: build) under
# memcheck: every invalid read or write, use of uninitialised memory, bad
# free, and definite or indirect leak is an error. kill.sh and faults.sh are
# left out by default: they time the real binary and preload into it (both
# skip themselves when given a wrapper anyway). The record generator runs
# natively.
#
# Prints one line per test, then every memcheck report; exit 0 only when
# every test passed and memcheck reported nothing. Needs valgrind; build
# without sanitizers (RelWithDebInfo or Debug).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
arg=${1:-$here/build}
[ $# -gt 0 ] && shift
bin=$(cd "$arg" 2>/dev/null && pwd) || { echo "valgrind.sh: no build directory $arg" >&2; exit 64; }
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed" >&2; exit 69; }
real=$bin/dmvfilter
[ -x "$real" ] && [ -x "$bin/dmvf-gen" ] || { echo "valgrind.sh: build $bin first" >&2; exit 64; }
if ldd "$real" | grep -q libasan; then
    echo "valgrind.sh: $real is built with AddressSanitizer; use a plain build" >&2
    exit 64
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-valgrind.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/logs"
cat >"$W/dmvfilter" <<EOF
#!/usr/bin/env bash
exec valgrind --tool=memcheck --quiet --leak-check=full --show-leak-kinds=definite,indirect \\
    --errors-for-leak-kinds=definite,indirect --track-origins=yes --error-exitcode=97 \\
    --log-file="$W/logs/vg.%p" "$real" "\$@"
EOF
chmod +x "$W/dmvfilter"

if [ $# -gt 0 ]; then
    tests=("$@")
else
    tests=()
    for t in "$here"/tests/cli/*.sh; do
        case $(basename "$t") in kill.sh|faults.sh) continue ;; esac
        tests+=("$t")
    done
fi

failed=0
for t in "${tests[@]}"; do
    [ -f "$t" ] || t=$here/tests/cli/$t
    name=$(basename "$t" .sh)
    start=$(date +%s)
    if DMVF_SRC=$here DMVF_BIN=$bin DMVF_CLI=$W/dmvfilter DMVF_GEN=$bin/dmvf-gen \
        bash "$t" >"$W/$name.out" 2>&1; then
        echo "pass  $name ($(( $(date +%s) - start ))s)"
    else
        echo "FAIL  $name ($(( $(date +%s) - start ))s)"
        grep -E "^FAIL|passed, .* failed" "$W/$name.out" | sed 's/^/      /' | head -20
        failed=$((failed + 1))
    fi
done

runs=$(find "$W/logs" -type f | wc -l)
reports=0
for log in "$W"/logs/vg.*; do
    [ -s "$log" ] || continue
    reports=$((reports + 1))
    echo "---- memcheck: $(basename "$log")"
    head -60 "$log"
done
echo "valgrind.sh: ${#tests[@]} tests, $failed failed; $runs dmvfilter runs under memcheck, $reports with reports"
[ "$failed" -eq 0 ] && [ "$reports" -eq 0 ]
