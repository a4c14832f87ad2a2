#!/usr/bin/env bash
# The daemon as systemd runs it: sd_notify (READY=1 only once it forwards, RELOADING=1 and
# READY=1 around a reload, STATUS=, watchdog pings at the rate WATCHDOG_USEC asks, STOPPING=1
# on SIGTERM) to a socket this test listens on, and only the capabilities the unit's
# CapabilityBoundingSet grants (setpriv drops the rest), with DR still forwarding.
# (test_package runs `systemd-analyze verify` on the units as installed.)
. "$(dirname "$0")/prelude.sh"

lab_init sye2e-sd
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT
vip=198.18.58.100
lab_switch
lab_host client eth0 198.18.58.10/24
lab_host lb eth0 198.18.58.2/24
for n in 1 2; do
    lab_host web$n eth0 198.18.58.2$n/24
    lab_exec web$n env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$n" sh "$root/scripts/realserver.sh" up $vip >/dev/null
    lab_nginx web$n web$n
done
conf=$LAB_DIR/switchyard.conf
cat >"$conf" <<CONF
virtual_server $vip 80 {
    lb_algo rr
    lb_kind DR
    real_server 198.18.58.21 80 {
        weight 1
    }
    real_server 198.18.58.22 80 {
        weight 1
    }
}
CONF

unit=$root/packaging/switchyard.service
# The unit's CapabilityBoundingSet in setpriv's words: -all,+net_raw,+net_admin,…
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ /,+/g; s/^/-all,+/')
echo "-- started with the unit's capabilities only ($caps) and a notification socket"
sock=$LAB_DIR/notify.sock
log=$LAB_DIR/notify.log
: >"$log"
/usr/bin/python3 "$here/notify_listener.py" "$sock" "$log" --seconds 90 &
listener=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
control=$LAB_DIR/control.sock
lab_bg lb "$LAB_DIR/lb.log" env NOTIFY_SOCKET="$sock" WATCHDOG_USEC=2000000 \
    setpriv --bounding-set "$caps" --inh-caps -all "$bin" run --config "$conf" --control "$control" --workers 1
lb_pid=$LAB_LAST_PID
ready=""
for _ in $(seq 150); do
    ready=$(grep -m1 ' READY=1' "$log")
    [ -n "$ready" ] && break
    sleep 0.1
done
# The first request right after READY=1, with no retry: the workers already forward.
first=$(lab_exec client curl -s --max-time 3 "http://$vip/")
check "READY=1 arrived: $ready" test -n "$ready"
check "and the first request after it is answered ($first)" grep -Eq '^web[12]$' <<<"$first"
check "READY=1 came after the log's ready line" grep -q "ready:" "$LAB_DIR/lb.log"
check "STATUS= says the services and real servers" grep -q "STATUS=1 virtual service, 2 of 2 real servers taking new flows" "$log"
pid=$(pgrep -f "run --config $conf" | head -n 1)
eff=$(sed -n 's/^CapEff:\t//p' "/proc/$pid/status")
have=$(capsh --decode="$eff" | sed 's/.*=//' | tr ',' '\n' | sort | tr '\n' ' ')
want=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z' 'a-z' | tr ' ' '\n' | sort | tr '\n' ' ')
check "its effective capabilities are the unit's ($have)" test "$have" = "$want"
guard=$(grep -m1 "kernel guard: .*tcx program" "$LAB_DIR/lb.log")
check "the tcx guard loaded with CAP_BPF alone, or is missing for a reason other than permission: $guard" \
    bash -c "grep -q 'a tcx program on' <<<\"\$1\" || ! grep -qi 'permitted\|permission' <<<\"\$1\"" _ "$guard"
answers=$(for _ in $(seq 20); do lab_exec client curl -s --max-time 3 "http://$vip/"; echo; done)
expect "DR forwards with these capabilities: 20 of 20 answered" "$(grep -c '^web[12]$' <<<"$answers")" -eq 20
check "both real servers answered" test "$(sort -u <<<"$answers" | grep -c '^web[12]$')" = 2

echo "-- the watchdog: a ping every WATCHDOG_USEC / 2 (1 s)"
start=$(awk '{t = $1} END {print t}' "$log")
sleep 5
pings=$(awk -v s="$start" '$1 > s && / WATCHDOG=1/' "$log" | wc -l)
expect "pings in 5 s: at least 3" "$pings" -ge 3
expect "and not more than 7" "$pings" -le 7

echo "-- a reload: RELOADING=1, then READY=1"
mark=$(awk '{t = $1} END {print t}' "$log")
lab_exec lb "$bin" adm --control "$control" --reload >/dev/null
check "adm --reload took" test $? -eq 0
sleep 0.3
after=$(awk -v s="$mark" '$1 > s && !/WATCHDOG=1/ {print $2}' "$log" | tr '\n' ' ')
check "RELOADING=1 with MONOTONIC_USEC, then READY=1 ($after)" grep -Eq '^RELOADING=1\|MONOTONIC_USEC=[0-9]+ READY=1' <<<"$after"

echo "-- SIGTERM: STOPPING=1"
kill -TERM "$lb_pid"
for _ in $(seq 100); do kill -0 "$lb_pid" 2>/dev/null || break; sleep 0.1; done
check "STOPPING=1 arrived" grep -q ' STOPPING=1' "$log"
check "the daemon stopped cleanly" grep -q "stopped; totals" "$LAB_DIR/lb.log"
kill "$listener" 2>/dev/null
wait "$listener" 2>/dev/null

