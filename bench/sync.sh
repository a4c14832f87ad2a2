#!/usr/bin/env bash
# The connection-sync benchmark, one command (as root, after scripts/setup.sh):
#
#   bench/sync.sh [--rounds N] [--seconds S] [--threads T] [--connections C] [--no-auth]
#
# Two Switchyard balancers in front of two nginx real servers (DR, one arm, one vrrp_instance
# holding the VIP, advert_int 0.1; lb1 MASTER priority 150 pinned to CPU 1, lb2 BACKUP priority
# 100 pinned to CPU 0) and a client running wrk pinned to CPU 0 (T threads, default 1; C
# connections, default 50; `Connection: close`, so every request is a new connection: the most
# new connections per second this lab reached). Modes, in alternating rounds (N each, default 3,
# S seconds of load each, default 8), both balancers started afresh for every round:
#   nosync  no lvs_sync_daemon: the same load with no connection sync at all
#   sync    `lvs_sync_daemon eth0 VI_1` on both: lb1's workers queue their flows' changes, its
#           sy-sync thread sends them (IPVS sync v1, multicast 224.0.0.81:8848), lb2 installs them
#   auth    the same with `switchyard_sync_auth_key` (every datagram sealed with HMAC-SHA256)
# Each round is measured over its steady part (from 1 s after wrk starts to 0.5 s before it
# stops). Per round: new connections/s (lb1's new_flows counter; wrk's own requests/s beside
# it), flows/s queued (lb1's sync_queued), sent (lb1's entries_sent) and installed (lb2's
# entries_installed), the losses (sync_queue_full, backlog_dropped, send_failures on lb1;
# install_queue_full, entries refused and the kernel's UDP receive-buffer errors on lb2; lb1's
# messages_sent against lb2's messages_received once the round has settled), the CPU time of
# lb1's sy-sync thread (/proc/PID/task/TID/schedstat) as % of one core, lb1's whole-process CPU
# (utime + stime) as % of one core, and the sync datagrams' bytes/s on the wire (an nftables
# counter on lb1's output, IP headers included).
#
# Goal (the sync issue): what sync costs the master under 10% of a core, judged on the sy-sync
# thread's median and on the difference of the process medians (sync or auth minus nosync).
# Writes bench/results/sync-<time>.md and .json. Every round is bounded in time; the lab's
# namespaces (prefix sybench-sync) are removed on exit, also on failure or Ctrl-C.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$root/scripts/lab.sh"

rounds=3
seconds=8
threads=1
connections=50
modes="nosync sync auth"
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --no-auth) modes="nosync sync"; shift ;;
        -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "bench/sync.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench/sync.sh: run as root" >&2; exit 1; }
[ "$seconds" -ge 3 ] 2>/dev/null || { echo "bench/sync.sh: --seconds must be a whole number, 3 or more" >&2; exit 2; }
bin=$(switchyard_bin)
[ -x "$bin" ] || { echo "bench/sync.sh: build first: swift build -c release --product switchyard" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench/sync.sh: wrk missing (apt-get install wrk)" >&2; exit 1; }
warmup=1
tail=0.5
window=$(awk -v s="$seconds" -v w=$warmup -v t=$tail 'BEGIN {print s - w - t}')
hz=$(getconf CLK_TCK)

net=198.19.32
vip=$net.100
lab_init sybench-sync
lab_switch
lab_host client eth0 $net.10/24
lab_host lb1 eth0 $net.2/24
lab_host lb2 eth0 $net.3/24
lab_host rs1 eth0 $net.11/24
lab_host rs2 eth0 $net.12/24
for rs in rs1 rs2; do
    lab_exec $rs env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$rs" sh "$root/scripts/realserver.sh" up $vip >/dev/null
    lab_nginx $rs $rs
done
lab_exec client sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
# The sync datagrams lb1 sends and lb2 receives, counted by the kernel (IP length).
for lb in lb1 lb2; do
    hook=$([ $lb = lb1 ] && echo output || echo input)
    printf 'table ip sybench {\n chain c {\n  type filter hook %s priority 0; policy accept;\n  udp dport 8848 counter\n }\n}\n' "$hook" |
        lab_exec $lb nft -f -
done
lb1_mac=$(lab_exec lb1 cat /sys/class/net/eth0/address)

conf() { # conf NAME STATE PRIORITY MODE
    {
        if [ "$4" != nosync ]; then
            echo "global_defs {"
            echo "    lvs_sync_daemon eth0 VI_1"
            [ "$4" = auth ] && echo "    switchyard_sync_auth_key \"sync bench key\""
            echo "}"
        fi
        cat <<CONF
vrrp_instance VI_1 {
    state $2
    interface eth0
    virtual_router_id 52
    priority $3
    advert_int 0.1
    version 3
    virtual_ipaddress {
        $vip
    }
}
virtual_server $vip 80 {
    lb_algo mh
    lb_kind DR
    real_server $net.11 80 { weight 1 }
    real_server $net.12 80 { weight 1 }
}
CONF
    } >"$LAB_DIR/$1.conf"
}
declare -A PID LOG
starts=0
start() { # start LB CPU: switchyard run in the background, waiting for "ready:"
    starts=$((starts + 1))
    LOG[$1]=$LAB_DIR/$1-$starts.log
    lab_bg "$1" "${LOG[$1]}" taskset -c "$2" "$bin" run --config "$LAB_DIR/$1.conf" --workers 1
    PID[$1]=$LAB_LAST_PID
    lab_wait_for "${LOG[$1]}" "ready:" 15 || { echo "$1 did not start:"; cat "${LOG[$1]}"; exit 1; }
}
# stop LB: SIGINT, wait (at most 10 s, then SIGKILL), and take its pid off the cleanup list.
stop() {
    local p=${PID[$1]} keep=() x
    kill -INT "$p" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    for x in "${LAB_PIDS[@]}"; do [ "$x" = "$p" ] || keep+=("$x"); done
    LAB_PIDS=("${keep[@]}")
}
adm() { lab_exec "$1" "$bin" adm --config "$LAB_DIR/$1.conf" "${@:2}" 2>/dev/null; }
state() { adm "$1" --vrrp | awk '$1 == "VI_1" {print $4}'; }
until_ok() { # until_ok SECONDS COMMAND...: poll every 0.1 s
    local i
    for i in $(seq $(($1 * 10))); do "${@:2}" && return 0; sleep 0.1; done
    return 1
}
is_state() { [ "$(state "$1")" = "$2" ]; }
client_on_lb1() {
    lab_exec client arping -c 1 -w 1 $vip >/dev/null 2>&1 || true
    [ "$(lab_exec client ip neigh show $vip dev eth0 | awk '{print $3}')" = "$lb1_mac" ]
}
# The sy-sync thread's CPU time in ns (0 when there is none: no sync configured).
sync_thread_ns() {
    local t
    for t in /proc/"${PID[lb1]}"/task/*; do
        [ "$(cat "$t/comm" 2>/dev/null)" = sy-sync ] && { awk '{print $1}' "$t/schedstat"; return; }
    done
    echo 0
}
# snapshot: "name value" lines, each counter named by where it comes from. The clock and the
# CPU times are read first, then the counters (the same order at both ends of the window).
snapshot() {
    echo "time_ns $(date +%s%N)"
    echo "lb1_cpu_ticks $(awk '{print $14 + $15}' "/proc/${PID[lb1]}/stat")"
    echo "lb1_sync_thread_ns $(sync_thread_ns)"
    adm lb1 -Ln --stats | awk '$1 ~ /^(new_flows|sync_queued|sync_queue_full)$/ {print "lb1_" $1, $2}'
    adm lb1 --sync | awk 'NF == 2 && $1 != "sync" {print "lb1_" $1, $2}'
    adm lb2 --sync | awk 'NF == 2 && $1 != "sync" {print "lb2_" $1, $2}'
    adm lb2 -Ln --stats | awk '$1 == "sync_installed" {print "lb2_" $1, $2}'
    lab_exec lb1 nft list table ip sybench | awk '/counter/ {for (i = 1; i < NF; i++) if ($i == "packets") print "wire_packets", $(i+1); else if ($i == "bytes") print "wire_bytes", $(i+1)}'
    lab_exec lb2 awk '$1 == "Udp:" && !h {for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next}
        $1 == "Udp:" {for (i = 2; i <= NF; i++) if (n[i] == "RcvbufErrors") print "lb2_udp_rcvbuf_errors", $i}' /proc/net/snmp
}
# delta A B NAME: B's value less A's (0 for a counter neither has)
delta() { awk -v k="$3" 'FNR == NR && $1 == k {a = $2} FNR != NR && $1 == k {b = $2} END {print b - a}' "$1" "$2"; }
value() { awk -v k="$2" '$1 == k {v = $2} END {print v + 0}' "$1"; }
per_s() { awk -v n="$1" -v ns="$2" 'BEGIN {printf "%.0f", n * 1e9 / ns}'; }
pct() { awk -v n="$1" -v ns="$2" 'BEGIN {printf "%.2f", n * 100 / ns}'; }

declare -A results
# round MODE R: both balancers started, wrk for S seconds, counters over the steady window.
round() {
    local mode=$1 a=$LAB_DIR/a b=$LAB_DIR/b end=$LAB_DIR/end ns rps conn queued sent installed thread proc wire loss transit
    conf lb1 MASTER 150 "$mode"
    conf lb2 BACKUP 100 "$mode"
    start lb1 1
    until_ok 5 is_state lb1 MASTER || { echo "  lb1 did not become master"; cat "${LOG[lb1]}"; exit 1; }
    start lb2 0
    until_ok 5 is_state lb2 BACKUP || { echo "  lb2 is $(state lb2), not BACKUP"; exit 1; }
    until_ok 3 client_on_lb1 || { echo "  the client's entry for $vip is not lb1's"; exit 1; }
    lab_exec client timeout $((seconds + 10)) taskset -c 0 wrk -t"$threads" -c"$connections" -d"${seconds}s" \
        -H "Connection: close" "http://$vip/" >"$LAB_DIR/wrk" 2>&1 &
    local load=$!
    sleep $warmup
    snapshot >"$a"
    sleep "$window"
    snapshot >"$b"
    wait $load || true
    # Settled: what lb1 sent has arrived (or never will).
    sleep 1
    snapshot >"$end"
    stop lb2
    stop lb1
    ns=$(delta "$a" "$b" time_ns)
    rps=$(sed -n 's/^Requests\/sec: *\([0-9]*\).*/\1/p' "$LAB_DIR/wrk")
    conn=$(per_s "$(delta "$a" "$b" lb1_new_flows)" "$ns")
    queued=$(per_s "$(delta "$a" "$b" lb1_sync_queued)" "$ns")
    sent=$(per_s "$(delta "$a" "$b" lb1_entries_sent)" "$ns")
    installed=$(per_s "$(delta "$a" "$b" lb2_entries_installed)" "$ns")
    thread=$(pct "$(delta "$a" "$b" lb1_sync_thread_ns)" "$ns")
    proc=$(pct "$(($(delta "$a" "$b" lb1_cpu_ticks) * 1000000000 / hz))" "$ns")
    wire=$(per_s "$(delta "$a" "$b" wire_bytes)" "$ns")
    # Losses over the whole round (the counters start at 0 with each start).
    loss="sync_queue_full $(value "$end" lb1_sync_queue_full), backlog_dropped $(value "$end" lb1_backlog_dropped),"
    loss="$loss send_failures $(value "$end" lb1_send_failures), install_queue_full $(value "$end" lb2_install_queue_full),"
    loss="$loss refused $(awk '$1 ~ /^lb2_entries_refused/ {n += $2} END {print n + 0}' "$end"), udp_rcvbuf_errors $(delta "$a" "$end" lb2_udp_rcvbuf_errors)"
    transit=$(($(value "$end" lb1_messages_sent) - $(value "$end" lb2_messages_received)))
    results[rps_$mode]="${results[rps_$mode]:-} ${rps:-0}"
    results[conn_$mode]="${results[conn_$mode]:-} $conn"
    results[queued_$mode]="${results[queued_$mode]:-} $queued"
    results[sent_$mode]="${results[sent_$mode]:-} $sent"
    results[installed_$mode]="${results[installed_$mode]:-} $installed"
    results[thread_$mode]="${results[thread_$mode]:-} $thread"
    results[proc_$mode]="${results[proc_$mode]:-} $proc"
    results[wire_$mode]="${results[wire_$mode]:-} $wire"
    results[wirepps_$mode]="${results[wirepps_$mode]:-} $(per_s "$(delta "$a" "$b" wire_packets)" "$ns")"
    results[cpuconn_$mode]="${results[cpuconn_$mode]:-} $(awk -v p="$proc" -v c="$conn" 'BEGIN {printf "%.1f", c > 0 ? p * 1e4 / c : 0}')"
    results[lost_$mode]="${results[lost_$mode]:-} $(echo "$loss" | awk -v t="$transit" '{n = t; for (i = 2; i <= NF; i += 2) n += $i} END {print n}')"
    results[loss_$mode]="${results[loss_$mode]:-}; round $2: $loss, datagrams sent less received $transit"
    printf "  round %s %-6s %6d conn/s (wrk %6s req/s); flows/s queued %6d sent %6d installed %6d; sy-sync %5s%%, lb1 %6s%% of a core; sync %7d B/s\n" \
        "$2" "$mode" "$conn" "${rps:-0}" "$queued" "$sent" "$installed" "$thread" "$proc" "$wire"
    [ "$mode" = nosync ] || echo "           losses: $loss, datagrams sent less received $transit"
}

echo "== connection sync under new connections: wrk -t$threads -c$connections (Connection: close) on CPU 0, lb1 (master) on CPU 1, lb2 (backup) on CPU 0;"
echo "   $rounds rounds x ${seconds}s per mode ($modes), alternating; ${window}s of each measured"
for r in $(seq "$rounds"); do
    for mode in $modes; do round "$mode" "$r"; done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
minmax() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {print lo "-" hi}'; }
declare -A med
for k in "${!results[@]}"; do
    case $k in loss_*) ;; *) med[$k]=$(echo "${results[$k]}" | median) ;; esac
done
# What sync costs lb1, by the process: the mode's median less nosync's, in % of a core; and the
# same from CPU per connection (µs), at the mode's own rate, which takes out a change of rate.
cost() { awk -v a="${med[proc_$1]}" -v b="${med[proc_nosync]}" 'BEGIN {printf "%.2f", a - b}'; }
cost_per_conn() { awk -v a="${med[cpuconn_$1]}" -v b="${med[cpuconn_nosync]}" -v c="${med[conn_$1]}" 'BEGIN {printf "%.2f", (a - b) * c / 1e4}'; }
verdict() { awk -v v="$1" 'BEGIN {print (v < 10 ? "met" : "not met")}'; }
stamp=$(date -u +%Y%m%dT%H%M%SZ)
md=$here/results/sync-$stamp.md
mkdir -p "$here/results"
{
    echo "# Connection sync under new connections, $stamp"
    echo
    echo "Kernel $(uname -r), $(nproc) cores; DR, one arm; wrk -t$threads -c$connections with \`Connection: close\` on CPU 0, lb1 (master, 1 worker) on CPU 1,"
    echo "lb2 (backup) on CPU 0; $rounds rounds x ${seconds} s per mode, alternating, each measured over its steady ${window} s; medians (min-max)."
    echo
    echo "| mode | new conn/s (lb1) | wrk req/s | flows/s queued | sent | installed (lb2) | losses (all rounds) | sy-sync CPU % | lb1 CPU % | lb1 CPU µs/conn | sync wire B/s (datagrams/s) |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for mode in $modes; do
        echo "| $mode | ${med[conn_$mode]} ($(echo "${results[conn_$mode]}" | minmax)) | ${med[rps_$mode]} | ${med[queued_$mode]} | ${med[sent_$mode]} |" \
            "${med[installed_$mode]} ($(echo "${results[installed_$mode]}" | minmax)) | $(echo "${results[lost_$mode]}" | tr ' ' '\n' | awk '{n += $1} END {print n + 0}') |" \
            "${med[thread_$mode]} ($(echo "${results[thread_$mode]}" | minmax)) | ${med[proc_$mode]} ($(echo "${results[proc_$mode]}" | minmax)) | ${med[cpuconn_$mode]} |" \
            "${med[wire_$mode]} (${med[wirepps_$mode]}) |"
    done
    echo
    echo "## Against the goal: sync costs the master under 10% of a core"
    echo
    for mode in $modes; do
        [ "$mode" = nosync ] && continue
        echo "- $mode: sy-sync thread ${med[thread_$mode]}% ($(verdict "${med[thread_$mode]}")); lb1's process $(cost "$mode") points over nosync"
        echo "  ($(verdict "$(cost "$mode")")), $(cost_per_conn "$mode") from CPU per connection at its rate"
    done
    echo
    echo "New conn/s: lb1's new_flows over the window (wrk's requests/s over its whole run beside it). Flows/s:"
    echo "lb1's sync_queued (records its worker queued), entries_sent (records in datagrams sent) and lb2's"
    echo "entries_installed (records handed to its worker). Losses: lb1's sync_queue_full, backlog_dropped and"
    echo "send_failures, lb2's install_queue_full, entries refused and UDP receive-buffer errors, and lb1's"
    echo "messages_sent less lb2's messages_received 1 s after the load; per round:"
    for mode in $modes; do [ "$mode" = nosync ] || echo "  - $mode${results[loss_$mode]}"; done
    echo
    echo "sy-sync CPU: the thread's run time (/proc/PID/task/TID/schedstat) over the window. lb1 CPU: the"
    echo "process's utime + stime; its system time includes the kernel's work for the frames it forwards."
    echo "Wire: lb1's sync datagrams (IP length) from an nftables counter on its output."
} >"$md"
jarr() { echo "[$(echo ${results[$1]:-} | tr ' ' ',')]"; }
{
    echo "{\"time\": \"$stamp\", \"kernel\": \"$(uname -r)\", \"cores\": $(nproc), \"rounds\": $rounds, \"seconds\": $seconds, \"window_s\": $window,"
    echo " \"wrk\": {\"threads\": $threads, \"connections\": $connections},"
    sep=""
    for mode in $modes; do
        printf '%s "%s": {"new_conn_per_s": %s, "wrk_req_per_s": %s, "queued_per_s": %s, "sent_per_s": %s, "installed_per_s": %s,\n' \
            "$sep" "$mode" "$(jarr conn_$mode)" "$(jarr rps_$mode)" "$(jarr queued_$mode)" "$(jarr sent_$mode)" "$(jarr installed_$mode)"
        printf '   "losses": %s, "sync_thread_cpu_pct": %s, "process_cpu_pct": %s, "process_cpu_us_per_conn": %s, "wire_bytes_per_s": %s, "wire_datagrams_per_s": %s' \
            "$(jarr lost_$mode)" "$(jarr thread_$mode)" "$(jarr proc_$mode)" "$(jarr cpuconn_$mode)" "$(jarr wire_$mode)" "$(jarr wirepps_$mode)"
        [ "$mode" = nosync ] || printf ',\n   "process_cpu_over_nosync_pct": %s, "process_cpu_over_nosync_per_conn_pct": %s' "$(cost "$mode")" "$(cost_per_conn "$mode")"
        printf '}'
        sep=$',\n'
    done
    echo "}"
} >"$here/results/sync-$stamp.json"
echo
cat "$md"
echo
echo "written: $md and ${md%.md}.json"
