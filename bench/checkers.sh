#!/usr/bin/env bash
# The health checkers under load, one command (needs root for its own network namespace):
#
#   bench/checkers.sh [SECONDS] [--old]
#
# Runs N TCP_CHECK checkers at delay_loop 1 (connect_timeout 3, retry 1, warmup 1), as 500 and
# 2,000 services of ten real servers, for N = 5,000 and 20,000, each for SECONDS (default 25)
# against 64 listeners on 127.0.1.1-64 in a separate process, and reports for the checking
# process: threads (most seen); CPU share (utime+stime over the steady part, from 2 s in), its
# user part, and CPU microseconds per check (on loopback the kernel's work for the listening side
# of each handshake runs in our softirq and is counted too); the time its threads sat runnable
# waiting for a core (schedstat, summed over threads: on a shared machine the part of the
# lateness that is not the checkers' own); RSS (most seen); checks per second; and how late each
# check started against its due time (median, p99, max, ms). --old also runs 5,000 on a thread per checker, the design
# HealthMonitor replaced. Everything stays on loopback inside a fresh network namespace, so the
# tens of thousands of connections a second leave no TIME_WAIT in the host's tables.
# Writes bench/results/checkers-<time>.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
seconds=${1:-25}
old=${2:-}
if [ "$(id -u)" != 0 ]; then echo "bench/checkers.sh: needs root (it makes a network namespace)" >&2; exit 1; fi
swift build -c release --product switchyard-checkbench 2>&1 | tail -n 1
bin=$(swift build -c release --show-bin-path)/switchyard-checkbench
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/checkers-$stamp.txt
mkdir -p bench/results
port=80 # DR: the real servers listen on the service's port
listeners=64

# Inside the namespace: loopback up, the listeners in the background, then the runs one by one.
runs="loop 5000; loop 20000"
[ "$old" = --old ] && runs="threads 5000; $runs"
unshare --net bash -s "$bin" "$seconds" "$listeners" "$port" "$runs" <<'INNER' | tee "$out"
set -euo pipefail
bin=$1 seconds=$2 listeners=$3 port=$4 runs=$5
ip link set lo up
ulimit -n 20000
"$bin" serve "$listeners" "$port" >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    [ "$(ss -Hltn "sport = :$port" | wc -l)" -ge "$listeners" ] && break
    sleep 0.1
done
echo "# $(nproc) cores, $(uname -r); $listeners listeners; ${seconds} s a run"
IFS=';' read -ra list <<<"$runs"
for r in "${list[@]}"; do
    read -r mode n <<<"$r"
    timeout --signal=KILL $((seconds + 60)) "$bin" run "$mode" "$n" "$seconds" "$listeners" "$port"
    sleep 2
done
INNER
echo "written: $out"
