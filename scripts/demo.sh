#!/usr/bin/env bash
# The Switchyard demo: a client, the load balancer and two nginx real servers, each in its own
# network namespace; the real servers prepared with scripts/realserver.sh; a few hundred HTTP
# requests through the VIP; then who served what, and which client address each real server saw.
# Everything is removed at the end, also on Ctrl-C or failure.
#
#   scripts/demo.sh [--mode dr|nat|ha] [--dual-stack] [--requests N] [--scheduler mh|rr|wrr|sh|lc|wlc|sed|nq]
#
# dr:  one segment; the real servers answer the client directly (direct server return).
# nat: two segments; the balancer is the real servers' gateway and translates both ways (NAT66
#      too with --dual-stack).
# ha:  DR through two balancers sharing the VIP by VRRP; the master is SIGKILLed during a
#      download and the backup takes over (scripts/demo-ha.sh; --requests and --scheduler unused).
# --dual-stack: IPv6 beside IPv4 (addresses from 2001:db8::/32): a second VIP, 2001:db8::100, on
#      the same real servers, and every other request sent over IPv6.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab.sh
. "$here/lab.sh"

requests=300
scheduler=mh
mode=dr
dual=
while [ $# -gt 0 ]; do
    case $1 in
        --dual-stack) dual=1; shift ;;
        --requests) requests=$2; shift 2 ;;
        --scheduler) scheduler=$2; shift 2 ;;
        --mode) mode=$2; shift 2 ;;
        -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "demo.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root (it creates network namespaces)" >&2; exit 1; }
bin=$(switchyard_bin)
[ -x "$bin" ] || { echo "demo.sh: $bin is missing; run: swift build -c release" >&2; exit 1; }

case $mode in dr | nat) ;; ha) exec bash "$here/demo-ha.sh" ;; *) echo "demo.sh: --mode is dr, nat or ha" >&2; exit 2 ;; esac
vip=198.18.0.100
client=198.18.0.10
vip6=2001:db8::100
lab_init sydemo
lab_switch
lab_host client eth0 $client/24
lab_host lb eth0 198.18.0.2/24
# add6 HOST IFNAME ADDRESS/64: an IPv6 address usable at once (no duplicate address detection).
add6() {
    [ -n "$dual" ] || return 0
    lab_exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 net.ipv6.conf."$2".accept_dad=0
    lab_exec "$1" ip -6 addr add "$3" dev "$2" nodad
}
add6 client eth0 2001:db8::10/64
add6 lb eth0 2001:db8::2/64
if [ "$mode" = dr ]; then
    echo "== lab (DR, one segment): client $client, balancer 198.18.0.2, real servers 198.18.0.11 and .12, VIP $vip"
    rs1=198.18.0.11
    rs2=198.18.0.12
    rs6=2001:db8::1
    lab_host rs1 eth0 $rs1/24
    lab_host rs2 eth0 $rs2/24
else
    echo "== lab (NAT, two-arm): client $client and the VIP $vip outside; balancer 198.18.0.2 outside, 198.18.1.1 inside;"
    echo "   real servers 198.18.1.11 and .12 inside, their gateway the balancer"
    rs1=198.18.1.11
    rs2=198.18.1.12
    rs6=2001:db8:1::1
    lab_switch inside
    lab_exec lb ip link add eth1 type veth peer name in$$
    lab_exec lb ip link set in$$ netns "$(lab_ns inside)"
    lab_exec inside ip link set in$$ master br0 up
    lab_exec lb ip addr add 198.18.1.1/24 dev eth1
    lab_exec lb ip link set eth1 up
    lab_host rs1 eth0 $rs1/24 inside
    lab_host rs2 eth0 $rs2/24 inside
    add6 lb eth1 2001:db8:1::1/64
fi
add6 rs1 eth0 ${rs6}1/64
add6 rs2 eth0 ${rs6}2/64
[ -z "$dual" ] || echo "   IPv6 too: client 2001:db8::10, balancer 2001:db8::2, real servers ${rs6}1 and ${rs6}2, VIP $vip6"
# The balancer asks for the IPv6 real servers from its link-local address: wait until it is usable.
for _ in $(seq 50); do
    [ -z "$dual" ] || [ -z "$(lab_exec lb ip -6 addr show tentative)" ] && break
    sleep 0.1
done
# The balancer would forward packets a second time if the kernel guard did not stop it.
lab_exec lb sysctl -qw net.ipv4.ip_forward=1

for rs in rs1 rs2; do
    if [ "$mode" = dr ]; then
        echo "== preparing $rs with scripts/realserver.sh up $vip"
        lab_exec "$rs" env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$rs" sh "$here/realserver.sh" up "$vip" ${dual:+$vip6} | sed 's/^/   /'
    else
        echo "== preparing $rs with scripts/realserver.sh gateway 198.18.1.1${dual:+ (and gateway 2001:db8:1::1)}"
        lab_exec "$rs" env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$rs" sh "$here/realserver.sh" gateway 198.18.1.1 | sed 's/^/   /'
        [ -z "$dual" ] || lab_exec "$rs" env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$rs" sh "$here/realserver.sh" gateway 2001:db8:1::1 | sed 's/^/   /'
    fi
    lab_nginx "$rs" "$rs" "${dual:+listen [::]:80;}"
done

method=$(echo "$mode" | tr a-z A-Z)
cat >"$LAB_DIR/switchyard.conf" <<CONF
! One virtual service: $method forwarding, $scheduler scheduling.
virtual_server $vip 80 {
    lb_algo $scheduler
    lb_kind $method
    protocol TCP
    real_server $rs1 80 { weight 1 }
    real_server $rs2 80 { weight 1 }
}
CONF
[ -z "$dual" ] || cat >>"$LAB_DIR/switchyard.conf" <<CONF
virtual_server $vip6 80 {
    lb_algo $scheduler
    lb_kind $method
    protocol TCP
    real_server ${rs6}1 80 { weight 1 }
    real_server ${rs6}2 80 { weight 1 }
}
CONF
echo "== starting: switchyard run --config switchyard.conf (in the balancer's namespace)"
sed 's/^/   /' "$LAB_DIR/switchyard.conf"
lab_bg lb "$LAB_DIR/switchyard.log" "$bin" run --config "$LAB_DIR/switchyard.conf"
lb_pid=$LAB_LAST_PID
lab_wait_for "$LAB_DIR/switchyard.log" "ready:" 15 || { cat "$LAB_DIR/switchyard.log"; exit 1; }
sed 's/^/   /' "$LAB_DIR/switchyard.log"

echo "== sending $requests HTTP requests from the client to http://$vip/${dual:+ and, every other one, http://[$vip6]/} (a new connection each)"
ok=0
fail=0
for i in $(seq "$requests"); do
    url=http://$vip/
    [ -n "$dual" ] && [ $((i % 2)) -eq 0 ] && url="http://[$vip6]/"
    if body=$(lab_exec client curl -s -g --max-time 3 "$url"); then
        echo "$body" >>"$LAB_DIR/bodies"
        ok=$((ok + 1))
    else
        fail=$((fail + 1))
    fi
done

echo "== results: $ok answered, $fail failed"
for rs in rs1 rs2; do
    served=$(grep -cx "$rs" "$LAB_DIR/bodies" || true)
    clients=$(awk '{print $1}' "$(lab_nginx_log "$rs")" | sort | uniq -c | awk '{printf "%s (%s requests) ", $2, $1}')
    echo "   $rs answered $served; its nginx logged client address: ${clients:-none}"
done
echo "   (the client is $client${dual:+ and 2001:db8::10}: $method keeps the client's own address)"
kill -INT "$lb_pid"
wait "$lb_pid" || true
echo "== balancer stopped:"
tail -n 2 "$LAB_DIR/switchyard.log" | sed 's/^/   /'
[ "$fail" -eq 0 ]
