#!/bin/sh
# Prepares a Linux real server for Switchyard's direct server return (LVS-DR), and undoes it.
#
#   realserver.sh up VIP [VIP...]     add each VIP as a /32 on lo, stop the box answering ARP for
#                                     it (arp_ignore=1, arp_announce=2 on all and each interface),
#                                     relax strict rp_filter to loose (2); idempotent. An IPv6 VIP
#                                     goes on lo as a /128 and needs no such setting: Linux answers
#                                     neighbour solicitations only for addresses on the interface
#                                     they arrive on.
#   realserver.sh down VIP [VIP...]   remove those VIPs; when the last one goes, restore every
#                                     setting to exactly the value 'up' found
#   realserver.sh check VIP [VIP...]  say in plain words what is missing; exit 1 if anything is
#
# For NAT (the balancer rewrites addresses both ways, so replies must go back through it):
#   realserver.sh gateway LB_ADDRESS [dev IF]        make LB_ADDRESS the default gateway of its
#                                           family (IPv4 or IPv6), remembering the old one; an IPv6
#                                           link-local one (a VRRP instance's fe80::1) needs its
#                                           interface: gateway fe80::1 dev eth0
#   realserver.sh check gateway LB_ADDRESS [dev IF]  say whether replies would go through the balancer
#   realserver.sh down                      undo everything: VIPs, settings, the old gateway back
#
# Why: in DR the balancer forwards packets for the VIP unchanged except for the MAC, so the real
# server must accept the VIP as its own (the loopback address) without claiming it on the LAN
# (only the balancer may answer ARP for it), and must answer from the VIP straight to the client.
#
# POSIX sh on purpose: real servers have no Swift. Needs root, iproute2 and /proc/sys.
# State (what 'up' changed, to undo it) lives in $SWITCHYARD_STATE_DIR, by default
# /run/switchyard/realserver-<network namespace inode>: one per namespace, gone at reboot like
# the settings themselves.
set -eu

usage() {
    echo "usage: $0 up|down|check VIP [VIP...] | gateway LB_ADDRESS [dev IF] | check gateway LB_ADDRESS [dev IF] | down" >&2
    exit 2
}

die() {
    echo "realserver.sh: $*" >&2
    exit 1
}

[ $# -ge 1 ] || usage
action=$1
shift
case $action in
    down) ;;
    gateway) [ $# -eq 1 ] || { [ $# -eq 3 ] && [ "$2" = dev ]; } || usage ;;
    check) if [ "${1:-}" = gateway ]; then [ $# -eq 2 ] || { [ $# -eq 4 ] && [ "$3" = dev ]; } || usage
           else [ $# -ge 1 ] || usage; fi ;;
    *) [ $# -ge 1 ] || usage ;;
esac
[ "$action" = check ] && [ "${1:-}" = gateway ] && { action=check-gateway; shift; }
# gateway ADDRESS dev IF: the interface, kept apart from the address.
gw_dev=
if [ $# -eq 3 ]; then
    gw_dev=$3
    set -- "$1"
fi

is_ipv4() {
    case $1 in
        *[!0-9.]* | *..* | .* | *.) return 1 ;;
    esac
    old_ifs=$IFS
    IFS=.
    # shellcheck disable=SC2086
    set -- $1
    IFS=$old_ifs
    [ $# -eq 4 ] || return 1
    for octet in "$@"; do
        [ -n "$octet" ] && [ "$octet" -le 255 ] 2>/dev/null || return 1
    done
}

# An IPv6 address as iproute2 takes it: hex digits and colons, two colons at least.
is_ipv6() {
    case $1 in
        *[!0-9a-fA-F:]* | *:::*) return 1 ;;
        *:*:*) return 0 ;;
    esac
    return 1
}

for vip in "$@"; do
    is_ipv4 "$vip" || is_ipv6 "$vip" || die "\"$vip\" is not an IPv4 or IPv6 address"
done
# The gateway's family: its default route is the one 'gateway' changes.
family=4
if [ "$action" = gateway ] || [ "$action" = check-gateway ]; then
    is_ipv6 "$1" && family=6
    case $1 in
        [fF][eE][89aAbB]?:*)
            [ -n "$gw_dev" ] || die "$1 is link-local: say which interface reaches it, e.g. gateway $1 dev eth0" ;;
    esac
fi

# Whether any of the arguments is an IPv4 address (only those need the ARP settings).
any_ipv4() {
    for a in "$@"; do is_ipv4 "$a" && return 0; done
    return 1
}

ns_id=$(stat -L -c %i /proc/self/ns/net 2>/dev/null || echo host)
state_dir=${SWITCHYARD_STATE_DIR:-/run/switchyard/realserver-$ns_id}
saved=$state_dir/sysctl.saved
managed=$state_dir/vips
route_saved=$state_dir/route.saved
route6_saved=$state_dir/route6.saved

conf=/proc/sys/net/ipv4/conf

# The interfaces whose ARP behaviour matters: all, plus every real interface (not lo).
arp_targets() {
    echo all
    for d in "$conf"/*; do
        name=${d##*/}
        case $name in all | default | lo) ;; *) echo "$name" ;; esac
    done
}

# Sets a sysctl file, first recording the value found (only the first time, so 'up' run twice
# still restores the original).
set_sysctl() {
    file=$1
    value=$2
    [ -w "$file" ] || die "cannot write $file (run as root)"
    current=$(cat "$file")
    [ "$current" = "$value" ] && return 0
    if ! grep -q "^$file " "$saved" 2>/dev/null; then
        echo "$file $current" >>"$saved"
    fi
    echo "$value" >"$file"
}

has_vip() {
    if is_ipv6 "$1"; then
        # "to" compares addresses, not text: any spelling of the VIP is found.
        [ -n "$(ip -6 -o addr show dev lo to "$1/128")" ]
    else
        ip -4 -o addr show dev lo | grep -q " inet $1/32 "
    fi
}

# The VIP's host prefix length: /32 or /128.
host_length() { is_ipv6 "$1" && echo 128 || echo 32; }

do_up() {
    [ "$(id -u)" -eq 0 ] || die "up needs root"
    mkdir -p "$state_dir"
    touch "$saved" "$managed"
    any_ipv4 "$@" && for iface in $(arp_targets); do
        # arp_ignore=1: answer ARP only for addresses on the interface the request came in on
        # (the VIP is on lo, so never for it). arp_announce=2: never use the VIP as the source
        # of our own ARP requests.
        set_sysctl "$conf/$iface/arp_ignore" 1
        set_sysctl "$conf/$iface/arp_announce" 2
        # Strict reverse-path filtering (1) drops a packet whose source would be routed out of
        # another interface; loose (2) keeps the check without that. 0 stays 0.
        if [ "$(cat "$conf/$iface/rp_filter")" = 1 ]; then
            set_sysctl "$conf/$iface/rp_filter" 2
        fi
    done
    for vip in "$@"; do
        if has_vip "$vip"; then
            echo "$vip is already on lo"
        else
            ip addr add "$vip/$(host_length "$vip")" dev lo
            grep -qx "$vip" "$managed" || echo "$vip" >>"$managed"
            echo "added $vip/$(host_length "$vip") to lo"
        fi
    done
    if any_ipv4 "$@"; then
        echo "ready for direct server return: arp_ignore=1, arp_announce=2 on $(arp_targets | tr '\n' ' ')"
    else
        echo "ready for direct server return (IPv6: no ARP setting needed)"
    fi
}

# The first default route, as 'ip route add' takes it back: an IPv6 route learned from a router
# advertisement prints "expires 1798sec", which 'add' does not read.
default_route() {
    ip -"${1:-$family}" route show default | head -n 1 | sed 's/ expires [^ ]*//'
}

do_gateway() {
    [ "$(id -u)" -eq 0 ] || die "gateway needs root"
    mkdir -p "$state_dir"
    file=$route_saved
    [ "$family" = 6 ] && file=$route6_saved
    # Remember the default route found (empty if none) the first time only.
    [ -f "$file" ] || default_route >"$file"
    ip -"$family" route replace default via "$1" ${gw_dev:+dev "$gw_dev"}
    echo "default route now via $1${gw_dev:+ dev $gw_dev} (NAT: replies go back through the balancer)"
    if [ "$family" = 6 ]; then
        dev=${gw_dev:-$(ip -6 route get "$1" 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p')}
        if [ -n "$dev" ] && [ "$(cat "/proc/sys/net/ipv6/conf/$dev/accept_ra" 2>/dev/null || echo 0)" != 0 ]; then
            echo "warning: $dev accepts router advertisements (accept_ra), which can add a default route beside this one and send replies past the balancer; set net.ipv6.conf.$dev.accept_ra=0"
        fi
    fi
}

do_check_gateway() {
    current=$(default_route)
    case " $current " in
        *" via $1 "*"${gw_dev:+dev $gw_dev }"*)
            echo "ok: the default route is via $1, so replies go back through the balancer"
            return 0 ;;
    esac
    if [ -z "$current" ]; then
        echo "wrong gateway: there is no default route; with NAT replies must go back through the balancer $1 (fix: $0 gateway $1${gw_dev:+ dev $gw_dev})"
    else
        echo "wrong gateway: the default route is '$current'; with NAT replies must go back through the balancer $1 (fix: $0 gateway $1${gw_dev:+ dev $gw_dev})"
    fi
    return 1
}

restore_gateway() { # restore_gateway FAMILY SAVED_FILE
    [ -f "$2" ] || return 0
    old=$(cat "$2")
    ip -"$1" route del default 2>/dev/null || true
    if [ -n "$old" ]; then
        # shellcheck disable=SC2086
        ip -"$1" route add $old && echo "restored default route: $old"
    else
        echo "removed the IPv$1 default route (there was none before)"
    fi
    rm -f "$2"
}

do_down() {
    [ "$(id -u)" -eq 0 ] || die "down needs root"
    if [ $# -eq 0 ] && [ -f "$managed" ]; then
        # shellcheck disable=SC2046
        set -- $(cat "$managed")
    fi
    restore_gateway 4 "$route_saved"
    restore_gateway 6 "$route6_saved"
    for vip in "$@"; do
        if grep -qx "$vip" "$managed" 2>/dev/null; then
            ip addr del "$vip/$(host_length "$vip")" dev lo 2>/dev/null || true
            grep -vx "$vip" "$managed" >"$managed.new" || true
            mv "$managed.new" "$managed"
            echo "removed $vip/$(host_length "$vip") from lo"
        elif has_vip "$vip"; then
            echo "$vip is on lo but was not added by this script: left alone"
        else
            echo "$vip is not on lo"
        fi
    done
    if [ ! -s "$managed" ] && [ -f "$saved" ]; then
        while read -r file value; do
            [ -w "$file" ] && echo "$value" >"$file" && echo "restored $file to $value"
        done <"$saved"
        rm -f "$saved" "$managed"
    fi
    [ -d "$state_dir" ] && rmdir "$state_dir" 2>/dev/null || true
}

do_check() {
    missing=0
    for vip in "$@"; do
        if has_vip "$vip"; then
            echo "ok: $vip/$(host_length "$vip") is on lo"
            is_ipv6 "$vip" && echo "ok: $vip needs no ARP setting: Linux answers neighbour solicitations only for addresses on the interface they arrive on, and lo is none of them"
        else
            echo "missing: $vip is not on lo, so this server would drop the packets the balancer sends it (fix: $0 up $vip)"
            missing=1
        fi
    done
    any_ipv4 "$@" && for iface in $(arp_targets); do
        [ -r "$conf/$iface/arp_ignore" ] || continue
        if [ "$(cat "$conf/$iface/arp_ignore")" -lt 1 ] && [ "$(cat "$conf/all/arp_ignore")" -lt 1 ]; then
            echo "missing: arp_ignore on $iface is 0, so this server would answer ARP for the VIP and steal its traffic"
            missing=1
        fi
        if [ "$(cat "$conf/$iface/arp_announce")" -lt 2 ] && [ "$(cat "$conf/all/arp_announce")" -lt 2 ]; then
            echo "missing: arp_announce on $iface is below 2, so this server could announce the VIP in its own ARP requests"
            missing=1
        fi
        if [ "$(cat "$conf/$iface/rp_filter")" = 1 ] || [ "$(cat "$conf/all/rp_filter")" = 1 ]; then
            echo "warning: strict rp_filter on $iface may drop clients reached through another interface (2 is loose)"
        fi
    done
    if [ $missing -eq 0 ]; then
        echo "ready: this server can take direct-server-return traffic for $*"
    fi
    return $missing
}

case $action in
    up) do_up "$@" ;;
    down) do_down "$@" ;;
    check) do_check "$@" ;;
    gateway) do_gateway "$1" ;;
    check-gateway) do_check_gateway "$1" ;;
    *) usage ;;
esac
