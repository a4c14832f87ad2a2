#!/usr/bin/env bash
# NAT end to end. Two-arm: clients on one segment, the real servers on another with the
# balancer as their default gateway. One-arm: one segment, the clients in another subnet routed
# through the balancer, which is also the real servers' gateway. Real nginx, curl, dnsmasq, dig.
. "$(dirname "$0")/prelude.sh"

lab_init sye2e-nat
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT

vip=198.18.41.100
client_ip=198.18.41.10
lab_switch out
lab_switch in
lab_host client eth0 $client_ip/24 out
lab_host lb wan0 198.18.41.2/24 out
lab_exec lb ip link add lan0 type veth peer name x$$
lab_exec lb ip link set x$$ netns "$(lab_ns in)"
lab_exec in ip link set x$$ master br0 up
lab_exec lb ip addr add 198.18.42.1/24 dev lan0
lab_exec lb ip link set lan0 up
lab_exec lb sysctl -qw net.ipv4.ip_forward=1
lab_host web1 eth0 198.18.42.11/24 in
lab_host web2 eth0 198.18.42.12/24 in

rs_script() { lab_exec "$1" env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$1" sh "$root/scripts/realserver.sh" "${@:2}"; }

echo "-- real-server script: the NAT gateway"
out=$(rs_script web1 check gateway 198.18.42.1)
check "check gateway fails while the LB is not the gateway, and says so" test $? -ne 0 -a -n "$(echo "$out" | grep 'wrong gateway')"
for rs in web1 web2; do rs_script $rs gateway 198.18.42.1 >/dev/null; done
check "check gateway passes after 'gateway'" rs_script web1 check gateway 198.18.42.1
rs_script web2 down >/dev/null
check "down restores the routes found (web2 had no default route)" test -z "$(lab_exec web2 ip -4 route show default)"
rs_script web2 gateway 198.18.42.1 >/dev/null

for rs in web1 web2; do
    lab_nginx $rs $rs "listen 8080 reuseport; location /slow/ { alias $LAB_DIR/nginx-$rs/www/; limit_rate 1m; }"
    printf 'address=/who.test/198.18.99.%s\n' "${rs#web}" >"$LAB_DIR/dnsmasq-$rs.conf"
    lab_bg $rs "$LAB_DIR/dnsmasq-$rs.log" dnsmasq --no-daemon --conf-file="$LAB_DIR/dnsmasq-$rs.conf" --port=5353 \
        --listen-address="198.18.42.1${rs#web}" --bind-interfaces --no-resolv --no-hosts --log-queries --user=root
done

cat >"$LAB_DIR/nat.conf" <<CONF
virtual_server $vip 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.18.42.11 8080 { weight 1 }
    real_server 198.18.42.12 8080 { weight 1 }
}
virtual_server $vip 81 {
    lb_algo rr
    lb_kind NAT
    persistence_timeout 60
    real_server 198.18.42.11 80 { weight 1 }
    real_server 198.18.42.12 80 { weight 1 }
}
virtual_server $vip 53 {
    lb_algo mh
    lb_kind NAT
    protocol UDP
    real_server 198.18.42.11 5353 { weight 1 }
    real_server 198.18.42.12 5353 { weight 1 }
}
CONF
lab_bg lb "$LAB_DIR/lb.log" "$bin" run --config "$LAB_DIR/nat.conf" --workers 2 --control "$LAB_DIR/nat.sock"
lb_pid=$LAB_LAST_PID
lab_wait_for "$LAB_DIR/lb.log" "ready:" 15 || { echo "balancer did not start:"; cat "$LAB_DIR/lb.log"; exit 1; }
check "it found both interfaces (wan0 for the VIP, lan0 for the real servers)" grep -q "wan0 .*; lan0 " "$LAB_DIR/lb.log"

echo "-- two-arm NAT: HTTP, VIP:80 -> RIP:8080"
for rs in web1 web2; do : >"$(lab_nginx_log $rs)"; done
for _ in $(seq 200); do lab_exec client curl -s --max-time 3 "http://$vip/" || echo FAILED; done >"$LAB_DIR/answers"
expect "200 requests, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/answers")" -eq 200
expect "web1 served (rr: half)" "$(grep -cx web1 "$LAB_DIR/answers")" -ge 80
expect "web2 served (rr: half)" "$(grep -cx web2 "$LAB_DIR/answers")" -ge 80
logged=$(cat "$(lab_nginx_log web1)" "$(lab_nginx_log web2)")
expect "nginx logged the client's own address for every request" "$(echo "$logged" | awk -v c=$client_ip '$1 != c' | wc -l)" -eq 0
expect "requests reached nginx on the real server's own address (NAT)" "$(echo "$logged" | awk '$2 !~ /^198\.18\.42\./' | wc -l)" -eq 0

echo "-- two workers: 8 client addresses, each client's two directions must meet in one worker"
# The fanout spreads frames by client address; a reply handed to the other worker would find no
# mapping and be dropped, so any mistake in the fanout program fails requests here.
for i in $(seq 31 38); do lab_exec client ip addr add 198.18.41.$i/24 dev eth0; done
for i in $(seq 31 38); do
    for _ in $(seq 15); do lab_exec client curl -s --max-time 3 --interface 198.18.41.$i "http://$vip/" || echo FAILED; done
done >"$LAB_DIR/many"
expect "120 requests from 8 client addresses, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/many")" -eq 120
spread=$(lab_exec lb "$bin" adm --control "$LAB_DIR/nat.sock" --engine | sed -n 's/^Frames per worker: //p')
w0=$(echo "$spread" | sed -n 's/.*0=\([0-9]*\).*/\1/p')
w1=$(echo "$spread" | sed -n 's/.*1=\([0-9]*\).*/\1/p')
expect "worker 0 took frames ($spread)" "${w0:-0}" -gt 0
expect "worker 1 took frames too" "${w1:-0}" -gt 0

echo "-- persistence: 50 connections from one client to VIP:81"
for _ in $(seq 50); do lab_exec client curl -s --max-time 3 "http://$vip:81/" || echo FAILED; done >"$LAB_DIR/persist"
expect "all 50 answered" "$(grep -c '^web[12]$' "$LAB_DIR/persist")" -eq 50
expect "all by one real server" "$(sort -u "$LAB_DIR/persist" | wc -l)" -eq 1

echo "-- a long download keeps going while other connections come and go"
lab_exec client curl -s --max-time 30 -o "$LAB_DIR/download" "http://$vip/slow/big.bin" &
dl=$!
sleep 0.5
for _ in $(seq 100); do lab_exec client curl -s --max-time 3 "http://$vip/" || echo FAILED; done >"$LAB_DIR/during"
wait $dl
dl_rc=$?
expect "the download finished (curl status)" "$dl_rc" -eq 0
expect "100 other requests meanwhile, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/during")" -eq 100
sum=$(sha256sum <"$LAB_DIR/download" | cut -d' ' -f1)
check "the download is byte-exact (4 MiB)" test "$sum" = "$(sha256sum <"$LAB_DIR/nginx-web1/www/big.bin" | cut -d' ' -f1)" -o "$sum" = "$(sha256sum <"$LAB_DIR/nginx-web2/www/big.bin" | cut -d' ' -f1)"
# The servers' TSO super-packets are larger than the per-frame ring's slots: each took its slot
# cut short and waited whole on the socket's queue; the worker read it there, rewrote it and
# sent it on whole, for the kernel to segment (tcp_gso_sent), cutting none itself.
lab_exec lb "$bin" adm --control "$LAB_DIR/nat.sock" --engine >"$LAB_DIR/stats-download"
gso=$(awk '$1 == "tcp_gso_sent" {print $2}' "$LAB_DIR/stats-download")
segmented=$(awk '$1 == "tcp_segmented" {print $2}' "$LAB_DIR/stats-download")
# The engine lists only counters that are not zero: an absent drop_oversize is 0.
oversize=$(awk '$1 == "drop_oversize" {print $2}' "$LAB_DIR/stats-download")
expect "super-packets were read whole past their slots and sent on whole (adm --engine)" "${gso:-0}" -gt 0
expect "none was cut in software (tcp_segmented)" "${segmented:-0}" -eq 0
check "the counter list was read" grep -q "^Engine counters" "$LAB_DIR/stats-download"
expect "none was dropped as too large for its slot (drop_oversize)" "${oversize:-0}" -eq 0

echo "-- UDP through NAT: dnsmasq real servers, dig client (VIP:53 -> RIP:5353)"
for i in $(seq 100); do
    lab_exec client dig @$vip -p 53 who.test +short +tries=2 +time=1 || echo FAILED
done >"$LAB_DIR/dig"
expect "100 DNS queries answered" "$(grep -c '^198\.18\.99\.[12]$' "$LAB_DIR/dig")" -eq 100
expect "web1's dnsmasq answered some" "$(grep -cx 198.18.99.1 "$LAB_DIR/dig")" -ge 10
expect "web2's dnsmasq answered some" "$(grep -cx 198.18.99.2 "$LAB_DIR/dig")" -ge 10
check "dnsmasq saw the client's own address" grep -q "from $client_ip" "$LAB_DIR/dnsmasq-web1.log"

echo "-- ICMP, and the kernel guard"
check "ping to the VIP is answered by the balancer" lab_exec client ping -c 2 -W 1 $vip
# NAT routes, so a packet whose TTL runs out at the balancer is answered like a router would
# (traceroute's hop); the client's kernel matches the error to its socket by the quoted header.
ttl1=$(lab_exec client python3 "$here/ttl_probe.py" $vip 53 1)
expect "a UDP probe with TTL 1 to the VIP gets ICMP time exceeded from the VIP" "$ttl1" = "time exceeded from $vip"
ttl2=$(lab_exec client python3 "$here/ttl_probe.py" $vip 53 2)
expect "with TTL 2 it passes the balancer (no error)" "$ttl2" = "no error"
guard=$(lab_exec lb nft list table netdev switchyard_wan0)
nat_drops=$(echo "$guard" | sed -n 's/.*ip saddr.*counter packets \([0-9]*\).*/\1/p')
expect "the guard kept the kernel from forwarding un-translated replies (ip_forward=1)" "${nat_drops:-0}" -gt 0
check "the balancer itself still reaches a real server (guard spares its own traffic)" lab_exec lb curl -s --max-time 3 http://198.18.42.11:8080/

kill -TERM $lb_pid
wait $lb_pid
expect "exit status 0" $? -eq 0
check "the guard is gone" test -z "$(lab_exec lb nft list tables | grep switchyard)"
check "NAT replies were counted" grep -q "nat_replies=" "$LAB_DIR/lb.log"
check "the time exceeded answer was counted (icmp_time_exceeded_sent=1, drop_ttl_exceeded=1)" \
    grep -q "icmp_time_exceeded_sent=1 .*drop_ttl_exceeded=1" "$LAB_DIR/lb.log"

echo "-- NAT under a SYN flood far beyond the flow table: idle established connections survive"
# In NAT a lost flow is a lost connection: the client's next packet would be scheduled anew (rr:
# the other server answers with a RST) and the server's replies would find no mapping. The idle
# keep-alive connections are the oldest flows in the table, so only "half-open first" keeps them.
cat >"$LAB_DIR/small.conf" <<CONF
global_defs {
    switchyard_flow_capacity 1024
}
virtual_server $vip 80 {
    lb_algo rr
    lb_kind NAT
    real_server 198.18.42.11 8080 { weight 1 }
    real_server 198.18.42.12 8080 { weight 1 }
}
CONF
lab_bg lb "$LAB_DIR/lb-small.log" "$bin" run --config "$LAB_DIR/small.conf" --workers 1
small_pid=$LAB_LAST_PID
lab_wait_for "$LAB_DIR/lb-small.log" "ready:" 15 || { cat "$LAB_DIR/lb-small.log"; exit 1; }
mkfifo "$LAB_DIR/go"
lab_exec client python3 "$here/idle_client.py" $vip 80 16 <"$LAB_DIR/go" >"$LAB_DIR/idle" 2>&1 &
idle=$!
exec 7>"$LAB_DIR/go"
lab_wait_for "$LAB_DIR/idle" "open" 10
syn_flood client eth0 "$(lab_exec lb cat /sys/class/net/wan0/address)" $vip 1000000
(echo go >&7) 2>/dev/null
exec 7>&-
wait $idle
sed 's/^/   /' "$LAB_DIR/idle" | sort | uniq -c
expect "16 idle keep-alive connections answered again, each by the same server" "$(grep -c '^same ' "$LAB_DIR/idle")" -eq 16
for _ in $(seq 20); do lab_exec client curl -s --max-time 3 "http://$vip/" || echo FAILED; done >"$LAB_DIR/after-syn"
expect "20 new requests after the flood, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/after-syn")" -eq 20
kill -TERM $small_pid
wait $small_pid
expect "exit status 0 after the flood" $? -eq 0
evicted=$(grep -o 'flow_evictions=[0-9]*' "$LAB_DIR/lb-small.log" | tail -n 1 | cut -d= -f2)
# Ten times the table's 1,024 flows at least: the idle connections outlived ten turnovers. (How far
# beyond that depends on the build: the release engine evicts ~10^5 here, the debug TSan one ~3x10^4.)
expect "the flood did evict flows, ten tables' worth at least (flow_evictions=${evicted:-0})" "${evicted:-0}" -ge 10240

echo "-- one-arm NAT: one segment; clients in another subnet routed through the balancer"
lab_switch one
lab_host c1 eth0 198.18.44.10/24 one
lab_host lb1 eth0 198.18.43.2/24 one
lab_exec lb1 ip addr add 198.18.44.1/24 dev eth0
lab_exec lb1 sysctl -qw net.ipv4.ip_forward=1
lab_exec c1 ip route add default via 198.18.44.1
lab_host r1 eth0 198.18.43.11/24 one
lab_host r2 eth0 198.18.43.12/24 one
for rs in r1 r2; do
    rs_script $rs gateway 198.18.43.2 >/dev/null
    lab_nginx $rs $rs
done
cat >"$LAB_DIR/onearm.conf" <<CONF
virtual_server 198.18.43.100 80 {
    lb_algo wlc
    lb_kind NAT
    real_server 198.18.43.11 80 { weight 1 }
    real_server 198.18.43.12 80 { weight 1 }
}
CONF
lab_bg lb1 "$LAB_DIR/lb1.log" "$bin" run --config "$LAB_DIR/onearm.conf"
lb1_pid=$LAB_LAST_PID
lab_wait_for "$LAB_DIR/lb1.log" "ready:" 15 || { cat "$LAB_DIR/lb1.log"; exit 1; }
for _ in $(seq 200); do lab_exec c1 curl -s --max-time 3 "http://198.18.43.100/" || echo FAILED; done >"$LAB_DIR/onearm"
expect "one-arm: 200 requests, none failed" "$(grep -c '^r[12]$' "$LAB_DIR/onearm")" -eq 200
expect "one-arm: r1 served" "$(grep -cx r1 "$LAB_DIR/onearm")" -ge 50
expect "one-arm: r2 served" "$(grep -cx r2 "$LAB_DIR/onearm")" -ge 50
expect "one-arm: nginx logged the client's own address" "$(cat "$(lab_nginx_log r1)" "$(lab_nginx_log r2)" | awk '$1 != "198.18.44.10"' | wc -l)" -eq 0
kill -TERM $lb1_pid
wait $lb1_pid
expect "one-arm: exit status 0" $? -eq 0

[ "$E2E_FAILED" -eq 0 ]
