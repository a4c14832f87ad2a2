#!/usr/bin/env bash
# Switchyard's benchmark, one command (as root, after scripts/setup.sh):
#
#   bench/run.sh [--rounds N] [--seconds S] [--workers W] [--no-http] [--no-flood] [--no-bulk]
#
# Environment: BENCH_PATHS="wire dr ..." picks the flood paths; BENCH_PERF=DIR records a
# system-wide profile of every flood round into DIR (perf record -a -g; `perf report -i FILE
# --sort cpu,sym` shows each core's share).
#
# Small-packet flood: trafgen sends 64-byte UDP frames (60 + FCS) over many flows (random source
# ports) from a client namespace pinned to CPU 0. Paths, measured in alternating rounds
# (wire, dr, nat, nft, wire, dr, ...) in one run on one lab:
#   wire  the client straight to a real server: the most the segment carries here
#   dr    to VIP .100, through `switchyard run` (pinned to the other cores), direct server return
#   nat   to VIP .101, through the same engine, NAT (destination rewritten, TTL, checksums)
#   dr6, nat6  the same over IPv6, to 2001:db8::100 and ::101 on the same engine (bench/ipv6.sh;
#         the same UDP payload, so 84-byte frames)
#   nft   to VIP .102, through the kernel's own NAT balancer on the same box: nftables DNAT with
#         numgen over the same real servers (IPVS is not available on this kernel)
#   dr-mmsg   DR again, with the engine sending by sendmmsg (--tx sendmmsg) instead of its TX
#             ring: the before/after of that change, in the same run
#   dr-nftguard  DR again, with the kernel guard's nftables chain alone (--no-guard-tcx): the
#             before/after of the guard's tcx program
#   dr-blocks DR again, with TPACKET_V3 block rings (--rx-ring blocks) instead of V2 frames
#   many-1w   DR from 65,536 client addresses (the fanout spreads by client address), 1 worker
#   many-2w   the same with 2 workers on the same engine cores (--workers 2)
#   dr-xdp    DR with the engine receiving through its XDP program and an AF_XDP socket
#             (--io af_xdp, generic mode, copy mode)
#   nat-xdp   NAT the same way
#   floor     DR through bench/relay_floor.c instead of the engine: the engine's default ring,
#             TX ring and tcx guard with none of its own work (no pipeline, flow table, counters
#             or clock): the most any relay built this way forwards on this lab
#   floor-spin  the same relay never sleeping in poll(): no wake-ups for the sending core to pay
# The engine is restarted when a path needs other options. Delivered packets are counted at the
# real servers' interfaces over each round's steady part: from 0.5 s after trafgen starts (the
# engine has created its flows by then) to 0.2 s before it stops. Prints per-round pps, the medians with min-max, ratios, the engine's
# CPU time per forwarded packet, each CPU's busy share, how the workers shared the work, and the
# benchmark goals this run measures, met or not, from its own medians.
#
# HTTP: wrk (1 thread, 50 connections, pinned to CPU 0) against nginx on the real servers, new
# connection per request (Connection: close) and keep-alive, alternating the same way through:
# the wire (rs1 directly), HAProxy `mode tcp` (1 thread, on the balancer's box), Switchyard DR,
# Switchyard NAT and the kernel's NAT, and Switchyard DR and NAT again with TPACKET_V3 block
# rings (dr-blocks, nat-blocks), with --busy-poll 0 (dr-sleep, nat-sleep) and receiving by
# AF_XDP (dr-xdp, nat-xdp). For the NAT paths the client uses a second subnet routed
# through the balancer, so replies come back through it. BENCH_HTTP_PATHS picks HTTP paths.
#
# Bulk TCP (iperf3, 1 and 8 streams) and request latency (sockperf ping-pong, UDP and TCP) through
# Switchyard DR and NAT, the kernel's NAT and router, HAProxy and the wire: bench/bulk.sh, run at
# the end in a lab of its own (--no-bulk leaves it out); its tables and goals join this report.
#
# Writes bench/results/bench-<time>.json and .md. Loads are bounded: every round stops after
# S seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$root/scripts/lab.sh"
. "$here/ipv6.sh"

rounds=5
seconds=5
workers=1
http=1
flood=1
bulk=1
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        --no-http) http=; shift ;;
        --no-flood) flood=; shift ;;
        --no-bulk) bulk=; shift ;;
        -h | --help) sed -n '2,47p' "$0"; exit 0 ;;
        *) echo "bench/run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench/run.sh: run as root" >&2; exit 1; }
[ "$seconds" -ge 2 ] 2>/dev/null || { echo "bench/run.sh: --seconds must be a whole number, 2 or more" >&2; exit 2; }
# A flood round's measured window: trafgen's steady part, without its first 0.5 s (start-up, and
# the engine creating its 65,536 flows) and its last 0.2 s (exit).
warmup=0.5
tail=0.2
window=$(awk -v s="$seconds" -v w=$warmup -v t=$tail 'BEGIN {print s - w - t}')
bin=$(switchyard_bin)
[ -x "$bin" ] || { echo "bench/run.sh: build first: swift build -c release" >&2; exit 1; }
command -v trafgen >/dev/null || { echo "bench/run.sh: trafgen missing (apt-get install netsniff-ng)" >&2; exit 1; }
cores=$(nproc)
sender_cpu=0
engine_cpus=$([ "$cores" -ge 2 ] && echo "1-$((cores - 1))" || echo 0)

vip=198.18.0.100
vip_nat=198.18.0.101
vip_nft=198.18.0.102
lab_init sybench
lab_switch
lab_host client eth0 198.18.0.10/24
lab_host lb eth0 198.18.0.2/24
lab_host rs1 eth0 198.18.0.11/24
lab_host rs2 eth0 198.18.0.12/24
for rs in rs1 rs2; do
    lab_exec $rs env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$rs" sh "$root/scripts/realserver.sh" up $vip >/dev/null
    # Count, then drop the flood (of either family) before the UDP layer so the servers do not
    # answer with ICMP.
    printf 'table inet bench {\n chain pre {\n  type filter hook prerouting priority raw; policy accept;\n  udp dport 9 counter drop\n }\n}\n' |
        lab_exec $rs nft -f -
done
# Let ARP settle (the client learns rs1; the LB learns both).
lab_exec client ping -c 1 -W 1 198.18.0.11 >/dev/null
v6_lab

cat >"$LAB_DIR/bench.conf" <<CONF
virtual_server $vip 9 {
    lb_algo mh
    lb_kind DR
    protocol UDP
    real_server 198.18.0.11 9 { weight 1 }
    real_server 198.18.0.12 9 { weight 1 }
}
virtual_server $vip 80 {
    lb_algo mh
    lb_kind DR
    real_server 198.18.0.11 80 { weight 1 }
    real_server 198.18.0.12 80 { weight 1 }
}
virtual_server $vip_nat 80 {
    lb_algo mh
    lb_kind NAT
    real_server 198.18.0.11 8081 { weight 1 }
    real_server 198.18.0.12 8081 { weight 1 }
}
virtual_server $vip_nat 9 {
    lb_algo mh
    lb_kind NAT
    protocol UDP
    real_server 198.18.0.11 9 { weight 1 }
    real_server 198.18.0.12 9 { weight 1 }
}
CONF
# AF_XDP takes IPv4 only: its engine runs the IPv4 services alone.
cp "$LAB_DIR/bench.conf" "$LAB_DIR/bench4.conf"
v6_services >>"$LAB_DIR/bench.conf"
# The kernel's NAT balancer for the third VIP: DNAT with numgen, conntrack, forwarding.
lab_exec lb sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
printf 'table ip benchlb {\n chain pre {\n  type nat hook prerouting priority dstnat; policy accept;\n  ip daddr %s udp dport 9 dnat to numgen inc mod 2 map { 0 : 198.18.0.11, 1 : 198.18.0.12 }\n }\n}\n' "$vip_nft" |
    lab_exec lb nft -f -
# The engine, restarted when a path needs other options (engine PROFILE: main, mmsg, nftguard, blocks, w1, w2, xdp).
lb_pid=
profile=
starts=0
engine() {
    local want=$1 args=()
    [ "$want" = "$profile" ] && return 0
    case $want in
        none) ;;
        main) args=(--workers "$workers") ;;
        mmsg) args=(--workers "$workers" --tx sendmmsg) ;;
        nftguard) args=(--workers "$workers" --no-guard-tcx) ;;
        blocks) args=(--workers "$workers" --rx-ring blocks) ;;
        sleep) args=(--workers "$workers" --busy-poll 0) ;;
        w1) args=(--workers 1) ;;
        w2) args=(--workers 2) ;;
        xdp) args=(--workers 1 --io af_xdp) ;;
        floor) ;;
        floor-spin) args=(spin) ;;
    esac
    if [ -n "$lb_pid" ]; then
        kill -INT "$lb_pid"
        wait "$lb_pid" || true
        # The main engine's counters at exit go into the report.
        [ "$profile" = main ] && grep -o 'totals: .*' "$lb_log" >"$LAB_DIR/main-totals" || true
        [ "${profile%-spin}" = floor ] && grep -o 'totals: .*' "$lb_log" >"$LAB_DIR/$profile-totals" || true
    fi
    profile=$want
    [ "$want" = none ] && return 0
    starts=$((starts + 1))
    lb_log=$LAB_DIR/lb-$want-$starts.log
    if [ "${want%-spin}" = floor ]; then
        lab_bg lb "$lb_log" taskset -c "${engine_cpus%%-*}" "$floor_bin" eth0 $vip "$rs1_mac" "$rs2_mac" "${args[@]}"
    else
        lab_bg lb "$lb_log" taskset -c "$engine_cpus" "$bin" run --config "$LAB_DIR/bench$([ "$want" = xdp ] && echo 4).conf" "${args[@]}"
    fi
    lb_pid=$LAB_LAST_PID
    profile=$want
    lab_wait_for "$lb_log" "ready:" 15 || { cat "$lb_log"; exit 1; }
}
engine main
if [ -n "$http" ]; then
    # One real-server port per balancer, so none sees another's replies: HAProxy uses 80, the
    # kernel's NAT 8080, Switchyard's NAT 8081 (the engine captures the replies from its NAT
    # real servers' service ports; on a shared port it would also take copies of HAProxy's).
    for rs in rs1 rs2; do lab_nginx $rs $rs "listen 8080 reuseport; listen 8081 reuseport; listen [::]:80 reuseport; listen [::]:8081 reuseport;"; done
    vip_ha=198.18.0.103
    lab_exec lb ip addr add $vip_ha/24 dev eth0
    cat >"$LAB_DIR/haproxy.cfg" <<HA
global
    nbthread 1
    maxconn 8000
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend vip
    bind $vip_ha:80
    default_backend web
backend web
    balance roundrobin
    server rs1 198.18.0.11:80
    server rs2 198.18.0.12:80
HA
    lab_bg lb "$LAB_DIR/haproxy.log" taskset -c "$engine_cpus" haproxy -f "$LAB_DIR/haproxy.cfg" -db
    # The HTTP services of the engine and of the kernel's NAT.
    printf 'table ip benchhttp {\n chain pre {\n  type nat hook prerouting priority dstnat; policy accept;\n  ip daddr %s tcp dport 80 dnat to numgen inc mod 2 map { 0 : 198.18.0.11 . 8080, 1 : 198.18.0.12 . 8080 }\n }\n}\n' "$vip_nft" |
        lab_exec lb nft -f -
fi
lab_exec client ping -c 1 -W 1 $vip >/dev/null 2>&1 || true # resolves the VIP (no reply expected)
lab_exec client arping -c 1 $vip >/dev/null 2>&1 || true

# The NAT paths' clients: a second subnet on the same segment, routed through the balancer, so
# the real servers send their replies back through it (not straight to an on-link client).
lab_exec lb ip addr add 198.18.9.1/24 dev eth0
lab_exec client ip addr add 198.18.9.10/24 dev eth0
for v in $vip_nat $vip_nft; do lab_exec client ip route add $v/32 via 198.18.9.1 src 198.18.9.10; done
for rs in rs1 rs2; do lab_exec $rs ip route add 198.18.9.0/24 via 198.18.0.2; done

mac_of() { lab_exec "$1" cat /sys/class/net/eth0/address; }
lb_mac=$(mac_of lb)
rs1_mac=$(mac_of rs1)
rs2_mac=$(mac_of rs2)
client_mac=$(mac_of client)

# trafgen packet: Ethernet, IPv4 (checksum by trafgen), UDP with random source port, checksum 0.
packet() { # packet DST_MAC DST_IP
    local dm=$1 dip=$2
    echo "{ $(echo "$dm" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1/g; s/:/, /g'), $(echo "$client_mac" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1/g; s/:/, /g'),"
    echo "  c16(0x0800), 0x45, 0x00, c16(46), c16(0), 0x40, 0x00, 64, 17, csumip(14, 33),"
    echo "  198, 18, 0, 10, $(echo "$dip" | tr '.' ','),"
    echo "  drnd(2), c16(9), c16(26), c16(0), fill(0x41, 18) }"
}
packet "$rs1_mac" 198.18.0.11 >"$LAB_DIR/wire.cfg"
packet "$lb_mac" $vip >"$LAB_DIR/dr.cfg"
packet "$lb_mac" $vip_nat >"$LAB_DIR/nat.cfg"
packet "$lb_mac" $vip_nft >"$LAB_DIR/nft.cfg"
packet6 "$lb_mac" $vip6 >"$LAB_DIR/dr6.cfg"
packet6 "$lb_mac" $vip6_nat >"$LAB_DIR/nat6.cfg"
cp "$LAB_DIR/dr.cfg" "$LAB_DIR/dr-mmsg.cfg"
cp "$LAB_DIR/dr.cfg" "$LAB_DIR/dr-nftguard.cfg"
cp "$LAB_DIR/dr.cfg" "$LAB_DIR/dr-blocks.cfg"
cp "$LAB_DIR/dr.cfg" "$LAB_DIR/dr-xdp.cfg"
cp "$LAB_DIR/nat.cfg" "$LAB_DIR/nat-xdp.cfg"
cp "$LAB_DIR/dr.cfg" "$LAB_DIR/floor.cfg"
cp "$LAB_DIR/dr.cfg" "$LAB_DIR/floor-spin.cfg"
# Many clients: source addresses 198.19.x.y (random), so the fanout has something to spread.
packet "$lb_mac" $vip | sed 's/198, 18, 0, 10,/198, 19, drnd(2),/' >"$LAB_DIR/many.cfg"
cp "$LAB_DIR/many.cfg" "$LAB_DIR/many-1w.cfg"
cp "$LAB_DIR/many.cfg" "$LAB_DIR/many-2w.cfg"

rx_sum() { # packets received by both real servers' interfaces
    echo $(($(lab_exec rs1 cat /sys/class/net/eth0/statistics/rx_packets) + $(lab_exec rs2 cat /sys/class/net/eth0/statistics/rx_packets)))
}
# user + system time of the engine process (all threads), in clock ticks. `ip netns exec` and
# taskset exec in place, so the background pid is the engine itself. System time includes the
# kernel's work for the frames the engine sends (veth, bridge, the real server's receive path).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$lb_pid/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)
# Busy and total ticks of CPU N from /proc/stat ("busy total").
cpu_busy() { awk -v c="cpu$1" '$1 == c {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
# Per-worker CPU ticks of the engine ("sy-worker-0 123 sy-worker-1 456").
worker_ticks() {
    local t
    for t in /proc/$lb_pid/task/*; do
        awk '{sub(/^[0-9]+ \(/, ""); n=$0; sub(/\).*/, "", n); split($0, f, /\) /); split(f[2], v, " ");
              if (n ~ /^sy-worker/) print n, v[12] + v[13]}' "$t/stat" 2>/dev/null
    done | sort
}

declare -A results
round() { # round NAME
    local name=$1 before after t0 t1 c0 c1 pps cpu_ns s0 s1 w0 w1 i busy split
    case $name in
        dr-mmsg) engine mmsg ;; dr-nftguard) engine nftguard ;; dr-blocks) engine blocks ;; floor) engine floor ;; floor-spin) engine floor-spin ;; many-1w) engine w1 ;; many-2w) engine w2 ;; *-xdp) engine xdp ;; *) engine main ;;
    esac
    # trafgen runs for S seconds; only its steady part is measured, from $warmup s after it
    # starts to $tail s before it stops: the first fraction of a second creates the engine's
    # flows and the ends hold trafgen's start and exit.
    lab_exec client timeout -s INT "$seconds" taskset -c $sender_cpu trafgen -q -C -P 1 -o eth0 -i "$LAB_DIR/$name.cfg" \
        -n $((seconds * 5000000)) >/dev/null 2>&1 &
    local sender=$!
    sleep "$warmup"
    before=$(rx_sum)
    c0=$(cpu_ticks)
    w0=$(worker_ticks)
    s0=$(for i in $(seq 0 $((cores - 1))); do cpu_busy $i; done)
    t0=$(date +%s%N)
    # BENCH_PERF=DIR: a system-wide profile of each round's window (perf record -a -g), one file
    # per round.
    local perf_pid=
    if [ -n "${BENCH_PERF:-}" ]; then
        mkdir -p "$BENCH_PERF"
        perf record -q -a ${BENCH_PERF_ARGS--g} -o "$BENCH_PERF/$name-r$2.data" -- sleep "$window" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    sleep "$window"
    after=$(rx_sum)
    t1=$(date +%s%N)
    s1=$(for i in $(seq 0 $((cores - 1))); do cpu_busy $i; done)
    c1=$(cpu_ticks)
    w1=$(worker_ticks)
    [ -z "$perf_pid" ] || wait "$perf_pid" || true
    wait "$sender" || true
    sleep 0.3 # let the last frames drain through the engine before the next round
    pps=$(( (after - before) * 1000000000 / (t1 - t0) ))
    # Each CPU's busy share over the round, in percent ("cpu0 100% cpu1 87%").
    busy=$(paste -d' ' <(echo "$s0") <(echo "$s1") | awk '{printf "%scpu%d %d%%", (NR > 1 ? " " : ""), NR - 1, ($4 - $2 > 0 ? 100 * ($3 - $1) / ($4 - $2) : 0)}')
    results[busy_$name]="$busy"
    cpu_ns=0
    split=""
    if [ "$name" != wire ] && [ "$name" != nft ]; then
        [ $((after - before)) -gt 0 ] && cpu_ns=$(( (c1 - c0) * 1000000000 / hz / (after - before) ))
        results[cpu_$name]="${results[cpu_$name]:-} $cpu_ns"
        # How the workers shared the CPU time (their share of the engine's, in percent; the relay
        # floor has no worker threads).
        [ -n "$w0" ] && split=$(paste -d' ' <(echo "$w0") <(echo "$w1") | awk -v total=$((c1 - c0)) \
            '{printf "%s%s %d%%", (NR > 1 ? " " : ""), $1, (total > 0 ? 100 * ($4 - $2) / total : 0)}')
        results[split_$name]="$split"
    fi
    results[$name]="${results[$name]:-} $pps"
    printf "  round %-2s %-11s %9d pps delivered; %s%s%s\n" "$2" "$name" "$pps" "$busy" \
        "$([ "$cpu_ns" -gt 0 ] && echo "; engine CPU ${cpu_ns} ns/packet")" "${split:+ ($split)}"
}

echo "== UDP 64-byte flood, random source ports; sender on CPU $sender_cpu, engine on CPU $engine_cpus ($workers worker(s)); $rounds rounds x ${seconds}s, ${window}s of each measured"
paths="${BENCH_PATHS:-wire dr nat dr6 nat6 nft dr-mmsg dr-nftguard dr-blocks many-1w many-2w dr-xdp nat-xdp floor floor-spin}"
if [ -n "$flood" ] && [[ " $paths " == *" floor"* ]]; then
    floor_bin=$root/.build/relay_floor
    mkdir -p "$root/.build"
    # Every C file of the shim: the guard and the XDP program need its BPF assembler too.
    gcc -O2 -o "$floor_bin" "$here/relay_floor.c" "$root"/Sources/CSwitchyard/*.c \
        -I "$root/Sources/CSwitchyard/include" -lxdp -lbpf
fi
if [ -n "$flood" ]; then
    for r in $(seq "$rounds"); do
        for path in $paths; do round $path "$r"; done
    done
fi

# HTTP rounds: requests/s from wrk's summary.
# dr-blocks and nat-blocks: the same through the engine restarted with TPACKET_V3 block rings
# (--rx-ring blocks), where a frame can wait for its block up to 1 ms. dr-sleep and nat-sleep:
# with --busy-poll 0, what the default's short busy-poll costs or buys here.
http_paths="${BENCH_HTTP_PATHS:-wire haproxy dr nat dr6 nat6 nft dr-blocks nat-blocks dr-sleep nat-sleep dr-xdp nat-xdp}"
http_target() {
    case $1 in
        wire) echo 198.18.0.11 ;; haproxy) echo 198.18.0.103 ;; dr6) echo "[$vip6]" ;; nat6) echo "[$vip6_nat]" ;;
        dr | dr-*) echo $vip ;; nat | nat-*) echo $vip_nat ;;
        nft) echo $vip_nft ;;
    esac
}
http_round() { # http_round PATH MODE ROUND
    local target rps extra=()
    case $1 in
        *-blocks) engine blocks ;; *-sleep) engine sleep ;; *-xdp) engine xdp ;; *) engine "${BENCH_HTTP_ENGINE:-main}" ;;
    esac
    target=$(http_target "$1")
    [ "$2" = close ] && extra=(-H "Connection: close")
    rps=$(lab_exec client timeout $((seconds + 10)) taskset -c $sender_cpu wrk -t1 -c50 -d${seconds}s "${extra[@]}" "http://$target/" 2>/dev/null |
        sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' | cut -d. -f1 || true)
    rps=${rps:-0}
    results[http_$2_$1]="${results[http_$2_$1]:-} $rps"
    printf "  round %-2s http %-11s %-9s %8d req/s\n" "$3" "$1" "$2" "$rps"
}
if [ -n "$http" ]; then
    # BENCH_HTTP_ENGINE=PROFILE (xdp, blocks, ...) runs the HTTP rounds through that engine.
    engine "${BENCH_HTTP_ENGINE:-main}"
    echo "== HTTP (wrk -t1 -c50, ${seconds}s, pinned to CPU $sender_cpu): new connection per request and keep-alive"
    for r in $(seq "$rounds"); do
        for mode in close keepalive; do
            for path in $http_paths; do http_round $path $mode "$r"; done
        done
    done
fi

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
minmax() { tr ' ' '\n' | grep -v '^$' | sort -n | awk 'NR==1{lo=$1} {hi=$1} END {print lo "-" hi}'; }
# a / b to two places; nothing when b is missing or 0 (a path left out of this run).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b}'; }
jratio() { local r; r=$(ratio "$1" "$2"); echo "${r:-null}"; }
declare -A med
for path in $paths; do med[$path]=$(echo "${results[$path]:-0}" | median); done
wire_med=${med[wire]}
for mode in close keepalive; do
    for path in $http_paths; do med[http_${mode}_$path]=$(echo "${results[http_${mode}_$path]:-0}" | median); done
done
engine none
stats=$(cat "$LAB_DIR/main-totals" 2>/dev/null || true)
floor_stats=$(cat "$LAB_DIR/floor-totals" 2>/dev/null || true)
if [ -n "$bulk" ]; then
    "$here/bulk.sh" --rounds "$rounds" --seconds "$seconds" --workers "$workers" --out "$LAB_DIR/bulk" ||
        echo "bench/run.sh: bench/bulk.sh failed; its part is left out of the report" >&2
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
md=$here/results/bench-$stamp.md
{
    echo "# UDP 64-byte flood, $stamp"
    echo
    echo "Kernel $(uname -r), $(nproc) cores; sender on CPU $sender_cpu, engine on CPU $engine_cpus, $workers worker(s); $rounds rounds x ${seconds} s, alternating; each round measured over its steady ${window} s (the first ${warmup} s and the last ${tail} s left out)."
    echo
    if [ -n "$flood" ]; then
        echo "| path | median pps | min-max pps | vs wire | vs kernel NAT | engine CPU ns/packet | CPU busy |"
        echo "|---|---|---|---|---|---|---|"
        for path in $paths; do
            case $path in
                wire) label="wire (client -> rs1)" ;;
                dr) label="switchyard DR" ;;
                nat) label="switchyard NAT" ;;
                dr6) label="switchyard DR, IPv6 (the same payload; frames 20 bytes longer)" ;;
                nat6) label="switchyard NAT66" ;;
                nft) label="kernel NAT (nftables DNAT numgen)" ;;
                dr-mmsg) label="switchyard DR, sending by sendmmsg (the TX ring's before)" ;;
                dr-nftguard) label="switchyard DR, guard by nftables alone (the tcx program's before)" ;;
                dr-blocks) label="switchyard DR, TPACKET_V3 blocks (--rx-ring blocks; the V2 frames' before)" ;;
                many-1w) label="switchyard DR, 65,536 clients, 1 worker" ;;
                many-2w) label="switchyard DR, 65,536 clients, 2 workers" ;;
                dr-xdp) label="switchyard DR, receiving by AF_XDP (--io af_xdp)" ;;
                nat-xdp) label="switchyard NAT, receiving by AF_XDP (--io af_xdp)" ;;
                floor) label="relay floor: the engine's rings and guard, none of its work (bench/relay_floor.c)" ;;
                floor-spin) label="relay floor, never sleeping in poll()" ;;
            esac
            cpu=""
            [ -n "${results[cpu_$path]:-}" ] && cpu=$(echo "${results[cpu_$path]}" | median)
            echo "| $label | ${med[$path]} | $(echo "${results[$path]}" | minmax) | $(ratio "${med[$path]}" "$wire_med") | $(ratio "${med[$path]}" "${med[nft]:-}") | ${cpu:--} | ${results[busy_$path]} |"
        done
        echo
        echo "Engine CPU: user + system time of the engine process per delivered packet (median); its"
        echo "system time includes the kernel's sending and the real servers' receiving, which veth runs"
        echo "on the sending CPU. CPU busy: each core's busy share while the sender ran, last round."
        echo
        [ -n "${med[floor]:-}" ] && [ -n "${med[dr]:-}" ] &&
            echo "Switchyard DR against the relay floor (the same rings, TX ring and guard with none of the engine's work): $(ratio "${med[dr]}" "${med[floor]}")." && echo
        [ -n "${results[split_many-2w]:-}" ] &&
            echo "Workers' shares of the engine's CPU time, last round: 1 worker: ${results[split_many-1w]:-}; 2 workers: ${results[split_many-2w]}."
    fi
    if [ -n "$http" ]; then
        echo
        echo "## HTTP through each path (wrk -t1 -c50, requests/s, median of $rounds)"
        echo
        echo "| path | new connection per request | vs HAProxy | keep-alive | vs HAProxy |"
        echo "|---|---|---|---|---|"
        for path in $http_paths; do
            case $path in
                wire) label="wire (rs1 directly)" ;; haproxy) label="HAProxy mode tcp (1 thread)" ;;
                dr) label="switchyard DR" ;; nat) label="switchyard NAT" ;; nft) label="kernel NAT (nftables)" ;;
                dr6) label="switchyard DR, IPv6" ;; nat6) label="switchyard NAT66" ;;
                dr-blocks) label="switchyard DR, TPACKET_V3 blocks (the V2 frames' before)" ;;
                nat-blocks) label="switchyard NAT, TPACKET_V3 blocks (the V2 frames' before)" ;;
                dr-sleep) label="switchyard DR, --busy-poll 0 (the default's before)" ;;
                nat-sleep) label="switchyard NAT, --busy-poll 0 (the default's before)" ;;
                dr-xdp) label="switchyard DR, receiving by AF_XDP" ;; nat-xdp) label="switchyard NAT, receiving by AF_XDP" ;;
            esac
            echo "| $label | ${med[http_close_$path]} | $(ratio "${med[http_close_$path]}" "${med[http_close_haproxy]:-}") | ${med[http_keepalive_$path]} | $(ratio "${med[http_keepalive_$path]}" "${med[http_keepalive_haproxy]:-}") |"
        done
    fi
    cat "$LAB_DIR/bulk.md" 2>/dev/null || true
    # The benchmark issue's goals that this run measures, each judged from this run's medians
    # (a goal whose paths were left out of the run is left out here).
    goal() { # goal TEXT A B THRESHOLD: A / B against the threshold
        [ "${2:-0}" != 0 ] && [ "${3:-0}" != 0 ] || return 0
        local r
        r=$(ratio "$2" "$3")
        echo "- $1: $r ($(awk -v v="$r" -v t="$4" 'BEGIN {print (v >= t ? "met" : "not met")}'), goal >= $4)"
    }
    echo
    echo "## Against the goals, from this run's medians"
    echo
    goal "DR small-packet pps x the wire (default per-frame rings)" "${med[dr]:-}" "$wire_med" 0.95
    goal "DR with block rings (--rx-ring blocks) x the wire" "${med[dr-blocks]:-}" "$wire_med" 0.95
    goal "DR x the kernel's NAT balancer" "${med[dr]:-}" "${med[nft]:-}" 1.3
    goal "HTTP new connections/s through DR x HAProxy" "${med[http_close_dr]:-}" "${med[http_close_haproxy]:-}" 1.2
    goal "HTTP keep-alive requests/s through DR x HAProxy" "${med[http_keepalive_dr]:-}" "${med[http_keepalive_haproxy]:-}" 1.2
    goal "IPv6 DR small-packet pps x IPv4 DR" "${med[dr6]:-}" "${med[dr]:-}" 0.9
    goal "NAT66 small-packet pps x IPv4 NAT" "${med[nat6]:-}" "${med[nat]:-}" 0.9
    goal "HTTP new connections/s through IPv6 DR x IPv4 DR" "${med[http_close_dr6]:-}" "${med[http_close_dr]:-}" 0.9
    goal "HTTP new connections/s through NAT66 x IPv4 NAT" "${med[http_close_nat6]:-}" "${med[http_close_nat]:-}" 0.9
    cat "$LAB_DIR/bulk.goals" 2>/dev/null || true
    [ "${med[floor]:-0}" = 0 ] || [ "${wire_med:-0}" = 0 ] ||
        echo "- DR against the wire, for scale: the relay floor (the engine's rings and guard with none of its work) forwarded $(ratio "${med[floor]}" "$wire_med") x the wire in this run"
    echo "- per packet, per flow and allocations: bench/micro.sh"
    echo "- takeover time between two balancers (VRRP, SIGKILL and SIGTERM): bench/failover.sh"
    echo "- connection sync: flows/s replicated while new connections arrive, and what it costs the master's CPU: bench/sync.sh"
    echo
    echo "Engine counters at exit: \`$stats\`"
    [ -z "$floor_stats" ] || echo "Relay floor's counts at exit (floor): \`$floor_stats\`"
} >"$md"
cat >"$here/results/bench-$stamp.json" <<JSON
{"time": "$stamp", "kernel": "$(uname -r)", "cores": $cores, "workers": $workers, "rounds": $rounds, "seconds": $seconds,
 "pps": {$(for p in $paths; do printf '"%s": [%s], ' $p "$(echo ${results[$p]:-} | tr ' ' ',')"; done | sed 's/, $//')},
 "median_pps": {$(for p in $paths; do printf '"%s": %s, ' $p "${med[$p]}"; done | sed 's/, $//')},
 "engine_cpu_ns_per_packet": {$(for p in $paths; do [ -n "${results[cpu_$p]:-}" ] && printf '"%s": [%s], ' $p "$(echo ${results[cpu_$p]} | tr ' ' ',')"; done | sed 's/, $//')},
 "cpu_busy_last_round": {$(for p in $paths; do printf '"%s": "%s", ' $p "${results[busy_$p]:-}"; done | sed 's/, $//')},
 "http_median_rps": {$(for k in "${!med[@]}"; do case $k in http_*) printf '"%s": %s, ' "${k#http_}" "${med[$k]}" ;; esac; done | sed 's/, $//')},
 "dr_over_wire": $(jratio "${med[dr]:-}" "$wire_med"), "floor_over_wire": $(jratio "${med[floor]:-}" "$wire_med"), "dr_over_floor": $(jratio "${med[dr]:-}" "${med[floor]:-}"), "nat_over_kernel_nat": $(jratio "${med[nat]:-}" "${med[nft]:-}"),
 "bulk": $(cat "$LAB_DIR/bulk.json" 2>/dev/null || echo null)}
JSON
# Charts (PNG) of the medians, when gnuplot is there (scripts/setup.sh installs gnuplot-nox).
charts=""
if command -v gnuplot >/dev/null; then
    plot() { # plot FILE TITLE YLABEL DATA COLUMNS...
        local png=$1 title=$2 ylabel=$3 data=$4
        shift 4
        local using="" i=2
        for col in "$@"; do
            using="$using${using:+, }'$data' using $i:xtic(1) title '$col'"
            i=$((i + 1))
        done
        gnuplot <<GP
set terminal png size 900,450
set output '$png'
set title '$title'
set ylabel '$ylabel'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:*]
set grid ytics
plot $using
GP
    }
    if [ -n "$flood" ]; then
        for path in $paths; do printf '"%s" %s\n' "$path" "${med[$path]}"; done >"$LAB_DIR/flood.dat"
        plot "${md%.md}-flood.png" "UDP 64-byte flood: packets/s delivered (median of $rounds)" "packets/s" \
            "$LAB_DIR/flood.dat" "median pps"
        charts="${md%.md}-flood.png"
    fi
    if [ -n "$http" ]; then
        for path in $http_paths; do
            printf '"%s" %s %s\n' "$path" "${med[http_close_$path]}" "${med[http_keepalive_$path]}"
        done >"$LAB_DIR/http.dat"
        plot "${md%.md}-http.png" "HTTP through each path: requests/s (median of $rounds)" "requests/s" \
            "$LAB_DIR/http.dat" "new connection per request" "keep-alive"
        charts="$charts ${md%.md}-http.png"
    fi
fi

echo
cat "$md"
echo
echo "written: $md and ${md%.md}.json${charts:+ and charts: $charts}"
