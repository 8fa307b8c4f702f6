#!/usr/bin/env bash
# notices.sh - `dmvfilter notices due|sent` end to end: help and usage
# errors, listing (text, JSON, OVERDUE), marking sent and refusing ids that
# are not due (nothing written), malformed, missing and too-open queues, the
# queue named by a policy, and, once `filter --notices` exists, the whole
# path: the example policy's immigration rule (notify_subject) releases a
# record and `notices due` lists its subject.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
policy=$DMVF_SRC/examples/policy.yaml
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-notices.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE

. "$DMVF_SRC/tests/cli_lib.sh"
same() { cmp -s "$1" "$2"; }
umask 077

expect_rc 0 "keys init" "$cli" keys init --keyring "$T/kr" --unsealed

# ---- help and usage ----
expect_rc 0 "notices --help" "$cli" notices --help
check "help shows both subcommands" grep -q "dmvfilter notices sent" "$T/stdout"
expect_rc 0 "notices due --help" "$cli" notices due --help
check "due --help is the help" grep -q -- "--today YYYY-MM-DD" "$T/stdout"
expect_rc 0 "notices sent --help" "$cli" notices sent --help
expect_rc 0 "help notices" "$cli" help notices
check "help notices names exit codes" grep -q "65 malformed queue" "$T/stdout"
expect_rc 0 "top-level help lists notices" "$cli" --help
check "top-level help lists notices due" grep -q "notices due" "$T/stdout"
expect_rc 64 "notices without a subcommand" "$cli" notices
expect_rc 64 "notices: unknown subcommand" "$cli" notices list
expect_rc 64 "due without --queue" "$cli" notices due
check "the message names --queue" grep -q -- "--queue" "$T/err"
expect_rc 64 "due: unknown flag" "$cli" notices due --queue "$T/q" --bogus
expect_rc 64 "due: bad --today" "$cli" notices due --queue "$T/q" --today 2026-02-30
expect_rc 64 "due: --today without a value" "$cli" notices due --queue "$T/q" --today
expect_rc 64 "due: a positional argument" "$cli" notices due --queue "$T/q" extra
expect_rc 64 "due: --actor is for sent" "$cli" notices due --queue "$T/q" --actor me
expect_rc 64 "sent without ids" "$cli" notices sent --queue "$T/q"
expect_rc 64 "sent: malformed id" "$cli" notices sent --queue "$T/q" 12345
check "the message names the id" grep -q "'12345' is not a notice id" "$T/err"
expect_rc 64 "sent: bad --date" "$cli" notices sent --queue "$T/q" --date 20261122 0123456789abcdef
expect_rc 64 "sent: --audit without --keyring" "$cli" notices sent --queue "$T/q" \
    --audit "$T/audit" 0123456789abcdef
expect_rc 64 "sent: --json is for due" "$cli" notices sent --queue "$T/q" --json 0123456789abcdef

# ---- a queue as the filter writes it ----
n1='{"type":"notice","id":"1111111111111111","subject":"D100-200-300","request_id":"ice-7","ori":"DCICE0100","agency":"ICE ERO","agency_kind":"federal","tags":["immigration-enforcement"],"legal_process":"judicial_warrant","legal_reference":"W-1","purpose":1,"decision":"release","date":"2026-11-20","due":"2026-11-25"}'
n2='{"type":"notice","id":"22222222222222aa","subject":"D400-500-600","request_id":"ice-8","ori":"DCICE0100","agency":"ICE \"HSI\"\nNewark","agency_kind":"federal","tags":[],"legal_process":"court_order","legal_reference":"","purpose":1,"decision":"deny","date":"2026-11-23","due":"2026-11-26"}'
n3='{"type":"notice","id":"0000000000000033","subject":"D700","request_id":"","ori":"","agency":"","agency_kind":"unspecified","tags":[],"legal_process":"none","legal_reference":"","purpose":0,"decision":"review","date":"2026-11-24","due":"2026-11-27"}'
printf '%s\n%s\n%s\n' "$n1" "$n2" "$n3" >"$T/q"
chmod 600 "$T/q"

expect_rc 0 "due lists three" "$cli" notices due --queue "$T/q" --today 2026-11-24
check "three lines" [ "$(wc -l <"$T/stdout")" -eq 3 ]
check "oldest due first, with subject, agency, legal process" \
    [ "$(head -1 "$T/stdout")" = "1111111111111111  2026-11-25  D100-200-300  ICE ERO  judicial_warrant" ]
check "a newline in an agency name stays on one line" \
    grep -qx '22222222222222aa  2026-11-26  D400-500-600  ICE "HSI"\\x0aNewark  court_order' "$T/stdout"
check "empty agency shows as -" grep -qx "0000000000000033  2026-11-27  D700  -  none" "$T/stdout"
check "nothing overdue on 11-24" ! grep -q OVERDUE "$T/stdout"
expect_rc 0 "due on 11-27" "$cli" notices due --queue "$T/q" --today 2026-11-27
check "two overdue on 11-27" [ "$(grep -c '  OVERDUE$' "$T/stdout")" -eq 2 ]
check "due on the day is not overdue" grep -qx "0000000000000033  2026-11-27  D700  -  none" "$T/stdout"
expect_rc 0 "due --json" "$cli" notices due --queue "$T/q" --today 2026-11-26 --json
check "JSON: three lines" [ "$(wc -l <"$T/stdout")" -eq 3 ]
if command -v python3 >/dev/null; then
    check "JSON: valid, the queue's objects plus overdue" python3 - "$T/stdout" <<'EOF'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
assert [o["id"] for o in objs] == ["1111111111111111", "22222222222222aa", "0000000000000033"]
assert [o["overdue"] for o in objs] == [True, False, False]
assert objs[1]["agency"] == 'ICE "HSI"\nNewark' and objs[1]["decision"] == "deny"
assert objs[0]["tags"] == ["immigration-enforcement"] and objs[0]["purpose"] == 1
EOF
else
    echo "SKIP JSON check: python3 not found"
fi

# ---- marking sent ----
cp "$T/q" "$T/q.before"
expect_rc 0 "sent one" "$cli" notices sent --queue "$T/q" --actor mailroom --date 2026-11-24 \
    1111111111111111
check "sent says how many" grep -q "1 notice marked sent" "$T/stdout"
check "the queue was appended to, not rewritten" cmp -s "$T/q.before" <(head -c "$(stat -c %s "$T/q.before")" "$T/q")
check "the sent line" grep -qx '{"type":"sent","id":"1111111111111111","date":"2026-11-24","actor":"mailroom"}' "$T/q"
check "the queue stays 0600" [ "$(stat -c %a "$T/q")" = 600 ]
expect_rc 0 "due after sent" "$cli" notices due --queue "$T/q" --today 2026-11-24
check "two left" [ "$(wc -l <"$T/stdout")" -eq 2 ]
check "the sent one is gone" ! grep -q 1111111111111111 "$T/stdout"
cp "$T/q" "$T/q.before"
expect_rc 65 "sent again: already sent" "$cli" notices sent --queue "$T/q" 1111111111111111
check "the message says already" grep -q "already marked sent" "$T/err"
expect_rc 65 "sent: an unknown id among good ones" "$cli" notices sent --queue "$T/q" \
    22222222222222aa 9999999999999999
check "the message names the unknown id" grep -q 9999999999999999 "$T/err"
check "nothing was written" same "$T/q" "$T/q.before"
expect_rc 0 "due: still two" "$cli" notices due --queue "$T/q" --today 2026-11-24
check "still two" [ "$(wc -l <"$T/stdout")" -eq 2 ]
expect_rc 0 "sent two (upper-case id, default actor and date)" "$cli" notices sent --queue "$T/q" \
    22222222222222AA 0000000000000033
check "the actor defaults to the login name" grep -q '"actor":"'"$(id -un)"'"' "$T/q"
expect_rc 0 "due: none left" "$cli" notices due --queue "$T/q"
check "says no notices due" grep -qx "no notices due" "$T/stdout"
expect_rc 0 "due --json: none left" "$cli" notices due --queue "$T/q" --json
check "JSON prints nothing" [ ! -s "$T/stdout" ]

# ---- bad queues ----
expect_rc 74 "due: missing queue" "$cli" notices due --queue "$T/none"
check "the message names the file" grep -q "$T/none" "$T/err"
expect_rc 74 "sent: missing queue" "$cli" notices sent --queue "$T/none" 1111111111111111
check "sent does not create a queue" [ ! -e "$T/none" ]
printf '%s\n%s\n{"type":"notice","id":"44",oops}\n%s\n' "$n1" "$n2" "$n3" >"$T/bad"
chmod 600 "$T/bad"
expect_rc 65 "due: malformed queue" "$cli" notices due --queue "$T/bad"
check "the message names file and line 3" grep -q "$T/bad:3: " "$T/err"
check "no partial list" [ ! -s "$T/stdout" ]
cp "$T/bad" "$T/bad.before"
expect_rc 65 "sent: malformed queue" "$cli" notices sent --queue "$T/bad" 1111111111111111
check "nothing appended to a malformed queue" same "$T/bad" "$T/bad.before"
printf '%s\n%s' "$n1" '{"type":"notice","id":"55' >"$T/torn"
chmod 600 "$T/torn"
expect_rc 65 "due: queue ends inside a line" "$cli" notices due --queue "$T/torn"
check "says the line" grep -q "$T/torn:2: " "$T/err"
cp "$T/q.before" "$T/open"
chmod 640 "$T/open"
expect_rc 0 "due reads a group-readable queue" "$cli" notices due --queue "$T/open"
cp "$T/open" "$T/open.before"
expect_rc 74 "sent refuses a group-readable queue" "$cli" notices sent --queue "$T/open" \
    22222222222222aa
check "the message says why" grep -q "group or others" "$T/err"
check "nothing written to it" same "$T/open" "$T/open.before"
expect_rc 74 "due: a directory" "$cli" notices due --queue "$T"

# ---- the queue named by the policy ----
{ cat "$policy"; printf '\n'; } >"$T/policy.yaml"
if ! grep -q '^notices:' "$T/policy.yaml"; then
    printf 'notices: {queue: %s, due_days: 3, business_days: true}\n' "$T/pq" >>"$T/policy.yaml"
else
    # the example names a queue: point it here
    sed -i "s|^notices:.*|notices: {queue: $T/pq, due_days: 3, business_days: true}|" "$T/policy.yaml"
fi
if "$cli" policy check "$T/policy.yaml" >/dev/null 2>&1 && grep -q "queue: $T/pq" "$T/policy.yaml"; then
    printf '%s\n' "$n1" >"$T/pq"
    chmod 600 "$T/pq"
    expect_rc 0 "due --policy" "$cli" notices due --policy "$T/policy.yaml" --today 2026-11-24
    check "lists the policy's queue" grep -q "^1111111111111111  2026-11-25  D100-200-300" "$T/stdout"
    expect_rc 0 "due --policy with --queue: --queue wins" "$cli" notices due --policy "$T/policy.yaml" \
        --queue "$T/q"
    check "it read --queue" grep -qx "no notices due" "$T/stdout"
    # a policy that requires an audit log names it for `sent` too
    pk=()
    grep -qE 'required: *true' "$T/policy.yaml" && pk=(--keyring "$T/kr")
    expect_rc 0 "sent --policy" "$cli" notices sent --policy "$T/policy.yaml" ${pk[@]+"${pk[@]}"} 1111111111111111
    check "marked in the policy's queue" grep -q '"type":"sent","id":"1111111111111111"' "$T/pq"
    if ! grep -q '^audit:' "$T/policy.yaml"; then
        { cat "$T/policy.yaml"; printf 'audit: {dir: %s, required: true}\n' "$T/paudit"; } >"$T/apolicy.yaml"
        printf '%s\n' "$n2" >>"$T/pq"
        cp "$T/pq" "$T/pq.before"
        expect_rc 64 "sent --policy with a required audit log, no --keyring" "$cli" notices sent \
            --policy "$T/apolicy.yaml" 22222222222222aa
        check "says --keyring" grep -q -- "--keyring" "$T/err"
        check "nothing marked" same "$T/pq" "$T/pq.before"
        expect_rc 0 "sent --policy with a required audit log" "$cli" notices sent \
            --policy "$T/apolicy.yaml" --keyring "$T/kr" 22222222222222aa
        expect_rc 0 "the policy's audit log has the entry" "$cli" audit query "$T/paudit" \
            --kind notice-sent
        check "one NOTICE_SENT entry there" grep -q 22222222222222aa "$T/stdout"
    fi
    { cat "$DMVF_SRC/examples/policy.yaml"; printf '\n'; } | grep -v '^notices:' >"$T/noq.yaml"
    if "$cli" policy check "$T/noq.yaml" >/dev/null 2>&1; then
        expect_rc 64 "due --policy without a queue" "$cli" notices due --policy "$T/noq.yaml"
        check "says the policy names no queue" grep -q "names no notice queue" "$T/err"
    fi
else
    echo "SKIP --policy: the policy loader does not take a notices section here"
fi
expect_rc 78 "due: bad policy" "$cli" notices due --policy "$T/none.yaml"

# ---- sent with an audit log: NOTICE_SENT written before marking ----
printf '%s\n%s\n%s\n' "$n1" "$n2" "$n3" >"$T/aq"
chmod 600 "$T/aq"
expect_rc 0 "sent --audit" "$cli" notices sent --queue "$T/aq" --actor clerk7 --audit "$T/audit" \
    --keyring "$T/kr" 1111111111111111 22222222222222aa
check "both marked" [ "$(grep -c '"type":"sent"' "$T/aq")" -eq 2 ]
expect_rc 0 "audit verify after notices sent" "$cli" audit verify "$T/audit" --keyring "$T/kr"
expect_rc 0 "audit query --kind notice-sent" "$cli" audit query "$T/audit" --kind notice-sent
check "one NOTICE_SENT entry" [ "$(wc -l <"$T/stdout")" -eq 1 ]
check "it names the ids, the actor and the count" \
    grep -q '1111111111111111 22222222222222aa' "$T/stdout"
check "... the actor" grep -q 'clerk7' "$T/stdout"
check "... the count" grep -qE '"notices": ?2' "$T/stdout"
cp "$T/aq" "$T/aq.before"
expect_rc 65 "sent --audit: an id already sent" "$cli" notices sent --queue "$T/aq" \
    --audit "$T/audit" --keyring "$T/kr" 0000000000000033 1111111111111111
check "nothing marked" same "$T/aq" "$T/aq.before"
expect_rc 0 "audit query after the refusal" "$cli" audit query "$T/audit" --kind notice-sent
check "no entry for the refused marking" [ "$(wc -l <"$T/stdout")" -eq 1 ]
expect_rc 79 "sent --audit: missing keyring" "$cli" notices sent --queue "$T/aq" \
    --audit "$T/audit" --keyring "$T/nokr" 0000000000000033
check "nothing marked without the audit entry" same "$T/aq" "$T/aq.before"

# ---- the whole path: filter -> queue -> due -> sent ----
# the example policy with a notices section (the one made above)
fpolicy=$policy
"$cli" policy check "$policy" >/dev/null 2>&1 || fpolicy=$T/policy.yaml
if "$cli" filter --help 2>/dev/null | grep -q -- --notices; then
    expect_rc 0 "one record" "$gen" --count 1 --seed 21 --out "$T/rec.bin"
    subject=$("$gen" --count 1 --seed 21 --format jsonl | sed -n 's/^{"record_id":"\([^"]*\)".*/\1/p')
    check "the record has a record_id" [ -n "$subject" ]
    ice=(--ori DCICE0100 --agency-kind federal --agency-name "ICE ERO" --jurisdiction DC
         --tag immigration-enforcement --purpose 1 --legal-process judicial_warrant
         --legal-reference W-2026-9 --query-kind by_license --request-id t-ice
         --date 2026-11-20)
    run_filter() {
        "$cli" filter --policy "$fpolicy" --keyring "$T/kr" "${ice[@]}" --in "$T/rec.bin" \
            --out "$T/out.bin" --notices "$T/fq" "$@" >"$T/stdout" 2>"$T/err"
    }
    run_filter
    rc=$?
    if [ "$rc" -ne 0 ]; then
        # the policy may require an audit log
        run_filter --audit "$T/audit"
        rc=$?
    fi
    if [ "$rc" -eq 0 ]; then
        ok "filter: the immigration rule releases one record with a warrant"
        check "the queue was created 0600" [ "$(stat -c %a "$T/fq")" = 600 ]
        expect_rc 0 "notices due after filter" "$cli" notices due --queue "$T/fq" --today 2026-11-24
        check "one notice" [ "$(wc -l <"$T/stdout")" -eq 1 ]
        check "it names the subject, the due date (3 days), the agency and the warrant" \
            grep -qE "^[0-9a-f]{16}  2026-11-2[35]  $subject  ICE ERO  judicial_warrant$" "$T/stdout"
        id=$(cut -c1-16 "$T/stdout")
        expect_rc 0 "notices due --json after filter" "$cli" notices due --queue "$T/fq" --json \
            --today 2026-11-24
        check "JSON names the request and decision" \
            grep -q '"request_id":"t-ice".*"legal_reference":"W-2026-9".*"decision":"release"' "$T/stdout"
        expect_rc 0 "notices sent after filter" "$cli" notices sent --queue "$T/fq" "$id"
        expect_rc 0 "notices due: none" "$cli" notices due --queue "$T/fq"
        check "no notices due" grep -qx "no notices due" "$T/stdout"
    else
        bad "filter with --notices: exit $rc"
        sed 's/^/      /' "$T/err" | head -5
    fi
else
    echo "SKIP filter -> notices: \`dmvfilter filter\` has no --notices flag in this build"
fi

echo "notices.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
