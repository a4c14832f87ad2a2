#!/usr/bin/env bash
# The whole test suite: the unit and golden-packet tests under AddressSanitizer, the end-to-end
# tests in network namespaces against the release build, a bounded fuzzing run of the packet
# pipeline, both parsers, the VRRP advert decoder and the sync decoder (FUZZ_SECONDS per target,
# default 20), the unit tests again under ThreadSanitizer, and the daemon under ThreadSanitizer
# through four of the end-to-end files. Run as root after scripts/setup.sh.
#
# What keeps it near 30 minutes on two cores: the unit tests run once plain-and-checked (under
# ASan, whose run is the one that counts; a plain run would repeat it), the TSan and fuzz builds
# run at low priority beside the end-to-end files (which mostly wait), the TSan unit build's
# own switchyard binary is the daemon the TSan end-to-end files run (no second TSan build), and
# the builds for tests leave out the HTTP trait (SwiftNIO and Hummingbird: SwitchyardHTTP has
# no unit tests, and the end-to-end tests run it in the release build).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ "$(id -u)" -eq 0 ] || { echo "test.sh: run as root (the end-to-end tests create network namespaces)" >&2; exit 1; }
started=$SECONDS
took() { echo "   (${1}: $((SECONDS - phase)) s)"; }
sanitizers_passed=0
sanitizers_failed=0

# LeakSanitizer is off: at exit it reports only XCTest's own test-case objects (docs/robustness.md).
phase=$SECONDS
echo "== unit and golden-packet tests under AddressSanitizer: swift test --sanitize=address"
ASAN_OPTIONS=detect_leaks=0 swift test --scratch-path .build-asan --sanitize=address --disable-default-traits \
    >/tmp/switchyard-unit.log 2>&1
unit=$?
grep -a -E "error:|failed \(" /tmp/switchyard-unit.log | head -n 20
# -a: a test's log line may quote bytes that would make grep call the file binary.
summary=$(grep -a -E "Test Suite 'All tests' (passed|failed)" -A1 /tmp/switchyard-unit.log | tail -n 1)
asan_reports=$(grep -c "ERROR: AddressSanitizer" /tmp/switchyard-unit.log)
echo "   ${summary# }; AddressSanitizer reports: $asan_reports"
if [ "$asan_reports" -eq 0 ] && [ -n "$summary" ]; then
    sanitizers_passed=$((sanitizers_passed + 1))
else
    sanitizers_failed=$((sanitizers_failed + 1))
    grep -a -E -A12 "ERROR: AddressSanitizer" /tmp/switchyard-unit.log | head -n 30
fi

# "Executed 76 tests, with 0 failures ..." or "... with 1 test skipped and 0 failures ...".
unit_total=$(echo "$summary" | sed -n 's/.*Executed \([0-9]*\) tests\{0,1\}, with .*/\1/p')
unit_failed=$(echo "$summary" | sed -n 's/.* \([0-9]*\) failures\{0,1\} .*/\1/p')
unit_skipped=$(echo "$summary" | sed -n 's/.*with \([0-9]*\) tests\{0,1\} skipped.*/\1/p')
unit_total=${unit_total:-0}
unit_failed=${unit_failed:-1}
unit_skipped=${unit_skipped:-0}
[ "$unit" -ne 0 ] && [ "$unit_failed" -eq 0 ] && unit_failed=1
took "unit tests"

# The ThreadSanitizer build and the fuzz targets' build run beside the end-to-end files, at the
# lowest CPU priority: those files mostly wait (on timers, adverts and rate-limited downloads),
# and the builds take only the time they leave idle. Their phases below then find them built.
(
    nice -n 19 swift build --build-tests --scratch-path .build-tsan --sanitize=thread --disable-default-traits \
        >/tmp/switchyard-thread-build.log 2>&1
    nice -n 19 bash Tests/fuzz.sh --build-only >/tmp/switchyard-fuzz-build.log 2>&1
) &
builds=$!

phase=$SECONDS
echo "== end-to-end tests (network namespaces, nginx, curl), with the sanitizer and fuzz builds beside them"
bash Tests/e2e/run.sh | tee /tmp/switchyard-e2e.log
e2e=${PIPESTATUS[0]}
e2e_passed=$(sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' /tmp/switchyard-e2e.log)
e2e_failed=$(sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' /tmp/switchyard-e2e.log)
e2e_passed=${e2e_passed:-0}
e2e_failed=${e2e_failed:-1}
[ "$e2e" -ne 0 ] && [ "$e2e_failed" -eq 0 ] && e2e_failed=1
took "end-to-end"
phase=$SECONDS
wait $builds
took "the rest of the builds begun beside them"

phase=$SECONDS
echo "== fuzzing: pipeline, config parser, adm parser, sync decoder, VRRP adverts, ${FUZZ_SECONDS:-20} s each (libFuzzer + AddressSanitizer)"
bash Tests/fuzz.sh "${FUZZ_SECONDS:-20}" | tee /tmp/switchyard-fuzz.log
fuzz=${PIPESTATUS[0]}
fuzz_passed=$(grep -c "^   ok: " /tmp/switchyard-fuzz.log)
fuzz_failed=$((5 - fuzz_passed))
took "fuzzing"

# The unit tests again under ThreadSanitizer. Suites that start no thread and share nothing
# (parsers, golden packets, Maglev tables, checksums, codecs) give it nothing to find; they ran
# under AddressSanitizer above, and skipping them here saves about a minute of CI's 30.
phase=$SECONDS
echo "== unit tests under -sanitize=thread (single-threaded suites skipped: run under ASan above)"
single_threaded='ConfigInputTests|MaglevTests|ReplayTests|GSOGoldenTests|PacketParserTests|GoldenPacketTests|Golden6PacketTests|ChecksumTests|SyncCodecErrorTests'
swift test --scratch-path .build-tsan --sanitize=thread --disable-default-traits --skip "$single_threaded" \
    >/tmp/switchyard-thread.log 2>&1
rc=$?
found=$(grep -c "WARNING: ThreadSanitizer" /tmp/switchyard-thread.log)
echo "   $(grep -a -E "Test Suite '(All|Selected) tests' (passed|failed)" -A1 /tmp/switchyard-thread.log | tail -n 1 | sed 's/^[[:space:]]*//'); sanitizer reports: $found"
if [ $rc -eq 0 ] && [ "$found" -eq 0 ]; then
    sanitizers_passed=$((sanitizers_passed + 1))
else
    sanitizers_failed=$((sanitizers_failed + 1))
    grep -a -E -A12 "WARNING: ThreadSanitizer|error:" /tmp/switchyard-thread.log | head -n 30
fi
took "ThreadSanitizer unit tests"

# The daemon itself under ThreadSanitizer: the switchyard binary the TSan unit build made (debug,
# -sanitize=thread) runs the end-to-end files that exercise its threads most (workers, ARP
# responder, control socket, health checkers, reloads, the VRRP service, connection sync with
# NAT on two workers, the trace rings). Any TSan report, or any failed check (TSan also makes
# the process exit 66, which the files' exit-status checks catch), fails it. test_dr and
# test_nat are left out: every thread they run, these four run too (test_sync forwards NAT on
# two workers, test_health_adm DR). test_robust is left out: its RSS-growth check measures
# TSan's shadow memory instead of the engine. Built without the HTTP listener (as above), so
# test_status is not among them.
phase=$SECONDS
echo "== the daemon under -sanitize=thread: test_health_adm, test_failover, test_sync, test_lifecycle"
tsan_logs=$(mktemp -d)
tsan_bin=$root/.build-tsan/debug/switchyard
if [ -x "$tsan_bin" ]; then
    daemon_failed=0
    : >/tmp/switchyard-tsan-daemon.log
    for t in test_health_adm test_failover test_sync test_lifecycle; do
        TSAN_OPTIONS="log_path=$tsan_logs/report halt_on_error=0" SWITCHYARD_BIN="$tsan_bin" E2E_ONLY=$t \
            bash Tests/e2e/run.sh >>/tmp/switchyard-tsan-daemon.log 2>&1 || daemon_failed=1
    done
    checks=$(sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' /tmp/switchyard-tsan-daemon.log |
        awk '{p += $1; f += $2} END {print p + 0, f + 0}')
    reports=$(cat "$tsan_logs"/report.* 2>/dev/null | grep -c "WARNING: ThreadSanitizer")
    echo "   checks passed, failed: $checks; ThreadSanitizer reports: $reports"
    if [ "$daemon_failed" -eq 0 ] && [ "$reports" -eq 0 ] && [ "${checks#* }" = 0 ]; then
        sanitizers_passed=$((sanitizers_passed + 1))
    else
        sanitizers_failed=$((sanitizers_failed + 1))
        grep -h "FAIL" /tmp/switchyard-tsan-daemon.log | head -n 10
        cat "$tsan_logs"/report.* 2>/dev/null | head -n 60
    fi
else
    echo "   the TSan unit build made no switchyard binary ($tsan_bin)"
    sanitizers_failed=$((sanitizers_failed + 1))
fi
rm -rf "$tsan_logs"
took "the daemon under ThreadSanitizer"
echo "   (all: $((SECONDS - started)) s)"

# One closing line over all: unit tests, end-to-end checks, fuzz targets and sanitizer runs
# (the unit run's ASan verdict, the TSan unit run and the daemon's TSan run) count one each.
# A skipped unit test counts neither as passed nor as failed, and is named in the line.
echo "tests: $((unit_total - unit_failed - unit_skipped + e2e_passed + fuzz_passed + sanitizers_passed)) passed, $((unit_failed + e2e_failed + fuzz_failed + sanitizers_failed)) failed$([ "$unit_skipped" -gt 0 ] && echo ", $unit_skipped skipped (see the unit-test log)")"
[ "$unit" -eq 0 ] && [ "$e2e" -eq 0 ] && [ "$fuzz" -eq 0 ] && [ "$sanitizers_failed" -eq 0 ]
