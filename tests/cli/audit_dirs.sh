#!/usr/bin/env bash
# audit_dirs.sh - `dmvfilter audit verify|query|report DIR...` over several
# logs, as instances of a service each keeping their own: verify checks every
# DIR on its own chain (one --keyring or --public-key for all, or one per
# DIR), says which are intact, and fails (5) when any is not, also when the
# others are; query merges the entries by time and names each line's log;
# report's figures are the sums of the logs' own reports, each log's
# releases counted against its own requests (the logs' seqs overlap).
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
policy=$DMVF_SRC/examples/policy.yaml
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-adirs.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE
. "$DMVF_SRC/tests/cli_lib.sh"
# the UTC day before the first entry: a run across midnight still queries its entries
day0=$(date -u +%F)
lines() { wc -l <"$1" | tr -d ' '; }

"$cli" keys init --keyring "$T/kr" --unsealed >/dev/null 2>&1 || { bad "keys init"; exit 1; }
"$cli" keys init --keyring "$T/kr2" --unsealed >/dev/null 2>&1 || { bad "keys init (kr2)"; exit 1; }
"$cli" keys export-public --keyring "$T/kr" --out "$T/pub" >/dev/null 2>&1
"$cli" keys export-public --keyring "$T/kr2" --out "$T/pub2" >/dev/null 2>&1
"$gen" --count 6 --seed 5 --out "$T/rec.bin" 2>/dev/null || { bad "generator"; exit 1; }
"$gen" --count 6 --seed 5 --format jsonl >"$T/rec.jsonl"
subject=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["record_id"])' "$T/rec.jsonl")
police=(--ori NY0300000 --agency-kind local --jurisdiction NY --purpose 1 --query-kind by_license
        --date 2026-11-22)
ice=(--ori DCICE0100 --agency-kind federal --tag immigration-enforcement
     --legal-process administrative_subpoena --query-kind by_license --date 2026-11-22)
filter() { # filter KEYRING LOG ARGS...
    local kr=$1 log=$2; shift 2
    "$cli" filter --policy "$policy" --keyring "$kr" --audit "$log" --audit-subjects \
        --in "$T/rec.bin" --out "$T/out.bin" --quiet "$@"
}

# Three instances: A and B share a keyring, C has its own. A starts with a
# release, B with a refusal: their seq 0 and 1 mean different requests.
expect_rc 0 "A: police" filter "$T/kr" "$T/A" "${police[@]}" --request-id a1
expect_rc 3 "B: ICE, refused" filter "$T/kr" "$T/B" "${ice[@]}" --request-id b1
expect_rc 0 "A: police again" filter "$T/kr" "$T/A" "${police[@]}" --request-id a2
expect_rc 0 "B: police" filter "$T/kr" "$T/B" "${police[@]}" --request-id b2
expect_rc 0 "C: police (its own keyring)" filter "$T/kr2" "$T/C" "${police[@]}" --request-id c1
expect_rc 3 "A: ICE, refused" filter "$T/kr" "$T/A" "${ice[@]}" --request-id a3

# ---- verify ----
expect_rc 0 "verify A B with one keyring" "$cli" audit verify "$T/A" "$T/B" --keyring "$T/kr"
check "both named intact" [ "$(grep -c ": intact" "$T/stdout")" = 2 ]
check "A's summary" grep -q "audit log $T/A: intact" "$T/stdout"
check "B's summary" grep -q "audit log $T/B: intact" "$T/stdout"
check "the count line" grep -qx "audit logs: 2 of 2 intact" "$T/stdout"
expect_rc 0 "verify A C, a keyring each" "$cli" audit verify "$T/A" "$T/C" --keyring "$T/kr" --keyring "$T/kr2"
expect_rc 0 "verify A C, a public key each" "$cli" audit verify "$T/A" "$T/C" --public-key "$T/pub" --public-key "$T/pub2"
expect_rc 5 "verify A C with A's keyring alone" "$cli" audit verify "$T/A" "$T/C" --keyring "$T/kr"
check "A intact, C not" grep -q "audit log $T/C: NOT intact" "$T/stdout"
check "... A still verified" grep -q "audit log $T/A: intact" "$T/stdout"
check "... 1 of 2" grep -qx "audit logs: 1 of 2 intact" "$T/stdout"
check "the error names C" grep -q "audit verify $T/C:" "$T/err"
cp -a "$T/A" "$T/At"
seg=$T/At/audit-00000001.log
flip_byte "$seg" $(( $(stat -c %s "$seg") / 2 ))
expect_rc 5 "verify a tampered copy of A, then B" "$cli" audit verify "$T/At" "$T/B" --keyring "$T/kr"
check "B is verified after the tampered one" grep -q "audit log $T/B: intact" "$T/stdout"
expect_rc 5 "tampered beats missing" "$cli" audit verify "$T/nolog" "$T/At" --keyring "$T/kr"
expect_rc 74 "verify A and a missing log" "$cli" audit verify "$T/A" "$T/nolog" --keyring "$T/kr"
check "... A intact, 1 of 2" grep -qx "audit logs: 1 of 2 intact" "$T/stdout"
expect_rc 64 "three keyrings for two DIRs" "$cli" audit verify "$T/A" "$T/B" --keyring "$T/kr" --keyring "$T/kr" --keyring "$T/kr"
expect_rc 64 "two public keys for three DIRs" "$cli" audit verify "$T/A" "$T/B" "$T/C" --public-key "$T/pub" --public-key "$T/pub2"
expect_rc 0 "one DIR: no count line" "$cli" audit verify "$T/A" --keyring "$T/kr"
check "... none" ! grep -q "audit logs:" "$T/stdout"

# ---- query ----
for d in A B C; do "$cli" audit query "$T/$d" >"$T/$d.jsonl" 2>/dev/null; done
check "one log: no log key" python3 -c 'import json,sys; sys.exit(any("log" in json.loads(l) for l in open(sys.argv[1])))' "$T/A.jsonl"
expect_rc 0 "query A B C" "$cli" audit query "$T/A" "$T/B" "$T/C"
cp "$T/stdout" "$T/abc.jsonl"
check "every entry of the three" [ "$(lines "$T/abc.jsonl")" = $(( $(lines "$T/A.jsonl") + $(lines "$T/B.jsonl") + $(lines "$T/C.jsonl") )) ]
check "merged by time, each log in seq order, each line its log first, the entries as one log gives them" python3 - "$T/abc.jsonl" "$T/A" "$T/B" "$T/C" "$T/A.jsonl" "$T/B.jsonl" "$T/C.jsonl" <<'EOF'
import json, sys
rows = [l for l in open(sys.argv[1])]
es = [json.loads(l) for l in rows]
logs = sys.argv[2:5]
own = {d: [json.loads(l) for l in open(f)] for d, f in zip(logs, sys.argv[5:8])}
assert all(r.startswith('{"log":') for r in rows)
assert [e["time_ns"] for e in es] == sorted(e["time_ns"] for e in es)
for d in logs:
    mine = [dict((k, v) for k, v in e.items() if k != "log") for e in es if e["log"] == d]
    assert mine == own[d], d
EOF
expect_rc 0 "query A B --kind request" "$cli" audit query "$T/A" "$T/B" --kind request
check "five requests" [ "$(lines "$T/stdout")" = 5 ]
expect_rc 0 "query A B --decision deny --kind request" "$cli" audit query "$T/A" "$T/B" --decision deny --kind request
check "two refusals, one in each" python3 -c 'import json,sys; l=[json.loads(x)["log"] for x in open(sys.argv[1])]; sys.exit(sorted(l) != sorted(sys.argv[2:]))' "$T/stdout" "$T/A" "$T/B"
expect_rc 0 "query --subject over A and C, a keyring each" "$cli" audit query "$T/A" "$T/C" --subject "$subject" --keyring "$T/kr" --keyring "$T/kr2"
check "the subject's releases: two in A, one in C" python3 -c 'import json,sys; l=[json.loads(x)["log"] for x in open(sys.argv[1])]; sys.exit(l.count(sys.argv[2]) != 2 or l.count(sys.argv[3]) != 1)' "$T/stdout" "$T/A" "$T/C"
expect_rc 0 "query --subject over A and C with A's keyring alone" "$cli" audit query "$T/A" "$T/C" --subject "$subject" --keyring "$T/kr"
check "... finds A's only (C hashed it with its own key)" python3 -c 'import json,sys; l=[json.loads(x)["log"] for x in open(sys.argv[1])]; sys.exit(l != [sys.argv[2]] * 2)' "$T/stdout" "$T/A"
expect_rc 74 "query A and a missing log" "$cli" audit query "$T/A" "$T/nolog"

# ---- report ----
today=$(date -u +%F)
for d in A B C; do
    "$cli" audit report "$T/$d" --from "$day0" --to "$today" --format json >"$T/$d.json" 2>/dev/null
done
expect_rc 0 "report A B C" "$cli" audit report "$T/A" "$T/B" "$T/C" --from "$day0" --to "$today" --format json
check "the figures add up: totals, entries and every row" python3 - "$T/stdout" "$T/A.json" "$T/B.json" "$T/C.json" <<'EOF'
import json, sys
from collections import Counter
allr, parts = json.load(open(sys.argv[1])), [json.load(open(f)) for f in sys.argv[2:]]
def rows(r):
    c = Counter()
    for bd, rs in r["breakdowns"].items():
        for row in rs:
            for k, v in row.items():
                if k not in ("key", "name"):
                    c[(bd, row["key"], row["name"], k)] += v
    return c
for key in ("totals", "entries"):
    want = Counter()
    for p in parts:
        want.update(p[key])
    assert Counter(allr[key]) == want, (key, allr[key], want)
want = Counter()
for p in parts:
    want.update(rows(p))
assert rows(allr) == want
assert allr["totals"]["requests"] == 6 and allr["totals"]["released"] == 4, allr["totals"]
assert allr["totals"]["incomplete"] == 0, allr["totals"]
EOF
expect_rc 0 "report A B --out" "$cli" audit report "$T/A" "$T/B" --from "$day0" --to "$today" --format md --out "$T/r.md"
check "report file written" [ -s "$T/r.md" ]
mkdir "$T/empty"
expect_rc 74 "report A and a directory without a log" "$cli" audit report "$T/A" "$T/empty" --from "$day0" --to "$today"
check "... nothing written" [ ! -s "$T/stdout" ]

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
