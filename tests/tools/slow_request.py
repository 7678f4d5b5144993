#!/usr/bin/env python3
"""Send one HTTP/1.1 request in pieces, and print what answers it.

    slow_request.py --host 198.18.0.1 --path /v1/... --header 'user-group: canary'
                    [--cookie-bytes N] [--piece N] [--delay SECONDS]

The request head (and a small JSON body) is written piece bytes per
send(), with TCP_NODELAY, waiting delay seconds between sends: one byte per
write, or a head in two writes with a pause, as slow or odd clients do.
Prints one line: "status=CODE version=MODEL_VERSION" (version "-" when the
answer has none), or "error=WHAT" and exit 1.
"""
import argparse
import json
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--path", default="/v1/models/image_classifier:predict")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--cookie-bytes", type=int, default=0)
    ap.add_argument("--piece", type=int, default=1)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--timeout", type=float, default=20.0)
    a = ap.parse_args()

    body = b'{"instances": [[0.1, 0.2]]}'
    head = ["POST %s HTTP/1.1" % a.path, "Host: %s" % a.host]
    if a.cookie_bytes:
        head.append("Cookie: session=" + "c" * a.cookie_bytes)
    head += a.header
    head += ["Content-Type: application/json",
             "Content-Length: %d" % len(body), "Connection: close", "", ""]
    data = "\r\n".join(head).encode() + body

    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for i in range(0, len(data), a.piece):
            s.sendall(data[i:i + a.piece])
            if a.delay:
                time.sleep(a.delay)
        answer = b""
        while True:
            got = s.recv(65536)
            if not got:
                break
            answer += got
    except OSError as e:
        print("error=%s" % e)
        return 1
    finally:
        s.close()
    status_line, _, rest = answer.partition(b"\r\n")
    parts = status_line.split()
    if len(parts) < 2:
        print("error=no status line (%d bytes)" % len(answer))
        return 1
    version = "-"
    _, _, payload = rest.partition(b"\r\n\r\n")
    try:
        version = json.loads(payload).get("model_version", "-")
    except ValueError:
        pass
    print("status=%s version=%s" % (parts[1].decode(), version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
