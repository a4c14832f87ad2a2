# shellcheck shell=bash
# Assertions for the end-to-end tests: each check prints ok/FAIL with what it saw, and the
# totals go to $E2E_RESULTS for the runner's closing line.
E2E_PASSED=0
E2E_FAILED=0

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        E2E_PASSED=$((E2E_PASSED + 1))
        echo "  ok   $what"
    else
        E2E_FAILED=$((E2E_FAILED + 1))
        echo "  FAIL $what"
    fi
}

# expect DESCRIPTION ACTUAL OP EXPECTED: integer comparison (-eq -ge -le -gt -lt), showing both.
expect() {
    local what=$1 actual=$2 op=$3 expected=$4
    if [ "$actual" "$op" "$expected" ] 2>/dev/null; then
        E2E_PASSED=$((E2E_PASSED + 1))
        echo "  ok   $what ($actual $op $expected)"
    else
        E2E_FAILED=$((E2E_FAILED + 1))
        echo "  FAIL $what (got '$actual', wanted $op $expected)"
    fi
}

# e2e_report: record this file's totals; called from the EXIT path before lab cleanup.
e2e_report() {
    echo "$E2E_PASSED $E2E_FAILED" >>"${E2E_RESULTS:-/dev/null}"
    echo "  -- $E2E_PASSED passed, $E2E_FAILED failed in $(basename "$0")"
}
