#!/usr/bin/env bash
# json_utf8.sh - every JSON the tool writes from what a request or the
# requester directory said goes through the one JSON string writer
# (filter/core/text.c): a request id and an agency name holding a byte that
# is not UTF-8 (0xff) come out as \ufffd, and every line is valid UTF-8 JSON,
# in the audit query, the transparency report (json), the notice queue (and
# `notices due --json`) and `review list --json`. The writer's cases are
# tested once, as a table, in test_core.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-json.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE DMVFILTER_REVIEW_PASSPHRASE
. "$DMVF_SRC/tests/cli_lib.sh"

# json_ok DESCRIPTION FILE [all] : FILE is valid UTF-8 and holds JSON: one
# object per line, or with "all" one document
json_ok() {
    python3 - "$2" "${3:-lines}" <<'PY'
import json, sys
raw = open(sys.argv[1], "rb").read()
text = raw.decode("utf-8")            # raises on any byte that is not UTF-8
if sys.argv[2] == "all":
    json.loads(text)
else:
    for line in text.splitlines():
        if line.strip():
            json.loads(line)
PY
    check "$1" [ $? -eq 0 ]
}

expect_rc 0 "keys init --unsealed" "$cli" keys init --keyring "$T/kr" --unsealed
expect_rc 0 "keys export-public" "$cli" keys export-public --keyring "$T/kr" --out "$T/dmv.pub"
expect_rc 0 "review keygen" "$cli" review keygen --secret-key "$T/rev.key" --public-key "$T/rev.pub"
printf 'ori,ori_prefix,name,kind,jurisdiction,tags,certified_until,scope\n' >"$T/requesters.csv"
printf 'NYPD00002,,Bad \xff Name,local,,,,\n' >>"$T/requesters.csv"
printf 'DHSICE001,,ICE \xff ERO,federal,,immigration-enforcement,,\n' >>"$T/requesters.csv"
cat >"$T/policy.yaml" <<'EOF'
version: 1
profiles:
  basic:
    default: redact
    fields:
      record_id: pseudonymize
      person.family_name: release
requesters_file: requesters.csv
requesters: []
review: {spool: spool, public_key: rev.pub}
audit: {dir: audit}
notices: {queue: notices.jsonl}
rules:
  - name: held
    match: {tags: [immigration-enforcement]}
    decision: review
    profile: basic
  - name: police
    match: {agency_kind: [local]}
    decision: release
    notify_subject: true
    profile: basic
EOF
expect_rc 0 "generate records" "$gen" --count 3 --seed 8 --out "$T/rec.bin"
expect_rc 0 "a release to the badly named agency" "$cli" filter --policy "$T/policy.yaml" \
    --keyring "$T/kr" --ori NYPD00002 --request-id $'N\xff1' --purpose 1 \
    --query-kind by_name_dob --in "$T/rec.bin" --out "$T/out.bin"
expect_rc 4 "a request held for review" "$cli" filter --policy "$T/policy.yaml" \
    --keyring "$T/kr" --ori DHSICE001 --request-id $'R\xff1' \
    --legal-process administrative_subpoena --query-kind by_name_dob --in "$T/rec.bin" \
    --out "$T/held.bin"

# the audit query
expect_rc 0 "audit query" "$cli" audit query "$T/audit"
cp "$T/stdout" "$T/query.jsonl"
json_ok "audit query: valid UTF-8 JSON lines" "$T/query.jsonl"
check "audit query: the request id as \\ufffd" grep -qF '"request_id":"N\ufffd1"' "$T/query.jsonl"
check "audit query: the agency name as \\ufffd" grep -qF '"agency_name":"Bad \ufffd Name"' "$T/query.jsonl"
check "audit query: the held request id as \\ufffd" grep -qF '"request_id":"R\ufffd1"' "$T/query.jsonl"

# the transparency report, as JSON
expect_rc 0 "audit report --format json" "$cli" audit report "$T/audit" --from 2000-01-01 \
    --to 2999-01-01 --format json
cp "$T/stdout" "$T/report.json"
json_ok "report: a valid UTF-8 JSON document" "$T/report.json" all
check "report: the agency name as \\ufffd" grep -qF '"name": "Bad \ufffd Name"' "$T/report.json"
check "report: the held agency's name as \\ufffd" grep -qF '"name": "ICE \ufffd ERO"' "$T/report.json"

# the notice queue, and notices due --json
check "the notice queue exists" [ -s "$T/notices.jsonl" ]
json_ok "notice queue: valid UTF-8 JSON lines" "$T/notices.jsonl"
check "notice queue: the request id as \\ufffd" grep -qF '"request_id":"N\ufffd1"' "$T/notices.jsonl"
check "notice queue: the agency name as \\ufffd" grep -qF '"agency":"Bad \ufffd Name"' "$T/notices.jsonl"
expect_rc 0 "notices due --json" "$cli" notices due --policy "$T/policy.yaml" --today 2999-01-01 --json
json_ok "notices due --json: valid UTF-8 JSON lines" "$T/stdout"
check "notices due --json: the request id as \\ufffd" grep -qF '"request_id":"N\ufffd1"' "$T/stdout"

# the review list
expect_rc 0 "review list --json" "$cli" review list --policy "$T/policy.yaml" --json \
    --public-key "$T/dmv.pub"
json_ok "review list: valid UTF-8 JSON lines" "$T/stdout"
check "review list: the request id as \\ufffd" grep -qF '"request_id":"R\ufffd1"' "$T/stdout"
check "review list: the agency name as \\ufffd" grep -qF '"agency":"ICE \ufffd ERO"' "$T/stdout"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
