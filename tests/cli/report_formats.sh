#!/usr/bin/env bash
# report_formats.sh - the audit log and the transparency report count the
# same whatever the input's format: the same records (dmvf-gen writes the
# same records for the same seed as protobuf, JSON Lines and CSV) filtered
# with `dmvfilter filter --format records|jsonl|csv` give RELEASE entries
# with the same per-field counts (path, action, class, values) and reports
# (JSON and CSV) with the same figures in every row, for a release, a
# release of some fields only and a refusal, on one thread and on several.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-report-formats.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE
. "$DMVF_SRC/tests/cli_lib.sh"

expect_rc 0 "keys init --unsealed" "$cli" keys init --keyring "$T/kr" --unsealed
sed -e '/max_records: 50/d' -e '/notify_subject: *true/d' "$DMVF_SRC/examples/policy.yaml" >"$T/policy.yaml"
for f in pb jsonl csv; do
    expect_rc 0 "generate 400 records as $f" "$gen" --count 400 --seed 13 --marked 0.3 --format "$f" \
        --out "$T/in.$f"
done
police=(--ori NY0300000 --agency-kind local --jurisdiction NY --purpose 1 --query-kind by_license
        --request-id t-police)
research=(--ori NYUNIV000 --agency-kind research --purpose 5 --query-kind list --request-id t-research)
ice=(--ori DCICE0100 --agency-kind federal --tag immigration-enforcement --legal-process
     administrative_subpoena --query-kind by_license --request-id t-ice)
ext() { [ "$1" = records ] && echo pb || echo "$1"; }

# each format's own log: the three requesters, --threads 1 and 2
for fi in records jsonl csv; do
    for n in 1 2; do
        for who in police research ice; do
            declare -n args=$who
            "$cli" filter --policy "$T/policy.yaml" --keyring "$T/kr" --date 2026-11-22 --quiet \
                "${args[@]}" --format "$fi" --threads "$n" --audit "$T/log.$fi.$n" \
                --in "$T/in.$(ext "$fi")" --out "$T/out.$fi.$n.$who" 2>"$T/err"
            rc=$?
            want=0; [ "$who" = ice ] && want=3
            check "$fi, --threads $n, $who: exit $want" [ "$rc" -eq "$want" ]
        done
    done
done

# the RELEASE entries' counts, without times, seqs and the reader's format
fields() {
    "$cli" audit query "$1" --kind release 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    print(e["request"]["request_id"], e["records_in"], e["records_out"], e["records_dropped"])
    for f in e.get("fields", []):
        print("  ", f["path"], f["action"], f["class"], f["values"])
'
}
fields "$T/log.records.1" >"$T/f.want"
check "the RELEASE entries count fields" grep -q 'person.family_name release ordinary 400' "$T/f.want"
check "... and redacted ones" grep -q ' redact ' "$T/f.want"
# the refusal has no RELEASE entry: two releases
check "two RELEASE entries" [ "$(grep -c '^t-' "$T/f.want")" -eq 2 ]
for fi in records jsonl csv; do
    for n in 1 2; do
        fields "$T/log.$fi.$n" >"$T/f.$fi.$n"
        check "$fi, --threads $n: the per-field counts of protobuf input" cmp -s "$T/f.want" "$T/f.$fi.$n"
    done
done

# the reports: every figure of every row
report() { "$cli" audit report "$1" --from 2000-01-01 --to 2099-12-31 --format "$2" 2>/dev/null; }
report "$T/log.records.1" json | python3 -c '
import json, sys
r = json.load(sys.stdin); t = r["totals"]
ok = t["requests"] == 3 and t["released"] == 2 and t["refused"] == 1 and t["records_released"] == 800
ok = ok and t["fields_released_ordinary"] > 0 and t["fields_redacted"] > 0
ok = ok and [x["key"] for x in r["breakdowns"]["client"]] == ["(none)"]
sys.exit(0 if ok else 1)' && ok "the report of protobuf input counts the traffic" ||
    bad "the report of protobuf input counts the traffic"
figures() { report "$1" json | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(json.dumps({"totals": r["totals"], "breakdowns": r["breakdowns"]}, sort_keys=True, indent=1))'; }
figures "$T/log.records.1" >"$T/r.want"
report "$T/log.records.1" csv >"$T/c.want"
for fi in records jsonl csv; do
    for n in 1 2; do
        figures "$T/log.$fi.$n" >"$T/r.$fi.$n"
        check "$fi, --threads $n: the JSON report's figures are protobuf input's" cmp -s "$T/r.want" "$T/r.$fi.$n"
        report "$T/log.$fi.$n" csv >"$T/c.$fi.$n"
        check "$fi, --threads $n: the CSV report is protobuf input's" cmp -s "$T/c.want" "$T/c.$fi.$n"
    done
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
