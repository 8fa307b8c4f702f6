#!/usr/bin/env bash
# bench/tlsbench.sh [options] - `dmvfilter serve` over TLS on TCP, with a
# client certificate, against the same client over the Unix socket.
#
# h2load 1.52 (Debian 12) and wrk cannot present a client certificate, which
# the service requires on TCP; curl can, and `curl --parallel` keeps N
# connections alive over many transfers. So both rows use one curl process
# (--parallel --parallel-max N, one config line per call, the binary
# single-record Release body of bench/servebench.sh): requests/s from the
# wall time of the whole run, p50/p99/p99.9 from curl's per-transfer
# time_total, the service's CPU per call from /proc/PID/stat. The Unix row
# is the same client without TLS: the difference between the rows is TLS's
# cost as this client sees it; curl itself (one thread) bounds both rates,
# which are therefore below what h2load shows over the Unix socket.
#
# options: --build DIR (default build-bench, as servebench.sh builds it)
#          --calls N (default 20000)  --clients N (connections, default 16)
#          --threads N (service workers, default 2)  --nice N (default 10)
# Needs bench/servebench.sh to have run once in DIR (its policy, keyring and
# bodies under DIR/servebench.d). Exit status 0, or 1 when a step failed or
# a call was not answered 200.
set -euo pipefail
build=build-bench calls=20000 clients=16 threads=2 nice=10
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift ;;
    --calls) calls=$2; shift ;;
    --clients) clients=$2; shift ;;
    --threads) threads=$2; shift ;;
    --nice) nice=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "tlsbench: unknown option $1" >&2; exit 1 ;;
    esac
    shift
done
die() { echo "tlsbench: $*" >&2; exit 1; }
cli=$build/dmvfilter S=$build/servebench.d
[ -x "$cli" ] && [ -f "$S/body1.pb" ] && [ -f "$S/p.yaml" ] || die "run bench/servebench.sh --build $build first"
W=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-tlsbench.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$W"' EXIT

. "$(dirname "${BASH_SOURCE[0]}")/../tests/cli_lib.sh"   # tls_ca, tls_cert
tls_ca "$W" bench-ca || die "openssl: the CA"
tls_cert "$W" srv localhost && tls_cert "$W" cl client || die "openssl: the certificates"
fp=$(openssl x509 -in "$W/cl.pem" -outform der | sha256sum | cut -d' ' -f1)
cp "$S/p.yaml" "$W/p.yaml"
printf '  - name: tls-bench\n    tls_fingerprint: "sha256:%s"\n    ori_prefixes: [NY]\n' "$fp" >>"$W/p.yaml"
cp "$S/kr" "$W/kr"
chmod 600 "$W/kr"
port=$((20000 + RANDOM % 20000))

# row NAME LISTEN CURL-ARGS...: one service, one curl run of $calls calls
row() {
    local name=$1 listen=$2; shift 2
    nice -n "$nice" "$cli" serve --policy "$W/p.yaml" --keyring "$W/kr" --listen "$listen" --quiet \
        --threads "$threads" --tls-cert "$W/srv.pem" --tls-key "$W/srv.key" --client-ca "$W/ca.pem" \
        2>"$W/serve.log" &
    pid=$!
    local i
    for i in $(seq 1 200); do
        curl -sf "$@" -o /dev/null "$U/healthz" && break
        kill -0 "$pid" 2>/dev/null || die "the service stopped: $(tail -3 "$W/serve.log")"
        sleep 0.05
    done
    awk -v n="$calls" -v u="$U/dmv.v1.ReleaseService/Release" \
        'BEGIN { for (i = 0; i < n; i++) printf "url = \"%s\"\noutput = \"/dev/null\"\n", u }' >"$W/cfg"
    local t0 c0 t1 c1
    c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    t0=$(date +%s.%N)
    curl -s --no-progress-meter "$@" --parallel --parallel-max "$clients" -K "$W/cfg" -H 'content-type: application/proto' \
        --data-binary @"$S/body1.pb" -w '%{http_code} %{time_total} %{num_connects}\n' >"$W/res" ||
        die "curl failed"
    t1=$(date +%s.%N)
    c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill -TERM "$pid"
    wait "$pid" || true
    pid=
    python3 - "$W/res" "$name" "$t0" "$t1" "$c0" "$c1" "$(getconf CLK_TCK)" <<'PY'
import sys
res, name, t0, t1, c0, c1, hz = sys.argv[1:8]
rows = [l.split() for l in open(res)]
t = sorted(float(r[1]) * 1e3 for r in rows)
bad = sum(1 for r in rows if r[0] != "200")
conns = sum(int(r[2]) for r in rows)
q = lambda p: t[min(len(t) - 1, int(len(t) * p))]
wall = float(t1) - float(t0)
cpu = (int(c1) - int(c0)) / int(hz) / len(rows) * 1e6
print("| %s | %d | %s | %.3f | %.3f | %.3f | %.0f | %d | %d |"
      % (name, conns, f"{len(rows) / wall:,.0f}", q(0.5), q(0.99), q(0.999), cpu, len(rows), bad))
sys.exit(1 if bad else 0)
PY
}

echo "dmvfilter serve, $(nproc) cores; curl $(curl --version | head -1 | cut -d' ' -f2) --parallel" \
    "--parallel-max $clients, $calls single-record Release calls a row, service --threads $threads," \
    "nice -n $nice; load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
echo
echo "| transport | connections | requests/s | p50 ms | p99 ms | p99.9 ms | service CPU µs/call | calls | not 200 |"
echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
U=http://x
row "Unix socket" "unix:$W/s.sock" --unix-socket "$W/s.sock"
U=https://localhost:$port
row "TLS, client certificate" "tcp:127.0.0.1:$port" --resolve "localhost:$port:127.0.0.1" \
    --cacert "$W/ca.pem" --cert "$W/cl.pem" --key "$W/cl.key"
