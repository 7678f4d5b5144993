#!/usr/bin/env python3
"""An HTTP/1.1 server that answers 200 on every path and method, for tests
where any other status must come from the gateway.

    python3 tests/tools/echo_server.py --addr 198.18.1.2 --port 9080 \
        --name productpage

The body is "<name> <method> <path>\\n"; "X-Served-By: <name>" says who
answered. Keeps connections alive unless the client asks otherwise.
Standard library only. SIGTERM or SIGINT: exit 0.
"""

import argparse
import http.server
import signal
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", required=True)
    args = ap.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, body=True):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            text = ("%s %s %s\n" % (args.name, self.command,
                                    self.path)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.send_header("X-Served-By", args.name)
            self.end_headers()
            if body:
                self.wfile.write(text)

        def do_GET(self):
            self.answer()

        def do_POST(self):
            self.answer()

        def do_HEAD(self):
            self.answer(body=False)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer((args.addr, args.port), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
