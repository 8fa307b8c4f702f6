#!/usr/bin/env bash
# bench/run.sh [--quick] [options] - runs every benchmark scenario side by
# side in one run and prints one table (also written as Markdown).
#
#   bench/run.sh            full run: 1 M records (photo: 50 k), peers on
#                           100 k, 5 runs each, memory at 1 M and 10 M;
#                           writes bench/results.md (about 10-15 minutes)
#   bench/run.sh --quick    smoke test: 100 k records (photo: 5 k), peers on
#                           20 k, 3 runs, memory at 100 k and 1 M; writes
#                           bench/data/results-quick.md (about 1-2 minutes)
#   bench/run.sh --directory  the requester directory alone (bench/dirbench.c):
#                           policy load time and per-request cost with 10,
#                           ~10,000 (inline) and 100,000 (requesters_file)
#                           entries, 5 runs, nice'd (about 2 minutes)
#   bench/run.sh --audit    the audit log alone (bench/auditbench.c): appends/s
#                           and append latency for 1, 4 and 16 threads, with
#                           group commit and serialized, 2 s each, on a log
#                           in the build directory, nice'd (about 15 seconds)
#   bench/run.sh --overlap  I/O overlap alone (bench/overlap.sh): 1-thread
#                           file→file against the slower of the hot loop and
#                           the copy limit, pipe→pipe, the inline run, peak
#                           RSS at two sizes; 3 rounds (about 1-2 minutes)
#   bench/run.sh --serve [servebench options]  `dmvfilter serve` under h2load
#                           (bench/servebench.sh: Release over the Unix socket,
#                           5 s per row, about 1 minute)
#   bench/run.sh --formats  the record formats only (fmtbench: JSON Lines and
#                           CSV through the codec of dmvfilter/format.h, and
#                           protobuf in, CSV out) against Miller and node on
#                           the same files: 100 k records, peers on 20 k,
#                           3 runs, memory at 20 k and 200 k; writes
#                           bench/results-formats.md (about 2-3 minutes)
#
# options: --runs N  --records N  --peer-records N  --build DIR (default
#          build-bench)  --out FILE  --no-memory  --no-peers
#
# Steps: bench/setup.sh (Miller, jq, GNU time, igzip, fast-redact if missing) ->
# Release build (dmvfilter, dmvf-gen, copylimit, refpath, pipeio) -> data
# under bench/data/ (kept while the generator is unchanged) -> one checking
# pass (outputs compared and verified) -> N rounds, each running every
# scenario once, in the same order -> bench/stats.py makes the table.
# Wall time is taken around each command; peak RSS and CPU time by GNU time
# around the measured process only (in a pipe, the filter, not its ends).
# Exit status: 0, or 1 when a step or a scenario failed (its stderr shown).
set -uo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

quick=0 directory=0 audit=0 formats=0 runs= records= peer_records= build=build-bench out= memory=1 peers=1
[ "${1:-}" = --serve ] && { shift; exec "$here/servebench.sh" "$@"; }
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --directory) directory=1 ;;
    --audit) audit=1 ;;
    --formats) formats=1 ;;
    --overlap) shift; exec "$here/overlap.sh" "$@" ;;
    --runs) runs=$2; shift ;;
    --records) records=$2; shift ;;
    --peer-records) peer_records=$2; shift ;;
    --build) build=$2; shift ;;
    --out) out=$2; shift ;;
    --no-memory) memory=0 ;;
    --no-peers) peers=0 ;;
    -h|--help) sed -n '2,42p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
    esac
    shift
done
if [ $formats = 1 ]; then
    runs=${runs:-3} records=${records:-100000} peer_records=${peer_records:-20000}
    mem_small=20000 mem_large=200000 out=${out:-bench/results-formats.md}
elif [ $quick = 1 ]; then
    runs=${runs:-3} records=${records:-100000} peer_records=${peer_records:-20000}
    mem_small=100000 mem_large=1000000 out=${out:-bench/data/results-quick.md}
else
    runs=${runs:-5} records=${records:-1000000} peer_records=${peer_records:-100000}
    mem_small=1000000 mem_large=10000000 out=${out:-bench/results.md}
fi
photo_records=$(( records / 20 > 0 ? records / 20 : 1 ))
[ "$peer_records" -gt "$records" ] && peer_records=$records

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }

# ---- the requester directory alone: no peers, no record data ----
if [ $directory = 1 ]; then
    say "Release build of dirbench in $build"
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDMVF_WERROR=OFF >/dev/null ||
        die "cmake configure failed"
    cmake --build "$build" -j2 --target dirbench >/dev/null || die "build failed"
    nice -n 10 "$build/dirbench" --runs "${runs:-5}" || die "dirbench failed"
    exit 0
fi

# ---- the audit log alone: group commit against one fsync per append ----
if [ $audit = 1 ]; then
    say "Release build of auditbench in $build"
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDMVF_WERROR=OFF >/dev/null ||
        die "cmake configure failed"
    cmake --build "$build" -j2 --target auditbench >/dev/null || die "build failed"
    nice -n 10 "$build/auditbench" --seconds 2 --dir "$build/auditbench.d" || die "auditbench failed"
    exit 0
fi

# ---- setup and build ----
"$here/setup.sh" || die "setup failed"

say "Release build in $build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDMVF_WERROR=OFF >/dev/null ||
    die "cmake configure failed"
cmake --build "$build" -j2 --target dmvfilter_cli dmvf-gen dmvfilter_internal >/dev/null ||
    die "build failed"
if [ $formats = 1 ]; then
    cmake --build "$build" -j2 --target fmtbench copylimit >/dev/null || die "fmtbench build failed"
elif ! cmake --build "$build" -j2 --target copylimit refpath pipeio >/dev/null 2>&1; then
    # bench/CMakeLists.txt not added to the build yet: the same sources by hand
    say "bench targets not in the CMake build; compiling them directly"
    cflags=(-std=c11 -O2 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I. -Iinclude -I"$build/include" -I"$build/gen")
    cc "${cflags[@]}" bench/bio.c bench/copylimit.c -lz -o "$build/copylimit" || die "copylimit"
    cc "${cflags[@]}" bench/bio.c bench/refpath.c "$build/libdmvfilter_internal.a" \
        $(pkg-config --libs libsodium libprotobuf-c yaml-0.1) -lz -lpthread -o "$build/refpath" ||
        die "refpath"
    cc -std=c11 -O2 bench/pipeio.c -o "$build/pipeio" || die "pipeio"
fi
CLI=$build/dmvfilter GEN=$build/dmvf-gen COPY=$build/copylimit REF=$build/refpath PIPE=$build/pipeio
FMT=$build/fmtbench
POL=bench/policy.yaml SPEC=bench/peers/police.json

threads=0
if "$CLI" filter --help 2>&1 | grep -q -- --threads; then threads=1; fi

# ---- data ----
data=bench/data
mkdir -p "$data"
stamp=$(cat bench/gen.c schema/dmv/v1/record.proto filter/wire/schema.c | sha256sum | cut -c1-16)
if [ "$(cat "$data/STAMP" 2>/dev/null)" != "$stamp" ]; then
    rm -f "$data"/*.pb "$data"/*.gz "$data"/*.zst "$data"/*.jsonl "$data"/*.csv
    echo "$stamp" > "$data/STAMP"
fi
gen() { # gen FILE dmvf-gen-args...
    local f=$1; shift
    [ -s "$f" ] && return 0
    say "generating $f"
    "$GEN" "$@" --out "$f.tmp" && mv "$f.tmp" "$f" || die "dmvf-gen $* failed"
}
REC=$data/records-$records.pb
PHOTO=$data/photo-$photo_records.pb
PEER=$data/peers-$peer_records
KR=$data/keyring
gen "$REC" --count "$records" --seed 1
[ $formats = 1 ] || gen "$PHOTO" --count "$photo_records" --seed 2 --photo
if [ $formats = 1 ]; then
    for fmt in jsonl csv; do gen "$data/records-$records.$fmt" --count "$records" --seed 1 --format "$fmt"; done
    for n in $mem_small $mem_large; do gen "$data/records-$n.jsonl" --count "$n" --seed 1 --format jsonl; done
fi
# the peers' records are the first peer_records of $REC (same seed, same index)
for fmt in pb jsonl csv; do gen "$PEER.$fmt" --count "$peer_records" --seed 1 --format "$fmt"; done
if [ $formats = 0 ] && [ ! -s "$REC.gz" ]; then
    say "gzip -6 $REC"
    gzip -6 -c "$REC" > "$REC.gz.tmp" && mv "$REC.gz.tmp" "$REC.gz" || die "gzip failed"
fi
# a gzip file of 1 MiB members (zlib level 1), as dmvfilter's own --gzip
# output is cut: its members inflate on --threads threads
if [ $formats = 0 ] && [ ! -s "$REC.m.gz" ]; then
    say "gzip members of 1 MiB $REC"
    python3 - "$REC" "$REC.m.gz.tmp" <<'EOF' && mv "$REC.m.gz.tmp" "$REC.m.gz" || die "gzip members failed"
import sys, zlib
src, dst = open(sys.argv[1], "rb"), open(sys.argv[2], "wb")
while True:
    b = src.read(1 << 20)
    if not b:
        break
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    dst.write(c.compress(b) + c.flush())
EOF
fi
have_zstd=0
command -v zstd >/dev/null && have_zstd=1
if [ $formats = 0 ] && [ $have_zstd = 1 ] && [ ! -s "$REC.zst" ]; then
    say "zstd -3 $REC"
    zstd -q -3 -c "$REC" > "$REC.zst.tmp" && mv "$REC.zst.tmp" "$REC.zst" || die "zstd failed"
fi
[ -f "$KR" ] || "$CLI" keys init --keyring "$KR" --unsealed >/dev/null || die "keys init failed"
python3 bench/check_formats.py schema/dmv/v1/record.proto "$PEER.pb" "$PEER.jsonl" "$PEER.csv" 2000 >&2 ||
    die "the peers' JSON Lines / CSV do not hold the same records as the protobuf"

size() { stat -c %s "$1"; }
rec_bytes=$(size "$REC") photo_bytes=$([ $formats = 1 ] && echo 0 || size "$PHOTO")

# ---- the requests (bench/policy.yaml) ----
DATE="--date 2026-11-22"
POLICE="--ori NY0300000 --agency-kind local --jurisdiction NY --purpose 1 --query-kind by_license $DATE"
ICE="--ori DCICE0100 --agency-kind federal --tag immigration-enforcement --legal-process administrative_subpoena --query-kind by_license $DATE"
RESEARCH="--ori NYUNIV000 --agency-kind research --purpose 5 --query-kind list $DATE"
MINIMAL="--ori NYBENCH01 --agency-kind commercial --query-kind list $DATE"
T1=""
[ $threads = 1 ] && T1="--threads 1"
F="$CLI filter --policy $POL --keyring $KR --quiet"

# ---- peers' command lines ----
redact_list=$(python3 -c 'import json,sys; print(",".join(json.load(open(sys.argv[1]))["redact"]))' "$SPEC")
MLR_UNSET=$(python3 - "$SPEC" <<'EOF'
import json, sys
spec = json.load(open(sys.argv[1]))
fields = []
for p in spec["redact"]:
    k = p.split(".")
    fields.append("$" + k[0] + "".join('["%s"]' % x for x in k[1:]))
hashes = "".join("; $%s = sha256($%s)" % (k, k) for k in spec["pseudonymize"])
print("unset " + ", ".join(fields) + hashes)
EOF
)
CSV_COLS=$(python3 - "$SPEC" "$PEER.csv" <<'EOF'
import csv, json, sys
red = json.load(open(sys.argv[1]))["redact"]
header = next(csv.reader(open(sys.argv[2], encoding="utf-8", newline="")))
print(",".join(c for c in header if any(c == p or c.startswith(p + ".") for p in red)))
EOF
)
JQ_DEL=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("del(" + ", ".join("."+p for p in s["redact"]) + ")" + "".join(" | .%s = \"[PSEUDONYMIZED]\"" % k for k in s["pseudonymize"]))' "$SPEC")
MLR_HASH=$(python3 -c 'import json,sys; print(" then ".join("put %s" % chr(39) + "$%s = sha256($%s)" % (k, k) + chr(39) for k in json.load(open(sys.argv[1]))["pseudonymize"]))' "$SPEC")

# ---- scenarios ----
# id | group | label | records | bytes | kind (wall, hot, refused) | command | check
# In a command, {T} is GNU time around the measured process and $O the
# output folder (emptied before every run).
work=$data/run
O=$work/out
meta=$work/scenarios.tsv raw=$work/raw.tsv
rm -rf "$work"; mkdir -p "$O"
: > "$meta"; : > "$raw"
ids=()
declare -A CMD CHECK KIND RECS
add() {
    local id=$1 group=$2 label=$3 recs=$4 bytes=$5 kind=$6 cmd=$7 check=${8:-}
    ids+=("$id"); CMD[$id]=$cmd; CHECK[$id]=$check; KIND[$id]=$kind; RECS[$id]=$recs
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$group" "$label" "$recs" "$bytes" "$kind" "$cmd" >> "$meta"
}
if [ $formats = 1 ]; then
# the record formats: the police request through the codec, file to file
FB="$FMT --policy $POL --keyring $KR"
RJ=$data/records-$records.jsonl RC=$data/records-$records.csv
add police dmvfilter "police, protobuf in → protobuf out (codec)" "$records" "$rec_bytes" wall \
    "{T} $FB --from records --to records --in $REC --out \$O/out.pb $POLICE" "pb $records"
add fpc dmvfilter "police, protobuf in → CSV out" "$records" "$rec_bytes" wall \
    "{T} $FB --from records --to csv --in $REC --out \$O/out.csv $POLICE" "csv $records"
add fpj dmvfilter "police, protobuf in → JSON Lines out" "$records" "$rec_bytes" wall \
    "{T} $FB --from records --to jsonl --in $REC --out \$O/out.jsonl $POLICE" "jsonl $records"
add fjj dmvfilter "police, JSON Lines in → JSON Lines out" "$records" "$(size "$RJ")" wall \
    "{T} $FB --from jsonl --to jsonl --in $RJ --out \$O/out.jsonl $POLICE" "jsonl $records"
add fcc dmvfilter "police, CSV in → CSV out" "$records" "$(size "$RC")" wall \
    "{T} $FB --from csv --to csv --in $RC --out \$O/out.csv $POLICE" "csv $records"
add fjjhot dmvfilter "police, JSON Lines → JSON Lines, in memory" "$records" "$(size "$RJ")" hot \
    "{T} $FB --hot --from jsonl --to jsonl --in $RJ $POLICE"
add fcchot dmvfilter "police, CSV → CSV, in memory" "$records" "$(size "$RC")" hot \
    "{T} $FB --hot --from csv --to csv --in $RC $POLICE"
else
add police dmvfilter "police profile, file→file, 1 thread" "$records" "$rec_bytes" wall \
    "{T} $F $T1 --in $REC --out \$O/out.pb $POLICE" "pb $records"
add ice dmvfilter "immigration request, refused" "$records" "$rec_bytes" refused \
    "{T} $F $T1 --in $REC --out \$O/out.pb $ICE" "pb 0"
add research dmvfilter "research profile (generalize + pseudonymize + encrypt)" "$records" "$rec_bytes" wall \
    "{T} $F $T1 --in $REC --out \$O/out.pb $RESEARCH" "pb $records"
add minimal dmvfilter "minimal profile" "$records" "$rec_bytes" wall \
    "{T} $F $T1 --in $REC --out \$O/out.pb $MINIMAL" "pb $records"
add photo dmvfilter "police profile, photo records (~20 KB each)" "$photo_records" "$photo_bytes" wall \
    "{T} $F $T1 --in $PHOTO --out \$O/out.pb $POLICE" "pb $photo_records"
# compressed input and output (filter/cli/compress.c): gzip through ISA-L
# (the default where built) and zlib (DMVFILTER_GZIP=zlib), at the levels
# (ISA-L has four: --gzip-level 0, 1, 2..5, 6..9), and zstd
ISAL=0
"$CLI" --version 2>/dev/null | grep -q 'ISA-L built in' && ISAL=1
add gzin dmvfilter "police profile, gzip input (gzip -6 file)" "$records" "$rec_bytes" wall \
    "{T} $F $T1 --in $REC.gz --out \$O/out.pb $POLICE" "pb $records"
[ $ISAL = 1 ] && add gzinzlib dmvfilter "police profile, gzip input, zlib inflate" "$records" "$rec_bytes" wall \
    "DMVFILTER_GZIP=zlib {T} $F $T1 --in $REC.gz --out \$O/out.pb $POLICE" "pb $records"
add gzinm dmvfilter "police profile, gzip input (1 MiB members)" "$records" "$rec_bytes" wall \
    "{T} $F $T1 --in $REC.m.gz --out \$O/out.pb $POLICE" "pb $records"
if [ $threads = 1 ]; then
    add gzin2t dmvfilter "police profile, gzip input (gzip -6 file), 2 threads" "$records" "$rec_bytes" wall \
        "{T} $F --threads 2 --in $REC.gz --out \$O/out.pb $POLICE" "pb $records"
    add gzinm2t dmvfilter "police profile, gzip input (1 MiB members), 2 threads" "$records" "$rec_bytes" wall \
        "{T} $F --threads 2 --in $REC.m.gz --out \$O/out.pb $POLICE" "pb $records"
    # the minimal profile rewrites little: the inflate is most of the run
    add gzinmmin dmvfilter "minimal profile, gzip input (1 MiB members)" "$records" "$rec_bytes" wall \
        "{T} $F $T1 --in $REC.m.gz --out \$O/out.pb $MINIMAL" "pb $records"
    add gzinmmin2t dmvfilter "minimal profile, gzip input (1 MiB members), 2 threads" "$records" "$rec_bytes" wall \
        "{T} $F --threads 2 --in $REC.m.gz --out \$O/out.pb $MINIMAL" "pb $records"
fi
[ $have_zstd = 1 ] && add zstdin dmvfilter "police profile, zstd input (zstd -3 file)" "$records" "$rec_bytes" wall \
    "{T} $F $T1 --in $REC.zst --out \$O/out.pb $POLICE" "pb $records"
if [ $ISAL = 1 ]; then
    for lv in 0 1 2 6; do
        add gzout$lv dmvfilter "police profile, gzip output, ISA-L, --gzip-level $lv" "$records" "$rec_bytes" wall \
            "{T} $F $T1 --in $REC --out \$O/out.pb.gz --gzip --gzip-level $lv $POLICE" "pbgz $records"
    done
fi
for lv in 1 6; do
    add gzoutzlib$lv dmvfilter "police profile, gzip output, zlib, --gzip-level $lv" "$records" "$rec_bytes" wall \
        "DMVFILTER_GZIP=zlib {T} $F $T1 --in $REC --out \$O/out.pb.gz --gzip --gzip-level $lv $POLICE" "pbgz $records"
done
add zstdout dmvfilter "police profile, zstd output" "$records" "$rec_bytes" wall \
    "{T} $F $T1 --in $REC --out \$O/out.pb.zst --compress zstd $POLICE" "pbzst $records"
if [ $threads = 1 ]; then
    add gzout2t dmvfilter "police profile, gzip output (default level), 2 threads" "$records" "$rec_bytes" wall \
        "{T} $F --threads 2 --in $REC --out \$O/out.pb.gz --gzip $POLICE" "pbgz $records"
fi
if [ $threads = 1 ]; then
    add threads2 dmvfilter "police profile, file→file, 2 threads" "$records" "$rec_bytes" wall \
        "{T} $F --threads 2 --in $REC --out \$O/out.pb $POLICE" "pb $records"
fi
add pipe dmvfilter "police profile, pipe→pipe" "$records" "$rec_bytes" wall \
    "$PIPE src $REC | {T} $F $T1 $POLICE | $PIPE sink"
add copy baseline "copy limit, file→file" "$records" "$rec_bytes" wall \
    "{T} $COPY --quiet --in $REC --out \$O/out.pb" "pb $records"
add copypipe baseline "copy limit, pipe→pipe" "$records" "$rec_bytes" wall \
    "$PIPE src $REC | {T} $COPY --quiet | $PIPE sink"
add copygzin baseline "copy limit, gzip input" "$records" "$rec_bytes" wall \
    "{T} $COPY --quiet --in $REC.gz --out \$O/out.pb" "pb $records"
# the ceiling of gzip input with one inflating thread: ISA-L's own igzip
# (Debian's isal package) inflating the same file to /dev/null, no rewrite
command -v igzip >/dev/null && add inflate baseline "ISA-L inflate alone (igzip -d -c > /dev/null)" \
    "$records" "$rec_bytes" wall "{T} igzip -d -c $REC.gz > /dev/null"
add copygzout baseline "copy limit, gzip output" "$records" "$rec_bytes" wall \
    "{T} $COPY --quiet --in $REC --out \$O/out.pb.gz --gzip" "pbgz $records"
add copyphoto baseline "copy limit, photo records" "$photo_records" "$photo_bytes" wall \
    "{T} $COPY --quiet --in $PHOTO --out \$O/out.pb" "pb $photo_records"
add ref baseline "protobuf-c reference path (refpath), police, file→file" "$records" "$rec_bytes" wall \
    "{T} $REF --quiet --policy $POL --keyring $KR --in $REC --out \$O/out.pb $POLICE" "pb $records"
add rw baseline "wire rewriter in-process (refpath --rewriter), police, file→file" "$records" "$rec_bytes" wall \
    "{T} $REF --rewriter --quiet --policy $POL --keyring $KR --in $REC --out \$O/out.pb $POLICE" "pb $records"
add refhot baseline "protobuf-c reference path, hot loop only (in memory)" "$records" "$rec_bytes" hot \
    "{T} $REF --hot --policy $POL --keyring $KR --in $REC $POLICE"
add rwhot baseline "wire rewriter, hot loop only (in memory)" "$records" "$rec_bytes" hot \
    "{T} $REF --hot --rewriter --policy $POL --keyring $KR --in $REC $POLICE"
fi
if [ $peers = 1 ]; then
    add mlrjson peer "Miller, JSON Lines (put unset … + sha256)" "$peer_records" "$(size "$PEER.jsonl")" wall \
        "{T} mlr --ijsonl --ojsonl put '$MLR_UNSET' $PEER.jsonl > \$O/out.jsonl" "jsonl $peer_records"
    add mlrcsv peer "Miller, CSV (cut -x + sha256)" "$peer_records" "$(size "$PEER.csv")" wall \
        "{T} mlr --icsv --ocsv cut -x -f '$CSV_COLS' then $MLR_HASH $PEER.csv > \$O/out.csv" "csv $peer_records"
    [ $formats = 1 ] || add jq peer "jq, JSON Lines (del + replacement)" "$peer_records" "$(size "$PEER.jsonl")" wall \
        "{T} jq -c '$JQ_DEL' $PEER.jsonl > \$O/out.jsonl" "jsonl $peer_records"
    add node peer "node + fast-redact, JSON Lines, streaming" "$peer_records" "$(size "$PEER.jsonl")" wall \
        "{T} node bench/peers/redact.js $SPEC $PEER.jsonl \$O/out.jsonl" "jsonl $peer_records"
fi

# ---- running one ----
rss_file=$work/rss err_file=$work/stderr TAB=$'\t'
TIME="/usr/bin/time -f %M\\ %U\\ %S -o $rss_file"
count_frames() { # count_frames FILE [gz|zst]: frames in a delimited stream
    local n
    case ${2:-} in
    gz) n=$(zcat "$1" | "$COPY" 2>&1 >/dev/null) ;;
    zst) n=$(zstd -qdc "$1" | "$COPY" 2>&1 >/dev/null) ;;
    *) n=$("$COPY" --in "$1" 2>&1 >/dev/null) ;;
    esac
    echo "$n" | sed -n 's/^copylimit: \([0-9]*\) frames.*/\1/p'
}
check() { # check ID: the output of the run just made is right
    local what=${CHECK[$1]} fmt n got
    [ -z "$what" ] && return 0
    fmt=${what% *} n=${what#* }
    case $fmt in
    pb) got=$( [ -s "$O/out.pb" ] && count_frames "$O/out.pb" || echo 0) ;;
    pbgz) got=$(count_frames "$O/out.pb.gz" gz) ;;
    pbzst) got=$(count_frames "$O/out.pb.zst" zst) ;;
    jsonl) python3 bench/peers/verify.py "$SPEC" jsonl "$O/out.jsonl" "$n" || return 1; got=$n ;;
    csv) python3 bench/peers/verify.py "$SPEC" csv "$O/out.csv" "$n" || return 1; got=$n ;;
    esac
    [ "$got" = "$n" ] || { echo "bench/run.sh: $1: $got records out, expected $n" >&2; return 1; }
}
run_one() { # run_one ID ROUND
    local id=$1 round=$2 cmd rc t0 t1 secs rss
    cmd=${CMD[$id]//\{T\}/$TIME}
    rm -rf "$O"; mkdir -p "$O"; rm -f "$rss_file"
    sync
    t0=$EPOCHREALTIME
    O=$O bash -o pipefail -c "$cmd" 2> "$err_file"
    rc=$?
    t1=$EPOCHREALTIME
    local want=0
    [ "${KIND[$id]}" = refused ] && want=3
    if [ $rc -ne $want ]; then
        echo "bench/run.sh: $id failed (exit $rc, expected $want): $cmd" >&2
        cat "$err_file" >&2
        exit 1
    fi
    secs=$(python3 -c "print(f'{$t1 - $t0:.6f}')")
    if [ "${KIND[$id]}" = hot ]; then
        secs=$(sed -n 's/.*, \([0-9.]*\) seconds$/\1/p' "$err_file")
        [ -n "$secs" ] || { echo "bench/run.sh: $id: no hot-loop time on stderr" >&2; cat "$err_file" >&2; exit 1; }
    fi
    rss=$(tail -n 1 "$rss_file" 2>/dev/null || echo "0 0 0")
    if [ "$round" = 0 ]; then
        check "$id" || { cat "$err_file" >&2; exit 1; }
    else
        printf '%s\t%s\t%s\t%s\n' "$id" "$round" "$secs" "${rss// /$TAB}" >> "$raw"
    fi
    printf '   %-10s round %s  %8.3f s  %s KB\n' "$id" "$round" "$secs" "${rss%% *}" >&2
}

# ---- the checking pass: outputs verified, and the three paths agree ----
if [ $formats = 1 ]; then
    say "checking: protobuf, JSON Lines and CSV in give the same release (police, $peer_records records)"
    for in in "records $PEER.pb" "jsonl $PEER.jsonl" "csv $PEER.csv"; do
        set -- $in
        $FMT --policy $POL --keyring "$KR" --from "$1" --to records --in "$2" --out "$work/from-$1.pb" $POLICE \
            2>/dev/null || die "fmtbench --from $1 failed"
    done
    cmp "$work/from-records.pb" "$work/from-jsonl.pb" && cmp "$work/from-records.pb" "$work/from-csv.pb" ||
        die "protobuf, JSON Lines and CSV input release different records"
    "$CLI" filter --policy $POL --keyring "$KR" --quiet $T1 --in "$PEER.pb" --out "$work/cli.pb" $POLICE &&
        cmp "$work/cli.pb" "$work/from-records.pb" || die "the codec and dmvfilter filter release different records"
    rm -f "$work"/*.pb
else
say "checking: CLI, reference path and rewriter give the same bytes (police, $peer_records records)"
$F $T1 --in "$PEER.pb" --out "$work/cli.pb" $POLICE &&
"$REF" --quiet --policy $POL --keyring "$KR" --in "$PEER.pb" --out "$work/ref.pb" $POLICE &&
"$REF" --rewriter --quiet --policy $POL --keyring "$KR" --in "$PEER.pb" --out "$work/rw.pb" $POLICE ||
    die "a checking run failed"
cmp "$work/cli.pb" "$work/ref.pb" && cmp "$work/cli.pb" "$work/rw.pb" ||
    die "the CLI, the reference path and the rewriter disagree"
rm -f "$work"/*.pb
fi
say "checking: one run of every scenario, its output verified"
for id in "${ids[@]}"; do run_one "$id" 0; done

# ---- the rounds ----
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$EPOCHREALTIME
for ((r = 1; r <= runs; r++)); do
    say "round $r of $runs"
    for id in "${ids[@]}"; do run_one "$id" "$r"; done
done
rm -rf "$O"

# ---- memory: the same request over 1 M and 10 M records, generated into a pipe ----
mem=$work/memory.tsv
: > "$mem"
if [ $memory = 1 ]; then
    for n in $mem_small $mem_large; do
        rm -f "$rss_file"
        t0=$EPOCHREALTIME
        if [ $formats = 1 ]; then
            say "memory: $n records (fmtbench, JSON Lines in and out)"
            bash -o pipefail -c "$TIME $FMT --policy $POL --keyring $KR --from jsonl --to jsonl \
                --in $data/records-$n.jsonl --out /dev/null $POLICE" 2> "$err_file" ||
                { cat "$err_file" >&2; die "memory run failed"; }
        else
        say "memory: $n records (dmvf-gen | dmvfilter | pipeio sink)"
        bash -o pipefail -c "$GEN --count $n --seed 3 | $TIME $F $T1 $POLICE | $PIPE sink" 2> "$err_file" ||
            { cat "$err_file" >&2; die "memory run failed"; }
        fi
        t1=$EPOCHREALTIME
        printf '%s\t%s\t%s\n' "$n" "$(cut -d' ' -f1 "$rss_file")" "$(python3 -c "print(f'{$t1 - $t0:.3f}')")" >> "$mem"
    done
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the machine and the versions ----
env=$work/env.tsv
{
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'mode\t%s\n' "$([ $formats = 1 ] && echo formats || { [ $quick = 1 ] && echo quick || echo full; })"
    printf 'runs\t%s\n' "$runs"
    printf 'cpu\t%s\n' "$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    printf 'cores\t%s\n' "$(nproc)"
    printf 'kernel\t%s\n' "$(uname -sr)"
    printf 'memory\t%s\n' "$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
    printf 'load\t%s at the start, %s at the end (1, 5, 15 min)\n' "$load_start" "$load_end"
    printf 'rounds\t%s s\n' "$(python3 -c "print(f'{$EPOCHREALTIME - $started:.0f}')")"
    printf 'compiler\t%s\n' "$(cc --version | head -1)"
    printf 'build\t%s (CMAKE_BUILD_TYPE=Release)\n' "$build"
    printf 'commit\t%s%s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
        "$([ -n "$(git status --porcelain 2>/dev/null)" ] && echo ' (with uncommitted changes)')"
    printf 'threads\t%s\n' "$([ $threads = 1 ] && echo 'dmvfilter filter --threads: yes' || echo 'dmvfilter filter has no --threads: 2-thread scenario skipped')"
    printf 'peers\tmlr %s, %s, node %s, fast-redact %s\n' "$(mlr --version | awk '{print $2}')" "$(jq --version)" \
        "$(node --version)" "$(node -p "require('./bench/node_modules/fast-redact/package.json').version")"
    printf 'records\t%s (%s bytes, %.1f bytes a record); photo %s; peers %s\n' "$records" "$rec_bytes" \
        "$(python3 -c "print($rec_bytes / $records)")" "$photo_records" "$peer_records"
} > "$env"

python3 bench/stats.py --scenarios "$meta" --raw "$raw" --memory "$mem" --env "$env" --out "$out" \
    $([ $formats = 1 ] && echo --formats) ||
    die "stats failed"
say "table written to $out"
