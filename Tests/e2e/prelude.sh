# shellcheck shell=bash
# What every end-to-end test file starts with: strict-ish mode, where things are, the lab and
# the assertions, and the release binary. Source it first: . "$(dirname "$0")/prelude.sh"
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/scripts/lab.sh"
. "$here/assert.sh"
bin=$(switchyard_bin)

# lab_ipv6 HOST IFNAME ADDR/LEN: an IPv6 address usable at once (no duplicate address detection,
# for it or for addresses added later; no router advertisements taken).
lab_ipv6() {
    lab_exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf."$2".accept_dad=0 net.ipv6.conf."$2".accept_ra=0
    lab_exec "$1" ip -6 addr add "$3" dev "$2" nodad
}

# mac_bytes MAC: a MAC address as trafgen bytes ("0x02, 0x00, ...").
mac_bytes() { echo "$1" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1/g; s/:/, /g'; }

# syn_flood HOST IFNAME DST_MAC DST_IP COUNT: from HOST, at most 4 s of TCP SYNs to DST_IP:80
# from random sources in 198.18.0.0/16 and random ports (IP and TCP checksums by trafgen).
syn_flood() {
    local host=$1 ifname=$2 dst_mac=$3 dst_ip=$4 count=$5 src_mac
    src_mac=$(lab_exec "$host" cat "/sys/class/net/$ifname/address")
    cat >"$LAB_DIR/syn.cfg" <<CFG
{ $(mac_bytes "$dst_mac"), $(mac_bytes "$src_mac"), c16(0x0800),
  0x45, 0x00, c16(40), drnd(2), c16(0x4000), 64, 6, csumip(14, 33),
  198, 18, drnd(2), $(echo "$dst_ip" | tr . ,),
  drnd(2), c16(80), drnd(4), c32(0), c16(0x5002), c16(64240), csumtcp(14, 34), c16(0) }
CFG
    lab_exec "$host" timeout -s INT 4 trafgen -q -C -P 1 -o "$ifname" -i "$LAB_DIR/syn.cfg" -n "$count" >/dev/null 2>&1
}
