#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""A real ClientHello, as the TLS library (python's ssl: OpenSSL) writes it,
on stdout: the bytes a client sends first on a TLS connection.

    client_hello.py [--sni NAME] [--small] [--records N]

--sni NAME    the server name (SNI); without it, no server_name extension
--small       one key share (X25519) and TLS 1.3 only: a ClientHello that
              fits one segment whatever the library's defaults
--records N   the same handshake message cut into N TLS records, as RFC
              8446 5.1 allows (the library writes one): for the scanner's
              record-layer path
"""
import argparse
import ssl
import sys


def client_hello(sni, small):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if small:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        # OpenSSL 3.0 offers one key share by default; pin the group so a
        # newer library's post-quantum shares cannot grow the hello.
        if hasattr(ctx, "set_ecdh_curve"):
            ctx.set_ecdh_curve("X25519")
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ctx.wrap_bio(incoming, outgoing, server_side=False,
                        server_hostname=sni)
    try:
        conn.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def split_records(hello, n):
    """One record's handshake bytes cut into n records of the same type."""
    assert hello[0] == 22
    head, body = hello[1:3], hello[5:]
    size = -(-len(body) // n)
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += bytes([22]) + head + len(part).to_bytes(2, "big") + part
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sni")
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--records", type=int, default=1)
    a = ap.parse_args()
    hello = client_hello(a.sni, a.small)
    if a.records > 1:
        hello = split_records(hello, a.records)
    sys.stdout.buffer.write(hello)


if __name__ == "__main__":
    main()
