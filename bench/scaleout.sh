#!/usr/bin/env bash
# The scale-out benchmark, one command (as root, after scripts/setup.sh):
#
#   bench/scaleout.sh [--rounds N] [--seconds S]
#
# A client floods 64-byte UDP frames (random source addresses and ports) at a VIP through a
# router namespace (the kernel's IPv4 forwarding, fib_multipath_hash_policy=1, L4) to three
# Switchyard balancers on one segment (DR, mh, one worker each), which forward to two real
# servers. Each round measures two configurations of the router's route to the VIP, the same
# balancers running throughout:
#   one    VIP via lb1 alone;
#   three  VIP with three next hops, lb1, lb2 and lb3 (the route BIRD's `merge paths` installs;
#          the route is set by hand here, as BGP plays no part in the packet rate).
# Measured over each window: frames delivered to the real servers per second (their
# interfaces' rx counters), and for each balancer the frames it forwarded (adm --engine) and the
# CPU time its process used (/proc/PID/stat), hence CPU ns per forwarded frame.
# This lab has 2 cores: trafgen and the router's forwarding (softirq on the sender's side of the
# veth) take CPU0, the three balancers share CPU1, so "three" cannot beat "one" by much here: the
# report is the ratio and each balancer's cost per frame, which is what a box per balancer scales.
# Writes bench/results/scaleout-<time>.md. Namespaces (prefix sybench-ecmp) are removed on
# exit, also on failure or Ctrl-C; every flood stops by itself.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$root/scripts/lab.sh"

rounds=3
seconds=4
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "bench/scaleout.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "bench/scaleout.sh: --rounds takes a whole number from 1" >&2; exit 2; }
[[ $seconds =~ ^[0-9]+$ ]] && [ "$seconds" -ge 2 ] || { echo "bench/scaleout.sh: --seconds takes a whole number from 2" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench/scaleout.sh: run as root" >&2; exit 1; }
bin=$(switchyard_bin)
[ -x "$bin" ] || { echo "bench/scaleout.sh: build first: swift build -c release --product switchyard" >&2; exit 1; }
command -v trafgen >/dev/null || { echo "bench/scaleout.sh: trafgen missing (apt-get install netsniff-ng)" >&2; exit 1; }

front=198.19.50
back=198.19.51
vip=198.19.52.100
lab_init sybench-ecmp
lab_switch front
lab_switch back
lab_host client eth0 $front.10/24 front
lab_host router eth0 $front.1/24 front
# The router's second leg, on the balancers' segment.
ip link add "sy$$rt1" type veth peer name "p$$rt1"
ip link set "sy$$rt1" netns "$(lab_ns router)"
ip link set "p$$rt1" netns "$(lab_ns back)"
lab_exec router ip link set "sy$$rt1" name eth1
lab_exec back ip link set "p$$rt1" name router master br0 up
lab_exec router ip link set eth1 up
lab_exec router ip addr add $back.1/24 dev eth1
lab_exec router sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1
lab_exec client ip route add default via $front.1
for i in 1 2 3; do
    lab_host lb$i eth0 $back.$((i + 1))/24 back
    lab_exec lb$i ip route add default via $back.1
done
for rs in rs1 rs2; do
    lab_host $rs eth0 $back.1${rs#rs}/24 back
    lab_exec $rs env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$rs" sh "$root/scripts/realserver.sh" up $vip >/dev/null
    # Count, then drop the flood before the UDP layer, so the servers do not answer with ICMP.
    printf 'table inet bench {\n chain pre {\n  type filter hook prerouting priority raw; policy accept;\n  udp dport 9 counter drop\n }\n}\n' |
        lab_exec $rs nft -f -
done

cat >"$LAB_DIR/lb.conf" <<CONF
virtual_server $vip 9 {
    lb_algo mh
    lb_kind DR
    protocol UDP
    real_server $back.11 9 { weight 1 }
    real_server $back.12 9 { weight 1 }
}
CONF
declare -A pid
for i in 1 2 3; do
    lab_bg lb$i "$LAB_DIR/lb$i.log" taskset -c 1 "$bin" run --config "$LAB_DIR/lb.conf" --workers 1 \
        --control "$LAB_DIR/lb$i.ctl"
    pid[lb$i]=$LAB_LAST_PID
done
for i in 1 2 3; do lab_wait_for "$LAB_DIR/lb$i.log" "ready:" 15 || { cat "$LAB_DIR/lb$i.log"; exit 1; }; done
fingerprints=$(for i in 1 2 3; do lab_exec lb$i "$bin" adm --control "$LAB_DIR/lb$i.ctl" --fingerprint | sed -n 3p; done | sort -u | wc -l)
# The router learns the balancers' MACs before the first window.
for i in 1 2 3; do lab_exec router ping -c 1 -W 1 $back.$((i + 1)) >/dev/null; done

router_mac=$(lab_exec router cat /sys/class/net/eth0/address)
client_mac=$(lab_exec client cat /sys/class/net/eth0/address)
bytes() { echo "$1" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1/g; s/:/, /g'; }
cat >"$LAB_DIR/flood.cfg" <<CFG
{ $(bytes "$router_mac"), $(bytes "$client_mac"), c16(0x0800),
  0x45, 0x00, c16(46), c16(0), 0x40, 0x00, 64, 17, csumip(14, 33),
  198, 19, drnd(2), $(echo $vip | tr . ,),
  drnd(2), c16(9), c16(26), c16(0), fill(0x41, 18) }
CFG

rx_sum() { echo $(($(lab_exec rs1 cat /sys/class/net/eth0/statistics/rx_packets) + $(lab_exec rs2 cat /sys/class/net/eth0/statistics/rx_packets))); }
forwarded() { lab_exec "$1" "$bin" adm --control "$LAB_DIR/$1.ctl" --engine | awk '$1 == "forwarded" {print $2}'; }
ticks() { awk '{print $14 + $15}' "/proc/${pid[$1]}/stat"; }
hz=$(getconf CLK_TCK)

declare -A pps cpu share
window() { # window NAME ROUND
    local name=$1 round=$2 t0 t1 r0 r1 i f0 f1 c0 c1
    if [ "$name" = one ]; then
        lab_exec router ip route replace $vip/32 via $back.2
    else
        lab_exec router ip route replace $vip/32 nexthop via $back.2 nexthop via $back.3 nexthop via $back.4
    fi
    # The flood outlasts the window by 3 s (every counter is read while it runs), then stops.
    lab_exec client timeout -s INT $((seconds + 3)) taskset -c 0 trafgen -q -C -P 1 -o eth0 -i "$LAB_DIR/flood.cfg" \
        -n $((seconds * 5000000)) >/dev/null 2>&1 &
    local sender=$!
    sleep 0.5
    declare -A f0 c0 a0
    for i in 1 2 3; do a0[$i]=$(date +%s%N); f0[$i]=$(forwarded lb$i); c0[$i]=$(ticks lb$i); done
    r0=$(rx_sum)
    t0=$(date +%s%N)
    sleep $((seconds - 1))
    r1=$(rx_sum)
    t1=$(date +%s%N)
    local line=""
    for i in 1 2 3; do
        f1=$(forwarded lb$i)
        c1=$(ticks lb$i)
        # Each balancer's own window (from before its first adm call to after its last), for its rate.
        local n=$((f1 - f0[$i])) c=$(((c1 - c0[$i]) * 1000000000 / hz)) span=$(($(date +%s%N) - a0[$i]))
        line+=" lb$i $((n * 1000000000 / span)) $((n > 0 ? c / n : 0))"
    done
    kill -INT "$sender" 2>/dev/null || true
    wait "$sender" || true
    pps[$name,$round]=$(((r1 - r0) * 1000000000 / (t1 - t0)))
    share[$name,$round]=$line
    echo "round $round $name: $((pps[$name,$round])) frames/s delivered;$line (each: forwarded/s, CPU ns per frame)"
}

for r in $(seq "$rounds"); do
    window one "$r"
    window three "$r"
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)); else print "-"}'; }
# each NAME FIELD: each balancer's median over the rounds of its forwarded frames/s (FIELD 1) or
# its CPU ns per frame (FIELD 2, from the rounds it forwarded in)
each() {
    local name=$1 field=$2 i r
    for i in 1 2 3; do
        for r in $(seq "$rounds"); do
            echo "${share[$name,$r]}" | awk -v lb="lb$i" -v f="$field" \
                '{for (k = 1; k <= NF; k += 3) if ($k == lb && (f == 1 || $(k+1) > 0)) print $(k+f)}'
        done | median
    done | tr '\n' ' '
}
one=$(for r in $(seq "$rounds"); do echo "${pps[one,$r]}"; done | median)
three=$(for r in $(seq "$rounds"); do echo "${pps[three,$r]}"; done | median)
ratio=$(awk -v a="$three" -v b="$one" 'BEGIN {if (b > 0) printf "%.2f", a / b}')
mkdir -p "$here/results"
out=$here/results/scaleout-$(date -u +%Y%m%dT%H%M%SZ).md
{
    echo "# Scale-out: three balancers behind an ECMP router against one"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(uname -r); $rounds rounds of a $((seconds - 1))-s window inside a flood;"
    echo "64-byte UDP frames from random sources through the router (fib_multipath_hash_policy=1) to VIP $vip;"
    echo "each balancer: switchyard, DR, mh, one worker, all three pinned to CPU1; trafgen and the router's forwarding on CPU0."
    echo "Maglev fingerprints: $fingerprints distinct over the three balancers (1 = they agree)."
    echo
    echo "| route | delivered frames/s (median) | forwarded frames/s, lb1 lb2 lb3 | CPU ns per frame, lb1 lb2 lb3 |"
    echo "|---|---|---|---|"
    echo "| one next hop (lb1) | $one | $(each one 1) | $(each one 2) |"
    echo "| three next hops | $three | $(each three 1) | $(each three 2) |"
    echo
    echo "Aggregate three/one: **$ratio**. Rounds:"
    echo
    for r in $(seq "$rounds"); do echo "- round $r: one ${pps[one,$r]}, three ${pps[three,$r]} frames/s"; done
    echo
    echo "On this 2-core lab the three balancers share one CPU, so the aggregate is capped by it; the"
    echo "spread over three balancers and each one's CPU per frame are what carry over to one box per balancer."
} >"$out"
cat "$out"
