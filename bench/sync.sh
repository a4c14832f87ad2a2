#!/usr/bin/env bash
# The connection-sync benchmark, one command (as root, after scripts/setup.sh):
#
#   bench/sync.sh [--rounds N] [--seconds S] [--modes "nosync sync auth walk"]
#                 [--threads T] [--connections C] [--wrk-cpus LIST]
#
# Two Switchyard balancers in front of two nginx real servers (DR, one arm, one vrrp_instance
# holding the VIP, advert_int 0.1; lb1 MASTER priority 150 on CPU 1, lb2 BACKUP priority 100 on
# CPU 0, one worker each) and a client running wrk (T threads, default 2; C connections, default
# 100; on CPU 0; `Connection: close`, so every request is a new connection). Modes, in alternating
# rounds (N each, default 3, S seconds of load each, default 6), both balancers started afresh
# for every round:
#   nosync  no lvs_sync_daemon: the same load with no connection sync at all
#   sync    `lvs_sync_daemon eth0 VI_1` on both: lb1's worker queues its flows' changes, its
#           sy-sync thread sends them (IPVS sync v1, multicast 224.0.0.81:8848), lb2 installs them
#   auth    the same with `switchyard_sync_auth_key` (every datagram sealed with HMAC-SHA256)
#   walk    sync with lb1 started `--sync-refresh 2`: its full walks of the flow table (every 30 s
#           by default, so never inside the other modes' rounds) resend every live flow meanwhile
# Each round is measured over its steady part (from 1 s after wrk starts to 0.5 s before it
# stops). Per round: new connections/s (SYNs counted at the real servers by nftables; wrk's
# requests/s beside it), flows/s queued (lb1's sync_queued), sent (lb1's entries_sent) and
# installed (lb2's entries_installed), what was lost (sync_queue_full, backlog_dropped,
# send_failures on lb1; install_queue_full, entries refused and UDP receive-buffer errors on lb2;
# and between the counters once the round has settled), the CPU time of lb1's sy-sync thread
# (/proc/PID/task/TID/schedstat) and of its whole process (utime + stime), each in % of one core,
# and the sync datagrams' bytes/s (an nftables counter on lb1's output, IP headers included).
#
# Goal (the sync issue): what sync costs the master under 10% of a core, judged on the sy-sync
# thread's median and on the process's median less nosync's.
# Writes bench/results/sync-<time>.md and .json; about 2 minutes with the defaults. Every round
# is bounded in time; the lab's namespaces (prefix sybench-sync) are removed on exit, also on
# failure or Ctrl-C.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$root/scripts/lab.sh"

rounds=3
seconds=6
threads=2
connections=100
wrk_cpus=0
modes="nosync sync auth walk"
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --wrk-cpus) wrk_cpus=$2; shift 2 ;;
        --modes) modes=$2; shift 2 ;;
        -h | --help) sed -n '2,31p' "$0"; exit 0 ;;
        *) echo "bench/sync.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
for m in $modes; do
    case $m in nosync | sync | auth | walk) ;; *) echo "bench/sync.sh: unknown mode $m (nosync, sync, auth, walk)" >&2; exit 2 ;; esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench/sync.sh: run as root" >&2; exit 1; }
[ "$seconds" -ge 3 ] 2>/dev/null || { echo "bench/sync.sh: --seconds must be a whole number, 3 or more" >&2; exit 2; }
bin=$(switchyard_bin)
[ -x "$bin" ] || { echo "bench/sync.sh: build first: swift build -c release --product switchyard" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench/sync.sh: wrk missing (apt-get install wrk)" >&2; exit 1; }
warmup=1
walk_refresh=2
tail=0.5
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
# New connections: each real server counts the SYNs it receives.
for rs in rs1 rs2; do
    printf 'table ip sybench {\n chain c {\n  type filter hook prerouting priority 0; policy accept;\n  tcp dport 80 tcp flags & (syn | ack) == syn counter\n }\n}\n' |
        lab_exec $rs nft -f -
done
# More client ports before they come round again (each new connection takes one).
lab_exec client sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
# The sync datagrams lb1 sends, counted by the kernel (IP length).
printf 'table ip sybench {\n chain c {\n  type filter hook output priority 0; policy accept;\n  udp dport 8848 counter\n }\n}\n' |
    lab_exec lb1 nft -f -
lb1_mac=$(lab_exec lb1 cat /sys/class/net/eth0/address)

conf() { # conf NAME STATE PRIORITY MODE
    {
        if [ "$4" != nosync ]; then
            echo "global_defs {"
            echo "    lvs_sync_daemon eth0 VI_1"
            [ "$4" = auth ] && echo "    switchyard_sync_auth_key \"sync bench key, the same on both\""
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
start() { # start LB CPU [OPTION...]: switchyard run in the background, waiting for "ready:"
    starts=$((starts + 1))
    LOG[$1]=$LAB_DIR/$1-$starts.log
    lab_bg "$1" "${LOG[$1]}" taskset -c "$2" "$bin" run --config "$LAB_DIR/$1.conf" --workers 1 "${@:3}"
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
    lab_exec client ping -c 1 -W 1 $vip >/dev/null 2>&1 || true
    [ "$(lab_exec client ip neigh show $vip dev eth0 | awk '{print $3}')" = "$lb1_mac" ]
}
# Each of lb1's threads' CPU time in ns, by name ("thread_sy-sync 123"; threads of one name summed),
# and the whole process's user + system time in ns.
cpu_ns() {
    local t
    for t in /proc/"${PID[lb1]}"/task/*; do
        echo "$(cat "$t/comm" 2>/dev/null) $(awk '{print $1}' "$t/schedstat" 2>/dev/null)"
    done | awk 'NF == 2 {n[$1] += $2} END {for (k in n) print "thread_" k, n[k]}'
    awk -v hz="$hz" '{printf "process %.0f\n", ($14 + $15) * 1e9 / hz}' "/proc/${PID[lb1]}/stat"
}
# New connections: SYNs reaching the real servers (a client port used again hits lb1's old flow,
# so its new_flows counter misses those).
syns() {
    for rs in rs1 rs2; do lab_exec $rs nft list table ip sybench; done |
        awk '/counter/ {for (i = 1; i < NF; i++) if ($i == "packets") n += $(i+1)} END {print "syns", n + 0}'
}
wire() {
    lab_exec lb1 nft list table ip sybench |
        awk '/counter/ {for (i = 1; i < NF; i++) if ($i == "packets" || $i == "bytes") print $i, $(i+1)}'
}
rcvbuf_errors() {
    lab_exec lb2 awk '$1 == "Udp:" && !h {for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next}
        $1 == "Udp:" {for (i = 2; i <= NF; i++) if (n[i] == "RcvbufErrors") print "udp_rcvbuf_errors", $i}' /proc/net/snmp
}
# timed GROUP COMMAND...: the command's "name value" lines as "GROUP.name value", and "time.GROUP"
# halfway through it (ns): each group's rates use its own times, as reading them all takes a while.
timed() {
    local t0=$EPOCHREALTIME out t1
    out=$("${@:2}")
    t1=$EPOCHREALTIME
    echo "$out" | awk -v g="$1" 'NF == 2 && $2 ~ /^[0-9]+$/ {print g "." $1, $2}'
    echo "time.$1 $(((${t0/./} + ${t1/./}) * 500))"
}
# snapshot [PAUSE]: every counter; PAUSE seconds between reading lb1's and lb2's (the end of a
# round: what lb1 had sent by then has surely arrived when lb2's are read).
snapshot() {
    timed cpu cpu_ns
    timed syn syns
    timed lb1 adm lb1 -Ln --stats
    timed lb1sync adm lb1 --sync
    sleep "${1:-0}"
    timed lb2sync adm lb2 --sync
    timed lb2 adm lb2 -Ln --stats
    timed wire wire
    timed lb2udp rcvbuf_errors
}
# rate A B KEY: KEY's change per second between snapshots A and B, by its group's times.
rate() {
    awk -v k="$3" 'BEGIN {g = "time." substr(k, 1, index(k, ".") - 1)}
        FNR == NR {a[$1] = $2; next} {b[$1] = $2}
        END {d = b[g] - a[g]; printf "%.0f", (d > 0 ? (b[k] - a[k]) * 1e9 / d : 0)}' "$1" "$2"
}
value() { awk -v k="$2" '$1 == k {v = $2} END {print (v == "" ? 0 : v)}' "$1"; }
declare -A results
# round MODE R: both balancers started, wrk for S seconds, counters over the steady window.
round() {
    local mode=$1 a=$LAB_DIR/a b=$LAB_DIR/b end=$LAB_DIR/end rps conn flows split queued sent installed thread proc wire wirepps loss gaps window
    conf lb1 MASTER 150 "$mode"
    conf lb2 BACKUP 100 "$mode"
    start lb1 1 $([ "$mode" = walk ] && echo "--sync-refresh $walk_refresh")
    until_ok 5 is_state lb1 MASTER || { echo "  lb1 did not become master"; cat "${LOG[lb1]}"; exit 1; }
    start lb2 0
    until_ok 5 is_state lb2 BACKUP || { echo "  lb2 is $(state lb2), not BACKUP"; exit 1; }
    until_ok 3 client_on_lb1 || { echo "  the client's entry for $vip is not lb1's"; exit 1; }
    local rcvbuf_base
    rcvbuf_base=$(rcvbuf_errors | awk '{print $2}')
    lab_exec client timeout $((seconds + 10)) taskset -c "$wrk_cpus" wrk -t"$threads" -c"$connections" -d"${seconds}s" \
        -H "Connection: close" "http://$vip/" >"$LAB_DIR/wrk" 2>&1 &
    local load=$! began=$EPOCHREALTIME took
    sleep $warmup
    took=$EPOCHREALTIME
    snapshot >"$a"
    # The second snapshot takes as long as the first: it starts so as to end $tail s before wrk.
    sleep "$(awk -v b="$began" -v t0="$took" -v t1="$EPOCHREALTIME" -v s="$seconds" -v tail=$tail \
        'BEGIN {w = b + s - tail - (t1 - t0) - t1; printf "%.3f", (w > 0 ? w : 0)}')"
    snapshot >"$b"
    wait $load || true
    # Settled: what lb1 sent has arrived (or never will).
    sleep 1
    snapshot 0.5 >"$end"
    stop lb2
    stop lb1
    rps=$(sed -n 's/^Requests\/sec: *\([0-9]*\).*/\1/p' "$LAB_DIR/wrk")
    conn=$(rate "$a" "$b" syn.syns)
    flows=$(rate "$a" "$b" lb1.new_flows)
    queued=$(rate "$a" "$b" lb1.sync_queued)
    sent=$(rate "$a" "$b" lb1sync.entries_sent)
    installed=$(rate "$a" "$b" lb2sync.entries_installed)
    # CPU in % of one core: ns per second / 1e7.
    thread=$(awk -v r="$(rate "$a" "$b" cpu.thread_sy-sync)" 'BEGIN {printf "%.2f", r / 1e7}')
    proc=$(awk -v r="$(rate "$a" "$b" cpu.process)" 'BEGIN {printf "%.2f", r / 1e7}')
    # Every thread of lb1 that ran, in % of a core ("sy-worker-0 38.1 sy-sync 2.4 ...").
    split=$(awk 'FNR == NR {a[$1] = $2; next} {b[$1] = $2} END {d = b["time.cpu"] - a["time.cpu"]
        for (k in b) if (k ~ /^cpu\.thread_/ && b[k] - a[k] > d / 1000) printf "%s %.1f\n", substr(k, 12), (b[k] - a[k]) * 100 / d}' "$a" "$b" |
        sort -k2 -gr | tr '\n' ' ' | sed 's/ $//')
    wire=$(rate "$a" "$b" wire.bytes)
    wirepps=$(rate "$a" "$b" wire.packets)
    # Losses over the whole round (the counters start at 0 with each start).
    loss="sync_queue_full $(value "$end" lb1.sync_queue_full), backlog_dropped $(value "$end" lb1sync.backlog_dropped),"
    loss="$loss send_failures $(value "$end" lb1sync.send_failures), install_queue_full $(value "$end" lb2sync.install_queue_full),"
    loss="$loss refused $(awk '$1 ~ /^lb2sync.entries_refused/ {n += $2} END {print n + 0}' "$end"),"
    loss="$loss udp_rcvbuf_errors $(($(value "$end" lb2udp.udp_rcvbuf_errors) - rcvbuf_base))"
    # And what went missing between the counters once the round has settled (lb2's read 0.5 s
    # after lb1's, its worker's after its sy-sync's): datagrams lb1 sent that lb2 did not
    # receive, records lb1 sent that lb2 did not hand to its worker, records handed over that its
    # worker did not install. Negative: more arrived after the earlier read, no loss. In walk
    # mode the walks go on after the load, and a read in the middle of one finds lb2's worker a
    # few hundred records behind its sy-sync: shown, not counted as lost.
    gaps="datagrams sent less received $(($(value "$end" lb1sync.messages_sent) - $(value "$end" lb2sync.messages_received))),"
    gaps="$gaps entries sent less installed $(($(value "$end" lb1sync.entries_sent) - $(value "$end" lb2sync.entries_installed))),"
    gaps="$gaps installed less installed by the worker $(($(value "$end" lb2sync.entries_installed) - $(value "$end" lb2.sync_installed)))"
    window=$(awk -v a="$(value "$a" time.cpu)" -v b="$(value "$b" time.cpu)" 'BEGIN {printf "%.1f", (b - a) / 1e9}')
    results[rps_$mode]="${results[rps_$mode]:-} ${rps:-0}"
    results[conn_$mode]="${results[conn_$mode]:-} $conn"
    results[flows_$mode]="${results[flows_$mode]:-} $flows"
    results[queued_$mode]="${results[queued_$mode]:-} $queued"
    results[sent_$mode]="${results[sent_$mode]:-} $sent"
    results[installed_$mode]="${results[installed_$mode]:-} $installed"
    results[thread_$mode]="${results[thread_$mode]:-} $thread"
    results[proc_$mode]="${results[proc_$mode]:-} $proc"
    results[wire_$mode]="${results[wire_$mode]:-} $wire"
    results[wirepps_$mode]="${results[wirepps_$mode]:-} $wirepps"
    results[cpuconn_$mode]="${results[cpuconn_$mode]:-} $(awk -v p="$proc" -v c="$conn" 'BEGIN {printf "%.1f", (c > 0 ? p * 1e4 / c : 0)}')"
    results[lost_$mode]="${results[lost_$mode]:-} $(echo "$loss$([ "$mode" = walk ] || echo ", $gaps")" | tr ',' '\n' | awk '$NF > 0 {n += $NF} END {print n + 0}')"
    loss="$loss, $gaps"
    results[loss_$mode]="${results[loss_$mode]:-}; round $2: $loss"
    printf "  round %s %-6s %6d SYN/s (wrk %6s req/s); flows/s queued %6d sent %6d installed %6d; sy-sync %5s%%, lb1 %6s%% of a core; sync %7d B/s\n" \
        "$2" "$mode" "$conn" "${rps:-0}" "$queued" "$sent" "$installed" "$thread" "$proc" "$wire"
    echo "           ${window}s measured, $(($(value "$b" lb1sync.walks) - $(value "$a" lb1sync.walks))) walks in it; lb1's threads, % of a core: $split; lb1 new_flows $flows/s"
    [ "$mode" = nosync ] || echo "           losses: $loss"
    results[split_$mode]="$split"
    results[window_$mode]="${results[window_$mode]:-} $window"
}

echo "== connection sync under new connections: wrk -t$threads -c$connections (Connection: close) on CPU $wrk_cpus, lb1 (master) on CPU 1, lb2 (backup) on CPU 0;"
echo "   $rounds rounds x ${seconds}s per mode ($modes), alternating; measured from ${warmup}s after wrk starts to ${tail}s before it stops"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Each round starts one mode later (nosync sync auth walk, then sync auth walk nosync, ...): no
# mode always follows the same one.
for r in $(seq "$rounds"); do
    set -- $modes
    k=$(((r - 1) % $#))
    for mode in "${@:k+1}" "${@:1:k}"; do round "$mode" "$r"; done
done

median() { tr ' ' '\n' | awk NF | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
minmax() { tr ' ' '\n' | awk NF | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {print lo "-" hi}'; }
declare -A med
for k in "${!results[@]}"; do
    case $k in loss_* | split_*) ;; *) med[$k]=$(echo "${results[$k]}" | median) ;; esac
done
# What sync costs lb1 by its whole process, in points of a core: the mode's median less nosync's;
# and from the medians of CPU per connection, at the mode's own rate (takes out a change of rate).
cost() { awk -v a="${med[proc_$1]}" -v b="${med[proc_nosync]}" 'BEGIN {printf "%.1f", a - b}'; }
cost_per_conn() { awk -v a="${med[cpuconn_$1]}" -v b="${med[cpuconn_nosync]}" -v c="${med[conn_$1]}" 'BEGIN {printf "%.1f", (a - b) * c / 1e4}'; }
verdict() { awk -v v="$1" 'BEGIN {print (v < 10 ? "met" : "not met")}'; }
total() { echo "${results[$1]:-}" | tr ' ' '\n' | awk '{n += $1} END {print n + 0}'; }
stamp=$(date -u +%Y%m%dT%H%M%SZ)
md=$here/results/sync-$stamp.md
mkdir -p "$here/results"
{
    echo "# Connection sync under new connections, $stamp"
    echo
    echo "Kernel $(uname -r), $(nproc) cores, load average $load_before at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end."
    echo "DR, one arm; wrk -t$threads -c$connections with \`Connection: close\` on CPU $wrk_cpus, lb1 (master, 1 worker) on CPU 1,"
    echo "lb2 (backup, 1 worker) on CPU 0; $rounds rounds x ${seconds} s per mode, alternating (each round starting one mode"
    echo "later), each measured over $(for m in $modes; do echo "${results[window_$m]}"; done | minmax) s of its steady part; medians (min-max)."
    echo
    echo "| mode | new conn/s | wrk req/s | flows/s queued (lb1) | sent (lb1) | installed (lb2) | lost | sy-sync CPU % | lb1 CPU % | lb1 µs/conn | sync wire B/s | datagrams/s |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    for mode in $modes; do
        echo "| $mode | ${med[conn_$mode]} ($(echo "${results[conn_$mode]}" | minmax)) | ${med[rps_$mode]} | ${med[queued_$mode]} | ${med[sent_$mode]} |" \
            "${med[installed_$mode]} ($(echo "${results[installed_$mode]}" | minmax)) | $([ "$mode" = nosync ] && echo - || total "lost_$mode") |" \
            "${med[thread_$mode]} ($(echo "${results[thread_$mode]}" | minmax)) | ${med[proc_$mode]} ($(echo "${results[proc_$mode]}" | minmax)) |" \
            "${med[cpuconn_$mode]} | ${med[wire_$mode]} | ${med[wirepps_$mode]} |"
    done
    echo
    echo "## Against the goal: what sync costs the master, under 10% of a core"
    echo
    for mode in $modes; do
        [ "$mode" = nosync ] && continue
        echo "- $mode: the sy-sync thread ${med[thread_$mode]}% ($(verdict "${med[thread_$mode]}"))$([ -n "${med[proc_nosync]:-}" ] || echo " (no nosync rounds to compare the process with)")"
        [ -n "${med[proc_nosync]:-}" ] || continue
        echo "  lb1's whole process $(cost "$mode") points over nosync ($(verdict "$(cost "$mode")")), or $(cost_per_conn "$mode") from its"
        echo "  CPU per connection at $mode's rate ($(verdict "$(cost_per_conn "$mode")"))"
    done
    echo
    echo "lb1's threads in the last round of each mode (% of a core):"
    for mode in $modes; do echo "- $mode: ${results[split_$mode]}"; done
    echo
    echo "New conn/s: SYNs reaching the real servers (an nftables counter on each), over the window; wrk's"
    echo "requests/s over its whole run beside it (lb1's new_flows counts fewer: a client port used again"
    echo "meets lb1's flow of the last connection on it, still in its 120 s FIN timeout, a flow hit, and"
    echo "that connection is queued for sync all the same). Flows/s: lb1's sync_queued (records its worker"
    echo "queued), entries_sent (records in datagrams sent) and lb2's entries_installed (records handed to"
    echo "its worker). Lost, over whole rounds once settled (1 s after the load): lb1's sync_queue_full,"
    echo "backlog_dropped and send_failures; lb2's install_queue_full, entries refused, UDP receive-buffer"
    echo "errors; lb1's messages_sent less lb2's messages_received; entries_sent less entries_installed;"
    echo "entries_installed less lb2's worker's sync_installed (each later read 0.5 s or one read after the"
    echo "earlier; a negative difference is what arrived in between: no loss). Not counted in walk mode, whose"
    echo "walks go on after the load: a read in the middle of one finds lb2's worker some records behind."
    echo "Per round:"
    for mode in $modes; do [ "$mode" = nosync ] || echo "- $mode${results[loss_$mode]}"; done
    echo
    echo "sy-sync CPU: the thread's run time (/proc/PID/task/TID/schedstat) over the window, % of one core."
    echo "lb1 CPU: the process's utime + stime; its system time includes the kernel's work for the frames"
    echo "it forwards (veth, bridge, the real server's receive), so it moves with the rate; µs/conn is it"
    echo "divided by the new connections. Wire: lb1's sync datagrams, IP length, from an nftables counter"
    echo "on its output."
} >"$md"
jarr() { echo "[$(echo ${results[$1]:-} | tr ' ' ',')]"; }
{
    echo "{\"time\": \"$stamp\", \"kernel\": \"$(uname -r)\", \"cores\": $(nproc), \"rounds\": $rounds, \"seconds\": $seconds,"
    echo " \"wrk\": {\"threads\": $threads, \"connections\": $connections},"
    sep=""
    for mode in $modes; do
        printf '%s "%s": {"window_s": %s, "new_conn_per_s": %s, "wrk_req_per_s": %s, "new_flows_per_s": %s, "queued_per_s": %s, "sent_per_s": %s, "installed_per_s": %s,\n' \
            "$sep" "$mode" "$(jarr window_$mode)" "$(jarr conn_$mode)" "$(jarr rps_$mode)" "$(jarr flows_$mode)" "$(jarr queued_$mode)" "$(jarr sent_$mode)" "$(jarr installed_$mode)"
        printf '   "losses": %s, "sync_thread_cpu_pct": %s, "process_cpu_pct": %s, "process_cpu_us_per_conn": %s, "wire_bytes_per_s": %s, "wire_datagrams_per_s": %s' \
            "$(jarr lost_$mode)" "$(jarr thread_$mode)" "$(jarr proc_$mode)" "$(jarr cpuconn_$mode)" "$(jarr wire_$mode)" "$(jarr wirepps_$mode)"
        [ "$mode" = nosync ] || [ -z "${med[proc_nosync]:-}" ] || printf ',\n   "process_cpu_over_nosync_pct": %s, "process_cpu_over_nosync_per_conn_pct": %s' "$(cost "$mode")" "$(cost_per_conn "$mode")"
        printf '}'
        sep=$',\n'
    done
    echo "}"
} >"$here/results/sync-$stamp.json"
echo
cat "$md"
echo
echo "written: $md and ${md%.md}.json"
