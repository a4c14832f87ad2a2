#!/usr/bin/env bash
# The engine's lifecycle on the machine: a run killed with SIGKILL leaves its guard table and
# GRO setting (--no-gro) behind; the next start of the same config finds them, undoes them and
# says so; a second start while one runs is refused without touching the first; a clean stop
# leaves nothing behind; by default GRO is left as it is.
. "$(dirname "$0")/prelude.sh"
vip=198.19.9.200

lab_init sye2e-life
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT
lab_switch
lab_host client eth0 198.19.9.50/24
lab_host lb eth0 198.19.9.2/24
lab_host web1 eth0 198.19.9.21/24
lab_exec web1 sh "$root/scripts/realserver.sh" up $vip >/dev/null
lab_nginx web1 web1
# GRO on where the engine runs, so turning it off (--no-gro) is a change the engine must undo.
lab_exec lb ethtool -K eth0 gro on
gro() { lab_exec lb ethtool -k eth0 | awk '/^generic-receive-offload:/ {print $2}'; }
check "GRO starts on" test "$(gro)" = on

cat >"$LAB_DIR/life.conf" <<CONF
virtual_server $vip 80 {
    lb_kind DR
    lb_algo rr
    real_server 198.19.9.21 80 { weight 1 }
}
CONF
start() { # start LOG [ARGS...]: a balancer in the background, waiting for "ready:"
    LB_LOG=$1
    lab_bg lb "$LB_LOG" "$bin" run --config "$LAB_DIR/life.conf" --workers 1 "${@:2}"
    LB_PID=$LAB_LAST_PID
    lab_wait_for "$LB_LOG" "ready:" 15 || { echo "balancer did not start:"; cat "$LB_LOG"; return 1; }
}
guard_tables() { lab_exec lb nft list tables | grep -c switchyard; }

start "$LAB_DIR/first.log" --no-gro
check "the first run serves the VIP" test "$(lab_exec client curl -s --max-time 3 "http://$vip/")" = web1
check "and turned GRO off (--no-gro)" test "$(gro)" = off

echo "-- a second start of the same config while the first runs"
timeout 20 ip netns exec "$(lab_ns lb)" "$bin" run --config "$LAB_DIR/life.conf" --workers 1 >"$LAB_DIR/again.log" 2>&1
expect "is refused" $? -eq 1
check "and says which run has it: $(tail -n 1 "$LAB_DIR/again.log")" grep -q "switchyard pid $LB_PID is running this config already" "$LAB_DIR/again.log"
check "the first run still serves the VIP" test "$(lab_exec client curl -s --max-time 3 "http://$vip/")" = web1
expect "its guard table is still there" "$(guard_tables)" -eq 1

echo "-- SIGKILL, then start again"
kill -KILL "$LB_PID"
wait "$LB_PID" 2>/dev/null
expect "a killed run leaves its guard table" "$(guard_tables)" -eq 1
check "and GRO off" test "$(gro)" = off
start "$LAB_DIR/second.log" --log-level debug --no-gro
check "the next start says what it undid" grep -q "an earlier run of this config (pid [0-9]*) did not stop cleanly: removed its kernel guard table netdev switchyard_eth0; turned GRO back on for eth0" "$LB_LOG"
expect "one guard table, the new run's" "$(guard_tables)" -eq 1
check "the VIP is served again" test "$(lab_exec client curl -s --max-time 3 "http://$vip/")" = web1

echo "-- one client's packets traced (adm --trace, logged at debug level)"
lab_exec lb "$bin" adm --config "$LAB_DIR/life.conf" --trace 198.19.9.50 >"$LAB_DIR/trace.out"
check "adm --trace names the client: $(cut -c1-60 "$LAB_DIR/trace.out")" grep -q "^tracing 198.19.9.50: " "$LAB_DIR/trace.out"
lab_exec client curl -s --max-time 3 -o /dev/null "http://$vip/"
lab_exec lb "$bin" adm --config "$LAB_DIR/life.conf" --trace off >/dev/null
sleep 1.5
trace_line="trace worker 0: TCP 198.19.9.50:[0-9]* > $vip:80: new flow, scheduled to 198.19.9.21:80 (DR), SYN_RECV; sent out of eth0"
check "the SYN: a new flow, the real server picked, the state, the interface" grep -q "$trace_line" "$LB_LOG"
check "the next packets: flow hits to the same real server" grep -q "trace worker 0: TCP 198.19.9.50:[0-9]* > $vip:80: flow hit, to 198.19.9.21:80 (DR), ESTABLISHED" "$LB_LOG"

echo "-- a clean stop"
kill -TERM "$LB_PID"
wait "$LB_PID"
expect "exits 0" $? -eq 0
expect "no guard table is left" "$(guard_tables)" -eq 0
check "GRO is on again, as it was found" test "$(gro)" = on
start "$LAB_DIR/third.log" --busy-poll 200
check "a start after a clean stop finds nothing to undo" sh -c "! grep -q 'did not stop cleanly\|that an earlier run left' '$LB_LOG'"
check "by default GRO is left on: super-packets are forwarded whole" test "$(gro)" = on
check "the VIP is served with GRO on, busy-polling (--busy-poll 200)" test "$(lab_exec client curl -s --max-time 3 "http://$vip/")" = web1
check "the start line says so" grep -q "; busy-polling 200 µs after the last frame" "$LB_LOG"
kill -TERM "$LB_PID"
wait "$LB_PID"
[ "$E2E_FAILED" -eq 0 ]
