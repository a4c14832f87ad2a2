# shellcheck shell=bash
# A lab of network namespaces for the demo, the end-to-end tests and the benchmarks.
# Source it from bash; it defines functions only. Every namespace it makes carries the run's
# prefix and is recorded, and lab_cleanup (set as an EXIT trap by lab_init) removes them all,
# also on failure or Ctrl-C. It never touches the root namespace's interfaces: the switch is a
# bridge inside a namespace of its own.
#
# Addresses come from 198.18.0.0/15 (RFC 2544's benchmarking range) only.

LAB_PREFIX=${LAB_PREFIX:-}
LAB_NAMESPACES=()
LAB_PIDS=()
LAB_DIR=

# lab_init PREFIX: start a lab; PREFIX keeps parallel runs apart (the pid is added).
lab_init() {
    LAB_PREFIX="$1$$-"
    LAB_DIR=$(mktemp -d "/tmp/switchyard-lab.XXXXXX")
    chmod 755 "$LAB_DIR"
    trap lab_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

lab_ns() { echo "${LAB_PREFIX}$1"; }

lab_exec() {
    local ns
    ns=$(lab_ns "$1")
    shift
    ip netns exec "$ns" "$@"
}

# lab_switch: the L2 segment: a namespace holding bridge br0.
lab_switch() {
    local ns
    ns=$(lab_ns "${1:-sw}")
    ip netns add "$ns"
    LAB_NAMESPACES+=("$ns")
    ip -n "$ns" link add br0 type bridge
    # A plain L2 switch: where br_netfilter is loaded, bridged IPv4 would otherwise pass the
    # switch's netfilter hooks, which also drop malformed headers no real switch would.
    ip netns exec "$ns" sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 \
        net.bridge.bridge-nf-call-arptables=0 2>/dev/null || true
    ip -n "$ns" link set br0 up
    ip -n "$ns" link set lo up
}

# lab_host NAME IFNAME ADDR/PREFIX [SWITCH]: a namespace with one interface IFNAME plugged into
# the switch.
lab_host() {
    local name=$1 ifname=$2 addr=$3 sw ns
    sw=$(lab_ns "${4:-sw}")
    ns=$(lab_ns "$name")
    ip netns add "$ns"
    LAB_NAMESPACES+=("$ns")
    ip link add "sy$$${name:0:6}" type veth peer name "p$$${name:0:6}"
    ip link set "sy$$${name:0:6}" netns "$ns"
    ip link set "p$$${name:0:6}" netns "$sw"
    ip -n "$ns" link set "sy$$${name:0:6}" name "$ifname"
    ip -n "$sw" link set "p$$${name:0:6}" name "$name" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$ifname" up
    ip -n "$ns" addr add "$addr" dev "$ifname"
}

# lab_nginx HOST NAME [EXTRA_SERVER_CONFIG]: an nginx real server answering "NAME" on port 80,
# logging each request's client address (and the address it was sent to) to its access log.
lab_nginx() {
    local host=$1 name=$2 extra=${3:-} dir
    dir=$LAB_DIR/nginx-$host
    mkdir -p "$dir/tmp" "$dir/www"
    head -c 4194304 /dev/urandom >"$dir/www/big.bin"
    cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
user root;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    log_format sy '\$remote_addr \$server_addr \$status';
    access_log $dir/access.log sy;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    keepalive_requests 100000;
    server {
        listen 80 reuseport backlog=4096;
        root $dir/www;
        location = / { default_type text/plain; return 200 "$name\n"; }
        $extra
    }
}
CONF
    lab_exec "$host" nginx -c "$dir/nginx.conf" -p "$dir"
    local i
    for i in $(seq 50); do
        [ -s "$dir/nginx.pid" ] && break
        sleep 0.1
    done
    [ -s "$dir/nginx.pid" ] || { echo "nginx on $host did not start:" >&2; cat "$dir/error.log" >&2; return 1; }
    LAB_PIDS+=("$(cat "$dir/nginx.pid")")
}

lab_nginx_log() { echo "$LAB_DIR/nginx-$1/access.log"; }

lab_nginx_stop() {
    local pidfile=$LAB_DIR/nginx-$1/nginx.pid
    [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
    rm -f "$pidfile"
}

# lab_bg HOST LOGFILE CMD...: start a command in a namespace in the background; its pid is
# recorded in LAB_LAST_PID and killed by cleanup.
lab_bg() {
    local host=$1 log=$2
    shift 2
    ip netns exec "$(lab_ns "$host")" "$@" >"$log" 2>&1 &
    LAB_LAST_PID=$!
    LAB_PIDS+=("$LAB_LAST_PID")
}

# lab_wait_for LOGFILE PATTERN SECONDS: wait until a log shows a line.
lab_wait_for() {
    local i
    for i in $(seq $(($3 * 10))); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

lab_cleanup() {
    local rc=$? pid ns
    trap - EXIT INT TERM
    # Cleanup must run to the end whatever fails along the way.
    set +e
    for pid in "${LAB_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${LAB_PIDS[@]}"; do
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    done
    for ns in "${LAB_NAMESPACES[@]}"; do
        # Anything still running inside (a forgotten process) goes with its namespace.
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    LAB_NAMESPACES=()
    LAB_PIDS=()
    if [ -n "$LAB_DIR" ] && [ -z "${LAB_KEEP:-}" ]; then rm -rf "$LAB_DIR"; fi
    exit $rc
}

# switchyard_bin: the release build (the tests and demo build it first).
switchyard_bin() {
    local root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    echo "${SWITCHYARD_BIN:-$root/.build/release/switchyard}"
}
