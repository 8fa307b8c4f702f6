#!/usr/bin/env bash
# bench/servebench.sh [options] - `dmvfilter serve` under load: Release calls
# over the Unix socket with keep-alive, driven by h2load (nghttp2-client)
# over HTTP/1.1 with a prepared binary body; requests/s and the latency
# percentiles p50, p99, p99.9 and the slowest call from h2load's per-request log, and the
# service's CPU time per call (user + system, /proc/PID/stat).
#
# Scenarios, each --seconds long (default 5) on a fresh service:
#   healthz        GET /healthz: the HTTP layer alone (no decode, no rewrite)
#   1 record       Release of one record, no audit log
#   1 record+audit the same with --audit (group commit; the calls run on the
#                  service's call pool, a thread per call in flight)
#   50 records     Release of 50 records, no audit log
#   50 rec+audit   the same with --audit
# TLS over TCP is bench/tlsbench.sh's: h2load 1.52 (Debian 12) cannot present a client
# certificate, which the service requires on TCP; curl can.
#
# options: --build DIR (default build-bench; configured as a Release build
#          when it has no CMakeCache.txt, else built as configured)  --seconds N  --clients N (h2load connections, default 16)
#          --threads N (the service's HTTP workers, default 2)
#          --audit-clients N (h2load connections with audit, default 24)
#          --nice N (default 10: the machine is shared)  --out FILE (default
#          bench/data/results-serve.md)
# Exit status: 0, or 1 when a step failed or a call was not answered 200.
set -uo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

build=build-bench seconds=5 clients=16 threads=2 aclients=24 nice=10 out=bench/data/results-serve.md
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --clients) clients=$2; shift ;;
    --threads) threads=$2; shift ;;
    --audit-clients) aclients=$2; shift ;;
    --nice) nice=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/servebench.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
    esac
    shift
done
say() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench/servebench.sh: %s\n' "$*" >&2; exit 1; }
for t in h2load curl protoc python3; do command -v $t >/dev/null || die "$t is not installed"; done

say "build of dmvfilter and dmvf-gen in $build"
# a new build directory is a Release build; an existing one keeps its configuration
[ -f "$build/CMakeCache.txt" ] ||
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDMVF_WERROR=OFF >/dev/null || die "cmake configure failed"
cmake --build "$build" -j2 --target dmvfilter_cli dmvf-gen >/dev/null || die "build failed"
cli=$build/dmvfilter
W=$build/servebench.d
rm -rf "$W" && mkdir -p "$W" || die "cannot make $W"
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null' EXIT

# A policy whose one client is this uid, a keyring, and the bodies.
cp examples/policy.yaml "$W/p.yaml"
printf 'clients:\n  - name: bench\n    unix_uid: %s\n    ori_prefixes: [NY]\n' "$(id -u)" >>"$W/p.yaml"
"$cli" keys init --keyring "$W/kr" --unsealed >/dev/null 2>&1 || die "keys init failed"
printf '%s' 'request_id: "b1" ori: "NY0300000" purpose: 1 query_kind: QUERY_KIND_BY_LICENSE' |
    protoc -Ischema --encode dmv.v1.Request dmv/v1/request.proto >"$W/req.pb" || die "protoc --encode failed"
for n in 1 50; do
    "$build/dmvf-gen" --count $n --seed 7 --out "$W/recs$n.bin" || die "dmvf-gen failed"
    # ReleaseRequest: field 1 the request; field 2 each record (dmvf-gen's
    # records are already varint-length-delimited: the tag goes before each)
    python3 - "$W/req.pb" "$W/recs$n.bin" "$W/body$n.pb" <<'PY' || die "body $n"
import sys
req, recs = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
assert len(req) < 128
out, i = bytearray(b"\x0a" + bytes([len(req)]) + req), 0
while i < len(recs):
    j, n, s = i, 0, 0
    while True:
        b = recs[j]; j += 1; n |= (b & 0x7f) << s; s += 7
        if not b & 0x80: break
    out += b"\x12" + recs[i:j + n]; i = j + n
open(sys.argv[3], "wb").write(out)
PY
done

serve() { # serve THREADS [flags]: a fresh service on $W/s.sock, ready when /healthz says so
    local t=$1; shift
    rm -f "$W/s.sock"
    nice -n "$nice" "$cli" serve --policy "$W/p.yaml" --keyring "$W/kr" --listen "unix:$W/s.sock" --quiet \
        --threads "$t" "$@" 2>"$W/serve.log" &
    pid=$!
    for _ in $(seq 1 300); do
        curl -sf --unix-socket "$W/s.sock" http://x/healthz >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    die "the service did not become ready: $(tail -3 "$W/serve.log")"
}
cputicks() { awk '{print $14 + $15}' "/proc/$pid/stat"; } # the service's user + system CPU
stop() { kill -TERM "$pid"; wait "$pid" || die "the service exited $?"; pid=; }

# Checked before it is timed: each body is released, all its records.
serve 2
for n in 1 50; do
    curl -s --unix-socket "$W/s.sock" -H 'Content-Type: application/proto' --data-binary @"$W/body$n.pb" \
        -o "$W/reply$n.pb" -w '%{http_code}' http://x/dmv.v1.ReleaseService/Release >"$W/st" || die "curl"
    [ "$(cat "$W/st")" = 200 ] || die "body $n: status $(cat "$W/st")"
    protoc -Ischema --decode dmv.v1.ReleaseResponse dmv/v1/service.proto <"$W/reply$n.pb" >"$W/reply$n.txt" ||
        die "reply $n does not decode"
    grep -q "records_out: $n\$" "$W/reply$n.txt" || die "body $n: not $n records released"
done
stop

rows=()
# run NAME CLIENTS THREADS BODY|- [serve flags]: one h2load run on a fresh service
run() {
    local name=$1 c=$2 t=$3 body=$4 log=$W/h2load.log; shift 4
    serve "$t" "$@"
    local req=(-d "$body" -H 'content-type: application/proto' http://localhost/dmv.v1.ReleaseService/Release)
    [ "$body" = - ] && req=(http://localhost/healthz)
    # h2load's timing mode (-D) can hang at its end over HTTP/1.1 (nghttp2
    # issue 2250, fixed after 1.52): a count instead, sized by a first run
    # (which also warms the service up), and a timeout around each
    local n=$((c * 50)) rps cpu0 cpu1
    for pass in warm-up measured; do
        [ "$pass" = measured ] && say "$name: h2load --h1 -c $c -n $n (~$seconds s), service --threads $t $*"
        rm -f "$log"
        cpu0=$(cputicks)
        timeout $((seconds * 4 + 10)) nice -n "$nice" h2load --h1 -B "unix:$W/s.sock" -c "$c" -t 1 -n "$n" \
            --log-file "$log" "${req[@]}" >"$W/h2load.out" 2>&1 || die "h2load failed: $(tail -3 "$W/h2load.out")"
        rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$W/h2load.out")
        cpu1=$(cputicks)
        [ "$pass" = measured ] || n=$(python3 -c "print(max($c * 100, int(float('${rps:-0}') * $seconds)))")
    done
    stop
    rows+=("$(python3 - "$log" "$name" "$c" "$t" "$rps" $((cpu1 - cpu0)) "$(getconf CLK_TCK)" <<'PY'
import sys
log, name, c, t, rps, ticks, hz = sys.argv[1:]
d, bad = [], 0
for line in open(log):
    f = line.split("\t")
    if f[1] != "200": bad += 1
    d.append(int(f[2]))
d.sort()
pct = lambda p: d[min(len(d) - 1, int(len(d) * p / 100))] / 1000
cpu = int(ticks) / int(hz) / len(d) * 1e6
print(f"| {name} | {c} | {t} | {float(rps):,.0f} | {pct(50):.3f} | {pct(99):.3f} | {pct(99.9):.3f} | {d[-1] / 1000:.1f} | {cpu:.0f} | {len(d)} | {bad} |")
PY
)") || die "no latencies in $log"
    case ${rows[-1]} in *"| 0 |") ;; *) die "$name: calls not answered 200: ${rows[-1]}" ;; esac
}
run "GET /healthz" "$clients" "$threads" -
run "Release, 1 record" "$clients" "$threads" "$W/body1.pb"
run "Release, 1 record, audit" "$aclients" "$threads" "$W/body1.pb" --audit "$W/audit1"
run "Release, 50 records" "$clients" "$threads" "$W/body50.pb"
run "Release, 50 records, audit" "$aclients" "$threads" "$W/body50.pb" --audit "$W/audit50"
for a in audit1 audit50; do
    "$cli" audit verify "$W/$a" --keyring "$W/kr" >/dev/null 2>&1 || die "the $a log does not verify"
done

mkdir -p "$(dirname "$out")"
{
    echo "dmvfilter serve, $(nproc) cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)),"
    echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; $seconds s per row, nice -n $nice;"
    echo "h2load $(h2load --version | sed 's/.*nghttp2\///') --h1 -t 1 over unix:$W/s.sock, keep-alive"
    echo
    echo "| scenario | connections | HTTP threads | requests/s | p50 ms | p99 ms | p99.9 ms | max ms | service CPU µs/call | calls | not 200 |"
    echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    printf '%s\n' "${rows[@]}"
} | tee "$out"
say "written to $out"
