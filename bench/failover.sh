#!/usr/bin/env bash
# The takeover-time benchmark, one command (as root, after scripts/setup.sh):
#
#   bench/failover.sh [--fast-rounds N] [--slow-rounds N]
#
# Two Switchyard balancers in front of two real servers (DR, one vrrp_instance holding the VIP,
# version 3; lb1 MASTER priority 150, lb2 BACKUP priority 100). For advert_int 0.1 (N rounds,
# default 5) and advert_int 1 (default 3), each round starts lb1 (it preempts lb2 and becomes
# master), lets the client send a UDP probe to the VIP every millisecond, and SIGKILLs lb1; once
# per advert_int it stops lb1 with SIGTERM instead (the graceful case: it sends priority 0 first).
#
# Takeover time: from just before the signal (the killing process reads the clock and calls
# kill(2) next, with nothing in between) to the first probe lb2 forwards. That probe is seen on
# the real servers' side: tcpdump on their interfaces (-tt -e: kernel receive timestamps on the
# same realtime clock, and each frame's source MAC); DR rewrites the source MAC to the forwarding
# balancer's own, so the first frame whose source MAC is lb2's is lb2's first forwarded packet.
# Between lb2 and a real server are only veth pairs and a bridge, which pass a frame on within
# microseconds, so its timestamp is when lb2 sent it; the probes' spacing (1 ms) bounds how late
# the first one can be. (lb2's forwarded counter would have to be polled, and says nothing about
# when.) The signal falls at a random phase of lb1's adverts. Each round also shows when lb2
# logged MASTER and when the client first saw an ARP from lb2 (its gratuitous ARP).
#
# Goal: the VRRP master-down timer, 3 x advert_int + Skew_Time with Skew_Time = (256 - priority)
# x advert_int / 256 (RFC 5798 6.1), plus 50 ms; for the graceful case Skew_Time + 50 ms. The
# timer runs from the last advert lb2 heard, up to one advert_int before the kill, so a takeover
# can be measured shorter than the timer. Judged on the slowest round.
# Writes bench/results/failover-<time>.md and .json. Every round is bounded in time; the lab's
# namespaces (prefix sybench-ha) are removed on exit, also on failure or Ctrl-C.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$root/scripts/lab.sh"

fast_rounds=5
slow_rounds=3
while [ $# -gt 0 ]; do
    case $1 in
        --fast-rounds) fast_rounds=$2; shift 2 ;;
        --slow-rounds) slow_rounds=$2; shift 2 ;;
        -h | --help) sed -n '2,28p' "$0"; exit 0 ;;
        *) echo "bench/failover.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench/failover.sh: run as root" >&2; exit 1; }
bin=$(switchyard_bin)
[ -x "$bin" ] || { echo "bench/failover.sh: build first: swift build -c release --product switchyard" >&2; exit 1; }
command -v tcpdump >/dev/null || { echo "bench/failover.sh: tcpdump missing (apt-get install tcpdump)" >&2; exit 1; }

net=198.19.31
vip=$net.100
interval=0.001
lab_init sybench-ha
lab_switch
lab_host client eth0 $net.10/24
lab_host lb1 eth0 $net.2/24
lab_host lb2 eth0 $net.3/24
lab_host rs1 eth0 $net.11/24
lab_host rs2 eth0 $net.12/24
for rs in rs1 rs2; do
    lab_exec $rs env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$rs" sh "$root/scripts/realserver.sh" up $vip >/dev/null
    # tcpdump sees the probes before this drops them, so the servers send no ICMP back.
    printf 'table ip bench {\n chain pre {\n  type filter hook prerouting priority raw; policy accept;\n  udp dport 9 drop\n }\n}\n' |
        lab_exec $rs nft -f -
done
mac_of() { lab_exec "$1" cat /sys/class/net/eth0/address; }
lb1_mac=$(mac_of lb1)
lb2_mac=$(mac_of lb2)

conf() { # conf NAME STATE PRIORITY ADVERT
    cat >"$LAB_DIR/$1.conf" <<CONF
vrrp_instance VI_1 {
    state $2
    interface eth0
    virtual_router_id 51
    priority $3
    advert_int $4
    version 3
    virtual_ipaddress {
        $vip
    }
}
virtual_server $vip 9 {
    lb_algo mh
    lb_kind DR
    protocol UDP
    real_server $net.11 9 { weight 1 }
    real_server $net.12 9 { weight 1 }
}
CONF
}
declare -A PID LOG
starts=0
start() { # start LB: switchyard run in the background, waiting for "ready:"
    starts=$((starts + 1))
    LOG[$1]=$LAB_DIR/$1-$starts.log
    lab_bg "$1" "${LOG[$1]}" "$bin" run --config "$LAB_DIR/$1.conf" --workers 1
    PID[$1]=$LAB_LAST_PID
    lab_wait_for "${LOG[$1]}" "ready:" 15 || { echo "$1 did not start:"; cat "${LOG[$1]}"; exit 1; }
}
# reap LB: wait (at most 10 s, then SIGKILL) for a signalled balancer to exit, and take its pid
# off the cleanup list (a reaped pid may be someone else's later).
reap() {
    local p=${PID[$1]} keep=() x
    for _ in $(seq 100); do
        [ -e "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] || break
        sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    for x in "${LAB_PIDS[@]}"; do [ "$x" = "$p" ] || keep+=("$x"); done
    LAB_PIDS=("${keep[@]}")
}
stop() { kill -INT "${PID[$1]}" 2>/dev/null || true; reap "$1"; }
state() { lab_exec "$1" "$bin" adm --config "$LAB_DIR/$1.conf" --vrrp 2>/dev/null | awk '$1 == "VI_1" {print $4}'; }
vip_mac() { lab_exec client ip neigh show $vip dev eth0 | awk '{print $3}'; }
# until SECONDS COMMAND...: poll every 0.1 s until the command succeeds.
until_ok() {
    local i
    for i in $(seq $(($1 * 10))); do "${@:2}" && return 0; sleep 0.1; done
    return 1
}
settled() { [ "$(state lb1)" = MASTER ] && [ "$(state lb2)" = BACKUP ]; }
client_on_lb1() {
    lab_exec client bash -c "echo x >/dev/udp/$vip/9" 2>/dev/null || true
    [ "$(vip_mac)" = "$lb1_mac" ]
}

declare -A results
# round KIND ADVERT: one takeover; KIND kill (SIGKILL) or term (SIGTERM). Appends the takeover
# in ms to results[KIND_ADVERT] and prints the round's line.
round() {
    local kind=$1 advert=$2 signal pre down span count t0 host first last_old old_after garp sent logged line
    signal=$([ "$kind" = kill ] && echo KILL || echo TERM)
    start lb1
    until_ok 10 settled || { echo "  lb1 and lb2 did not settle (lb1 $(state lb1), lb2 $(state lb2))"; exit 1; }
    until_ok 3 client_on_lb1 || { echo "  the client's entry for $vip is $(vip_mac), not lb1's"; exit 1; }
    # The real servers' captures see the forwarded probes; the client's sees lb2's gratuitous ARP.
    for host in rs1 rs2 client; do
        lab_bg $host "$LAB_DIR/tcpdump-$host.log" tcpdump -i eth0 -n -U -w "$LAB_DIR/$host.pcap" \
            "$([ $host = client ] && echo "arp or udp dst port 9" || echo "udp and dst port 9")"
        PID[tcpdump_$host]=$LAB_LAST_PID
    done
    for host in rs1 rs2 client; do
        lab_wait_for "$LAB_DIR/tcpdump-$host.log" "listening on" 5 || { cat "$LAB_DIR/tcpdump-$host.log"; exit 1; }
    done
    # The signal comes 0.5 s into the probes plus a random part of one advert interval: lb1 was
    # started a fixed time before, so without it every kill would fall at one phase of its adverts.
    pre=$(awk -v a="$advert" -v r=$RANDOM 'BEGIN {printf "%.3f", 0.5 + a * r / 32768}')
    # Probes until the master-down interval and 1 s more have passed; bounded by count.
    down=$(awk -v a="$advert" 'BEGIN {print 3 * a + (256 - 100) * a / 256}')
    span=$(awk -v p="$pre" -v d="$down" 'BEGIN {print p + d + 1}')
    count=$(awk -v s="$span" -v i=$interval 'BEGIN {printf "%d", s / i}')
    lab_exec client python3 -c 'import socket, sys, time
dst, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", 40009))
due = time.monotonic()
for i in range(count):
    try:
        s.sendto(i.to_bytes(4, "big") * 4, (dst, 9))
    except OSError:
        pass  # no neighbour yet: the probe is lost, as a real one would be
    due += interval
    time.sleep(max(0.0, due - time.monotonic()))' $vip "$count" $interval &
    local probes=$!
    LAB_PIDS+=("$probes")
    sleep "$pre"
    # The clock is read, then kill(2) is called: nothing between them but Python's own call.
    t0=$(python3 -c 'import os, sys, time; t = time.time(); os.kill(int(sys.argv[1]), int(sys.argv[2])); print("%.6f" % t)' \
        "${PID[lb1]}" "$([ "$signal" = KILL ] && echo 9 || echo 15)")
    # Reaped at once after SIGKILL, or bash reports the job as "Killed" later.
    [ "$signal" = TERM ] || wait "${PID[lb1]}" 2>/dev/null || true
    reap lb1
    wait "$probes" || true
    for host in rs1 rs2 client; do kill -INT "${PID[tcpdump_$host]}"; wait "${PID[tcpdump_$host]}" 2>/dev/null || true; done
    for host in rs1 rs2; do tcpdump -r "$LAB_DIR/$host.pcap" -tt -e -n 2>/dev/null; done | sort -n >"$LAB_DIR/frames"
    tcpdump -r "$LAB_DIR/client.pcap" -tt -e -n 2>/dev/null >"$LAB_DIR/client-frames"
    # lb2's gratuitous ARP: from its MAC, for the VIP as sender; then the client's first probe to it.
    garp=$(awk -v t="$t0" -v m="$lb2_mac" -v v="$vip" '$1 > t && $2 == m && ($0 ~ "tell " v "," || $0 ~ v " is-at") {
        printf "%.1f", ($1 - t) * 1000; exit}' "$LAB_DIR/client-frames")
    results[garp_${kind}_$advert]="${results[garp_${kind}_$advert]:-} ${garp:-}"
    sent=$(awk -v t="$t0" -v m="$lb2_mac," '$1 > t && $4 == m && / UDP/ {printf "%+.1f ms", ($1 - t) * 1000; exit}' "$LAB_DIR/client-frames")
    first=$(awk -v t="$t0" -v m="$lb2_mac" '$1 > t && $2 == m {print $1; exit}' "$LAB_DIR/frames")
    last_old=$(awk -v m="$lb1_mac" '$2 == m {t = $1} END {print t}' "$LAB_DIR/frames")
    old_after=$(awk -v t="$t0" -v m="$lb1_mac" '$1 > t && $2 == m' "$LAB_DIR/frames" | wc -l)
    [ -n "$first" ] || { echo "  round $kind $advert: no probe forwarded by lb2 within ${span}s"; exit 1; }
    ms=$(awk -v a="$first" -v b="$t0" 'BEGIN {printf "%.1f", (a - b) * 1000}')
    results[${kind}_$advert]="${results[${kind}_$advert]:-} $ms"
    # No probe reached a real server for this long: lb1's last forwarded frame to lb2's first.
    results[gap_${kind}_$advert]="${results[gap_${kind}_$advert]:-} $(awk -v a="$first" -v b="$last_old" 'BEGIN {printf "%.1f", (a - b) * 1000}')"
    # The same moment as lb2's log has it (ms resolution): its transition to MASTER.
    line=$(grep "VI_1: BACKUP -> MASTER" "${LOG[lb2]}" | tail -n 1 | cut -d' ' -f1)
    logged=$(python3 -c 'import sys, datetime as d
s = float(sys.argv[1]); day = d.datetime.fromtimestamp(s, d.timezone.utc)
h, m, x = sys.argv[2].split(":")
print("%.0f" % ((day.replace(hour=int(h), minute=int(m), second=0, microsecond=0).timestamp() + float(x) - s) * 1000))' "$t0" "$line")
    printf "  SIG%-4s advert_int %-3s takeover %7.1f ms; lb2 logged MASTER %+d ms, gratuitous ARP %s, client's first probe to lb2 %s;" \
        "$signal" "$advert" "$ms" "$logged" "$([ -n "$garp" ] && echo "+$garp ms" || echo "(none seen)")" "${sent:-(none seen)}"
    printf " lb1's last frame %+.1f ms (%d after the signal)\n" "$(awk -v a="$last_old" -v b="$t0" 'BEGIN {print (a - b) * 1000}')" "$old_after"
    rm -f "$LAB_DIR"/*.pcap
}

echo "== VRRP takeover: lb1 (150) -> lb2 (100), UDP probes every ${interval}s from the client, first forwarded frame seen at the real servers"
for advert in 0.1 1; do
    rounds=$([ "$advert" = 0.1 ] && echo "$fast_rounds" || echo "$slow_rounds")
    conf lb1 MASTER 150 $advert
    conf lb2 BACKUP 100 $advert
    start lb2
    for r in $(seq "$rounds"); do round kill $advert; done
    round term $advert
    stop lb2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
minimum() { tr ' ' '\n' | grep -v '^$' | sort -g | head -n 1; }
maximum() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -n 1; }
goal_ms() { # goal_ms KIND ADVERT: master-down (kill) or Skew_Time (term), plus 50 ms
    awk -v k="$1" -v a="$2" 'BEGIN {skew = (256 - 100) * a / 256; printf "%.1f", ((k == "kill" ? 3 * a : 0) + skew) * 1000 + 50}'
}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
md=$here/results/failover-$stamp.md
mkdir -p "$here/results"
{
    echo "# VRRP takeover time, $stamp"
    echo
    echo "Kernel $(uname -r), $(nproc) cores; two balancers (lb1 priority 150, lb2 100, version 3), DR, UDP probes every 1 ms;"
    echo "from just before the signal to lb2's first forwarded probe at the real servers (tcpdump timestamps)."
    echo
    echo "| case | advert_int | rounds | min ms | median ms | max ms | goal ms | met | lb2's gratuitous ARP (median ms) | no probe delivered for (median ms) |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for advert in 0.1 1; do
        for kind in kill term; do
            v=${results[${kind}_$advert]:-}
            g=$(goal_ms $kind $advert)
            max=$(echo "$v" | maximum)
            echo "| $([ $kind = kill ] && echo "SIGKILL" || echo "SIGTERM (priority 0)") | $advert | $(echo "$v" | wc -w) |" \
                "$(echo "$v" | minimum) | $(echo "$v" | median) | $max | $g | $(awk -v m="$max" -v g="$g" 'BEGIN {print (m <= g ? "met" : "not met")}') |" \
                "$(echo "${results[garp_${kind}_$advert]:-}" | median) | $(echo "${results[gap_${kind}_$advert]:-}" | median) |"
        done
    done
    echo
    echo "Goal: SIGKILL, the master-down timer 3 x advert_int + (256 - 100) x advert_int / 256, plus 50 ms;"
    echo "SIGTERM, Skew_Time alone plus 50 ms. Met when the slowest round is within it. Gratuitous ARP: when"
    echo "the client saw lb2 announce the VIP (it sends its probes to lb2 from then on); the rest of the"
    echo "takeover is lb2 receiving probes before it forwards them. Last column: from lb1's last forwarded"
    echo "probe to lb2's first (after SIGTERM lb1 forwards until it sends priority 0; lb2 then waits Skew_Time)."
} >"$md"
cat >"$here/results/failover-$stamp.json" <<JSON
{"time": "$stamp", "kernel": "$(uname -r)", "cores": $(nproc), "probe_interval_s": $interval,
 "takeover_ms": {$(for k in kill_0.1 term_0.1 kill_1 term_1; do printf '"%s": [%s], ' $k "$(echo ${results[$k]:-} | tr ' ' ',')"; done | sed 's/, $//')},
 "garp_ms": {$(for k in kill_0.1 term_0.1 kill_1 term_1; do printf '"%s": [%s], ' $k "$(echo ${results[garp_$k]:-} | tr ' ' ',')"; done | sed 's/, $//')},
 "gap_ms": {$(for k in kill_0.1 term_0.1 kill_1 term_1; do printf '"%s": [%s], ' $k "$(echo ${results[gap_$k]:-} | tr ' ' ',')"; done | sed 's/, $//')},
 "goal_ms": {"kill_0.1": $(goal_ms kill 0.1), "term_0.1": $(goal_ms term 0.1), "kill_1": $(goal_ms kill 1), "term_1": $(goal_ms term 1)}}
JSON
echo
cat "$md"
echo
echo "written: $md and ${md%.md}.json"
