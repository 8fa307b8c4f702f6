#!/usr/bin/env bash
# examples/demo.sh BUILD_DIR - the bundled example, end to end.
#
# Makes a keyring and sample records (bench's generator), checks the example
# policy, then filters the same records for several requesters and shows
# what each one receives. A request names its ORI; who that is, the policy's
# requester directory says. Everything is written under out/demo/.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cli=$build/dmvfilter
gen=$build/dmvf-gen
out=out/demo
rm -rf "$out" && mkdir -p "$out"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "keyring (unsealed, mode 0600) and 4 sample records, one of them a marked license"
"$cli" keys init --keyring "$out/keyring" --unsealed || exit
"$cli" keys list --keyring "$out/keyring"
"$gen" --count 4 --seed 11 --marked 0.5 --out "$out/records.bin" --stats || exit
"$gen" --count 1 --seed 13 --marked 1 --out "$out/one.bin" 2>/dev/null || exit

say "what the DMV holds (first record)"
scripts/pbdump --first 1 "$out/records.bin"

say "policy check examples/policy.yaml"
"$cli" policy check examples/policy.yaml || exit

say "what the requester directory says of an ORI (policy explain, an ORI alone)"
"$cli" policy explain examples/policy.yaml --ori DCICE0100 | sed -n 3,5p

say "reviewers' key pair (X25519) for the review queue; the keyring's public key for verifiers"
"$cli" review keygen --secret-key "$out/reviewers.key" --public-key "$out/reviewers.pub" || exit
"$cli" keys export-public --keyring "$out/keyring" --out "$out/dmv.pub" || exit
cat "$out/dmv.pub"

run() { # run NAME FLAGS...
    local name=$1; shift
    say "$name"
    local in=${IN:-$out/records.bin}
    echo "\$ dmvfilter filter --policy examples/policy.yaml --keyring $out/keyring --audit $out/audit --in $in --out $out/$name.bin $*"
    "$cli" filter --policy examples/policy.yaml --keyring "$out/keyring" --audit "$out/audit" \
        --in "$in" --out "$out/$name.bin" "$@"
    local rc=$?
    echo "exit status $rc; $(stat -c %s "$out/$name.bin" 2>/dev/null || echo 0) bytes released"
    [ -s "$out/$name.bin" ] && scripts/pbdump --first 1 "$out/$name.bin"
    return 0
}

# (--date: the DMV's own replay, so that the demo's dates and due dates are fixed;
# a request is otherwise judged on the DMV's clock, today, UTC)
run in-state-police --ori NY0300000 --purpose 1 --query-kind by_license \
    --request-id demo-police-1 --date 2026-11-22
say "an ICE ORI that sends no tag: the directory says it is immigration-enforcement"
run immigration-no-court-order --ori DCICE0100 --legal-process administrative_subpoena \
    --query-kind by_license --request-id demo-ice-1 --date 2026-11-22
run researcher --ori NYRES0001 --purpose 5 --query-kind list \
    --request-id demo-research-1 --date 2026-11-22
say "a request that claims a kind the directory contradicts: refused before any rule"
run claims-internal --ori NY0300000 --agency-kind internal --jurisdiction NY \
    --query-kind by_license --request-id demo-claim-1 --date 2026-11-22

IN=$out/one.bin run immigration-court-order --ori DCICE0100 --legal-process court_order \
    --legal-reference "SDNY 26-mc-104" --query-kind by_license --request-id demo-ice-2 --date 2026-11-20
IN=$out/one.bin run foreign-agency --ori CA0000001 --query-kind by_license \
    --request-id demo-foreign-1 --date 2026-11-22

say "subject notices due (the court-ordered immigration request; 3 business days, Thanksgiving skipped)"
"$cli" notices due --policy examples/policy.yaml --today 2026-11-24 | sed -n 1,3p

say "the review queue: the foreign agency's request, sealed to the reviewers' key"
"$cli" review list --spool "$out/review" --public-key "$out/dmv.pub"
id=$("$cli" review list --spool "$out/review" --public-key "$out/dmv.pub" --json |
    sed -n 's/.*"id": *"\([0-9a-f]*\)".*/\1/p' | head -1)
if [ -n "$id" ]; then
    "$cli" review approve "$id" --spool "$out/review" --secret-key "$out/reviewers.key" \
        --reviewer "j.doe (DMV privacy office)" --note "treaty request, checked" \
        --out "$out/foreign-approved.bin" --audit "$out/audit" --keyring "$out/keyring"
    echo "approved: $(stat -c %s "$out/foreign-approved.bin" 2>/dev/null || echo 0) bytes released"
fi

say "a JSON request-response hook: JSON Lines in, JSON Lines out (the police profile)"
"$gen" --count 2 --seed 11 --format jsonl --out "$out/records.jsonl" 2>/dev/null || exit
echo '$ dmvfilter filter ... --ori NY0300000 --purpose 1 --query-kind by_license --format jsonl <records.jsonl'
"$cli" filter --policy examples/policy.yaml --keyring "$out/keyring" --quiet --ori NY0300000 \
    --purpose 1 --query-kind by_license --request-id demo-json --format jsonl \
    <"$out/records.jsonl" | cut -c1-150

say "a framed stream (requests carried in the stream), signed; verified with the public key alone"
"$gen" --framed --count 3 --seed 12 --request-id demo-framed --ori NY0300000 \
    --out "$out/framed-in.bin" 2>/dev/null || exit
"$cli" filter --policy examples/policy.yaml --keyring "$out/keyring" --format framed --quiet \
    --audit "$out/audit" --in "$out/framed-in.bin" --out "$out/framed.bin"
"$cli" verify --public-key "$out/dmv.pub" --in "$out/framed.bin"

say "the audit log: verify, query, and the transparency report"
"$cli" audit verify "$out/audit" --keyring "$out/keyring"
"$cli" audit query "$out/audit" --kind request | cut -c1-160 | sed -n 1,3p
echo "the refused claim, audited beside what the directory says:"
"$cli" audit query "$out/audit" --request-id demo-claim-1 --kind request | python3 -c '
import json, sys
e = json.loads(sys.stdin.readline()); r = e["request"]; c = e.get("claimed", {})
print("  reason:    ", e["reason"])
print("  directory: ", r["agency_name"], "/", r["agency_kind"], "/", r["jurisdiction"])
print("  claimed:   ", c.get("agency_kind"), "/", c.get("jurisdiction"))
print("  judged as of", e.get("judged_as_of"))'
"$cli" audit report "$out/audit" --from 2020-01-01 --to 2099-12-31 --format md | sed -n 1,24p
"$cli" audit report "$out/audit" --from 2020-01-01 --to 2099-12-31 --format html --out "$out/report.html" \
    && echo "report.html: one self-contained page, $(stat -c %s "$out/report.html") bytes"

say "the researcher's encrypted license number, revealed with the keyring (DMV use only)"
echo "(NYRES0001's directory entry names the scope suny-study: the study's ORIs share pseudonyms)"
tok=$(scripts/pbdump --first 1 "$out/researcher.bin" | sed -n 's/.*number: "\(E[^"]*\)".*/\1/p' | head -1)
if [ -n "$tok" ]; then
    echo "token: $tok"
    "$cli" reveal --keyring "$out/keyring" --scope suny-study "$tok"
fi
say "done: outputs in $out/"
