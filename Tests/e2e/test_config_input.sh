#!/usr/bin/env bash
# Config input that is not a config a person wrote, end to end: a directory, blocks nested
# 100,000 deep, a NAT service listed by `check`; and a running daemon given the first two by
# `adm --reload`, which must refuse them, keep its table and keep forwarding. Also
# --log-level: debug lines only when asked for. One segment, DR, one nginx.
. "$(dirname "$0")/prelude.sh"

lab_init sye2e-cfg
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT
vip=198.18.53.100
lab_switch
lab_host client eth0 198.18.53.10/24
lab_host lb eth0 198.18.53.2/24
lab_host web1 eth0 198.18.53.21/24
lab_exec web1 env SWITCHYARD_STATE_DIR="$LAB_DIR/state-1" sh "$root/scripts/realserver.sh" up $vip >/dev/null
lab_nginx web1 web1

conf=$LAB_DIR/switchyard.conf
write_conf() {
    printf 'virtual_server %s 80 {\n  lb_algo rr\n  lb_kind DR\n  real_server 198.18.53.21 80 { weight 1 }\n}\n' $vip >"$conf"
}
deep=$LAB_DIR/deep.conf
python3 -c 'import sys; sys.stdout.write("a {\n" * 100000 + "}\n" * 100000)' >"$deep"

echo "-- check"
out=$("$bin" check --config "$LAB_DIR" 2>&1)
check "a directory is refused" test $? -eq 1
check "and says so" test "$out" = "$LAB_DIR:0:0: is a directory; give the config file itself"
out=$("$bin" check --config "$deep" 2>&1)
rc=$?
expect "100,000 nested blocks: exit 1, no crash" $rc -eq 1
check "with the place of the brace too deep" test "$out" = "$deep:65:3: blocks nest more than 64 deep here; keepalived's own configs nest about 4 (is a '}' missing?)"
printf 'virtual_server %s 80 {\n  lb_kind NAT\n  real_server 198.18.53.21 8080 { weight 2 }\n}\n' $vip >"$LAB_DIR/nat.conf"
out=$("$bin" check --config "$LAB_DIR/nat.conf" 2>/dev/null)
check "NAT real servers are listed as Masq, in adm's columns" grep -q "^  -> 198.18.53.21:8080            Masq    2$" <<<"$out"
check "at info level check logs nothing" test -z "$("$bin" check --config "$LAB_DIR/nat.conf" 2>&1 >/dev/null)"
check "at debug level it says what it read" grep -q "switchyard debug: config $LAB_DIR/nat.conf:3:3:   real server 198.18.53.21:8080 weight 2" \
    <<<"$("$bin" check --config "$LAB_DIR/nat.conf" --log-level debug 2>&1 >/dev/null)"

echo "-- a running daemon given them by adm --reload"
write_conf
control=$LAB_DIR/control.sock
lab_bg lb "$LAB_DIR/lb.log" "$bin" run --config "$conf" --control "$control" --workers 1 --log-level debug
lb_pid=$LAB_LAST_PID
lab_wait_for "$LAB_DIR/lb.log" "ready:" 15 || { cat "$LAB_DIR/lb.log"; exit 1; }
adm() { lab_exec lb "$bin" adm --control "$control" "$@"; }
get() { lab_exec client curl -s --max-time 3 "http://$vip/" || echo FAILED; }
check "--log-level debug: the daemon logs what it read" grep -q "switchyard debug: config $conf:1:1: TCP $vip:80 rr DR" "$LAB_DIR/lb.log"
check "and info lines keep their format" grep -qE "^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} switchyard info: ready: " "$LAB_DIR/lb.log"
cp "$deep" "$conf"
out=$(adm --reload 2>&1)
check "deep nesting: reload refused with the place" grep -q "reload refused, the running config stays: $conf:65:3: blocks nest" <<<"$out"
check "the daemon is still running" kill -0 "$lb_pid"
rm "$conf"
mkdir "$conf"
out=$(adm --reload 2>&1)
check "a directory: reload refused" grep -q "reload refused, the running config stays: $conf:0:0: is a directory" <<<"$out"
check "and the running table stays" grep -q "^TCP  $vip:80 rr$" <<<"$(adm -Ln)"
for _ in $(seq 10); do get; done >"$LAB_DIR/after"
expect "requests still served" "$(grep -c '^web1$' "$LAB_DIR/after")" -eq 10
rmdir "$conf"
write_conf

kill -TERM $lb_pid
wait $lb_pid
expect "exit status 0" $? -eq 0
[ "$E2E_FAILED" -eq 0 ]
