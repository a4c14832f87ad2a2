#!/usr/bin/env bash
# The HTTP listener end to end: `switchyard passwd`, sign-in (401, a viewer, an operator),
# /metrics moving by the traffic sent through the VIP, /status.json, the checks on a POST
# (role, CSRF token, Origin), a real Chromium draining a server from the page (which then gets
# no new flows, as with `adm -e -w 0`), and a graceful stop. DR, one segment.
. "$(dirname "$0")/prelude.sh"

lab_init sye2e-web
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT
vip=198.18.57.100
lb_ip=198.18.57.2
lab_switch
lab_host client eth0 198.18.57.10/24
lab_host lb eth0 $lb_ip/24
for n in 1 2; do
    lab_host web$n eth0 198.18.57.2$n/24
    lab_exec web$n env SWITCHYARD_STATE_DIR="$LAB_DIR/state-$n" sh "$root/scripts/realserver.sh" up $vip >/dev/null
    lab_nginx web$n web$n
done

echo "-- switchyard passwd prints a bcrypt hash"
alice_hash=$(echo "alice-secret" | "$bin" passwd --cost 4)
vic_hash=$(echo "vic-secret" | "$bin" passwd --cost 4)
check "a bcrypt hash at cost 4: $alice_hash" grep -Eq '^\$2b\$04\$[./A-Za-z0-9]{53}$' <<<"$alice_hash"
check "an empty password is refused" bash -c "! echo '' | '$bin' passwd"

conf=$LAB_DIR/switchyard.conf
cat >"$conf" <<CONF
global_defs {
    switchyard_http $lb_ip 8080
    switchyard_http_user alice "$alice_hash" operator
    switchyard_http_user vic "$vic_hash" viewer
}
virtual_server $vip 80 {
    lb_algo rr
    lb_kind DR
    real_server 198.18.57.21 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 198.18.57.22 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
CONF
control=$LAB_DIR/control.sock
lab_bg lb "$LAB_DIR/lb.log" "$bin" run --config "$conf" --control "$control" --workers 1
lb_pid=$LAB_LAST_PID
lab_wait_for "$LAB_DIR/lb.log" "ready:" 15 || { cat "$LAB_DIR/lb.log"; exit 1; }
check "the log names the page's address" grep -q "status page on http://.*$lb_ip.*:8080/" "$LAB_DIR/lb.log"
site=http://$lb_ip:8080
adm() { lab_exec lb "$bin" adm --control "$control" "$@"; }
web() { lab_exec client curl -s --max-time 5 "$@"; }
status_of() { web -o /dev/null -w '%{http_code}' "$@"; }
metric() { # metric NAME_AND_LABELS: its value in /metrics now
    web "$site/metrics" | awk -v k="$1" 'index($0, k " ") == 1 {print $2}'
}
rs_conns='switchyard_real_server_connections_total{local_address="'$vip'",local_port="80",proto="TCP",remote_address="198.18.57.2'

echo "-- sign-in"
headers=$(web -D - -o /dev/null "$site/")
check "/ without credentials: a Basic challenge" grep -qi '^WWW-Authenticate: Basic realm="Switchyard"' <<<"$headers"
expect "/ without credentials: 401" "$(status_of "$site/")" -eq 401
expect "/ with a wrong password: 401" "$(status_of -u alice:wrong "$site/")" -eq 401
expect "/ as the viewer: 200" "$(status_of -u vic:vic-secret "$site/")" -eq 200
expect "/status.json as the operator: 200" "$(status_of -u alice:alice-secret "$site/status.json")" -eq 200

echo "-- /metrics moves by the traffic sent through the VIP"
expect "/metrics needs no sign-in (no switchyard_http_metrics_auth)" "$(status_of "$site/metrics")" -eq 200
before1=$(metric "${rs_conns}1\",remote_port=\"80\"}")
before2=$(metric "${rs_conns}2\",remote_port=\"80\"}")
answers=$(for _ in $(seq 40); do web "http://$vip/"; echo; done)
after1=$(metric "${rs_conns}1\",remote_port=\"80\"}")
after2=$(metric "${rs_conns}2\",remote_port=\"80\"}")
expect "40 requests answered" "$(grep -c '^web[12]$' <<<"$answers")" -eq 40
expect "web1's connections counter moved by the requests it answered" "$((after1 - before1))" -eq "$(grep -c '^web1$' <<<"$answers")"
expect "web2's by its own" "$((after2 - before2))" -eq "$(grep -c '^web2$' <<<"$answers")"
check "the state set says both are up" test "$(web "$site/metrics" | grep -c '^switchyard_real_server_state{.*state="up"} 1$')" = 2

echo "-- /status.json"
json=$(web -u vic:vic-secret "$site/status.json")
check "two real servers, both up, checks recorded" python3 -c '
import json, sys
m = json.loads(sys.argv[1])
reals = m["services"][0]["real_servers"]
assert [r["state"] for r in reals] == ["up", "up"], reals
assert all(r["last_check"] and r["last_check"]["result"] == "success" for r in reals), reals
assert m["user"] == {"name": "vic", "role": "viewer"}, m["user"]
assert m["services"][0]["connections_total"] >= 40
' "$json"

echo "-- a POST must come from an operator, with the session's token, from the page's origin"
jar=$LAB_DIR/jar
token=$(web -u alice:alice-secret -c "$jar" "$site/" | sed -n 's/.*name="csrf-token" content="\([0-9a-f]*\)".*/\1/p')
expect "the page carries a 64-digit CSRF token" "${#token}" -eq 64
form="action=drain&service=TCP+$vip%3A80&real=198.18.57.21%3A80"
post() { status_of -X POST -b "$jar" --data "$form" "$@" "$site/action"; }
expect "a viewer's POST: 403" "$(post -u vic:vic-secret -H "X-CSRF-Token: $token" -H "Origin: $site")" -eq 403
expect "no CSRF token: 403" "$(post -u alice:alice-secret -H "Origin: $site")" -eq 403
expect "a wrong CSRF token: 403" "$(post -u alice:alice-secret -H "X-CSRF-Token: ${token//[0-9]/a}" -H "Origin: $site")" -eq 403
expect "a foreign Origin: 403" "$(post -u alice:alice-secret -H "X-CSRF-Token: $token" -H "Origin: http://198.18.57.66")" -eq 403
expect "a GET to /action: 405" "$(status_of -u alice:alice-secret "$site/action")" -eq 405
check "nothing was drained: both still weight 1" test "$(adm -Ln | grep -Ec -- '-> 198.18.57.2[12]:80 +Route +1 ')" = 2

echo "-- Chromium as the viewer: no action controls"
browser() { lab_exec client env HOME="$LAB_DIR/chromium-home" timeout 120 /usr/bin/python3 "$here/browser_status.py" "$@"; }
mkdir -p "$LAB_DIR/chromium-home"
out=$(browser --url "$site" --user vic --password vic-secret --expect-viewer 2>&1)
rc=$?
echo "$out" | sed 's/^/     /'
check "the viewer's page: no drain button, no console error" test "$rc" -eq 0 -a -n "$(grep '^ok' <<<"$out")" -a -z "$(grep '^FAIL' <<<"$out")"

echo "-- Chromium as the operator drains web2 from the page"
shot=$LAB_DIR/status-page.png
out=$(browser --url "$site" --user alice --password alice-secret --drain 198.18.57.22:80 --screenshot "$shot" 2>&1)
rc=$?
echo "$out" | sed 's/^/     /'
check "the browser read the table, drained web2 and saw no console error" test "$rc" -eq 0 -a -z "$(grep '^FAIL' <<<"$out")"
check "it took a screenshot" test -s "$shot"
[ -n "${SCREENSHOT_OUT:-}" ] && [ -s "$shot" ] && cp "$shot" "$SCREENSHOT_OUT"
check "adm -Ln shows web2 with weight 0, as adm -e -w 0 leaves it" grep -Eq -- "-> 198.18.57.22:80 +Route +0 " <<<"$(adm -Ln)"
check "the log says who drained it" grep -q "status page: alice: drain 198.18.57.22:80 in TCP $vip:80" "$LAB_DIR/lb.log"
answers=$(for _ in $(seq 30); do web "http://$vip/"; echo; done)
expect "after the drain every new connection goes to web1" "$(grep -c '^web1$' <<<"$answers")" -eq 30
json=$(web -u alice:alice-secret "$site/status.json")
check "status.json: web2 drain with its configured weight kept, and the action listed" python3 -c '
import json, sys
m = json.loads(sys.argv[1])
r = {x["id"]: x for x in m["services"][0]["real_servers"]}["198.18.57.22:80"]
assert r["state"] == "drain" and r["weight"] == 0 and r["weight_configured"] == 1 and r["last_change"], r
a = m["actions"][0]
assert a["user"] == "alice" and a["ok"] and a["action"].startswith("drain 198.18.57.22:80"), a
' "$json"

echo "-- SIGTERM: the listener stops with the engine"
kill -TERM "$lb_pid"
for _ in $(seq 100); do kill -0 "$lb_pid" 2>/dev/null || break; sleep 0.1; done
check "the daemon exited" bash -c "! kill -0 $lb_pid 2>/dev/null"
check "it stopped cleanly" grep -q "stopped; totals" "$LAB_DIR/lb.log"
expect "nothing listens on 8080 any more (curl: connection refused)" "$(status_of "$site/" ; true)" -eq 0
