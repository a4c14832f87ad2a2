#!/usr/bin/env python3
"""Stands in for systemd's notification socket: binds a datagram socket at PATH and writes each
message it receives to OUT as one line, `SECONDS MESSAGE` (CLOCK_MONOTONIC seconds, the
message's lines joined by `|`), flushed at once. Ends after --seconds (bounded) or on SIGTERM.
usage: notify_listener.py PATH OUT [--seconds N]"""
import argparse
import os
import signal
import socket
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("path")
parser.add_argument("out")
parser.add_argument("--seconds", type=float, default=120)
args = parser.parse_args()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

if os.path.exists(args.path):
    os.unlink(args.path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(args.path)
end = time.monotonic() + args.seconds
with open(args.out, "a", buffering=1) as out:
    while time.monotonic() < end:
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        out.write("%.3f %s\n" % (time.monotonic(), data.decode("utf-8", "replace").strip().replace("\n", "|")))
