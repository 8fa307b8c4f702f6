#!/usr/bin/env bash
# writeahead.sh - nothing leaves before it is accounted for, on every kind of
# output: a pipe (`| cat`), stdout redirected to a file, a FIFO (`--out
# FIFO`) and a named file. Issue 11, items 1, 2 and 4:
#
#   notice queue that cannot be written     records and framed: exit 74, the
#     (a directory, a file at mode 0644)    requester receives nothing, the log
#                                           holds the REQUEST entry and no
#                                           RELEASE (the report: incomplete,
#                                           0 records); framed: the requests
#                                           before it leave whole, it does not
#   malformed last record, gzip input       exit 65, nothing received, no
#     cut by 4 bytes                        RELEASE entry (now true: nothing left)
#   a record with no or an empty record_id  exit 65 naming the record, nothing
#     under notify_subject                  received, a RELEASE entry that says
#                                           why and releases nothing
#   --spool-dir                             where the release waits; nothing stays
#   the output closes part way (EPIPE)      exit 74; the RELEASE entry, written
#                                           before a byte left, counts the whole
#                                           release: never less than what left
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-writeahead.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE
. "$DMVF_SRC/tests/cli_lib.sh"
umask 077

"$cli" keys init --keyring "$T/kr" --unsealed >/dev/null 2>&1 || { bad "keys init"; exit 1; }
"$gen" --count 5000 --seed 41 --out "$T/rec.bin" 2>/dev/null || { bad "generator"; exit 1; }
"$gen" --count 1 --seed 42 --out "$T/one.bin" 2>/dev/null || { bad "generator"; exit 1; }
# the example policy, its immigration rule (notify_subject) and police rule
# without their record limits, so that a request releases many records
# through the pipeline (the rules with limits are the example policy's own)
python3 - "$DMVF_SRC/examples/policy.yaml" "$T/policy.yaml" <<'EOF'
import sys
p = open(sys.argv[1]).read()
for old, new in (("    max_records: 1\n    notify_subject: true\n", "    notify_subject: true\n"),
                 ("    max_records: 50\n", "")):
    assert p.count(old) == 1, old
    p = p.replace(old, new)
open(sys.argv[2], "w").write(p)
EOF
# records IN OUT OP: OUT is IN changed: "cut-last" (the last record's last
# byte missing, its length prefix intact: malformed), "noid K" (record K
# without its record_id), "emptyid K" (record K's record_id empty)
records() {
    py - "$@" <<'EOF'
import sys
from delimited import *
src, dst, op = sys.argv[1:4]
recs = split(open(src, "rb").read())[0]
if op == "cut-last":
    # a truncated last record: its prefix claims one byte more than follows
    out = join(recs[:-1]) + varint(len(recs[-1])) + recs[-1][:-1]
else:
    k = int(sys.argv[4])
    recs[k] = (ld(1, b"") if op == "emptyid" else b"") + without_field(recs[k], 1)
    out = join(recs)
open(dst, "wb").write(out)
EOF
}
# framed_noid IN OUT K: OUT is the framed stream IN with record frame K's
# record_id removed
framed_noid() {
    py - "$@" <<'EOF'
import sys
from delimited import *
k, out = int(sys.argv[3]), []
for kind, body in frames(open(sys.argv[1], "rb").read()):
    if kind == "record":
        if k == 0:
            body = without_field(body, 1)
        k -= 1
    out.append(ld({"request": 1, "record": 2, "trailer": 3}[kind], body))
open(sys.argv[2], "wb").write(join(out))
EOF
}

ice=(--ori DCICE0100 --legal-process court_order --query-kind by_license --date 2026-11-22)
police=(--ori NY0300000 --purpose 1 --query-kind by_license --date 2026-11-22)
# entries DIR KIND REQUEST_ID: how many entries of that kind the request has
entries() {
    "$cli" audit query "$1" --kind "$2" --request-id "$3" 2>/dev/null | grep -c . || true
}
# incomplete LOG N: the transparency report of LOG counts N incomplete
# requests and no record released
incomplete() {
    "$cli" audit report "$1" --from 2020-01-01 --to 2099-12-31 --format json --out "$T/r.json" 2>/dev/null &&
        python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
sys.exit(not (t["incomplete"] == int(sys.argv[2]) and t["records_released"] == 0))' "$T/r.json" "$2"
}
# the output kinds: each runs CMD... with its output going to OUT (what the
# requester received), stderr to $T/err, and leaves the exit status in $rc
to_pipe() { local out=$1; shift; "$@" 2>"$T/err" | cat >"$out"; rc=${PIPESTATUS[0]}; }
to_file() { local out=$1; shift; "$@" >"$out" 2>"$T/err"; rc=$?; }
to_fifo() {
    local out=$1; shift
    rm -f "$T/fifo" && mkfifo "$T/fifo"
    timeout 60 cat "$T/fifo" >"$out" &
    local reader=$!
    "$@" --out "$T/fifo" >/dev/null 2>"$T/err"
    rc=$?
    wait "$reader"
}
to_named() { local out=$1; shift; rm -f "$out"; "$@" --out "$out" >/dev/null 2>"$T/err"; rc=$?; }
KINDS="to_pipe to_file to_fifo to_named"

# nothing WANT DESC ID CMD...: on every kind of output, CMD (with
# --request-id ID.KIND added) exits WANT and the requester receives nothing;
# the audit log $T/log-ID holds the REQUEST entry of each run
nothing() {
    local want=$1 desc=$2 id=$3; shift 3
    for kind in $KINDS; do
        $kind "$T/got" "$@" --audit "$T/log-$id" --request-id "$id.$kind"
        if [ "$rc" -eq "$want" ]; then ok "$desc, $kind: exit $rc"; else
            bad "$desc, $kind: exit $rc, want $want"; sed 's/^/      /' "$T/err" | head -3; fi
        if [ "$kind" = to_named ]; then
            check "$desc, $kind: no output file" [ ! -e "$T/got" ]
        else
            check "$desc, $kind: nothing received ($(stat -c %s "$T/got") bytes)" [ ! -s "$T/got" ]
        fi
        check "$desc, $kind: the REQUEST entry is in the log" [ "$(entries "$T/log-$id" request "$id.$kind")" = 1 ]
        cp "$T/err" "$T/err.$id.$kind"
    done
}

F=(--policy "$T/policy.yaml" --keyring "$T/kr" --quiet)
FL=(--policy "$DMVF_SRC/examples/policy.yaml" --keyring "$T/kr" --quiet)

# ---- a control: what a good run releases, the same on every kind ----
for kind in $KINDS; do
    : >"$T/queue.ok" && chmod 600 "$T/queue.ok"
    $kind "$T/ok.$kind" "$cli" filter "${F[@]}" "${ice[@]}" --in "$T/rec.bin" --notices "$T/queue.ok" \
        --audit "$T/log-ok" --request-id "ok.$kind"
    check "control, $kind: released (exit $rc)" [ "$rc" -eq 0 ]
    check "control, $kind: the release entry is in the log" [ "$(entries "$T/log-ok" release "ok.$kind")" = 1 ]
    check "control, $kind: 5000 notices queued" [ "$(grep -c '"type":"notice"' "$T/queue.ok")" -eq 5000 ]
done
check "control: the release is not empty" [ -s "$T/ok.to_named" ]
for kind in to_pipe to_file to_fifo; do
    check "control: $kind receives the named file's bytes" cmp -s "$T/ok.to_named" "$T/ok.$kind"
done

# ---- the spool: where it lives, and that it leaves nothing behind ----
mkdir "$T/sp"
"$cli" filter "${F[@]}" "${ice[@]}" --in "$T/rec.bin" --notices "$T/queue.ok" --spool-dir "$T/sp" \
    2>"$T/err" | cat >"$T/sp.out"
check "--spool-dir: the pipe receives the named file's bytes" cmp -s "$T/ok.to_named" "$T/sp.out"
check "--spool-dir: nothing left in it" [ -z "$(ls -A "$T/sp")" ]
expect_rc 74 "--spool-dir that does not exist" "$cli" filter "${F[@]}" "${police[@]}" \
    --in "$T/one.bin" --spool-dir "$T/nodir"
check "--spool-dir: the message says the spool cannot be made" grep -q "cannot create its spool in" "$T/err"
check "--spool-dir: nothing on stdout" [ ! -s "$T/stdout" ]

# ---- item 1: a notice queue that cannot be written ----
mkdir "$T/queue.dir"
: >"$T/queue.644" && chmod 644 "$T/queue.644"
nothing 74 "notices: the queue is a directory" qdir \
    "$cli" filter "${F[@]}" "${ice[@]}" --in "$T/rec.bin" --notices "$T/queue.dir"
check "notices (directory): the message says nothing was released" \
    grep -q "notice queue .*; nothing released" "$T/err.qdir.to_pipe"
nothing 74 "notices: the queue is mode 0644" q644 \
    "$cli" filter "${F[@]}" "${ice[@]}" --in "$T/rec.bin" --notices "$T/queue.644"
check "notices (0644): the queue is not written" [ ! -s "$T/queue.644" ]
nothing 74 "notices, a rule with a record limit (output held to the end)" qlim \
    "$cli" filter "${FL[@]}" "${ice[@]}" --in "$T/one.bin" --notices "$T/queue.644"
nothing 74 "notices, gzip" qgz \
    "$cli" filter "${F[@]}" "${ice[@]}" --gzip --in "$T/rec.bin" --notices "$T/queue.dir"
for id in qdir q644 qlim qgz; do
    check "notices ($id): no RELEASE entry: the log says nothing left" \
        [ -z "$("$cli" audit query "$T/log-$id" --kind release 2>/dev/null)" ]
done
check "notices: the report counts 4 incomplete requests and 0 records released" incomplete "$T/log-q644" 4

# framed: a police request, then a court-ordered immigration request whose
# notice cannot be queued: the first leaves whole, the second not at all
"$gen" --framed --count 3 --seed 43 --request-id pol --ori NY0300000 --purpose 1 \
    --query-kind by_license --date 20261122 --out "$T/pol.fr" 2>/dev/null
"$gen" --framed --count 3 --seed 44 --request-id ice --ori DCICE0100 --legal-process court_order \
    --query-kind by_license --date 20261122 --out "$T/ice.fr" 2>/dev/null
cat "$T/pol.fr" "$T/ice.fr" >"$T/police.fr"
FR=(--policy "$T/policy.yaml" --keyring "$T/kr" --quiet --format framed --date 2026-11-22)
"$cli" filter "${FR[@]}" --in "$T/pol.fr" --out "$T/pol.out" 2>/dev/null
plen=$(($(stat -c %s "$T/pol.out")))
for kind in to_pipe to_file to_fifo; do
    $kind "$T/got" "$cli" filter "${FR[@]}" --in "$T/ice.fr" --notices "$T/queue.dir" \
        --audit "$T/log-fr"
    check "framed notices, $kind: exit 74 ($rc)" [ "$rc" -eq 74 ]
    check "framed notices, $kind: nothing received" [ ! -s "$T/got" ]
    $kind "$T/got" "$cli" filter "${FR[@]}" --in "$T/police.fr" --notices "$T/queue.dir" \
        --audit "$T/log-fr2"
    check "framed, a good request then one that fails, $kind: exit 74 ($rc)" [ "$rc" -eq 74 ]
    # the police request's frames, then its trailer: what a run of it alone gives, but the seal
    check "framed, $kind: the first request left whole, the second not at all" py -c '
import sys
from delimited import *
got, ref = split(open(sys.argv[1], "rb").read())[0], split(open(sys.argv[2], "rb").read())[0]
sys.exit(not (got == ref[:-1] and got[-1][0] == 0x1a and ref[-1][0] == 0x22))' "$T/got" "$T/pol.out"
    check "framed, $kind: the message says the first request left, with its trailer" \
        grep -q "1 requests left whole, each with its signed trailer" "$T/err"
done
check "framed: the failed request has a REQUEST entry and no RELEASE entry" \
    [ "$(entries "$T/log-fr" request ice)" = 3 -a "$(entries "$T/log-fr" release ice)" = 0 ]
check "framed: the request that left has its RELEASE entry" [ "$(entries "$T/log-fr2" release pol)" = 3 ]
check "framed: and the one that did not, none" [ "$(entries "$T/log-fr2" release ice)" = 0 ]

# ---- item 2: malformed input after good records ----
records "$T/rec.bin" "$T/cutlast.bin" cut-last
nothing 65 "a malformed last record after 4999 good ones" bad \
    "$cli" filter "${F[@]}" "${police[@]}" --in "$T/cutlast.bin" --threads 2
check "malformed last record: the message names record 4999" grep -q "(record 4999)" "$T/err.bad.to_pipe"
size=$(stat -c %s "$T/rec.bin")
gzip -c "$T/rec.bin" >"$T/rec.gz"
head -c $(($(stat -c %s "$T/rec.gz") - 4)) "$T/rec.gz" >"$T/cut.gz"
nothing 65 "a gzip input missing its last 4 bytes" cutgz \
    "$cli" filter "${F[@]}" "${police[@]}" --in "$T/cut.gz"
head -c 4500 "$T/rec.bin" >"$T/ten.bin"   # about ten records, the last one cut short
nothing 65 "a malformed last record, a rule with a record limit (output held to the end)" badlim \
    "$cli" filter "${FL[@]}" "${police[@]}" --in "$T/ten.bin"
for id in bad cutgz; do
    check "$id: no RELEASE entry" [ -z "$("$cli" audit query "$T/log-$id" --kind release 2>/dev/null)" ]
    check "$id: the report says 4 incomplete, 0 records released (true: nothing left)" incomplete "$T/log-$id" 4
done

# ---- item 4: a subject that cannot be notified ----
records "$T/rec.bin" "$T/noid.bin" noid 1234
records "$T/rec.bin" "$T/emptyid.bin" emptyid 4321
: >"$T/queue.4" && chmod 600 "$T/queue.4"
nothing 65 "a record with no record_id under notify_subject" noid \
    "$cli" filter "${F[@]}" "${ice[@]}" --in "$T/noid.bin" --notices "$T/queue.4"
check "no record_id: the message names record 1234 and record_id" \
    grep -q "(record 1234).*record_id" "$T/err.noid.to_pipe"
nothing 65 "a record with an empty record_id under notify_subject" emptyid \
    "$cli" filter "${F[@]}" "${ice[@]}" --in "$T/emptyid.bin" --notices "$T/queue.4" --threads 3
check "empty record_id: the message names record 4321" grep -q "(record 4321)" "$T/err.emptyid.to_file"
nothing 65 "no record_id, --drop-malformed: still refused, not dropped" noiddrop \
    "$cli" filter "${F[@]}" "${ice[@]}" --in "$T/noid.bin" --notices "$T/queue.4" --drop-malformed
check "no record_id: no notice queued" [ ! -s "$T/queue.4" ]
for id in noid emptyid noiddrop; do
    "$cli" audit query "$T/log-$id" --kind release >"$T/q.json" 2>/dev/null
    check "$id: each run's RELEASE entry says why, and that nothing was released" \
        [ "$(grep -c 'has no record_id and the rule notifies subjects; nothing released' "$T/q.json")" = 4 ]
    check "$id: and counts no record out" ! grep -q '"records_out": *[1-9]' "$T/q.json"
done
# a police request (no notify_subject) releases the same input
expect_rc 0 "no record_id, a rule that does not notify: released" \
    "$cli" filter "${F[@]}" "${police[@]}" --in "$T/noid.bin" --out "$T/noid.pol"
# framed
"$gen" --framed --count 5 --seed 45 --request-id icen --ori DCICE0100 --legal-process court_order \
    --query-kind by_license --date 20261122 --out "$T/icen.fr" 2>/dev/null
framed_noid "$T/icen.fr" "$T/icen.noid.fr" 2
for kind in to_pipe to_fifo; do
    $kind "$T/got" "$cli" filter "${FR[@]}" --in "$T/icen.noid.fr" --notices "$T/queue.4" \
        --audit "$T/log-frn"
    check "framed, no record_id, $kind: exit 65 ($rc)" [ "$rc" -eq 65 ]
    check "framed, no record_id, $kind: nothing received" [ ! -s "$T/got" ]
    check "framed, no record_id, $kind: the message says record_id" grep -q "record_id" "$T/err"
done
check "framed, no record_id: the RELEASE entries say why" \
    [ "$("$cli" audit query "$T/log-frn" --kind release 2>/dev/null | grep -c 'record 2 has no record_id')" = 2 ]

# ---- the output closes part way: the log never says less left than what left ----
"$gen" --count 60000 --seed 46 --out "$T/big.bin" 2>/dev/null
for threads in 1 2; do
    "$cli" filter "${F[@]}" "${police[@]}" --in "$T/big.bin" --threads $threads --audit "$T/log-pipe" \
        --request-id "epipe$threads" 2>"$T/err" | head -c 1000 >/dev/null
    rc=${PIPESTATUS[0]}
    check "a reader that closes after 1000 bytes, --threads $threads: exit 74 ($rc)" [ "$rc" -eq 74 ]
    check "--threads $threads: the message says how much had left" grep -q "bytes had left" "$T/err"
    check "--threads $threads: the RELEASE entry was written before any byte left" \
        [ "$(entries "$T/log-pipe" release "epipe$threads")" = 1 ]
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
