#!/usr/bin/env bash
# usage.sh - the command line's surface: --help of every command, --version,
# and usage errors (exit 64) before anything is loaded or written.
set -u
: "${DMVF_CLI:?DMVF_CLI must name the dmvfilter binary}"
cli=$DMVF_CLI
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-usage.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }

# expect_rc WANT DESCRIPTION CMD... : runs CMD (stdout $T/out, stderr $T/err)
expect_rc() {
    local want=$1 desc=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" -eq "$want" ]; then
        ok "$desc (exit $rc)"
    else
        bad "$desc: exit $rc, want $want"
        sed 's/^/      /' "$T/err" | head -5
    fi
}
# mentions FILE DESCRIPTION WORD... : every WORD occurs in FILE
mentions() {
    local file=$1 desc=$2; shift 2
    local w missing=()
    for w in "$@"; do grep -qF -- "$w" "$file" || missing+=("$w"); done
    if [ ${#missing[@]} -eq 0 ]; then ok "$desc"; else bad "$desc: missing ${missing[*]}"; fi
}

request_flags=(--ori --agency-kind --agency-name --tag --jurisdiction --purpose
               --legal-process --legal-reference --query-kind --request-id --operator
               --field --channel --date)

# ---- help ----
expect_rc 0 "dmvfilter --help" "$cli" --help
mentions "$T/out" "top help lists commands" filter "policy check" "policy explain" \
    "keys init" "keys rotate" "keys list" reveal
mentions "$T/out" "top help lists exit codes" " 0 " " 3 " " 4 " 64 65 70 71 74 78 79
expect_rc 0 "dmvfilter help filter" "$cli" help filter
expect_rc 0 "dmvfilter --version" "$cli" --version
grep -qE '^dmvfilter [0-9]+\.[0-9]+\.[0-9]+' "$T/out" && ok "--version prints a version" \
    || bad "--version prints a version: $(cat "$T/out")"

expect_rc 0 "filter --help" "$cli" filter --help
mentions "$T/out" "filter --help mentions its flags" --policy --keyring --passphrase-file \
    --in --out --format --gzip --max-record-bytes --drop-malformed --quiet "${request_flags[@]}"
expect_rc 0 "filter -h after other flags" "$cli" filter --ori X -h
[ -s "$T/out" ] && ok "filter -h prints help" || bad "filter -h prints help"

expect_rc 0 "policy --help" "$cli" policy --help
mentions "$T/out" "policy --help mentions check, explain, request flags" check explain \
    "${request_flags[@]}"
expect_rc 0 "policy check --help" "$cli" policy check --help
mentions "$T/out" "policy check --help" "policy check FILE"
expect_rc 0 "policy explain --help" "$cli" policy explain --help
mentions "$T/out" "policy explain --help mentions request flags" "${request_flags[@]}"

expect_rc 0 "keys --help" "$cli" keys --help
mentions "$T/out" "keys --help mentions subcommands and flags" init rotate list --keyring \
    --passphrase-file --unsealed DMVFILTER_PASSPHRASE
for sub in init rotate list; do
    expect_rc 0 "keys $sub --help" "$cli" keys "$sub" --help
    mentions "$T/out" "keys $sub --help mentions --keyring" --keyring --passphrase-file
done

expect_rc 0 "reveal --help" "$cli" reveal --help
mentions "$T/out" "reveal --help mentions its flags" --keyring --passphrase-file --ori TOKEN

# ---- usage errors: 64, with the usage line, nothing loaded ----
expect_rc 64 "no command" "$cli"
expect_rc 64 "unknown command" "$cli" frobnicate
expect_rc 64 "unknown top-level flag" "$cli" --frobnicate
expect_rc 64 "filter: unknown flag" "$cli" filter --policy p --keyring k --ori NY0300000 \
    --agency-kind local --frobnicate
grep -q "unknown flag '--frobnicate'" "$T/err" && ok "unknown flag is named" || bad "unknown flag is named"
grep -q "usage: dmvfilter filter" "$T/err" && ok "usage line printed" || bad "usage line printed"
expect_rc 64 "filter: missing --ori" "$cli" filter --policy p --keyring k --agency-kind local
grep -q -- "--ori is required" "$T/err" && ok "missing --ori is named" || bad "missing --ori is named"
# --agency-kind is optional (the requester directory says what the ORI is): past the flags,
# the missing policy p is what stops it
expect_rc 78 "filter: no --agency-kind is no usage error" "$cli" filter --policy p --keyring k --ori NY0300000
expect_rc 64 "filter: bad --agency-kind" "$cli" filter --policy p --keyring k --ori NY0300000 \
    --agency-kind spaceforce
grep -q "spaceforce" "$T/err" && ok "bad agency kind is named" || bad "bad agency kind is named"
expect_rc 64 "filter: missing --policy" "$cli" filter --keyring k --ori NY0300000 --agency-kind local
expect_rc 64 "filter: missing --keyring" "$cli" filter --policy p --ori NY0300000 --agency-kind local
expect_rc 64 "filter: flag without value" "$cli" filter --policy p --keyring k --ori
# a malformed ORI or jurisdiction is a bad request, refused (exit 3) and audited by the
# library's one check, not a usage error (tests/cli/requesters.sh); here the policy p is missing
expect_rc 78 "filter: ORI not 9 characters is no usage error" "$cli" filter --policy p --keyring k \
    --ori NYPD --agency-kind local
expect_rc 64 "filter: bad --purpose" "$cli" filter --policy p --keyring k --ori NY0300000 \
    --agency-kind local --purpose 15
expect_rc 64 "filter: bad --legal-process" "$cli" filter --policy p --keyring k --ori NY0300000 \
    --agency-kind local --legal-process pinky_swear
expect_rc 64 "filter: bad --query-kind" "$cli" filter --policy p --keyring k --ori NY0300000 \
    --agency-kind local --query-kind by_vibes
expect_rc 64 "filter: bad --date" "$cli" filter --policy p --keyring k --ori NY0300000 \
    --agency-kind local --date 2026-02-30
expect_rc 78 "filter: bad --jurisdiction is no usage error" "$cli" filter --policy p --keyring k \
    --ori NY0300000 --agency-kind local --jurisdiction NEW
expect_rc 64 "filter: empty --ori" "$cli" filter --policy p --keyring k --ori ""
expect_rc 64 "filter: empty --jurisdiction" "$cli" filter --policy p --keyring k --ori NY0300000 \
    --jurisdiction ""
expect_rc 64 "filter: bad --format" "$cli" filter --policy p --keyring k --ori NY0300000 \
    --agency-kind local --format xml
expect_rc 64 "filter: bad --max-record-bytes" "$cli" filter --policy p --keyring k --ori NY0300000 \
    --agency-kind local --max-record-bytes lots
expect_rc 64 "filter: request flags with --format framed" "$cli" filter --policy p --keyring k \
    --format framed --ori NY0300000
expect_rc 64 "filter: stray argument" "$cli" filter --policy p --keyring k --ori NY0300000 \
    --agency-kind local extra
expect_rc 64 "filter: --gzip takes no value" "$cli" filter --policy p --keyring k --ori NY0300000 \
    --agency-kind local --gzip=1
# usage is checked first: nonexistent policy and keyring still give 64, no output appears
expect_rc 64 "filter: usage error with --out" "$cli" filter --policy "$T/nope.yaml" \
    --keyring "$T/nope.kr" --out "$T/o" --agency-kind local
[ ! -e "$T/o" ] && ok "no output file after a usage error" || bad "output file after a usage error"

expect_rc 64 "policy: no subcommand" "$cli" policy
expect_rc 64 "policy: unknown subcommand" "$cli" policy lint x
expect_rc 64 "policy check: no file" "$cli" policy check
expect_rc 64 "policy check: two files" "$cli" policy check a b
expect_rc 64 "policy explain: bad agency kind" "$cli" policy explain x --agency-kind nope
expect_rc 64 "keys: no subcommand" "$cli" keys
expect_rc 64 "keys init: no --keyring" "$cli" keys init --unsealed
expect_rc 64 "keys init: neither passphrase nor --unsealed" \
    env -u DMVFILTER_PASSPHRASE "$cli" keys init --keyring "$T/k"
[ ! -e "$T/k" ] && ok "no keyring written on a usage error" || bad "keyring written on a usage error"
echo secret >"$T/pass"
expect_rc 64 "keys init: --unsealed with --passphrase-file" "$cli" keys init --keyring "$T/k" \
    --unsealed --passphrase-file "$T/pass"
expect_rc 64 "reveal: no --ori" "$cli" reveal --keyring "$T/k" tok
expect_rc 64 "reveal: unknown flag" "$cli" reveal --keyring "$T/k" --ori NY0300000 --bogus

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
