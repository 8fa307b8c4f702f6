#!/usr/bin/env bash
# framed_review.sh - a framed request decided `review` is held as a
# records-format request is (issue 11, item 6): its would-be release is
# sealed into the review spool, the audit log gets the same REVIEW_HOLD
# entry, the framed output carries only its trailer (a review refusal's:
# no record frame), and a reviewer's approval releases exactly what a
# release rule with the same profile releases for the same records.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-framed-review.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE DMVFILTER_REVIEW_PASSPHRASE
. "$DMVF_SRC/tests/cli_lib.sh"

expect_rc 0 "keys init" "$cli" keys init --keyring "$T/kr" --unsealed
expect_rc 0 "reviewer keys" "$cli" review keygen --secret-key "$T/rev.key" --public-key "$T/rev.pub"
review_policy "$T/policy.yaml" rev.pub
expect_rc 0 "policy check" "$cli" policy check "$T/policy.yaml"
g=(--framed --count 6 --seed 5 --agency-kind federal --legal-process administrative_subpoena
   --query-kind by_name_dob --date 20261122)
"$gen" "${g[@]}" --request-id F1 --ori DHSICE001 --out "$T/ice.fr" 2>/dev/null
"$gen" "${g[@]}" --request-id F2 --ori DHSFED001 --out "$T/fed.fr" 2>/dev/null
cat "$T/ice.fr" "$T/fed.fr" >"$T/both.fr"
# frames FILE [OUT]: one line per frame: "request", "record", "trailer ID OUT
# DECISION" (the trailer's request id, records_out and decision number) or
# "seal"; OUT gets FILE's record frames as a records-format stream
frames() {
    py - "$@" <<'EOF'
import sys
from delimited import *
recs = []
for kind, body in frames(open(sys.argv[1], "rb").read()):
    if kind == "trailer":
        t = fields(body)
        print("trailer", t.get(1, b"").decode(), t.get(3, 0), t.get(5, 0))
    else:
        print(kind)
    if kind == "record":
        recs.append(body)
if len(sys.argv) > 2:
    open(sys.argv[2], "wb").write(join(recs))
EOF
}
frames "$T/ice.fr" "$T/rec.bin" >/dev/null
check "the generated stream holds 6 records" [ "$(frames "$T/ice.fr" | grep -c '^record')" = 6 ]

FR=(--policy "$T/policy.yaml" --keyring "$T/kr" --format framed --date 2026-11-22)
expect_rc 4 "framed: a request decided review is held (exit 4)" "$cli" filter "${FR[@]}" \
    --in "$T/ice.fr" --out "$T/held.out" --audit "$T/log"
id=$(sed -n 's/.*request F1: held for review as \([0-9a-f]\{32\}\).*/\1/p' "$T/err" | head -1)
check "stderr names the review id and the would-be records" \
    grep -q "request F1: held for review as [0-9a-f]\{32\} (6 records would be released)" "$T/err"
check "stderr says held for review by the rule" \
    grep -q "request F1: held for review by rule 'immigration held for review'" "$T/err"
check "the spool holds the item" [ -n "$id" ] && [ -e "$T/spool/$id.sealed" ] && [ -e "$T/spool/$id.meta" ]
frames "$T/held.out" >"$T/held.txt"
check "the output: its trailer, a review refusal's (no record, decision review), and the seal" \
    [ "$(cat "$T/held.txt" | tr '\n' ' ')" = "trailer F1 0 3 seal " ]
"$cli" audit query "$T/log" --kind review_hold --request-id F1 >"$T/q.json" 2>/dev/null
check "the audit log holds its REVIEW_HOLD entry" grep -q "\"review_id\": *\"$id\"" "$T/q.json"
check "the REVIEW_HOLD entry counts 6 records" grep -q '"records_out": *6' "$T/q.json"
check "stderr: the summary counts no record released" grep -q "1 held for review; released 0 of 6 records" "$T/err"
check "no RELEASE entry for it" [ -z "$("$cli" audit query "$T/log" --kind release 2>/dev/null)" ]
expect_rc 0 "the log verifies" "$cli" audit verify "$T/log" --keyring "$T/kr"

# the records format holds the same request the same way
expect_rc 4 "records: the same request is held" "$cli" filter --policy "$T/policy.yaml" --keyring "$T/kr" \
    --ori DHSICE001 --agency-kind federal --legal-process administrative_subpoena \
    --query-kind by_name_dob --date 2026-11-22 --request-id R1 --in "$T/rec.bin" --out "$T/r.out" \
    --audit "$T/log"
rid=$(sed -n 's/.*held for review as \([0-9a-f]\{32\}\).*/\1/p' "$T/err" | head -1)
expect_rc 0 "review list" "$cli" review list --spool "$T/spool" --keyring "$T/kr"
check "list shows the framed item pending, 6 records, its ORI" grep -qE "^$id .* pending +6 +DHSICE001" "$T/stdout"
check "list shows the records item the same way" grep -qE "^$rid .* pending +6 +DHSICE001" "$T/stdout"

# approval releases what the release rule releases
expect_rc 0 "the same records released to the agreement's other ORI" "$cli" filter \
    --policy "$T/policy.yaml" --keyring "$T/kr" --ori DHSFED001 --agency-kind federal \
    --legal-process administrative_subpoena --query-kind by_name_dob --date 2026-11-22 \
    --in "$T/rec.bin" --out "$T/released.bin"
S=(--spool "$T/spool" --keyring "$T/kr" --audit "$T/log" --secret-key "$T/rev.key" --reviewer "J. Rivera")
expect_rc 0 "approve the framed item" "$cli" review approve "$id" "${S[@]}" --out "$T/approved.bin"
check "the approved release is the release rule's bytes" cmp -s "$T/approved.bin" "$T/released.bin"
expect_rc 0 "approve the records item" "$cli" review approve "$rid" "${S[@]}" --out "$T/approved.r.bin"
check "the records item approves to the same bytes" cmp -s "$T/approved.bin" "$T/approved.r.bin"

# a held request among released ones: only the released one's records go out
expect_rc 4 "framed: a held and a released request (exit 4)" "$cli" filter "${FR[@]}" \
    --in "$T/both.fr" --out "$T/both.out"
frames "$T/both.out" "$T/both.rec" >"$T/both.txt"
check "the output: the held trailer, six released records, their trailer, the seal" \
    [ "$(tr '\n' ' ' <"$T/both.txt")" = "trailer F1 0 3 record record record record record record trailer F2 6 1 seal " ]
check "the released records are the release rule's" cmp -s "$T/both.rec" "$T/released.bin"
check "two items pending or decided, one more held" [ "$(ls "$T/spool"/*.sealed | wc -l)" = 3 ]

# a held request with a record limit it passes: held, with nothing to release
sed 's/    decision: review/    decision: review\n    max_records: 2/' "$T/policy.yaml" >"$T/limit.yaml"
expect_rc 4 "framed: a held request past its record limit" "$cli" filter --policy "$T/limit.yaml" \
    --keyring "$T/kr" --format framed --date 2026-11-22 --in "$T/ice.fr" --out "$T/lim.out" \
    --review-spool "$T/spool2" --review-public-key "$T/rev.pub"
check "past the limit: held with no record to release" \
    grep -q "held for review as [0-9a-f]\{32\} (0 records would be released)" "$T/err"
check "past the limit: the output is its trailer and the seal" \
    [ "$(frames "$T/lim.out" | tr '\n' ' ')" = "trailer F1 0 3 seal " ]

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
