#!/usr/bin/env python3
"""Steady predict traffic at a VIP, one new connection per request.

    python3 tests/tools/predict_load.py VIP [--clients 4] [--port 80]

Each client thread sends POST /v1/models/image_classifier:predict with
"Connection: close" in a loop and prints one line per answer:
"start end status version" (Unix times; status 0: no answer within 2 s,
version from X-Model-Version). Runs until killed. Standard library only.
"""

import argparse
import http.client
import sys
import threading
import time

BODY = b'{"instances": [[0.1, 0.2]]}'


def run(vip, port, lock):
    while True:
        start = time.time()
        status, version = 0, "-"
        try:
            c = http.client.HTTPConnection(vip, port, timeout=2)
            c.request("POST", "/v1/models/image_classifier:predict", BODY,
                      {"Connection": "close",
                       "Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            status, version = r.status, r.getheader("X-Model-Version", "-")
            c.close()
        except Exception:
            time.sleep(0.01)
        with lock:
            sys.stdout.write("%.6f %.6f %d %s\n" % (start, time.time(),
                                                    status, version))
            sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("vip")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
    lock = threading.Lock()
    for _ in range(args.clients):
        threading.Thread(target=run, args=(args.vip, args.port, lock),
                         daemon=True).start()
    threading.Event().wait()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
