# tests/cli_lib.sh - the checks shared by tests/cli/*.sh (sourced, not a test).
# The script sets T (its temp dir) first; it ends with `finish`.
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() { # check DESCRIPTION [!] CMD...
    local desc=$1 neg=0; shift
    if [ "$1" = "!" ]; then neg=1; shift; fi
    "$@"
    if [ $(( $? == 0 )) -ne "$neg" ]; then ok "$desc"; else bad "$desc"; fi
}
# expect_rc WANT DESCRIPTION CMD... : stdout to $T/stdout, stderr to $T/err
expect_rc() {
    local want=$1 desc=$2; shift 2
    "$@" >"$T/stdout" 2>"$T/err"
    local rc=$?
    if [ "$rc" -eq "$want" ]; then
        ok "$desc (exit $rc)"
    else
        bad "$desc: exit $rc, want $want"
        sed 's/^/      /' "$T/err" | head -5
    fi
}
