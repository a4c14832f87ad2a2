#!/usr/bin/env bash
# The failover demo (`scripts/demo.sh --mode ha` runs it): two Switchyard balancers sharing a VIP
# by VRRP, the master SIGKILLed in the middle of a download, the backup taking over; then what the
# client saw: the takeover in the backup's log, its neighbour entry for the VIP, the download's
# sha256 against the file's, and the short requests that failed before, during and after.
# Everything is removed at the end, also on Ctrl-C or failure.
#
#   scripts/demo-ha.sh
#
# Exits 0 only if the download was byte-exact and no request started after the takeover failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab.sh
. "$here/lab.sh"

case ${1:-} in
    "") ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "demo-ha.sh: unknown option $1" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "demo-ha.sh: run as root (it creates network namespaces)" >&2; exit 1; }
bin=$(switchyard_bin)
[ -x "$bin" ] || { echo "demo-ha.sh: $bin is missing; run: swift build -c release" >&2; exit 1; }

net=198.19.30
vip=$net.100
advert=0.1
lab_init sydemo
echo "== lab (DR with failover, one segment; namespaces ${LAB_PREFIX}*): client $net.10, balancers lb1 $net.2 and"
echo "   lb2 $net.3 sharing VIP $vip by VRRP (version 3, advert_int $advert), real servers rs1 $net.11 and rs2 $net.12"
lab_switch
lab_host client eth0 $net.10/24
lab_host lb1 eth0 $net.2/24
lab_host lb2 eth0 $net.3/24
lab_host rs1 eth0 $net.11/24
lab_host rs2 eth0 $net.12/24
for rs in rs1 rs2; do
    echo "== preparing $rs with scripts/realserver.sh up $vip; nginx serves a 4 MiB file at 512 KiB/s"
    lab_exec "$rs" env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$rs" sh "$here/realserver.sh" up "$vip" | sed 's/^/   /'
    lab_nginx "$rs" "$rs" "location /slow/ { alias $LAB_DIR/nginx-$rs/www/; limit_rate 512k; }"
done

conf() { # conf NAME STATE PRIORITY
    cat >"$LAB_DIR/$1.conf" <<CONF
! $1: one VRRP instance holding the VIP, one virtual service on it (the same on both boxes).
vrrp_instance VI_1 {
    state $2
    interface eth0
    virtual_router_id 51
    priority $3
    advert_int $advert
    version 3
    virtual_ipaddress {
        $vip
    }
}
virtual_server $vip 80 {
    lb_algo mh
    lb_kind DR
    protocol TCP
    real_server $net.11 80 { weight 1 }
    real_server $net.12 80 { weight 1 }
}
CONF
}
conf lb1 MASTER 150
conf lb2 BACKUP 100
# Master_Down_Interval of the backup (RFC 5798 6.1): 3 x advert_int + (256 - priority) x advert_int / 256.
down=$(awk -v a=$advert 'BEGIN {printf "%.3f", 3 * a + (256 - 100) * a / 256}')
echo "== lb1.conf (lb2.conf differs in state BACKUP, priority 100):"
sed 's/^/   /' "$LAB_DIR/lb1.conf"
declare -A PID LOG
start() { # start LB: switchyard run in the balancer's namespace, waiting for "ready:"
    LOG[$1]=$LAB_DIR/$1.log
    lab_bg "$1" "${LOG[$1]}" "$bin" run --config "$LAB_DIR/$1.conf" --workers 1
    PID[$1]=$LAB_LAST_PID
    lab_wait_for "${LOG[$1]}" "ready:" 15 || { cat "${LOG[$1]}"; exit 1; }
}
echo "== starting switchyard run on lb1, then on lb2"
start lb1
lab_wait_for "${LOG[lb1]}" "VI_1: BACKUP -> MASTER" 5 || { cat "${LOG[lb1]}"; exit 1; }
start lb2
sleep 0.5
for lb in lb1 lb2; do
    echo "== switchyard adm --vrrp on $lb:"
    lab_exec "$lb" "$bin" adm --config "$LAB_DIR/$lb.conf" --vrrp | sed 's/^/   /'
done
mac_of() { lab_exec "$1" cat /sys/class/net/eth0/address; }
vip_mac() { lab_exec client ip neigh show "$vip" dev eth0 | awk '{print $3}'; }
lb1_mac=$(mac_of lb1)
lb2_mac=$(mac_of lb2)
lab_exec client curl -s --max-time 3 -o /dev/null "http://$vip/" || true
echo "== the client's neighbour entry for $vip: $(vip_mac) (lb1 is $lb1_mac, lb2 is $lb2_mac)"

clock() { date +%s.%N; }
echo "== the client downloads /slow/big.bin (4 MiB, about 8 s) and sends short requests every 50 ms"
lab_exec client curl -s --max-time 60 -o "$LAB_DIR/download" "http://$vip/slow/big.bin" &
download=$!
LAB_PIDS+=("$download")
(
    for _ in $(seq 100); do
        s=$(clock)
        if lab_exec client curl -s --max-time 3 "http://$vip/" | grep -q '^rs[12]$'; then r=ok; else r=FAILED; fi
        echo "$s $r"
        sleep 0.05
    done
) >"$LAB_DIR/requests" &
loop=$!
LAB_PIDS+=("$loop")
sleep 2
echo "== SIGKILL lb1 (pid ${PID[lb1]}), the master, 2 s into the download"
killed=$(clock)
kill -KILL "${PID[lb1]}"
wait "${PID[lb1]}" 2>/dev/null || true
# Dead and reaped: keep cleanup from signalling its pid, which may be someone else's by then.
pids=()
for p in "${LAB_PIDS[@]}"; do [ "$p" = "${PID[lb1]}" ] || pids+=("$p"); done
LAB_PIDS=("${pids[@]}")

took_over=
lab_wait_for "${LOG[lb2]}" "VI_1: BACKUP -> MASTER" 5 && took_over=1
line=$(grep -m1 "VI_1: BACKUP -> MASTER" "${LOG[lb2]}" || true)
echo "== lb2's log: ${line:-(no transition to MASTER within 5 s)}"
# Seconds from the kill to the transition's log line (HH:MM:SS.mmm, UTC, on the same clock).
takeover=
if [ -n "$line" ]; then
    takeover=$(python3 -c "import sys, datetime as d
s = float(sys.argv[1]); day = d.datetime.fromtimestamp(s, d.timezone.utc)
h, m, x = sys.argv[2].split(':')
t = day.replace(hour=int(h), minute=int(m), second=0, microsecond=0).timestamp() + float(x)
print('%.3f' % (t - s))" "$killed" "${line%% *}")
fi
sleep 0.2
after_mac=$(vip_mac)
echo "== the client's neighbour entry for $vip now: $after_mac"
echo "== switchyard adm --vrrp on lb2:"
lab_exec lb2 "$bin" adm --config "$LAB_DIR/lb2.conf" --vrrp | sed 's/^/   /'

echo "== waiting for the download and the short requests to finish"
dl_ok=0
wait "$download" && dl_ok=1
wait "$loop" || true
got=$(sha256sum <"$LAB_DIR/download" | cut -d' ' -f1)
served=
want=$(sha256sum <"$LAB_DIR/nginx-rs1/www/big.bin" | cut -d' ' -f1)
for rs in rs1 rs2; do
    h=$(sha256sum <"$LAB_DIR/nginx-$rs/www/big.bin" | cut -d' ' -f1)
    [ "$got" = "$h" ] && { served=$rs; want=$h; }
done
size=$(wc -c <"$LAB_DIR/download")
exact=0
[ "$dl_ok" -eq 1 ] && [ -n "$served" ] && exact=1

# Phases by each request's start: before the kill, during the takeover (up to the transition's
# log line), after it.
phase_at=$(awk -v k="$killed" -v t="${takeover:-9999}" 'BEGIN {printf "%.3f", k + t}')
count() { awk -v a="$1" -v b="$2" -v r="$3" '$1 > a && $1 <= b && $2 == r' "$LAB_DIR/requests" | wc -l; }
b_ok=$(count 0 "$killed" ok); b_fail=$(count 0 "$killed" FAILED)
d_ok=$(count "$killed" "$phase_at" ok); d_fail=$(count "$killed" "$phase_at" FAILED)
a_ok=$(count "$phase_at" 1e12 ok); a_fail=$(count "$phase_at" 1e12 FAILED)

kill -INT "${PID[lb2]}"
wait "${PID[lb2]}" || true
pass=0
[ "$exact" -eq 1 ] && [ -n "$took_over" ] && [ "$a_fail" -eq 0 ] && [ "$a_ok" -gt 0 ] && pass=1
echo "== summary"
echo "   master before: lb1 ($lb1_mac); SIGKILLed 2 s into the download"
if [ -n "$took_over" ]; then
    echo "   takeover: lb2 became MASTER ${takeover} s after the SIGKILL (its master-down interval: $down s)"
else
    echo "   takeover: lb2 did not become MASTER within 5 s"
fi
who=unknown
[ "$after_mac" = "$lb2_mac" ] && who=lb2
[ "$after_mac" = "$lb1_mac" ] && who="lb1 (the dead master)"
echo "   client's neighbour entry for $vip: $after_mac = $who"
if [ "$exact" -eq 1 ]; then
    echo "   download: $size bytes, sha256 $got, identical to $served's big.bin: byte-exact"
else
    echo "   download: $size bytes, sha256 $got; rs1's big.bin is $want: NOT byte-exact"
fi
echo "   short requests: before the kill $b_ok ok, $b_fail failed; during the takeover $d_ok ok, $d_fail failed;" \
    "after it $a_ok ok, $a_fail failed"
if [ "$pass" -eq 1 ]; then
    echo "   result: PASS (byte-exact download across the takeover, no request failed after it)"
else
    echo "   result: FAIL (wanted a byte-exact download and no failed request after the takeover)"
fi
[ "$pass" -eq 1 ]
