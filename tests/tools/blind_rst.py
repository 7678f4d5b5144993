#!/usr/bin/env python3
"""A keep-alive connection through kanary, hit by spoofed RSTs.

    blind_rst.py --host VIP [--port 80] [--count 20] [--abort]

Opens one HTTP keep-alive connection and makes a request; then sends
COUNT RSTs (half of them RST+ACK) with the connection's 4-tuple and
random sequence numbers from a raw socket, as an off-path attacker who
knows the client's port would; then makes a second request on the same
connection. With --abort, the client then really resets it: close with
SO_LINGER 0, an RST at its exact sequence number. Prints one line:

    port=P before=ok after=ok|ERROR aborted=yes|no

Run it in the client's namespace (root: raw socket).
"""
import argparse
import http.client
import json
import random
import socket
import struct
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def rst(src, sport, dst, dport, seq, ack, flags):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags,
                      0, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp),
                     random.getrandbits(16), 0, 64, socket.IPPROTO_TCP, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def predict(conn):
    try:
        conn.request("POST", "/v1/models/image_classifier:predict",
                     body=json.dumps({"instances": [[0.5]]}),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        return "ok" if resp.status == 200 else f"ERROR(HTTP {resp.status})"
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        return f"ERROR({e!r})"


p = argparse.ArgumentParser()
p.add_argument("--host", required=True)
p.add_argument("--port", type=int, default=80)
p.add_argument("--count", type=int, default=20)
p.add_argument("--abort", action="store_true")
a = p.parse_args()

conn = http.client.HTTPConnection(a.host, a.port, timeout=5)
before = predict(conn)
src, sport = conn.sock.getsockname()
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for i in range(a.count):
    flags = 0x14 if i % 2 else 0x04
    raw.sendto(rst(src, sport, a.host, a.port, random.getrandbits(32),
                   random.getrandbits(32) if flags & 0x10 else 0, flags),
               (a.host, 0))
time.sleep(0.3)
after = predict(conn)
aborted = "no"
if a.abort:
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
    conn.sock.close()
    aborted = "yes"
print(f"port={sport} before={before} after={after} aborted={aborted}",
      flush=True)
