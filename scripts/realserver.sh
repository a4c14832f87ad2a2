#!/bin/sh
# Prepares a Linux real server for Switchyard's direct server return (LVS-DR), and undoes it.
#
#   realserver.sh up VIP [VIP...]     add each VIP as a /32 on lo, stop the box answering ARP for
#                                     it (arp_ignore=1, arp_announce=2 on all and each interface),
#                                     relax strict rp_filter to loose (2); idempotent
#   realserver.sh down VIP [VIP...]   remove those VIPs; when the last one goes, restore every
#                                     setting to exactly the value 'up' found
#   realserver.sh check VIP [VIP...]  say in plain words what is missing; exit 1 if anything is
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
    echo "usage: $0 up|down|check VIP [VIP...]" >&2
    exit 2
}

die() {
    echo "realserver.sh: $*" >&2
    exit 1
}

[ $# -ge 2 ] || usage
action=$1
shift

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

for vip in "$@"; do
    is_ipv4 "$vip" || die "\"$vip\" is not an IPv4 address"
done

ns_id=$(stat -L -c %i /proc/self/ns/net 2>/dev/null || echo host)
state_dir=${SWITCHYARD_STATE_DIR:-/run/switchyard/realserver-$ns_id}
saved=$state_dir/sysctl.saved
managed=$state_dir/vips

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
    ip -4 -o addr show dev lo | grep -q " inet $1/32 "
}

do_up() {
    [ "$(id -u)" -eq 0 ] || die "up needs root"
    mkdir -p "$state_dir"
    touch "$saved" "$managed"
    for iface in $(arp_targets); do
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
            ip addr add "$vip/32" dev lo
            grep -qx "$vip" "$managed" || echo "$vip" >>"$managed"
            echo "added $vip/32 to lo"
        fi
    done
    echo "ready for direct server return: arp_ignore=1, arp_announce=2 on $(arp_targets | tr '\n' ' ')"
}

do_down() {
    [ "$(id -u)" -eq 0 ] || die "down needs root"
    for vip in "$@"; do
        if grep -qx "$vip" "$managed" 2>/dev/null; then
            ip addr del "$vip/32" dev lo 2>/dev/null || true
            grep -vx "$vip" "$managed" >"$managed.new" || true
            mv "$managed.new" "$managed"
            echo "removed $vip/32 from lo"
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
        rmdir "$state_dir" 2>/dev/null || true
    fi
}

do_check() {
    missing=0
    for vip in "$@"; do
        if has_vip "$vip"; then
            echo "ok: $vip/32 is on lo"
        else
            echo "missing: $vip is not on lo, so this server would drop the packets the balancer sends it (fix: $0 up $vip)"
            missing=1
        fi
    done
    for iface in $(arp_targets); do
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
    *) usage ;;
esac
