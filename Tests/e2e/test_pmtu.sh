#!/usr/bin/env bash
# Path MTU discovery through the balancer (issue 17): a super-packet to a real server behind a
# smaller MTU gets ICMP fragmentation needed as the kernel would send it. Two-arm NAT: the client
# and the balancer's wan0 on a 9000-byte segment, the balancer's lan0 on a 1500-byte one, the
# real server's own interface at 9000 there (it advertises MSS 8960, so the client sends 8948-byte
# segments: a hop smaller than both ends, which only PMTUD finds). An upload must complete
# byte-exact, the balancer drop the too-large frames and answer each sender with type 3 code 4
# naming 1500 from the VIP, and the client's route cache learn it. With lan0 at 9000 too, the
# same upload goes through without any such answer. The same over IPv6 (NAT66): ICMPv6 Packet
# Too Big naming 1500, and the client's route cache learning it.
. "$(dirname "$0")/prelude.sh"

lab_init sye2e-pmtu
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT

vip=198.18.160.100
vip2=198.18.160.101
rip=198.18.161.11
vip6=2001:db8:160::100
rip6=2001:db8:161::11
lab_switch out
lab_switch in
lab_host client eth0 198.18.160.10/24 out
lab_host lb wan0 198.18.160.2/24 out
lab_exec lb ip link add lan0 type veth peer name x$$
lab_exec lb ip link set x$$ netns "$(lab_ns in)"
lab_exec in ip link set x$$ master br0 up
lab_exec lb ip addr add 198.18.161.1/24 dev lan0
lab_exec lb ip link set lan0 up
lab_exec lb sysctl -qw net.ipv4.ip_forward=1
lab_host web1 eth0 $rip/24 in
lab_exec web1 env SWITCHYARD_STATE_DIR="$LAB_DIR/state-web1" sh "$root/scripts/realserver.sh" gateway 198.18.161.1 >/dev/null
# The MTUs: 9000 on the client's segment (both ends and their switch ports), 9000 on the real
# server and its switch port; lan0 and its port stay at 1500.
lab_exec client ip link set eth0 mtu 9000
lab_exec lb ip link set wan0 mtu 9000
lab_exec out ip link set client mtu 9000
lab_exec out ip link set lb mtu 9000
lab_exec web1 ip link set eth0 mtu 9000
lab_exec in ip link set web1 mtu 9000
lab_ipv6 client eth0 2001:db8:160::10/64
lab_ipv6 lb wan0 2001:db8:160::2/64
lab_ipv6 lb lan0 2001:db8:161::1/64
lab_ipv6 web1 eth0 $rip6/64
lab_exec web1 env SWITCHYARD_STATE_DIR="$LAB_DIR/state-web1" sh "$root/scripts/realserver.sh" gateway 2001:db8:161::1 >/dev/null
# The balancer solicits web1 from lan0's link-local address: no longer tentative.
for _ in $(seq 50); do [ -z "$(lab_exec lb ip -6 addr show tentative)" ] && break; sleep 0.1; done

# The sink on the real server: per connection, reads to EOF and answers "BYTES SHA256".
cat >"$LAB_DIR/sink.py" <<'PY'
import hashlib, socket
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 5001))
s.listen(8)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.settimeout(20)
    h, n = hashlib.sha256(), 0
    try:
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            h.update(b)
            n += len(b)
        c.sendall(f"{n} {h.hexdigest()}\n".encode())
    except OSError as e:
        print("error", e, flush=True)
    c.close()
PY
# upload VIP: 8 MiB from the client, bounded (15 s); prints the sink's answer.
head -c 8388608 /dev/urandom >"$LAB_DIR/up.bin"
want="8388608 $(sha256sum <"$LAB_DIR/up.bin" | cut -d' ' -f1)"
upload() {
    lab_exec client timeout 20 python3 - "$1" "$LAB_DIR/up.bin" <<'PY'
import socket, sys
c = socket.create_connection((sys.argv[1], 5001), timeout=15)
print("mss", c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG), file=sys.stderr)
c.sendall(open(sys.argv[2], "rb").read())
c.shutdown(socket.SHUT_WR)
print(c.makefile().readline().strip())
PY
}
# The ICMP the client receives (a raw socket sees a copy of each):
# "SRC TYPE CODE MTU QUOTED_DST QUOTED_PROTO QUOTED_DPORT QUOTED_BYTES".
cat >"$LAB_DIR/icmp.py" <<'PY'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
print("listening", flush=True)
while True:
    p = s.recv(65535)
    l3 = (p[0] & 15) * 4
    t, c, mtu = p[l3], p[l3 + 1], struct.unpack("!H", p[l3 + 6:l3 + 8])[0]
    q = p[l3 + 8:]
    ql = (q[0] & 15) * 4 if q else 0
    quoted = f"{socket.inet_ntoa(q[16:20])} {q[9]} {struct.unpack('!H', q[ql + 2:ql + 4])[0]}" if len(q) >= ql + 4 >= 24 else "- - -"
    print(socket.inet_ntoa(p[12:16]), t, c, mtu, quoted, len(q), flush=True)
PY
# The ICMPv6 errors the client receives: "SRC TYPE CODE MTU QUOTED_DST QUOTED_NH QUOTED_DPORT".
cat >"$LAB_DIR/icmp6.py" <<'PY'
import ipaddress, socket, struct
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
print("listening", flush=True)
while True:
    p, a = s.recvfrom(65535)
    if p[0] >= 128:
        continue
    q = p[8:]
    quoted = f"{ipaddress.IPv6Address(q[24:40])} {q[6]} {struct.unpack('!H', q[42:44])[0]}" if len(q) >= 44 else "- - -"
    print(a[0], p[0], p[1], struct.unpack("!I", p[4:8])[0], quoted, flush=True)
PY
lab_bg web1 "$LAB_DIR/sink.log" python3 "$LAB_DIR/sink.py"
lab_wait_for "$LAB_DIR/sink.log" listening 5 || { echo "sink did not start"; exit 1; }
lab_bg client "$LAB_DIR/icmp.log" python3 "$LAB_DIR/icmp.py"
lab_wait_for "$LAB_DIR/icmp.log" listening 5 || { echo "ICMP listener did not start"; exit 1; }
lab_bg client "$LAB_DIR/icmp6.log" python3 "$LAB_DIR/icmp6.py"
lab_wait_for "$LAB_DIR/icmp6.log" listening 5 || { echo "ICMPv6 listener did not start"; exit 1; }

cat >"$LAB_DIR/pmtu.conf" <<CONF
virtual_server $vip 5001 {
    lb_algo rr
    lb_kind NAT
    real_server $rip 5001 { weight 1 }
}
virtual_server $vip2 5001 {
    lb_algo rr
    lb_kind NAT
    real_server $rip 5001 { weight 1 }
}
virtual_server $vip6 5001 {
    lb_algo rr
    lb_kind NAT
    real_server $rip6 5001 { weight 1 }
}
CONF
control=$LAB_DIR/control.sock
start_lb() {
    lab_bg lb "$LAB_DIR/$1" "$bin" run --config "$LAB_DIR/pmtu.conf" --control "$control" --workers 1
    lb_pid=$LAB_LAST_PID
    lab_wait_for "$LAB_DIR/$1" "ready:" 15 || { echo "balancer did not start:"; cat "$LAB_DIR/$1"; exit 1; }
}
counters() { lab_exec lb "$bin" adm --control "$control" --engine >"$1"; }
counter() { awk -v n="$2" '$1 == n {v = $2} END {print v + 0}' "$1"; }
stop_lb() {
    kill -TERM $lb_pid
    wait $lb_pid
    expect "$1: exit status 0" $? -eq 0
}

echo "-- wan0 at 9000, lan0 at 1500: an upload to a real server at 9000 behind lan0"
start_lb lb.log
got=$(upload $vip 2>"$LAB_DIR/upload.err")
expect "the 8 MiB upload completed byte-exact ($got)" "$([ "$got" = "$want" ] && echo 1 || echo 0)" -eq 1
expect "the client's segments were sized for the real server's 9000 (MSS)" "$(sed -n 's/^mss //p' "$LAB_DIR/upload.err")" -eq 8948
counters "$LAB_DIR/stats"
frag_sent=$(counter "$LAB_DIR/stats" icmp_frag_needed_sent)
frag_drop=$(counter "$LAB_DIR/stats" drop_frag_needed)
echo "       icmp_frag_needed_sent=$frag_sent drop_frag_needed=$frag_drop tcp_gso_sent=$(counter "$LAB_DIR/stats" tcp_gso_sent)"
expect "the too-large frames were dropped (drop_frag_needed)" "$frag_drop" -gt 0
expect "and answered (icmp_frag_needed_sent)" "$frag_sent" -gt 0
expect "no more answers than drops" "$frag_sent" -le "$frag_drop"
sleep 0.2
frags=$(awk '$2 == 3 && $3 == 4' "$LAB_DIR/icmp.log")
expect "the client received fragmentation needed (type 3 code 4)" "$(echo -n "$frags" | grep -c .)" -gt 0
expect "each from the VIP, naming MTU 1500, quoting a TCP packet to VIP:5001" \
    "$(echo -n "$frags" | awk -v v=$vip '!($1 == v && $4 == 1500 && $5 == v && $6 == 6 && $7 == 5001)' | grep -c .)" -eq 0
# As the kernel's icmp_send: as much of the packet as fits a 576-byte answer (the upload's
# segments are all larger).
expect "each quoting 548 bytes of the packet, as the kernel quotes" \
    "$(echo -n "$frags" | awk '$8 != 548' | grep -c .)" -eq 0
expect "no other ICMP reached the client" "$(grep -vc '^listening' "$LAB_DIR/icmp.log")" -eq "$(echo -n "$frags" | grep -c .)"
route=$(lab_exec client ip route get $vip)
echo "       client: $(echo "$route" | tr -s ' \n' ' ')"
check "the client's route cache learned mtu 1500 for the VIP" grep -q "cache.* mtu 1500" <<<"$route"
got=$(upload $vip 2>/dev/null)
expect "a second upload on the learned MTU completed byte-exact" "$([ "$got" = "$want" ] && echo 1 || echo 0)" -eq 1
counters "$LAB_DIR/stats2"
expect "and was not refused again (drop_frag_needed unchanged)" "$(counter "$LAB_DIR/stats2" drop_frag_needed)" -eq "$frag_drop"

echo "-- the same over IPv6 (NAT66): Packet Too Big"
got=$(upload $vip6 2>"$LAB_DIR/upload6.err")
expect "the 8 MiB upload over IPv6 completed byte-exact ($got)" "$([ "$got" = "$want" ] && echo 1 || echo 0)" -eq 1
expect "the client's segments were sized for the real server's 9000 (MSS)" "$(sed -n 's/^mss //p' "$LAB_DIR/upload6.err")" -eq 8928
counters "$LAB_DIR/stats6"
expect "the too-large frames were dropped and answered (drop_frag_needed, icmp_frag_needed_sent)" \
    "$(( $(counter "$LAB_DIR/stats6" icmp_frag_needed_sent) > frag_sent && $(counter "$LAB_DIR/stats6" drop_frag_needed) > frag_drop ))" -eq 1
sleep 0.2
ptb=$(awk '$2 == 2 && $3 == 0' "$LAB_DIR/icmp6.log")
expect "the client received Packet Too Big (type 2)" "$(echo -n "$ptb" | grep -c .)" -gt 0
expect "each from the VIP, naming MTU 1500, quoting a TCP packet to [VIP]:5001" \
    "$(echo -n "$ptb" | awk -v v=$vip6 '!($1 == v && $4 == 1500 && $5 == v && $6 == 6 && $7 == 5001)' | grep -c .)" -eq 0
route=$(lab_exec client ip -6 route get $vip6)
echo "       client: $(echo "$route" | tr -s ' \n' ' ')"
check "the client's route cache learned mtu 1500 for the IPv6 VIP" grep -q "mtu 1500" <<<"$route"
stop_lb "1500 behind"

echo "-- lan0 at 9000 too: the same upload to another VIP (no learned MTU), nothing refused"
lab_exec lb ip link set lan0 mtu 9000
lab_exec in ip link set x$$ mtu 9000
icmp_seen=$(wc -l <"$LAB_DIR/icmp.log")
start_lb lb2.log
got=$(upload $vip2 2>"$LAB_DIR/upload2.err")
expect "the 8 MiB upload completed byte-exact" "$([ "$got" = "$want" ] && echo 1 || echo 0)" -eq 1
expect "again with MSS 8948" "$(sed -n 's/^mss //p' "$LAB_DIR/upload2.err")" -eq 8948
counters "$LAB_DIR/stats3"
expect "its super-packets went on whole (tcp_gso_sent)" "$(counter "$LAB_DIR/stats3" tcp_gso_sent)" -gt 0
expect "nothing dropped as too large (drop_frag_needed)" "$(counter "$LAB_DIR/stats3" drop_frag_needed)" -eq 0
expect "no fragmentation needed sent (icmp_frag_needed_sent)" "$(counter "$LAB_DIR/stats3" icmp_frag_needed_sent)" -eq 0
expect "none reached the client" "$(tail -n +$((icmp_seen + 1)) "$LAB_DIR/icmp.log" | awk '$2 == 3 && $3 == 4' | wc -l)" -eq 0
check "the client's route has no learned mtu for it" test -z "$(lab_exec client ip route get $vip2 | grep 'mtu')"
stop_lb "all 9000"

[ "$E2E_FAILED" -eq 0 ]
