#!/usr/bin/env bash
# Installs what Switchyard needs on Debian 12 (as root) and builds it in release mode.
# Needs the Swift 6 toolchain on PATH (swift.org's Debian 12 build; CI machines have it).
#   scripts/setup.sh            packages + release build
#   SKIP_APT=1 scripts/setup.sh only the build
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

packages=(
    libpcap-dev libnet1-dev libssl-dev pkg-config   # build: VIP filter (libpcap), ARP frames (libnet), sync auth (libcrypto)
    nftables iproute2 ethtool           # run: kernel guard, namespaces, GRO checks
    nginx-light curl wrk python3        # demo and tests: real servers and clients
    iputils-ping procps psmisc keepalived # tests: ping, sysctl, process helpers
    bird2                               # tests: BGP router and speakers for ECMP scale-out (test_scaleout)
    openssl tcpdump                     # tests: a TLS server (s_server) for SSL_GET, VRRP captures
    dnsmasq-base bind9-dnsutils         # tests: a UDP service (DNS) through NAT
    netsniff-ng haproxy valgrind iperf3 sockperf # bench: trafgen floods, HAProxy peer, instruction counts, bulk TCP, latency
    gnuplot-nox                         # bench: PNG charts
    chromium chromium-driver python3-selenium # tests: a real browser on the status page
    dpkg-dev systemd                    # packaging: dpkg-shlibdeps; tests: systemd-analyze verify
    libxdp-dev libbpf-dev gcc           # bench: the AF_XDP probe
)

if [ -z "${SKIP_APT:-}" ]; then
    [ "$(id -u)" -eq 0 ] || { echo "setup.sh: run as root (apt-get install)" >&2; exit 1; }
    missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "== installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
fi

command -v swift >/dev/null || { echo "setup.sh: swift is not on PATH (Swift 6 toolchain needed)" >&2; exit 1; }
# The Swift runtime linked in (as scripts/package.sh packages it): the tests run the binary
# the package ships, and one build serves both.
echo "== building: swift build -c release --static-swift-stdlib"
swift build -c release --static-swift-stdlib --product switchyard 2>&1 | tail -n 3
test -x .build/release/switchyard
echo "== built $root/.build/release/switchyard"
