#!/usr/bin/env bash
# Builds the Debian packages with dpkg-deb from the release build:
#   switchyard_<version>_<arch>.deb      the balancer: /usr/sbin/switchyard, its systemd unit,
#                                         /etc/switchyard/switchyard.conf (a conffile), man pages, docs
#   switchyard-realserver_<version>_all.deb  what a real server needs: /usr/sbin/switchyard-realserver
#                                         and the units switchyard-realserver@VIP and switchyard-gateway@LB
# The balancer depends on the second (its `switchyard realserver` runs the same script).
# The Swift runtime is linked into the binary (--static-swift-stdlib): the target needs no Swift
# toolchain, and no package of Debian's carries Swift's runtime libraries. The C libraries it
# links (libpcap, libnet, libssl, libxdp, libbpf) are declared dependencies, found by
# dpkg-shlibdeps from the binary itself.
#   scripts/package.sh [OUTDIR]     (default: .build/packages)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${1:-$root/.build/packages}
version=$(sed -n 's/.*static let number = "\(.*\)".*/\1/p' Sources/SwitchyardControl/Version.swift)
[ -n "$version" ] || { echo "package.sh: no version in Sources/SwitchyardControl/Version.swift" >&2; exit 1; }
arch=$(dpkg --print-architecture)

echo "== building: swift build -c release --static-swift-stdlib --product switchyard"
swift build -c release --static-swift-stdlib --product switchyard 2>&1 | tail -n 1
bin=$root/.build/release/switchyard
if ldd "$bin" | grep -q libswift; then
    echo "package.sh: $bin still needs Swift's shared runtime" >&2
    exit 1
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out"

# --- switchyard-realserver (architecture all) ---
rs=$stage/realserver
install -D -m 755 scripts/realserver.sh "$rs/usr/sbin/switchyard-realserver"
install -D -m 644 "packaging/switchyard-realserver@.service" "$rs/lib/systemd/system/switchyard-realserver@.service"
install -D -m 644 "packaging/switchyard-gateway@.service" "$rs/lib/systemd/system/switchyard-gateway@.service"
install -D -m 644 docs/dr-setup.md "$rs/usr/share/doc/switchyard-realserver/dr-setup.md"
install -D -m 644 docs/nat-setup.md "$rs/usr/share/doc/switchyard-realserver/nat-setup.md"
mkdir -p "$rs/DEBIAN"
cat >"$rs/DEBIAN/control" <<CONTROL
Package: switchyard-realserver
Version: $version
Architecture: all
Maintainer: Switchyard developers <switchyard@example.org>
Section: net
Priority: optional
Depends: iproute2, procps
Installed-Size: $(du -sk "$rs" | cut -f1)
Description: prepares real servers behind a Switchyard load balancer
 switchyard-realserver puts a VIP on the loopback interface and stops the host
 answering ARP for it (direct server return), or routes replies back through
 the balancer (NAT). The units switchyard-realserver@VIP and
 switchyard-gateway@ADDRESS do it at boot and undo it on stop.
CONTROL
dpkg-deb --root-owner-group -Zgzip --build "$rs" "$out/switchyard-realserver_${version}_all.deb" >/dev/null

# --- switchyard (the balancer) ---
lb=$stage/balancer
install -D -m 755 "$bin" "$lb/usr/sbin/switchyard"
install -D -m 644 packaging/switchyard.service "$lb/lib/systemd/system/switchyard.service"
install -D -m 644 packaging/switchyard.conf "$lb/etc/switchyard/switchyard.conf"
install -D -m 644 docs/man/switchyard.8 "$lb/usr/share/man/man8/switchyard.8"
install -D -m 644 docs/man/switchyard.conf.5 "$lb/usr/share/man/man5/switchyard.conf.5"
gzip -9n "$lb/usr/share/man/man8/switchyard.8" "$lb/usr/share/man/man5/switchyard.conf.5"
install -D -m 644 README.md "$lb/usr/share/doc/switchyard/README.md"
for f in docs/*.md; do install -D -m 644 "$f" "$lb/usr/share/doc/switchyard/$(basename "$f")"; done
[ -d docs/images ] && for f in docs/images/*; do install -D -m 644 "$f" "$lb/usr/share/doc/switchyard/images/$(basename "$f")"; done
mkdir -p "$lb/DEBIAN"
install -m 755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$lb/DEBIAN/"
echo /etc/switchyard/switchyard.conf >"$lb/DEBIAN/conffiles"
# The shared libraries the binary links, as Debian package dependencies (dpkg-shlibdeps wants
# a debian/control beside it; a scratch one serves).
shlib=$stage/shlibdeps
mkdir -p "$shlib/debian"
printf 'Source: switchyard\n\nPackage: switchyard\nArchitecture: any\n' >"$shlib/debian/control"
libs=$(cd "$shlib" && dpkg-shlibdeps -O "$lb/usr/sbin/switchyard" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$libs" ] || { echo "package.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
cat >"$lb/DEBIAN/control" <<CONTROL
Package: switchyard
Version: $version
Architecture: $arch
Maintainer: Switchyard developers <switchyard@example.org>
Section: net
Priority: optional
Depends: $libs, nftables, ethtool, switchyard-realserver (= $version)
Recommends: iproute2
Installed-Size: $(du -sk "$lb" | cut -f1)
Description: user-space L4 load balancer (LVS-style DR and NAT)
 Switchyard spreads packets for virtual IPs over real servers by direct server
 return or NAT, keeps the client's address, takes dead servers out with health
 checks, fails over with VRRP and connection sync, and reads keepalived.conf
 and ipvsadm's syntax. It serves a status page and Prometheus metrics.
CONTROL
# gzip, not dpkg-deb's default xz: the 74 MB binary (the Swift runtime linked in) takes 4 s
# instead of 35 on two cores, for 21 MB instead of 15.
dpkg-deb --root-owner-group -Zgzip --build "$lb" "$out/switchyard_${version}_${arch}.deb" >/dev/null
echo "== built $out/switchyard_${version}_${arch}.deb and $out/switchyard-realserver_${version}_all.deb"
