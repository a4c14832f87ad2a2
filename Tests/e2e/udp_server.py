#!/usr/bin/env python3
"""A UDP real server for the tests: answers each datagram with its name and logs the client.

Bound to the VIP (on lo) so replies leave from the VIP, as direct server return needs.
usage: udp_server.py NAME BIND_ADDRESS PORT LOGFILE
"""
import socket
import sys

name, address, port, logfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((address, port))
with open(logfile, "a", buffering=1) as log:
    log.write("listening\n")
    while True:
        data, peer = s.recvfrom(2048)
        log.write("%s %d\n" % peer)
        s.sendto(name.encode() + b" " + data, peer)
