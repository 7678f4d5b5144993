#!/usr/bin/env python3
"""Keep one HTTP keep-alive connection busy for a while.

    hold_conn.py --host VIP [--port 80] --seconds S [--gap 0.05]

Sends a predict request on one persistent connection every GAP
seconds for S seconds and prints "requests=N errors=E endpoints=A[,B...]":
the endpoint addresses that answered (the served_by field), each also
printed as "# endpoint ADDR" the moment it is first seen.
An established connection that kept its endpoint shows exactly one. The
first error ends the run, and its line says when (Unix time) and what (a broken connection is not reopened: that would
hide what the test looks for).
"""
import argparse
import http.client
import json
import time

p = argparse.ArgumentParser()
p.add_argument("--host", required=True)
p.add_argument("--port", type=int, default=80)
p.add_argument("--seconds", type=float, required=True)
p.add_argument("--gap", type=float, default=0.05)
a = p.parse_args()

conn = http.client.HTTPConnection(a.host, a.port, timeout=5)
end = time.monotonic() + a.seconds
n = errors = 0
seen = []
while time.monotonic() < end:
    try:
        conn.request("POST", "/v1/models/image_classifier:predict",
                     body=json.dumps({"instances": [[0.5]]}),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}")
        who = json.loads(data)["served_by"].split(":")[0]
        if who not in seen:
            seen.append(who)
            print(f"# endpoint {who}", flush=True)
        n += 1
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        errors += 1
        print(f"# error after {n} requests at {time.time():.3f}: {e!r}")
        break
    time.sleep(a.gap)
print(f"requests={n} errors={errors} endpoints={','.join(seen)}")
