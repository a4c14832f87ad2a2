#!/usr/bin/env bash
# Health checks, the sorry server, `switchyard adm` and hot reload, end to end: a client, the
# balancer and three nginx (two real servers and a sorry server) on one segment, DR.
. "$(dirname "$0")/prelude.sh"

lab_init sye2e-hc
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT
vip=198.18.51.100
lab_switch
lab_host client eth0 198.18.51.10/24
lab_host lb eth0 198.18.51.2/24
for n in 1 2 3; do
    lab_host web$n eth0 198.18.51.2$n/24
    lab_exec web$n env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$n" sh "$root/scripts/realserver.sh" up $vip >/dev/null
done
lab_nginx web1 web1 "location /slow/ { alias $LAB_DIR/nginx-web1/www/; limit_rate 1m; }"
lab_nginx web2 web2 "location /slow/ { alias $LAB_DIR/nginx-web2/www/; limit_rate 1m; }"
lab_nginx web3 sorry

conf=$LAB_DIR/switchyard.conf
write_conf() { # write_conf WEIGHT2 [EXTRA_SERVICE]
    cat >"$conf" <<CONF
virtual_server $vip 80 {
    delay_loop 2
    lb_algo rr
    lb_kind DR
    sorry_server 198.18.51.23 80
    real_server 198.18.51.21 80 {
        weight 1
        notify_down "touch $LAB_DIR/web1-down"
        notify_up "touch $LAB_DIR/web1-up"
        HTTP_GET {
            url {
                path /
                status_code 200
            }
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
    real_server 198.18.51.22 80 {
        weight $1
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
}
${2:-}
CONF
}
write_conf 1
# The bound the issue sets: delay_loop + connect_timeout + retry x (delay_before_retry + connect_timeout) + 1 s.
bound=$((2 + 1 + 1 * (1 + 1) + 1))
control=$LAB_DIR/control.sock
lab_bg lb "$LAB_DIR/lb.log" "$bin" run --config "$conf" --control "$control" --workers 1
lb_pid=$LAB_LAST_PID
lab_wait_for "$LAB_DIR/lb.log" "ready:" 15 || { cat "$LAB_DIR/lb.log"; exit 1; }
adm() { lab_exec lb "$bin" adm --control "$control" "$@"; }
get() { lab_exec client curl -s --max-time 3 "http://$vip${1:-/}" || echo FAILED; }
listed() { adm -Ln | grep -c -- "-> $1:80 .*Route *$2 " ; }

echo "-- adm -Ln lays out ipvsadm's columns"
out=$(adm -Ln)
check "header as ipvsadm" grep -q "^Prot LocalAddress:Port Scheduler Flags$" <<<"$out"
check "service line" grep -q "^TCP  $vip:80 rr$" <<<"$out"
check "real server lines (Route, weight 1)" test "$(listed 198.18.51.21 1)$(listed 198.18.51.22 1)" = 11

echo "-- nginx stops on web1: out within the bound, no failed request after"
for _ in $(seq 20); do get; done >/dev/null
stopped=$(date +%s.%N)
lab_nginx_stop web1
gone=""
for i in $(seq 1 $((bound * 10 + 20))); do
    if [ "$(listed 198.18.51.21 1)" = 0 ]; then gone=$(date +%s.%N); break; fi
    sleep 0.1
done
elapsed=$(awk -v a="$stopped" -v b="${gone:-0}" 'BEGIN {printf "%d", (b > 0 ? (b - a) * 1000 : 999999)}')
expect "web1 left the pool within ${bound} s (ms)" "$elapsed" -le $((bound * 1000))
check "the log says why" grep -q "real server 198.18.51.21:80 of TCP $vip:80 is DOWN: HTTP_GET /: connect to 198.18.51.21:80: Connection refused" "$LAB_DIR/lb.log"
for _ in $(seq 40); do get; done >"$LAB_DIR/after-down"
expect "40 requests after that moment: none failed" "$(grep -cx web2 "$LAB_DIR/after-down")" -eq 40
check "notify_down ran" test -f "$LAB_DIR/web1-down"

echo "-- nginx starts again: web1 serves again"
lab_nginx web1 web1 "location /slow/ { alias $LAB_DIR/nginx-web1/www/; limit_rate 1m; }"
for i in $(seq 1 $((bound * 10 + 20))); do [ "$(listed 198.18.51.21 1)" = 1 ] && break; sleep 0.1; done
check "web1 is listed again" test "$(listed 198.18.51.21 1)" = 1
for _ in $(seq 20); do get; done >"$LAB_DIR/after-up"
expect "web1 answers again (rr: half of 20)" "$(grep -cx web1 "$LAB_DIR/after-up")" -ge 8
check "notify_up ran" test -f "$LAB_DIR/web1-up"

echo "-- every real server down: the sorry server answers"
lab_nginx_stop web1
lab_nginx_stop web2
for i in $(seq 1 $((bound * 10 + 20))); do adm -Ln | grep -q -- "-> 198.18.51.23:80" && break; sleep 0.1; done
for _ in $(seq 10); do get; done >"$LAB_DIR/sorry"
expect "10 requests answered by the sorry server" "$(grep -cx sorry "$LAB_DIR/sorry")" -eq 10
check "the log says the quorum was lost" grep -q "lost its quorum; the sorry server 198.18.51.23:80 answers" "$LAB_DIR/lb.log"
lab_nginx web1 web1 "location /slow/ { alias $LAB_DIR/nginx-web1/www/; limit_rate 1m; }"
lab_nginx web2 web2 "location /slow/ { alias $LAB_DIR/nginx-web2/www/; limit_rate 1m; }"
for i in $(seq 1 $((bound * 10 + 20))); do [ "$(listed 198.18.51.21 1)$(listed 198.18.51.22 1)" = 11 ] && break; sleep 0.1; done
for _ in $(seq 10); do get; done >"$LAB_DIR/back"
expect "back from sorry: the real servers answer" "$(grep -c '^web[12]$' "$LAB_DIR/back")" -eq 10

echo "-- adm -e -w 0 while a long download is on that server"
lab_exec client curl -s --max-time 30 -o "$LAB_DIR/download" "http://$vip/slow/big.bin" &
dl=$!
sleep 0.7
if lab_exec web1 ss -tn state established "( sport = :80 )" | grep -q 198.18.51.10; then busy=web1; busy_ip=198.18.51.21; other=web2
else busy=web2; busy_ip=198.18.51.22; other=web1; fi
adm -e -t $vip:80 -r $busy_ip:80 -g -w 0
check "adm -Ln shows weight 0" test "$(listed $busy_ip 0)" = 1
for _ in $(seq 30); do get; done >"$LAB_DIR/quiescent"
expect "30 new requests, all on the other server" "$(grep -cx $other "$LAB_DIR/quiescent")" -eq 30
wait $dl
expect "the download on the quiescent server completed" $? -eq 0
check "byte-exact" cmp -s "$LAB_DIR/download" "$LAB_DIR/nginx-$busy/www/big.bin"
adm -e -t $vip:80 -r $busy_ip:80 -w 1

echo "-- adm -d, then -a, at runtime"
adm -d -t $vip:80 -r 198.18.51.21:80
check "web1 is gone from the list" test "$(adm -Ln | grep -c 198.18.51.21)" = 0
for _ in $(seq 10); do get; done >"$LAB_DIR/deleted"
expect "10 requests, all web2" "$(grep -cx web2 "$LAB_DIR/deleted")" -eq 10
adm -a -t $vip:80 -r 198.18.51.21:80 -g -w 1
for _ in $(seq 10); do get; done >"$LAB_DIR/readded"
expect "after -a web1 serves again" "$(grep -cx web1 "$LAB_DIR/readded")" -ge 4
# As ipvsadm: a DR real server takes the service's port, so this one is already there (the
# kernel's refusal: its words, status 255); a parser refusal exits 2; a missing service 1.
out=$(adm -a -t $vip:80 -r 198.18.51.21:8080 -g -w 1 2>&1); status=$?
check "an existing real server gets ipvsadm's error and status" test "$out/$status" = "Destination already exists/255"
out=$(adm -A -t $vip 2>&1); status=$?
check "and a missing port ipvsadm's" test "$out/$status" = "Zero port specified for non-persistent service/2"
out=$(adm -C -t $vip:80 2>&1); status=$?
check "-C takes no service, as in ipvsadm" test "$out/$status" = "Illegal 'service-address' option with the 'flush' command/2"
out=$(adm -Ln -t $vip:99 2>&1); status=$?
check "-L of a missing service: No such service, status 1" test "$out/$status" = "No such service/1"
check "-L of one service has no version line" test "$(adm -Ln -t $vip:80 | head -1)" = "Prot LocalAddress:Port Scheduler Flags"
check "a bare adm lists the table, as ipvsadm" diff <(adm) <(adm -L)
check "adm -h is the usage, status 0" grep -q "^  --stats  *output of statistics information$" <<<"$(adm -h)"

echo "-- -S / -R round trip, --json, --set and --timeout, -Z"
adm -S >"$LAB_DIR/rules"
# As ipvsadm's -R, the rules are added to the running table: the same rules again are refused
# line by line (status 255, the last line's); after -C they come back whole.
out=$(lab_exec lb "$bin" adm --control "$control" -R <"$LAB_DIR/rules" 2>&1); status=$?
check "-R of rules already there: each line refused" test "$(grep -c "already exists" <<<"$out")/$status" = "$(wc -l <"$LAB_DIR/rules")/255"
adm -C
lab_exec lb "$bin" adm --control "$control" -R <"$LAB_DIR/rules"
check "-S after -C and -R prints the same rules" diff <(adm -S) "$LAB_DIR/rules"
# The restored real servers are new ones to the counters: give them connections to count.
for _ in $(seq 5); do get; done >"$LAB_DIR/restored"
expect "the restored service serves" "$(grep -c '^web[12]$' "$LAB_DIR/restored")" -eq 5
check "--json is valid JSON with the service" python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert d['services'][0]['port']==80" "$(adm -L --json)"
adm --set 600 60 120
check "--timeout shows what --set set" test "$(adm -L --timeout)" = "Timeout (tcp tcpfin udp): 600 60 120"
check "--stats counts connections" test "$(adm -L --stats | awk '/^TCP/ {print $3}')" -gt 0
check "--stats is ipvsadm's table alone" test "$(adm -L --stats | grep -c Engine)" = 0
check "--engine has the engine's counters" grep -q "^Engine counters (all workers):" <<<"$(adm --engine)"
checks_ok=$(adm --metrics | sed -n 's/^switchyard_health_checks_total{result="success"} //p')
expect "--metrics counts the health checks done (every check, not only changes)" "${checks_ok:-0}" -gt 2
adm -Z
check "-Z zeroes them" test "$(adm -L --stats | awk '/^TCP/ {print $3}')" -eq 0
out=$(lab_exec lb setpriv --reuid=65534 --regid=65534 --clear-groups "$bin" adm --control "$control" -Ln 2>&1)
check "a non-root client is denied" test $? -ne 0 -a -n "$(echo "$out" | grep -iE 'denied|permission')"

echo "-- reload under load (SIGHUP and adm --reload): zero failed requests"
(for _ in $(seq 300); do get; done >"$LAB_DIR/under-reload") &
loadpid=$!
sleep 0.3
write_conf 2 "virtual_server $vip 81 { lb_algo rr
    lb_kind DR
    real_server 198.18.51.22 81 { weight 1 } }"
kill -HUP $lb_pid
sleep 0.5
write_conf 1 "virtual_server $vip 81 { lb_algo mh
    lb_kind DR
    real_server 198.18.51.22 81 { weight 1 } }"
adm --reload
sleep 0.3
kill -HUP $lb_pid
wait $loadpid
expect "300 requests during three reloads, none failed" "$(grep -c '^web[12]$' "$LAB_DIR/under-reload")" -eq 300
check "the new service is there" grep -q "^TCP  $vip:81 mh$" <<<"$(adm -Ln)"
printf 'virtual_server %s 80 {\n  lb_kind DR\n  lb_algo nope\n}\n' $vip >"$conf"
out=$(adm --reload 2>&1)
check "a bad config is refused with its line and column" grep -q "reload refused, the running config stays: $conf:3:11: unknown scheduler" <<<"$out"
check "and the running config stays" grep -q "^TCP  $vip:81 mh$" <<<"$(adm -Ln)"
for _ in $(seq 10); do get; done >"$LAB_DIR/after-bad"
expect "requests still served after the refused reload" "$(grep -c '^web[12]$' "$LAB_DIR/after-bad")" -eq 10

kill -TERM $lb_pid
wait $lb_pid
expect "exit status 0" $? -eq 0
check "the control socket is removed" test ! -e "$control"
[ "$E2E_FAILED" -eq 0 ]
