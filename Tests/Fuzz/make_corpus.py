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

n = 0
for doc in sorted(os.listdir(os.path.join(root, "docs"))):
    text = open(os.path.join(root, "docs", doc)).read()
    for block in re.findall(r"```\n(.*?)```", text, re.S):
        if "virtual_server" in block or "global_defs" in block:
            write("config", "doc-%02d" % n, block.encode())
            n += 1

# Blocks nested past the parser's limit (ConfigSyntax.maxNesting, 64): refused with a place.
write("config", "nest-deep", b"a {\n" * 70 + b"}\n" * 70)

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
