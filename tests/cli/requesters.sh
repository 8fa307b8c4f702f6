#!/usr/bin/env bash
# requesters.sh - requesters are who the policy's requester directory says,
# judged on the DMV's clock, through `dmvfilter filter` and `policy`:
# every bypass the filter once let through (a lowercase or padded ORI, a
# tag in another case, with '_' or a trailing space, no tag at all, a
# claimed kind or jurisdiction, an ORI-less framed request, backdated and
# future-dated framed requests, an expired directory certification) is
# refused with exit 3, its reason on stderr and in the audit log; the
# pseudonym scope of a directory entry; reveal --scope; policy explain with
# an ORI alone; policy check's directory summary.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-requesters.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
# requests here are judged on the clock: the example policy with its
# certifications to 2027-12-31 moved past this test's lifetime (NY0990000's
# lapsed one stays)
policy=$T/policy.yaml
sed 's/certified_until: 2027-12-31/certified_until: 2099-12-31/' "$DMVF_SRC/examples/policy.yaml" >"$policy"
unset DMVFILTER_PASSPHRASE

. "$DMVF_SRC/tests/cli_lib.sh"

# audited ID FIELD TEXT : the audit log's REQUEST entry of request ID has TEXT in FIELD
# (reason, or a dotted path such as claimed.agency_kind or request.agency_name)
audited() {
    "$cli" audit query "$T/log" --kind request --request-id "$1" >"$T/q.json" 2>"$T/q.err" || {
        bad "audit query for $1: $(cat "$T/q.err")"; return; }
    python3 - "$T/q.json" "$2" "$3" <<'EOF' && ok "audited $1: $2 has '$3'" || bad "audited $1: $2 lacks '$3'"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
if len(lines) != 1:
    sys.exit("%d entries" % len(lines))
v = json.loads(lines[0])
for k in sys.argv[2].split("."):
    v = v.get(k, "") if isinstance(v, dict) else ""
sys.exit(0 if sys.argv[3] in str(v) else "%s is %r" % (sys.argv[2], v))
EOF
}
said() { grep -qF -- "$2" "$T/err" && ok "$1: stderr says why" || bad "$1: stderr lacks '$2': $(head -3 "$T/err")"; }

expect_rc 0 "keys init" "$cli" keys init --keyring "$T/kr" --unsealed
"$gen" --count 3 --seed 7 --out "$T/rec.bin" || bad "generate records"
"$gen" --count 1 --seed 8 --out "$T/one.bin" || bad "generate a record"
F=(--policy "$policy" --keyring "$T/kr" --audit "$T/log" --notices "$T/notices.jsonl" --quiet)
ice=(--query-kind by_license --legal-process administrative_subpoena)

# ---- the ORI as sent: nothing is repaired ----
expect_rc 3 "--ori dcice0100" "$cli" filter "${F[@]}" "${ice[@]}" --ori dcice0100 --request-id lower \
    --in "$T/rec.bin" --out "$T/o"
said "--ori dcice0100" 'refused by the requester check, before any rule: bad request: ORI "dcice0100": an ORI is exactly 9 characters A-Z or 0-9'
check "--ori dcice0100: nothing released" [ ! -s "$T/o" ]
audited lower reason 'bad request: ORI "dcice0100"'
audited lower request.ori dcice0100
expect_rc 3 "--ori ' DCICE0100'" "$cli" filter "${F[@]}" "${ice[@]}" --ori " DCICE0100" --request-id padded \
    --in "$T/rec.bin" --out "$T/o"
said "--ori ' DCICE0100'" 'bad request: ORI " DCICE0100"'
audited padded reason 'bad request: ORI " DCICE0100"'
expect_rc 3 "an ORI not in the directory" "$cli" filter "${F[@]}" "${ice[@]}" --ori XX0000000 \
    --request-id unknown --in "$T/rec.bin" --out "$T/o"
said "an ORI not in the directory" "ORI XX0000000 is not in the requester directory"
audited unknown reason "ORI XX0000000 is not in the requester directory"

# ---- tags as sent ----
for t in Immigration-Enforcement immigration_enforcement "immigration-enforcement "; do
    id=tag-$(printf '%s' "$t" | tr -c 'A-Za-z0-9' '_')
    expect_rc 3 "--tag '$t'" "$cli" filter "${F[@]}" "${ice[@]}" --ori DCICE0100 --tag "$t" \
        --request-id "$id" --in "$T/rec.bin" --out "$T/o"
    said "--tag '$t'" "bad request: tag \"$t\""
    audited "$id" reason "bad request: tag \"$t\""
done
expect_rc 3 "--tag task-force (not the directory's)" "$cli" filter "${F[@]}" "${ice[@]}" --ori DCICE0100 \
    --tag task-force --request-id tag-other --in "$T/rec.bin" --out "$T/o"
said "--tag task-force" "the request says tags [task-force]; the directory says [immigration-enforcement]"
audited tag-other reason "the request says tags [task-force]"

# ---- no tag at all: the directory's tag meets the immigration rule ----
expect_rc 3 "DCICE, no tag, administrative subpoena" "$cli" filter "${F[@]}" "${ice[@]}" --ori DCICE0100 \
    --request-id notag --in "$T/rec.bin" --out "$T/o"
said "DCICE, no tag" "refused by rule 'immigration enforcement': legal process administrative_subpoena not in"
said "DCICE, no tag: reply form" "reply form: not-found"
audited notag rule "immigration enforcement"
audited notag request.tags "immigration-enforcement"
audited notag request.agency_name "ICE ERO"
expect_rc 0 "DCICE, no tag, court order, one record" "$cli" filter "${F[@]}" --ori DCICE0100 \
    --query-kind by_license --legal-process court_order --request-id notag-co --in "$T/one.bin" --out "$T/o"
check "court order: one record released" [ -s "$T/o" ]
check "court order: the subject notice is queued" grep -q '"request_id":"notag-co"' "$T/notices.jsonl"
check "the notice names the directory's requester" \
    grep -q '"request_id":"notag-co","ori":"DCICE0100","agency":"ICE ERO","agency_kind":"federal","tags":\["immigration-enforcement"\]' "$T/notices.jsonl"

# ---- a claimed kind or jurisdiction ----
expect_rc 3 "NY police claiming internal" "$cli" filter "${F[@]}" --ori NY0300000 --agency-kind internal \
    --jurisdiction NY --agency-name "NY DMV" --query-kind by_license --request-id claim-internal \
    --in "$T/rec.bin" --out "$T/o"
said "NY police claiming internal" "the request says agency kind internal; the directory says local"
check "claiming internal: nothing released" [ ! -s "$T/o" ]
audited claim-internal reason "the request says agency kind internal; the directory says local"
audited claim-internal claimed.agency_kind internal
audited claim-internal claimed.agency_name "NY DMV"
audited claim-internal request.agency_name "Albany Police Department"
expect_rc 3 "--jurisdiction tx" "$cli" filter "${F[@]}" "${ice[@]}" --ori DCICE0100 --jurisdiction tx \
    --request-id jur-lower --in "$T/rec.bin" --out "$T/o"
said "--jurisdiction tx" 'bad request: jurisdiction "tx": a jurisdiction is two letters A-Z'
audited jur-lower reason 'bad request: jurisdiction "tx"'
expect_rc 3 "--jurisdiction TX" "$cli" filter "${F[@]}" "${ice[@]}" --ori DCICE0100 --jurisdiction TX \
    --request-id jur-tx --in "$T/rec.bin" --out "$T/o"
said "--jurisdiction TX" "the request says jurisdiction TX; the directory says DC"
audited jur-tx reason "the request says jurisdiction TX; the directory says DC"

# ---- an expired directory certification ----
expect_rc 3 "NY0990000: its agreement lapsed 2025-06-30" "$cli" filter "${F[@]}" --ori NY0990000 --purpose 1 \
    --query-kind by_license --request-id lapsed --in "$T/rec.bin" --out "$T/o"
said "lapsed" "the requester directory's certification of NY0990000 expired 2025-06-30"
audited lapsed reason "the requester directory's certification of NY0990000 expired 2025-06-30"
expect_rc 0 "NY0990000 judged as of its last day (--date)" "$cli" filter "${F[@]}" --ori NY0990000 \
    --purpose 1 --query-kind by_license --request-id lapsed-replay --date 2025-06-30 \
    --in "$T/rec.bin" --out "$T/o"
audited lapsed-replay judged_as_of 2025-06-30
audited lapsed-replay request.date 2025-06-30
"$cli" audit query "$T/log" --kind request --request-id lapsed >"$T/q.json"
check "judged on the clock: no judged_as_of" ! grep -q judged_as_of "$T/q.json"

# ---- framed requests ----
G=(--framed --count 2 --seed 9)
"$gen" "${G[@]}" --request-id f-internal --ori NY0300000 --agency-kind internal --jurisdiction NY \
    --out "$T/f1.bin" &&
"$gen" "${G[@]}" --request-id f-noori --ori "" --out "$T/f2.bin" &&
"$gen" "${G[@]}" --request-id f-padded --ori " DCICE0100" --legal-process judicial_warrant --out "$T/f3.bin" &&
"$gen" "${G[@]}" --request-id f-backdated --ori NY0990000 --date 20250101 --out "$T/f4.bin" &&
"$gen" --framed --count 1 --seed 9 --request-id f-future --ori DCICE0100 --legal-process judicial_warrant \
    --date 20991230 --out "$T/f5.bin" &&
"$gen" --framed --count 1 --seed 9 --request-id f-police --ori NY0300000 --out "$T/f6.bin" ||
    bad "generate framed requests"
cat "$T/f1.bin" "$T/f2.bin" "$T/f3.bin" "$T/f4.bin" "$T/f5.bin" "$T/f6.bin" >"$T/framed.bin"
rm -f "$T/notices.jsonl"
FR=(--policy "$policy" --keyring "$T/kr" --audit "$T/log" --notices "$T/notices.jsonl" --format framed)
expect_rc 3 "framed: five refused, one released" "$cli" filter "${FR[@]}" --in "$T/framed.bin" \
    --out "$T/framed.out"
said "framed internal" "request f-internal: refused by the requester check, before any rule: the request says agency kind internal; the directory says local"
said "framed without an ORI" "request f-noori: refused by the requester check, before any rule: bad request: the request names no ORI"
said "framed padded" "request f-padded: refused by the requester check, before any rule: bad request: ORI \" DCICE0100\""
said "framed backdated" "request f-backdated: refused by the requester check, before any rule: bad request: it is dated 2025-01-01, and requests are judged on the DMV's clock"
said "framed future-dated" "request f-future: refused by the requester check, before any rule: bad request: it is dated 2099-12-30"
said "framed summary" "6 requests: 1 released, 5 refused"
check "framed: the future-dated request queued no notice" [ ! -s "$T/notices.jsonl" ]
audited f-internal reason "the request says agency kind internal; the directory says local"
audited f-internal claimed.agency_kind internal
audited f-noori reason "bad request: the request names no ORI"
audited f-backdated reason "bad request: it is dated 2025-01-01"
audited f-backdated claimed.date 2025-01-01
audited f-future reason "bad request: it is dated 2099-12-30"
audited f-future notices 0
audited f-police decision release
expect_rc 0 "framed: the release verifies" "$cli" verify --public-key <("$cli" keys export-public --keyring "$T/kr") \
    --in "$T/framed.out"
check "verify: six requests" grep -q "verified: 6 requests" "$T/stdout"

# ---- one pseudonym scope, many ORIs ----
R=(--policy "$policy" --keyring "$T/kr" --quiet --purpose 5 --query-kind list --in "$T/rec.bin")
"$cli" filter "${R[@]}" --ori NYRES0001 --out "$T/r1" && "$cli" filter "${R[@]}" --ori NYRES0002 --out "$T/r2" &&
"$cli" filter "${R[@]}" --ori NYUNIV000 --out "$T/u0" && "$cli" filter "${R[@]}" --ori NYUNIV001 --out "$T/u1" ||
    bad "research releases"
check "one scope (suny-study), two ORIs: the same pseudonyms" cmp -s "$T/r1" "$T/r2"
check "no scope: two ORIs, different pseudonyms" ! cmp -s "$T/u0" "$T/u1"
tok=$(python3 - "$T/r1" <<'EOF'
import re, sys
m = re.search(rb"E[0-9a-f]{4}\.[A-Za-z0-9_-]+", open(sys.argv[1], "rb").read())
print(m.group(0).decode() if m else "")
EOF
)
check "a token in the research release" [ -n "$tok" ]
# the token is a length-prefixed string: the pattern may run into the next field's key, so
# reveal the longest prefix that decrypts
reveal_scope() { local t=$1; shift; while [ ${#t} -gt 6 ]; do
    "$cli" reveal --keyring "$T/kr" "$@" "$t" >/dev/null 2>&1 && return 0; t=${t%?}; done; return 1; }
check "reveal --scope suny-study" reveal_scope "$tok" --scope suny-study
check "reveal under the ORI does not" ! reveal_scope "$tok" --ori NYRES0001
expect_rc 64 "reveal with both --ori and --scope" "$cli" reveal --keyring "$T/kr" --ori NYRES0001 \
    --scope suny-study x

# ---- policy explain: an ORI alone ----
expect_rc 0 "explain --ori DCICE0100" "$cli" policy explain "$policy" --ori DCICE0100
check "explain: what the directory says" grep -q "^requester directory: DCICE0100 is ICE ERO (entry ORI prefix DCICE, " "$T/stdout"
check "explain: judged today" grep -q "^judged on: .* (today, the DMV's clock, UTC)" "$T/stdout"
check "explain: the immigration rule" grep -q "^rule: 'immigration enforcement'" "$T/stdout"
expect_rc 0 "explain --date" "$cli" policy explain "$policy" --ori NYRES0001 --date 2026-11-22
check "explain: judged as of --date" grep -q "^judged on: 2026-11-22 (as of this date" "$T/stdout"
check "explain: the scope" grep -q "scope suny-study (the entry's)" "$T/stdout"
expect_rc 0 "explain a bad request" "$cli" policy explain "$policy" --ori dcice0100
check "explain: refused before the rules" grep -q "^rule: none judged: the request is refused before the rules" "$T/stdout"
check "explain: the reason" grep -q '^reason: bad request: ORI "dcice0100"' "$T/stdout"

# ---- policy check: the directory ----
expect_rc 0 "policy check" "$cli" policy check "$policy"
check "check: the directory's size" grep -qE "^requester directory: [0-9]+ entries \([0-9]+ exact ORIs, 3 ORI prefixes\)" "$T/stdout"
check "check: kinds" grep -q "^  kinds: federal 3, state 1, local 4" "$T/stdout"
check "check: tags" grep -q "^  tags: immigration-enforcement (2)" "$T/stdout"
check "check: scopes" grep -q "suny-study (2)" "$T/stdout"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
