#!/usr/bin/env bash
# Connection sync end to end: two two-arm NAT balancers, the VIP and the real servers' gateway
# address in one vrrp_sync_group, lvs_sync_daemon on the inside segment. A backup started late
# catches up (adm -Lnc lists the master's connections); sync packets dropped by nftables are
# repaired by the master's refresh walk; the master SIGKILLed under a rate-limited download (begun
# while the backup listens), idle keep-alive connections and a persistent service: the download
# finishes byte-exact, the idle connections answer again from the same server, the persistent
# client stays with its server, no request fails after the takeover; the first master returns,
# catches up and preempts, and the connections survive that move too. Dual stack: a NAT66 service
# beside it, in two IPv6 instances of the same sync group (a link-local virtual address first),
# whose download across the SIGKILL finishes byte-exact too.
. "$(dirname "$0")/prelude.sh"
vip=198.19.30.200
gateway=198.19.31.1
vip6=2001:db8:30::200
gateway6=2001:db8:31::1

lab_init sye2e-sync
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT
lab_switch out
lab_switch in
lab_host client eth0 198.19.30.50/24 out
lab_ipv6 client eth0 2001:db8:30::50/64
for n in 1 2; do
    lab_host web$n eth0 198.19.31.2$n/24 in
    lab_ipv6 web$n eth0 2001:db8:31::2$n/64
done
# A balancer: eth0 outside (the VIP's side), eth1 inside (the real servers' gateway, and sync).
balancer() { # balancer NAME N: addresses .N and ::N on both sides
    lab_host "$1" eth0 "198.19.30.$2/24" out
    lab_ipv6 "$1" eth0 "2001:db8:30::$2/64"
    lab_exec "$1" ip link add eth1 type veth peer name "i$$${1:0:4}"
    lab_exec "$1" ip link set "i$$${1:0:4}" netns "$(lab_ns in)"
    lab_exec in ip link set "i$$${1:0:4}" name "$1" master br0 up
    lab_exec "$1" ip addr add "198.19.31.$2/24" dev eth1
    lab_ipv6 "$1" eth1 "2001:db8:31::$2/64"
    lab_exec "$1" ip link set eth1 up
}
balancer lb1 2
balancer lb2 3
# The balancers' link-local addresses (the IPv6 adverts' source) no longer tentative.
for _ in $(seq 50); do
    [ -z "$(lab_exec lb1 ip -6 addr show tentative)$(lab_exec lb2 ip -6 addr show tentative)" ] && break
    sleep 0.1
done
for rs in web1 web2; do
    lab_exec $rs env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$rs" sh "$root/scripts/realserver.sh" gateway $gateway >/dev/null
    # IPv6: web1 routes through the instance's link-local address (keepalived's usual gateway),
    # web2 through its global one.
    gw6=$gateway6
    [ $rs = web1 ] && gw6="fe80::31 dev eth0"
    # shellcheck disable=SC2086
    lab_exec $rs env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$rs" sh "$root/scripts/realserver.sh" gateway $gw6 >/dev/null
    # Idle keep-alive connections wait through the whole file (minutes under ThreadSanitizer).
    # The 4 MiB download takes about 27 s at 150k: it must still run when the master is killed
    # a few seconds after it began, also under ThreadSanitizer (checked there, not assumed).
    lab_nginx $rs $rs "listen [::]:80; listen 8080 reuseport; keepalive_timeout 600s; location /slow/ { alias $LAB_DIR/nginx-$rs/www/; limit_rate 150k; }"
done

conf() { # conf NAME STATE PRIORITY [EXTRA_INSTANCE_LINES]
    cat >"$LAB_DIR/$1.conf" <<CONF
global_defs {
    lvs_sync_daemon eth1 VI_GW id 7
    switchyard_sync_auth_key "sync secret of the e2e pair"
}
vrrp_sync_group G {
    group {
        VI_VIP
        VI_GW
        VI_VIP6
        VI_GW6
    }
}
vrrp_instance VI_VIP {
    state $2
    interface eth0
    virtual_router_id 71
    priority $3
    advert_int 0.1
    version 3
    ${4:-}
    virtual_ipaddress {
        $vip
    }
}
vrrp_instance VI_GW {
    state $2
    interface eth1
    virtual_router_id 72
    priority $3
    advert_int 0.1
    version 3
    ${4:-}
    virtual_ipaddress {
        $gateway/24
    }
}
vrrp_instance VI_VIP6 {
    state $2
    interface eth0
    virtual_router_id 71
    priority $3
    advert_int 0.1
    ${4:-}
    virtual_ipaddress {
        fe80::30/64
        $vip6
    }
}
vrrp_instance VI_GW6 {
    state $2
    interface eth1
    virtual_router_id 72
    priority $3
    advert_int 0.1
    ${4:-}
    virtual_ipaddress {
        fe80::31/64
        $gateway6/64
    }
}
virtual_server $vip6 80 {
    lb_algo rr
    lb_kind NAT
    real_server 2001:db8:31::21 80 { weight 1 }
    real_server 2001:db8:31::22 80 { weight 1 }
}
virtual_server $vip 80 {
    lb_algo rr
    lb_kind NAT
    real_server 198.19.31.21 80 { weight 1 }
    real_server 198.19.31.22 80 { weight 1 }
}
virtual_server $vip 8080 {
    lb_algo rr
    lb_kind NAT
    persistence_timeout 600
    real_server 198.19.31.21 8080 { weight 1 }
    real_server 198.19.31.22 8080 { weight 1 }
}
CONF
}
conf lb1 MASTER 150
conf lb2 BACKUP 100
declare -A PID LOG
start() { # start LB
    LOG[$1]=$LAB_DIR/$1-$RANDOM.log
    lab_bg "$1" "${LOG[$1]}" "$bin" run --config "$LAB_DIR/$1.conf" --workers 2 --sync-refresh 2 --log-level debug
    PID[$1]=$LAB_LAST_PID
    lab_wait_for "${LOG[$1]}" "ready:" 15 || { echo "$1 did not start:"; cat "${LOG[$1]}"; return 1; }
}
adm() { lab_exec "$1" "$bin" adm --config "$LAB_DIR/$1.conf" "${@:2}"; }
# established LB PORT: the client addresses of LB's ESTABLISHED entries to the VIP's PORT, sorted
established() { adm "$1" -Lnc | awk -v v="$vip:$2" '$3 == "ESTABLISHED" && $5 == v {print $4}' | sort; }
# connections LB PORT: how many
connections() { established "$1" "$2" | wc -l; }
# missing_on LB OTHER: OTHER's ESTABLISHED connections to port 80 that LB does not list
missing_on() { comm -13 <(established "$1" 80) <(established "$2" 80); }
# covers LB OTHER: until LB lists every ESTABLISHED connection OTHER lists at that moment (15 s
# at most). Compared with OTHER's list each time, not with a count taken before: the download
# may end meanwhile.
covers() {
    local deadline=$((SECONDS + 15))
    while [ $SECONDS -lt $deadline ]; do
        [ -z "$(missing_on "$1" "$2")" ] && return 0
        sleep 0.2
    done
    echo "   $1 lacks: $(missing_on "$1" "$2" | tr '\n' ' ')"
    adm "$1" --sync | tr '\n' ' ' | sed 's/^/   /'
    echo
    return 1
}
# wait_connections LB PORT N: until LB lists at least N (15 s at most: the ThreadSanitizer run is slow)
wait_connections() {
    local deadline=$((SECONDS + 15))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(connections "$1" "$2")" -ge "$3" ] && return 0
        sleep 0.1
    done
    return 1
}
sync_counter() { adm "$1" --sync | awk -v k="$2" '$1 == k {print $2}'; }
clock() { date +%s.%N; }

echo "-- the master alone, with connections: idle keep-alive connections, a persistent client"
start lb1
# The group's line comes after both members' (under ThreadSanitizer, some milliseconds after).
lab_wait_for "${LOG[lb1]}" "sync group G: BACKUP -> MASTER" 5
check "lb1 is master of all four instances" test "$(grep -c -- 'vrrp VI_[A-Z6]*: BACKUP -> MASTER' "${LOG[lb1]}")" -eq 4
check "lb1 holds the gateway address" sh -c "ip netns exec $(lab_ns lb1) ip -4 addr show dev eth1 | grep -q ' $gateway/'"
check "the VIP answers through lb1 (NAT)" test "$(lab_exec client curl -s --max-time 3 "http://$vip/" | grep -c '^web[12]$')" -eq 1
check "lb1 holds the IPv6 gateway addresses" sh -c "ip netns exec $(lab_ns lb1) ip -6 addr show dev eth1 | grep -q ' $gateway6/64' && ip netns exec $(lab_ns lb1) ip -6 addr show dev eth1 | grep -q ' fe80::31/64'"
check "the IPv6 VIP answers through lb1 (NAT66)" test "$(lab_exec client curl -s -g --max-time 3 "http://[$vip6]/" | grep -c '^web[12]$')" -eq 1
mkfifo "$LAB_DIR/go"
lab_exec client python3 "$here/idle_client.py" $vip 80 8 <"$LAB_DIR/go" >"$LAB_DIR/idle" 2>&1 &
idle=$!
exec 7>"$LAB_DIR/go"
lab_wait_for "$LAB_DIR/idle" "open" 10
sticky=$(lab_exec client curl -s --max-time 3 "http://$vip:8080/")
check "the persistent service answers ($sticky)" test -n "$sticky"
check "adm -Lnc on the master lists the idle connections (≥ 8)" wait_connections lb1 80 8
# template_to LB: the real server of the client's persistence template in LB's adm -Lnc
template_to() { adm "$1" -Lnc | awk -v v="$vip:8080" '$3 == "NONE" && $4 == "198.19.30.50:0" && $5 == v {print $6}'; }
sticky_address=198.19.31.2${sticky#web}:8080
check "adm -Lnc on the master lists the persistence template to $sticky ($(template_to lb1))" test "$(template_to lb1)" = "$sticky_address"

echo "-- a backup started late catches up"
start lb2
lab_wait_for "${LOG[lb2]}" "sync: receiving connections" 5
check "lb2 stays backup" sh -c "! grep -q -- '-> MASTER' '${LOG[lb2]}'"
check "lb2 lists every connection the master lists ($(connections lb1 80)) after its catch-up request" covers lb2 lb1
check "lb1 answered the catch-up request" grep -q "asked for every connection (catch-up" "${LOG[lb1]}"
check "lb2 lists the persistence template to $sticky ($(template_to lb2))" test "$(template_to lb2)" = "$sticky_address"
echo "   lb2 installed $(sync_counter lb2 entries_installed) entries, lb1 sent $(sync_counter lb1 entries_sent)"

echo "-- sync packets dropped on the backup: the master's refresh walk repairs them"
lab_exec lb2 nft -f - <<NFT
table inet sye2e_sync_drop {
    chain input { type filter hook input priority -10; udp dport 8848 drop; }
}
NFT
before=$(connections lb1 80)
mkfifo "$LAB_DIR/go2"
lab_exec client python3 "$here/idle_client.py" $vip 80 4 <"$LAB_DIR/go2" >"$LAB_DIR/idle2" 2>&1 &
idle2=$!
exec 8>"$LAB_DIR/go2"
lab_wait_for "$LAB_DIR/idle2" "open" 10
wait_connections lb1 80 $((before + 4))
sleep 0.5
check "while dropped, lb2 lists fewer connections than the master ($(connections lb2 80) < $(connections lb1 80))" \
    test "$(connections lb2 80)" -lt "$(connections lb1 80)"
lab_exec lb2 nft delete table inet sye2e_sync_drop
check "after the drop ends, the refresh walk (every 2 s) gives lb2 all of them" covers lb2 lb1

echo "-- SIGKILL the master under a download, the idle connections and a loop of short requests"
lab_exec client curl -s --max-time 120 -o "$LAB_DIR/dl" "http://$vip/slow/big.bin" &
dl=$!
lab_exec client curl -s -g --max-time 120 -o "$LAB_DIR/dl6" "http://[$vip6]/slow/big.bin" &
dl6=$!
wait_connections lb1 80 13
check "lb2 lists the download too" covers lb2 lb1
# established6 LB: the client addresses of LB's ESTABLISHED entries to [vip6]:80
established6() { adm "$1" -Lnc | awk -v v="[$vip6]:80" '$3 == "ESTABLISHED" && $5 == v {print $4}'; }
# Bounded in time and sparing with adm (slow under ThreadSanitizer): the downloads must still
# run when the master is killed below.
listed6=
deadline=$((SECONDS + 5))
while [ $SECONDS -lt $deadline ]; do
    listed6=$(established6 lb2)
    [ -n "$listed6" ] && break
    sleep 0.2
done
check "lb2 lists the IPv6 download, synced ($listed6)" test -n "$listed6" -a "$listed6" = "$(established6 lb1)"
[ -n "$listed6" ] ||
    { adm lb1 -Lnc | grep -F "[$vip6]" | sed 's/^/   lb1: /'; adm lb2 --sync | tr '\n' ' ' | sed 's/^/   lb2: /'; echo; }
(
    for _ in $(seq 60); do
        s=$(clock)
        if lab_exec client curl -s --max-time 2 "http://$vip/" | grep -q '^web[12]$'; then r=ok; else r=FAILED; fi
        echo "$s $r"
        sleep 0.05
    done
) >"$LAB_DIR/requests" &
loop=$!
sleep 1
check "the download still runs when the master is killed" kill -0 $dl
killed=$(clock)
kill -KILL "${PID[lb1]}"
wait "${PID[lb1]}" 2>/dev/null
lab_wait_for "${LOG[lb2]}" "VI_GW: BACKUP -> MASTER" 5
check "lb2 takes all four instances over" test "$(grep -c -- 'vrrp VI_[A-Z6]*: BACKUP -> MASTER' "${LOG[lb2]}")" -ge 4
check "lb2 now holds the gateway address" sh -c "ip netns exec $(lab_ns lb2) ip -4 addr show dev eth1 | grep -q ' $gateway/'"
check "lb2 sends connections now" lab_wait_for "${LOG[lb2]}" "sync: VI_GW is master" 3
(echo go >&7) 2>/dev/null
exec 7>&-
wait $idle
sed 's/^/   /' "$LAB_DIR/idle" | sort | uniq -c
expect "8 idle keep-alive connections answered again after the takeover, by the same server" "$(grep -c '^same ' "$LAB_DIR/idle")" -eq 8
(echo go >&8) 2>/dev/null
exec 8>&-
wait $idle2
expect "the 4 connections whose sync was dropped and repaired answered too" "$(grep -c '^same ' "$LAB_DIR/idle2")" -eq 4
wait $dl
expect "the download across the takeover finished" $? -eq 0
check "byte-exact" sh -c "cmp -s '$LAB_DIR/dl' '$LAB_DIR/nginx-web1/www/big.bin' || cmp -s '$LAB_DIR/dl' '$LAB_DIR/nginx-web2/www/big.bin'"
wait $dl6
expect "the IPv6 download across the takeover finished (NAT66)" $? -eq 0
check "byte-exact" sh -c "cmp -s '$LAB_DIR/dl6' '$LAB_DIR/nginx-web1/www/big.bin' || cmp -s '$LAB_DIR/dl6' '$LAB_DIR/nginx-web2/www/big.bin'"
wait $loop
after=$(awk -v k="$killed" '$1 > k + 1.5' "$LAB_DIR/requests")
expect "requests started 1.5 s after the kill" "$(echo "$after" | grep -c ok)" -ge 10
expect "none of them failed" "$(echo "$after" | grep -c FAILED)" -eq 0
echo "   failed during the takeover: $(awk -v k="$killed" '$1 > k && $1 <= k + 1.5' "$LAB_DIR/requests" | grep -c FAILED)"
for _ in 1 2 3 4; do lab_exec client curl -s --max-time 3 "http://$vip:8080/"; done >"$LAB_DIR/sticky"
expect "the persistent client stays with $sticky on the new master (4 of 4)" \
    "$(grep -c "^$sticky\$" "$LAB_DIR/sticky")" -eq 4

echo "-- lb1 comes back: it catches up as backup, then preempts (preempt_delay 2), and connections survive"
conf lb1 BACKUP 150 "preempt_delay 2"
lab_exec client curl -s --max-time 120 -o "$LAB_DIR/dl2" "http://$vip/slow/big.bin" &
dl2=$!
mkfifo "$LAB_DIR/go3"
lab_exec client python3 "$here/idle_client.py" $vip 80 4 <"$LAB_DIR/go3" >"$LAB_DIR/idle3" 2>&1 &
idle3=$!
exec 9>"$LAB_DIR/go3"
lab_wait_for "$LAB_DIR/idle3" "open" 10
start lb1
check "lb1 catches up from lb2 before it preempts ($(connections lb2 80) connections)" covers lb1 lb2
# masters LB: how many of its instances went master (two: the sync group moves together)
masters() { grep -c 'vrrp VI_[A-Z6]*: BACKUP -> MASTER' "${LOG[$1]}"; }
for _ in $(seq 60); do [ "$(masters lb1)" -ge 4 ] && break; sleep 0.1; done
grep -- '-> MASTER' "${LOG[lb1]}" | cut -d' ' -f4- | sed 's/^/   lb1: /'
check "lb1 preempts: all four instances master ($(masters lb1))" test "$(masters lb1)" -eq 4
# line LOG PATTERN: the number of the first line of LOG that matches
line() { grep -n -m1 -- "$2" "$1" | cut -d: -f1; }
caught=$(line "${LOG[lb1]}" "sync: caught up")
preempted=$(line "${LOG[lb1]}" "VI_GW: BACKUP -> MASTER")
check "lb1 held its preemption until the catch-up was answered (log lines ${caught:-none} < ${preempted:-none})" \
    test "${caught:-999999}" -lt "${preempted:-0}"
check "the restarted lb1 removed the gateway address its killed run left" grep -q "removed $gateway/24 from eth1, left by an earlier run" "${LOG[lb1]}"
check "and the IPv6 ones" sh -c "grep -q 'removed $gateway6/64 from eth1, left' '${LOG[lb1]}' && grep -q 'removed fe80::31/64 from eth1, left' '${LOG[lb1]}'"
lab_wait_for "${LOG[lb2]}" "VI_GW: MASTER -> BACKUP" 5
check "lb2 steps down" grep -q "VI_GW: MASTER -> BACKUP" "${LOG[lb2]}"
sleep 0.5
(echo go >&9) 2>/dev/null
exec 9>&-
wait $idle3
expect "4 idle connections answered again after the preemption, by the same server" "$(grep -c '^same ' "$LAB_DIR/idle3")" -eq 4
wait $dl2
expect "a download across the preemption finished" $? -eq 0
check "byte-exact" sh -c "cmp -s '$LAB_DIR/dl2' '$LAB_DIR/nginx-web1/www/big.bin' || cmp -s '$LAB_DIR/dl2' '$LAB_DIR/nginx-web2/www/big.bin'"
check "no authentication failures or replays on either side" \
    test "$(sync_counter lb1 unauthenticated)$(sync_counter lb1 replayed)$(sync_counter lb2 unauthenticated)" = 000
for lb in lb1 lb2; do
    kill -TERM "${PID[$lb]}"
    wait "${PID[$lb]}"
    expect "$lb exits 0" $? -eq 0
done
[ "$E2E_FAILED" -eq 0 ]
