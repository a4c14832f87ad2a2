#!/usr/bin/env bash
# VRRP against keepalived 2.2.7 and against ourselves, end to end, beyond test_failover.sh: for
# version 2 (with auth PASS) and version 3, Switchyard as keepalived's backup (keepalived SIGKILLed
# or SIGTERMed: we take over, the client's ARP entry and HTTP follow) and as its master (our
# SIGTERM's priority 0 hands over at once); Switchyard to Switchyard with v3_checksum_as_v2 (RFC
# 9568's checksum on the wire); FAULT when a tracked interface or the instance's own goes down,
# and back; a bad vrrp_instance refused at start and on reload (SIGHUP and adm) with its place;
# a keepalived with another VIP list (2.2.7 drops our adverts for it): our log says so. And
# VRRPv3 over IPv6 (a link-local virtual address first, the VIP after it) against keepalived:
# its adverts taken, ours taken by it, the client's neighbour entry following each takeover.
. "$(dirname "$0")/prelude.sh"
net=198.18.112
net6=2001:db8:112

lab_init sye2e-vi
trap 'rc=$?; e2e_report; (exit $rc); lab_cleanup' EXIT
lab_switch
lab_host client eth0 $net.10/24
lab_host sy1 eth0 $net.2/24
lab_host sy2 eth0 $net.3/24
lab_host ka eth0 $net.4/24
lab_host web1 eth0 $net.21/24
for h in "client 10" "sy1 2" "sy2 3" "ka 4" "web1 21"; do
    set -- $h
    lab_ipv6 "$1" eth0 "$net6::$2/64"
done
lab_exec web1 env SWITCHYARD_STATE_DIR="$LAB_DIR/state-web1" sh "$root/scripts/realserver.sh" up $net.100 $net6::100 >/dev/null
lab_nginx web1 web1 "listen [::]:80;"

# family 4|6: the addresses the helpers below use. IPv6: the instance's first address is a
# link-local one (RFC 5798), and a master's address is its link-local source.
family() {
    fam=$1
    if [ "$fam" = 4 ]; then
        vip=$net.100 rs=$net.21 url=$net.100
        vip_lines="$vip"
    else
        vip=$net6::100 rs=$net6::21 url="[$net6::100]"
        vip_lines="fe80::112/64
        $vip"
    fi
}
family 4
# src_of HOST: the address HOST's adverts come from.
src_of() {
    if [ "$fam" = 4 ]; then lab_exec "$1" ip -4 -o addr show dev eth0 | awk '{sub("/.*", "", $4); print $4}'
    else lab_exec "$1" ip -6 -o addr show dev eth0 scope link | awk '$4 !~ /^fe80::112\// {sub("/.*", "", $4); print $4; exit}'; fi
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds or the time is up.
wait_until() {
    local n=$(($1 * 10))
    shift
    while [ $n -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
        n=$((n - 1))
    done
    "$@" >/dev/null 2>&1
}
clock() { date +%s.%N; }
# log_ms START NAME PATTERN: ms from a clock() reading to NAME's first log line matching PATTERN
# after it (our log times are HH:MM:SS.mmm, UTC).
log_ms() {
    grep -- "$3" "${LOG[$2]}" | cut -d' ' -f1 | python3 -c 'import sys, datetime as d
s = float(sys.argv[1]); day = d.datetime.fromtimestamp(s, d.timezone.utc).date()
for line in sys.stdin:
    h, m, x = line.split(":")
    t = d.datetime(day.year, day.month, day.day, int(h), int(m), tzinfo=d.timezone.utc).timestamp() + float(x)
    if t >= s - 0.001:
        print("%d" % ((t - s) * 1000)); break' "$1"
}
mac_of() { lab_exec "$1" cat /sys/class/net/eth0/address; }
vip_mac() { lab_exec client ip neigh show "$vip" dev eth0 | awk '{print $3}'; }
arp_is() { test "$(vip_mac)" = "$(mac_of "$1")"; }
get() { lab_exec client curl -s -g --max-time 2 "http://$url/" || echo FAILED; }
served() { # served N: N requests through the VIP, all answered by web1
    local i ok=0
    for i in $(seq "$1"); do [ "$(get)" = web1 ] && ok=$((ok + 1)); done
    [ $ok -eq "$1" ]
}

# Switchyard: sy_conf NAME STATE PRIORITY VERSION ADVERT_INT [EXTRA LINES]; sy_start NAME
sy_conf() {
    cat >"$LAB_DIR/$1.conf" <<CONF
vrrp_instance VI_1 {
    state $2
    interface eth0
    virtual_router_id 112
    priority $3
    version $4
    advert_int $5
    ${6:-}
    virtual_ipaddress {
        $vip_lines
    }
}
virtual_server $vip 80 {
    lb_algo mh
    lb_kind DR
    real_server $rs 80 { weight 1 }
}
CONF
}
declare -A PID LOG
sy_start() {
    LOG[$1]=$LAB_DIR/$1-$RANDOM.log
    lab_bg "$1" "${LOG[$1]}" "$bin" run --config "$LAB_DIR/$1.conf" --control "$LAB_DIR/$1.sock" --workers 1
    PID[$1]=$LAB_LAST_PID
    lab_wait_for "${LOG[$1]}" "ready:" 15 || { echo "$1 did not start:"; cat "${LOG[$1]}"; return 1; }
}
sy_stop() { kill -TERM "${PID[$1]}" 2>/dev/null; wait "${PID[$1]}" 2>/dev/null; }
adm() { local who=$1; shift; lab_exec "$who" "$bin" adm --control "$LAB_DIR/$who.sock" "$@"; }
vrrp_row() { adm "$1" --vrrp | awk '$1 == "VI_1" {print $4, $5, $6, $7}'; }
row_is() { test "$(vrrp_row "$1")" = "$2"; }
state_is() { test "$(vrrp_row "$1" | cut -d' ' -f1)" = "$2"; }
logged() { grep -q -- "$2" "${LOG[$1]}"; }
refused_none() { ! grep -q "advert refused" "${LOG[$1]}"; }

# keepalived in its namespace: its own pid files in the lab, console log only (-l -G: no
# syslog), VRRP only, no respawn (-R: a SIGKILLed child stays dead, as a crashed box). Its
# notify script appends "STATE PRIORITY TIME" to ka-state on every transition.
cat >"$LAB_DIR/ka-notify.sh" <<'SH'
#!/bin/sh
echo "$3 $4 $(date +%s.%N)" >>"$(dirname "$0")/ka-state"
SH
chmod 755 "$LAB_DIR/ka-notify.sh"
ka_conf() { # ka_conf STATE PRIORITY VERSION ADVERT_INT [EXTRA LINES]
    cat >"$LAB_DIR/ka.conf" <<CONF
global_defs {
    router_id ka
    script_user root
}
vrrp_instance VI_1 {
    state $1
    interface eth0
    virtual_router_id 112
    priority $2
    version $3
    advert_int $4
    ${5:-}
    virtual_ipaddress {
        $(sed 's/$/ dev eth0/' <<<"$vip_lines")
    }
    notify $LAB_DIR/ka-notify.sh
}
CONF
}
ka_start() {
    local f
    for f in ka.pid ka-vrrp.pid ka-state; do rm -f "$LAB_DIR/$f"; done
    touch "$LAB_DIR/ka-state"
    KA_LOG=$LAB_DIR/ka-$RANDOM.log
    lab_bg ka "$KA_LOG" keepalived -n -l -G -D -R --vrrp -f "$LAB_DIR/ka.conf" -p "$LAB_DIR/ka.pid" \
        -r "$LAB_DIR/ka-vrrp.pid" -c "$LAB_DIR/ka-checkers.pid" -b "$LAB_DIR/ka-bfd.pid"
    KA_PID=$LAB_LAST_PID
    wait_until 5 test -s "$LAB_DIR/ka-vrrp.pid" || { echo "keepalived did not start:"; cat "$KA_LOG"; return 1; }
    KA_VRRP_PID=$(cat "$LAB_DIR/ka-vrrp.pid")
    LAB_PIDS+=("$KA_VRRP_PID")
}
# What keepalived 2.2.7 logs when it drops an advert (vrrp_check_packet).
ka_refusals='invalid|mismatch|wrong version|auth, expecting|unexpected|expected|not present|packet too'
ka_refused_none() { ! grep -qiE "$ka_refusals" "$KA_LOG"; }
ka_stop() { kill -TERM "$KA_PID" 2>/dev/null; wait "$KA_PID" 2>/dev/null; }
ka_state() { tail -n 1 "$LAB_DIR/ka-state" | cut -d' ' -f1-2; }
ka_is() { test "$(ka_state | cut -d' ' -f1)" = "$1"; }
ka_states() { cut -d' ' -f1-2 "$LAB_DIR/ka-state" | paste -sd, -; }
ka_has_vip() { lab_exec ka ip addr show dev eth0 | grep -q "inet6\? $vip/"; }
ka_lacks_vip() { ! ka_has_vip; }
# ms from a clock() reading to keepalived's first notify of STATE after it
ka_ms_to() { awk -v a="$1" -v s="$2" '$1 == s && $3 > a { printf "%d", ($3 - a) * 1000; exit }' "$LAB_DIR/ka-state"; }

# interop VERSION ADVERT_INT SIGNAL "AUTH LINES": keepalived MASTER, we BACKUP; keepalived
# stopped with SIGNAL, we take over; keepalived back as BACKUP below us; our SIGTERM hands over.
interop() {
    local v=$1 adv=$2 sig=$3 auth=${4:-} t ms down bound ka_src sy_src
    echo "-- VRRPv$v over IPv$fam, advert_int $adv${auth:+, auth PASS}: keepalived MASTER (150), Switchyard BACKUP (100)"
    ka_src=$(src_of ka) sy_src=$(src_of sy1)
    ka_conf MASTER 150 "$v" "$adv" "$auth"
    ka_start
    wait_until 8 ka_is MASTER
    check "keepalived becomes MASTER (notify: $(ka_states))" ka_is MASTER
    check "keepalived put the VIP on its eth0" ka_has_vip
    check "the VIP answers ping from keepalived's box" lab_exec client ping -c 1 -W 1 $vip
    check "the client's ARP entry for the VIP is keepalived's MAC" arp_is ka
    if [ -n "$auth" ]; then
        # Stopped before its master-down interval runs out, so it never sends an advert.
        sy_conf sy2 BACKUP 100 "$v" "$adv" "${auth/s3cret-pw/s3cret-no}"
        sy_start sy2
        wait_until 3 logged sy2 "advert refused: VRRPv2 password does not match"
        check "with another auth_pass keepalived's adverts are refused" logged sy2 "advert refused: VRRPv2 password does not match"
        sy_stop sy2
    fi
    sy_conf sy1 BACKUP 100 "$v" "$adv" "$auth"
    sy_start sy1
    wait_until 5 row_is sy1 "BACKUP 100 $ka_src (150)"
    check "adm --vrrp: BACKUP, master keepalived ($(vrrp_row sy1))" row_is sy1 "BACKUP 100 $ka_src (150)"
    # Only a refused advert would let our down timer (3 x advert_int + skew) run out: wait past it.
    sleep "$(awk -v a="$adv" 'BEGIN { print 3 * a + 0.6 }')"
    check "past our master-down interval we are still BACKUP ($(vrrp_row sy1))" row_is sy1 "BACKUP 100 $ka_src (150)"
    check "no advert of keepalived's refused" refused_none sy1
    check "keepalived is still the only MASTER (notify: $(ka_states))" test "$(ka_states)" = "BACKUP 150,MASTER 150"

    echo "-- keepalived SIG$sig"
    t=$(clock)
    if [ "$sig" = KILL ]; then kill -KILL "$KA_VRRP_PID" "$KA_PID"; else kill -TERM "$KA_PID"; fi
    wait "$KA_PID" 2>/dev/null
    wait_until 6 logged sy1 "VI_1: BACKUP -> MASTER"
    ms=$(log_ms "$t" sy1 "VI_1: BACKUP -> MASTER")
    down=$(awk -v a="$adv" 'BEGIN { print 3 * a + (256 - 100) / 256 * a }')
    if [ "$sig" = KILL ]; then
        check "we take over when keepalived's adverts stop" logged sy1 "VI_1: BACKUP -> MASTER (no advert from the master"
        expect "within our master-down interval ($down s) + 0.5 s, in ms" "${ms:-99999}" -le \
            "$(awk -v d="$down" 'BEGIN { printf "%d", d * 1000 + 500 }')"
        # A killed keepalived leaves its VIP on eth0 (its next start removes it): the client
        # follows our gratuitous ARP all the same.
    else
        check "we take over at once on keepalived's priority 0" logged sy1 "VI_1: BACKUP -> MASTER (the master gave up (priority 0))"
        echo "   takeover logged $ms ms after the SIGTERM (our master-down interval: $down s)"
        check "keepalived removed its VIP on SIGTERM" ka_lacks_vip
    fi
    # adm shows the state once the transition's actions are done (later than its log line under
    # ThreadSanitizer).
    wait_until 3 row_is sy1 "MASTER 100 $sy_src (100)"
    check "adm --vrrp: MASTER ($(vrrp_row sy1))" row_is sy1 "MASTER 100 $sy_src (100)"
    wait_until 3 arp_is sy1
    check "the client's ARP entry for the VIP is now Switchyard's MAC" arp_is sy1
    check "10 HTTP requests through Switchyard (DR to nginx) all answered" served 10
    if [ "$fam" = 6 ]; then
        check "sy1 holds the link-local virtual address fe80::112" sh -c "ip netns exec $(lab_ns sy1) ip -6 addr show dev eth0 | grep -q 'inet6 fe80::112/64'"
    fi

    echo "-- keepalived back as BACKUP (50): Switchyard stays MASTER"
    ka_conf BACKUP 50 "$v" "$adv" "$auth"
    ka_start
    wait_until 5 ka_is BACKUP
    down=$(awk -v a="$adv" 'BEGIN { print 3 * a + (256 - 50) / 256 * a }')
    sleep "$(awk -v d="$down" 'BEGIN { print d + 0.5 }')"
    check "keepalived stays BACKUP past its master-down interval ($down s; notify: $(ka_states))" test "$(ka_states)" = "BACKUP 50"
    check "keepalived has no VIP on its eth0" ka_lacks_vip
    check "keepalived refused none of our adverts" ka_refused_none
    check "adm --vrrp: still MASTER ($(vrrp_row sy1))" row_is sy1 "MASTER 100 $sy_src (100)"

    echo "-- Switchyard SIGTERM: priority 0, keepalived takes over at once"
    t=$(clock)
    sy_stop sy1
    expect "Switchyard exits 0" $? -eq 0
    wait_until 3 ka_is MASTER
    check "keepalived logged our priority-0 advert" grep -q "(VI_1) Backup received priority 0 advertisement" "$KA_LOG"
    check "keepalived becomes MASTER (notify: $(ka_states))" ka_is MASTER
    ms=$(ka_ms_to "$t" MASTER)
    # Without the priority 0 it would take 2 x advert_int + skew at least after our last advert;
    # below a second that is too close to the time a loaded box takes to say so to assert on.
    bound=$(awk -v a="$adv" 'BEGIN { printf "%d", (2 * a + (256 - 50) / 256 * a) * 1000 }')
    if [ "$bound" -ge 1000 ]; then
        expect "keepalived MASTER (notify) in ms after our SIGTERM" "${ms:-99999}" -lt "$bound"
    else
        echo "   keepalived MASTER (notify) $ms ms after our SIGTERM (its master-down interval: $down s)"
    fi
    wait_until 3 arp_is ka
    check "the client's ARP entry for the VIP is keepalived's MAC again" arp_is ka
    if [ "$fam" = 6 ]; then
        check "sy1 let go of fe80::112 on stopping" sh -c "! ip netns exec $(lab_ns sy1) ip -6 addr show dev eth0 | grep -q 'inet6 fe80::112/'"
    fi
    ka_stop
}

# auth_pass: 9 characters, cut to 8 by both ends (keepalived does, and so do we).
interop 2 1 KILL "authentication {
        auth_type PASS
        auth_pass s3cret-pw
    }"
interop 3 0.1 TERM
family 6
interop 3 0.5 KILL
family 4

echo "-- Switchyard to Switchyard, VRRPv3 with v3_checksum_as_v2 on both"
sy_conf sy1 MASTER 150 3 0.1 "v3_checksum_as_v2"
sy_conf sy2 BACKUP 100 3 0.1 "v3_checksum_as_v2"
check "switchyard check lists the flag" grep -q "VI_1 .* 3   MASTER v3_checksum_as_v2$" <<<"$("$bin" check --config "$LAB_DIR/sy1.conf")"
sy_start sy1
sy_start sy2
wait_until 5 logged sy1 "VI_1: BACKUP -> MASTER"
wait_until 3 row_is sy2 "BACKUP 100 $net.2 (150)"
check "sy1 (150) is MASTER ($(vrrp_row sy1))" row_is sy1 "MASTER 150 $net.2 (150)"
check "sy2 (100) is BACKUP of sy1 ($(vrrp_row sy2))" row_is sy2 "BACKUP 100 $net.2 (150)"
lab_exec client timeout 3 tcpdump -i eth0 -c 3 -w "$LAB_DIR/v3.pcap" ip proto 112 >/dev/null 2>&1
# Each advert's checksum, over the VRRP message alone (RFC 9568) and with the IPv4 pseudo-header.
forms=$(python3 - "$LAB_DIR/v3.pcap" <<'PY'
import struct, sys
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xFFFF) + (s >> 16)
    return s
data = open(sys.argv[1], "rb").read()
off = 24
while off + 16 <= len(data):
    incl = struct.unpack("<I", data[off + 8:off + 12])[0]
    frame = data[off + 16:off + 16 + incl]
    off += 16 + incl
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    msg = ip[ihl:total]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 112, len(msg))
    print("v%d %s" % (msg[0] >> 4, "message-only" if csum(msg) == 0xFFFF else
                      "pseudo-header" if csum(pseudo + msg) == 0xFFFF else "bad"))
PY
)
expect "adverts captured on the segment" "$(grep -c . <<<"$forms")" -ge 2
check "each a VRRPv3 checksum over the message alone ($(sort -u <<<"$forms" | paste -sd,))" \
    test "$(sort -u <<<"$forms")" = "v3 message-only"
check "sy2 refused none of them" refused_none sy2
sy_stop sy1
wait_until 3 logged sy2 "VI_1: BACKUP -> MASTER"
check "sy1 stops: sy2 takes over on its priority 0" logged sy2 "VI_1: BACKUP -> MASTER (the master gave up (priority 0))"
check "10 HTTP requests through sy2 all answered" served 10
sy_stop sy2

echo "-- FAULT: Switchyard MASTER (150) tracking trk0, keepalived BACKUP (100), VRRPv3 0.1"
lab_exec sy1 ip link add trk0 type veth peer name trk1
lab_exec sy1 ip link set trk1 up
lab_exec sy1 ip link set trk0 up
sy_conf sy1 MASTER 150 3 0.1 "track_interface {
        trk0
    }"
sy_start sy1
wait_until 5 logged sy1 "VI_1: BACKUP -> MASTER"
ka_conf BACKUP 100 3 0.1
ka_start
wait_until 5 ka_is BACKUP
wait_until 5 row_is sy1 "MASTER 150 $net.2 (150)"
check "sy1 MASTER, keepalived BACKUP ($(vrrp_row sy1); keepalived: $(ka_states))" \
    sh -c "[ '$(vrrp_row sy1)' = 'MASTER 150 $net.2 (150)' ] && [ '$(ka_states)' = 'BACKUP 100' ]"
fault_cycle() { # fault_cycle IFNAME WHAT: IFNAME down in sy1, then up again
    local n
    n=$(grep -c "VI_1: BACKUP -> MASTER" "${LOG[sy1]}")
    echo "-- $2 ($1) goes down on the master"
    lab_exec sy1 ip link set "$1" down
    wait_until 3 logged sy1 "VI_1: MASTER -> FAULT ($1 failed)"
    check "sy1 goes MASTER -> FAULT ($1 failed)" logged sy1 "VI_1: MASTER -> FAULT ($1 failed)"
    wait_until 3 state_is sy1 FAULT
    check "adm --vrrp on sy1: FAULT ($(vrrp_row sy1))" state_is sy1 FAULT
    wait_until 3 ka_is MASTER
    check "keepalived becomes MASTER (notify: $(ka_states))" ka_is MASTER
    wait_until 3 arp_is ka
    check "the client's ARP entry for the VIP is keepalived's MAC" arp_is ka
    check "the VIP answers ping from keepalived's box" lab_exec client ping -c 1 -W 1 $vip
    lab_exec sy1 ip link set "$1" up
    wait_until 5 test "$(grep -c "VI_1: BACKUP -> MASTER" "${LOG[sy1]}")" -gt "$n"
    check "$1 up: sy1 leaves FAULT for BACKUP" logged sy1 "VI_1: FAULT -> BACKUP (tracking recovered)"
    check "and preempts keepalived (150 > 100)" test "$(grep -c "VI_1: BACKUP -> MASTER (preempting" "${LOG[sy1]}")" -gt "$((n - 1))"
    check "adm --vrrp on sy1: MASTER ($(vrrp_row sy1))" row_is sy1 "MASTER 150 $net.2 (150)"
    wait_until 3 ka_is BACKUP
    check "keepalived back to BACKUP (notify: $(ka_states))" ka_is BACKUP
    wait_until 3 arp_is sy1
    check "the client's ARP entry for the VIP is sy1's MAC" arp_is sy1
    check "10 HTTP requests through sy1 all answered" served 10
}
fault_cycle trk0 "the tracked interface"
check "keepalived heard sy1's priority 0 on entering FAULT" grep -q "(VI_1) Backup received priority 0 advertisement" "$KA_LOG"
fault_cycle eth0 "the instance's own interface"

echo "-- a bad vrrp_instance: refused at start, and by the running sy1 on reload"
conf=$LAB_DIR/sy1.conf
cp "$conf" "$LAB_DIR/good.conf"
sed 's/^    priority 150$/    priority 300/' "$LAB_DIR/good.conf" >"$LAB_DIR/bad-prio.conf"
sed 's/^    advert_int 0.1$/    advert_interval 0.1/' "$LAB_DIR/good.conf" >"$LAB_DIR/bad-key.conf"
prio_at="$(grep -n '^    priority 300$' "$LAB_DIR/bad-prio.conf" | cut -d: -f1):14"
key_at="$(grep -n '^    advert_interval' "$LAB_DIR/bad-key.conf" | cut -d: -f1):5"
prio_msg='priority must be a whole number from 1 to 255, not "300"'
key_msg='unknown keyword "advert_interval" in vrrp_instance'
out=$(lab_exec sy2 timeout 10 "$bin" run --config "$LAB_DIR/bad-prio.conf" --control "$LAB_DIR/bad.sock" 2>&1 >/dev/null)
expect "run with priority 300 exits non-zero" $? -ne 0
check "stderr: $out" grep -qxF "$LAB_DIR/bad-prio.conf:$prio_at: $prio_msg" <<<"$out"
out=$(lab_exec sy2 timeout 10 "$bin" run --config "$LAB_DIR/bad-key.conf" --control "$LAB_DIR/bad.sock" 2>&1 >/dev/null)
expect "run with an unknown keyword in vrrp_instance exits non-zero" $? -ne 0
check "stderr: $out" grep -qxF "$LAB_DIR/bad-key.conf:$key_at: $key_msg" <<<"$out"

before=$(vrrp_row sy1)
cp "$LAB_DIR/bad-prio.conf" "$conf"
out=$(adm sy1 --reload 2>&1)
expect "adm --reload of priority 300 fails" $? -ne 0
check "and says where: $out" grep -qF "reload refused, the running config stays: $conf:$prio_at: $prio_msg" <<<"$out"
cp "$LAB_DIR/bad-key.conf" "$conf"
kill -HUP "${PID[sy1]}"
wait_until 3 logged sy1 "reload refused, the running config stays: $conf:$key_at"
check "SIGHUP with an unknown keyword: the log says where" logged sy1 "reload refused, the running config stays: $conf:$key_at: $key_msg"
check "sy1 still runs" kill -0 "${PID[sy1]}"
check "adm --vrrp unchanged ($(vrrp_row sy1))" test "$(vrrp_row sy1)" = "$before"
check "the running table stays" grep -q "^TCP  $vip:80 mh$" <<<"$(adm sy1 -Ln)"
check "10 HTTP requests through sy1 all answered" served 10
check "keepalived still BACKUP (notify: $(ka_states))" ka_is BACKUP
cp "$LAB_DIR/good.conf" "$conf"

echo "-- keepalived with one more VIP than sy1: 2.2.7 drops our adverts, so we must say why"
ka_stop
ka_conf BACKUP 100 3 0.1 "virtual_ipaddress {
        $net.101/32 dev eth0
    }"
ka_start
wait_until 3 logged sy1 "advert from $net.4 taken although it differs"
check "sy1 logs the difference: $(grep -m1 -o "advert from $net.4 taken.*" "${LOG[sy1]}")" \
    logged sy1 "advert from $net.4 taken although it differs: 2 virtual addresses, this instance has 1; keepalived 2.2.7"
check "keepalived refused ours for it" grep -q "received an unexpected ip number count 1, expected 2" "$KA_LOG"
check "(and is master too: notify $(ka_states))" ka_is MASTER

sy_stop sy1
expect "sy1 exits 0" $? -eq 0
ka_stop
[ "$E2E_FAILED" -eq 0 ]
