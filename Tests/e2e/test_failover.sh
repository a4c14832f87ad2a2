#!/usr/bin/env bash
# VRRP failover end to end: two balancers (DR) in front of two nginx real servers, one
# vrrp_instance holding the VIP (version 3, advert_int 0.1). One master at a time, the client's
# ARP entry for the VIP follows it; the master SIGKILLed under a rate-limited download and a
# loop of short requests: the backup takes over, the download finishes byte-exact (Maglev sends
# the flow to the same real server), requests after the takeover succeed; the first master comes
# back and preempts; a graceful stop hands over with priority 0.
. "$(dirname "$0")/prelude.sh"
vip=198.19.10.200

lab_init sye2e-ha
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT
lab_switch
lab_host client eth0 198.19.10.50/24
lab_host lb1 eth0 198.19.10.2/24
lab_host lb2 eth0 198.19.10.3/24
lab_host web1 eth0 198.19.10.21/24
lab_host web2 eth0 198.19.10.22/24
for rs in web1 web2; do
    lab_exec $rs env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$rs" sh "$root/scripts/realserver.sh" up $vip >/dev/null
    lab_nginx $rs $rs "location /slow/ { alias $LAB_DIR/nginx-$rs/www/; limit_rate 512k; }"
done

conf() { # conf NAME STATE PRIORITY
    cat >"$LAB_DIR/$1.conf" <<CONF
vrrp_script chk_ok {
    script "test -e $LAB_DIR/$1-ok"
    interval 1
    weight -60
}
vrrp_instance VI_1 {
    state $2
    interface eth0
    virtual_router_id 51
    priority $3
    advert_int 0.1
    version 3
    virtual_ipaddress {
        $vip
    }
    track_script {
        chk_ok
    }
}
virtual_server $vip 80 {
    lb_algo mh
    lb_kind DR
    real_server 198.19.10.21 80 { weight 1 }
    real_server 198.19.10.22 80 { weight 1 }
}
CONF
}
conf lb1 MASTER 150
conf lb2 BACKUP 100
touch "$LAB_DIR/lb1-ok" "$LAB_DIR/lb2-ok"
declare -A PID LOG
start() { # start LB: a balancer in the background, waiting for "ready:"
    LOG[$1]=$LAB_DIR/$1-$RANDOM.log
    lab_bg "$1" "${LOG[$1]}" "$bin" run --config "$LAB_DIR/$1.conf" --workers 1
    PID[$1]=$LAB_LAST_PID
    lab_wait_for "${LOG[$1]}" "ready:" 15 || { echo "$1 did not start:"; cat "${LOG[$1]}"; return 1; }
}
mac_of() { lab_exec "$1" cat /sys/class/net/eth0/address; }
vip_mac() { lab_exec client ip neigh show "$vip" dev eth0 | awk '{print $3}'; }
clock() { date +%s.%N; }
# seconds from a clock() reading to the time of the first log line matching PATTERN (HH:MM:SS.mmm, UTC)
since() { # since START LOG PATTERN
    local t
    t=$(grep -m1 "$3" "$2" | cut -d' ' -f1) || return 1
    [ -n "$t" ] || return 1
    python3 -c "import sys,datetime as d; s=float(sys.argv[1]); day=d.datetime.fromtimestamp(s, d.timezone.utc).date(); \
h,m,x=sys.argv[2].split(':'); t=d.datetime(day.year,day.month,day.day,int(h),int(m),tzinfo=d.timezone.utc).timestamp()+float(x); print('%.3f' % (t-s))" "$1" "$t"
}

start lb1
start lb2
lab_wait_for "${LOG[lb1]}" "VI_1: BACKUP -> MASTER" 5
check "lb1 (priority 150) becomes master" grep -q "VI_1: BACKUP -> MASTER" "${LOG[lb1]}"
sleep 0.5
check "lb2 (priority 100) stays backup" sh -c "! grep -q -- '-> MASTER' '${LOG[lb2]}'"
check "the VIP answers through the master" test "$(lab_exec client curl -s --max-time 3 "http://$vip/" | grep -c '^web[12]$')" -eq 1
check "the client's ARP entry for the VIP is lb1's MAC" test "$(vip_mac)" = "$(mac_of lb1)"
vrrp_row() { lab_exec "$1" "$bin" adm --config "$LAB_DIR/$1.conf" --vrrp | awk '$1 == "VI_1" {print $4, $5, $6, $7}'; }
check "adm --vrrp on lb1: $(vrrp_row lb1)" test "$(vrrp_row lb1)" = "MASTER 150 198.19.10.2 (150)"
check "adm --vrrp on lb2: $(vrrp_row lb2)" test "$(vrrp_row lb2)" = "BACKUP 100 198.19.10.2 (150)"
vrrp_metric() { lab_exec "$1" "$bin" adm --config "$LAB_DIR/$1.conf" --metrics | sed -n 's/^switchyard_vrrp_state{instance="VI_1",.*,state="\([A-Z]*\)"} 1$/\1/p'; }
check "adm --metrics: lb1's VI_1 is MASTER, lb2's BACKUP" test "$(vrrp_metric lb1) $(vrrp_metric lb2)" = "MASTER BACKUP"

echo "-- SIGKILL the master under a download and a loop of short requests"
lab_exec client curl -s --max-time 60 -o "$LAB_DIR/dl" "http://$vip/slow/big.bin" &
dl=$!
(
    for _ in $(seq 80); do
        s=$(clock)
        if lab_exec client curl -s --max-time 2 "http://$vip/" | grep -q '^web[12]$'; then r=ok; else r=FAILED; fi
        echo "$s $r"
        sleep 0.05
    done
) >"$LAB_DIR/requests" &
loop=$!
sleep 2
killed=$(clock)
kill -KILL "${PID[lb1]}"
wait "${PID[lb1]}" 2>/dev/null
lab_wait_for "${LOG[lb2]}" "VI_1: BACKUP -> MASTER" 5
check "lb2 takes over: $(grep -m1 'VI_1: BACKUP -> MASTER' "${LOG[lb2]}" | cut -d' ' -f4-)" \
    grep -q "VI_1: BACKUP -> MASTER (no advert from the master" "${LOG[lb2]}"
echo "   takeover logged $(since "$killed" "${LOG[lb2]}" "VI_1: BACKUP -> MASTER") s after the SIGKILL (down interval 0.36 s)"
wait $dl
expect "the download across the takeover finished" $? -eq 0
check "byte-exact" sh -c "cmp -s '$LAB_DIR/dl' '$LAB_DIR/nginx-web1/www/big.bin' || cmp -s '$LAB_DIR/dl' '$LAB_DIR/nginx-web2/www/big.bin'"
wait $loop
after=$(awk -v k="$killed" '$1 > k + 1.5' "$LAB_DIR/requests")
expect "requests started 1.5 s after the kill" "$(echo "$after" | grep -c ok)" -ge 10
expect "none of them failed" "$(echo "$after" | grep -c FAILED)" -eq 0
echo "   failed during the takeover: $(awk -v k="$killed" '$1 > k && $1 <= k + 1.5' "$LAB_DIR/requests" | grep -c FAILED)"
check "the client's ARP entry for the VIP is now lb2's MAC" test "$(vip_mac)" = "$(mac_of lb2)"

echo "-- lb1 comes back: it preempts (higher priority, preempt on)"
start lb1
lab_wait_for "${LOG[lb1]}" "VI_1: BACKUP -> MASTER" 5
check "lb1 is master again" grep -q "VI_1: BACKUP -> MASTER (preempting a lower-priority master)" "${LOG[lb1]}"
lab_wait_for "${LOG[lb2]}" "VI_1: MASTER -> BACKUP" 5
check "lb2 steps down: $(grep -m1 'VI_1: MASTER -> BACKUP' "${LOG[lb2]}" | cut -d' ' -f4-)" grep -q "VI_1: MASTER -> BACKUP" "${LOG[lb2]}"
# arp_moves_to LB: until the client's entry for the VIP is LB's MAC (5 s at most: the gratuitous
# ARP comes with the transition, later under ThreadSanitizer on a slow machine).
arp_moves_to() {
    local deadline=$((SECONDS + 5))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(vip_mac)" = "$(mac_of "$1")" ] && return 0
        sleep 0.1
    done
    return 1
}
check "the client's ARP entry is lb1's again" arp_moves_to lb1
check "the VIP answers" test "$(lab_exec client curl -s --max-time 3 "http://$vip/" | grep -c '^web[12]$')" -eq 1

echo "-- a tracked vrrp_script fails on the master (weight -60: 150 -> 90, below lb2's 100)"
rm "$LAB_DIR/lb1-ok"
lab_wait_for "${LOG[lb1]}" "VI_1: priority 150 -> 90" 5
check "lb1 says its priority dropped" grep -q "VI_1: priority 150 -> 90" "${LOG[lb1]}"
lab_wait_for "${LOG[lb2]}" "VI_1: BACKUP -> MASTER (preempting" 5
check "lb2 preempts the weaker master" grep -q "VI_1: BACKUP -> MASTER (preempting a lower-priority master)" "${LOG[lb2]}"
check "the client's ARP entry moves to lb2" arp_moves_to lb2
check "the VIP answers through lb2" test "$(lab_exec client curl -s --max-time 3 "http://$vip/" | grep -c '^web[12]$')" -eq 1
touch "$LAB_DIR/lb1-ok"
lab_wait_for "${LOG[lb1]}" "VI_1: priority 90 -> 150" 5
sleep 1
check "the script recovers and lb1 takes the VIP back" test "$(grep -c 'VI_1: BACKUP -> MASTER' "${LOG[lb1]}")" -ge 2
check "the client's ARP entry is lb1's" test "$(vip_mac)" = "$(mac_of lb1)"

echo "-- a graceful stop hands over with priority 0"
stopped=$(clock)
kill -TERM "${PID[lb1]}"
wait "${PID[lb1]}"
expect "lb1 exits 0" $? -eq 0
check "lb1 said it was stopping" grep -q "VI_1: MASTER -> STOP (shutting down)" "${LOG[lb1]}"
lab_wait_for "${LOG[lb2]}" "the master gave up (priority 0)" 5
check "lb2 takes over at once (the master gave up)" grep -q "VI_1: BACKUP -> MASTER (the master gave up (priority 0))" "${LOG[lb2]}"
echo "   handover logged $(since "$stopped" "${LOG[lb2]}" "the master gave up") s after the SIGTERM"
check "the VIP answers through lb2" test "$(lab_exec client curl -s --max-time 3 "http://$vip/" | grep -c '^web[12]$')" -eq 1
kill -TERM "${PID[lb2]}"
wait "${PID[lb2]}"
expect "lb2 exits 0" $? -eq 0
[ "$E2E_FAILED" -eq 0 ]
