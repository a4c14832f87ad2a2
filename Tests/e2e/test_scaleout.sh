#!/usr/bin/env bash
# ECMP scale-out with BIRD 2 (issue 21): three DR balancers (mh, health-checked) each keep the
# VIP's route in kernel table 100 (proto 83) while they can serve it; a BIRD beside each learns
# it from that table and announces it by eBGP to a router whose BIRD merges the three paths into
# one ECMP route (L4 hash). Checks: three next hops, traffic over all three, both real servers;
# the same Maglev fingerprint everywhere; a balancer whose health checks fail is withdrawn
# (timed) and comes back; SIGTERM withdraws the route before the process exits, and 100
# downloads across it finish byte-exact on their real servers; a switchyard SIGKILLed and a
# balancer losing power: how long the router keeps the dead next hop and what the downloads
# suffered (reported, not asserted). A route another program keeps in table 100 is left alone.
. "$(dirname "$0")/prelude.sh"
vip=198.19.21.100
net=198.18.21  # the balancers' and real servers' segment (router .1, lb1-3 .11-.13, web1-2 .21-.22)
cnet=198.18.22 # the client's segment (router .1, client .2 and .100-.131)
delay_loop=1 connect_timeout=1 retry=0 drain=3

lab_init sye2e-so
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT
nsx() { ip -n "$(lab_ns "$1")" "${@:2}"; }
lab_switch
lab_switch csw
lab_host router eth0 $net.1/24
nsx router link add eth1 type veth peer name router netns "$(lab_ns csw)"
nsx csw link set router master br0 up
nsx router addr add $cnet.1/24 dev eth1
nsx router link set eth1 up
lab_exec router sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1
lab_host client eth0 $cnet.2/24 csw
for k in $(seq 100 131); do nsx client addr add $cnet.$k/24 dev eth0; done
nsx client route add default via $cnet.1
for i in 1 2 3; do
    lab_host lb$i eth0 $net.1$i/24
    nsx lb$i route add default via $net.1
done
for i in 1 2; do
    lab_host web$i eth0 $net.2$i/24
    nsx web$i route add default via $net.1 # replies go straight to the client, past the balancers
    lab_exec web$i env SWITCHYARD_STATE_DIR="$LAB_DIR/state-web$i" sh "$root/scripts/realserver.sh" up $vip >/dev/null
    lab_nginx web$i web$i "location /dl/ { alias $LAB_DIR/nginx-web$i/www/; limit_rate 330k; }"
    # A file of its own on each: a download's bytes say which real server sent them.
    head -c 2097152 /dev/urandom >"$LAB_DIR/nginx-web$i/www/dl.bin"
    sha[$i]=$(sha256sum <"$LAB_DIR/nginx-web$i/www/dl.bin" | cut -d' ' -f1)
done

# BIRD: the router merges the balancers' eBGP paths into one kernel route; each balancer's BIRD
# learns table 100 and exports only the routes whose kernel protocol is 83 (switchyard's).
timers="hold time 3; keepalive time 1; connect delay time 1; connect retry time 1; error wait time 1, 2;"
cat >"$LAB_DIR/bird-router.conf" <<CONF
log stderr all;
router id $net.1;
protocol device { }
protocol kernel { merge paths on; ipv4 { import none; export all; }; }
template bgp lb { local $net.1 as 65000; $timers ipv4 { import all; export none; }; }
protocol bgp lb1 from lb { neighbor $net.11 as 65001; }
protocol bgp lb2 from lb { neighbor $net.12 as 65002; }
protocol bgp lb3 from lb { neighbor $net.13 as 65003; }
CONF
for i in 1 2 3; do
    cat >"$LAB_DIR/bird-lb$i.conf" <<CONF
log stderr all;
router id $net.1$i;
protocol device { }
ipv4 table vips;
protocol kernel { kernel table 100; learn; scan time 2; ipv4 { table vips; import all; export none; }; }
protocol bgp uplink {
    local $net.1$i as 6500$i; neighbor $net.1 as 65000; $timers
    ipv4 { table vips; import none; export where krt_source = 83; next hop self; };
}
CONF
done
declare -A PID LOG
for h in router lb1 lb2 lb3; do
    lab_bg $h "$LAB_DIR/bird-$h.log" bird -f -c "$LAB_DIR/bird-$h.conf" -s "$LAB_DIR/bird-$h.ctl" -P "$LAB_DIR/bird-$h.pid"
done

cat >"$LAB_DIR/lb.conf" <<CONF
global_defs {
    switchyard_announce_table 100
    switchyard_announce_drain $drain
}
virtual_server $vip 80 {
    lb_algo mh
    lb_kind DR
    protocol TCP
    delay_loop $delay_loop
$(for i in 1 2; do printf '    real_server %s 80 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout %s\n            retry %s\n        }\n    }\n' $net.2$i $connect_timeout $retry; done)
}
CONF
# The same config for all, in a file each: one host keeps one run record per config path.
for i in 1 2 3; do cp "$LAB_DIR/lb.conf" "$LAB_DIR/lb$i.conf"; done
start() { # start LB: its switchyard in the background (not waited for)
    LOG[$1]=$LAB_DIR/$1-$RANDOM.log
    lab_bg "$1" "${LOG[$1]}" "$bin" run --config "$LAB_DIR/$1.conf" --control "$LAB_DIR/$1.sock" \
        --interface eth0 --workers 1 --busy-poll 0
    PID[$1]=$LAB_LAST_PID
}
ready() { lab_wait_for "${LOG[$1]}" "ready:" 15 || { echo "$1 did not start:"; cat "${LOG[$1]}"; return 1; }; }
adm() { lab_exec "$1" "$bin" adm --control "$LAB_DIR/$1.sock" "${@:2}"; }
conns() { adm "$1" --metrics | awk '/^switchyard_real_server_connections_total\{/ {s += $2} END {print s + 0}'; }
alive() { [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)" != Z ]; }
now() { date +%s%3N; }
route() { nsx router route show $vip; }
hops() { # next hops of the router's route to the VIP
    local r
    r=$(route)
    if grep -q nexthop <<<"$r"; then grep -c 'nexthop via' <<<"$r"; elif [ -n "$r" ]; then echo 1; else echo 0; fi
}
hops_of() { route | grep -o 'via [0-9.]*' | cut -d' ' -f2 | sort | tr '\n' ' '; }
wait_hops() { # wait_hops N SECONDS: until the router's route has N next hops
    local deadline=$(($(now) + $2 * 1000))
    while [ "$(now)" -lt $deadline ]; do [ "$(hops)" -eq "$1" ] && return 0; sleep 0.05; done
    return 1
}
table100() { nsx "$1" route show table 100 proto 83 2>/dev/null | sed 's/ *$//'; }
announced() { adm "$1" --metrics | sed -n "s/^switchyard_vip_announced{vip=\"$vip\"} //p"; }

for i in 1 2 3; do start lb$i; done
for i in 1 2 3; do ready lb$i || exit 1; done
wait_hops 3 20

echo "-- three balancers announce the VIP: one ECMP route"
route | sed 's/^/   /'
expect "the router's route to the VIP has three next hops" "$(hops)" -eq 3
check "one per balancer: $(hops_of)" test "$(hops_of)" = "$net.11 $net.12 $net.13 "
for i in 1 2 3; do
    check "lb$i keeps the VIP's route in table 100, proto 83: '$(table100 lb$i)'" grep -q "^$vip dev " <<<"$(table100 lb$i)"
done
check "adm --metrics says so on each: switchyard_vip_announced 1" test "$(announced lb1)$(announced lb2)$(announced lb3)" = 111
check "the router learned it by BGP from each (birdc)" \
    test "$(lab_exec router birdc -s "$LAB_DIR/bird-router.ctl" show route $vip/32 all | grep -c 'BGP.as_path: 6500[123]')" -eq 3
lab_exec client bash -c "for k in \$(seq 100 131); do for r in 1 2; do curl -s --max-time 3 --interface $cnet.\$k http://$vip/ || echo FAILED; done; done" >"$LAB_DIR/answers"
expect "64 requests from 32 client addresses answered" "$(grep -c '^web[12]$' "$LAB_DIR/answers")" -eq 64
expect "web1 answered some" "$(grep -cx web1 "$LAB_DIR/answers")" -gt 0
expect "web2 answered some" "$(grep -cx web2 "$LAB_DIR/answers")" -gt 0
total=0
for i in 1 2 3; do
    c[$i]=$(conns lb$i)
    total=$((total + c[i]))
    expect "lb$i scheduled some of them (adm --metrics connections)" "${c[$i]}" -gt 0
done
expect "together exactly the 64 (each connection through one balancer)" "$total" -eq 64

echo "-- adm --fingerprint: the same Maglev table on every balancer"
fp=$(adm lb1 --fingerprint)
echo "$fp" | sed 's/^/   /'
check "lb1 prints one for the VIP's service" grep -q "$vip:80" <<<"$fp"
check "lb2 prints the same" test "$(adm lb2 --fingerprint)" = "$fp"
check "lb3 prints the same" test "$(adm lb3 --fingerprint)" = "$fp"

echo "-- health-gated: lb3's checks fail for both real servers"
# bound: delay_loop + connect_timeout + retry × (delay_before_retry (= delay_loop) + connect_timeout)
bound_ms=$(((delay_loop + connect_timeout + retry * (delay_loop + connect_timeout)) * 1000))
t0=$(now)
for w in web1 web2; do
    lab_exec $w nft -f - <<<"table inet syt { chain in { type filter hook input priority 0; ip saddr $net.13 tcp dport 80 drop; }; }"
done
wait_hops 2 15
withdrawn_ms=$(($(now) - t0))
echo "   lb3's route withdrawn at the router $withdrawn_ms ms after the rule"
check "the router's next hops are lb1's and lb2's: $(hops_of)" test "$(hops_of)" = "$net.11 $net.12 "
expect "within the checks' bound ($bound_ms ms) plus 3 s for BGP (ms)" "$withdrawn_ms" -le $((bound_ms + 3000))
check "lb3's table 100 has no route to the VIP" test -z "$(table100 lb3)"
expect "adm --metrics on lb3: switchyard_vip_announced" "$(announced lb3)" -eq 0
check "lb1 and lb2 still have theirs" test -n "$(table100 lb1)" -a -n "$(table100 lb2)"
out=$(lab_exec client bash -c "for k in \$(seq 100 119); do curl -s --max-time 3 --interface $cnet.\$k http://$vip/; done")
expect "the VIP still answers 20 requests" "$(grep -c '^web[12]$' <<<"$out")" -eq 20
t0=$(now)
for w in web1 web2; do lab_exec $w nft delete table inet syt; done
wait_hops 3 15
echo "   lb3's route back at the router $(($(now) - t0)) ms after the rule went"
check "the rule removed, the route comes back: $(hops_of)" test "$(hops_of)" = "$net.11 $net.12 $net.13 "

# downloads TAG: 100 downloads of dl.bin at once from the 32 client addresses (each ~6.3 s at
# nginx's 330 KiB/s), in the background; a line each in $LAB_DIR/TAG/results:
# index curl-status local-address:port start-ms end-ms
downloads() {
    mkdir -p "$LAB_DIR/$1"
    cat >"$LAB_DIR/$1/run.sh" <<SCRIPT
for k in \$(seq 0 99); do
    (s=\$(date +%s%3N); a=\$(curl -s --max-time 40 --interface $cnet.\$((100 + k % 32)) -w '%{local_ip}:%{local_port}' \
        -o "$LAB_DIR/$1/\$k" "http://$vip/dl/dl.bin"); echo "\$k \$? \$a \$s \$(date +%s%3N)" >>"$LAB_DIR/$1/results") &
    sleep 0.01
done
wait
SCRIPT
    for w in web1 web2; do : >"$(lab_nginx_log $w)"; done
    lab_bg client "$LAB_DIR/$1/out" bash "$LAB_DIR/$1/run.sh"
    DL_PID=$LAB_LAST_PID
}
# spread NAME: every balancer took some of the 100 new connections (connections since BEFORE_i;
# waits up to 4 s for the 100 to start)
spread() {
    local i n sum=0 said="" deadline=$(($(now) + 4000))
    while [ "$(now)" -lt $deadline ]; do
        sum=0
        for i in 1 2 3; do sum=$((sum + $(conns lb$i) - before[i])); done
        [ $sum -ge 100 ] && break
        sleep 0.2
    done
    sum=0
    for i in 1 2 3; do
        n=$(($(conns lb$i) - before[i]))
        sum=$((sum + n))
        said="$said lb$i:$n"
        [ "$n" -gt 0 ] || said="$said(none!)"
    done
    check "$1: the 100 downloads spread over the three balancers:$said" sh -c "! echo '$said' | grep -q none"
    expect "$1: all 100 connections were scheduled" "$sum" -eq 100
}
# verify TAG: results of a download set: counts of complete, byte-exact downloads per real server
verify() {
    local d=$LAB_DIR/$1 k s
    n1=0 n2=0
    for k in $(seq 0 99); do
        s=$(sha256sum 2>/dev/null <"$d/$k" | cut -d' ' -f1)
        if [ "$s" = "${sha[1]}" ]; then n1=$((n1 + 1)); elif [ "$s" = "${sha[2]}" ]; then n2=$((n2 + 1)); fi
    done
    exact=$((n1 + n2))
    failed=$(awk '$2 != 0' "$d/results" | wc -l)
}
flows_on() { adm "$1" -Lnc | awk '$3 == "ESTABLISHED" {print $4}' | sort; }
durations() { awk '{print $5 - $4}' "$LAB_DIR/$1/results" | sort -n; }

echo "-- SIGTERM on lb1 during 100 downloads"
for i in 1 2 3; do before[$i]=$(conns lb$i); done
downloads term
sleep 0.5
spread "before the SIGTERM"
flows_on lb1 >"$LAB_DIR/term/lb1-flows"
echo "   lb1 carries $(wc -l <"$LAB_DIR/term/lb1-flows") established flows at the SIGTERM"
t0=$(now)
kill -TERM "${PID[lb1]}"
t_route="" t_exit=""
while [ $(($(now) - t0)) -lt 15000 ] && { [ -z "$t_route" ] || [ -z "$t_exit" ]; }; do
    [ -z "$t_route" ] && [ "$(hops)" -eq 2 ] && t_route=$(($(now) - t0))
    [ -z "$t_exit" ] && ! alive "${PID[lb1]}" && t_exit=$(($(now) - t0))
    sleep 0.02
done
wait "${PID[lb1]}"
rc=$?
echo "   after the SIGTERM: route withdrawn at the router at ${t_route:-never} ms, switchyard exited at ${t_exit:-never} ms"
check "the route left the router before the process exited" test "${t_route:-99999}" -lt "${t_exit:-0}"
expect "lb1 kept forwarding for the drain ($drain s) before it exited (ms)" "${t_exit:-0}" -ge $((drain * 1000))
expect "lb1 exits 0" "$rc" -eq 0
check "and left no route in its table 100" test -z "$(table100 lb1)"
check "the router's next hops are lb2's and lb3's: $(hops_of)" test "$(hops_of)" = "$net.12 $net.13 "
wait "$DL_PID"
verify term
expect "100 downloads ended" "$(wc -l <"$LAB_DIR/term/results")" -eq 100
expect "none failed (curl status)" "$failed" -eq 0
expect "all 100 byte-exact (sha256 of web1's or web2's file; web1 $n1, web2 $n2)" "$exact" -eq 100
expect "nginx logged as many requests on web1 as downloads got web1's bytes" "$(wc -l <"$(lab_nginx_log web1)")" -eq "$n1"
expect "and on web2" "$(wc -l <"$(lab_nginx_log web2)")" -eq "$n2"
moved=$(awk -v t="$((t0 + t_exit))" 'NR == FNR {f[$1]; next} ($3 in f) && $5 > t' "$LAB_DIR/term/lb1-flows" "$LAB_DIR/term/results" | wc -l)
expect "lb1's downloads that ended after lb1 was gone (moved to lb2/lb3 and kept their real server)" "$moved" -gt 0
echo "   durations (ms): $(durations term | sed -n '1p;50p;100p' | tr '\n' ' ')(min, median, max)"
slowest_ms=$(durations term | tail -n 1)

# suffered TAG WHAT: what a set of downloads went through, said, not asserted
suffered() {
    verify "$1"
    echo "   $2: $((100 - exact)) of 100 downloads failed or not byte-exact (curl status not 0: $failed);" \
        "$(durations "$1" | awk -v s="$slowest_ms" '$1 > s + 1000' | wc -l) took over 1 s longer than the slowest of the SIGTERM set ($slowest_ms ms)"
    echo "   durations (ms): $(durations "$1" | sed -n '1p;50p;100p' | tr '\n' ' ')(min, median, max)"
}

echo "-- lb1 back; then lb2's switchyard SIGKILLed during 100 downloads"
nsx lb1 route add 198.19.21.198/32 dev lo table 100 proto static # someone else's
start lb1
ready lb1 || exit 1
wait_hops 3 15
check "lb1 is announced again: $(hops_of)" test "$(hops_of)" = "$net.11 $net.12 $net.13 "
check "lb1 left another protocol's route in table 100 alone" test -n "$(nsx lb1 route show table 100 198.19.21.198/32)"
check "which BIRD does not announce (krt_source 4, not 83)" test -z "$(nsx router route show 198.19.21.198)"
for i in 1 2 3; do before[$i]=$(conns lb$i); done
downloads kill
sleep 0.5
spread "before the SIGKILL"
t0=$(now)
kill -KILL "${PID[lb2]}"
wait_hops 2 15
echo "   the router dropped lb2's next hop $(($(now) - t0)) ms after the SIGKILL"
wait "${PID[lb2]}" 2>/dev/null
check "the router's next hops are lb1's and lb3's: $(hops_of)" test "$(hops_of)" = "$net.11 $net.13 "
check "lb2's table 100 has no route left (its device went with the process)" test -z "$(table100 lb2)"
wait "$DL_PID"
suffered kill "SIGKILL of lb2's switchyard"

echo "-- lb2 back; then lb3 loses power (its cable pulled) during 100 downloads"
start lb2
ready lb2 || exit 1
wait_hops 3 15
check "lb2 is announced again: $(hops_of)" test "$(hops_of)" = "$net.11 $net.12 $net.13 "
for i in 1 2 3; do before[$i]=$(conns lb$i); done
downloads power
sleep 0.5
spread "before the power loss"
t0=$(now)
# A box that loses power sends nothing more (a BIRD merely killed has its session closed by the
# kernel at once): only the router's hold timer takes the next hop away.
nsx lb3 link set eth0 down
wait_hops 2 15
echo "   the router kept lb3's dead next hop $(($(now) - t0)) ms (hold time 3 s)"
check "then its next hops are lb1's and lb2's: $(hops_of)" test "$(hops_of)" = "$net.11 $net.12 "
wait "$DL_PID"
suffered power "lb3's power loss"
kill -KILL "${PID[lb3]}"
wait "${PID[lb3]}" 2>/dev/null

echo "-- the last two stop together"
kill -TERM "${PID[lb1]}" "${PID[lb2]}"
check "the router has no route to the VIP" wait_hops 0 5
wait "${PID[lb1]}"
expect "lb1 exits 0" $? -eq 0
wait "${PID[lb2]}"
expect "lb2 exits 0" $? -eq 0
[ "$E2E_FAILED" -eq 0 ]
