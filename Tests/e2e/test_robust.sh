#!/usr/bin/env bash
# Robustness end to end (DR): a SYN flood far beyond the flow table's capacity while a download
# runs, a UDP flood to a VIP port with no service, and the engine killed with SIGKILL and
# restarted under a download. Floods are bounded in time; sources stay inside 198.18.0.0/16.
. "$(dirname "$0")/prelude.sh"

lab_init sye2e-rb
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT
vip=198.18.61.100
lab_switch
lab_host client eth0 198.18.61.10/24
lab_host lb eth0 198.18.61.2/24
for n in 1 2; do
    lab_host web$n eth0 198.18.61.2$n/24
    lab_exec web$n env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$n" sh "$root/scripts/realserver.sh" up $vip >/dev/null
    lab_nginx web$n web$n "location /slow/ { alias $LAB_DIR/nginx-web$n/www/; limit_rate 512k; }"
done
cat >"$LAB_DIR/sy.conf" <<CONF
global_defs {
    switchyard_flow_capacity 1024
}
virtual_server $vip 80 {
    lb_algo mh
    lb_kind DR
    delay_loop 1
    real_server 198.18.61.21 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
    real_server 198.18.61.22 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
CONF
start_lb() {
    LB_LOG=$LAB_DIR/lb-$RANDOM.log
    lab_bg lb "$LB_LOG" "$bin" run --config "$LAB_DIR/sy.conf" --workers 1 --control "$LAB_DIR/c.sock"
    LB_PID=$LAB_LAST_PID
    lab_wait_for "$LB_LOG" "ready:" 15 || { cat "$LB_LOG"; return 1; }
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$LB_PID/status"; }
start_lb
lb_mac=$(lab_exec lb cat /sys/class/net/eth0/address)
client_mac=$(lab_exec client cat /sys/class/net/eth0/address)

echo "-- SYN flood from 65536 sources (flow table: 1024 flows) while a download runs"
for _ in $(seq 20); do lab_exec client curl -s --max-time 3 "http://$vip/" >/dev/null; done
rss_before=$(rss_kb)
lab_exec client curl -s --max-time 60 -o "$LAB_DIR/dl1" "http://$vip/slow/big.bin" &
dl=$!
sleep 1
syn_flood client eth0 "$lb_mac" $vip 2000000
sleep 0.5
rss_after=$(rss_kb)
wait $dl
expect "the download during the flood finished" $? -eq 0
check "byte-exact" sh -c "cmp -s '$LAB_DIR/dl1' '$LAB_DIR/nginx-web1/www/big.bin' || cmp -s '$LAB_DIR/dl1' '$LAB_DIR/nginx-web2/www/big.bin'"
growth=$(( (rss_after - rss_before) * 1000 / rss_before ))
expect "RSS flat within 5% (growth in per mille; $rss_before -> $rss_after kB)" "$growth" -le 50
kill -0 $LB_PID
expect "the engine is alive" $? -eq 0
for _ in $(seq 20); do lab_exec client curl -s --max-time 3 "http://$vip/" || echo FAILED; done >"$LAB_DIR/after-flood"
expect "20 new requests after the flood, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/after-flood")" -eq 20

echo "-- UDP flood to a VIP port with no service"
cat >"$LAB_DIR/udp.cfg" <<CFG
{ $(mac_bytes $lb_mac), $(mac_bytes $client_mac), c16(0x0800),
  0x45, 0x00, c16(46), c16(0), c16(0x4000), 64, 17, csumip(14, 33),
  198, 18, 61, 10, 198, 18, 61, 100,
  drnd(2), c16(9999), c16(26), c16(0), fill(0x41, 18) }
CFG
lab_exec client timeout -s INT 2 trafgen -q -C -P 1 -o eth0 -i "$LAB_DIR/udp.cfg" -n 1000000 >/dev/null 2>&1
for _ in $(seq 10); do lab_exec client curl -s --max-time 3 "http://$vip/" || echo FAILED; done >"$LAB_DIR/after-udp"
expect "10 requests after the UDP flood, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/after-udp")" -eq 10
kill -TERM $LB_PID
wait $LB_PID
expect "clean exit after the floods" $? -eq 0
totals=$(grep -o 'totals: .*' "$LB_LOG")
echo "   $totals"
evicted=$(echo "$totals" | sed -n 's/.*flow_evictions=\([0-9]*\).*/\1/p')
expect "the eviction counter says what happened" "${evicted:-0}" -gt 100000
no_service=$(echo "$totals" | sed -n 's/.*drop_no_service=\([0-9]*\).*/\1/p')
expect "the UDP flood was counted as drop_no_service" "${no_service:-0}" -gt 10000

echo "-- malformed and hostile frames (29 kinds x 200) while HTTP requests run"
start_lb
(for _ in $(seq 150); do lab_exec client curl -s --max-time 3 "http://$vip/" || echo FAILED; done >"$LAB_DIR/under-hostile") &
load=$!
lab_exec client python3 "$here/hostile.py" eth0 "$lb_mac" $vip 198.18.61.10 200
wait $load
expect "150 requests meanwhile, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/under-hostile")" -eq 150
stats=$(lab_exec lb "$bin" adm --control "$LAB_DIR/c.sock" --engine)
for reason in drop_truncated_ipv4 drop_bad_ipv4_header drop_bad_ipv4_length drop_bad_ipv4_checksum drop_ip_fragment drop_bad_tcp_header \
              drop_no_service drop_truncated_icmp drop_icmp_no_flow; do
    check "adm --engine shows $reason" grep -qE "^  $reason [1-9]" <<<"$stats"
done

echo "-- the control socket fed garbage, huge input and nothing"
reply=$(lab_exec lb python3 -c "
import socket, sys
def ask(data):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    try:
        s.sendall(data); s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    out = b''
    while True:
        b = s.recv(65536)
        if not b: break
        out += b
    return out.decode(errors='replace').splitlines()[0:2]
print(ask(bytes(range(256)) * 4))
print(ask(b'x' * (2 << 20)))
print(ask(b''))
print(ask(b'-Ln\n'))
" "$LAB_DIR/c.sock")
check "garbage gets an error" grep -q "ERROR" <<<"$(sed -n 1p <<<"$reply")"
check "huge input is refused" grep -q "larger than" <<<"$(sed -n 2p <<<"$reply")"
check "an empty request gets an error" grep -q "ERROR" <<<"$(sed -n 3p <<<"$reply")"
check "and the daemon still answers" grep -q "'OK'" <<<"$(sed -n 4p <<<"$reply")"

echo "-- the config reloaded in a loop under load"
(for _ in $(seq 150); do lab_exec client curl -s --max-time 3 "http://$vip/" || echo FAILED; done >"$LAB_DIR/under-reloads") &
load=$!
for _ in $(seq 15); do kill -HUP $LB_PID; sleep 0.2; done
wait $load
expect "150 requests during 15 reloads, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/under-reloads")" -eq 150

echo "-- the balancer's interface down and up"
lab_exec lb ip link set eth0 down
sleep 2
lab_exec lb ip link set eth0 up
sleep 2
for _ in $(seq 20); do lab_exec client curl -s --max-time 3 "http://$vip/" || echo FAILED; done >"$LAB_DIR/after-link"
expect "20 requests after the interface came back, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/after-link")" -eq 20
kill -0 $LB_PID
expect "the engine kept running" $? -eq 0
kill -TERM $LB_PID
wait $LB_PID

echo "-- a real server crashes (SIGKILL) under a download"
start_lb
lab_exec client curl -s --max-time 60 -o "$LAB_DIR/dl3" "http://$vip/slow/big.bin" &
dl=$!
sleep 1
if lab_exec web1 ss -tn state established "( sport = :80 )" | grep -q 198.18.61.10; then dead=web1; else dead=web2; fi
# SIGKILL the master and its workers at once (the workers' command line names no config).
master=$(cat "$LAB_DIR/nginx-$dead/nginx.pid")
kill -9 $(pgrep -P "$master") "$master"
rm -f "$LAB_DIR/nginx-$dead/nginx.pid"
wait $dl
expect "the download from the crashed server fails, as it must (curl status)" $? -ne 0
# The bound: delay_loop 1 + connect_timeout 1 + retry 0 x (...) = 2 s; then one more second.
sleep 3
for _ in $(seq 20); do lab_exec client curl -s --max-time 3 "http://$vip/" || echo FAILED; done >"$LAB_DIR/after-crash"
expect "20 requests after the health check's bound, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/after-crash")" -eq 20
lab_nginx $dead $dead "location /slow/ { alias $LAB_DIR/nginx-$dead/www/; limit_rate 512k; }"
kill -TERM $LB_PID
wait $LB_PID

echo "-- SIGKILL under a download, restart: the DR connection survives (Maglev, same real servers)"
start_lb
lab_exec client curl -s --max-time 60 -o "$LAB_DIR/dl2" "http://$vip/slow/big.bin" &
dl=$!
sleep 2
kill -KILL $LB_PID
wait $LB_PID 2>/dev/null
sleep 1
start_lb
wait $dl
expect "the download across the restart finished" $? -eq 0
check "byte-exact" sh -c "cmp -s '$LAB_DIR/dl2' '$LAB_DIR/nginx-web1/www/big.bin' || cmp -s '$LAB_DIR/dl2' '$LAB_DIR/nginx-web2/www/big.bin'"
check "the restart replaced the guard table a killed engine left" grep -q "kernel guard: nftables table" "$LB_LOG"
kill -TERM $LB_PID
wait $LB_PID
expect "clean exit" $? -eq 0
check "and no guard table is left" test -z "$(lab_exec lb nft list tables | grep switchyard)"
[ "$E2E_FAILED" -eq 0 ]
