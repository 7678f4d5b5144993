#!/usr/bin/env python3
"""Print the L4 weights the data path runs now, read from the pinned maps.

    kn_routes.py --pin /sys/fs/bpf/kanary

One line per route the active slot's VIPs use, sorted:

    generation=G seed=S
    route VS SUBSET=W SUBSET=W ...

VS is the namespace/name of kn_stat_names (the route's counter rows),
W the weight (the difference of consecutive cum_weight); destinations of
weight 0 are left out, as the route does not draw them. This reads only
the maps (bpftool), never kanary's saved config: it is the data path's
side of a comparison with `kanary status` and the saved config.
"""
import argparse
import json
import os
import subprocess
import sys

MAX_ROUTES = 2048  # KANARY_MAX_ROUTES, per slot


def bpftool(*args):
    out = subprocess.run(["bpftool", "-j"] + list(args), check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out or "null")


def lookup(pin, name, key):
    keyb = [str(b) for b in key.to_bytes(4, sys.byteorder)]
    e = bpftool("map", "lookup", "pinned", os.path.join(pin, name),
                "key", *keyb)
    return e["formatted"]["value"]


def text(chars):
    """A char array as bpftool formats it: a string or a list of ints."""
    if isinstance(chars, str):
        return chars
    return bytes(c & 0xff for c in chars).split(b"\0")[0].decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pin", required=True)
    a = ap.parse_args()

    cfg = lookup(a.pin, "kn_cfg", 0)
    slot = cfg["active_slot"]
    print("generation=%d seed=%d" % (cfg["generation"], cfg["hash_seed"]))
    vips = bpftool("map", "dump", "pinned", os.path.join(a.pin, "kn_vips"))
    routes = sorted({e["formatted"]["value"]["route"] for e in vips or []
                     if e["formatted"]["key"]["slot"] == slot})
    lines = []
    for i in routes:
        r = lookup(a.pin, "kn_routes", slot * MAX_ROUTES + i)
        prev, vs, parts = 0, "", []
        for d in r["dests"][:r["n_dests"]]:
            name = lookup(a.pin, "kn_stat_names", d["stats"])
            vs = text(name["virtualservice"])
            w = d["cum_weight"] - prev
            prev = d["cum_weight"]
            if w:
                parts.append("%s=%d" % (text(name["subset"]), w))
        lines.append("route %s %s" % (vs, " ".join(parts)))
    print("\n".join(sorted(lines)))


if __name__ == "__main__":
    main()
