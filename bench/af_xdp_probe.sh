#!/usr/bin/env bash
# Whether AF_XDP works on veth on this kernel, and how many frames a socket takes from a 2 s
# trafgen flood, in native and generic XDP mode (copy mode), and whether zero-copy binds.
# As root; needs libxdp-dev and libbpf-dev (scripts/setup.sh installs them).
#   bench/af_xdp_probe.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lab.sh"
probe=$(mktemp)
gcc -O2 -o "$probe" "$here/af_xdp_probe.c" -lxdp -lbpf
lab_init syxdp
trap 'rm -f "$probe"; lab_cleanup' EXIT
lab_switch
lab_host a eth0 198.18.70.1/24
lab_host b eth0 198.18.70.2/24
# libxdp's dispatcher wants a bpffs; without one it loads a single program (works too).
mount | grep -q " /sys/fs/bpf " || mount -t bpf bpf /sys/fs/bpf || true
hex() { echo "$1" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1/g; s/:/, /g'; }
bmac=$(lab_exec b cat /sys/class/net/eth0/address)
amac=$(lab_exec a cat /sys/class/net/eth0/address)
echo "{ $(hex $bmac), $(hex $amac), c16(0x0800), 0x45, 0, c16(46), c16(0), 0x40, 0, 64, 17, csumip(14, 33),
  198, 18, 70, 1, 198, 18, 70, 2, drnd(2), c16(9), c16(26), c16(0), fill(0x41, 18) }" >"$LAB_DIR/udp.cfg"
echo "== zero-copy on veth:"
lab_exec b env ZEROCOPY=1 "$probe" eth0 0 2>&1 | grep -vE "^lib(bpf|xdp)" || true
for mode in 0 1; do
    lab_bg b "$LAB_DIR/probe$mode.txt" taskset -c 1 "$probe" eth0 $mode
    sleep 1
    lab_exec a timeout -s INT 2 taskset -c 0 trafgen -q -C -P 1 -o eth0 -i "$LAB_DIR/udp.cfg" -n 3000000 >/dev/null 2>&1 || true
    wait "$LAB_LAST_PID" || true
    echo "== $(grep -E "bound" "$LAB_DIR/probe$mode.txt")"
    grep -E "received|xsk_" "$LAB_DIR/probe$mode.txt" | sed 's/^/   /'
done
