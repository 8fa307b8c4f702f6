#!/usr/bin/env bash
# The generator writes the same records as protobuf, JSON Lines and CSV (the
# bench's peers read the latter two): bench/check_formats.py compares them.
set -u
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0 fail=0
for f in pb jsonl csv; do
    "$DMVF_GEN" --count 300 --seed 9 --marked 0.3 --format "$f" --out "$T/a.$f" || { echo "FAIL - gen $f"; fail=$((fail+1)); }
done
if python3 "$DMVF_SRC/bench/check_formats.py" "$DMVF_SRC/schema/dmv/v1/record.proto" \
        "$T/a.pb" "$T/a.jsonl" "$T/a.csv" >"$T/out" 2>&1; then
    pass=$((pass+1)); echo "ok - pb, jsonl and csv hold the same 300 records"
else
    fail=$((fail+1)); echo "FAIL - formats differ:"; cat "$T/out"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
