#!/usr/bin/env bash
# Bulk TCP through the engine (issue 17): TCP super-packets forwarded whole, for the kernel to
# segment. One segment: a client, the balancer and two real servers; the client has a second
# address in a subnet routed through the balancer, so NAT's replies come back through it.
#   DR  198.18.150.100:5201 -> RIP:5201 (iperf3 upload; the replies skip the balancer)
#   NAT 198.18.150.101:5201 -> RIP:5203 (iperf3 upload and download), :80 -> RIP:80 (nginx)
# iperf3 transfers complete (speeds are the bench's, never asserted here; retransmits are
# logged), a 64 MiB download through NAT is byte-exact, and a small file fetched after it on the
# same keep-alive connection too (super-packets and small packets on one flow), while other
# connections come and go. The engine's counters: super-packets sent whole, none cut in software
# or dropped as too large.
. "$(dirname "$0")/prelude.sh"

lab_init sye2e-bulk
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT
command -v iperf3 >/dev/null || { echo "iperf3 missing (scripts/setup.sh installs it)"; exit 1; }

vip_dr=198.18.150.100
vip_nat=198.18.150.101
rip1=198.18.150.11
rip2=198.18.150.12
lab_switch
lab_host client eth0 198.18.150.10/24
lab_host lb eth0 198.18.150.2/24
lab_host web1 eth0 $rip1/24
lab_host web2 eth0 $rip2/24
# The client's second subnet, routed through the balancer: NAT's VIP is reached from there.
lab_exec lb sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
lab_exec lb ip addr add 198.18.151.1/24 dev eth0
lab_exec client ip addr add 198.18.151.10/24 dev eth0
lab_exec client ip route add $vip_nat/32 via 198.18.151.1 src 198.18.151.10

# The real servers: the DR VIP on lo, replies to the second subnet through the balancer, iperf3
# on 5201 (DR) and 5203 (NAT), nginx on 80 with the same 64 MiB and small files on both.
head -c 67108864 /dev/urandom >"$LAB_DIR/big64.bin"
head -c 1500 /dev/urandom >"$LAB_DIR/small.bin"
for rs in web1 web2; do
    lab_exec $rs env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$rs" sh "$root/scripts/realserver.sh" up $vip_dr >/dev/null
    lab_exec $rs ip route add 198.18.151.0/24 via 198.18.150.2
    lab_nginx $rs $rs
    ln "$LAB_DIR/big64.bin" "$LAB_DIR/nginx-$rs/www/big64.bin"
    ln "$LAB_DIR/small.bin" "$LAB_DIR/nginx-$rs/www/small.bin"
    for p in 5201 5203; do lab_bg $rs "$LAB_DIR/iperf3-$rs-$p.log" iperf3 -s -p $p; done
done

# iperf3 needs its control and data connections on one server: persistence keeps a client there.
cat >"$LAB_DIR/bulk.conf" <<CONF
virtual_server $vip_dr 5201 {
    lb_algo rr
    lb_kind DR
    persistence_timeout 60
    real_server $rip1 5201 { weight 1 }
    real_server $rip2 5201 { weight 1 }
}
virtual_server $vip_nat 5201 {
    lb_algo rr
    lb_kind NAT
    persistence_timeout 60
    real_server $rip1 5203 { weight 1 }
    real_server $rip2 5203 { weight 1 }
}
virtual_server $vip_nat 80 {
    lb_algo rr
    lb_kind NAT
    real_server $rip1 80 { weight 1 }
    real_server $rip2 80 { weight 1 }
}
CONF
control=$LAB_DIR/control.sock
lab_bg lb "$LAB_DIR/lb.log" "$bin" run --config "$LAB_DIR/bulk.conf" --control "$control" --workers 1
lb_pid=$LAB_LAST_PID
lab_wait_for "$LAB_DIR/lb.log" "ready:" 15 || { echo "balancer did not start:"; cat "$LAB_DIR/lb.log"; exit 1; }
# The servers listening (iperf3 prints nothing until its first test: wait for its sockets).
for rs in web1 web2; do
    for _ in $(seq 50); do
        [ "$(lab_exec $rs ss -Htln 'sport = :5201 or sport = :5203' | wc -l)" -ge 2 ] && break
        sleep 0.1
    done
done

# counters FILE: the engine's non-zero counters now; counter FILE NAME: one of them (absent: 0).
counters() { lab_exec lb "$bin" adm --control "$control" --engine >"$1"; }
counter() { awk -v n="$2" '$1 == n {v = $2} END {print v + 0}' "$1"; }
# log_counters FILE: the counters this test is about, into the log (cumulative since the start).
log_counters() {
    local n line=
    for n in tcp_gso_sent tcp_segmented drop_oversize drop_tx_failed drop_rx_ring_full; do line+=" $n=$(counter "$1" $n)"; done
    echo "       counters so far:$line"
}

# iperf_result JSON STATUS: "STATUS BYTES_RECEIVED RETRANSMITS" from iperf3's -J output.
iperf_result() {
    python3 - "$1" "$2" <<'PY'
import json, sys
try:
    e = json.load(open(sys.argv[1]))["end"]
    print(sys.argv[2], int(e["sum_received"]["bytes"]), e["sum_sent"].get("retransmits", "n/a"))
except Exception:
    print(sys.argv[2], 0, "n/a")
PY
}
# iperf JSON TARGET ARGS...: one bounded iperf3 run (-t 3) from the client, its -J output in JSON.
iperf() {
    local json=$1 target=$2
    shift 2
    lab_exec client timeout 20 iperf3 -c "$target" -p 5201 -t 3 --connect-timeout 3000 -J "$@" >"$json" 2>&1
}
# bulk_checks NAME JSON STATUS: the run finished and moved bytes; its retransmits go to the log.
bulk_checks() {
    local rc bytes retr
    read -r rc bytes retr < <(iperf_result "$2" "$3")
    expect "$1: iperf3 finished (status)" "$rc" -eq 0
    expect "$1: bytes received" "$bytes" -gt 0
    echo "       $1: $((bytes / 1048576)) MiB in 3 s, $retr retransmits"
    [ "$rc" -eq 0 ] || tail -n 5 "$2"
}
# bulk NAME TARGET ARGS...: iperf, then its checks.
bulk() {
    local json=$LAB_DIR/${1//[^a-zA-Z0-9]/_}.json
    iperf "$json" "${@:2}"
    bulk_checks "$1" "$json" $?
}

echo "-- DR upload (iperf3 -t 3): client -> VIP -> real server"
bulk "DR upload, 1 stream" $vip_dr
bulk "DR upload, 4 streams" $vip_dr -P 4
counters "$LAB_DIR/stats-dr"
log_counters "$LAB_DIR/stats-dr"
expect "DR: super-packets sent on whole (tcp_gso_sent)" "$(counter "$LAB_DIR/stats-dr" tcp_gso_sent)" -gt 0

echo "-- NAT upload and download (iperf3 -t 3, -R): client (second subnet) -> VIP -> real server"
bulk "NAT upload, 1 stream" $vip_nat
bulk "NAT upload, 4 streams" $vip_nat -P 4
bulk "NAT download, 1 stream" $vip_nat -R
# Other connections come and go through the same worker while 4 streams come down.
iperf "$LAB_DIR/nat-down-4.json" $vip_nat -R -P 4 &
dl=$!
sleep 0.3
for _ in $(seq 200); do
    kill -0 $dl 2>/dev/null || break
    lab_exec client curl -s --max-time 3 "http://$vip_nat/" || echo FAILED
done >"$LAB_DIR/during-iperf"
wait $dl
bulk_checks "NAT download, 4 streams" "$LAB_DIR/nat-down-4.json" $?
during=$(wc -l <"$LAB_DIR/during-iperf")
expect "meanwhile $during small requests on other connections, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/during-iperf")" -eq "$during"
expect "and there were some" "$during" -ge 10
counters "$LAB_DIR/stats-nat"
log_counters "$LAB_DIR/stats-nat"

echo "-- a 64 MiB download through NAT, then a small file on the same keep-alive connection"
# curl with two URLs reuses its connection: num_connects is 1 for the first transfer, 0 for the second.
lab_exec client curl -s --max-time 30 -w '%{http_code} %{num_connects}\n' \
    -o "$LAB_DIR/got-big" "http://$vip_nat/big64.bin" -o "$LAB_DIR/got-small" "http://$vip_nat/small.bin" >"$LAB_DIR/curl-w" &
dl=$!
for _ in $(seq 300); do
    kill -0 $dl 2>/dev/null || break
    lab_exec client curl -s --max-time 3 "http://$vip_nat/" || echo FAILED
done >"$LAB_DIR/during-curl"
wait $dl
expect "the download finished (curl status)" $? -eq 0
check "the 64 MiB download is byte-exact (sha256)" \
    test "$(sha256sum <"$LAB_DIR/got-big" | cut -d' ' -f1)" = "$(sha256sum <"$LAB_DIR/big64.bin" | cut -d' ' -f1)"
check "the small file after it is byte-exact (sha256)" \
    test "$(sha256sum <"$LAB_DIR/got-small" 2>/dev/null | cut -d' ' -f1)" = "$(sha256sum <"$LAB_DIR/small.bin" | cut -d' ' -f1)"
check "both answered 200, the second on the first's connection ($(tr '\n' ' ' <"$LAB_DIR/curl-w"))" \
    test "$(tr '\n' ' ' <"$LAB_DIR/curl-w")" = "200 1 200 0 "
during=$(wc -l <"$LAB_DIR/during-curl")
expect "meanwhile $during small requests on other connections, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/during-curl")" -eq "$during"

echo "-- the engine's counters"
counters "$LAB_DIR/stats"
check "the counter list was read" grep -q "^Engine counters" "$LAB_DIR/stats"
expect "super-packets were sent on whole (tcp_gso_sent)" "$(counter "$LAB_DIR/stats" tcp_gso_sent)" -gt 0
expect "none was cut in software (tcp_segmented)" "$(counter "$LAB_DIR/stats" tcp_segmented)" -eq 0
expect "none was dropped as too large (drop_oversize)" "$(counter "$LAB_DIR/stats" drop_oversize)" -eq 0
log_counters "$LAB_DIR/stats"

kill -TERM $lb_pid
wait $lb_pid
expect "exit status 0" $? -eq 0
[ "$E2E_FAILED" -eq 0 ]
