# tests/cli_lib.sh - the checks shared by tests/cli/*.sh (sourced, not a test).
# The script sets T (its temp dir) first; it ends by printing "$pass passed, $fail failed"
# and failing when $fail is not 0.
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

# flip_byte FILE OFFSET: complement the byte at OFFSET in place, so the file
# changes whatever the byte was (writing a fixed value leaves it the same when
# the byte, in a signature or MAC, happens to be that value)
flip_byte() {
    python3 - "$1" "$2" <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    if len(b) != 1:
        sys.exit("flip_byte: %s has no byte at offset %d" % (path, off))
    f.seek(off)
    f.write(bytes([b[0] ^ 0xFF]))
PY
}

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

# faultshim_build: tests/faultshim.c compiled into $T/faultshim.so; PRE is what
# LD_PRELOAD takes for $cli (the sanitizer's runtime first under ASan, whose
# library is in $asan). Exits the script: 0 with a SKIP when $cli is no ELF
# executable (a wrapper such as scripts/valgrind.sh cannot take a preloaded
# library), 1 with a FAIL when the shim does not compile
faultshim_build() {
    if [ "$(head -c 4 "$cli" | od -An -tx1 | tr -d ' \n')" != 7f454c46 ]; then
        echo "ok   - # SKIP $cli is not an ELF executable (a wrapper?): preloading is not possible"
        exit 0
    fi
    if ! cc -shared -fPIC -O1 -o "$T/faultshim.so" "$DMVF_SRC/tests/faultshim.c" -ldl 2>"$T/cc.err"; then
        cat "$T/cc.err"
        bad "compile tests/faultshim.c"
        exit 1
    fi
    asan=$(ldd "$cli" 2>/dev/null | awk '/libasan/ {print $3; exit}')
    PRE=$T/faultshim.so
    [ -n "$asan" ] && PRE="$asan:$T/faultshim.so"
}

# shim VAR=VALUE... -- CMD... : CMD with tests/faultshim.c preloaded
# (faultshim_build first)
shim() {
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    env "${envs[@]}" LD_PRELOAD="$PRE" "$@"
}

# alloc_torture NAME REF LAST RC CLI-ARGS... : `$cli CLI-ARGS... --out FILE`
# with its Nth allocation failing (the shim, faultshim_build first; not under
# ASan), N in turn. A counted run must give REF. LAST 0: every N among the
# first 40 and the last 80, every 11th in between (policy parsing, which
# test_alloc_fail covers N by N; DMVF_FAULTS_FULL=1 takes every N); LAST K:
# every N of the last K, and 2 past the end, where the run succeeds. Each
# run gives REF, or fails cleanly: no output or temp file, a message that
# says memory, and exit RC ("": any but 70, internal error, or a signal);
# a run over 60 s (a hang) is bad too.
# One check: no run misbehaved, some failed cleanly (with LAST K, some
# succeeded too).
alloc_torture() {
    local name=$1 ref=$2 last=$3 want=$4; shift 4
    local d=$T/torture
    rm -rf "$d"; mkdir -p "$d"
    shim DMVF_FAULT_MALLOC_COUNT="$d/count" -- "$cli" "$@" --out "$d/t.out" >/dev/null 2>&1
    if ! cmp -s "$d/t.out" "$ref"; then bad "$name: counted run differs"; return; fi
    rm -f "$d/t.out"
    local total first=1 end
    total=$(cat "$d/count" 2>/dev/null || echo 0)
    if [ "$total" -lt 20 ]; then bad "$name: only $total allocations counted"; return; fi
    end=$total
    if [ "$last" -gt 0 ]; then
        first=$((total > last ? total - last : 1)) end=$((total + 2))
    fi
    local n rc okruns=0 failruns=0 badruns=0 runs=0
    for ((n = first; n <= end; n++)); do
        if [ "$last" -eq 0 ] && [ -z "${DMVF_FAULTS_FULL:-}" ] && [ "$n" -gt 40 ] &&
            [ "$n" -lt $((total - 80)) ] && [ $((n % 11)) -ne 0 ]; then
            continue
        fi
        runs=$((runs + 1))
        # timeout outside the shim: only $cli's allocations are counted
        timeout 60 env DMVF_FAULT_MALLOC=$n LD_PRELOAD="$PRE" "$cli" "$@" --out "$d/t.out" >/dev/null 2>"$T/err"
        rc=$?
        if [ "$rc" -eq 0 ]; then
            if cmp -s "$d/t.out" "$ref"; then okruns=$((okruns + 1)); else
                badruns=$((badruns + 1)); echo "      N=$n: exit 0 with different output"; fi
        elif [ "$rc" -ge 128 ] || [ "$rc" -eq 70 ] || [ "$rc" -eq 124 ] || { [ -n "$want" ] && [ "$rc" -ne "$want" ]; }; then
            badruns=$((badruns + 1)); echo "      N=$n: exit $rc: $(head -2 "$T/err")"
        elif [ -e "$d/t.out" ] || ls -A "$d" | grep -q '\.tmp\.'; then
            badruns=$((badruns + 1)); echo "      N=$n: exit $rc and an output file was left"
        elif ! grep -qiE "out of memory|cannot allocate memory" "$T/err"; then
            badruns=$((badruns + 1)); echo "      N=$n: exit $rc, the message does not say memory: $(head -2 "$T/err")"
        else
            failruns=$((failruns + 1))
        fi
        rm -f "$d/t.out"
    done
    echo "      $name: $total allocations, $runs failed in turn: $okruns runs succeeded, $failruns failed cleanly, $badruns bad"
    if [ "$badruns" -eq 0 ] && [ "$failruns" -gt 0 ] && { [ "$last" -eq 0 ] || [ "$okruns" -gt 0 ]; }; then
        ok "$name: every allocation failing in turn: clean failure or the same bytes"
    else
        bad "$name: $badruns runs misbehaved under allocation failure"
    fi
}

# The `dmvfilter serve` tests (tests/cli/serve*.sh): they set cli (the CLI), T,
# a keyring in $T/kr and an array pids (killed by their cleanup).
# serve_prelude NAME: the temp dir T (dmvf-cli-NAME.*), the array pids of
# services started, and a trap that kills them and removes T on exit
serve_prelude() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-$1.XXXXXX") || exit 1
    pids=()
    trap 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
    unset DMVFILTER_PASSPHRASE
}
# serve_policy FILE UID: the example policy with one client, message-switch,
# the Unix-socket peer UID, for the ORIs beginning NY or DC
serve_policy() {
    cp "$DMVF_SRC/examples/policy.yaml" "$1"
    printf 'clients:\n  - name: message-switch\n    unix_uid: %s\n    ori_prefixes: [NY, DC]\n' "$2" >>"$1"
}
# serve_start NAME POLICY [flags]: a service on $T/NAME.sock (stderr in
# $T/NAME.log, judging as of 2026-11-22), its pid in $pid and in pids; returns
# once /healthz says it is ready (at most 30 s), 1 (and a FAIL) when it never does.
# The array serve_env, when set, is the service's extra environment (VAR=VALUE
# each: a preloaded library for the service alone, not for curl)
serve_start() {
    local name=$1 pol=$2; shift 2
    env ${serve_env[@]+"${serve_env[@]}"} "$cli" serve --policy "$pol" --keyring "$T/kr" \
        --listen "unix:$T/$name.sock" --date 2026-11-22 "$@" 2>"$T/$name.log" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1 600); do
        curl -sf --unix-socket "$T/$name.sock" http://x/healthz >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    bad "service $name did not become ready: $(tail -3 "$T/$name.log")"
    return 1
}

# tls_ca DIR CN: a P-256 CA, DIR/ca.key and DIR/ca.pem; tls_cert DIR NAME CN:
# DIR/NAME.key and DIR/NAME.pem signed by it (openssl, valid two days), for the
# TLS listener's tests and bench/tlsbench.sh
tls_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/ca.key" -out "$1/ca.pem" \
        -days 2 -subj "/CN=$2" 2>/dev/null
}
tls_cert() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/$2.key" -out "$1/$2.csr" \
        -subj "/CN=$3" 2>/dev/null &&
        openssl x509 -req -in "$1/$2.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" -CAcreateserial \
            -out "$1/$2.pem" -days 2 2>/dev/null
}

# review_policy FILE PUB: the review tests' policy (tests/cli/review.sh,
# framed_review.sh): requests tagged immigration-enforcement held for review
# (the spool "spool", the reviewer's public key PUB, both beside FILE), other
# federal ones released, on one profile; the requesters DHSICE001 (tagged)
# and DHSFED001, one pseudonym scope
review_policy() {
    cat >"$1" <<EOF
version: 1
profiles:
  federal:
    default: redact
    fields:
      record_id: pseudonymize
      person.family_name: release
      person.given_name: release
      person.birth_date: {generalize: year}
      license.number: release
      vehicles.*: release
review:
  spool: spool
  public_key: $2
requesters:     # one agreement, two ORIs: one pseudonym scope
  - {ori: DHSICE001, name: ICE ERO, kind: federal, tags: [immigration-enforcement], scope: dhs}
  - {ori: DHSFED001, name: DHS Office of Operations, kind: federal, scope: dhs}
rules:
  - name: immigration held for review
    match: {tags: [immigration-enforcement]}
    decision: review
    profile: federal
  - name: federal
    match: {agency_kind: [federal]}
    decision: release
    profile: federal
EOF
}
