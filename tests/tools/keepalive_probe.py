#!/usr/bin/env python3
"""Hold one HTTP keep-alive connection across a config change.

Sends a predict request on a persistent connection, runs the command given
after --between (e.g. a `kanary set-weight`; "{served_by}" in it becomes
the address of the endpoint that answered), sends a second request on the
same connection and one on a new connection, and prints the model version
that answered each: "before=V after=V new=V". With --where, each is
followed by @ADDRESS of the endpoint.
"""
import argparse
import http.client
import json
import subprocess
import sys

PATH = "/v1/models/image_classifier:predict"
BODY = json.dumps({"instances": [[0.0, 0.5, 1.0]]})


def ask(conn):
    conn.request("POST", PATH, body=BODY,
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        sys.exit(f"probe: HTTP {resp.status}: {data[:200]!r}")
    reply = json.loads(data)
    return reply["model_version"], reply["served_by"].split(":")[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--between", required=True,
                    help="shell command run between the two requests")
    ap.add_argument("--where", action="store_true",
                    help="also print which endpoint answered")
    a = ap.parse_args()

    kept = http.client.HTTPConnection(a.host, a.port, timeout=5)
    before = ask(kept)
    subprocess.run(a.between.replace("{served_by}", before[1]), shell=True,
                   check=True)
    after = ask(kept)
    fresh = http.client.HTTPConnection(a.host, a.port, timeout=5)
    new = ask(fresh)
    kept.close()
    fresh.close()
    show = (lambda r: f"{r[0]}@{r[1]}") if a.where else (lambda r: r[0])
    print(f"before={show(before)} after={show(after)} new={show(new)}")


if __name__ == "__main__":
    main()
