#!/usr/bin/env bash
# review.sh - `dmvfilter review keygen|list|show|approve|deny` end to end:
# reviewer keys (sealed, unsealed, too open, wrong passphrase), and the full
# path: a request whose rule says review exits 4 and releases nothing, its
# item appears in the spool, a reviewer sees it, approves it, and the output
# is byte for byte what a release rule with the same profile releases; deny;
# a second decision refused; a flipped byte in the sealed item; usage errors.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-review.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE DMVFILTER_REVIEW_PASSPHRASE

. "$DMVF_SRC/tests/cli_lib.sh"

# ---- help and usage ----
expect_rc 0 "review --help" "$cli" review --help
check "help names every subcommand" grep -q "review keygen" "$T/stdout"
check "help lists the exit codes" grep -q "5 tampered" "$T/stdout"
expect_rc 0 "help review" "$cli" help review
expect_rc 0 "review show --help" "$cli" review show --help
expect_rc 64 "review without a subcommand" "$cli" review
expect_rc 64 "review bogus" "$cli" review bogus
expect_rc 64 "review list without --spool" "$cli" review list
expect_rc 64 "review list --spool and --policy" "$cli" review list --spool "$T/s" --policy "$T/p"
expect_rc 64 "review list: unknown flag" "$cli" review list --spool "$T/s" --frobnicate
expect_rc 64 "review show without an id" "$cli" review show --spool "$T/s" --secret-key "$T/k"
expect_rc 64 "review show without --secret-key" "$cli" review show 0123 --spool "$T/s"
expect_rc 64 "review approve without --out" "$cli" review approve 0123 --spool "$T/s" \
    --secret-key "$T/k" --reviewer me
expect_rc 64 "review deny without --reviewer" "$cli" review deny 0123 --spool "$T/s" \
    --secret-key "$T/k"
expect_rc 64 "review deny: --audit without --keyring" "$cli" review deny 0123 --spool "$T/s" \
    --secret-key "$T/k" --reviewer me --audit "$T/audit"
expect_rc 74 "review list: no such spool" "$cli" review list --spool "$T/nospool"

# ---- keys ----
printf 'correct horse\n' >"$T/pass"
printf 'wrong horse\n' >"$T/wrong"
expect_rc 0 "review keygen, sealed" "$cli" review keygen --secret-key "$T/rev.key" \
    --public-key "$T/rev.pub" --passphrase-file "$T/pass"
check "keygen says sealed" grep -q "sealed, mode 0600" "$T/stdout"
check "secret key is mode 0600" [ "$(stat -c %a "$T/rev.key")" = 600 ]
check "public key file format" grep -qE '^dmvfilter-x25519-public [0-9a-f]{64}$' "$T/rev.pub"
check "the passphrase is not in the key file" ! grep -q "correct horse" "$T/rev.key"
sum=$(cksum <"$T/rev.key")
expect_rc 74 "keygen over an existing key" "$cli" review keygen --secret-key "$T/rev.key" \
    --public-key "$T/rev2.pub" --passphrase-file "$T/pass"
check "the existing key is untouched" [ "$(cksum <"$T/rev.key")" = "$sum" ]
check "no public key written beside it" [ ! -e "$T/rev2.pub" ]
expect_rc 0 "review keygen, unsealed (another reviewer key)" "$cli" review keygen \
    --secret-key "$T/other.key" --public-key "$T/other.pub"
check "keygen says unsealed" grep -q "unsealed" "$T/stdout"
: >"$T/emptypass"
expect_rc 64 "keygen with an empty passphrase" "$cli" review keygen --secret-key "$T/e.key" \
    --public-key "$T/e.pub" --passphrase-file "$T/emptypass"
check "no key after the refused keygen" [ ! -e "$T/e.key" ]

# ---- policy, keyring, records ----
expect_rc 0 "keys init --unsealed" "$cli" keys init --keyring "$T/kr" --unsealed
cat >"$T/policy.yaml" <<'EOF'
version: 1
profiles:
  federal:
    default: redact
    fields:
      record_id: pseudonymize
      person.family_name: release
      person.given_name: release
      person.birth_date: {generalize: year}
      license.number: release
      vehicles.*: release
review:
  spool: spool
  public_key: rev.pub
requesters:     # one agreement, two ORIs: one pseudonym scope
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
{ cat "$T/policy.yaml"; printf 'audit:\n  dir: audit\n  required: true\n'; } >"$T/policy-audit.yaml"
expect_rc 0 "policy check" "$cli" policy check "$T/policy.yaml"
expect_rc 0 "generate 6 records" "$gen" --count 6 --seed 5 --out "$T/rec.bin"
fed=(--policy "$T/policy.yaml" --keyring "$T/kr" --ori DHSICE001 --agency-kind federal
     --agency-name "ICE ERO" --legal-process administrative_subpoena --query-kind by_name_dob)
S=(--policy "$T/policy.yaml" --secret-key "$T/rev.key" --passphrase-file "$T/pass")

if ! "$cli" filter --help | grep -q -- --review-spool; then
    echo "SKIP: 'dmvfilter filter' does not hold requests for review yet (no --review-spool)"
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
fi

# hold: exit 4, nothing released, one item appears
hold() { # hold REQUEST_ID : holds one request; prints its id
    "$cli" filter "${fed[@]}" --tag immigration-enforcement --request-id "$1" \
        --in "$T/rec.bin" --out "$T/held-$1.bin" >"$T/stdout" 2>"$T/err"
    echo $? >"$T/rc"
    sed -n 's/.*held for review as \([0-9a-f]\{32\}\).*/\1/p' "$T/err" | head -1
}
id=$(hold R1)
check "held: exit 4" [ "$(cat "$T/rc")" = 4 ]
check "held: nothing released (the reply is empty)" [ ! -s "$T/held-R1.bin" ]
check "held: stderr names the review id" [ -n "$id" ]
check "held: the spool holds the item" [ -e "$T/spool/$id.meta" ] && [ -e "$T/spool/$id.sealed" ]
check "held: item files are mode 0600" [ "$(stat -c %a "$T/spool/$id.sealed")" = 600 ]
# the same request from the agreement's other ORI (untagged, the same scope) is released
expect_rc 0 "the same request from an untagged ORI is released" "$cli" filter "${fed[@]}" \
    --ori DHSFED001 --request-id R1 --in "$T/rec.bin" --out "$T/released.bin"
check "the release is not empty" [ -s "$T/released.bin" ]

# list
expect_rc 0 "review list --policy" "$cli" review list --policy "$T/policy.yaml"
check "list shows the item pending" grep -qE "^$id .* pending +6 +DHSICE001" "$T/stdout"
check "list shows rule and agency" grep -q "immigration held for review / ICE ERO" "$T/stdout"
expect_rc 0 "review list --json" "$cli" review list --spool "$T/spool" --json
check "json line" grep -q "{\"id\":\"$id\",.*\"state\":\"pending\",\"records\":6,\"ori\":\"DHSICE001\"" "$T/stdout"

# show
expect_rc 79 "show: sealed key without a passphrase" "$cli" review show "$id" \
    --policy "$T/policy.yaml" --secret-key "$T/rev.key"
expect_rc 79 "show: wrong passphrase" "$cli" review show "$id" --policy "$T/policy.yaml" \
    --secret-key "$T/rev.key" --passphrase-file "$T/wrong"
expect_rc 79 "show: another reviewer's key" "$cli" review show "$id" --policy "$T/policy.yaml" \
    --secret-key "$T/other.key"
grep -q "sealed to reviewer key" "$T/err" && ok "wrong key: says so" || bad "wrong key: says so"
cp "$T/other.key" "$T/open.key" && chmod 644 "$T/open.key"
expect_rc 79 "show: key readable by others" "$cli" review show "$id" --spool "$T/spool" \
    --secret-key "$T/open.key"
expect_rc 64 "show: bad id" "$cli" review show "../$id" "${S[@]}"
expect_rc 64 "show: unknown id" "$cli" review show ffffffffffffffffffffffffffffffff "${S[@]}"
DMVFILTER_REVIEW_PASSPHRASE='correct horse' expect_rc 0 "show: env passphrase" "$cli" review \
    show "$id" --spool "$T/spool" --secret-key "$T/rev.key"
check "show: pending" grep -q "^review $id: pending" "$T/stdout"
check "show: the request" grep -q "administrative_subpoena" "$T/stdout"
check "show: the release summary" grep -q "would-be release: 6 records (of 6 read)" "$T/stdout"
check "show: no records without --records" ! grep -q "^record 1:" "$T/stdout"
expect_rc 0 "show --records" "$cli" review show "$id" "${S[@]}" --records
check "show --records: six records" [ "$(grep -c '^record [0-9]*:' "$T/stdout")" = 6 ]
check "show --records: released fields" grep -q "person.family_name: \"" "$T/stdout"
check "show --records: no redacted field value" ! grep -qE "(person\.ssn|marking\.[a-z_]+|photo\.[a-z_]+): " "$T/stdout"

# approve
expect_rc 64 "approve: --policy with required audit, no --keyring" "$cli" review approve "$id" \
    --policy "$T/policy-audit.yaml" --secret-key "$T/rev.key" --passphrase-file "$T/pass" \
    --reviewer "J. Rivera" --out "$T/x.bin"
check "approve refused: no output" [ ! -e "$T/x.bin" ]
expect_rc 79 "approve: another reviewer's key" "$cli" review approve "$id" --spool "$T/spool" \
    --secret-key "$T/other.key" --reviewer "J. Rivera" --out "$T/x.bin"
check "no output after a key error" [ ! -e "$T/x.bin" ]
expect_rc 0 "approve" "$cli" review approve "$id" "${S[@]}" --reviewer "J. Rivera" \
    --note "warrant seen" --out "$T/approved.bin"
check "approve: says how many records" grep -q "6 records released to" "$T/stdout"
check "approved output equals what the release rule releases" cmp -s "$T/approved.bin" "$T/released.bin"
check "approved output is mode 0600" [ "$(stat -c %a "$T/approved.bin")" = 600 ]
check "the item is marked approved" grep -qP "^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\tJ\. Rivera\twarrant seen$" "$T/spool/$id.approved"
expect_rc 64 "approve again" "$cli" review approve "$id" "${S[@]}" --reviewer "J. Rivera" \
    --out "$T/again.bin"
grep -q "already approved" "$T/err" && ok "says already approved" || bad "says already approved"
check "no second output" [ ! -e "$T/again.bin" ]
expect_rc 64 "deny after approve" "$cli" review deny "$id" "${S[@]}" --reviewer "K. Smith"
check "not marked denied" [ ! -e "$T/spool/$id.denied" ]

# deny
id2=$(hold R2)
check "second hold" [ -n "$id2" ] && [ "$(cat "$T/rc")" = 4 ]
expect_rc 0 "deny" "$cli" review deny "$id2" "${S[@]}" --reviewer "K. Smith" --note "no warrant"
check "deny says nothing released" grep -q "nothing released" "$T/stdout"
check "the item is marked denied" grep -q "K. Smith" "$T/spool/$id2.denied"
expect_rc 64 "approve after deny" "$cli" review approve "$id2" "${S[@]}" --reviewer "K. Smith" \
    --out "$T/d.bin"
check "no output after deny" [ ! -e "$T/d.bin" ]
expect_rc 0 "list after the decisions" "$cli" review list --spool "$T/spool"
check "list: approved" grep -qE "^$id .* approved " "$T/stdout"
check "list: denied" grep -qE "^$id2 .* denied " "$T/stdout"

# approve to standard output
id3=$(hold R3)
"$cli" review approve "$id3" "${S[@]}" --reviewer "J. Rivera" --out - >"$T/stdout.bin" 2>"$T/err"
check "approve --out -: exit 0" [ $? = 0 ]
check "approve --out -: the release on stdout" cmp -s "$T/stdout.bin" "$T/released.bin"
check "approve --out -: the summary on stderr" grep -q "released to standard output" "$T/err"

id3b=$(hold R3b)
expect_rc 0 "approve --out /dev/null" "$cli" review approve "$id3b" "${S[@]}" --reviewer "J. Rivera" \
    --out /dev/null
check "/dev/null is still a device" [ -c /dev/null ]

# tampering
id4=$(hold R4)
python3 - "$T/spool/$id4.sealed" <<'EOF'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x20
open(p, "wb").write(bytes(b))
EOF
expect_rc 5 "show: a flipped byte in the sealed item" "$cli" review show "$id4" "${S[@]}"
expect_rc 5 "approve: a flipped byte in the sealed item" "$cli" review approve "$id4" "${S[@]}" \
    --reviewer "J. Rivera" --out "$T/t.bin"
check "no output from a tampered item" [ ! -e "$T/t.bin" ]
check "the tampered item stays pending" [ ! -e "$T/spool/$id4.approved" ]
id5=$(hold R5)
mv "$T/spool/$id5.meta" "$T/m" && cp "$T/spool/$id.meta" "$T/spool/$id5.meta"
expect_rc 5 "show: a .meta copied from another item" "$cli" review show "$id5" "${S[@]}"
expect_rc 5 "list: a .meta copied from another item" "$cli" review list --spool "$T/spool"
check "list marks it damaged" grep -qE "^$id5 .* damaged" "$T/stdout"
mv "$T/m" "$T/spool/$id5.meta"
expect_rc 0 "the restored item shows" "$cli" review show "$id5" "${S[@]}"

# audited decisions
id6=$(hold R6)
expect_rc 0 "approve with --audit" "$cli" review approve "$id6" "${S[@]}" --reviewer "J. Rivera" \
    --out "$T/a6.bin" --audit "$T/audit" --keyring "$T/kr"
check "audited approve: the release" cmp -s "$T/a6.bin" "$T/released.bin"
check "the audit log exists" [ -d "$T/audit" ]
id7=$(hold R7)
expect_rc 0 "deny with --audit" "$cli" review deny "$id7" "${S[@]}" --reviewer "K. Smith" \
    --audit "$T/audit" --keyring "$T/kr"
expect_rc 0 "the audit log verifies" "$cli" audit verify "$T/audit" --keyring "$T/kr"
expect_rc 0 "the approval is in the log" "$cli" audit query "$T/audit" --kind review-approve
check "... naming the reviewer and the item" grep -q "\"review_id\":\"$id6\".*J. Rivera" "$T/stdout"
expect_rc 0 "the denial is in the log" "$cli" audit query "$T/audit" --kind review-deny
check "... naming the reviewer and the item" grep -q "\"review_id\":\"$id7\".*K. Smith" "$T/stdout"

echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
fi

# hold: exit 4, nothing released, one item appears
hold() { # hold REQUEST_ID : holds one request; prints its id
    "$cli" filter "${fed[@]}" --tag immigration-enforcement --request-id "$1" \
        --in "$T/rec.bin" --out "$T/held-$1.bin" >"$T/stdout" 2>"$T/err"
    echo $? >"$T/rc"
    sed -n 's/.*held for review as \([0-9a-f]\{32\}\).*/\1/p' "$T/err" | head -1
}
id=$(hold R1)
check "held: exit 4" [ "$(cat "$T/rc")" = 4 ]
check "held: nothing released (the reply is empty)" [ ! -s "$T/held-R1.bin" ]
check "held: stderr names the review id" [ -n "$id" ]
check "held: the spool holds the item" [ -e "$T/spool/$id.meta" ] && [ -e "$T/spool/$id.sealed" ]
check "held: item files are mode 0600" [ "$(stat -c %a "$T/spool/$id.sealed")" = 600 ]
expect_rc 0 "the same request without the tag is released" "$cli" filter "${fed[@]}" \
    --request-id R1 --in "$T/rec.bin" --out "$T/released.bin"
check "the release is not empty" [ -s "$T/released.bin" ]

# list
expect_rc 0 "review list --policy" "$cli" review list --policy "$T/policy.yaml"
check "list shows the item pending" grep -qE "^$id .* pending +6 +DHSICE001" "$T/stdout"
check "list shows rule and agency" grep -q "immigration held for review / ICE ERO" "$T/stdout"
expect_rc 0 "review list --json" "$cli" review list --spool "$T/spool" --json
check "json line" grep -q "{\"id\":\"$id\",.*\"state\":\"pending\",\"records\":6,\"ori\":\"DHSICE001\"" "$T/stdout"

# show
expect_rc 79 "show: sealed key without a passphrase" "$cli" review show "$id" \
    --policy "$T/policy.yaml" --secret-key "$T/rev.key"
expect_rc 79 "show: wrong passphrase" "$cli" review show "$id" --policy "$T/policy.yaml" \
    --secret-key "$T/rev.key" --passphrase-file "$T/wrong"
expect_rc 79 "show: another reviewer's key" "$cli" review show "$id" --policy "$T/policy.yaml" \
    --secret-key "$T/other.key"
grep -q "sealed to reviewer key" "$T/err" && ok "wrong key: says so" || bad "wrong key: says so"
cp "$T/other.key" "$T/open.key" && chmod 644 "$T/open.key"
expect_rc 79 "show: key readable by others" "$cli" review show "$id" --spool "$T/spool" \
    --secret-key "$T/open.key"
expect_rc 64 "show: bad id" "$cli" review show "../$id" "${S[@]}"
expect_rc 64 "show: unknown id" "$cli" review show ffffffffffffffffffffffffffffffff "${S[@]}"
DMVFILTER_REVIEW_PASSPHRASE='correct horse' expect_rc 0 "show: env passphrase" "$cli" review \
    show "$id" --spool "$T/spool" --secret-key "$T/rev.key"
check "show: pending" grep -q "^review $id: pending" "$T/stdout"
check "show: the request" grep -q "administrative_subpoena" "$T/stdout"
check "show: the release summary" grep -q "would-be release: 6 records (of 6 read)" "$T/stdout"
check "show: no records without --records" ! grep -q "^record 1:" "$T/stdout"
expect_rc 0 "show --records" "$cli" review show "$id" "${S[@]}" --records
check "show --records: six records" [ "$(grep -c '^record [0-9]*:' "$T/stdout")" = 6 ]
check "show --records: released fields" grep -q "person.family_name: \"" "$T/stdout"
check "show --records: no redacted field value" ! grep -qE "(person\.ssn|marking\.[a-z_]+|photo\.[a-z_]+): " "$T/stdout"

# approve
expect_rc 64 "approve: --policy with required audit, no --keyring" "$cli" review approve "$id" \
    --policy "$T/policy-audit.yaml" --secret-key "$T/rev.key" --passphrase-file "$T/pass" \
    --reviewer "J. Rivera" --out "$T/x.bin"
check "approve refused: no output" [ ! -e "$T/x.bin" ]
expect_rc 79 "approve: another reviewer's key" "$cli" review approve "$id" --spool "$T/spool" \
    --secret-key "$T/other.key" --reviewer "J. Rivera" --out "$T/x.bin"
check "no output after a key error" [ ! -e "$T/x.bin" ]
expect_rc 0 "approve" "$cli" review approve "$id" "${S[@]}" --reviewer "J. Rivera" \
    --note "warrant seen" --out "$T/approved.bin"
check "approve: says how many records" grep -q "6 records released to" "$T/stdout"
check "approved output equals what the release rule releases" cmp -s "$T/approved.bin" "$T/released.bin"
check "approved output is mode 0600" [ "$(stat -c %a "$T/approved.bin")" = 600 ]
check "the item is marked approved" grep -qP "^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\tJ\. Rivera\twarrant seen$" "$T/spool/$id.approved"
expect_rc 64 "approve again" "$cli" review approve "$id" "${S[@]}" --reviewer "J. Rivera" \
    --out "$T/again.bin"
grep -q "already approved" "$T/err" && ok "says already approved" || bad "says already approved"
check "no second output" [ ! -e "$T/again.bin" ]
expect_rc 64 "deny after approve" "$cli" review deny "$id" "${S[@]}" --reviewer "K. Smith"
check "not marked denied" [ ! -e "$T/spool/$id.denied" ]

# deny
id2=$(hold R2)
check "second hold" [ -n "$id2" ] && [ "$(cat "$T/rc")" = 4 ]
expect_rc 0 "deny" "$cli" review deny "$id2" "${S[@]}" --reviewer "K. Smith" --note "no warrant"
check "deny says nothing released" grep -q "nothing released" "$T/stdout"
check "the item is marked denied" grep -q "K. Smith" "$T/spool/$id2.denied"
expect_rc 64 "approve after deny" "$cli" review approve "$id2" "${S[@]}" --reviewer "K. Smith" \
    --out "$T/d.bin"
check "no output after deny" [ ! -e "$T/d.bin" ]
expect_rc 0 "list after the decisions" "$cli" review list --spool "$T/spool"
check "list: approved" grep -qE "^$id .* approved " "$T/stdout"
check "list: denied" grep -qE "^$id2 .* denied " "$T/stdout"

# approve to standard output
id3=$(hold R3)
"$cli" review approve "$id3" "${S[@]}" --reviewer "J. Rivera" --out - >"$T/stdout.bin" 2>"$T/err"
check "approve --out -: exit 0" [ $? = 0 ]
check "approve --out -: the release on stdout" cmp -s "$T/stdout.bin" "$T/released.bin"
check "approve --out -: the summary on stderr" grep -q "released to standard output" "$T/err"

id3b=$(hold R3b)
expect_rc 0 "approve --out /dev/null" "$cli" review approve "$id3b" "${S[@]}" --reviewer "J. Rivera" \
    --out /dev/null
check "/dev/null is still a device" [ -c /dev/null ]

# tampering
id4=$(hold R4)
python3 - "$T/spool/$id4.sealed" <<'EOF'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x20
open(p, "wb").write(bytes(b))
EOF
expect_rc 5 "show: a flipped byte in the sealed item" "$cli" review show "$id4" "${S[@]}"
expect_rc 5 "approve: a flipped byte in the sealed item" "$cli" review approve "$id4" "${S[@]}" \
    --reviewer "J. Rivera" --out "$T/t.bin"
check "no output from a tampered item" [ ! -e "$T/t.bin" ]
check "the tampered item stays pending" [ ! -e "$T/spool/$id4.approved" ]
id5=$(hold R5)
mv "$T/spool/$id5.meta" "$T/m" && cp "$T/spool/$id.meta" "$T/spool/$id5.meta"
expect_rc 5 "show: a .meta copied from another item" "$cli" review show "$id5" "${S[@]}"
expect_rc 5 "list: a .meta copied from another item" "$cli" review list --spool "$T/spool"
check "list marks it damaged" grep -qE "^$id5 .* damaged" "$T/stdout"
mv "$T/m" "$T/spool/$id5.meta"
expect_rc 0 "the restored item shows" "$cli" review show "$id5" "${S[@]}"

# audited decisions
if grep -q "audit log not built" "$DMVF_SRC/filter/account/audit_log.c" 2>/dev/null; then
    echo "SKIP: audited review steps (the audit log is not built yet)"
else
    id6=$(hold R6)
    expect_rc 0 "approve with --audit" "$cli" review approve "$id6" "${S[@]}" --reviewer "J. Rivera" \
        --out "$T/a6.bin" --audit "$T/audit" --keyring "$T/kr"
    check "audited approve: the release" cmp -s "$T/a6.bin" "$T/released.bin"
    check "the audit log exists" [ -d "$T/audit" ]
    id7=$(hold R7)
    expect_rc 0 "deny with --audit" "$cli" review deny "$id7" "${S[@]}" --reviewer "K. Smith" \
        --audit "$T/audit" --keyring "$T/kr"
    if "$cli" audit --help >/dev/null 2>&1; then
        if "$cli" audit verify --help 2>/dev/null | grep -q -- "--dir"; then
            expect_rc 0 "the audit log verifies" "$cli" audit verify --dir "$T/audit" --keyring "$T/kr"
        fi
    fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
