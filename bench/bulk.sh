#!/usr/bin/env bash
# Bulk TCP throughput and request latency through Switchyard, against the kernel's NAT and
# HAProxy in the same run (as root, after scripts/setup.sh, which installs iperf3 and sockperf):
#
#   bench/bulk.sh [--rounds N] [--seconds S] [--workers W] [--mps M] [--out PREFIX]
#
# bench/run.sh runs it at its end (unless --no-bulk) with --out, and puts the tables into its own
# .md, the numbers into its .json and the goals into its closing list. Alone, it writes
# bench/results/bulk-<time>.md and .json and prints the report.
# Environment: BENCH_BULK_PATHS and BENCH_LAT_PATHS pick the paths below ("" leaves a part out).
#
# Its own lab (scripts/lab.sh): client, lb, rs1 and rs2 on one bridge, as bench/run.sh's. Paths:
#   wire     the client straight to rs2 (one segment): the most the lab carries, for scale
#   router   the client (second subnet) to rs1 through lb's kernel routing (ip_forward, no NAT)
#   dr       VIP .100 through `switchyard run`, direct server return (replies skip the balancer)
#   nat      VIP .101 through the same engine, NAT: both directions go through it
#   nft      VIP .102 through the kernel's NAT: nftables DNAT and conntrack on the same box
#   haproxy  .103 through HAProxy `mode tcp` (1 thread, on the engine's cores); TCP only
#   dr-busy, nat-busy  the same through the engine started with --busy-poll (BENCH_BUSY_POLL
#            microseconds, default 200), when it has the option
#   dr-sleep, nat-sleep  (latency only) the engine with --busy-poll 0: a worker sleeps as soon as
#            its rings are empty, so each request pays a poll() wake-up (dr and nat run with the
#            default options, which busy-poll a short while when every worker has a CPU)
# Every balanced path ends at rs1 alone (iperf3 needs its control and data connections on one
# server), each balancer on its own server port, so the engine (which takes the replies from its
# NAT real servers' ports) never sees another's traffic. Alternating rounds, as bench/run.sh:
#   bulk     iperf3 -t S -O 1 (the first second left out), 1 stream and 8 (-P 8); upload, and
#            download (-R) where the replies go through the balancer (router, nat, nft, haproxy).
#            Gbit/s at the receiver, and the sender's retransmits.
#   latency  sockperf ping-pong at --mps M (default 20000, below saturation) for S seconds, UDP
#            and TCP, full round trip (--full-rtt): p50, p99 and p99.9 in microseconds.
# The clients run pinned to CPU 0, the engine and HAProxy on the other cores. Loads are bounded:
# every iperf3 and sockperf run stops by itself and is killed after S + 15 s at the latest.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$root/scripts/lab.sh"

rounds=5 seconds=5 workers=1 mps=20000 out=
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        --mps) mps=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h | --help) sed -n '2,29p' "$0"; exit 0 ;;
        *) echo "bench/bulk.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench/bulk.sh: run as root" >&2; exit 1; }
[ "$seconds" -ge 2 ] 2>/dev/null || { echo "bench/bulk.sh: --seconds must be a whole number, 2 or more" >&2; exit 2; }
for tool in iperf3 sockperf haproxy; do
    command -v $tool >/dev/null || { echo "bench/bulk.sh: $tool missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
bin=$(switchyard_bin)
[ -x "$bin" ] || { echo "bench/bulk.sh: build first: swift build -c release" >&2; exit 1; }
cores=$(nproc)
client_cpu=0
engine_cpus=$([ "$cores" -ge 2 ] && echo "1-$((cores - 1))" || echo 0)
busy= busy_poll=${BENCH_BUSY_POLL:-200}
"$bin" run --help 2>&1 | grep -q -- '--busy-poll' && busy=1
bulk_paths=${BENCH_BULK_PATHS-wire router dr nat nft haproxy${busy:+ dr-busy nat-busy}}
lat_paths=${BENCH_LAT_PATHS-wire router dr nat nft haproxy${busy:+ dr-busy nat-busy dr-sleep nat-sleep}}

vip=198.18.0.100 vip_nat=198.18.0.101 vip_nft=198.18.0.102 vip_ha=198.18.0.103
rs1=198.18.0.11 rs2=198.18.0.12
lab_init sybulk
lab_switch
lab_host client eth0 198.18.0.10/24
lab_host lb eth0 198.18.0.2/24
lab_host rs1 eth0 $rs1/24
lab_host rs2 eth0 $rs2/24
lab_exec rs1 env SWITCHYARD_STATE_DIR="$LAB_DIR/state-rs1" sh "$root/scripts/realserver.sh" up $vip >/dev/null
# Second client subnet, routed through lb: the NAT and router paths' replies come back through it.
lab_exec lb sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
lab_exec lb ip addr add 198.18.9.1/24 dev eth0
lab_exec lb ip addr add $vip_ha/24 dev eth0
lab_exec client ip addr add 198.18.9.10/24 dev eth0
for v in $vip_nat $vip_nft $rs1; do lab_exec client ip route add $v/32 via 198.18.9.1 src 198.18.9.10; done
for rs in rs1 rs2; do lab_exec $rs ip route add 198.18.9.0/24 via 198.18.0.2; done

# Server ports on rs1: 5201/11111 for the router, DR and HAProxy, 5202/11112 for the kernel's NAT,
# 5203/11113 for Switchyard's NAT. DR's sockperf answers from the VIP, so it listens on it.
for p in 5201 5202 5203; do lab_bg rs1 "$LAB_DIR/iperf3-rs1-$p.log" iperf3 -s -p $p; done
lab_bg rs2 "$LAB_DIR/iperf3-rs2.log" iperf3 -s -p 5201
# One sockperf server per address (with the VIP in the same feed file it left the VIP's TCP out).
for p in 11111 11112 11113; do echo "U:$rs1:$p"; echo "T:$rs1:$p"; done >"$LAB_DIR/sockperf-rs1.feed"
printf 'U:%s:11111\nT:%s:11111\n' $vip $vip >"$LAB_DIR/sockperf-vip.feed"
printf 'U:%s:11111\nT:%s:11111\n' $rs2 $rs2 >"$LAB_DIR/sockperf-rs2.feed"
for f in rs1:rs1 rs1:vip rs2:rs2; do
    lab_bg ${f%:*} "$LAB_DIR/sockperf-${f#*:}.log" sockperf server -f "$LAB_DIR/sockperf-${f#*:}.feed"
done

cat >"$LAB_DIR/bulk.conf" <<CONF
virtual_server $vip 5201 {
    lb_algo mh
    lb_kind DR
    real_server $rs1 5201 { weight 1 }
}
virtual_server $vip_nat 5201 {
    lb_algo mh
    lb_kind NAT
    real_server $rs1 5203 { weight 1 }
}
CONF
for proto in TCP UDP; do
    cat >>"$LAB_DIR/bulk.conf" <<CONF
virtual_server $vip 11111 {
    lb_algo mh
    lb_kind DR
    protocol $proto
    real_server $rs1 11111 { weight 1 }
}
virtual_server $vip_nat 11111 {
    lb_algo mh
    lb_kind NAT
    protocol $proto
    real_server $rs1 11113 { weight 1 }
}
CONF
done
printf 'table ip bulklb {\n chain pre {\n  type nat hook prerouting priority dstnat; policy accept;
  ip daddr %s tcp dport 5201 dnat to %s:5202
  ip daddr %s tcp dport 11111 dnat to %s:11112
  ip daddr %s udp dport 11111 dnat to %s:11112\n }\n}\n' $vip_nft $rs1 $vip_nft $rs1 $vip_nft $rs1 | lab_exec lb nft -f -
cat >"$LAB_DIR/haproxy.cfg" <<HA
global
    nbthread 1
    maxconn 8000
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
listen iperf
    bind $vip_ha:5201
    server rs1 $rs1:5201
listen sockperf
    bind $vip_ha:11111
    server rs1 $rs1:11111
HA
lab_bg lb "$LAB_DIR/haproxy.log" taskset -c "$engine_cpus" haproxy -f "$LAB_DIR/haproxy.cfg" -db

# The engine, restarted when a path needs other options (PROFILE: main, busy, sleep, none).
lb_pid= profile= starts=0
engine() {
    [ "$1" = "$profile" ] && return 0
    if [ -n "$lb_pid" ]; then
        # Its counters for the report: super-packets sent whole or cut, and every drop.
        lab_exec lb "$bin" adm --control "$LAB_DIR/lb.sock" --engine >"$LAB_DIR/counters-$profile-$starts" 2>&1 || true
        kill -INT "$lb_pid"; wait "$lb_pid" || true
    fi
    profile=$1 lb_pid=
    [ "$1" = none ] && return 0
    local args=(--workers "$workers")
    [ "$1" = busy ] && args+=(--busy-poll "$busy_poll")
    [ "$1" = sleep ] && args+=(--busy-poll 0)
    starts=$((starts + 1))
    lab_bg lb "$LAB_DIR/lb-$1-$starts.log" taskset -c "$engine_cpus" "$bin" run --config "$LAB_DIR/bulk.conf" \
        --control "$LAB_DIR/lb.sock" "${args[@]}"
    lb_pid=$LAB_LAST_PID
    lab_wait_for "$LAB_DIR/lb-$1-$starts.log" "ready:" 15 || { cat "$LAB_DIR/lb-$1-$starts.log"; exit 1; }
    lab_exec client arping -c 1 -w 1 $vip >/dev/null 2>&1 || true
    lab_exec client arping -c 1 -w 1 $vip_nat >/dev/null 2>&1 || true
}
engine main
for a in $rs2 $vip_ha 198.18.9.1; do lab_exec client ping -c 1 -W 1 $a >/dev/null || true; done
sleep 0.5 # the servers listening

target() { # target PATH: the address the client connects to
    case $1 in
        wire) echo $rs2 ;; router) echo $rs1 ;; dr | dr-*) echo $vip ;; nat | nat-*) echo $vip_nat ;;
        nft) echo $vip_nft ;; haproxy) echo $vip_ha ;;
    esac
}
profile_of() { case $1 in *-busy) echo busy ;; *-sleep) echo sleep ;; *) echo main ;; esac; }
declare -A res
bulk_round() { # bulk_round PATH DIR STREAMS ROUND
    local path=$1 dir=$2 n=$3 flags=() json gbps retr key
    engine "$(profile_of "$path")"
    [ "$dir" = down ] && flags=(-R)
    json=$(lab_exec client timeout $((seconds + 15)) taskset -c $client_cpu iperf3 -c "$(target "$path")" -p 5201 \
        -t "$seconds" -O 1 -P "$n" --connect-timeout 3000 -J "${flags[@]}" 2>/dev/null || true)
    read -r gbps retr < <(echo "$json" | python3 -c 'import json, sys
try:
    d = json.load(sys.stdin); e = d["end"]
    print("%.2f %d" % (e["sum_received"]["bits_per_second"] / 1e9, e["sum_sent"].get("retransmits", 0)))
except Exception:
    print("0 0")' 2>/dev/null || echo "0 0")
    key=$path-$dir-$n
    res[bulk_$key]="${res[bulk_$key]:-} $gbps"
    res[retr_$key]="${res[retr_$key]:-} $retr"
    printf "  round %-2s bulk    %-8s %-4s x%-2s %7s Gbit/s  %6s retransmits\n" "$4" "$path" "$dir" "$n" "$gbps" "$retr"
    sleep 0.5 # the server ready for the next test
}
lat_round() { # lat_round PATH PROTO ROUND
    local path=$1 proto=$2 flags=() out p50 p99 p999 key
    engine "$(profile_of "$path")"
    [ "$proto" = tcp ] && flags=(--tcp)
    out=$(lab_exec client timeout $((seconds + 15)) taskset -c $client_cpu sockperf ping-pong -i "$(target "$path")" -p 11111 \
        --mps "$mps" -t "$seconds" --full-rtt "${flags[@]}" 2>&1 || true)
    pct() { echo "$out" | awk -v p="$1" '/---> percentile/ && $4 == p {printf "%.1f", $6; f=1} END {if (!f) print 0}'; }
    p50=$(pct 50.000) p99=$(pct 99.000) p999=$(pct 99.900)
    key=$path-$proto
    res[p50_$key]="${res[p50_$key]:-} $p50"
    res[p99_$key]="${res[p99_$key]:-} $p99"
    res[p999_$key]="${res[p999_$key]:-} $p999"
    printf "  round %-2s latency %-8s %-4s p50 %7s  p99 %8s  p99.9 %8s us\n" "$3" "$path" "$proto" "$p50" "$p99" "$p999"
}
dirs_of() { case $1 in wire | dr | dr-*) echo up ;; *) echo up down ;; esac; }
protos_of() { case $1 in haproxy) echo tcp ;; *) echo udp tcp ;; esac; }

echo "== bulk TCP (iperf3, 1 and 8 streams, ${seconds}s + 1s left out) and latency (sockperf ping-pong, $mps msg/s, ${seconds}s); client on CPU $client_cpu, engine and HAProxy on CPU $engine_cpus; $rounds rounds, alternating"
for r in $(seq "$rounds"); do
    for n in 1 8; do
        for path in $bulk_paths; do for dir in $(dirs_of $path); do bulk_round $path $dir $n "$r"; done; done
    done
    for path in $lat_paths; do for proto in $(protos_of $path); do lat_round $path $proto "$r"; done; done
done
engine none

# Medians (and min-max) of decimal numbers, with DECIMALS places; nothing for a test left out.
fmedian() { tr ' ' '\n' | grep -v '^$' | sort -g | awk -v d="$1" '{a[NR]=$1} END {if (NR) printf "%.*f", d, (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
fminmax() { tr ' ' '\n' | grep -v '^$' | sort -g | awk -v d="$1" 'NR==1{lo=$1} {hi=$1} END {if (NR) printf "%.*f-%.*f", d, lo, d, hi}'; }
places() { case $1 in bulk_*) echo 2 ;; retr_*) echo 0 ;; *) echo 1 ;; esac; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a > 0 && b > 0) printf "%.2f", a / b}'; }
jnum() { echo "${1:-null}"; }
declare -A med
for k in "${!res[@]}"; do med[$k]=$(echo "${res[$k]}" | fmedian "$(places $k)"); done
m() { echo "${med[$1]:-}"; }

label() {
    case $1 in
        wire) echo "wire (client -> rs2, one segment)" ;; router) echo "kernel router (ip_forward, no NAT)" ;;
        dr) echo "switchyard DR" ;; nat) echo "switchyard NAT" ;; nft) echo "kernel NAT (nftables DNAT)" ;;
        haproxy) echo "HAProxy mode tcp (1 thread)" ;; dr-busy) echo "switchyard DR, --busy-poll" ;;
        nat-busy) echo "switchyard NAT, --busy-poll" ;; dr-sleep) echo "switchyard DR, --busy-poll 0" ;;
        nat-sleep) echo "switchyard NAT, --busy-poll 0" ;;
    esac
}
report_md() {
    if [ -n "$bulk_paths" ]; then
        echo
        echo "## Bulk TCP (iperf3, Gbit/s at the receiver, median (min-max) of $rounds rounds of ${seconds} s)"
        echo
        echo "Upload: client -> server; download: server -> client (-R). DR's replies skip the balancer, so it has upload only."
        echo
        echo "| path | direction | 1 stream | 8 streams | retransmits 1 / 8 | vs kernel NAT 1 / 8 | vs HAProxy 1 / 8 |"
        echo "|---|---|---|---|---|---|---|"
        local path dir k1 k8
        for path in $bulk_paths; do
            for dir in $(dirs_of $path); do
                k1=$path-$dir-1 k8=$path-$dir-8
                echo "| $(label $path) | $dir | $(m bulk_$k1) ($(echo "${res[bulk_$k1]:-}" | fminmax 2)) | $(m bulk_$k8) ($(echo "${res[bulk_$k8]:-}" | fminmax 2)) | $(m retr_$k1) / $(m retr_$k8) | $(ratio "$(m bulk_$k1)" "$(m bulk_nft-$dir-1)") / $(ratio "$(m bulk_$k8)" "$(m bulk_nft-$dir-8)") | $(ratio "$(m bulk_$k1)" "$(m bulk_haproxy-$dir-1)") / $(ratio "$(m bulk_$k8)" "$(m bulk_haproxy-$dir-8)") |"
            done
        done
        echo
        local b
        for b in router wire; do
            [ -n "$(m bulk_dr-up-1)" ] && [ -n "$(m bulk_$b-up-1)" ] || continue
            echo "Switchyard DR upload x $(label $b): $(ratio "$(m bulk_dr-up-1)" "$(m bulk_$b-up-1)") (1 stream), $(ratio "$(m bulk_dr-up-8)" "$(m bulk_$b-up-8)") (8 streams)."
        done
    fi
    if [ -n "$lat_paths" ]; then
        echo
        echo "## Request latency (sockperf ping-pong, $mps requests/s for ${seconds} s, full round trip, µs, median (min-max) of $rounds rounds)"
        echo
        echo "| path | protocol | p50 | p99 | p99.9 | p50 vs kernel NAT | p99 vs kernel NAT | p50 added over kernel router |"
        echo "|---|---|---|---|---|---|---|---|"
        local proto k
        for path in $lat_paths; do
            for proto in $(protos_of $path); do
                k=$path-$proto
                echo "| $(label $path) | $proto | $(m p50_$k) ($(echo "${res[p50_$k]:-}" | fminmax 1)) | $(m p99_$k) ($(echo "${res[p99_$k]:-}" | fminmax 1)) | $(m p999_$k) ($(echo "${res[p999_$k]:-}" | fminmax 1)) | $(ratio "$(m p50_$k)" "$(m p50_nft-$proto)") | $(ratio "$(m p99_$k)" "$(m p99_nft-$proto)") | $(awk -v a="$(m p50_$k)" -v b="$(m p50_router-$proto)" 'BEGIN {if (a > 0 && b > 0) printf "%.1f", a - b}') |"
            done
        done
    fi
    local c
    for c in main busy sleep; do
        ls "$LAB_DIR"/counters-$c-* >/dev/null 2>&1 || continue
        echo
        echo "Engine counters, summed over every $(case $c in busy) echo "--busy-poll " ;; sleep) echo "--busy-poll 0 " ;; esac)engine of the run (adm --engine before each stop; super-packets sent whole: tcp_gso_sent, cut here: tcp_segmented):"
        echo
        echo '```'
        cat "$LAB_DIR"/counters-$c-* | awk '$1 ~ /^(tcp_|drop_|forwarded|nat_replies|rx_frames)/ && NF == 2 {sum[$1] += $2; if (!($1 in seen)) {seen[$1] = 1; order[++n] = $1}}
            END {for (i = 1; i <= n; i++) printf "  %s %d\n", order[i], sum[order[i]]}'
        echo '```'
    done
}
# goal TEXT A B OP THRESHOLD: A / B against the threshold (OP: >=, <= or <); left out when a path
# was not measured.
goal() {
    local r
    r=$(ratio "$2" "$3")
    [ -n "$r" ] || return 0
    echo "- $1: $r ($(awk -v v="$r" -v o="$4" -v t="$5" 'BEGIN {m = (o == ">=" ? v >= t : o == "<=" ? v <= t : v < t); print (m ? "met" : "not met")}'), goal $4 $5)"
}
report_goals() {
    local dir n proto p
    for dir in up down; do for n in 1 8; do
        goal "Bulk TCP through NAT x the kernel's NAT, $([ $dir = up ] && echo upload || echo download), $n stream$([ $n = 1 ] || echo s)" "$(m bulk_nat-$dir-$n)" "$(m bulk_nft-$dir-$n)" ">=" 1.0
    done; done
    for n in 1 8; do
        goal "Bulk TCP DR upload x the kernel router, $n stream$([ $n = 1 ] || echo s)" "$(m bulk_dr-up-$n)" "$(m bulk_router-up-$n)" ">=" 1.0
    done
    for p in dr nat; do for proto in udp tcp; do
        goal "Latency p50 through ${p^^} ($proto) x the kernel NAT's" "$(m p50_$p-$proto)" "$(m p50_nft-$proto)" "<=" 1.0
        goal "Latency p99 through ${p^^} ($proto) x the kernel NAT's" "$(m p99_$p-$proto)" "$(m p99_nft-$proto)" "<=" 1.5
    done; done
    if [ -z "$busy" ]; then
        [ -z "$lat_paths" ] || echo "- Latency p50 with --busy-poll below the kernel NAT's: not measured (this switchyard has no --busy-poll)"
    else
        for p in dr nat; do for proto in udp tcp; do
            goal "Latency p50 through ${p^^} --busy-poll ($proto) x the kernel NAT's" "$(m p50_$p-busy-$proto)" "$(m p50_nft-$proto)" "<" 1.0
        done; done
    fi
}
report_json() {
    local k sep=
    printf '{"rounds": %s, "seconds": %s, "mps": %s, "busy_poll": %s,\n "runs": {' "$rounds" "$seconds" "$mps" "$([ -n "$busy" ] && echo true || echo false)"
    for k in $(echo "${!res[@]}" | tr ' ' '\n' | sort); do
        printf '%s"%s": [%s]' "$sep" "$k" "$(echo ${res[$k]} | tr ' ' ',')"
        sep=', '
    done
    printf '},\n "median": {'
    sep=
    for k in $(echo "${!med[@]}" | tr ' ' '\n' | sort); do
        printf '%s"%s": %s' "$sep" "$k" "$(jnum "${med[$k]}")"
        sep=', '
    done
    printf '},\n "nat_over_kernel_nat_bulk": {"up_1": %s, "up_8": %s, "down_1": %s, "down_8": %s},\n' \
        "$(jnum "$(ratio "$(m bulk_nat-up-1)" "$(m bulk_nft-up-1)")")" "$(jnum "$(ratio "$(m bulk_nat-up-8)" "$(m bulk_nft-up-8)")")" \
        "$(jnum "$(ratio "$(m bulk_nat-down-1)" "$(m bulk_nft-down-1)")")" "$(jnum "$(ratio "$(m bulk_nat-down-8)" "$(m bulk_nft-down-8)")")"
    local b
    for b in nft router haproxy; do
        printf ' "dr_over_%s_upload": {"1": %s, "8": %s},\n' "$([ $b = nft ] && echo kernel_nat || echo $b)" \
            "$(jnum "$(ratio "$(m bulk_dr-up-1)" "$(m bulk_$b-up-1)")")" "$(jnum "$(ratio "$(m bulk_dr-up-8)" "$(m bulk_$b-up-8)")")"
    done
    printf ' "nat_over_haproxy_bulk": {"up_1": %s, "up_8": %s, "down_1": %s, "down_8": %s},\n' \
        "$(jnum "$(ratio "$(m bulk_nat-up-1)" "$(m bulk_haproxy-up-1)")")" "$(jnum "$(ratio "$(m bulk_nat-up-8)" "$(m bulk_haproxy-up-8)")")" \
        "$(jnum "$(ratio "$(m bulk_nat-down-1)" "$(m bulk_haproxy-down-1)")")" "$(jnum "$(ratio "$(m bulk_nat-down-8)" "$(m bulk_haproxy-down-8)")")"
    printf ' "latency_over_kernel_nat": {'
    sep=
    for k in dr nat dr-busy nat-busy dr-sleep nat-sleep haproxy; do for proto in udp tcp; do for p in p50 p99; do
        [ -n "$(m ${p}_$k-$proto)" ] || continue
        printf '%s"%s_%s_%s": %s' "$sep" "$k" "$proto" "$p" "$(jnum "$(ratio "$(m ${p}_$k-$proto)" "$(m ${p}_nft-$proto)")")"
        sep=', '
    done; done; done
    printf '}}\n'
}

if [ -n "$out" ]; then
    report_md >"$out.md"
    report_goals >"$out.goals"
    report_json >"$out.json"
else
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    md=$here/results/bulk-$stamp.md
    { echo "# Bulk TCP and request latency, $stamp"
      echo
      echo "Kernel $(uname -r), $cores cores; clients on CPU $client_cpu, engine ($workers worker(s)) and HAProxy on CPU $engine_cpus; $rounds rounds, alternating."
      report_md
      echo
      echo "## Against the goals, from this run's medians"
      echo
      report_goals; } >"$md"
    { printf '{"time": "%s", "kernel": "%s", "cores": %s, "workers": %s,\n "bulk": ' "$stamp" "$(uname -r)" "$cores" "$workers"
      report_json
      echo '}'; } >"${md%.md}.json"
    echo
    cat "$md"
    echo
    echo "written: $md and ${md%.md}.json"
fi
