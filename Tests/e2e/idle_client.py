#!/usr/bin/env python3
"""Opens COUNT keep-alive HTTP connections to ADDRESS:PORT and asks each for / once; prints
"open" when all have answered, waits for a line on stdin, then asks on each connection again
and prints one line per connection: "same NAME" when the same server answered on the same
connection, else "changed A B" or "failed ERROR". The connections sit idle in between.
usage: idle_client.py ADDRESS PORT COUNT
"""
import http.client
import sys

address, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def ask(conn):
    conn.request("GET", "/")
    return conn.getresponse().read().decode().strip()


conns = [http.client.HTTPConnection(address, port, timeout=3) for _ in range(count)]
first = [ask(c) for c in conns]
print("open", flush=True)
sys.stdin.readline()
for conn, name in zip(conns, first):
    try:
        again = ask(conn)
        print(f"same {name}" if again == name else f"changed {name} {again}", flush=True)
    except Exception as e:  # the connection was reset or timed out: the flow was lost
        print(f"failed {type(e).__name__}", flush=True)
