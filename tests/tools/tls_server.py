#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""An HTTPS endpoint for the TLS passthrough test: terminates TLS itself
(kanary does not), and answers every request with one line naming itself
and the server name the client asked for, then closes the connection.

    tls_server.py --addr A --port P --cert C --key K --name NAME

Answer body: "endpoint=NAME sni=SNI\\n" (sni=- when the ClientHello had
none).
"""
import argparse
import socket
import ssl
import threading


def serve(conn, ctx, name):
    seen = {}

    def on_sni(sock, server_name, _ctx):
        seen["sni"] = server_name

    ctx.sni_callback = on_sni
    try:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                data += chunk
            body = "endpoint=%s sni=%s\n" % (name, seen.get("sni") or "-")
            tls.sendall(("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                         "Connection: close\r\n\r\n%s"
                         % (len(body), body)).encode())
    except (OSError, ssl.SSLError):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--name", required=True)
    a = ap.parse_args()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((a.addr, a.port))
    srv.listen(256)
    while True:
        conn, _ = srv.accept()
        # A context per connection: the SNI callback notes its own name.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        threading.Thread(target=serve, args=(conn, ctx, a.name),
                         daemon=True).start()


if __name__ == "__main__":
    main()
