#!/usr/bin/env bash
# Direct server return end to end: a client, the balancer and two nginx real servers on one
# bridged segment in network namespaces. Addresses and interface names differ from the demo's
# on purpose: nothing may be tied to the demo's topology.
. "$(dirname "$0")/prelude.sh"
vip=198.19.7.200
client_ip=198.19.7.50

lab_init sye2e-dr
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT
lab_switch
lab_host client eth1 $client_ip/24
lab_host lb lan0 198.19.7.2/24
lab_host web1 ens3 198.19.7.21/24
lab_host web2 ens3 198.19.7.22/24
lab_exec lb sysctl -qw net.ipv4.ip_forward=1

rs_script() { lab_exec "$1" env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$1" sh "$root/scripts/realserver.sh" "${@:2}"; }
sysctl_of() { lab_exec "$1" cat "/proc/sys/net/ipv4/conf/$2/$3"; }

echo "-- real-server script"
lab_exec web1 sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.ens3.rp_filter=1
before=$(for k in arp_ignore arp_announce rp_filter; do for i in all ens3; do sysctl_of web1 $i $k; done; done | tr '\n' ' ')
out=$(rs_script web1 check $vip)
check "check before up fails and names what is missing" test $? -ne 0 -a -n "$(echo "$out" | grep 'missing: 198.19.7.200 is not on lo')"
rs_script web1 up $vip >/dev/null
rs_script web1 up $vip >/dev/null
check "up twice is idempotent: one VIP on lo" test "$(lab_exec web1 ip -4 -o addr show dev lo | grep -c " $vip/32")" -eq 1
check "up sets arp_ignore=1 arp_announce=2 on all and ens3" test "$(sysctl_of web1 all arp_ignore)$(sysctl_of web1 ens3 arp_ignore)$(sysctl_of web1 all arp_announce)$(sysctl_of web1 ens3 arp_announce)" = 1122
check "up relaxes strict rp_filter to loose" test "$(sysctl_of web1 all rp_filter)$(sysctl_of web1 ens3 rp_filter)" = 22
check "check after up passes" rs_script web1 check $vip
rs_script web1 down $vip >/dev/null
after=$(for k in arp_ignore arp_announce rp_filter; do for i in all ens3; do sysctl_of web1 $i $k; done; done | tr '\n' ' ')
check "down restores exactly the values found ($before)" test "$before" = "$after"
check "down removes the VIP" test -z "$(lab_exec web1 ip -4 -o addr show dev lo | grep " $vip/32")"
lab_exec web1 ip addr add 198.19.7.201/32 dev lo
rs_script web1 down 198.19.7.201 >/dev/null
check "down leaves alone a VIP it did not add" test -n "$(lab_exec web1 ip -4 -o addr show dev lo | grep ' 198.19.7.201/32')"
lab_exec web1 ip addr del 198.19.7.201/32 dev lo
check "switchyard realserver check runs the script" test "$(lab_exec web1 env SWITCHYARD_STATE_DIR="$LAB_DIR/x" "$bin" realserver check $vip | grep -c missing)" -ge 1

for rs in web1 web2; do
    rs_script $rs up $vip >/dev/null
    lab_nginx $rs $rs
done

conf() { # conf FILE SCHED W1 W2
    cat >"$1" <<CONF
virtual_server $vip 80 {
    lb_algo $2
    lb_kind DR
    protocol TCP
    real_server 198.19.7.21 80 { weight $3 }
    real_server 198.19.7.22 80 { weight $4 }
}
virtual_server $vip 5300 {
    lb_algo mh
    lb_kind DR
    protocol UDP
    real_server 198.19.7.21 5300 { weight 1 }
    real_server 198.19.7.22 5300 { weight 1 }
}
CONF
}
start_lb() { # start_lb CONF [ARGS...]
    start_lb_under "" "$@"
}
start_lb_under() { # start_lb_under "COMMAND..." CONF [ARGS...]: the same, run under e.g. taskset
    local under=$1
    shift
    LB_LOG=$LAB_DIR/lb-$RANDOM.log
    # shellcheck disable=SC2086 # the wrapper command's words
    lab_bg lb "$LB_LOG" $under "$bin" run --config "$@"
    LB_PID=$LAB_LAST_PID
    lab_wait_for "$LB_LOG" "ready:" 15 || { echo "balancer did not start:"; cat "$LB_LOG"; return 1; }
}
stop_lb() {
    kill -"${1:-TERM}" "$LB_PID"
    wait "$LB_PID"
    LB_RC=$?
}
requests() { # requests N: N curl requests through the VIP; prints one answering name per line
    local i
    for i in $(seq "$1"); do
        lab_exec client curl -s --max-time 3 "http://$vip/" || echo FAILED
    done
}

echo "-- HTTP through the VIP (mh, equal weights)"
conf "$LAB_DIR/mh.conf" mh 1 1
gro_before=$(lab_exec lb ethtool -k lan0 2>/dev/null | grep '^generic-receive-offload' || true)
start_lb "$LAB_DIR/mh.conf" --control "$LAB_DIR/mh.sock"
for rs in web1 web2; do : >"$(lab_nginx_log $rs)"; done
requests 240 >"$LAB_DIR/answers"
total=$(wc -l <"$LAB_DIR/answers")
failed=$(grep -vc '^web[12]$' "$LAB_DIR/answers")
n1=$(grep -cx web1 "$LAB_DIR/answers")
n2=$(grep -cx web2 "$LAB_DIR/answers")
expect "240 requests answered" "$total" -eq 240
expect "no request failed" "$failed" -eq 0
expect "web1 served at least 25% (60 of 240)" "$n1" -ge 60
expect "web2 served at least 25% (60 of 240)" "$n2" -ge 60
logged=$(cat "$(lab_nginx_log web1)" "$(lab_nginx_log web2)")
expect "nginx logged every request" "$(echo "$logged" | wc -l)" -eq 240
expect "every logged client address is the client's own ($client_ip)" "$(echo "$logged" | awk -v c=$client_ip '$1 != c' | wc -l)" -eq 0
expect "every request reached nginx addressed to the VIP" "$(echo "$logged" | awk -v v=$vip '$2 != v' | wc -l)" -eq 0
metrics=$(lab_exec lb "$bin" adm --control "$LAB_DIR/mh.sock" --metrics)
conns=$(echo "$metrics" | awk '/^switchyard_real_server_connections_total\{/ {s += $2} END {print s + 0}')
expect "adm --metrics: the real servers' connections add up to the 240 requests" "$conns" -eq 240
expect "and web1's are the requests it answered ($n1)" \
    "$(echo "$metrics" | sed -n 's/^switchyard_real_server_connections_total{.*remote_address="198.19.7.21",remote_port="80"} //p')" -eq "$n1"
expect "both real servers are up (a state set)" \
    "$(echo "$metrics" | grep -c '^switchyard_real_server_state{.*,remote_port="80",state="up"} 1$')" -eq 2
check "every drop reason is there from the start" grep -q '^switchyard_engine_packets_dropped_total{reason="no_service"} 0$' <<<"$metrics"
expect "the flow tables hold the requests' connections (in TIME_WAIT and such)" \
    "$(echo "$metrics" | sed -n 's/^switchyard_flow_table_entries //p')" -gt 0
expect "and say their room" "$(echo "$metrics" | sed -n 's/^switchyard_flow_table_capacity //p')" -ge 1024
check "each worker's busy seconds: $(echo "$metrics" | grep '^switchyard_worker_busy_seconds_total' | tr '\n' ' ')" \
    awk '/^switchyard_worker_busy_seconds_total\{worker="0"\} / && $2 > 0 {found = 1} END {exit !found}' <<<"$metrics"
lb_mac=$(lab_exec lb cat /sys/class/net/lan0/address)
check "the client resolved the VIP to the balancer's MAC" test "$(lab_exec client ip neigh show $vip | awk '{print $5}')" = "$lb_mac"
check "the kernel guard table is installed" lab_exec lb nft list table netdev switchyard_lan0
# This kernel has tcx: the guard's BPF program drops the VIP's frames before the chain sees them.
check "the log says the tcx program on lan0 drops the VIPs' frames first" grep -q "a tcx program on lan0 drops" "$LB_LOG"
tcx_drops=$(lab_exec lb "$bin" adm --control "$LAB_DIR/mh.sock" --engine | awk '$1 == "guard_tcx_dropped" {print $2}')
nft_drops=$(lab_exec lb nft list table netdev switchyard_lan0 | sed -n 's/.*ip daddr.*counter packets \([0-9]*\).*/\1/p')
expect "the tcx program dropped the kernel's copies of VIP packets (ip_forward=1; adm --engine)" "${tcx_drops:-0}" -gt 0
expect "so the nftables rule behind it saw none of them" "${nft_drops:-1}" -eq 0
check "the balancer's own address still answers (the kernel keeps other traffic)" lab_exec client ping -c 1 -W 1 198.19.7.2
# Only the RX ring takes every frame: the engine's other packet sockets (ARP capture, libnet,
# TX) have nothing queued after all that traffic (a socket left listening for every protocol
# would hold a copy of each frame, cloned on the sender's CPU).
queued=$(lab_exec lb ss -0 -a -n -p | awk '/switchyard/ && $3 != "0" {print $0}')
check "no packet socket of the engine holds unread frames: ${queued:-none}" test -z "$queued"

echo "-- switchyard replay: a capture of the client's packets, replayed with the same config"
# The balancer's own choices, read off the capture: each connection's SYN must go to the real
# server that answered it (same config, same Maglev table), and the replayed frames leave for
# the real servers' MACs.
lab_bg lb "$LAB_DIR/tcpdump.log" tcpdump -i lan0 --immediate-mode -U -n -w "$LAB_DIR/clients.pcap" "tcp dst port 80 and dst host $vip"
tcpdump_pid=$LAB_LAST_PID # ip netns exec became tcpdump
lab_wait_for "$LAB_DIR/tcpdump.log" "listening on" 5
requests 20 >"$LAB_DIR/answers-replay"
sleep 0.3
kill -INT "$tcpdump_pid"; wait "$tcpdump_pid" 2>/dev/null || true
web_mac() { lab_exec "$1" cat /sys/class/net/ens3/address; }
"$bin" replay --config "$LAB_DIR/mh.conf" --interface lan0="$lb_mac" --neighbour 198.19.7.21="$(web_mac web1)" \
    --neighbour 198.19.7.22="$(web_mac web2)" "$LAB_DIR/clients.pcap" "$LAB_DIR/replayed.pcap" >"$LAB_DIR/replay.out" 2>&1
expect "replay exits 0" $? -eq 0
captured=$(tcpdump -n -r "$LAB_DIR/clients.pcap" 2>/dev/null | wc -l)
expect "it replayed every captured frame ($captured), all forwarded" "$(tail -n 1 "$LAB_DIR/replay.out")" = "$captured frame(s): $captured forwarded"
chosen=$(sed -n 's/.*: new flow, scheduled to 198\.19\.7\.2\([12]\):80 (DR), SYN_RECV; sent out of lan0$/web\1/p' "$LAB_DIR/replay.out")
expect "one new flow per request (20)" "$(echo "$chosen" | grep -c web)" -eq 20
check "each to the real server that answered it" test "$chosen" = "$(cat "$LAB_DIR/answers-replay")"
expect "the other frames are flow hits" "$(grep -c ': flow hit, to 198.19.7.2[12]:80 (DR)' "$LAB_DIR/replay.out")" -eq $((captured - 20))
macs=$(tcpdump -e -n -r "$LAB_DIR/replayed.pcap" 2>/dev/null | awk '{print $2 " > " $4}' | sort -u | tr '\n' ' ')
check "the replayed frames go from the balancer to the real servers' MACs: $macs" \
    test "$macs" = "$(printf '%s > %s,\n%s > %s,\n' "$lb_mac" "$(web_mac web1)" "$lb_mac" "$(web_mac web2)" | sort | tr '\n' ' ')"
out=$("$bin" explain --config "$LAB_DIR/mh.conf" --from $client_ip:40000 --to $vip:80 --flags S)
check "explain: a SYN to the VIP is scheduled to a real server: $(echo "$out" | head -n 1)" \
    grep -q "^TCP $client_ip:40000 > $vip:80: new flow, scheduled to 198.19.7.2[12]:80 (DR), SYN_RECV; sent out of eth0$" <<<"$out"
out=$("$bin" explain --config "$LAB_DIR/mh.conf" --from $client_ip:40000 --to $vip:81)
check "explain: a port with no service: $out" test "$out" = "TCP $client_ip:40000 > $vip:81: dropped: drop_no_service"

echo "-- UDP through the VIP"
for rs in web1 web2; do
    lab_bg $rs "$LAB_DIR/udp-$rs.out" python3 "$here/udp_server.py" $rs $vip 5300 "$LAB_DIR/udp-$rs.log"
    lab_wait_for "$LAB_DIR/udp-$rs.log" listening 5
done
lab_exec client python3 "$here/udp_client.py" $vip 5300 200 >"$LAB_DIR/udp-answers"
expect "200 UDP datagrams answered, none lost" "$(grep -c '^web[12]$' "$LAB_DIR/udp-answers")" -eq 200
expect "web1 got UDP flows" "$(grep -cx web1 "$LAB_DIR/udp-answers")" -ge 40
expect "web2 got UDP flows" "$(grep -cx web2 "$LAB_DIR/udp-answers")" -ge 40
expect "UDP real servers saw the client's own address" "$(cat "$LAB_DIR"/udp-web*.log | grep -v listening | awk -v c=$client_ip '$1 != c' | wc -l)" -eq 0
# Like IPVS, in DR too the balancer decrements the TTL: a probe whose TTL runs out there is
# answered with time exceeded from the VIP (traceroute's hop); with one more it goes through.
ttl1=$(lab_exec client python3 "$here/ttl_probe.py" $vip 5300 1)
expect "a UDP probe with TTL 1 gets ICMP time exceeded from the VIP" "$ttl1" = "time exceeded from $vip"
ttl2=$(lab_exec client python3 "$here/ttl_probe.py" $vip 5300 2)
expect "with TTL 2 it reaches a real server (no error)" "$ttl2" = "no error"

stop_lb TERM
expect "SIGTERM: exit status 0" "$LB_RC" -eq 0
check "on exit the guard table is gone" test -z "$(lab_exec lb nft list tables | grep switchyard)"
check "on exit GRO is as it was" test "$(lab_exec lb ethtool -k lan0 2>/dev/null | grep '^generic-receive-offload' || true)" = "$gro_before"
check "the exit log has the totals" grep -q "stopped; totals: .*forwarded=" "$LB_LOG"

echo "-- weight 0: quiescent real server gets nothing (rr, --interface given)"
conf "$LAB_DIR/w0.conf" rr 1 0
start_lb "$LAB_DIR/w0.conf" --interface lan0 --workers 1 --no-guard-tcx
requests 100 >"$LAB_DIR/answers-w0"
expect "100 requests, all answered by web1" "$(grep -cx web1 "$LAB_DIR/answers-w0")" -eq 100
# Without the tcx program the nftables chain alone keeps the kernel off the VIP's frames.
nft_drops=$(lab_exec lb nft list table netdev switchyard_lan0 | sed -n 's/.*ip daddr.*counter packets \([0-9]*\).*/\1/p')
expect "--no-guard-tcx: the nftables rule dropped the kernel's copies instead" "${nft_drops:-0}" -gt 0
stop_lb INT
expect "SIGINT: exit status 0" "$LB_RC" -eq 0

echo "-- wrr 3:1"
conf "$LAB_DIR/wrr.conf" wrr 3 1
start_lb "$LAB_DIR/wrr.conf" --workers 1
requests 200 >"$LAB_DIR/answers-wrr"
n1=$(grep -cx web1 "$LAB_DIR/answers-wrr")
expect "web1 served 3/4 of 200 (150, one worker: exact)" "$n1" -eq 150
stop_lb

echo "-- workers follow the CPUs the balancer may run on"
# Pinned to one CPU, the default is one worker, however many the machine has; more workers
# than that are allowed but warned about. The affinity is inherited through ip netns exec.
start_lb_under "taskset -c 0" "$LAB_DIR/wrr.conf"
check "taskset -c 0, no --workers: 1 worker" grep -q "; 1 worker(s);" "$LB_LOG"
check "and no warning about workers" test -z "$(grep 'take turns' "$LB_LOG")"
check "a worker with a CPU of its own busy-polls 30 µs by default" grep -q "; busy-polling 30 µs after the last frame" "$LB_LOG"
requests 20 >"$LAB_DIR/answers-pinned"
expect "20 requests answered" "$(grep -c '^web[12]$' "$LAB_DIR/answers-pinned")" -eq 20
stop_lb
start_lb_under "taskset -c 0" "$LAB_DIR/wrr.conf" --workers 2
check "taskset -c 0, --workers 2: warned that they take turns on 1 CPU" grep -q "2 workers on 1 CPU(s) this process may use" "$LB_LOG"
check "and they do not busy-poll (they would spin on each other)" grep -q "; no busy-polling" "$LB_LOG"
stop_lb

echo "-- config errors"
printf 'virtual_server %s 80 {\n  lb_kind DR\n  lb_algo lcx\n}\n' $vip >"$LAB_DIR/bad.conf"
out=$("$bin" check --config "$LAB_DIR/bad.conf" 2>&1)
check "check exits non-zero on a bad config" test $? -ne 0
check "and says PATH:LINE:COL: message" test "$out" = "$LAB_DIR/bad.conf:3:11: unknown scheduler \"lcx\"; expected mh, rr, wrr, sh, lc, wlc, sed or nq"
out=$(lab_exec lb "$bin" run --config "$LAB_DIR/bad.conf" 2>&1)
check "run refuses a bad config the same way" test $? -ne 0 -a -n "$(echo "$out" | grep ':3:11:')"
check "and installs nothing" test -z "$(lab_exec lb nft list tables | grep switchyard)"

[ "$E2E_FAILED" -eq 0 ]
