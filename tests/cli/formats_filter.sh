#!/usr/bin/env bash
# formats_filter.sh - `dmvfilter filter --format records|jsonl|csv
# --output-format records|jsonl|csv` end to end (issue 12): every pair gives
# the same bytes for every --threads N (also with quoted line breaks in CSV
# and gzip members), the same records whatever the input format (converted
# to one format and compared), gzip input, --field, --max-record-bytes and
# --drop-malformed with their exit codes, malformed text records reported
# with line, byte column and record index (the same for every N), unknown
# keys and columns dropped, counted and named on stderr and in the RELEASE
# entry, and CSV output's empty release and refusal.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-formats.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE DMVF_CHUNK_BYTES DMVF_GZIP_MEMBER_BYTES
. "$DMVF_SRC/tests/cli_lib.sh"
same() { if cmp -s "$2" "$3"; then ok "$1"; else bad "$1 ($(cmp "$2" "$3" 2>&1 | head -1))"; fi; }

police=(--ori NY0300000 --agency-kind local --jurisdiction NY --purpose 1
        --query-kind by_license --request-id t-police --date 2026-11-22)
research=(--ori NYUNIV000 --agency-kind research --purpose 5 --query-kind list
          --request-id t-research --date 2026-11-22)
expect_rc 0 "keys init --unsealed" "$cli" keys init --keyring "$T/kr" --unsealed
sed '/max_records: 50/d' "$DMVF_SRC/examples/policy.yaml" >"$T/policy.yaml"
F=(--policy "$T/policy.yaml" --keyring "$T/kr")
for f in pb jsonl csv; do
    expect_rc 0 "generate 3000 records as $f" "$gen" --count 3000 --seed 21 --marked 0.3 --format "$f" \
        --out "$T/in.$f"
done
ext() { [ "$1" = records ] && echo pb || echo "$1"; }
# CSV input with quoted line breaks, commas and quotes in released names
python3 - "$T/in.csv" "$T/q.csv" <<'EOF'
import csv, io, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
h = rows[0]; i = h.index("person.family_name")
for k, r in enumerate(rows[1:]):
    if k % 7 == 0 and r[i]: r[i] = r[i][:3] + "\n" + r[i][3:] + ', "jr"'
out = io.StringIO(); csv.writer(out, lineterminator="\n").writerows(rows)
open(sys.argv[2], "w", newline="").write(out.getvalue())
EOF
check "the CSV input holds quoted line breaks" grep -q '^[^,]*,"[A-Za-z]\{1,3\}$' "$T/q.csv"

# ---- every pair of formats: the same bytes for every --threads N ----
export DMVF_CHUNK_BYTES=32K DMVF_GZIP_MEMBER_BYTES=16K
for fi in records jsonl csv; do
    for fo in records jsonl csv; do
        o=$T/out.$fi.$fo
        expect_rc 0 "$fi -> $fo, --threads 1" "$cli" filter "${F[@]}" "${research[@]}" --format "$fi" \
            --output-format "$fo" --threads 1 --in "$T/in.$(ext "$fi")" --out "$o.1"
        grep -q "released 3000 of 3000 records" "$T/err" && ok "$fi -> $fo: summary" || bad "$fi -> $fo: $(cat "$T/err")"
        for n in 2 3; do
            expect_rc 0 "$fi -> $fo, --threads $n" "$cli" filter "${F[@]}" "${research[@]}" --format "$fi" \
                --output-format "$fo" --threads "$n" --in "$T/in.$(ext "$fi")" --out "$o.$n"
            same "$fi -> $fo: --threads $n gives the bytes of --threads 1" "$o.1" "$o.$n"
        done
        for n in 1 3; do
            expect_rc 0 "$fi -> $fo, --gzip --threads $n" "$cli" filter "${F[@]}" "${research[@]}" \
                --format "$fi" --output-format "$fo" --gzip --threads "$n" --in "$T/in.$(ext "$fi")" \
                --out "$o.gz$n"
        done
        same "$fi -> $fo: --gzip --threads 3 gives the bytes of --threads 1" "$o.gz1" "$o.gz3"
        check "$fi -> $fo: --gzip gunzips to the plain output" cmp -s <(gzip -dc "$o.gz1") "$o.1"
    done
done
# the default output format is the input's
expect_rc 0 "jsonl without --output-format" "$cli" filter "${F[@]}" "${research[@]}" --format jsonl \
    --in "$T/in.jsonl" --out "$T/dflt"
same "jsonl in gives jsonl out by default" "$T/out.jsonl.jsonl.1" "$T/dflt"

# ---- the same records whatever the input format (differential) ----
same "jsonl in, records out = records in, records out" "$T/out.records.records.1" "$T/out.jsonl.records.1"
same "csv in, records out = records in, records out" "$T/out.records.records.1" "$T/out.csv.records.1"
same "csv in, jsonl out = records in, jsonl out" "$T/out.records.jsonl.1" "$T/out.csv.jsonl.1"
same "jsonl in, jsonl out = records in, jsonl out" "$T/out.records.jsonl.1" "$T/out.jsonl.jsonl.1"
same "jsonl in, csv out = records in, csv out (the profile's columns)" "$T/out.records.csv.1" \
    "$T/out.jsonl.csv.1"
expect_rc 0 "csv -> csv -> jsonl" "$cli" filter "${F[@]}" --ori NYDMV0000 --agency-kind internal \
    --jurisdiction NY --purpose 1 --query-kind list --date 2026-11-22 --format csv --output-format jsonl \
    --in "$T/out.csv.csv.1" --out "$T/back.jsonl"
head -c 1 "$T/out.csv.csv.1" | grep -q r && ok "csv -> csv keeps a header" || bad "csv -> csv: no header"

# ---- gzip input ----
gzip -c "$T/in.jsonl" >"$T/in.jsonl.gz"
expect_rc 0 "gzip jsonl input, --threads 2" "$cli" filter "${F[@]}" "${research[@]}" --format jsonl \
    --threads 2 --in "$T/in.jsonl.gz" --out "$T/gzin"
same "gzip jsonl input gives the plain input's output" "$T/out.jsonl.jsonl.1" "$T/gzin"

# ---- quoted line breaks in CSV: chunks cut only between records ----
for n in 1 2 3; do
    DMVF_CHUNK_BYTES=1 expect_rc 0 "quoted line breaks, a chunk per record, --threads $n" "$cli" filter \
        "${F[@]}" "${police[@]}" --format csv --threads "$n" --in "$T/q.csv" --out "$T/q.$n"
    DMVF_CHUNK_BYTES=1 DMVF_GZIP_MEMBER_BYTES=4K expect_rc 0 "quoted line breaks, --gzip --threads $n" \
        "$cli" filter "${F[@]}" "${police[@]}" --format csv --gzip --threads "$n" --in "$T/q.csv" \
        --out "$T/q.$n.gz"
done
same "quoted line breaks: --threads 2 = --threads 1" "$T/q.1" "$T/q.2"
same "quoted line breaks: --threads 3 = --threads 1" "$T/q.1" "$T/q.3"
same "quoted line breaks, gzip: --threads 3 = --threads 1" "$T/q.1.gz" "$T/q.3.gz"
check "quoted line breaks, gzip: gunzips to the plain output" cmp -s <(gzip -dc "$T/q.1.gz") "$T/q.1"
python3 - "$T/q.1" <<'EOF' && ok "quoted line breaks reach the output whole (3001 rows)" || bad "quoted line breaks"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
i = rows[0].index("person.family_name")
assert len(rows) == 3001, len(rows)
assert sum("\n" in r[i] for r in rows[1:]) > 300
EOF

# ---- --field, --max-record-bytes ----
expect_rc 0 "--field person.birth_date, jsonl" "$cli" filter "${F[@]}" "${research[@]}" --format jsonl \
    --field person.birth_date --in "$T/in.jsonl" --out "$T/field"
check "--field: only person.birth_date is released" \
    python3 -c 'import json,sys; assert all(list(json.loads(l))==["person"] and list(json.loads(l)["person"])==["birth_date"] for l in open(sys.argv[1]))' "$T/field"
expect_rc 0 "--field person.birth_date, csv out" "$cli" filter "${F[@]}" "${research[@]}" --format jsonl \
    --output-format csv --field person.birth_date --in "$T/in.jsonl" --out "$T/field.csv"
check "--field: the CSV header is the one column" [ "$(head -1 "$T/field.csv")" = person.birth_date ]
for n in 1 3; do
    expect_rc 65 "--max-record-bytes 300, jsonl, --threads $n" "$cli" filter "${F[@]}" "${research[@]}" \
        --format jsonl --max-record-bytes 300 --threads "$n" --in "$T/in.jsonl" --out "$T/big"
    cp "$T/err" "$T/big.err.$n"
    check "--max-record-bytes: no output file" [ ! -e "$T/big" ]
done
grep -q "record too large.*(record [0-9]*): line [0-9]*: a line longer than the record limit of 300 bytes" \
    "$T/big.err.1" && ok "--max-record-bytes: line and record named" || bad "--max-record-bytes: $(cat "$T/big.err.1")"
same "--max-record-bytes: the same message for --threads 3" "$T/big.err.1" "$T/big.err.3"

# ---- malformed text records: line, byte column, record index; --drop-malformed ----
python3 - "$T/in.jsonl" "$T/bad.jsonl" <<'EOF'
import sys
lines = open(sys.argv[1]).read().splitlines(True)
lines[1500] = '{"record_id":"x", "person": 5}\n'
open(sys.argv[2], "w").write("".join(lines))
EOF
for n in 1 3; do
    expect_rc 65 "a malformed JSON line, --threads $n" "$cli" filter "${F[@]}" "${research[@]}" \
        --format jsonl --threads "$n" --in "$T/bad.jsonl" --out "$T/bad"
    cp "$T/err" "$T/bad.err.$n"
    check "a malformed JSON line: no output file" [ ! -e "$T/bad" ]
done
grep -q "malformed record at byte offset [0-9]* (record 1500): line 1501, column 29: field 'person'" \
    "$T/bad.err.1" && ok "malformed JSON: line 1501, column 29, record 1500" || bad "malformed JSON: $(cat "$T/bad.err.1")"
same "malformed JSON: the same message for --threads 3" "$T/bad.err.1" "$T/bad.err.3"
expect_rc 0 "--drop-malformed, jsonl" "$cli" filter "${F[@]}" "${research[@]}" --format jsonl --threads 3 \
    --drop-malformed --in "$T/bad.jsonl" --out "$T/dropped"
grep -q "released 2999 of 3000 records.*1 malformed dropped" "$T/err" && ok "--drop-malformed: counted" \
    || bad "--drop-malformed: $(cat "$T/err")"
python3 - "$T/q.csv" "$T/bad.csv" <<'EOF'
import sys
d = open(sys.argv[1], newline="").read().split("\n")
# the header is line 1; a row with a stray quote on the line after 2 quoted breaks
k = 40
d[k] = 'x"y' + d[k][3:]
open(sys.argv[2], "w", newline="").write("\n".join(d))
EOF
for n in 1 3; do
    DMVF_CHUNK_BYTES=1 expect_rc 65 "a malformed CSV row, --threads $n" "$cli" filter "${F[@]}" "${police[@]}" \
        --format csv --threads "$n" --in "$T/bad.csv" --out "$T/bad"
    cp "$T/err" "$T/badcsv.err.$n"
done
grep -q "malformed record at byte offset [0-9]* (record [0-9]*): line 41, column 2: " "$T/badcsv.err.1" \
    && ok "malformed CSV: line 41, column 2" || bad "malformed CSV: $(cat "$T/badcsv.err.1")"
same "malformed CSV: the same message for --threads 3" "$T/badcsv.err.1" "$T/badcsv.err.3"

# ---- unknown keys and columns: dropped, counted, named once, audited ----
python3 - "$T/in.jsonl" "$T/unk.jsonl" <<'EOF'
import json, sys
out = []
for k, l in enumerate(open(sys.argv[1])):
    r = json.loads(l)
    if k % 100 == 0:
        r["favoriteColor"] = "CANARY-UNKNOWN-%d" % k
        r.setdefault("person", {})["shoe_size"] = 44
    out.append(json.dumps(r) + "\n")
open(sys.argv[2], "w").write("".join(out))
EOF
for n in 1 3; do
    expect_rc 0 "unknown JSON keys, --threads $n, audited" "$cli" filter "${F[@]}" "${research[@]}" \
        --format jsonl --threads "$n" --audit "$T/audit$n" --in "$T/unk.jsonl" --out "$T/unk.$n"
    cp "$T/err" "$T/unk.err.$n"
done
grep -q "input: 60 unknown keys dropped, never released: person.shoe_size, favoriteColor$" "$T/unk.err.1" \
    && ok "unknown keys: counted and named once on stderr" || bad "unknown keys: $(cat "$T/unk.err.1")"
same "unknown keys: the same summary for --threads 3" "$T/unk.err.1" "$T/unk.err.3"
same "unknown keys: the release equals the release without them" "$T/out.jsonl.jsonl.1" "$T/unk.1"
check "unknown keys: no canary in the output" ! grep -q CANARY "$T/unk.1"
"$cli" audit query "$T/audit3" --kind release >"$T/q.json" 2>&1
grep -q '"note":"60 unknown keys dropped, never released: person.shoe_size, favoriteColor"' "$T/q.json" \
    && ok "unknown keys: the RELEASE entry says how many and which" || bad "unknown keys audit: $(grep -o "\"note\":\"[^\"]*\"" "$T/q.json")"
sed '1s/^/paint_color,/; 2,$s/^/CANARY-PAINT,/' "$T/in.csv" >"$T/unk.csv"
expect_rc 0 "an unknown CSV column, audited" "$cli" filter "${F[@]}" "${research[@]}" --format csv \
    --threads 2 --audit "$T/auditc" --in "$T/unk.csv" --out "$T/unkc"
grep -q "input: 1 unknown column dropped, never released: paint_color$" "$T/err" \
    && ok "unknown column: named once" || bad "unknown column: $(cat "$T/err")"
same "unknown column: the release equals the release without it" "$T/out.csv.csv.1" "$T/unkc"
"$cli" audit query "$T/auditc" --kind release >"$T/q.json" 2>&1
grep -q '"note":"1 unknown column dropped, never released: paint_color"' "$T/q.json" \
    && ok "unknown column: in the RELEASE entry" || bad "unknown column audit: $(grep -o "\"note\":\"[^\"]*\"" "$T/q.json")"

# ---- an empty release and a refusal in CSV: nothing ----
head -1 "$T/in.csv" >"$T/none.csv"
expect_rc 0 "a CSV input of no record" "$cli" filter "${F[@]}" "${research[@]}" --format csv \
    --in "$T/none.csv" --out "$T/none"
check "a release of no record is empty (no header)" [ ! -s "$T/none" ]
expect_rc 3 "a refused request, csv out" "$cli" filter "${F[@]}" --ori DCICE0000 --purpose 1 \
    --query-kind list --date 2026-11-22 --format jsonl --output-format csv --in "$T/in.jsonl" --out "$T/ref"
check "a refusal writes nothing" [ ! -s "$T/ref" ]

# ---- policy explain --output-format csv: the header the requester receives ----
expect_rc 0 "policy explain --output-format csv, researchers" "$cli" policy explain "$T/policy.yaml" \
    --output-format csv "${research[@]}"
check "explain's columns are the header filter writes" cmp -s "$T/stdout" <(head -1 "$T/out.records.csv.1")
internal=(--ori NYDMV0000 --agency-kind internal --jurisdiction NY --purpose 1 --query-kind list --date 2026-11-22)
expect_rc 0 "policy explain --output-format csv --csv-elements vehicles=2" "$cli" policy explain \
    "$T/policy.yaml" --output-format csv --csv-elements vehicles=2 "${internal[@]}"
check "two vehicle groups" [ "$(tr , '\n' <"$T/stdout" | grep -c '^vehicles\.[0-9]*\.plate$')" = 2 ]
expect_rc 0 "filter --output-format csv --csv-elements vehicles=2 of one-vehicle records" "$cli" filter \
    "${F[@]}" "${internal[@]}" --output-format csv --csv-elements vehicles=2 --in "$T/in.pb" --out "$T/v2.csv" \
    --field record_id --field vehicles.plate
expect_rc 0 "explain with the same --field" "$cli" policy explain "$T/policy.yaml" --output-format csv \
    --csv-elements vehicles=2 "${internal[@]}" --field record_id --field vehicles.plate
check "explain gives that header (${internal[0]}, --field)" cmp -s "$T/stdout" <(head -1 "$T/v2.csv")
expect_rc 3 "policy explain --output-format csv of a refused request" "$cli" policy explain "$T/policy.yaml" \
    --output-format csv --ori DCICE0000 --purpose 1 --query-kind list --date 2026-11-22
check "a refused request has no columns" [ ! -s "$T/stdout" ]
expect_rc 64 "policy explain --output-format jsonl" "$cli" policy explain "$T/policy.yaml" \
    --output-format jsonl "${research[@]}"

# ---- usage ----
expect_rc 64 "--format xml" "$cli" filter "${F[@]}" "${research[@]}" --format xml
expect_rc 64 "--output-format framed" "$cli" filter "${F[@]}" "${research[@]}" --output-format framed
expect_rc 64 "framed input, jsonl output" "$cli" filter "${F[@]}" --format framed --output-format jsonl
expect_rc 64 "--csv-elements bogus" "$cli" filter "${F[@]}" "${research[@]}" --output-format csv \
    --csv-elements vehicles=0
expect_rc 65 "more vehicles than --csv-elements gives them" "$cli" filter "${F[@]}" --ori NYDMV0000 \
    --agency-kind internal --jurisdiction NY --purpose 1 --query-kind list --date 2026-11-22 \
    --output-format csv --csv-elements vehicles=1 --in "$T/in.pb" --out "$T/cut"
check "more elements than columns: an error, no output" [ ! -e "$T/cut" ]

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
