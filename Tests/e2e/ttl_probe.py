#!/usr/bin/env python3
"""Sends one UDP datagram to ADDRESS:PORT with IP TTL set to TTL and reports the ICMP error the
sender's kernel matched to it (by the quoted header), as traceroute reads it: prints
"time exceeded from OFFENDER" (ICMP type 11, code 0), "icmp TYPE/CODE from OFFENDER" for any
other error, or "no error" if none came within 2 s.
usage: ttl_probe.py ADDRESS PORT TTL
"""
import select
import socket
import struct
import sys

IP_RECVERR = 11
SO_EE_ORIGIN_ICMP = 2

address, port, ttl = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
s.connect((address, port))
s.send(b"ttl-probe")
poll = select.poll()
poll.register(s, select.POLLERR)
if not poll.poll(2000):
    print("no error")
    sys.exit(0)
_, ancillary, _, _ = s.recvmsg(512, 512, socket.MSG_ERRQUEUE)
for level, kind, data in ancillary:
    if level != socket.IPPROTO_IP or kind != IP_RECVERR:
        continue
    # struct sock_extended_err, then the offender's sockaddr_in (SO_EE_OFFENDER).
    _, origin, icmp_type, icmp_code, _, _, _ = struct.unpack("=IBBBBII", data[:16])
    offender = socket.inet_ntoa(data[20:24])
    if origin == SO_EE_ORIGIN_ICMP and (icmp_type, icmp_code) == (11, 0):
        print("time exceeded from %s" % offender)
    else:
        print("icmp %d/%d from %s (origin %d)" % (icmp_type, icmp_code, offender, origin))
    sys.exit(0)
print("an error without IP_RECVERR data")
