#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (Tests/Fuzz/corpus/): the golden packets, the configs the
docs show, and typical adm command lines. Run after changing the fixtures or the docs."""
import os
import re

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", ".."))


def write(kind, name, data):
    d = os.path.join(here, "corpus", kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


golden = open(os.path.join(root, "Tests", "SwitchyardCoreTests", "GoldenFixtures.swift")).read()
single, _, nat = golden.partition("let natSequences")
for i, h in enumerate(re.findall(r'input: "([0-9a-f]*)"', single)):
    # control 0x00: DR snapshot, ingress 0; 0x04: checksum pending.
    write("pipeline", "dr-%02d" % i, bytes([0x00, 0x01]) + bytes.fromhex(h))
    write("pipeline", "dr-pending-%02d" % i, bytes([0x04, 0x01]) + bytes.fromhex(h))
for i, (ingress, h) in enumerate(re.findall(r'GoldenStep\(ingress: (\d), input: "([0-9a-f]*)"', nat)):
    write("pipeline", "nat-%02d" % i, bytes([0x01 | (int(ingress) << 1), 0x01]) + bytes.fromhex(h))
golden6 = open(os.path.join(root, "Tests", "SwitchyardCoreTests", "Golden6Fixtures.swift")).read()
single6, _, nat6 = golden6.partition("let nat66Sequences")
for i, h in enumerate(re.findall(r'input: "([0-9a-f]*)"', single6)):
    write("pipeline", "dr6-%02d" % i, bytes([0x00, 0x01]) + bytes.fromhex(h))
for i, (ingress, h) in enumerate(re.findall(r'GoldenStep\(ingress: (\d), input: "([0-9a-f]*)"', nat6)):
    write("pipeline", "nat6-%02d" % i, bytes([0x01 | (int(ingress) << 1), 0x01]) + bytes.fromhex(h))

n = 0
for doc in sorted(os.listdir(os.path.join(root, "docs"))):
    if not doc.endswith(".md"):
        continue
    text = open(os.path.join(root, "docs", doc)).read()
    for block in re.findall(r"```\n(.*?)```", text, re.S):
        if "virtual_server" in block or "global_defs" in block:
            write("config", "doc-%02d" % n, block.encode())
            n += 1

# keepalived's failover blocks as the tutorials write them (VRRPConfigTests has the same pairs).
for i, conf in enumerate([
    """global_defs {
    router_id LB_A
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass s3cr3t
    }
    virtual_ipaddress {
        198.18.0.100/24 dev eth0 label eth0:1
    }
    notify_master "/etc/keepalived/notify.sh master"
}
virtual_server 198.18.0.100 80 {
    lb_kind DR
    real_server 198.18.0.11 80 { }
}
""",
    """vrrp_script chk_switchyard {
    script "/usr/bin/pgrep -x switchyard"
    interval 0.5
    weight -30
    rise 2
    fall 3
}
vrrp_instance VI_FAST {
    state BACKUP
    interface eth0
    virtual_router_id 60
    priority 200
    advert_int 0.1
    version 3
    nopreempt
    unicast_src_ip 198.18.0.2
    unicast_peer {
        198.18.0.3
    }
    virtual_ipaddress {
        198.18.0.100
    }
    track_interface {
        eth1 weight -50
    }
    track_script {
        chk_switchyard
    }
}
""",
    """global_defs {
    vrrp_version 3
    vrrp_garp_master_refresh 60
    lvs_sync_daemon eth1 VI_GW id 7 port 8849
}
vrrp_sync_group G1 {
    group {
        VI_VIP
        VI_GW
    }
    notify_master "/usr/local/bin/ha master"
}
vrrp_instance VI_VIP {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    virtual_ipaddress {
        198.18.0.100/24
    }
}
vrrp_instance VI_GW {
    state MASTER
    interface eth1
    virtual_router_id 52
    priority 150
    virtual_ipaddress {
        198.19.0.1/24 dev eth1
    }
}
virtual_server 198.18.0.100 80 {
    lb_kind NAT
    real_server 198.19.0.11 80 { }
}
""",
]):
    write("config", "vrrp-%02d" % i, conf.encode())

# Blocks nested past the parser's limit (ConfigSyntax.maxNesting, 64): refused with a place.
write("config", "nest-deep", b"a {\n" * 70 + b"}\n" * 70)

# The line layer (ConfigLines.swift): comments glued to words, @ID lines, definitions (one and
# several lines), ~SEQ, an include that matches nothing, a brace in mid-line.
write("config", "lexer", b"""$VIP=198.18.0.100
$REAL=real_server 198.18.0.$n 80 { \\
    weight 1 # glued!comment \\
}
@lb1 global_defs { router_id lb1 }
@^lb1 include missing.d/*.conf
virtual_server $VIP ${_RANDOM 80 80} { lb_kind DR# direct
~SEQ(n, 11, 2, 15) $REAL
~SEQx(n, 0x20, 0x21) real_server 198.18.0.${n} 80 { weight 1 }!x
}
""")

for i, line in enumerate([
    "-A -t 198.18.0.100:80 -s mh -p 300 -M 255.255.255.0",
    "-a -t 198.18.0.100:80 -r 198.18.0.11:80 -g -w 2",
    "-a -u 198.18.0.100:53 -r 198.18.0.12:5353 -m",
    "-e -t 198.18.0.100:80 -r 198.18.0.11 -w 0",
    "-d -t 198.18.0.100:80 -r 198.18.0.11",
    "-Ln --stats --rate",
    "-L --json -t 198.18.0.100:80",
    "--set 900 120 300",
    "-D -t 198.18.0.100:80",
    "-C",
    "-Sn",
    "--engine",
    "--metrics",
]):
    write("adm", "cmd-%02d" % i, line.encode())
# The VRRP adverts: the oracle's and keepalived's, as the raw socket hands them over.
vrrp = open(os.path.join(root, "Tests", "SwitchyardControlTests", "VRRPGoldenFixtures.swift")).read()
for i, h in enumerate(re.findall(r'packet: "([0-9a-f]*)"', vrrp)):
    write("vrrp", "advert-%02d" % i, bytes.fromhex(h))
# The golden sync messages, whole (Tests/fixtures/make_sync_golden.py writes them).
sync = open(os.path.join(root, "Tests", "SwitchyardControlTests", "SyncGoldenFixtures.swift")).read()
for i, h in enumerate(re.findall(r'^ *"([0-9a-f]+)",$', sync, re.M)):
    write("sync", "msg-%02d" % i, bytes.fromhex(h))
print("corpora written")
