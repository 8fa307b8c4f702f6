#!/usr/bin/env bash
# audit.sh - `dmvfilter audit verify|query|report` end to end on a log that
# `dmvfilter filter --audit` writes: --help, usage errors (64), verify with
# the keyring and with the public key alone (0), tampered, truncated and
# HEAD-less copies and another keyring (5), a missing log (74), a bad
# keyring (79), queries by every criterion (each line valid JSON, the right
# entries), a filter refusing to release onto a tampered log, and the report.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-audit.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE

. "$DMVF_SRC/tests/cli_lib.sh"
# the UTC day before the first entry: a run across midnight still queries its entries
day0=$(date -u +%F)

# jsonl FILE [PYTHON-EXPR]: every line of FILE is a JSON object; with an
# expression over e (the entry), every line must satisfy it
jsonl() {
    python3 - "$1" "${2:-True}" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    if not isinstance(e, dict) or not eval(sys.argv[2], {}, {"e": e}):
        sys.exit("line %d: %s" % (n + 1, line[:200]))
    n += 1
EOF
}
lines() { wc -l <"$1" | tr -d ' '; }

# A policy of its own (the test does not follow edits to the example).
cat >"$T/policy.yaml" <<EOF
version: 1
jurisdiction: NY
profiles:
  minimal:
    default: redact
    fields:
      record_id: pseudonymize
      person.family_name: release
      person.birth_date: release
      license.number: release
  research:
    default: redact
    fields:
      record_id: pseudonymize
      person.birth_date: {generalize: year}
requesters:
  - {ori: NY0300000, name: Albany Police, kind: local, jurisdiction: NY}
  - {ori_prefix: DCICE, name: ICE ERO, kind: federal, jurisdiction: DC, tags: [immigration-enforcement]}
  - {ori: NYUNIV000, name: SUNY, kind: research, jurisdiction: NY}
rules:
  - name: immigration enforcement
    match: {tags: [immigration-enforcement]}
    decision: release
    legal_process: [court_order, judicial_warrant]
    query_kinds: [by_license]
    refusal: not-found
    profile: minimal
  - name: in-state police
    match: {agency_kind: [state, local], jurisdiction: [NY]}
    purposes: [1]
    decision: release
    profile: minimal
  - name: researchers
    match: {agency_kind: [research]}
    purposes: [5]
    decision: release
    profile: research
EOF
police=(--ori NY0300000 --agency-kind local --agency-name "Albany Police" --jurisdiction NY
        --purpose 1 --query-kind by_license --request-id a-police --operator "officer \"7\"")
ice=(--ori DCICE0100 --agency-kind federal --agency-name "ICE ERO" --tag immigration-enforcement
     --legal-process administrative_subpoena --legal-reference "AS-1" --query-kind by_license
     --request-id a-ice)
research=(--ori NYUNIV000 --agency-kind research --agency-name "SUNY" --purpose 5
          --query-kind list --request-id a-research)

# ---- help and usage ----
expect_rc 0 "audit --help" "$cli" audit --help
check "help names the three subcommands" grep -q "audit report DIR... --from DATE --to DATE" "$T/stdout"
check "help says --to includes the whole day" grep -q "up to the end of Nov 30" "$T/stdout"
expect_rc 0 "audit verify --help" "$cli" audit verify --help
expect_rc 0 "audit query --help" "$cli" audit query --help
expect_rc 0 "help audit" "$cli" help audit
check "top-level help lists audit" sh -c "'$cli' --help | grep -q 'audit verify'"
expect_rc 64 "audit without a subcommand" "$cli" audit
expect_rc 64 "audit bogus" "$cli" audit bogus
expect_rc 64 "verify without DIR" "$cli" audit verify --keyring "$T/kr"
expect_rc 64 "verify without a key" "$cli" audit verify "$T/log"
expect_rc 64 "verify with both keys" "$cli" audit verify "$T/log" --keyring "$T/kr" --public-key "$T/pub"
expect_rc 64 "verify: unknown flag" "$cli" audit verify "$T/log" --keyring "$T/kr" --fast
expect_rc 64 "query: bad --decision" "$cli" audit query "$T/log" --decision maybe
expect_rc 64 "query: bad --kind" "$cli" audit query "$T/log" --kind delete
expect_rc 64 "query: bad --from" "$cli" audit query "$T/log" --from 2026-13-01
expect_rc 64 "query: bad --to time" "$cli" audit query "$T/log" --to 2026-11-30T25:00:00Z
expect_rc 64 "query: --from after --to" "$cli" audit query "$T/log" --from 2026-12-01 --to 2026-11-01
expect_rc 64 "query: --subject without --keyring" "$cli" audit query "$T/log" --subject X
expect_rc 64 "query: three keyrings for two DIRs" "$cli" audit query "$T/log" "$T/log2" --subject X --keyring "$T/kr" --keyring "$T/kr" --keyring "$T/kr"
expect_rc 64 "report without --from" "$cli" audit report "$T/log" --to 2026-11-30
expect_rc 64 "report: bad --format" "$cli" audit report "$T/log" --from 2026-11-01 --to 2026-11-30 --format pdf

# ---- a log written by the filter ----
expect_rc 0 "keys init" "$cli" keys init --keyring "$T/kr" --unsealed
expect_rc 0 "second keyring" "$cli" keys init --keyring "$T/kr2" --unsealed
expect_rc 0 "keys export-public" "$cli" keys export-public --keyring "$T/kr" --out "$T/pub"
expect_rc 0 "keys export-public (kr2)" "$cli" keys export-public --keyring "$T/kr2" --out "$T/pub2"
expect_rc 0 "generate records" "$gen" --count 12 --seed 5 --out "$T/rec.bin"
"$gen" --count 12 --seed 5 --format jsonl >"$T/rec.jsonl"
subject=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["record_id"])' "$T/rec.jsonl")
f=("$cli" filter --policy "$T/policy.yaml" --keyring "$T/kr" --audit "$T/log" --in "$T/rec.bin" --quiet)
expect_rc 0 "filter: police, audited with subjects" "${f[@]}" --audit-subjects "${police[@]}" --out "$T/o1"
expect_rc 3 "filter: ICE without a court order, audited" "${f[@]}" "${ice[@]}" --out "$T/o2"
expect_rc 0 "filter: research, audited" "${f[@]}" "${research[@]}" --out "$T/o3"
check "the log directory is 0700" [ "$(stat -c %a "$T/log")" = 700 ]
check "HEAD written" [ -s "$T/log/HEAD" ]

# ---- verify ----
expect_rc 0 "verify with the keyring" "$cli" audit verify "$T/log" --keyring "$T/kr"
check "verify says intact" grep -q ": intact" "$T/stdout"
check "verify checked every chain MAC" grep -q "every item's MAC checked" "$T/stdout"
expect_rc 0 "verify with the public key alone" "$cli" audit verify "$T/log" --public-key "$T/pub"
check "without the keyring the MACs are not checked" grep -q "MACs not checked" "$T/stdout"
expect_rc 5 "verify with another keyring" "$cli" audit verify "$T/log" --keyring "$T/kr2"
check "names another keyring" grep -q "another keyring" "$T/err"
expect_rc 5 "verify with another public key" "$cli" audit verify "$T/log" --public-key "$T/pub2"
expect_rc 74 "verify a missing log" "$cli" audit verify "$T/nolog" --keyring "$T/kr"
expect_rc 79 "verify with a missing keyring" "$cli" audit verify "$T/log" --keyring "$T/nokr"

seg=audit-00000001.log
size=$(stat -c %s "$T/log/$seg")
cp -a "$T/log" "$T/t1"
flip_byte "$T/t1/$seg" $((size / 2))
expect_rc 5 "verify: a byte changed mid-log" "$cli" audit verify "$T/t1" --keyring "$T/kr"
check "the message names the file and byte offset" grep -qE "$seg: byte offset [0-9]+ \((entry [0-9]+|checkpoint|segment header)" "$T/err"
check "stdout says NOT intact" grep -q "NOT intact" "$T/stdout"
expect_rc 5 "verify: a byte changed, public key alone" "$cli" audit verify "$T/t1" --public-key "$T/pub"
cp -a "$T/log" "$T/t2"
truncate -s $((size - 40)) "$T/t2/$seg"
expect_rc 5 "verify: truncated" "$cli" audit verify "$T/t2" --keyring "$T/kr"
cp -a "$T/log" "$T/t3"
rm "$T/t3/HEAD"
expect_rc 5 "verify: HEAD removed" "$cli" audit verify "$T/t3" --keyring "$T/kr"
check "says HEAD is missing" grep -q "HEAD is missing" "$T/err"

# ---- a filter does not release onto a log that does not verify ----
rm -f "$T/o4"
"$cli" filter --policy "$T/policy.yaml" --keyring "$T/kr" --audit "$T/t1" --in "$T/rec.bin" --quiet \
    "${police[@]}" --out "$T/o4" >"$T/stdout" 2>"$T/err"
rc=$?
check "filter on a tampered log fails (exit $rc)" [ "$rc" -ne 0 ]
check "... and releases nothing" [ ! -e "$T/o4" ]
check "... and says why" grep -qi "byte offset" "$T/err"

# ---- query ----
expect_rc 0 "query: everything" "$cli" audit query "$T/log"
cp "$T/stdout" "$T/all.jsonl"
check "every line is a JSON object" jsonl "$T/all.jsonl"
check "entries in seq order from 0" jsonl "$T/all.jsonl" 'e["seq"] >= 0 and e["time"].endswith("Z")'
check "seq consecutive" python3 -c 'import json,sys; s=[json.loads(l)["seq"] for l in open(sys.argv[1])]; sys.exit(s != list(range(len(s))))' "$T/all.jsonl"
expect_rc 0 "query --kind request" "$cli" audit query "$T/log" --kind request
check "three requests" [ "$(lines "$T/stdout")" = 3 ]
check "requests carry the request in full" jsonl "$T/stdout" 'e["kind"] == "request" and e["request"]["request_id"].startswith("a-")'
expect_rc 0 "query --ori DCICE0100" "$cli" audit query "$T/log" --ori DCICE0100 --kind request
check "one ICE request, denied (shown as not found)" jsonl "$T/stdout" 'e["request"]["ori"] == "DCICE0100" and e["decision"] == "deny" and e.get("not_found_reply") and e["request"]["legal_process"] == "administrative_subpoena" and e["request"]["legal_reference"] == "AS-1"'
check "... exactly one" [ "$(lines "$T/stdout")" = 1 ]
expect_rc 0 "query --decision deny --kind request" "$cli" audit query "$T/log" --decision deny --kind request
check "the one denial" [ "$(lines "$T/stdout")" = 1 ]
expect_rc 0 "query --tag immigration-enforcement" "$cli" audit query "$T/log" --tag immigration-enforcement
check "tag: only ICE entries" jsonl "$T/stdout" '"immigration-enforcement" in e["request"]["tags"]'
check "tag: some" [ "$(lines "$T/stdout")" -ge 1 ]
expect_rc 0 "query --agency albany (any case)" "$cli" audit query "$T/log" --agency albany
check "agency: only Albany entries" jsonl "$T/stdout" 'e["request"]["agency_name"] == "Albany Police" and e["request"]["operator_id"] == "officer \"7\""'
check "agency: request and release" [ "$(lines "$T/stdout")" -ge 2 ]
expect_rc 0 "query --request-id a-research --kind release" "$cli" audit query "$T/log" --request-id a-research --kind release
check "the research release: 12 records out, fields counted" jsonl "$T/stdout" 'e["records_out"] == 12 and e["decision"] == "release" and len(e["fields"]) > 0'
check "... one line" [ "$(lines "$T/stdout")" = 1 ]
expect_rc 0 "query --subject (police released it)" "$cli" audit query "$T/log" --subject "$subject" --keyring "$T/kr"
check "subject: the police release, hashes in hex" jsonl "$T/stdout" 'e["kind"] == "release" and e["request"]["ori"] == "NY0300000" and all(len(s) == 32 for s in e["subjects"])'
check "subject: one entry" [ "$(lines "$T/stdout")" = 1 ]
expect_rc 0 "query --subject unknown" "$cli" audit query "$T/log" --subject NY-000000000 --keyring "$T/kr"
check "no entry for an unknown subject" [ "$(lines "$T/stdout")" = 0 ]
today=$(date -u +%F)
expect_rc 0 "query --from today --to today (the whole day; the day before too if the run crossed midnight)" "$cli" audit query "$T/log" --from "$day0" --to "$today"
check "today: every entry" [ "$(lines "$T/stdout")" = "$(lines "$T/all.jsonl")" ]
expect_rc 0 "query --to 1971-01-01" "$cli" audit query "$T/log" --to 1971-01-01
check "nothing before 1971" [ "$(lines "$T/stdout")" = 0 ]
expect_rc 0 "query --from an RFC 3339 time in the future" "$cli" audit query "$T/log" --from 2999-01-01T00:00:00+02:00
check "nothing in the future" [ "$(lines "$T/stdout")" = 0 ]
expect_rc 74 "query a missing log" "$cli" audit query "$T/nolog"

# ---- report (built by dmvf_audit_report) ----
expect_rc 0 "report --format json" "$cli" audit report "$T/log" --from "$day0" --to "$today" --format json
check "report: JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/stdout"
expect_rc 0 "report --out" "$cli" audit report "$T/log" --from "$day0" --to "$today" --format md --title "Audit" --out "$T/report.md"
check "report file written" [ -s "$T/report.md" ]

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
