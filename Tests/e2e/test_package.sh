#!/usr/bin/env bash
# The Debian packages: scripts/package.sh builds both; their contents and dependencies are
# what they should be; dpkg installs them into a root made here (--root, maintainer scripts
# run chrootless with DPKG_ROOT set), an upgrade keeps an edited conffile, removal leaves only
# the conffile and a purge nothing; systemd-analyze verify passes on the units as installed.
# No namespaces: nothing here touches the network.
. "$(dirname "$0")/prelude.sh"

work=$(mktemp -d /tmp/switchyard-package.XXXXXX)
trap 'rc=$?; e2e_report; rm -rf "$work"; exit $rc' EXIT

echo "-- scripts/package.sh"
bash "$root/scripts/package.sh" "$work/debs" >"$work/build.log" 2>&1
check "it built both packages" test -s "$(ls "$work"/debs/switchyard_*.deb 2>/dev/null | head -n 1)" \
    -a -s "$(ls "$work"/debs/switchyard-realserver_*_all.deb 2>/dev/null | head -n 1)"
lb_deb=$(ls "$work"/debs/switchyard_*.deb | head -n 1)
rs_deb=$(ls "$work"/debs/switchyard-realserver_*_all.deb | head -n 1)
version=$(dpkg-deb -f "$lb_deb" Version)
contents=$(dpkg-deb --contents "$lb_deb" | awk '{print $6}')
for path in ./usr/sbin/switchyard ./lib/systemd/system/switchyard.service ./etc/switchyard/switchyard.conf \
            ./usr/share/man/man8/switchyard.8.gz ./usr/share/man/man5/switchyard.conf.5.gz \
            ./usr/share/doc/switchyard/README.md ./usr/share/doc/switchyard/operations.md; do
    check "switchyard has $path" grep -qx "$path" <<<"$contents"
done
rs_contents=$(dpkg-deb --contents "$rs_deb" | awk '{print $6}')
for path in ./usr/sbin/switchyard-realserver "./lib/systemd/system/switchyard-realserver@.service" \
            "./lib/systemd/system/switchyard-gateway@.service"; do
    check "switchyard-realserver has $path" grep -qx "$path" <<<"$rs_contents"
done
depends=$(dpkg-deb -f "$lb_deb" Depends)
for lib in libpcap0.8 libnet1 libssl3 nftables "switchyard-realserver (= $version)"; do
    check "switchyard depends on $lib ($depends)" grep -qF "$lib" <<<"$depends"
done
check "conffiles: /etc/switchyard/switchyard.conf" test "$(dpkg-deb -I "$lb_deb" conffiles)" = /etc/switchyard/switchyard.conf

echo "-- dpkg into a root of its own"
R=$work/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers"
: >"$R/var/lib/dpkg/status"
: >"$R/var/lib/dpkg/available"
dpkg_root() { dpkg --root="$R" --force-script-chrootless --force-depends --log=/dev/null "$@" </dev/null >>"$work/dpkg.log" 2>&1; }
dpkg_root -i "$rs_deb" "$lb_deb"
check "dpkg -i took both" test $? -eq 0
check "the binary runs from the root: $("$R/usr/sbin/switchyard" --version 2>&1)" test "$("$R/usr/sbin/switchyard" --version)" = "$version"
check "it needs no Swift runtime (linked in)" bash -c "! ldd '$R/usr/sbin/switchyard' | grep -q libswift"
check "the example config passes switchyard check" "$R/usr/sbin/switchyard" check --config "$R/etc/switchyard/switchyard.conf"
# in_sbin COMMAND: runs it with the packages' binaries seen at /usr/sbin, in a mount namespace
# of its own (an overlay over the machine's /usr/sbin, gone when it ends).
in_sbin() { unshare -m sh -c "mount -t overlay overlay -o lowerdir='$R/usr/sbin':/usr/sbin /usr/sbin && $1"; }
check "switchyard realserver runs /usr/sbin/switchyard-realserver" \
    bash -c "$(declare -f in_sbin); R='$R'; in_sbin '/usr/sbin/switchyard realserver check gateway 198.18.0.2' 2>&1 | grep -q 'default route\|gateway'"

echo "-- systemd-analyze verify on the units as installed"
for unit in switchyard.service switchyard-realserver@198.18.0.100.service switchyard-gateway@198.18.0.2.service; do
    template=${unit/@*./@.}
    out=$(in_sbin "cp '$R/lib/systemd/system/$template' '$work/$unit' && systemd-analyze verify --man=no '$work/$unit'" 2>&1)
    rc=$?
    check "$unit: ${out:-clean}" test "$rc" -eq 0 -a -z "$out"
done

echo "-- an upgrade keeps an edited conffile"
echo "! edited by the operator" >>"$R/etc/switchyard/switchyard.conf"
next=$work/next
dpkg-deb -R "$lb_deb" "$next"
sed -i "s/^Version: .*/Version: $version+1/" "$next/DEBIAN/control"
sed -i "s/switchyard-realserver (= $version)/switchyard-realserver (>= $version)/" "$next/DEBIAN/control"
dpkg-deb --root-owner-group -Zgzip --build "$next" "$work/next.deb" >/dev/null
dpkg_root --force-confold -i "$work/next.deb"
check "the upgrade took" grep -q "^Version: $version+1" <(dpkg --root="$R" -s switchyard 2>/dev/null)
check "the operator's edit is still there" grep -q "^! edited by the operator" "$R/etc/switchyard/switchyard.conf"

echo "-- removal and purge"
dpkg_root -r switchyard switchyard-realserver
left=$(cd "$R" && find . -path ./var/lib/dpkg -prune -o \( -type f -o -type l \) -print | sort)
check "remove leaves only the conffile (${left//$'\n'/ })" test "$left" = ./etc/switchyard/switchyard.conf
dpkg_root -P switchyard switchyard-realserver
left=$(cd "$R" && find . -path ./var/lib/dpkg -prune -o \( -type f -o -type l \) -print | sort)
check "purge leaves no file (${left:-none})" test -z "$left"
