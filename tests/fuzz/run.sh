#!/usr/bin/env bash
# tests/fuzz/run.sh - build the libFuzzer targets and run each for a bounded
# time, then print one line per target: executions, exec/s, coverage
# (libFuzzer's cov: edges and ft: features), corpus size, peak RSS.
#
#   tests/fuzz/run.sh [-t SECONDS] [-j JOBS] [--build-only] [TARGET...]
#
#   -t SECONDS     run time per target (default 60, or $DMVF_FUZZ_SECONDS)
#   -j JOBS        build jobs (default 2)
#   --build-only   configure and build, run nothing
#   TARGET         rewrite framed gzip policy keyring jsonl csv serve (default: all eight)
#
# Environment: BUILD (default <repo>/build-fuzz), SRC (the source tree to
# configure, default the repository), CC (default clang), NICE (default
# "nice -n 19"; set to "" on a machine of your own), DMVF_FUZZ_LAX_MESSAGES
# (set: error messages are not checked for line breaks, so that a known,
# reported message bug does not stop every run; see README.md),
# DMVF_FUZZ_SEED (libFuzzer's -seed: a number gives every target the same
# mutation sequence on every run, so that a run from a clean tree explores
# the same inputs wherever it runs, as long as it runs as long; unset: a new
# seed each run, which is what exploring wants), DMVF_FUZZ_FRESH (set: the
# working corpus is emptied first, as on a clean clone).
#
# After each run the working corpus is replayed once with -print_coverage=1
# and the edges covered in the files the target is about are summed per
# file ("files:" line; the cov: column counts the whole library).
#
# Each target starts from its committed seeds (tests/fuzz/corpus/<t>/) and
# its regressions, grows a working corpus under $BUILD/fuzz/corpus/<t>/
# (kept between runs; the committed seeds are never written), and uses
# tests/fuzz/<t>.dict when there is one. A crash, leak, sanitizer report
# or failed check stops the target; the input is saved under
# $BUILD/fuzz/artifacts/<t>/ and this script exits 1. Commit such an input
# as tests/fuzz/regressions/<t>/<name> so that test_fuzz_regressions
# replays it. Exit status: 0 when every target ran clean, 1 when one found
# something, 2 on a build or usage error.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-$root/build-fuzz}
src=${SRC:-$root}
seconds=${DMVF_FUZZ_SECONDS:-60}
jobs=2
build_only=0
targets=()
all=(rewrite framed gzip policy keyring jsonl csv serve)
nice_cmd=${NICE-nice -n 19}

while [ $# -gt 0 ]; do
    case $1 in
    -t) seconds=${2:?-t needs seconds}; shift 2 ;;
    -j) jobs=${2:?-j needs a number}; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    rewrite|framed|gzip|policy|keyring|jsonl|csv|serve) targets+=("$1"); shift ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

# ---- build ----
if ! grep -q 'tests/fuzz' "$src/CMakeLists.txt"; then
    echo "run.sh: $src/CMakeLists.txt does not add tests/fuzz (if(DMVF_BUILD_FUZZERS) add_subdirectory(tests/fuzz) endif())" >&2
    exit 2
fi
if [ -f "$build/CMakeCache.txt" ]; then
    cached=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
    if [ "$(cd "$cached" && pwd -P)" != "$(cd "$src" && pwd -P)" ]; then
        echo "run.sh: $build was configured for $cached, not $src: remove it or set BUILD" >&2
        exit 2
    fi
fi
mkdir -p "$build"
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="${CC:-clang}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DDMVF_BUILD_FUZZERS=ON -DDMVF_BUILD_TESTS=OFF >"$build/fuzz-configure.log" 2>&1 \
    || { tail -40 "$build/fuzz-configure.log" >&2; echo "run.sh: configure failed" >&2; exit 2; }
$nice_cmd cmake --build "$build" -j"$jobs" --target fuzzers dmvf-gen >"$build/fuzz-build.log" 2>&1 \
    || { tail -40 "$build/fuzz-build.log" >&2; echo "run.sh: build failed (log: $build/fuzz-build.log)" >&2; exit 2; }
[ $build_only -eq 1 ] && { echo "built: $build/tests/fuzz/fuzz_{$(IFS=,; echo "${all[*]}")}"; exit 0; }

# ---- run ----
export DMVF_SRC=$root
status=0
results=()
covlines=()
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/fuzz_$t
    work=$build/fuzz/corpus/$t
    art=$build/fuzz/artifacts/$t
    log=$build/fuzz/$t.log
    [ -n "${DMVF_FUZZ_FRESH:-}" ] && rm -rf "$work"
    mkdir -p "$work" "$art"
    args=(-max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$art/" -rss_limit_mb=2048
          -timeout=10)
    [ -f "$here/$t.dict" ] && args+=(-dict="$here/$t.dict")
    [ -n "${DMVF_FUZZ_SEED:-}" ] && args+=(-seed="$DMVF_FUZZ_SEED")
    dirs=("$work" "$here/corpus/$t")
    [ -d "$here/regressions/$t" ] && dirs+=("$here/regressions/$t")
    echo "== fuzz_$t for ${seconds}s (log: $log)"
    $nice_cmd "$bin" "${args[@]}" "${dirs[@]}" >"$log" 2>&1
    rc=$?
    # the last status line ("#N DONE cov: E ft: F corp: C/B ... exec/s: X rss: R")
    last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
    verdict=clean
    if [ $rc -ne 0 ]; then
        verdict="FOUND (exit $rc): $(ls -t "$art" 2>/dev/null | head -1)"
        status=1
        grep -E 'ERROR: |fuzz check failed|SUMMARY' "$log" | head -5 | sed 's/^/   /'
    fi
    echo "$last"
    # per-file edge coverage of the files this target is about
    case $t in
    rewrite) files="filter/wire/rewrite.c filter/wire/reference.c filter/wire/transform.c keys/crypto.c" ;;
    framed) files="filter/release/framed.c filter/release/stream.c filter/release/filter.c filter/wire/rewrite.c" ;;
    gzip) files="tests/fuzz/gzread.c filter/release/stream.c filter/release/filter.c" ;;
    policy) files="filter/policy/parse.c filter/policy/parse_node.c filter/policy/parse_profile.c filter/policy/parse_rule.c filter/policy/parse_marking.c filter/policy/parse_requesters.c filter/policy/compile.c filter/policy/directory.c filter/policy/decide.c filter/policy/explain.c" ;;
    keyring) files="keys/keyring_file.c keys/secret_file.c keys/crypto.c" ;;
    jsonl) files="filter/release/json_read.c filter/release/json_write.c filter/release/codec.c filter/release/boundary.c" ;;
    csv) files="filter/release/csv_row.c filter/release/columns.c filter/release/csv_read.c filter/release/csv_write.c" ;;
    serve) files="filter/serve/decode.c filter/serve/json_env.c" ;;
    *) files="" ;;
    esac
    if [ $rc -eq 0 ]; then
        $nice_cmd "$bin" -runs=0 -print_coverage=1 "${dirs[@]}" >"$build/fuzz/$t.coverage" 2>&1
        line=$(awk -v files="$files" '
            BEGIN { n = split(files, f, " ") }
            /^(UN)?COVERED_FUNC: / {
                split($5, e, "/"); path = $NF; sub(/:[0-9]+$/, "", path)
                for (i = 1; i <= n; i++) if (substr(path, length(path) - length(f[i]) + 1) == f[i]) {
                    cov[i] += e[1]; tot[i] += e[2] }
            }
            END { for (i = 1; i <= n; i++) if (tot[i]) {
                      x = f[i]; sub(/.*\//, "", x)
                      printf "%s%s %d/%d (%d%%)", (i > 1 ? ", " : ""), x, cov[i], tot[i], 100 * cov[i] / tot[i] } }' \
            "$build/fuzz/$t.coverage")
        echo "files: $line"
        covlines+=("$(printf '%-8s %s' "$t" "$line")")
    fi
    results+=("$(printf '%-8s %10s %8s %6s %6s %10s %6s  %s' "$t" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" \
                 "${corp:-?}" "${rss:-?}" "$verdict")")
done

echo
printf '%-8s %10s %8s %6s %6s %10s %6s  %s\n' target execs exec/s cov ft corpus rss_mb result
for r in "${results[@]}"; do echo "$r"; done
if [ ${#covlines[@]} -gt 0 ]; then
    echo
    echo "edges covered per file (working corpus replayed):"
    for r in "${covlines[@]}"; do echo "$r"; done
fi
if [ $status -ne 0 ]; then
    echo
    echo "Reproduce: DMVF_SRC=$root $build/tests/fuzz/fuzz_<target> <artifact>"
    echo "Then copy the artifact to tests/fuzz/regressions/<target>/ (a name saying what it hits)."
fi
exit $status
