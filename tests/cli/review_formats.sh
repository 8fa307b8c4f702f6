#!/usr/bin/env bash
# review_formats.sh - `dmvfilter review approve --output-format
# records|jsonl|csv` (issue 12, item 3): a request held for review, read as
# JSON Lines or CSV, is held as records; its approval writes it in any
# format: JSON Lines equal to what a release rule with the same profile
# writes for the same records, CSV with the schema's columns. A held record
# whose every field was redacted is 0 bytes: approved as the empty record
# ({} in JSON Lines, a row of empty cells in CSV), while requester input
# still refuses a 0-length record. A held release of no record approves to
# an empty file in every format; a record with more elements than the CSV
# columns leaves nothing and the item pending.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-review-formats.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE DMVFILTER_REVIEW_PASSPHRASE
. "$DMVF_SRC/tests/cli_lib.sh"

expect_rc 0 "keys init" "$cli" keys init --keyring "$T/kr" --unsealed
expect_rc 0 "reviewer keys" "$cli" review keygen --secret-key "$T/rev.key" --public-key "$T/rev.pub"
cat >"$T/policy.yaml" <<'EOF'
version: 1
profiles:
  federal:
    default: redact
    fields:
      record_id: pseudonymize
      person.family_name: release
      person.birth_date: {generalize: year}
      vehicles.*: release
review:
  spool: spool
  public_key: rev.pub
requesters:
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
expect_rc 0 "policy check" "$cli" policy check "$T/policy.yaml"
"$gen" --count 20 --seed 8 --marked 0.3 --format jsonl --out "$T/in.jsonl" || bad "dmvf-gen"
"$gen" --count 20 --seed 8 --marked 0.3 --format csv --out "$T/in.csv" || bad "dmvf-gen"
# a record of nothing the profile releases: its release is 0 bytes
echo '{"marking":{"program":"AB60"},"photo":{"captureDate":20200101}}' >>"$T/in.jsonl"
req=(--legal-process administrative_subpoena --query-kind by_name_dob --date 2026-11-22)
K=(--policy "$T/policy.yaml" --keyring "$T/kr" --audit "$T/log")
S=(--spool "$T/spool" --keyring "$T/kr" --audit "$T/log" --secret-key "$T/rev.key" --reviewer "J. Rivera")

# hold FILE FORMAT: holds FILE's records for review; $id is the review id
hold() {
    "$cli" filter "${K[@]}" --ori DHSICE001 "${req[@]}" --request-id "h-$2" --format "$2" \
        --in "$1" --out "$T/held.out" 2>"$T/err"
    local rc=$?
    [ "$rc" = 4 ] && ok "held for review ($2 input, exit 4)" || bad "hold $2: exit $rc: $(cat "$T/err")"
    check "a held request writes nothing" [ ! -s "$T/held.out" ]
    id=$(sed -n 's/.*held for review as \([0-9a-f]\{32\}\).*/\1/p' "$T/err" | head -1)
}
expect_rc 0 "released to the agreement's other ORI, jsonl" "$cli" filter "${K[@]}" --ori DHSFED001 \
    "${req[@]}" --format jsonl --in "$T/in.jsonl" --out "$T/released.jsonl"
check "the released JSON Lines end with the empty record" [ "$(tail -1 "$T/released.jsonl")" = "{}" ]
expect_rc 0 "released to the other ORI, records" "$cli" filter "${K[@]}" --ori DHSFED001 "${req[@]}" \
    --format jsonl --output-format records --in "$T/in.jsonl" --out "$T/released.bin"
check "the released records end with a 0-length record" \
    python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.exit(d[-1:]!=b"\0")' "$T/released.bin"

for fmt in records jsonl csv; do
    hold "$T/in.jsonl" jsonl
    expect_rc 0 "approve as $fmt" "$cli" review approve "$id" "${S[@]}" --output-format "$fmt" \
        --out "$T/approved.$fmt"
    grep -q "21 records released" "$T/stdout" && ok "approve as $fmt: 21 records" || bad "approve $fmt: $(cat "$T/stdout" "$T/err")"
done
check "approved as records: the release rule's bytes (with the 0-length record)" \
    cmp -s "$T/approved.records" "$T/released.bin"
check "approved as jsonl: the release rule's JSON Lines" cmp -s "$T/approved.jsonl" "$T/released.jsonl"
python3 - "$T/approved.csv" "$T/approved.jsonl" <<'EOF' && ok "approved as csv: the schema's columns, a row per record, the same values" || bad "approved as csv"
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
js = [json.loads(l) for l in open(sys.argv[2])]
h = rows[0]
assert h[0] == "record_id" and "person.ssn" in h and "marking.program" in h, h[:5]
assert len(rows) == 1 + len(js) == 22, len(rows)
for r, j in zip(rows[1:], js):
    assert r[h.index("record_id")] == j.get("record_id", ""), (r[0], j)
    assert r[h.index("person.family_name")] == j.get("person", {}).get("family_name", "")
    assert not r[h.index("person.ssn")] and not r[h.index("marking.program")]
assert not any(rows[-1]), rows[-1]
EOF
# CSV input is held as records too
hold "$T/in.csv" csv
expect_rc 0 "a CSV input's hold approved as jsonl" "$cli" review approve "$id" "${S[@]}" \
    --output-format jsonl --out "$T/approved.c.jsonl"
check "it is the JSON input's release without the empty record" \
    cmp -s "$T/approved.c.jsonl" <(head -20 "$T/released.jsonl")

# more vehicles than the CSV columns: nothing released, the item pending
hold "$T/in.jsonl" jsonl
expect_rc 65 "approve as csv with one vehicle column" "$cli" review approve "$id" "${S[@]}" \
    --output-format csv --csv-elements vehicles=1 --out "$T/cut.csv"
check "nothing was written" [ ! -e "$T/cut.csv" ]
expect_rc 0 "review list" "$cli" review list --spool "$T/spool" --keyring "$T/kr"
check "the item is still pending" grep -qE "^$id .* pending" "$T/stdout"
expect_rc 0 "then approved as jsonl" "$cli" review approve "$id" "${S[@]}" --output-format jsonl \
    --out "$T/late.jsonl"
check "with the release rule's bytes" cmp -s "$T/late.jsonl" "$T/released.jsonl"

# a hold of no record approves to an empty file in every format
: >"$T/none.jsonl"
for fmt in records jsonl csv; do
    hold "$T/none.jsonl" jsonl
    expect_rc 0 "an empty hold approved as $fmt" "$cli" review approve "$id" "${S[@]}" --output-format "$fmt" \
        --out "$T/none.$fmt"
    check "an empty hold approved as $fmt is empty" [ ! -s "$T/none.$fmt" ]
done

# requester input keeps refusing a 0-length record
expect_rc 65 "a 0-length record in requester input" "$cli" filter "${K[@]}" --ori DHSFED001 "${req[@]}" \
    --in "$T/released.bin" --out "$T/x"
check "the message names the empty record" grep -q "is empty (0 bytes)" "$T/err"
expect_rc 64 "--output-format bogus" "$cli" review approve 00 "${S[@]}" --output-format xml --out "$T/y"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
