#!/usr/bin/env bash
# Loading over an older kanary's pins, as a DaemonSet's rolling update
# does: a kn_flows of an older layout (OLD_SIZE bytes an entry; default
# 72, the oldest carried: before req_ns; 96: before tw_tsval), from a
# kanary without kn_conns, is carried into the new map, and a keep-alive connection busy across the load
# keeps its endpoint with no error; a pin whose layout cannot be carried
# is refused by name and left as it was. OLD_SIZE "records": the older
# kanary had kn_conns with 16384 records (before 2026-12-08), whose
# connections are carried into kn_flows.
#   tests/integration/test_upgrade.sh [MODE [OLD_SIZE|records]]   (default tc 72)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
MODE=${1:-tc}
OLD_FLOW_SIZE=${2:-72} # sizeof(struct kanary_flow) of the older kanary
OLD_RECORDS=
if [ "$OLD_FLOW_SIZE" = records ]; then
	OLD_RECORDS=16384
	OLD_FLOW_SIZE=
fi

echo "# upgrade ($MODE, from ${OLD_RECORDS:+$OLD_RECORDS records}${OLD_FLOW_SIZE:+$OLD_FLOW_SIZE-byte entries})"
lab_up "$MODE" || { not_ok "$MODE: lab and load"; summary; exit 1; }
T=$(mktemp -d)
P2=/sys/fs/bpf/kanary-test-upgrade-$$
HOLD=
cleanup() {
	[ -n "$HOLD" ] && kill "$HOLD" 2>/dev/null
	wait 2>/dev/null
	gw "$KANARY" unload --pin-dir "$P2" >/dev/null 2>&1
	rm -rf "$T" "$P2"
	lab_down
}
trap cleanup EXIT

check "$MODE: the lab's 70/30 applies" \
	kanary apply -f "$LAB_DIR/gateway.yaml" -f "$LAB_DIR/service.yaml" \
	-f "$LAB_DIR/destinationrule.yaml" -f "$LAB_DIR/workloadentries.yaml" \
	-f "$LAB_DIR/virtualservice-weight-70.yaml"

# One keep-alive connection, a request every 50 ms, across the upgrade
# (nsenter execs python: $! is the client).
nsenter --net="/run/netns/$CLIENT_NS" python3 "$ROOT/tests/tools/hold_conn.py" \
	--host "$VIP" --seconds 6 >"$T/hold" 2>&1 &
HOLD=$!
check "$MODE: the held connection is up" wait_for 5 grep -q '^# endpoint' "$T/hold"

value_size() { bpftool -j map show pinned "$1" | jq .bytes_value; }
if [ -n "$OLD_RECORDS" ]; then
# What the kanary before 2026-12-08 leaves pinned: kn_conns with 16384
# records (this kanary's record layout), here holding copies of the live
# records, and kn_flows as it is. The running programs keep the maps they
# have; the load below finds the older kn_conns at the pin.
python3 - "$PIN/kn_conns" "$OLD_RECORDS" >"$T/made" <<'PY'
import json, os, subprocess, sys
path, n = sys.argv[1], int(sys.argv[2])
def bpftool(*a):
    return subprocess.run(["bpftool", "-j", *a], check=True,
                          capture_output=True, text=True).stdout
recs = [bytes(int(b, 16) for b in e["value"])
        for e in json.loads(bpftool("map", "dump", "pinned", path))]
live = [v for v in recs if int.from_bytes(v[0:8], "little") & 0x3]
os.unlink(path)
bpftool("map", "create", path, "type", "array", "key", "4", "value",
        str(len(recs[0])), "entries", str(n), "name", "kn_conns",
        "flags", str(0x400))  # BPF_F_MMAPABLE, as kanary's
for i, v in enumerate(live):
    bpftool("map", "update", "pinned", path, "key", "hex",
            *["%02x" % b for b in i.to_bytes(4, "little")], "value", "hex",
            *["%02x" % b for b in v])
print(len(live))
PY
records() { bpftool -j map show pinned "$1" | jq .max_entries; }
made=$(cat "$T/made")
check "$MODE: an older kn_conns is pinned ($made live records of $(records "$PIN/kn_conns"))" \
	test "${made:-0}" -ge 1 -a "$(records "$PIN/kn_conns")" = "$OLD_RECORDS"

else
# What an older kanary leaves pinned: kn_flows with 72-byte entries and
# no kn_conns, here the live entries (kn_flows' and the records' halves,
# bpf/conn.h) cut to that size. The running programs keep the maps they
# have; the load below finds the older kn_flows at the pin, no kn_conns.
python3 - "$PIN/kn_flows" "$PIN/kn_conns" "$OLD_FLOW_SIZE" >"$T/made" <<'PY'
import json, os, subprocess, sys
path, conns, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
HALF, FLOW = 16, 112  # struct kanary_conn: claim, seen_ns, half[2]
def bpftool(*a):
    return subprocess.run(["bpftool", "-j", *a], check=True,
                          capture_output=True, text=True).stdout
def raw(e, f):
    return bytes(int(b, 16) for b in e[f])
def key_of(other):
    """A half's key: the other half's outgoing tuple, reversed."""
    return other[4:8] + other[0:4] + other[10:12] + other[8:10] + bytes([6, 0, 0, 0])
elems = [(raw(e, "key"), raw(e, "value"))
         for e in json.loads(bpftool("map", "dump", "pinned", path) or "[]")]
for e in json.loads(bpftool("map", "dump", "pinned", conns) or "[]"):
    v = raw(e, "value")
    claim = int.from_bytes(v[0:8], "little")
    halves = [v[HALF + d * FLOW:HALF + (d + 1) * FLOW] for d in (0, 1)]
    for d in (0, 1):
        if claim & (1 << d):
            elems.append((key_of(halves[d ^ 1]), halves[d]))
entries = json.loads(bpftool("map", "show", "pinned", path))["max_entries"]
os.unlink(path)
os.unlink(conns)
bpftool("map", "create", path, "type", "lru_hash", "key", "16", "value",
        str(size), "entries", str(entries), "name", "kn_flows")
for k, v in elems:
    bpftool("map", "update", "pinned", path, "key", "hex",
            *["%02x" % b for b in k], "value", "hex",
            *["%02x" % b for b in v[:size]])
print(len(elems))
PY
made=$(cat "$T/made")
check "$MODE: an older kn_flows is pinned ($made entries of $OLD_FLOW_SIZE bytes)" \
	test "${made:-0}" -ge 2 -a "$(value_size "$PIN/kn_flows")" = "$OLD_FLOW_SIZE"
fi

out=$(kanary load --mode "$MODE" --vip "$VIP" --iface c0 --iface e1 \
	--iface e2 --iface e3 2>&1)
rc=$?
check "$MODE: load over it succeeds and carries its entries ($out)" \
	test "$rc" -eq 0 -a -n "$(grep 'carried [1-9][0-9]* conntrack entries' <<<"$out")"
if [ -n "$OLD_RECORDS" ]; then
	n=$(records "$PIN/kn_conns")
	check "$MODE: kn_conns has this kanary's records ($n)" \
		test "$n" -gt "$OLD_RECORDS"
else
	size=$(value_size "$PIN/kn_flows")
	check "$MODE: kn_flows has this kanary's layout ($size-byte entries)" \
		test "$size" -gt "$OLD_FLOW_SIZE"
fi
# Its records did not see those connections made: every claim must look
# in kn_flows (KANARY_CONN_KN_FLOWS, 0x8 in the claim word).
unmarked=$(bpftool -j map dump pinned "$PIN/kn_conns" | python3 -c '
import json, sys
recs = json.load(sys.stdin)
print(sum(1 for e in recs
          if not int.from_bytes(bytes(int(b, 16) for b in e["value"][:8]),
                                "little") & 0x8))')
check "$MODE: the new kn_conns marks every record to look in kn_flows (${unmarked:-?} unmarked)" \
	test "${unmarked:-1}" = 0

wait "$HOLD"
HOLD=
result=$(tail -n 1 "$T/hold")
check "$MODE: the connection busy across the upgrade: no error, one endpoint ($result)" \
	grep -Eq '^requests=[1-9][0-9]* errors=0 endpoints=[0-9.]+$' <<<"$result"
out=$(versions 40)
check "$MODE: new connections are served after the upgrade" \
	test "$(($(count_of resnet50 <<<"$out") + $(count_of resnet101 <<<"$out")))" -eq 40

# A pin no kanary version can carry over (kn_stats of another size): the
# load is refused, by name, before anything is attached or unpinned.
mkdir -p "$P2"
bpftool map create "$P2/kn_stats" type percpu_array key 4 value 8 \
	entries 4096 name kn_stats
out=$(gw "$KANARY" load --pin-dir "$P2" --mode tc --vip 198.18.0.1 --iface lo 2>&1)
rc=$?
check "$MODE: another layout of kn_stats is refused by name (exit $rc: $out)" \
	test "$rc" -eq 1 -a -n "$(grep 'kn_stats was pinned by a kanary with another layout' <<<"$out")"
check "$MODE: ... and left as it was, nothing attached" \
	test "$(value_size "$P2/kn_stats")" = 8 -a \
	-z "$(gw tc filter show dev lo ingress)"

summary
