#!/usr/bin/env python3
"""Stand-in for TensorFlow Serving's REST API, for the kanary lab tests.

    python3 tests/tools/model_server.py --addr 198.18.1.2 --port 8501 \
        --version resnet50 [--quiet] [--error-share F] [--delay-ms N]

Endpoints (any model name; query strings are ignored):
  POST /v1/models/<name>:predict
  POST /v1/models/<name>/versions/<n>:predict
  POST /v1/models/<name>/labels/<label>:predict
      -> 200 {"model_version", "model_name", "predictions", "request_bytes",
              "request_sha256"}.  The body is read by Content-Length or
      chunked transfer coding and hashed as it streams in, so multi-MB
      bodies cost no memory; the hash lets a test check it arrived intact.
  GET  /v1/models/<name>[/versions/<n>]  -> TF Serving model status JSON
  GET  /v1/blob/<n>                      -> n bytes (at most 64 MiB) of
      pseudo-random data (application/octet-stream), with
      "X-Body-Sha256: <hexdigest>": a multi-MB answer a test can check
  GET  /healthz                          -> "ok"
  anything else                          -> 404 JSON (405 for a wrong method)

--error-share F answers that share of predicts with 500 (evenly spread:
0.2 fails the 5th, 10th, ...), --delay-ms N waits N ms before each
predict's answer: a canary with a known success rate and latency.

Every response has Content-Length and "X-Model-Version: <version>", and
keeps the connection alive (HTTP/1.1) unless the client asks otherwise; an
answer after which the server closes says "Connection: close" (wrk, for
one, would otherwise send its next request into the closed connection).
Standard library only.  SIGTERM or SIGINT: stop listening and exit 0.
"""

import argparse
import collections
import contextlib
import hashlib
import http.server
import io
import json
import random
import re
import select
import signal
import sys
import threading
import time
from urllib.parse import urlsplit

CHUNK = 64 * 1024
LABELS = ["tabby cat", "golden retriever", "espresso", "canary", "volcano",
          "container ship", "red fox", "pretzel", "lighthouse", "daisy"]

# /v1/models/<name>[/versions/<n> | /labels/<l>][:<verb>]
MODEL_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<num>\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?::(?P<verb>[a-z]+))?/?$")
BLOB_PATH = re.compile(r"^/v1/blob/(?P<size>\d{1,9})$")
BLOB_MAX = 64 << 20


class BadRequest(Exception):
    pass


class FifoGate:
    """A mutex handed over in arrival order.

    With one thread per connection, hundreds of threads fight for the GIL
    and CPython picks the winner arbitrarily: some connections starve for
    seconds (wrk sees timeouts at -c 200).  Running handlers one at a time,
    in the order their data arrived, costs nothing on one core and keeps
    the latency tail flat.  A handler lets go of the gate whenever it has
    to wait for the network (see GatedReader).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._busy = False
        self._waiters = collections.deque()

    def __enter__(self):
        with self._lock:
            if not self._busy:
                self._busy = True
                return
            me = threading.Lock()
            me.acquire()
            self._waiters.append(me)
        me.acquire()                    # released by our predecessor

    def __exit__(self, *exc):
        with self._lock:
            if self._waiters:
                self._waiters.popleft().release()   # hand over, stay busy
            else:
                self._busy = False

    @contextlib.contextmanager
    def opened(self):
        """Let the others run while this thread waits."""
        self.__exit__()
        try:
            yield
        finally:
            self.__enter__()


class GatedReader(io.RawIOBase):
    """Socket reads that open the gate while they would block."""

    def __init__(self, sock, gate):
        super().__init__()
        self.sock, self.gate = sock, gate
        self.poller = select.poll()
        self.poller.register(sock, select.POLLIN)

    def readable(self):
        return True

    def readinto(self, buf):
        if self.poller.poll(0):         # data (or EOF/error) already there
            return self.sock.recv_into(buf)
        with self.gate.opened():
            return self.sock.recv_into(buf)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive
    server_version = "kanary-model-server/1"
    wbufsize = CHUNK                   # headers + body leave in one write...
    disable_nagle_algorithm = True     # ...and without Nagle/delayed-ACK stalls
    timeout = 120                      # idle keep-alive connections give up

    # -- plumbing ---------------------------------------------------------

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        self.rfile.close()
        self.rfile = io.BufferedReader(
            GatedReader(self.connection, self.server.gate), CHUNK)

    def handle_one_request(self):
        with self.server.gate:
            super().handle_one_request()

    def send_response(self, code, message=None):
        self._said_close = False
        super().send_response(code, message)
        self.send_header("X-Model-Version", self.server.model_version)
        if self.close_connection:
            self.send_header("Connection", "close")

    def send_header(self, keyword, value):
        # Once per answer, whether send_response or send_error adds it.
        if keyword.lower() == "connection" and value.lower() == "close":
            if getattr(self, "_said_close", False):
                return
            self._said_close = True
        super().send_header(keyword, value)

    def handle_expect_100(self):
        # The base class leaves "100 Continue" in our write buffer.
        ok = super().handle_expect_100()
        self.wfile.flush()
        return ok

    def log_message(self, format, *args):
        if not self.server.quiet:
            super().log_message(format, *args)

    def reply(self, code, obj, ctype="application/json"):
        if isinstance(obj, (bytes, str)):
            body = obj.encode() if isinstance(obj, str) else obj
        else:
            body = (json.dumps(obj) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def not_found(self, path):
        self.reply(404, {"error": "Not found: %s %s" % (self.command, path)})

    def read_body(self):
        """Consume the request body; return (length, sha256 hexdigest)."""
        h = hashlib.sha256()
        n = 0
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            while True:
                line = self.rfile.readline(1024)
                if not line.endswith(b"\n"):
                    raise BadRequest("bad chunk size line")
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BadRequest("bad chunk size") from None
                if size == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass                # skip trailers
                    return n, h.hexdigest()
                n += self._read_into(h, size)
                if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                    raise BadRequest("chunk not followed by CRLF")
        cl = self.headers.get("Content-Length")
        if cl is None:
            return 0, h.hexdigest()
        try:
            length = int(cl)
            if length < 0:
                raise ValueError
        except ValueError:
            raise BadRequest("bad Content-Length") from None
        return self._read_into(h, length), h.hexdigest()

    def _read_into(self, h, length):
        left = length
        while left:
            data = self.rfile.read(min(left, CHUNK))
            if not data:
                raise BadRequest("body truncated")
            h.update(data)
            left -= len(data)
        return length

    def dispatch(self):
        try:
            nbytes, digest = self.read_body()
        except BadRequest as e:
            self.close_connection = True
            self.send_response(400)
            body = (json.dumps({"error": str(e)}) + "\n").encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            return
        path = urlsplit(self.path).path
        if path == "/healthz":
            if self.command in ("GET", "HEAD"):
                return self.reply(200, "ok\n", "text/plain")
            return self.reply(405, {"error": "use GET"})
        b = BLOB_PATH.match(path)
        if b:
            if self.command not in ("GET", "HEAD"):
                return self.reply(405, {"error": "use GET"})
            return self.blob(int(b.group("size")))
        m = MODEL_PATH.match(path)
        if not m:
            return self.not_found(path)
        verb = m.group("verb")
        if verb is None and self.command in ("GET", "HEAD"):
            return self.reply(200, self.status(m))
        if verb == "predict" and self.command == "POST":
            return self.answer_predict(m, nbytes, digest)
        if verb in (None, "predict"):
            return self.reply(405, {"error": "method %s not allowed" % self.command})
        return self.not_found(path)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = dispatch

    def blob(self, size):
        if size > BLOB_MAX:
            return self.reply(400, {"error": "at most %d bytes" % BLOB_MAX})
        data = random.Random(size).randbytes(size)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.send_header("X-Body-Sha256", hashlib.sha256(data).hexdigest())
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    # -- the fake model ---------------------------------------------------

    def status(self, m):
        return {
            "model_name": m.group("name"),
            "model_version": self.server.model_version,
            "model_version_status": [{
                "version": m.group("num") or "1",
                "version_label": self.server.model_version,
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }],
        }

    def answer_predict(self, m, nbytes, digest):
        # --delay-ms: wait before the status line, with the gate open so
        # that the delay is per request, not queued behind the others.
        if self.server.delay:
            with self.server.gate.opened():
                time.sleep(self.server.delay)
        # --error-share F: the n-th predict fails when floor(n * F) steps,
        # so that any run of predicts holds the share to within one.
        with self.server.count_lock:
            n = self.server.predicts = self.server.predicts + 1
        share = self.server.error_share
        if int(n * share) != int((n - 1) * share):
            return self.reply(500, {"error": "injected failure (--error-share)",
                                    "model_version": self.server.model_version})
        return self.reply(200, self.predict(m, nbytes, digest))

    def predict(self, m, nbytes, digest):
        # Deterministic top-5, different per version and per body.
        seed = hashlib.sha256((self.server.model_version + digest).encode()).digest()
        picks, score = [], 0.9
        for b in seed:
            label = LABELS[b % len(LABELS)]
            if label not in picks:
                picks.append(label)
            if len(picks) == 5:
                break
        preds = []
        for i, label in enumerate(picks):
            preds.append({"class_id": LABELS.index(label), "label": label,
                          "score": round(score, 4)})
            score = score * (0.3 + (seed[20 + i] % 40) / 100.0)
        return {
            "model_name": m.group("name"),
            "model_version": self.server.model_version,
            "predictions": preds,
            "request_bytes": nbytes,
            "request_sha256": digest,
            # Which endpoint answered, and who it saw as the client: the
            # tests check NAT (the gateway, not the client) and draining.
            "served_by": "%s:%d" % self.server.server_address[:2],
            "peer": self.client_address[0],
        }


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024          # listen backlog (the default is 5)

    def handle_error(self, request, client_address):
        # Clients vanishing mid-request (wrk stopping, tests killing curl)
        # are normal here; anything else is still reported.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--addr", default="0.0.0.0", help="address to listen on")
    ap.add_argument("--port", type=int, default=8501)
    ap.add_argument("--version", required=True,
                    help="model version string reported in every answer")
    ap.add_argument("--quiet", action="store_true", help="no per-request log")
    ap.add_argument("--error-share", type=float, default=0.0,
                    help="share of predicts answered 500, spread evenly "
                         "(0.2: the 5th, 10th, ... predict)")
    ap.add_argument("--delay-ms", type=float, default=0.0,
                    help="wait this long before answering each predict")
    args = ap.parse_args()

    srv = Server((args.addr, args.port), Handler)
    srv.gate = FifoGate()
    srv.model_version = args.version
    srv.quiet = args.quiet
    srv.error_share = args.error_share
    srv.delay = args.delay_ms / 1000.0
    srv.predicts = 0
    srv.count_lock = threading.Lock()

    def stop(signum, frame):
        # shutdown() blocks until serve_forever() returns: call it elsewhere.
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if not args.quiet:
        print("model_server: %s listening on %s:%d"
              % (args.version, args.addr, args.port), file=sys.stderr, flush=True)
    srv.serve_forever()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
