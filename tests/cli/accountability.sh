#!/usr/bin/env bash
# accountability.sh - `dmvfilter filter` with an audit log, notices and a
# review spool, end to end:
#
#   released request        REQUEST then RELEASE entry; the log verifies
#   refused request         REQUEST entry (decision deny), nothing released
#   policy requires a log   no log given: exit 78, nothing released
#   log cannot be written   exit 74, no output file
#   a crash at every step   killed before its Nth durable step (write, fsync,
#                           rename, link: tests/faultshim.c) for every N: a
#                           release on disk always has its RELEASE entry in
#                           the log, never the reverse; the log still verifies
#   ... with stdout as the  the same to a pipe: a byte the reader received
#       output              always has the RELEASE entry in the log before it
#                           (records, and framed: a request's records and
#                           trailer only after its own RELEASE entry)
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
policy=$DMVF_SRC/examples/policy.yaml
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-acct.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE
. "$DMVF_SRC/tests/cli_lib.sh"

"$cli" keys init --keyring "$T/kr" --unsealed >/dev/null 2>&1 || { bad "keys init"; exit 1; }
"$gen" --count 20 --seed 5 --out "$T/rec.bin" 2>/dev/null || { bad "generator"; exit 1; }
police=(--ori NY0300000 --agency-kind local --jurisdiction NY --purpose 1 --query-kind by_license
        --date 2026-11-22)
ice=(--ori DCICE0100 --agency-kind federal --tag immigration-enforcement
     --legal-process administrative_subpoena --query-kind by_license --date 2026-11-22)
filter() { "$cli" filter --policy "$policy" --keyring "$T/kr" --in "$T/rec.bin" --quiet "$@"; }
# entries DIR KIND REQUEST_ID: how many entries of that kind the request has
entries() {
    "$cli" audit query "$1" --kind "$2" --request-id "$3" 2>/dev/null | grep -c . || true
}

# ---- a released and a refused request ----
expect_rc 0 "police request with --audit" filter --audit "$T/log" --out "$T/p.bin" \
    "${police[@]}" --request-id p1
check "released records" test -s "$T/p.bin"
check "the request entry is in the log" [ "$(entries "$T/log" request p1)" = 1 ]
check "the release entry is in the log" [ "$(entries "$T/log" release p1)" = 1 ]
"$cli" audit query "$T/log" --kind release --request-id p1 >"$T/q.json" 2>/dev/null
check "the release entry counts 20 records out" grep -q '"records_out": *20' "$T/q.json"
check "and per-path field counts" grep -q 'person.family_name' "$T/q.json"
expect_rc 3 "immigration request without a court order" filter --audit "$T/log" --out "$T/i.bin" \
    "${ice[@]}" --request-id i1
check "refusal logged as deny" bash -c "'$cli' audit query '$T/log' --request-id i1 | grep -q '\"decision\": *\"deny\"'"
check "nothing released" [ ! -s "$T/i.bin" ]
expect_rc 0 "the log verifies" "$cli" audit verify "$T/log" --keyring "$T/kr"
"$cli" keys export-public --keyring "$T/kr" --out "$T/pub" >/dev/null 2>&1
expect_rc 0 "the log verifies with the public key alone" "$cli" audit verify "$T/log" --public-key "$T/pub"

# ---- fail closed ----
sed 's/^rules:/audit:\n  required: true\nrules:/' "$policy" >"$T/required.yaml"
expect_rc 78 "the policy requires a log and none is given" \
    "$cli" filter --policy "$T/required.yaml" --keyring "$T/kr" --in "$T/rec.bin" --out "$T/r.bin" "${police[@]}"
check "no output" [ ! -e "$T/r.bin" ]
mkdir -p "$T/ro" && chmod 500 "$T/ro"
if [ "$(id -u)" != 0 ]; then
    expect_rc 74 "an audit log that cannot be created" filter --audit "$T/ro/log" --out "$T/w.bin" "${police[@]}"
    check "no output" [ ! -e "$T/w.bin" ]
fi
printf 'not a log' >"$T/notlog"
expect_rc 74 "an audit path that is a file" filter --audit "$T/notlog" --out "$T/w2.bin" "${police[@]}"
check "no output" [ ! -e "$T/w2.bin" ]

# ---- a crash between any two steps ----
if ! file -L "$cli" 2>/dev/null | grep -q ELF; then
    echo "skip: $cli is not an ELF executable: the crash test needs LD_PRELOAD"
else
    cc -shared -fPIC -O1 -o "$T/shim.so" "$DMVF_SRC/tests/faultshim.c" -ldl || { bad "compile faultshim"; exit 1; }
    asan=$(ldd "$cli" 2>/dev/null | awk '/libasan/ {print $3; exit}')
    PRE=$T/shim.so
    [ -n "$asan" ] && PRE="$asan:$T/shim.so"
    # kill_loop PREFIX LOG RUN REACHED WHOLE: "RUN N" (its exit status in $rc),
    # killed before its Nth durable step, for N = 1, 2, ... until a run
    # completes; REACHED says a release reached the output (then the log must
    # hold its RELEASE entry), WHOLE that a completed run's output is whole.
    # Leaves kill_crashes, kill_reverse and kill_lost.
    kill_loop() {
        local pre=$1 log=$2 run=$3 reached=$4 whole=$5 n=1 rel
        kill_crashes=0 kill_reverse=0 kill_lost=0
        local done_run=0
        while [ $n -le 200 ]; do
            $run $n
            rel=$(entries "$log" release crash$n)
            if $reached && [ "$rel" != 1 ]; then kill_reverse=$((kill_reverse + 1)); fi
            if [ $rc -eq 137 ]; then
                kill_crashes=$((kill_crashes + 1))
            elif [ $rc -eq 0 ]; then
                $whole || kill_lost=$((kill_lost + 1))
                done_run=1
                break
            else
                bad "${pre}crash step $n: exit $rc: $(head -2 "$T/cerr")"
            fi
            # a crash never leaves a log that does not verify or cannot be appended to
            if ! "$cli" audit verify "$log" --keyring "$T/kr" >/dev/null 2>"$T/verr"; then
                bad "${pre}after a crash at step $n the log does not verify: $(head -2 "$T/verr")"
            fi
            n=$((n + 1))
        done
        check "${pre}a run completes once no step is killed ($kill_crashes crash points tried)" [ $done_run = 1 ]
    }
    killed() { # killed N LOG OUTPUT...: the filter killed before its Nth durable step
        local n=$1 log=$2
        shift 2
        env DMVF_FAULT_KILL_AT=$n LD_PRELOAD="$PRE" "$cli" filter --policy "$policy" --keyring "$T/kr" \
            --in "$T/rec.bin" --quiet --audit "$log" "$@" "${police[@]}" --request-id crash$n --threads 1
    }
    to_named() { rm -f "$T/c.bin"; killed "$1" "$T/clog" --out "$T/c.bin" >/dev/null 2>"$T/cerr"; rc=$?; }
    to_pipe() { killed "$1" "$T/slog" 2>"$T/cerr" | cat >"$T/s.out"; rc=${PIPESTATUS[0]}; }

    kill_loop "" "$T/clog" to_named "test -e $T/c.bin" "test -e $T/c.bin"
    check "a release never exists without its log entry" [ $kill_reverse = 0 ]
    check "a completed run leaves its release" [ $kill_lost = 0 ]
    check "crash points were tried" [ $kill_crashes -ge 5 ]

    # stdout as the output, a pipe: what the reader received
    filter --out "$T/ref.out" "${police[@]}" --request-id ref 2>/dev/null
    kill_loop "stdout: " "$T/slog" to_pipe "test -s $T/s.out" "cmp -s $T/s.out $T/ref.out"
    check "stdout: the reader never receives a byte before the RELEASE entry is in the log" [ $kill_reverse = 0 ]
    check "stdout: a completed run sends the whole release" [ $kill_lost = 0 ]
    check "stdout: crash points were tried" [ $kill_crashes -ge 5 ]

    # framed, to a pipe: two requests of a rule without a record limit (its
    # records are not held by the library), each larger than one read; the
    # reader has a request's records only when the log has its RELEASE entry
    "$gen" --framed --count 6000 --requests 2 --request-id fk --seed 7 --ori NYUNIV000 --purpose 5 \
        --query-kind list --date 20261122 --out "$T/fr.bin" 2>/dev/null
    n=1 crashes=0 reverse=0 done_run=0
    while [ $n -le 200 ]; do
        env DMVF_FAULT_KILL_AT=$n LD_PRELOAD="$PRE" "$cli" filter --policy "$policy" --keyring "$T/kr" \
            --in "$T/fr.bin" --quiet --audit "$T/flog$n" --format framed --date 2026-11-22 \
            2>"$T/cerr" | cat >"$T/f.out"
        rc=${PIPESTATUS[0]}
        # the number of record frames received, and of RELEASE entries in the log
        got=$(py -c '
import sys
from delimited import frames
print(sum(k == "record" for k, b in frames(open(sys.argv[1], "rb").read())))' "$T/f.out")
        rels=$("$cli" audit query "$T/flog$n" --kind release 2>/dev/null | grep -c . || true)
        # each request releases 3000 records: more per RELEASE entry is a reversal
        if [ "$got" -gt $((rels * 3000)) ]; then reverse=$((reverse + 1)); fi
        if [ $rc -eq 137 ]; then
            crashes=$((crashes + 1))
        elif [ $rc -eq 0 ]; then
            done_run=1
            break
        else
            bad "framed stdout: crash step $n: exit $rc: $(head -2 "$T/cerr")"
        fi
        n=$((n + 1))
    done
    check "framed stdout: a run completes once no step is killed ($crashes crash points tried)" [ $done_run = 1 ]
    check "framed stdout: no request's records reach the reader before its RELEASE entry" [ $reverse = 0 ]
    check "framed stdout: crash points were tried" [ $crashes -ge 5 ]
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
