#!/usr/bin/env bash
# SSL_GET, SMTP_CHECK, DNS_CHECK and UDP_CHECK end to end, against real services: nginx over TLS,
# a small SMTP server, dnsmasq and a UDP echo, all on one real server behind a one-arm NAT
# balancer (the client's subnet is routed through it). Each service starts down (alpha) and is
# listed once its checker passed; each is stopped, leaves the table with its reason logged, and
# two come back when started again.
. "$(dirname "$0")/prelude.sh"

lab_init sye2e-ck
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT

vip=198.18.73.100
rip=198.18.73.11
lab_switch
lab_host client eth0 198.18.74.10/24
lab_host lb eth0 198.18.73.2/24
lab_exec lb ip addr add 198.18.74.1/24 dev eth0
lab_exec lb sysctl -qw net.ipv4.ip_forward=1
lab_exec client ip route add default via 198.18.74.1
lab_host web1 eth0 $rip/24
lab_exec web1 env SWITCHYARD_STATE_DIR="$LAB_DIR/state-web1" sh "$root/scripts/realserver.sh" gateway 198.18.73.2 >/dev/null

# The services. nginx: TLS on 443 with a self-signed certificate (the checker verifies none).
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test \
    -keyout "$LAB_DIR/key.pem" -out "$LAB_DIR/cert.pem" >/dev/null 2>&1
tls="listen 443 ssl; ssl_certificate $LAB_DIR/cert.pem; ssl_certificate_key $LAB_DIR/key.pem;"
start_nginx() { lab_nginx web1 web1 "$tls"; }
start_dns() {
    lab_bg web1 "$LAB_DIR/dnsmasq.log" dnsmasq --no-daemon --port=53 --listen-address=$rip --bind-interfaces \
        --no-resolv --no-hosts --address=/www.example/198.18.99.7 --user=root --pid-file="$LAB_DIR/dnsmasq.pid" --log-queries
    dns_pid=$LAB_LAST_PID
}
# SMTP: a two-line greeting (the checker must read it whole), 250 to HELO/EHLO, 221 to QUIT; each command logged.
cat >"$LAB_DIR/smtp.py" <<'PY'
import socketserver, sys
class Session(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220-smtp.test ESMTP\r\n220 ready\r\n")
        for line in self.rfile:
            print(line.decode(errors="replace").strip(), flush=True)
            verb = line[:4].upper()
            if verb in (b"HELO", b"EHLO"):
                self.wfile.write(b"250 smtp.test\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"502 not here\r\n")
socketserver.ThreadingTCPServer.allow_reuse_address = True
server = socketserver.ThreadingTCPServer((sys.argv[1], int(sys.argv[2])), Session)
server.daemon_threads = True
print("listening", flush=True)
server.serve_forever()
PY
start_smtp() { lab_bg web1 "$LAB_DIR/smtp.log" python3 "$LAB_DIR/smtp.py" $rip 25; smtp_pid=$LAB_LAST_PID; }
start_udp() { lab_bg web1 "$LAB_DIR/udp.log" python3 "$here/udp_server.py" echo $rip 9000 "$LAB_DIR/udp-seen"; udp_pid=$LAB_LAST_PID; }
start_nginx
start_dns
start_smtp
start_udp
lab_wait_for "$LAB_DIR/smtp.log" listening 10
lab_wait_for "$LAB_DIR/udp-seen" listening 10
lab_wait_for "$LAB_DIR/dnsmasq.log" started 10

# One service per checker, each starting down until its checker first passes (alpha). The UDP
# check's reply must begin "echo " (udp_server.py answers its name, a space and the payload).
conf=$LAB_DIR/checkers.conf
cat >"$conf" <<CONF
virtual_server $vip 443 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    alpha
    real_server $rip 443 {
        weight 1
        SSL_GET {
            url {
                path /
                status_code 200
            }
            connect_timeout 1
            retry 0
        }
    }
}
virtual_server $vip 25 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    alpha
    real_server $rip 25 {
        weight 1
        SMTP_CHECK {
            helo_name checker.switchyard.test
            connect_timeout 1
            retry 0
        }
    }
}
virtual_server $vip 53 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol UDP
    alpha
    real_server $rip 53 {
        weight 1
        DNS_CHECK {
            type A
            name www.example
            connect_timeout 1
            retry 0
        }
    }
}
virtual_server $vip 9000 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol UDP
    alpha
    real_server $rip 9000 {
        weight 1
        UDP_CHECK {
            payload 73 77 69 74 63 68 79 61 72 64
            require_reply 6563686f20
            connect_timeout 1
            retry 0
        }
    }
}
CONF
check "the config is valid (check --strict)" "$bin" check --strict --config "$conf"
control=$LAB_DIR/control.sock
lab_bg lb "$LAB_DIR/lb.log" "$bin" run --config "$conf" --control "$control" --workers 1
lb_pid=$LAB_LAST_PID
lab_wait_for "$LAB_DIR/lb.log" "ready:" 15 || { echo "balancer did not start:"; cat "$LAB_DIR/lb.log"; exit 1; }
adm() { lab_exec lb "$bin" adm --control "$control" "$@"; }
listed() { adm -Ln | grep -c -- "-> $rip:$1 .*Masq"; }
# wait_listed PORT 1|0: up to 15 s for the real server on PORT to be listed (1) or gone (0).
wait_listed() {
    local deadline=$((SECONDS + 15))
    while [ "$(listed "$1")" != "$2" ]; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.2
    done
}
# says PORT PROTO UP|DOWN REASON_ERE: the balancer logged that change with that reason.
says() { grep -qE "real server $rip:$1 of $2 $vip:$1 is $3: $4" "$LAB_DIR/lb.log"; }

echo "-- every checker passes: every real server is listed"
check "SSL_GET: $rip:443 listed" wait_listed 443 1
check "SMTP_CHECK: $rip:25 listed" wait_listed 25 1
check "DNS_CHECK: $rip:53 listed" wait_listed 53 1
check "UDP_CHECK: $rip:9000 listed" wait_listed 9000 1
check "the log says SSL_GET brought it up" says 443 TCP UP "SSL_GET succeeded"
check "the log says SMTP_CHECK brought it up" says 25 TCP UP "SMTP_CHECK succeeded"
check "the log says DNS_CHECK brought it up" says 53 UDP UP "DNS_CHECK succeeded"
check "the log says UDP_CHECK brought it up" says 9000 UDP UP "UDP_CHECK succeeded"
check "nginx logged the checker's GET over TLS (status 200)" grep -qx "198.18.73.2 $rip 200" "$(lab_nginx_log web1)"
check "the SMTP server was greeted with helo_name" grep -qx "HELO checker.switchyard.test" "$LAB_DIR/smtp.log"
check "and told QUIT" grep -qx "QUIT" "$LAB_DIR/smtp.log"
check "dnsmasq was asked for www.example's A record" grep -q "query\[A\] www.example from 198.18.73.2" "$LAB_DIR/dnsmasq.log"
check "the UDP server got the checker's datagrams" grep -q "^198.18.73.2 " "$LAB_DIR/udp-seen"

echo "-- the services through the VIP (NAT)"
check "curl -k https://VIP/ answers web1" test "$(lab_exec client curl -sk --max-time 3 "https://$vip/")" = web1
check "dig @VIP www.example answers 198.18.99.7" \
    test "$(lab_exec client dig @$vip www.example +short +tries=2 +time=1)" = 198.18.99.7
check "SMTP through the VIP: HELO answered 250" test "$(lab_exec client python3 -c "
import smtplib; s = smtplib.SMTP('$vip', 25, timeout=3); print(s.helo('client.test')[0]); s.quit()")" = 250
check "UDP through the VIP: echoed by the real server" test "$(lab_exec client python3 "$here/udp_client.py" $vip 9000 3 | sort -u)" = echo

echo "-- each service stops: its real server leaves the table, the log says why"
# A probe already under way when its server dies sees the connection end instead of a refusal:
# the reason may name either.
inflight="closed the connection|reset by peer|failed"
nginx_pid=$(cat "$LAB_DIR/nginx-web1/nginx.pid")
lab_nginx_stop web1
check "SSL_GET: $rip:443 gone" wait_listed 443 0
check "the log says SSL_GET found nothing on 443" says 443 TCP DOWN "SSL_GET /: (connect to $rip:443: Connection refused|.*($inflight))"
kill "$smtp_pid"
check "SMTP_CHECK: $rip:25 gone" wait_listed 25 0
check "the log says SMTP_CHECK found nothing on 25" says 25 TCP DOWN "SMTP_CHECK: (connect to $rip:25: Connection refused|.*($inflight))"
kill "$dns_pid"
check "DNS_CHECK: $rip:53 gone" wait_listed 53 0
check "the log says DNS_CHECK's query was refused" says 53 UDP DOWN "DNS_CHECK: ($rip:53: Connection refused|no answer from $rip:53)"
kill "$udp_pid"
check "UDP_CHECK: $rip:9000 gone" wait_listed 9000 0
check "the log says UDP_CHECK's datagram was refused" says 9000 UDP DOWN "UDP_CHECK: ($rip:9000: Connection refused|no reply from $rip:9000)"
check "the four services stay, with no real server" test "$(adm -Ln | grep -c '^[TU][CD]P ')/$(adm -Ln | grep -c -- "-> $rip:")" = 4/0
# dig's +short still prints its errors; status 9 is "no reply from any server".
lab_exec client dig @$vip www.example +short +tries=1 +time=1 >"$LAB_DIR/dig-down"
expect "dig @VIP now gets no reply (dig's status)" $? -eq 9
check "and no answer" test "$(grep -c 198.18.99.7 "$LAB_DIR/dig-down")" = 0

echo "-- nginx and dnsmasq start again: back in the table"
for _ in $(seq 50); do kill -0 "$nginx_pid" 2>/dev/null || break; sleep 0.1; done
start_nginx
start_dns
check "SSL_GET: $rip:443 listed again" wait_listed 443 1
check "DNS_CHECK: $rip:53 listed again" wait_listed 53 1
check "curl -k https://VIP/ answers web1 again" test "$(lab_exec client curl -sk --max-time 3 "https://$vip/")" = web1
check "dig @VIP answers again" test "$(lab_exec client dig @$vip www.example +short +tries=2 +time=1)" = 198.18.99.7
check "SMTP_CHECK and UDP_CHECK keep theirs out" test "$(listed 25)$(listed 9000)" = 00

kill -TERM $lb_pid
wait $lb_pid
expect "exit status 0" $? -eq 0
[ "$E2E_FAILED" -eq 0 ]
