#!/usr/bin/env bash
# IPv6 end to end, dual-stack: DR over IPv6 (real servers with the VIP on lo) and NAT66
# (two-arm, the balancer as the real servers' IPv6 gateway), beside an IPv4 DR service on the
# same real servers. Neighbour discovery answered for the VIPs, real servers' MACs learned by
# soliciting them (or from the kernel's neighbour table, for one that answers no solicitation),
# nginx logging the client's IPv6 address, DNS over UDP through NAT66, persistence, and a health
# check taking a server out. Addresses from 2001:db8::/32 and 198.18.0.0/15 only.
. "$(dirname "$0")/prelude.sh"

lab_init sye2e-v6
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT

vip4=198.18.61.100
vip6=2001:db8:61::100
nat6=2001:db8:61::101
client6=2001:db8:61::10
lab_switch out
lab_switch in
v6host() { # v6host NAME IFNAME V4/24 V6 SWITCH
    lab_host "$1" "$2" "$3" "$5"
    lab_ipv6 "$1" "$2" "$4/64"
}
v6host client eth0 198.18.61.10/24 $client6 out
v6host lb wan0 198.18.61.2/24 2001:db8:61::2 out
v6host web1 eth0 198.18.61.11/24 2001:db8:61::11 out
v6host web2 eth0 198.18.61.12/24 2001:db8:61::12 out
lab_exec lb ip link add lan0 type veth peer name x$$
lab_exec lb ip link set x$$ netns "$(lab_ns in)"
lab_exec in ip link set x$$ master br0 up
lab_exec lb sysctl -qw net.ipv6.conf.lan0.accept_dad=0
lab_exec lb ip link set lan0 up
lab_exec lb ip -6 addr add 2001:db8:62::1/64 dev lan0 nodad
v6host web3 eth0 198.18.62.13/24 2001:db8:62::13 in
v6host web4 eth0 198.18.62.14/24 2001:db8:62::14 in

# The balancer solicits from its link-local addresses: wait until they are no longer tentative.
for _ in $(seq 50); do
    [ -z "$(lab_exec lb ip -6 addr show tentative)" ] && [ -n "$(lab_exec lb ip -6 addr show dev lan0 scope link)" ] && break
    sleep 0.1
done

rs_script() { lab_exec "$1" env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$1" sh "$root/scripts/realserver.sh" "${@:2}"; }
echo "-- real-server script for IPv6"
rs_script web1 up 2001:DB8:61:0::100 >/dev/null
check "up adds an IPv6 VIP as a /128 on lo, and no ARP setting" \
    test "$(lab_exec web1 ip -6 -o addr show dev lo to $vip6/128 | wc -l)$(lab_exec web1 cat /proc/sys/net/ipv4/conf/all/arp_ignore)" = 10
rs_script web1 up $vip6 >/dev/null
check "up again (another spelling) is idempotent" test "$(lab_exec web1 ip -6 -o addr show dev lo to $vip6/128 | wc -l)" -eq 1
rs_script web1 check $vip6 >"$LAB_DIR/check6"
check "check passes" test $? -eq 0
check "and says why IPv6 needs no arp_ignore" grep -q "answers neighbour solicitations only for addresses on the interface" "$LAB_DIR/check6"
for rs in web1 web2; do
    rs_script $rs up $vip4 $vip6 >/dev/null
    lab_nginx $rs $rs "listen [::]:80;"
done
out=$(rs_script web3 check gateway 2001:db8:62::1)
check "check gateway (IPv6) fails while there is no IPv6 default route" test $? -ne 0
rs_script web3 gateway 198.18.62.1 >/dev/null
for rs in web3 web4; do rs_script $rs gateway 2001:db8:62::1 >/dev/null; done
check "gateway sets the IPv6 default route and leaves the IPv4 one" \
    sh -c "ip netns exec $(lab_ns web3) ip -6 route show default | grep -q 'via 2001:db8:62::1' && ip netns exec $(lab_ns web3) ip -4 route show default | grep -q 'via 198.18.62.1'"
check "check gateway (IPv6) passes after it" rs_script web3 check gateway 2001:db8:62::1
out=$(rs_script web3 gateway fe80::1 2>&1)
check "a link-local gateway without its interface is refused, with the fix ($out)" \
    grep -q "fe80::1 is link-local: say which interface reaches it, e.g. gateway fe80::1 dev eth0" <<<"$out"
for rs in web3 web4; do
    lab_nginx $rs $rs "listen [::]:8080;"
    printf 'address=/who.test/2001:db8:99::%s\n' "${rs#web}" >"$LAB_DIR/dnsmasq-$rs.conf"
    lab_bg $rs "$LAB_DIR/dnsmasq-$rs.log" dnsmasq --no-daemon --conf-file="$LAB_DIR/dnsmasq-$rs.conf" --port=5353 \
        --listen-address="2001:db8:62::1${rs#web}" --bind-interfaces --no-resolv --no-hosts --user=root
done

cat >"$LAB_DIR/v6.conf" <<CONF
virtual_server $vip4 80 {
    lb_algo rr
    lb_kind DR
    real_server 198.18.61.11 80 { weight 1 }
    real_server 198.18.61.12 80 { weight 1 }
}
virtual_server $vip6 80 {
    lb_algo rr
    lb_kind DR
    real_server 2001:db8:61::11 80 { weight 1 }
    real_server 2001:db8:61::12 80 { weight 1 }
}
virtual_server $nat6 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    real_server 2001:db8:62::13 8080 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
    real_server 2001:db8:62::14 8080 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
}
virtual_server $nat6 81 {
    lb_algo rr
    lb_kind NAT
    persistence_timeout 60
    real_server 2001:db8:62::13 8080 { weight 1 }
    real_server 2001:db8:62::14 8080 { weight 1 }
}
virtual_server $nat6 54 {
    lb_algo rr
    lb_kind NAT
    protocol UDP
    real_server 2001:db8:62::13 5354 { weight 1 }
}
virtual_server $nat6 53 {
    lb_algo rr
    lb_kind NAT
    protocol UDP
    real_server 2001:db8:62::13 5353 { weight 1 }
    real_server 2001:db8:62::14 5353 { weight 1 }
}
CONF
# web4 sends no neighbour discovery at all (solicitations and advertisements dropped on the way
# out; its gateway's MAC is a permanent entry), so the engine cannot learn its MAC from the
# wire; the balancer's kernel has it (a permanent entry): the engine reads the kernel's IPv6
# neighbour table (netlink), as IPv4's /proc/net/arp, before it asks.
web4mac=$(lab_exec web4 cat /sys/class/net/eth0/address)
lab_exec web4 nft -f - <<NFT
table ip6 sye2e_mute {
    chain out { type filter hook output priority 0; icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } drop; }
}
NFT
lab_exec web4 ip -6 neigh replace 2001:db8:62::1 lladdr "$(lab_exec lb cat /sys/class/net/lan0/address)" dev eth0 nud permanent
lab_exec lb ip -6 neigh replace 2001:db8:62::14 lladdr "$web4mac" dev lan0 nud permanent
lab_bg lb "$LAB_DIR/lb.log" "$bin" run --config "$LAB_DIR/v6.conf" --workers 2 --control "$LAB_DIR/v6.sock"
lab_wait_for "$LAB_DIR/lb.log" "ready:" 15 || { echo "balancer did not start:"; cat "$LAB_DIR/lb.log"; exit 1; }
adm() { lab_exec lb "$bin" adm --control "$LAB_DIR/v6.sock" "$@"; }

echo "-- start: interfaces from the IPv6 routes, neighbour discovery for the VIPs"
check "wan0 for the VIPs, lan0 for the NAT66 real servers" grep -q "wan0 .*; lan0 " "$LAB_DIR/lb.log"
check "ready line: ARP for the IPv4 VIP, neighbour discovery for both IPv6 VIPs" \
    grep -q "answering ARP for $vip4; answering neighbour discovery for $vip6, $nat6" "$LAB_DIR/lb.log"
for rs in 2001:db8:61::11 2001:db8:61::12 2001:db8:62::13; do
    check "real server $rs's MAC learned" grep -q "real server $rs is at " "$LAB_DIR/lb.log"
done
check "web4's MAC taken from the kernel's neighbour table, though web4 answers no solicitation" \
    grep -q "real server 2001:db8:62::14 is at $web4mac on lan0" "$LAB_DIR/lb.log"
lab_exec lb nft list ruleset >"$LAB_DIR/ruleset"
check "the kernel guard drops the IPv6 VIPs' packets" grep -q "ip6 daddr { $vip6, $nat6 } counter" "$LAB_DIR/ruleset"
check "and the NAT66 replies" grep -q "ip6 saddr . meta l4proto . th sport { 2001:db8:62::13 . tcp . 8080, " "$LAB_DIR/ruleset"
adm -Ln >"$LAB_DIR/listing"
check "adm -Ln lists the IPv6 services as ipvsadm does" grep -q "^TCP  \[$vip6\]:80 rr" "$LAB_DIR/listing"

echo "-- DR over IPv6"
lab_exec client ping -6 -c 1 -W 2 $vip6 >"$LAB_DIR/ping" 2>&1
check "the VIP answers an echo request" grep -q "1 received" "$LAB_DIR/ping"
lbmac=$(lab_exec lb cat /sys/class/net/wan0/address)
check "the client's neighbour entry for the VIP is the balancer's MAC ($lbmac)" \
    sh -c "ip netns exec $(lab_ns client) ip -6 neigh show $vip6 dev eth0 | grep -q 'lladdr $lbmac'"
# Unreachability detection sends its solicitation to the VIP itself (unicast): the kernel guard
# must let it reach the responder, or the client's entry for the VIP fails every so often.
clientmac=$(lab_exec client cat /sys/class/net/eth0/address)
unicast_ns=$(lab_exec client python3 -c "
import socket, struct
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
s.settimeout(3)
vip = socket.inet_pton(socket.AF_INET6, '$vip6')
s.sendto(struct.pack('!BBHI', 135, 0, 0, 0) + vip + b'\\x01\\x01' + bytes.fromhex('$clientmac'.replace(':', '')), ('$vip6', 0))
try:
    while True:
        data, _ = s.recvfrom(2048)
        if data[0] == 136 and data[8:24] == vip:
            print('solicited' if data[4] & 0x40 else 'unsolicited')
            break
except socket.timeout:
    print('timeout')
")
check "a solicitation sent to the VIP itself is answered (solicited flag set: $unicast_ns)" test "$unicast_ns" = solicited
for rs in web1 web2; do : >"$(lab_nginx_log $rs)"; done
for _ in $(seq 100); do lab_exec client curl -s -g --max-time 3 "http://[$vip6]/" || echo FAILED; done >"$LAB_DIR/dr6"
expect "100 requests to [$vip6], none failed" "$(grep -c '^web[12]$' "$LAB_DIR/dr6")" -eq 100
expect "web1 served (rr: half)" "$(grep -cx web1 "$LAB_DIR/dr6")" -ge 40
expect "web2 served (rr: half)" "$(grep -cx web2 "$LAB_DIR/dr6")" -ge 40
logged=$(cat "$(lab_nginx_log web1)" "$(lab_nginx_log web2)")
expect "nginx logged the client's IPv6 address for every request" "$(echo "$logged" | awk -v c=$client6 '$1 != c' | wc -l)" -eq 0
expect "and the VIP as the address asked (DR: the packet is unchanged)" "$(echo "$logged" | awk -v v=$vip6 '$2 != v' | wc -l)" -eq 0

echo "-- dual stack: the IPv4 VIP on the same real servers"
for _ in $(seq 20); do lab_exec client curl -s --max-time 3 "http://$vip4/" || echo FAILED; done >"$LAB_DIR/dr4"
expect "20 requests to $vip4, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/dr4")" -eq 20

echo "-- NAT66"
for rs in web3 web4; do : >"$(lab_nginx_log $rs)"; done
for _ in $(seq 100); do lab_exec client curl -s -g --max-time 3 "http://[$nat6]/" || echo FAILED; done >"$LAB_DIR/nat6"
expect "100 requests to [$nat6]:80, none failed" "$(grep -c '^web[34]$' "$LAB_DIR/nat6")" -eq 100
expect "web3 served (rr: half)" "$(grep -cx web3 "$LAB_DIR/nat6")" -ge 40
expect "web4 served (rr: half)" "$(grep -cx web4 "$LAB_DIR/nat6")" -ge 40
logged=$(cat "$(lab_nginx_log web3)" "$(lab_nginx_log web4)")
expect "nginx logged the client's IPv6 address for every request" "$(echo "$logged" | awk -v c=$client6 '$1 != c' | wc -l)" -eq 0
expect "requests reached nginx on the real server's own address (NAT66)" "$(echo "$logged" | awk '$2 !~ /^2001:db8:62::/' | wc -l)" -eq 0
lab_exec client curl -s -g --max-time 10 -o "$LAB_DIR/big6" "http://[$nat6]/big.bin"
check "a 4 MiB download through NAT66 is byte-exact" sh -c "cmp -s $LAB_DIR/big6 $LAB_DIR/nginx-web3/www/big.bin || cmp -s $LAB_DIR/big6 $LAB_DIR/nginx-web4/www/big.bin"

adm -Lnc >"$LAB_DIR/connections"
check "adm -Lnc lists the NAT66 connections as ipvsadm does" \
    grep -qE "^TCP [0-9:]+ +[A-Z_]+ +\[$client6\]:[0-9]+ \[$nat6\]:80 \[2001:db8:62::1[34]\]:8080$" "$LAB_DIR/connections"

echo "-- UDP (DNS) through NAT66"
for _ in $(seq 10); do lab_exec client dig -6 +short +time=2 +tries=1 -p 53 @$nat6 who.test AAAA || echo FAILED; done >"$LAB_DIR/dns6"
expect "10 queries answered" "$(grep -c '^2001:db8:99::[34]$' "$LAB_DIR/dns6")" -eq 10
expect "both servers answered (rr)" "$(sort -u "$LAB_DIR/dns6" | grep -c '^2001:db8:99::')" -eq 2

# Nothing listens on the real server's port 5354: its ICMPv6 port unreachable comes back through
# the balancer, translated (from the VIP, quoting [VIP]:54), and the client's socket is refused.
refused=$(lab_exec client python3 -c "
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect(('$nat6', 54))
s.send(b'anyone?')
try:
    s.recv(100)
    print('answered')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')
")
check "an ICMPv6 port unreachable from a NAT66 real server reaches the client as the VIP's (socket refused: $refused)" \
    test "$refused" = refused

# A datagram that arrives with hop limit 1 ends at the balancer, which answers with ICMPv6 time
# exceeded from the VIP (the client's socket hears of it through IPV6_RECVERR: EHOSTUNREACH).
expired=$(lab_exec client python3 -c "
import errno, socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 1)
s.setsockopt(socket.IPPROTO_IPV6, getattr(socket, 'IPV6_RECVERR', 25), 1)
s.settimeout(3)
s.connect(('$nat6', 53))
s.send(b'hop limit 1')
try:
    s.recv(100)
    print('answered')
except socket.timeout:
    print('timeout')
except OSError as e:
    print('time exceeded' if e.errno == errno.EHOSTUNREACH else errno.errorcode.get(e.errno, e.errno))
")
check "a datagram with hop limit 1 is answered with ICMPv6 time exceeded ($expired)" test "$expired" = "time exceeded"

echo "-- persistence over IPv6"
for _ in $(seq 20); do lab_exec client curl -s -g --max-time 3 "http://[$nat6]:81/" || echo FAILED; done >"$LAB_DIR/persist6"
expect "20 requests to port 81, none failed" "$(grep -c '^web[34]$' "$LAB_DIR/persist6")" -eq 20
expect "all on one server (persistence_timeout 60)" "$(sort -u "$LAB_DIR/persist6" | wc -l)" -eq 1

echo "-- a health check takes an IPv6 real server out"
lab_nginx_stop web4
lab_wait_for "$LAB_DIR/lb.log" "real server \[2001:db8:62::14\]:8080 of .* is DOWN" 8
check "the log says [2001:db8:62::14]:8080 is DOWN" grep -q "real server \[2001:db8:62::14\]:8080 of .* is DOWN" "$LAB_DIR/lb.log"
for _ in $(seq 20); do lab_exec client curl -s -g --max-time 3 "http://[$nat6]/" || echo FAILED; done >"$LAB_DIR/nat6-after"
expect "20 requests after, none failed, all to web3" "$(grep -cx web3 "$LAB_DIR/nat6-after")" -eq 20

echo "-- the balancer kept forwarding: counters"
adm --engine >"$LAB_DIR/engine"
expect "TCP super-packets from the NAT66 servers went out whole for the kernel to cut (GSO)" \
    "$(sed -n 's/^ *tcp_gso_sent //p' "$LAB_DIR/engine")" -gt 0
expect "nothing dropped as oversize" "$(grep -c 'drop_oversize' "$LAB_DIR/engine")" -eq 0

echo "-- real-server script: down undoes both families"
rs_script web3 down >/dev/null
check "down restores web3's default routes (none for IPv6, none for IPv4)" \
    test -z "$(lab_exec web3 ip -6 route show default)$(lab_exec web3 ip -4 route show default)"
rs_script web1 down >/dev/null
check "down removes the IPv6 VIP from lo" test -z "$(lab_exec web1 ip -6 -o addr show dev lo to $vip6/128)"
