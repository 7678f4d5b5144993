#!/usr/bin/env python3
"""Many short HTTP connections in a row, each closed by the client first.

    conn_burst.py --host 198.18.0.1 [--port 80] --count 3000 [--parallel 4]
                  [--header 'user-group: canary' ...] [--path P] [--body S]

Each connection sends one predict request (HTTP/1.1, keep-alive, so that
the server does not close first), reads the whole answer, and closes: the
client's FIN comes first and the server's socket does not end in
TIME_WAIT. --header lines are sent verbatim, in order, after Host,
Content-Type and Content-Length (so "user-group:canary" or odd spacing go
out as written). Prints what answered, in the format of lib.sh's
versions(): one "count version" line per X-Model-Version seen, and
"count ERROR" for connections that failed (the first few reasons go to
stderr). Exit status 0 when every connection got a 200, else 1.
Standard library only.
"""
import argparse
import collections
import socket
import sys
import threading

PATH = "/v1/models/image_classifier:predict"
BODY = '{"instances": [[0.1, 0.2]]}'


def one(addr, request, timeout):
    """One connection, one request; returns the X-Model-Version."""
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(request)
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = s.recv(65536)
            if not data:
                raise ConnectionError("closed before the response head")
            buf += data
        head, body = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or not status[0].startswith("HTTP/1."):
            raise ValueError("bad status line %r" % lines[0])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "-1"))
        if length < 0:
            raise ValueError("no Content-Length in the response")
        while len(body) < length:
            data = s.recv(65536)
            if not data:
                raise ConnectionError("closed in the response body")
            body += data
        if status[1] != "200":
            raise ValueError("HTTP %s" % status[1])
        return headers.get("x-model-version", "unknown")
    # leaving "with" closes the socket: the client's FIN goes first


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--parallel", type=int, default=1,
                    help="connections open at once (threads)")
    ap.add_argument("--header", action="append", default=[],
                    help="a raw header line, sent as given (repeatable)")
    ap.add_argument("--path", default=PATH)
    ap.add_argument("--body", default=BODY)
    ap.add_argument("--timeout", type=float, default=10.0)
    a = ap.parse_args()
    if a.count < 1 or a.parallel < 1:
        ap.error("--count and --parallel must be positive")

    body = a.body.encode()
    head = ["POST %s HTTP/1.1" % a.path, "Host: %s" % a.host,
            "Content-Type: application/json",
            "Content-Length: %d" % len(body)] + a.header
    request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body

    counts = collections.Counter()
    errors = []
    lock = threading.Lock()
    left = [a.count]

    def worker():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            try:
                v = one((a.host, a.port), request, a.timeout)
            except (OSError, ValueError) as e:
                v = "ERROR"
                with lock:
                    errors.append("%s: %s" % (type(e).__name__, e))
            with lock:
                counts[v] += 1

    threads = [threading.Thread(target=worker)
               for _ in range(min(a.parallel, a.count))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for why in errors[:5]:
        print("conn_burst: %s" % why, file=sys.stderr)
    if len(errors) > 5:
        print("conn_burst: ... %d errors in all" % len(errors), file=sys.stderr)
    for v, n in sorted(counts.items()):
        print("%7d %s" % (n, v))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
