# shellcheck shell=bash
# The IPv6 side of bench/run.sh's lab, sourced by it: the same client, balancer and real servers
# with addresses from 2001:db8::/64, a DR VIP and a NAT66 VIP on the same engine as the IPv4
# ones, and trafgen's IPv6 frame, so that the flood paths dr6 and nat6 and the HTTP paths of the
# same names measure IPv6 beside IPv4 in one run. The NAT66 client is a second prefix
# (2001:db8:9::/64) routed through the balancer, as the IPv4 NAT client's subnet is.

vip6=2001:db8::100
vip6_nat=2001:db8::101

# v6_lab: the addresses (no duplicate address detection, so they are usable at once), the VIP on
# the real servers' lo, and the routes of the NAT66 client's prefix.
v6_lab() {
    local h
    for h in client:10 lb:2 rs1:11 rs2:12; do
        lab_exec "${h%%:*}" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
            net.ipv6.conf.eth0.accept_dad=0
        lab_exec "${h%%:*}" ip -6 addr add "2001:db8::${h##*:}/64" dev eth0 nodad
    done
    for h in rs1 rs2; do
        lab_exec $h env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$h" sh "$root/scripts/realserver.sh" up $vip6 >/dev/null
        lab_exec $h ip -6 route add 2001:db8:9::/64 via 2001:db8::2
    done
    lab_exec client ip -6 addr add 2001:db8:9::10/64 dev eth0 nodad
    lab_exec client ip -6 route add $vip6_nat/128 via 2001:db8::2 src 2001:db8:9::10
    # The balancer solicits from its link-local address: wait until it is usable.
    for h in $(seq 50); do
        [ -n "$(lab_exec lb ip -6 addr show dev eth0 scope link -tentative)" ] && break
        sleep 0.1
    done
    lab_exec client ping -6 -c 1 -W 1 2001:db8::11 >/dev/null || true
}

# v6_services: the IPv6 services, the IPv4 ones' twins (UDP 9 for the flood, TCP 80 for HTTP).
v6_services() {
    cat <<CONF
virtual_server $vip6 9 {
    lb_algo mh
    lb_kind DR
    protocol UDP
    real_server 2001:db8::11 9 { weight 1 }
    real_server 2001:db8::12 9 { weight 1 }
}
virtual_server $vip6 80 {
    lb_algo mh
    lb_kind DR
    real_server 2001:db8::11 80 { weight 1 }
    real_server 2001:db8::12 80 { weight 1 }
}
virtual_server $vip6_nat 80 {
    lb_algo mh
    lb_kind NAT
    real_server 2001:db8::11 8081 { weight 1 }
    real_server 2001:db8::12 8081 { weight 1 }
}
virtual_server $vip6_nat 9 {
    lb_algo mh
    lb_kind NAT
    protocol UDP
    real_server 2001:db8::11 9 { weight 1 }
    real_server 2001:db8::12 9 { weight 1 }
}
CONF
}

# packet6 DST_MAC DST_IP6: the IPv6 twin of run.sh's `packet`: the same UDP payload (18 bytes)
# from random source ports, the UDP checksum by trafgen (IPv6 forbids 0).
packet6() {
    bytes() { python3 -c "import ipaddress, sys; print(', '.join('0x%02x' % b for b in ipaddress.ip_address(sys.argv[1]).packed))" "$1"; }
    echo "{ $(echo "$1" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1/g; s/:/, /g'), $(echo "$client_mac" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1/g; s/:/, /g'),"
    echo "  c16(0x86DD), 0x60, 0x00, 0x00, 0x00, c16(26), 17, 64,"
    echo "  $(bytes 2001:db8::10),"
    echo "  $(bytes "$2"),"
    echo "  drnd(2), c16(9), c16(26), csumudp6(14, 54), fill(0x41, 18) }"
}
