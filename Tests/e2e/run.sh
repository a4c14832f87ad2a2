#!/usr/bin/env bash
# Runs every end-to-end test file (Tests/e2e/test_*.sh) and closes with "e2e: N passed, N failed".
# Needs root, the release build, and the packages scripts/setup.sh installs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export E2E_RESULTS
E2E_RESULTS=$(mktemp)
trap 'rm -f "$E2E_RESULTS"' EXIT
status=0
for t in "$here"/test_*.sh; do
    [ -n "${E2E_ONLY:-}" ] && [[ $t != *"$E2E_ONLY"* ]] && continue
    echo "== $(basename "$t")"
    started=$(date +%s)
    # A test file that dies before reporting still counts as a failure.
    before=$(wc -l <"$E2E_RESULTS")
    timeout --signal=TERM 600 bash "$t"
    rc=$?
    [ $rc -eq 0 ] || status=1
    # A file that died (or failed) without recording a failed check still counts as one.
    if [ "$(wc -l <"$E2E_RESULTS")" -le "$before" ]; then
        echo "0 1" >>"$E2E_RESULTS"
    elif [ $rc -ne 0 ] && [ "$(tail -n 1 "$E2E_RESULTS" | cut -d' ' -f2)" = 0 ]; then
        echo "0 1" >>"$E2E_RESULTS"
        echo "   ($(basename "$t") exited $rc before finishing its checks)"
    fi
    echo "   ($(($(date +%s) - started)) s)"
done
passed=$(awk '{p += $1} END {print p + 0}' "$E2E_RESULTS")
failed=$(awk '{f += $2} END {print f + 0}' "$E2E_RESULTS")
left=$(ip netns list | grep -c '^sye2e' || true)
if [ "$left" -gt 0 ]; then
    echo "namespaces left behind: $(ip netns list | grep '^sye2e' | tr '\n' ' ')"
    failed=$((failed + 1))
fi
echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
