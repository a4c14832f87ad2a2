#!/usr/bin/env bash
# Boots the Debian packages under a real systemd (PID 1 in a systemd-nspawn container of a
# debootstrapped Debian 12) and checks what only systemd itself can show: the unit starts as
# Type=notify and reports STATUS=, /metrics answers, `systemctl reload` works and fails on a
# broken file while the daemon keeps running, journald takes the priorities
# (`journalctl -p warning`), the capabilities are the unit's, a hung daemon is killed by the
# watchdog and restarted (and the new run undoes the old one's guard), and stop is clean.
# Not part of scripts/test.sh: debootstrap fetches ~150 MB from a Debian mirror (about three
# minutes). Run as root after scripts/setup.sh:
#   scripts/systemd-check.sh [ROOTFS_DIR]     (default /var/tmp/switchyard-nspawn, kept for reuse)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rootfs=${1:-/var/tmp/switchyard-nspawn}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ns=sy-systemd-check
passed=0
failed=0
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then passed=$((passed + 1)); echo "  ok   $what"; else failed=$((failed + 1)); echo "  FAIL $what"; fi
}
cleanup() {
    [ -n "${leader:-}" ] && nsenter -t "$leader" -a systemctl poweroff >/dev/null 2>&1
    for _ in $(seq 50); do pgrep -f "systemd-nspawn .*-M $ns" >/dev/null || break; sleep 0.1; done
    pkill -f "systemd-nspawn .*-M $ns" 2>/dev/null
    ip link del ve-sycheck 2>/dev/null
    ip netns del "$ns" 2>/dev/null
}
trap cleanup EXIT

for tool in debootstrap systemd-nspawn; do
    command -v "$tool" >/dev/null || apt-get install -y -q --no-install-recommends debootstrap systemd-container >/dev/null
done
if [ ! -x "$rootfs/usr/lib/systemd/systemd" ]; then
    echo "== debootstrap bookworm into $rootfs"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,iproute2,nftables,ethtool,libpcap0.8,libnet1,libssl3,libxdp1,libbpf1,libstdc++6,procps,curl \
        bookworm "$rootfs" "$mirror" >/tmp/switchyard-debootstrap.log 2>&1 || { tail -n 5 /tmp/switchyard-debootstrap.log; exit 1; }
fi
echo "== packages"
bash "$root/scripts/package.sh" "$rootfs/root/debs" | tail -n 1
mount --bind /proc "$rootfs/proc"
chroot "$rootfs" sh -c 'dpkg -i /root/debs/switchyard-realserver_*_all.deb /root/debs/switchyard_*.deb >/dev/null &&
    systemctl enable switchyard lab-net 2>/dev/null; true'
umount "$rootfs/proc"
cat >"$rootfs/etc/switchyard/switchyard.conf" <<'CONF'
global_defs {
    router_id LB1
    switchyard_http 198.18.61.2 8080
}
virtual_server 198.18.61.100 80 {
    lb_algo rr
    lb_kind DR
    real_server 198.18.61.1 80 {
        weight 1
    }
}
CONF
cat >"$rootfs/etc/systemd/system/lab-net.service" <<'UNIT'
[Unit]
Before=network-online.target switchyard.service
Wants=network-online.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/ip addr add 198.18.61.2/24 dev host0
ExecStart=/sbin/ip link set host0 up
[Install]
WantedBy=multi-user.target
UNIT
chroot "$rootfs" systemctl enable switchyard lab-net >/dev/null 2>&1
rm -rf "$rootfs/etc/systemd/system/switchyard.service.d"

echo "== booting systemd in a container (network namespace $ns)"
ip netns add "$ns"
ip link add ve-sycheck type veth peer name host0 netns "$ns"
ip addr add 198.18.61.1/24 dev ve-sycheck
ip link set ve-sycheck up
systemd-nspawn -q -b -D "$rootfs" --network-namespace-path="/run/netns/$ns" --register=no --keep-unit -M "$ns" \
    --console=passive --capability=all >/tmp/switchyard-nspawn.log 2>&1 &
leader=""
for _ in $(seq 100); do
    # The container's PID 1 (the host's own init is never started by this path and name alone).
    leader=$(pgrep -x -f /usr/lib/systemd/systemd | grep -vx 1 | head -n 1)
    [ -n "$leader" ] && nsenter -t "$leader" -a systemctl is-active -q switchyard 2>/dev/null && break
    sleep 0.2
done
in_box() { nsenter -t "$leader" -a "$@"; }

check "switchyard.service is active (Type=notify: it said READY=1)" in_box systemctl is-active -q switchyard
status=$(in_box systemctl show switchyard -p StatusText --value)
check "STATUS=: $status" grep -q "1 virtual service, 1 of 1 real server taking new flows" <<<"$status"
check "/metrics answers" bash -c "curl -s --max-time 3 http://198.18.61.2:8080/metrics | grep -q '^switchyard_flow_table_capacity '"
pid=$(in_box systemctl show switchyard -p MainPID --value)
caps=$(in_box sed -n 's/^CapEff:\t//p' "/proc/$pid/status")
check "its capabilities are the unit's (CapEff $caps)" test "$(capsh --decode="$caps" | sed 's/.*=//' | tr ',' '\n' | sort | tr '\n' ' ')" = \
    "$(sed -n 's/^CapabilityBoundingSet=//p' "$root/packaging/switchyard.service" | tr 'A-Z' 'a-z' | tr ' ' '\n' | sort | tr '\n' ' ')"
check "systemctl reload works" in_box systemctl reload switchyard
in_box sh -c 'echo "virtual_server broken {" >> /etc/switchyard/switchyard.conf'
check "systemctl reload of a broken file fails" bash -c "! nsenter -t $leader -a systemctl reload switchyard"
check "and the daemon keeps running" in_box systemctl is-active -q switchyard
in_box sed -i '$d' /etc/switchyard/switchyard.conf
check "journalctl -p err shows the refused reload" bash -c \
    "nsenter -t $leader -a journalctl -u switchyard -p err -o cat --no-pager | grep -q 'reload refused'"
check "journalctl -p warning shows the config's warning" bash -c \
    "nsenter -t $leader -a journalctl -u switchyard -p warning -o cat --no-pager | grep -q 'router_id is ignored'"
check "journalctl -p warning leaves info lines out" bash -c \
    "! nsenter -t $leader -a journalctl -u switchyard -p warning -o cat --no-pager | grep -q '^info: ready:'"
check "the watchdog heard from it" test -n "$(in_box systemctl show switchyard -p WatchdogTimestamp --value)"

echo "== a hung daemon (SIGSTOP) under WatchdogSec=4s"
in_box mkdir -p /etc/systemd/system/switchyard.service.d
in_box sh -c 'printf "[Service]\nWatchdogSec=4s\n" > /etc/systemd/system/switchyard.service.d/watchdog.conf'
in_box systemctl daemon-reload
in_box systemctl restart switchyard
sleep 2
hung=$(in_box systemctl show switchyard -p MainPID --value)
in_box kill -STOP "$hung"
sleep 8
check "the watchdog killed it and systemd started it again" test "$(in_box systemctl show switchyard -p NRestarts --value)" -ge 1
check "the new run undid the killed run's guard" bash -c \
    "nsenter -t $leader -a journalctl -u switchyard -o cat --no-pager | grep -q 'an earlier run of this config (pid $hung) did not stop cleanly'"
in_box rm -rf /etc/systemd/system/switchyard.service.d
in_box systemctl daemon-reload
check "systemctl stop is clean" in_box systemctl stop switchyard
check "and it removed its guard" bash -c \
    "nsenter -t $leader -a journalctl -u switchyard -o cat --no-pager | tail -n 5 | grep -q 'kernel guard table .* removed'"
echo "systemd-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
