#!/usr/bin/env python3
"""Hold one HTTP keep-alive connection across a config change.

Sends a predict request on a persistent connection, runs the command given
after --between (e.g. a `kanary set-weight`), sends a second request on the
same connection and one on a new connection, and prints the model version
that answered each: "before=V after=V new=V".
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
    return json.loads(data)["model_version"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--between", required=True,
                    help="shell command run between the two requests")
    a = ap.parse_args()

    kept = http.client.HTTPConnection(a.host, a.port, timeout=5)
    before = ask(kept)
    subprocess.run(a.between, shell=True, check=True)
    after = ask(kept)
    fresh = http.client.HTTPConnection(a.host, a.port, timeout=5)
    new = ask(fresh)
    kept.close()
    fresh.close()
    print(f"before={before} after={after} new={new}")


if __name__ == "__main__":
    main()
