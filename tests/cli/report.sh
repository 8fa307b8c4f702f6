#!/usr/bin/env bash
# report.sh - `dmvfilter audit report` end to end: a framed stream of eleven
# requests from five agencies goes through `dmvfilter filter --audit DIR`
# with the example policy's rules; the report's figures (JSON) must equal what this
# script sent and what the example policy decides: requests, decisions,
# not-found refusals and released records per agency, agency kind, tag,
# purpose and legal process. Then the CSV, Markdown and HTML forms, the
# window, --out, --title escaping and the usage errors.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-report.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE

. "$DMVF_SRC/tests/cli_lib.sh"
# the example policy's rules, without subject notices (not under test here)
policy=$T/policy.yaml
sed '/notify_subject: *true/d' "$DMVF_SRC/examples/policy.yaml" >"$policy"

if ! "$cli" filter --help 2>/dev/null | grep -q -- --audit; then
    bad "dmvfilter filter has no --audit option: the report cannot be tested end to end"
    echo "$pass passed, $fail failed"
    exit 1
fi

expect_rc 0 "keys init --unsealed" "$cli" keys init --keyring "$T/kr" --unsealed

# ---- the traffic: who asks, and what the example policy answers ----
#   NY0300000 local, NY, purpose 1, by_license      3 requests x 4 records   released
#   NYSP00000 state, NY, purpose 1, by_plate        2 requests x 3 records   released
#   DCICE0100 federal, immigration-enforcement,
#             administrative subpoena               2 requests x 2 records   refused, not found
#   DCICE0100 ... judicial warrant, by_license      2 requests x 1 record    released (limit 1)
#   NYRES0001 research, purpose 5                   1 request  x 3 records   released
#   NYINS0000 commercial, purpose 1                 1 request  x 2 records   refused (no rule)
G=(--framed --seed 11 --date 20261122 --marked 0.4)
"$gen" "${G[@]}" --count 12 --requests 3 --request-id pol --ori NY0300000 --agency-kind local \
    --jurisdiction NY --purpose 1 --query-kind by_license --out "$T/1.bin" &&
"$gen" "${G[@]}" --count 6 --requests 2 --request-id sp --ori NYSP00000 --agency-kind state \
    --jurisdiction NY --purpose 1 --query-kind by_plate --out "$T/2.bin" &&
"$gen" "${G[@]}" --count 4 --requests 2 --request-id icesub --ori DCICE0100 --agency-kind federal \
    --jurisdiction DC --purpose 0 --tag immigration-enforcement \
    --legal-process administrative_subpoena --query-kind by_license --out "$T/3.bin" &&
"$gen" "${G[@]}" --count 2 --requests 2 --request-id icewar --ori DCICE0100 --agency-kind federal \
    --jurisdiction DC --purpose 0 --tag immigration-enforcement \
    --legal-process judicial_warrant --query-kind by_license --out "$T/4.bin" &&
"$gen" "${G[@]}" --count 3 --request-id res --ori NYRES0001 --agency-kind research \
    --jurisdiction NY --purpose 5 --query-kind list --out "$T/5.bin" &&
"$gen" "${G[@]}" --count 2 --request-id ins --ori NYINS0000 --agency-kind commercial \
    --jurisdiction NY --purpose 1 --query-kind by_name_dob --out "$T/6.bin" ||
    bad "generate the framed streams"
# interleave the agencies: the police first, then the rest, then more police
cat "$T/1.bin" "$T/3.bin" "$T/5.bin" "$T/2.bin" "$T/4.bin" "$T/6.bin" >"$T/all.bin"

# the generated requests are dated 2026-11-22: judged as of that day (the DMV's replay)
F=(--policy "$policy" --keyring "$T/kr" --format framed --date 2026-11-22)
expect_rc 3 "filter --audit: eleven requests, three refused" "$cli" filter "${F[@]}" \
    --audit "$T/log" --in "$T/all.bin" --out "$T/all.out"
check "stderr: the summary the report must agree with" \
    grep -q "11 requests: 8 released, 3 refused" "$T/err"

W=(--from 2020-01-01 --to 2099-12-31)
expect_rc 0 "audit report --format json" "$cli" audit report "$T/log" "${W[@]}" --format json \
    --out "$T/r.json"

# fig BREAKDOWN KEY FIGURE : a figure of the JSON report ("total" "all" for totals)
fig() {
    python3 - "$T/r.json" "$@" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
bd, key, f = sys.argv[2:5]
if bd == "total":
    print(doc["totals"][f]); sys.exit(0)
rows = [r for r in doc["breakdowns"][bd] if r["key"] == key]
print(sum(r[f] for r in rows) if rows else "absent")
EOF
}
# want BREAKDOWN KEY FIGURE VALUE
want() {
    local got
    got=$(fig "$1" "$2" "$3" 2>&1)
    if [ "$got" = "$4" ]; then ok "$1 $2 $3 = $4"; else bad "$1 $2 $3 = $got, want $4"; fi
}

check "the JSON report is valid JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/r.json"
want total all requests 11
want total all released 8
want total all refused 3
want total all held_for_review 0
want total all incomplete 0
want total all records_released 23
want total all fields_released_p 0
want agency NY0300000 requests 3
want agency NY0300000 released 3
want agency NY0300000 records_released 12
want agency NYSP00000 requests 2
want agency NYSP00000 records_released 6
want agency DCICE0100 requests 4
want agency DCICE0100 released 2
want agency DCICE0100 refused 2
want agency DCICE0100 refused_not_found 2
want agency DCICE0100 records_released 2
want agency NYRES0001 requests 1
want agency NYRES0001 records_released 3
want agency NYINS0000 requests 1
want agency NYINS0000 refused 1
want agency NYINS0000 records_released 0
want agency_kind local requests 3
want agency_kind state requests 2
want agency_kind federal requests 4
want agency_kind research requests 1
want agency_kind commercial requests 1
want tag immigration-enforcement requests 4
want tag immigration-enforcement refused_not_found 2
want tag "(none)" requests 7
want tag "(none)" records_released 21
want purpose 0 requests 4
want purpose 1 requests 6
want purpose 5 records_released 3
want legal_process administrative_subpoena refused 2
want legal_process judicial_warrant released 2
want legal_process none requests 7
n=$(fig total all fields_released_ordinary)
check "ordinary fields were released ($n)" [ "${n:-0}" -gt 0 ] 2>/dev/null
n=$(fig total all fields_redacted)
check "fields were redacted ($n)" [ "${n:-0}" -gt 0 ] 2>/dev/null

# ---- the window: nothing before 2021 ----
expect_rc 0 "a window without entries" "$cli" audit report "$T/log" --from 2020-01-01 \
    --to 2020-12-31 --format json --out "$T/r.json"
want total all requests 0
want agency NY0300000 requests absent

# ---- the other forms ----
expect_rc 0 "audit report --format csv to stdout" "$cli" audit report "$T/log" "${W[@]}" --format csv
tr -d '\r' <"$T/stdout" >"$T/r.csv"
check "CSV: header" grep -q '^breakdown,key,name,requests,released,refused,' "$T/r.csv"
check "CSV: totals row" grep -q '^total,all,,11,8,3,' "$T/r.csv"
# agencies are named as the requester directory names them
check "CSV: agency row" grep -q '^agency,DCICE0100,ICE ERO,4,2,2,2,' "$T/r.csv"
check "CSV: CRLF line ends" grep -q $'\r$' "$T/stdout"

expect_rc 0 "audit report --format md" "$cli" audit report "$T/log" "${W[@]}" --format md \
    --title "Q4 2026" --out "$T/r.md"
check "md: the title" grep -q '^# Q4 2026$' "$T/r.md"
check "md: the agency table" grep -q '^| DCICE0100 | ICE ERO | 4 | 2 | 2 | 2 |' "$T/r.md"
check "md: the counting rules" grep -q '^## How to read these figures' "$T/r.md"

expect_rc 0 "audit report --format html" "$cli" audit report "$T/log" "${W[@]}" --format html \
    --title "<script>x</script> & co" --out "$T/r.html"
check "html: a page" grep -q '^<!DOCTYPE html>' "$T/r.html"
check "html: charts" grep -q '<svg' "$T/r.html"
check "html: self-contained (no http)" ! grep -qi 'http' "$T/r.html"
check "html: no src or href" ! grep -qiE 'src=|href=' "$T/r.html"
check "html: the title is escaped" grep -q '&lt;script&gt;x&lt;/script&gt; &amp; co' "$T/r.html"
check "html: no script element" ! grep -qi '<script' "$T/r.html"

# ---- the same log, the same report ----
"$cli" audit report "$T/log" "${W[@]}" --format csv >"$T/again.csv" 2>/dev/null
tr -d '\r' <"$T/again.csv" | cmp -s - "$T/r.csv" && ok "the report is deterministic" ||
    bad "the report is deterministic"

# ---- usage ----
expect_rc 0 "audit report --help" "$cli" audit report --help
check "help names the formats" grep -q 'html' "$T/stdout"
expect_rc 64 "no log directory" "$cli" audit report
expect_rc 64 "an unknown format" "$cli" audit report "$T/log" "${W[@]}" --format xml
expect_rc 64 "an unknown flag" "$cli" audit report "$T/log" "${W[@]}" --frobnicate
rc=0; "$cli" audit report "$T/nolog" "${W[@]}" --format json >/dev/null 2>"$T/err" || rc=$?
check "a directory without a log fails (exit $rc)" [ "$rc" -ne 0 ]

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
