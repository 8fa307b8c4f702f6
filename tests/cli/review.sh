#!/usr/bin/env bash
# review.sh - `dmvfilter review keygen|list|show|approve|deny` end to end:
# reviewer keys (sealed, unsealed, too open, wrong passphrase), and the full
# path: a request whose rule says review exits 4 and releases nothing, its
# item appears in the spool, a reviewer sees it, approves it, and the output
# is byte for byte what a release rule with the same profile releases; deny;
# a second decision refused; a flipped byte in the sealed item; usage errors.
#
# The spool is the filter's own (issue 11, item 5): items are checked with
# the DMV's public key (--public-key from `keys export-public`, or
# --keyring). A planted item (an unsigned .meta), a .meta edited one field
# at a time, a body swapped from another item, an item held with another
# keyring, and an approval whose REVIEW_HOLD entry is not in the audit log
# given (held without a log, or into another, or already decided there) are
# refused with exit 5 and the failed check named, and nothing is released.
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
check "help says items are signed" grep -q "signs the item" "$T/stdout"
expect_rc 0 "help review" "$cli" help review
expect_rc 0 "review show --help" "$cli" review show --help
expect_rc 64 "review without a subcommand" "$cli" review
expect_rc 64 "review bogus" "$cli" review bogus
expect_rc 64 "review list without --spool" "$cli" review list --public-key "$T/dmv.pub"
expect_rc 64 "review list --spool and --policy" "$cli" review list --spool "$T/s" --policy "$T/p" \
    --public-key "$T/dmv.pub"
expect_rc 64 "review list: unknown flag" "$cli" review list --spool "$T/s" --frobnicate
expect_rc 64 "review list without the DMV's public key" "$cli" review list --spool "$T/s"
check "... says which flag" grep -q -- "--public-key F" "$T/err"
expect_rc 64 "review list: --public-key and --keyring" "$cli" review list --spool "$T/s" \
    --public-key "$T/dmv.pub" --keyring "$T/kr"
expect_rc 64 "review show without an id" "$cli" review show --spool "$T/s" --secret-key "$T/k" \
    --public-key "$T/dmv.pub"
expect_rc 64 "review show without --secret-key" "$cli" review show 0123 --spool "$T/s" \
    --public-key "$T/dmv.pub"
expect_rc 64 "review approve without --out" "$cli" review approve 0123 --spool "$T/s" \
    --secret-key "$T/k" --reviewer me --audit "$T/audit" --keyring "$T/kr"
expect_rc 64 "review approve without an audit log" "$cli" review approve 0123 --spool "$T/s" \
    --secret-key "$T/k" --reviewer me --out "$T/x.bin" --keyring "$T/kr"
check "... says the log is needed" grep -q "approve needs the audit log" "$T/err"
expect_rc 64 "review approve with --public-key" "$cli" review approve 0123 --spool "$T/s" \
    --secret-key "$T/k" --reviewer me --out "$T/x.bin" --audit "$T/audit" --public-key "$T/p"
expect_rc 64 "review deny without --reviewer" "$cli" review deny 0123 --spool "$T/s" \
    --secret-key "$T/k" --public-key "$T/dmv.pub"
expect_rc 64 "review deny: --audit without --keyring" "$cli" review deny 0123 --spool "$T/s" \
    --secret-key "$T/k" --reviewer me --audit "$T/audit" --public-key "$T/dmv.pub"
expect_rc 74 "review list: no such DMV public key file" "$cli" review list --spool "$T/s" \
    --public-key "$T/nope.pub"

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
# the reviewers' key the policy seals to: unsealed, so that the many
# openings below cost no Argon2id derivation each (the sealed key is
# checked on an item of its own)
expect_rc 0 "review keygen, unsealed (the policy's reviewer key)" "$cli" review keygen \
    --secret-key "$T/ur.key" --public-key "$T/ur.pub"
: >"$T/emptypass"
expect_rc 64 "keygen with an empty passphrase" "$cli" review keygen --secret-key "$T/e.key" \
    --public-key "$T/e.pub" --passphrase-file "$T/emptypass"
check "no key after the refused keygen" [ ! -e "$T/e.key" ]

# ---- policy, keyring, records ----
expect_rc 0 "keys init --unsealed" "$cli" keys init --keyring "$T/kr" --unsealed
expect_rc 0 "keys export-public" "$cli" keys export-public --keyring "$T/kr" --out "$T/dmv.pub"
expect_rc 0 "another DMV's keyring" "$cli" keys init --keyring "$T/kr2" --unsealed
expect_rc 0 "its public key" "$cli" keys export-public --keyring "$T/kr2" --out "$T/dmv2.pub"
expect_rc 74 "review list: no such spool" "$cli" review list --spool "$T/nospool" \
    --public-key "$T/dmv.pub"
review_policy "$T/policy.yaml" ur.pub
{ cat "$T/policy.yaml"; printf 'audit:\n  dir: audit\n  required: true\n'; } >"$T/policy-audit.yaml"
expect_rc 0 "policy check" "$cli" policy check "$T/policy.yaml"
expect_rc 0 "generate 6 records" "$gen" --count 6 --seed 5 --out "$T/rec.bin"
fed=(--policy "$T/policy.yaml" --keyring "$T/kr" --ori DHSICE001 --agency-kind federal
     --agency-name "ICE ERO" --legal-process administrative_subpoena --query-kind by_name_dob)
V=(--public-key "$T/dmv.pub")
S=(--policy "$T/policy.yaml" --secret-key "$T/ur.key" "${V[@]}")
SD=(--policy "$T/policy.yaml" --secret-key "$T/ur.key")       # deciding: A or V
A=(--audit "$T/audit" --keyring "$T/kr")

# hold: exit 4, nothing released, one item appears
# (audited in ${AUD:-$T/audit}, with the keyring ${KR:-$T/kr})
hold() { # hold REQUEST_ID [FLAG...] : holds one request; prints its id
    local rid=$1; shift
    "$cli" filter --policy "$T/policy.yaml" --keyring "${KR:-$T/kr}" --ori DHSICE001 \
        --agency-kind federal --agency-name "ICE ERO" --legal-process administrative_subpoena \
        --query-kind by_name_dob --audit "${AUD:-$T/audit}" --tag immigration-enforcement \
        --request-id "$rid" --in "$T/rec.bin" --out "$T/held-$rid.bin" "$@" >"$T/stdout" 2>"$T/err"
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
expect_rc 0 "review list --policy" "$cli" review list --policy "$T/policy.yaml" "${V[@]}"
check "list shows the item pending" grep -qE "^$id .* pending +6 +DHSICE001" "$T/stdout"
check "list shows rule and agency" grep -q "immigration held for review / ICE ERO" "$T/stdout"
expect_rc 0 "review list --json (the key from --keyring)" "$cli" review list --spool "$T/spool" \
    --json --keyring "$T/kr"
check "json line" grep -q "{\"id\":\"$id\",.*\"state\":\"pending\",\"records\":6,\"ori\":\"DHSICE001\"" "$T/stdout"
expect_rc 79 "list with the reviewers' key instead of the DMV's" "$cli" review list \
    --spool "$T/spool" --public-key "$T/ur.pub"

# show
idk=$(hold RK --review-public-key "$T/rev.pub")   # sealed to the passphrase-sealed key
check "held for the sealed reviewer key" [ -n "$idk" ]
expect_rc 79 "show: sealed key without a passphrase" "$cli" review show "$idk" \
    --policy "$T/policy.yaml" --secret-key "$T/rev.key" "${V[@]}"
expect_rc 79 "show: wrong passphrase" "$cli" review show "$idk" --policy "$T/policy.yaml" \
    --secret-key "$T/rev.key" --passphrase-file "$T/wrong" "${V[@]}"
expect_rc 0 "show: the sealed key with --passphrase-file" "$cli" review show "$idk" \
    --policy "$T/policy.yaml" --secret-key "$T/rev.key" --passphrase-file "$T/pass" "${V[@]}"
DMVFILTER_REVIEW_PASSPHRASE='correct horse' expect_rc 0 "show: env passphrase" "$cli" review \
    show "$idk" --spool "$T/spool" --secret-key "$T/rev.key" "${V[@]}"
check "show (sealed key): pending" grep -q "^review $idk: pending" "$T/stdout"
expect_rc 79 "show: another reviewer's key" "$cli" review show "$id" --policy "$T/policy.yaml" \
    --secret-key "$T/other.key" "${V[@]}"
grep -q "sealed to reviewer key" "$T/err" && ok "wrong key: says so" || bad "wrong key: says so"
cp "$T/other.key" "$T/open.key" && chmod 644 "$T/open.key"
expect_rc 79 "show: key readable by others" "$cli" review show "$id" --spool "$T/spool" \
    --secret-key "$T/open.key" "${V[@]}"
expect_rc 64 "show: bad id" "$cli" review show "../$id" "${S[@]}"
expect_rc 64 "show: unknown id" "$cli" review show ffffffffffffffffffffffffffffffff "${S[@]}"
expect_rc 0 "show" "$cli" review show "$id" --spool "$T/spool" --secret-key "$T/ur.key" "${V[@]}"
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
    --policy "$T/policy-audit.yaml" --secret-key "$T/ur.key" \
    --reviewer "J. Rivera" --out "$T/x.bin"
check "approve refused: no output" [ ! -e "$T/x.bin" ]
expect_rc 64 "approve without an audit log" "$cli" review approve "$id" "${SD[@]}" \
    --keyring "$T/kr" --reviewer "J. Rivera" --out "$T/x.bin"
check "no output without an audit log" [ ! -e "$T/x.bin" ]
expect_rc 79 "approve: another reviewer's key" "$cli" review approve "$id" --spool "$T/spool" \
    --secret-key "$T/other.key" --reviewer "J. Rivera" --out "$T/x.bin" "${A[@]}"
check "no output after a key error" [ ! -e "$T/x.bin" ]
expect_rc 0 "approve" "$cli" review approve "$id" "${SD[@]}" "${A[@]}" --reviewer "J. Rivera" \
    --note "warrant seen" --out "$T/approved.bin"
check "approve: says how many records" grep -q "6 records released to" "$T/stdout"
check "approved output equals what the release rule releases" cmp -s "$T/approved.bin" "$T/released.bin"
check "approved output is mode 0600" [ "$(stat -c %a "$T/approved.bin")" = 600 ]
check "the item is marked approved" grep -qP "^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\tJ\. Rivera\twarrant seen$" "$T/spool/$id.approved"
expect_rc 64 "approve again" "$cli" review approve "$id" "${SD[@]}" "${A[@]}" --reviewer "J. Rivera" \
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
expect_rc 64 "approve after deny" "$cli" review approve "$id2" "${SD[@]}" "${A[@]}" \
    --reviewer "K. Smith" --out "$T/d.bin"
check "no output after deny" [ ! -e "$T/d.bin" ]
expect_rc 0 "list after the decisions" "$cli" review list --spool "$T/spool" "${V[@]}"
check "list: approved" grep -qE "^$id .* approved " "$T/stdout"
check "list: denied" grep -qE "^$id2 .* denied " "$T/stdout"

# approve to standard output
id3=$(hold R3)
"$cli" review approve "$id3" "${SD[@]}" "${A[@]}" --reviewer "J. Rivera" --out - \
    >"$T/stdout.bin" 2>"$T/err"
check "approve --out -: exit 0" [ $? = 0 ]
check "approve --out -: the release on stdout" cmp -s "$T/stdout.bin" "$T/released.bin"
check "approve --out -: the summary on stderr" grep -q "released to standard output" "$T/err"

id3b=$(hold R3b)
expect_rc 0 "approve --out /dev/null" "$cli" review approve "$id3b" "${SD[@]}" "${A[@]}" \
    --reviewer "J. Rivera" --out /dev/null
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
expect_rc 5 "approve: a flipped byte in the sealed item" "$cli" review approve "$id4" "${SD[@]}" \
    "${A[@]}" --reviewer "J. Rivera" --out "$T/t.bin"
check "no output from a tampered item" [ ! -e "$T/t.bin" ]
check "the tampered item stays pending" [ ! -e "$T/spool/$id4.approved" ]
rm -f "$T/spool/$id4".*
id5=$(hold R5)
mv "$T/spool/$id5.meta" "$T/m" && cp "$T/spool/$id.meta" "$T/spool/$id5.meta"
expect_rc 5 "show: a .meta copied from another item" "$cli" review show "$id5" "${S[@]}"
expect_rc 5 "list: a .meta copied from another item" "$cli" review list --spool "$T/spool" "${V[@]}"
check "list marks it damaged" grep -qE "^$id5 .* damaged" "$T/stdout"
mv "$T/m" "$T/spool/$id5.meta"
expect_rc 0 "the restored item shows" "$cli" review show "$id5" "${S[@]}"

# ---- the spool is the filter's own ----
proto=(-I "$DMVF_SRC/schema" dmv/v1/audit.proto)
meta_text() { protoc --decode dmv.v1.ReviewMeta "${proto[@]}" <"$1"; }
meta_encode() { protoc --encode dmv.v1.ReviewMeta "${proto[@]}" >"$1"; }
# refused WHAT ID WORDS : list, show, approve and deny all exit 5 naming the
# check (WORDS), nothing is released, the item stays pending
refused() {
    local what=$1 rid=$2 words=$3
    expect_rc 5 "$what: list" "$cli" review list --spool "$T/spool" "${V[@]}"
    check "$what: list says why" grep -qF -- "$words" "$T/err"
    check "$what: listed damaged, with nothing it claims" grep -qE "^$rid +\? +damaged +\? +- +-$" "$T/stdout"
    expect_rc 5 "$what: show" "$cli" review show "$rid" "${S[@]}"
    check "$what: show says why" grep -qF -- "$words" "$T/err"
    check "$what: show prints nothing" [ ! -s "$T/stdout" ]
    expect_rc 5 "$what: approve" "$cli" review approve "$rid" "${SD[@]}" "${A[@]}" \
        --reviewer "J. Rivera" --out "$T/t.bin"
    check "$what: approve says why" grep -qF -- "$words" "$T/err"
    check "$what: nothing released" [ ! -e "$T/t.bin" ]
    expect_rc 5 "$what: deny" "$cli" review deny "$rid" "${S[@]}" --reviewer "K. Smith"
    check "$what: deny says why" grep -qF -- "$words" "$T/err"
    check "$what: the item stays pending" [ ! -e "$T/spool/$rid.approved" ] && [ ! -e "$T/spool/$rid.denied" ]
}

# a planted item: a .meta naming another agency's request and rule, not signed
idp=$(hold RP)
meta_text "$T/spool/$idp.meta" >"$T/meta.txt"
check "the filter's .meta is signed" grep -q "^signature: " "$T/meta.txt"
check "... by the DMV's key, over the body's digest" grep -q "^signer_public_key: " "$T/meta.txt" &&
    grep -q "^sealed_digest: " "$T/meta.txt"
grep -vE '^(signature|signer_public_key|sealed_digest): ' "$T/meta.txt" |
    sed -e 's/^rule: .*/rule: "federal"/' -e 's/ori: "DHSICE001"/ori: "NYPD00000"/' \
        -e 's/agency_name: "ICE ERO"/agency_name: "PLANTED AGENCY"/' | meta_encode "$T/spool/$idp.meta"
refused "a planted item" "$idp" "is not signed"
check "a planted item: its claims are not listed" ! grep -q "PLANTED" "$T/stdout"
rm -f "$T/spool/$idp".*

# a genuine item, its .meta edited one field at a time (the signature no
# longer verifies), then restored
ide=$(hold RE)
cp "$T/spool/$ide.meta" "$T/orig.meta"
meta_text "$T/orig.meta" >"$T/meta.txt"
seq=$(sed -n 's/^request_seq: //p' "$T/meta.txt")
check "the item names its REQUEST entry" [ -n "$seq" ]
for edit in 's/^rule: .*/rule: "federal"/' \
            's/^policy_id: .*/policy_id: "0000"/' \
            "s/^request_seq: .*/request_seq: $((seq + 1))/" \
            's/^records: .*/records: 1/' \
            's/^time_ns: .*/time_ns: 1/' \
            's/ori: "DHSICE001"/ori: "NYPD00000"/' \
            's/agency_name: "ICE ERO"/agency_name: "NYPD"/' \
            's/request_id: "RE"/request_id: "OTHER"/'; do
    sed -e "$edit" "$T/meta.txt" | meta_encode "$T/spool/$ide.meta"
    if cmp -s "$T/spool/$ide.meta" "$T/orig.meta"; then
        bad "the edit '$edit' changed the .meta"
        continue
    fi
    refused "a .meta edited ($edit)" "$ide" "signature does not verify"
    cp "$T/orig.meta" "$T/spool/$ide.meta"
done
# binedit FILE sig | signer PUBFILE : the packed .meta ends with its signer
# key (field 10, 32 bytes) and signature (field 11, 64 bytes)
binedit() {
    python3 - "$@" <<'PY'
import sys
p, what = sys.argv[1], sys.argv[2]
b = bytearray(open(p, "rb").read())
assert b[-66:-64] == b"\x5a\x40" and b[-100:-98] == b"\x52\x20", "layout"
if what == "sig":
    b[-1] ^= 0x01
else:
    b[-98:-66] = bytes.fromhex(open(sys.argv[3]).read().split()[1])
open(p, "wb").write(bytes(b))
PY
}
binedit "$T/spool/$ide.meta" sig
refused "a .meta with a flipped signature byte" "$ide" "signature does not verify"
cp "$T/orig.meta" "$T/spool/$ide.meta"
binedit "$T/spool/$ide.meta" signer "$T/dmv2.pub"
refused "a .meta naming another signer" "$ide" "not with the DMV's key"
cp "$T/orig.meta" "$T/spool/$ide.meta"
expect_rc 0 "restored, the item shows" "$cli" review show "$ide" "${S[@]}"

# a body swapped from another item
ids=$(hold RS)
cp "$T/spool/$ids.sealed" "$T/orig.sealed"
cp "$T/spool/$ide.sealed" "$T/spool/$ids.sealed"
refused "another item's body" "$ids" "not the body of review item"
cp "$T/orig.sealed" "$T/spool/$ids.sealed"
rm "$T/spool/$ids.sealed"
refused "no body" "$ids" "but no"
cp "$T/orig.sealed" "$T/spool/$ids.sealed"
expect_rc 0 "restored, the body shows" "$cli" review show "$ids" "${S[@]}"

# an item held by a filter with another DMV's keyring
ido=$(KR="$T/kr2" AUD="$T/audit-kr2" hold RO)
check "held with another keyring" [ -n "$ido" ]
refused "an item signed with another keyring" "$ido" "not with the DMV's key"
expect_rc 0 "under that keyring's public key it shows" "$cli" review show "$ido" \
    --spool "$T/spool" --secret-key "$T/ur.key" --public-key "$T/dmv2.pub"
rm -f "$T/spool/$ido".*

# approvals whose REVIEW_HOLD entry is not in the audit log given
idn=$(AUD="$T/audit-other" hold RN)
check "held into another audit log" [ -n "$idn" ]
expect_rc 5 "approve against a log without its REVIEW_HOLD entry" "$cli" review approve "$idn" \
    "${SD[@]}" "${A[@]}" --reviewer "J. Rivera" --out "$T/t.bin"
check "... says so" grep -q "holds no REVIEW_HOLD entry for review item $idn" "$T/err"
check "... nothing released" [ ! -e "$T/t.bin" ] && [ ! -e "$T/spool/$idn.approved" ]
expect_rc 0 "... against its own log it is approved" "$cli" review approve "$idn" "${SD[@]}" \
    --audit "$T/audit-other" --keyring "$T/kr" --reviewer "J. Rivera" --out "$T/n.bin"
check "... the release" cmp -s "$T/n.bin" "$T/released.bin"
"$cli" filter "${fed[@]}" --tag immigration-enforcement --request-id RU --in "$T/rec.bin" \
    --out "$T/held-RU.bin" >"$T/stdout" 2>"$T/err"
idu=$(sed -n 's/.*held for review as \([0-9a-f]\{32\}\).*/\1/p' "$T/err" | head -1)
check "held without an audit log" [ -n "$idu" ]
expect_rc 5 "approve an item held without an audit log" "$cli" review approve "$idu" "${SD[@]}" \
    "${A[@]}" --reviewer "J. Rivera" --out "$T/t.bin"
check "... says so" grep -q "holds no REVIEW_HOLD entry" "$T/err"
check "... nothing released" [ ! -e "$T/t.bin" ]
expect_rc 0 "... it can still be denied" "$cli" review deny "$idu" "${S[@]}" --reviewer "K. Smith"
expect_rc 0 "approve the edited-and-restored item" "$cli" review approve "$ide" "${SD[@]}" "${A[@]}" \
    --reviewer "J. Rivera" --out "$T/e.bin"
check "... exactly the held release" cmp -s "$T/e.bin" "$T/released.bin"
rm "$T/spool/$ide.approved"
expect_rc 5 "approve again once its marker is gone: the log has the decision" "$cli" review \
    approve "$ide" "${SD[@]}" "${A[@]}" --reviewer "J. Rivera" --out "$T/t.bin"
check "... says so" grep -q "already records a decision" "$T/err"
check "... nothing released" [ ! -e "$T/t.bin" ]
rm -f "$T/spool/$idp".* "$T/spool/$ide".*

# audited decisions
id6=$(hold R6)
expect_rc 0 "approve with --audit" "$cli" review approve "$id6" "${SD[@]}" "${A[@]}" \
    --reviewer "J. Rivera" --out "$T/a6.bin"
check "audited approve: the release" cmp -s "$T/a6.bin" "$T/released.bin"
check "the audit log exists" [ -d "$T/audit" ]
id7=$(hold R7)
expect_rc 0 "deny with --audit" "$cli" review deny "$id7" "${SD[@]}" "${A[@]}" --reviewer "K. Smith"
expect_rc 0 "the audit log verifies" "$cli" audit verify "$T/audit" --keyring "$T/kr"
expect_rc 0 "the approval is in the log" "$cli" audit query "$T/audit" --kind review-approve
check "... naming the reviewer and the item" grep -q "\"review_id\":\"$id6\".*J. Rivera" "$T/stdout"
expect_rc 0 "the denial is in the log" "$cli" audit query "$T/audit" --kind review-deny
check "... naming the reviewer and the item" grep -q "\"review_id\":\"$id7\".*K. Smith" "$T/stdout"
expect_rc 0 "every item left is the filter's" "$cli" review list --spool "$T/spool" "${V[@]}"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
