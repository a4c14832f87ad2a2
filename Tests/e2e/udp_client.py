#!/usr/bin/env python3
"""Sends COUNT datagrams to ADDRESS:PORT, each from a new socket (a new flow), and prints one
line per answer: the answering server's name, or LOST after a 1 s timeout (one retry).
usage: udp_client.py ADDRESS PORT COUNT
"""
import socket
import sys

address, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    payload = b"probe-%d" % i
    answer = "LOST"
    for _ in range(2):
        s.sendto(payload, (address, port))
        try:
            data, _ = s.recvfrom(2048)
            name, _, echoed = data.partition(b" ")
            answer = name.decode() if echoed == payload else "CORRUPT"
            break
        except socket.timeout:
            continue
    print(answer, flush=True)
    s.close()
