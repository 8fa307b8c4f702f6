#!/usr/bin/env bash
# bench/overlap.sh [--records N] [--runs R] [--build DIR] - the I/O overlap
# figures of one run (bench/README.md, "I/O overlap"): a 1-thread police
# request file→file against the slower of its two parts, the hot loop
# alone (refpath --hot --rewriter) and the copy limit (copylimit), all in
# the same rounds; the same request pipe→pipe and inline (DMVF_NO_OVERLAP:
# reading, rewriting and writing one after the other, as before); peak RSS
# at N/10 and N records. Defaults: 1 M records, 3 rounds (about 1-2
# minutes once the data exist). Prints medians and ratios; exit 1 when a
# command failed.
set -uo pipefail
export LC_ALL=C
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.."

records=1000000 runs=3 build=build-bench
while [ $# -gt 0 ]; do
    case $1 in
    --records) records=$2; shift ;;
    --runs) runs=$2; shift ;;
    --build) build=$2; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/overlap.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
    esac
    shift
done
say() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench/overlap.sh: %s\n' "$*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is needed for peak RSS"

say "Release build in $build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDMVF_WERROR=OFF >/dev/null || die "cmake configure failed"
cmake --build "$build" -j2 --target dmvfilter_cli dmvf-gen copylimit refpath pipeio >/dev/null || die "build failed"
CLI=$build/dmvfilter GEN=$build/dmvf-gen COPY=$build/copylimit REF=$build/refpath PIPE=$build/pipeio

data=bench/data/overlap
mkdir -p "$data"
stamp=$(cat bench/gen.c schema/dmv/v1/record.proto filter/wire/schema.c | sha256sum | cut -c1-16)
if [ "$(cat "$data/STAMP" 2>/dev/null)" != "$stamp" ]; then
    rm -f "$data"/*.pb
    echo "$stamp" > "$data/STAMP"
fi
small=$(( records / 10 > 0 ? records / 10 : 1 ))
for n in "$small" "$records"; do
    f=$data/records-$n.pb
    [ -s "$f" ] && continue
    say "generating $f"
    "$GEN" --count "$n" --seed 1 --out "$f.tmp" && mv "$f.tmp" "$f" || die "dmvf-gen failed"
done
KR=$data/keyring
[ -f "$KR" ] || "$CLI" keys init --keyring "$KR" --unsealed >/dev/null || die "keys init failed"
REC=$data/records-$records.pb
O=$(mktemp -d "$build/overlap.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$O"' EXIT

POLICE="--ori NY0300000 --agency-kind local --jurisdiction NY --purpose 1 --query-kind by_license --date 2026-11-22"
F="$CLI filter --policy bench/policy.yaml --keyring $KR --quiet --threads 1"

# wall NAME CMD...: runs CMD (a shell line), appends its wall seconds to $O/NAME
wall() {
    local name=$1; shift
    local t0 t1
    t0=$(date +%s.%N)
    bash -c "$*" 2>"$O/err" || { cat "$O/err" >&2; die "$name failed"; }
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{printf "%.3f\n", $2 - $1}' >> "$O/$name"
}
say "$runs rounds on $records records ($(stat -c %s "$REC") bytes)"
for r in $(seq "$runs"); do
    wall police "$F --in $REC --out $O/out.pb $POLICE"
    wall copy "$COPY --quiet --in $REC --out $O/copy.pb"
    "$REF" --hot --rewriter --policy bench/policy.yaml --keyring "$KR" --in "$REC" $POLICE 2>"$O/err" >/dev/null ||
        { cat "$O/err" >&2; die "refpath failed"; }
    sed -n 's/.* \([0-9.]*\) seconds$/\1/p' "$O/err" >> "$O/hot"
    wall pipe "$PIPE src $REC | $F $POLICE | $PIPE sink"
    wall inline "DMVF_NO_OVERLAP=1 $F --in $REC --out $O/out.pb $POLICE"
done
DMVF_NO_OVERLAP=1 $F --in "$data/records-$small.pb" --out "$O/inline.pb" $POLICE &&
    $F --in "$data/records-$small.pb" --out "$O/overlap.pb" $POLICE && cmp -s "$O/inline.pb" "$O/overlap.pb" ||
    die "overlapped and inline output differ"
rss() { # rss N: peak RSS (KiB) of the 1-thread police request on N records
    /usr/bin/time -f %M -o "$O/rss" $F --in "$data/records-$1.pb" --out "$O/out.pb" $POLICE || die "rss run failed"
    cat "$O/rss"
}
rss_small=$(rss "$small") rss_large=$(rss "$records")

med() { sort -n "$O/$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
police=$(med police) copy=$(med copy) hot=$(med hot) pipe=$(med pipe) inline=$(med inline)
awk -v p="$police" -v c="$copy" -v h="$hot" -v q="$pipe" -v i="$inline" -v n="$records" -v runs="$runs" \
    -v rs="$rss_small" -v rl="$rss_large" -v ns="$small" 'BEGIN {
    slow = c > h ? c : h
    printf "| row | median s (%d runs) | records/s |\n|---|---|---|\n", runs
    printf "| police, file→file, 1 thread | %.2f | %.0f |\n", p, n / p
    printf "| police, pipe→pipe, 1 thread | %.2f | %.0f |\n", q, n / q
    printf "| police, file→file, 1 thread, inline (DMVF_NO_OVERLAP) | %.2f | %.0f |\n", i, n / i
    printf "| hot loop (refpath --hot --rewriter) | %.2f | %.0f |\n", h, n / h
    printf "| copy limit (copylimit, file→file) | %.2f | %.0f |\n", c, n / c
    printf "\nfile→file / slower of hot loop and copy limit: %.2fx (target <= 1.3)\n", p / slow
    printf "pipe→pipe / file→file: %.2fx (target <= 1.2)\n", q / p
    printf "inline / overlapped: %.2fx\n", i / p
    printf "peak RSS: %d KiB at %d records, %d KiB at %d records (%.2fx)\n", rs, ns, rl, n, rl / rs
}'
