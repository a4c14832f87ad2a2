#!/usr/bin/env bash
# `switchyard run --io af_xdp` end to end: our XDP program (generic mode) redirects the engine's
# frames to an AF_XDP socket. One segment; a DR VIP, and a NAT VIP for clients in a second
# subnet routed through the balancer (so the real servers' replies come back through it).
. "$(dirname "$0")/prelude.sh"

lab_init sye2e-xdp
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT
vip=198.18.81.100
vip_nat=198.18.81.101
lab_switch
lab_host client eth0 198.18.81.10/24
lab_host lb eth0 198.18.81.2/24
lab_exec lb ip addr add 198.18.89.1/24 dev eth0
lab_exec lb sysctl -qw net.ipv4.ip_forward=1
lab_exec client ip addr add 198.18.89.10/24 dev eth0
lab_exec client ip route add $vip_nat/32 via 198.18.89.1 src 198.18.89.10
for n in 1 2; do
    lab_host web$n eth0 198.18.81.2$n/24
    lab_exec web$n env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$n" sh "$root/scripts/realserver.sh" up $vip >/dev/null
    lab_exec web$n ip route add 198.18.89.0/24 via 198.18.81.2
    lab_nginx web$n web$n "listen 8080 reuseport; location /slow/ { alias $LAB_DIR/nginx-web$n/www/; limit_rate 2m; }"
done
cat >"$LAB_DIR/xdp.conf" <<CONF
virtual_server $vip 80 {
    lb_algo rr
    lb_kind DR
    real_server 198.18.81.21 80 { weight 1 }
    real_server 198.18.81.22 80 { weight 1 }
}
virtual_server $vip_nat 80 {
    lb_algo rr
    lb_kind NAT
    real_server 198.18.81.21 8080 { weight 1 }
    real_server 198.18.81.22 8080 { weight 1 }
}
CONF

echo "-- AF_XDP needs one worker and the TX ring"
out=$(lab_exec lb "$bin" run --config "$LAB_DIR/xdp.conf" --io af_xdp --workers 2 2>&1)
check "--io af_xdp --workers 2 is refused, and says why" test $? -ne 0 -a -n "$(echo "$out" | grep 'one worker')"
out=$(lab_exec lb "$bin" run --config "$LAB_DIR/xdp.conf" --io af_xdp --tx sendmmsg 2>&1)
check "--io af_xdp --tx sendmmsg is refused, and says why" test $? -ne 0 -a -n "$(echo "$out" | grep 'TX ring')"

start_lb() {
    LB_LOG=$LAB_DIR/lb-$RANDOM.log
    lab_bg lb "$LB_LOG" "$bin" run --config "$LAB_DIR/xdp.conf" --io af_xdp --control "$LAB_DIR/c.sock"
    LB_PID=$LAB_LAST_PID
    lab_wait_for "$LB_LOG" "ready:" 15 || { echo "balancer did not start:"; cat "$LB_LOG"; return 1; }
}
start_lb
check "the log says it receives with af_xdp" grep -q "receiving with af_xdp" "$LB_LOG"
check "an XDP program is attached to the interface (generic mode)" grep -q xdpgeneric <<<"$(lab_exec lb ip link show eth0)"

echo "-- DR through the XDP path"
for _ in $(seq 100); do lab_exec client curl -s --max-time 3 "http://$vip/" || echo FAILED; done >"$LAB_DIR/dr"
expect "100 DR requests, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/dr")" -eq 100
expect "both servers answered (rr)" "$(sort -u "$LAB_DIR/dr" | wc -l)" -eq 2
expect "nginx logged the client's own address" "$(cat "$(lab_nginx_log web1)" "$(lab_nginx_log web2)" | awk '$1 != "198.18.81.10"' | wc -l)" -eq 0

echo "-- NAT through the XDP path: replies come back through it"
for _ in $(seq 100); do lab_exec client curl -s --max-time 3 "http://$vip_nat/" || echo FAILED; done >"$LAB_DIR/nat"
expect "100 NAT requests, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/nat")" -eq 100
lab_exec client curl -s --max-time 30 -o "$LAB_DIR/download" "http://$vip_nat/slow/big.bin"
expect "a 4 MiB NAT download finished" $? -eq 0
sum=$(sha256sum <"$LAB_DIR/download" | cut -d' ' -f1)
check "and is byte-exact" test "$sum" = "$(sha256sum <"$LAB_DIR/nginx-web1/www/big.bin" | cut -d' ' -f1)" -o "$sum" = "$(sha256sum <"$LAB_DIR/nginx-web2/www/big.bin" | cut -d' ' -f1)"
check "ping to the VIP is answered by the engine" lab_exec client ping -c 2 -W 1 $vip
check "the balancer's own connection to a NAT real server's port still works (local addresses stay with the kernel)" \
    lab_exec lb curl -s --max-time 3 http://198.18.81.21:8080/
# An address added while the engine runs: the engine notices within a second or so, and the
# replies to it from a NAT real server's port stay with the kernel too.
lab_exec lb ip addr add 198.18.81.77/24 dev eth0
check "the engine noticed the added address" lab_wait_for "$LB_LOG" "addresses changed" 5
check "a connection from that address to a NAT real server's port works" \
    lab_exec lb curl -s --max-time 3 --interface 198.18.81.77 http://198.18.81.21:8080/
stats=$(lab_exec lb "$bin" adm --control "$LAB_DIR/c.sock" --engine)
finished=$(echo "$stats" | sed -n 's/^  checksums_finished //p')
expect "unfinished checksums from local senders were told from the bytes and finished ($finished)" "${finished:-0}" -gt 0
replies=$(echo "$stats" | sed -n 's/^  nat_replies //p')
expect "NAT replies were translated by the engine ($replies)" "${replies:-0}" -gt 100

echo "-- exit and crash leave no program behind"
kill -TERM $LB_PID
wait $LB_PID
expect "exit status 0" $? -eq 0
check "no XDP program is left on the interface" test -z "$(lab_exec lb ip link show eth0 | grep prog/xdp)"
start_lb
kill -KILL $LB_PID
wait $LB_PID 2>/dev/null
sleep 0.5
check "after SIGKILL the kernel detached the program too (BPF link)" test -z "$(lab_exec lb ip link show eth0 | grep prog/xdp)"
start_lb
for _ in $(seq 20); do lab_exec client curl -s --max-time 3 "http://$vip/" || echo FAILED; done >"$LAB_DIR/again"
expect "restarted: 20 requests, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/again")" -eq 20
kill -TERM $LB_PID
wait $LB_PID

[ "$E2E_FAILED" -eq 0 ]
