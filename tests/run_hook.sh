#!/usr/bin/env bash
# Runs examples/hook.c against the bundled example policy: police get the
# record rewritten, the immigration request without court order is refused
# in the not-found form.
set -u
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
"$DMVF_CLI" keys init --keyring "$t/kr" --unsealed >/dev/null || exit 1
"$DMVF_GEN" --count 1 --seed 5 --out "$t/one.bin" || exit 1
# strip the length prefix: the hook takes one bare record
python3 -c 'import sys
d=open(sys.argv[1],"rb").read(); i=0; n=0; s=0
while True:
    b=d[i]; i+=1; n|=(b&0x7f)<<s; s+=7
    if not b&0x80: break
open(sys.argv[2],"wb").write(d[i:i+n])' "$t/one.bin" "$t/rec" || exit 1
# the hook judges on the clock, as a switch does: the example's certifications
# (to 2027-12-31) are moved past this test's lifetime, nothing else changes
sed 's/certified_until: 2027-12-31/certified_until: 2099-12-31/' "$DMVF_SRC/examples/policy.yaml" >"$t/policy.yaml"
grep -q 2027-12-31 "$t/policy.yaml" && { echo "the policy still names 2027-12-31"; exit 1; }
out=$("$DMVF_HOOK" "$t/policy.yaml" "$t/kr" "$t/rec") || { echo "$out"; exit 1; }
echo "$out"
pass=0 fail=0
check() { if echo "$out" | grep -qE "$1"; then pass=$((pass+1)); else fail=$((fail+1)); echo "missing: $1"; fi; }
check "^police-1: released [0-9]+ of [0-9]+ bytes, rule 'in-state police', epoch 1$"
check "^ice-1: refused, reply not-found"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
