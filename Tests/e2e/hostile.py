#!/usr/bin/env python3
"""Sends malformed and hostile frames to the balancer from a raw socket, COUNT of each kind,
and prints what it sent. usage: hostile.py IFACE LB_MAC VIP CLIENT_IP COUNT

Kinds: truncated at every header boundary, bad IHL, total length beyond the frame, IP options,
first and non-first fragments, TTL 0 and 1, TCP data offset too small and too large, zero-length
and maximum-length frames, ICMP errors with truncated or forged inner headers, non-IP
ethertypes, 802.1Q-tagged, broadcast and multicast, and TCP/UDP to a VIP port with no service.
Every address stays in 198.18.0.0/15."""
import socket
import struct
import sys

iface, lb_mac, vip, client, count = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), \
    socket.inet_aton(sys.argv[3]), socket.inet_aton(sys.argv[4]), int(sys.argv[5])
own = open("/sys/class/net/%s/address" % iface).read().strip()
src_mac = bytes.fromhex(own.replace(":", ""))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip(proto, payload, ihl=5, total=None, frag=0x4000, ttl=64, options=b"", src=client, dst=vip):
    total = total if total is not None else 4 * ihl + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total & 0xFFFF, 7, frag, ttl, proto, 0, src, dst) + options
    h = h[:10] + struct.pack("!H", csum(h[:4 * ihl] if len(h) >= 4 * ihl else h)) + h[12:]
    return h + payload


def tcp(dport=80, doff=5, flags=0x02):
    return struct.pack("!HHIIBBHHH", 40000, dport, 1, 0, doff << 4, flags, 1024, 0, 0) + b"\0" * max(0, (doff - 5) * 4)


def eth(payload, ethertype=0x0800, dst=None):
    return (dst or lb_mac) + src_mac + struct.pack("!H", ethertype) + payload


good = eth(ip(6, tcp()))
kinds = {}
# (The kernel refuses to send less than an Ethernet header, so cuts start at 14.)
for cut in (14, 16, 20, 33, 34, 40, 53):
    kinds["truncated at %d bytes" % cut] = good[:cut]
# Shorter than 34 bytes never reaches the engine: the kernel-side filter cannot load the
# destination address and drops it. A whole 20-byte header claiming 60 bytes does reach it.
kinds["IHL 15 in a 20-byte header"] = eth(ip(6, b"", ihl=5)[:0] + bytes([0x4F]) + ip(6, b"")[1:20])
bad_sum = bytearray(eth(ip(6, tcp())))
bad_sum[24] ^= 0xFF
kinds["header checksum wrong"] = bytes(bad_sum)
kinds["IHL 4"] = eth(ip(6, tcp(), ihl=4)[:40])
kinds["total length beyond the frame"] = eth(ip(6, tcp(), total=1400))
kinds["IP options (IHL 6)"] = eth(ip(6, tcp(), ihl=6, options=b"\x01\x01\x01\x00"))
kinds["first fragment"] = eth(ip(6, tcp(), frag=0x2000))
kinds["non-first fragment"] = eth(ip(6, b"x" * 16, frag=0x0010))
kinds["TTL 0"] = eth(ip(6, tcp(), ttl=0))
kinds["TTL 1"] = eth(ip(6, tcp(), ttl=1))
kinds["TCP data offset 2"] = eth(ip(6, tcp(doff=2)))
kinds["TCP data offset 15 (beyond the packet)"] = eth(ip(6, tcp()[:12] + b"\xf0" + tcp()[13:]))
kinds["zero-length Ethernet payload"] = eth(b"")
kinds["maximum length (1514)"] = eth(ip(17, struct.pack("!HHHH", 5, 9999, 1480, 0) + b"m" * 1472))
kinds["ICMP error, inner header truncated"] = eth(ip(1, struct.pack("!BBHI", 3, 4, 0, 1400) + ip(6, tcp(), src=vip, dst=client)[:12]))
kinds["ICMP error, forged inner (no such flow)"] = eth(ip(1, struct.pack("!BBHI", 3, 1, 0, 0) + ip(6, tcp(), src=vip, dst=socket.inet_aton("198.18.99.99"))))
kinds["ICMP echo with bad length"] = eth(ip(1, b"\x08\x00"))
kinds["non-IP ethertype 0x88b5"] = eth(b"\x00" * 46, ethertype=0x88B5)
kinds["802.1Q-tagged"] = eth(struct.pack("!HH", 100, 0x0800) + ip(6, tcp()), ethertype=0x8100)
kinds["broadcast"] = eth(ip(17, struct.pack("!HHHH", 5, 80, 8, 0)), dst=b"\xff" * 6)
kinds["multicast"] = eth(ip(17, struct.pack("!HHHH", 5, 80, 8, 0)), dst=bytes.fromhex("01005e000001"))
kinds["TCP to a VIP port with no service"] = eth(ip(6, tcp(dport=4444)))
kinds["UDP to a VIP port with no service"] = eth(ip(17, struct.pack("!HHHH", 5, 4444, 8, 0)))

s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
sent = 0
for name, frame in kinds.items():
    for _ in range(count):
        try:
            s.send(frame)
            sent += 1
        except OSError as e:
            print("could not send %s: %s" % (name, e))
print("sent %d frames of %d kinds" % (sent, len(kinds)))
