#!/usr/bin/env bash
# Builds the libFuzzer targets (with AddressSanitizer) and runs each for SECONDS (default 60)
# from its seed corpus. A crash leaves its input in Tests/Fuzz/crashes/ and fails the run;
# turn it into a golden fixture or a unit test when fixed.
#   Tests/fuzz.sh [--build-only] [SECONDS]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# --build-only: build the targets and stop (scripts/test.sh builds them beside other work).
build_only=0
[ "${1:-}" = "--build-only" ] && { build_only=1; shift; }
seconds=${1:-60}
scratch=.build-fuzz
echo "== building the fuzz targets (-sanitize=fuzzer,address)"
for t in fuzz-pipeline fuzz-config fuzz-adm fuzz-sync fuzz-vrrp; do
    swift build --scratch-path $scratch --product $t -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld \
        -Xlinker --export-dynamic-symbol=LLVMFuzzerRunDriver \
        2>&1 | grep -vE "Cannot export local symbol|^warning: " | tail -n 2
done
[ $build_only -eq 1 ] && exit 0
bin=$(swift build --scratch-path $scratch --show-bin-path)
status=0
total=0
for t in fuzz-pipeline fuzz-config fuzz-adm fuzz-sync fuzz-vrrp; do
    corpus=$(mktemp -d)
    cp Tests/Fuzz/corpus/${t#fuzz-}/* "$corpus/" 2>/dev/null
    mkdir -p Tests/Fuzz/crashes
    echo "== $t for ${seconds}s"
    "$bin/$t" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix=Tests/Fuzz/crashes/$t- "$corpus" >"/tmp/$t.log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "/tmp/$t.log")
    total=$((total + ${runs:-0}))
    if [ $rc -ne 0 ]; then
        status=1
        echo "   FAILED (exit $rc):"
        grep -E "ERROR|Fatal|panic|==[0-9]+==" "/tmp/$t.log" | head -n 8 | sed 's/^/   /'
        ls Tests/Fuzz/crashes/$t-* 2>/dev/null | sed 's/^/   crash input: /'
    else
        echo "   ok: ${runs:-0} inputs, corpus $(ls "$corpus" | wc -l) files, no crash"
    fi
    rm -rf "$corpus"
done
echo "fuzz: $total inputs in all"
exit $status
