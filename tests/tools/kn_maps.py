#!/usr/bin/env python3
"""Count what kanary's pinned connection maps hold, read with bpftool.

    kn_maps.py --pin /sys/fs/bpf/kanary --vip 198.18.0.1

Prints one line:

    synq=N hold=N chunks=N flows=N vip_flows=N vip_left=N vip_ep_timewait=N

synq, hold, chunks: entries in kn_synq (half-open L7 connections), kn_head
(request heads held, being read or waiting for the endpoint) and kn_hold
(their bytes, in chunks). flows: conntrack entries, in kn_flows and the
live ones in kn_conns' records (two per connection either way).
vip_flows: those of connections to the VIP (to-endpoint entries whose key's
destination is the VIP, to-client entries that leave from the VIP).
vip_ep_timewait: the VIP's entries kept on purpose because the endpoint
closed first (kanary_flow.fin has KANARY_FIN_ENDPOINT_TW; they go after
the 60 s TIME_WAIT reclaim). vip_left: all the others (open, half-open
toward the endpoint, or closed by the client), which should be none once
every connection has ended.

With --show N, up to N of the VIP's "left" entries and N kn_hold
entries follow, one per line ("left: ..." and "hold: ..."), for the log.

A map that is not pinned is an error (exit 1): an older kanary without the
L7 path has no kn_synq or kn_head. Values are read from bpftool's
BTF-formatted output when there is one, else from the raw bytes at the
offsets of include/kanary_abi.h.
"""
import argparse
import json
import os
import socket
import struct
import subprocess
import sys

FIN_ENDPOINT_TW = 0x04
# raw offsets in struct kanary_flow_key / struct kanary_flow
KEY_DADDR = 4
VAL_SADDR = 0
VAL_FIN = 64
# struct kanary_conn: claim (its low bits: which halves are live), then
# the two kanary_flow halves, to the endpoint and to the client
CONN_HALF = 16
FLOW_SIZE = 112
CONN_LIVE = (0x1, 0x2)


def record_entries(recs):
    """(to_client_saddr, fin, text) of each live half of kn_conns' records."""
    out = []
    for e in recs:
        f = e.get("formatted")
        if f:
            v = f["value"]
            claim, halves = v["claim"], v["half"]
            back = halves[1]
            for d in (0, 1):
                if claim & CONN_LIVE[d]:
                    h = halves[d]
                    out.append((back["saddr"], h.get("fin", 0), "record %s:%d>%s:%d dir=%d fin=%s" % (
                        addr(h["saddr"]), port(h["sport"]), addr(h["daddr"]),
                        port(h["dport"]), d, h.get("fin", 0))))
        else:
            v = raw(e, "value")
            claim = struct.unpack_from("=Q", v, 0)[0]
            back = CONN_HALF + FLOW_SIZE
            for d in (0, 1):
                if claim & CONN_LIVE[d]:
                    at = CONN_HALF + d * FLOW_SIZE
                    out.append((v[back + VAL_SADDR:back + VAL_SADDR + 4],
                                v[at + VAL_FIN],
                                "record value %s" % v[at:at + FLOW_SIZE].hex()))
    return out


def dump(pin, name):
    path = os.path.join(pin, name)
    if not os.path.exists(path):
        sys.exit("kn_maps: %s is not pinned (a kanary without this map?)" % path)
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", path],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out or "[]")


def raw(elem, field):
    return bytes(int(b, 16) for b in elem[field])


def addr(v):
    """A __be32 as bpftool prints it (an int of the bytes in host order)."""
    return socket.inet_ntoa(struct.pack("=I", v))


def port(v):
    return socket.ntohs(v)


def describe(e):
    f = e.get("formatted")
    if not f:
        return "key %s value %s" % (raw(e, "key").hex(), raw(e, "value").hex())
    k, v = f["key"], f["value"]
    s = "%s:%d>%s:%d -> %s:%d>%s:%d" % (
        addr(k["saddr"]), port(k["sport"]), addr(k["daddr"]), port(k["dport"]),
        addr(v["saddr"]), port(v["sport"]), addr(v["daddr"]), port(v["dport"]))
    for name in ("dir", "l7", "fin", "closed_ns"):
        if name in v:
            s += " %s=%s" % (name, v[name])
    return s


def describe_hold(e):
    f = e.get("formatted")
    if not f:
        return "key %s" % raw(e, "key").hex()
    k, v = f["key"], f["value"]
    return "%s:%d>%s:%d len=%s" % (addr(k["saddr"]), port(k["sport"]),
                                  addr(k["daddr"]), port(k["dport"]),
                                  v.get("len", "?"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pin", required=True, help="kanary's pin directory")
    ap.add_argument("--vip", required=True)
    ap.add_argument("--show", type=int, default=0, metavar="N",
                    help="list up to N left flow entries and N held heads")
    a = ap.parse_args()
    vip_raw = socket.inet_aton(a.vip)
    # bpftool prints a __be32 as the integer its bytes make on this host
    vip_int = struct.unpack("=I", vip_raw)[0]

    synq = dump(a.pin, "kn_synq")
    hold = dump(a.pin, "kn_head")
    chunks = dump(a.pin, "kn_hold")
    flows = dump(a.pin, "kn_flows")
    records = record_entries(dump(a.pin, "kn_conns"))
    # the VIP's entries, as (fin, text): records' halves, then kn_flows'
    mine = [(fin, text) for saddr, fin, text in records
            if saddr in (vip_int, vip_raw)]
    for e in flows:
        f = e.get("formatted")
        if f:
            k, v = f["key"], f["value"]
            if k["daddr"] == vip_int or v["saddr"] == vip_int:
                mine.append((v.get("fin", 0), describe(e)))
        else:
            k, v = raw(e, "key"), raw(e, "value")
            if (k[KEY_DADDR:KEY_DADDR + 4] == vip_raw or
                    v[VAL_SADDR:VAL_SADDR + 4] == vip_raw):
                mine.append((v[VAL_FIN] if len(v) > VAL_FIN else 0,
                             describe(e)))
    vip = len(mine)
    ep_tw = sum(1 for fin, _ in mine if fin & FIN_ENDPOINT_TW)
    left = vip - ep_tw
    shown = ["left: " + text for fin, text in mine
             if not fin & FIN_ENDPOINT_TW][:a.show]
    print("synq=%d hold=%d chunks=%d flows=%d vip_flows=%d vip_left=%d "
          "vip_ep_timewait=%d"
          % (len(synq), len(hold), len(chunks), len(flows) + len(records),
             vip, left, ep_tw))
    for line in shown:
        print(line)
    for e in hold[:a.show]:
        print("hold: " + describe_hold(e))


if __name__ == "__main__":
    main()
