#!/usr/bin/env bash
# examples/demo.sh BUILD_DIR - the bundled example, end to end.
#
# Makes a keyring and sample records (bench's generator), checks the example
# policy, then filters the same records for three requesters and shows what
# each one receives. Everything is written under out/demo/.
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

say "what the DMV holds (first record)"
scripts/pbdump --first 1 "$out/records.bin"

say "policy check examples/policy.yaml"
"$cli" policy check examples/policy.yaml || exit

run() { # run NAME FLAGS...
    local name=$1; shift
    say "$name"
    echo "\$ dmvfilter filter --policy examples/policy.yaml --keyring $out/keyring --in $out/records.bin --out $out/$name.bin $*"
    "$cli" filter --policy examples/policy.yaml --keyring "$out/keyring" \
        --in "$out/records.bin" --out "$out/$name.bin" "$@"
    local rc=$?
    echo "exit status $rc; $(stat -c %s "$out/$name.bin" 2>/dev/null || echo 0) bytes released"
    [ -s "$out/$name.bin" ] && scripts/pbdump --first 1 "$out/$name.bin"
    return 0
}

run in-state-police --ori NY0300000 --agency-kind local --jurisdiction NY \
    --purpose 1 --query-kind by_license --request-id demo-police-1 --date 2026-11-22
run immigration-no-court-order --ori DCICE0100 --agency-kind federal \
    --tag immigration-enforcement --legal-process administrative_subpoena \
    --query-kind by_license --request-id demo-ice-1 --date 2026-11-22
run researcher --ori NYUNIV000 --agency-kind research --purpose 5 --query-kind list \
    --request-id demo-research-1 --date 2026-11-22

say "the researcher's encrypted license number, revealed with the keyring (DMV use only)"
tok=$(scripts/pbdump --first 1 "$out/researcher.bin" | sed -n 's/.*number: "\(E[^"]*\)".*/\1/p' | head -1)
if [ -n "$tok" ]; then
    echo "token: $tok"
    "$cli" reveal --keyring "$out/keyring" --ori NYUNIV000 "$tok"
fi
say "done: outputs in $out/"
