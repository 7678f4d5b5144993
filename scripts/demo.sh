#!/usr/bin/env bash
# The lab's canary walk-through, on this machine, in network namespaces:
# a client, a gateway running kanary, two ResNet50 endpoints and one
# ResNet101 endpoint (stand-in TensorFlow Serving REST servers).
#   1. apply the lab's manifests with 100/0, send requests, count answers;
#   2. apply the lab's 70/30 VirtualService, the same;
#   3. shift with set-weight;
#   4. the lab's focused routing: `user-group: canary` to ResNet101, decided
#      in the kernel from the request's header (kanary's L7 path);
#   5. canary analysis: a canary failing 20 % of its predicts is rolled
#      back by kanary promote at its first gate, a healthy one promoted;
#   6. show kanary stats and the pinned maps.
# Everything it creates is removed on exit, also on failure or Ctrl-C.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/integration/lib.sh"
MODE=${KANARY_MODE:-auto}
LAB_KIND=demo
N=${DEMO_REQUESTS:-500}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; }
tally() { # N [curl args]: one line per model version, with its share
	versions "$@" | awk -v n="$1" \
		'{ printf "   %-10s answered %5d of %d  (%.1f %%)\n", $2, $1, n, 100 * $1 / n }'
}

step "Lab: client 198.18.0.2 -> gateway, VIP 198.18.0.1:80 -> resnet50 x2, resnet101 x1"
lab_up "$MODE"
show "kanary load --mode $MODE --vip $VIP --iface c0 --iface e1 --iface e2 --iface e3"
show "kanary status   (which hook rewrites on each interface, and why)"
kanary status | sed -n '1,7p'

step "Canary at 0 %: the lab's virtualservice-weight-100.yaml"
show "kanary apply -f gateway.yaml -f service.yaml -f destinationrule.yaml -f workloadentries.yaml -f virtualservice-weight-100.yaml"
kanary apply -f "$LAB_DIR/gateway.yaml" -f "$LAB_DIR/service.yaml" \
	-f "$LAB_DIR/destinationrule.yaml" -f "$LAB_DIR/workloadentries.yaml" \
	-f "$LAB_DIR/virtualservice-weight-100.yaml"
echo "$N predict requests, each on a new connection (curl):"
tally "$N"

step "Canary at 30 %: the lab's virtualservice-weight-70.yaml"
show "kanary apply -f virtualservice-weight-70.yaml"
kanary apply -f "$LAB_DIR/virtualservice-weight-70.yaml"
tally "$N"

step "Shift further from the CLI"
show "kanary set-weight image-classifier resnet50=50 resnet101=50"
kanary set-weight image-classifier resnet50=50 resnet101=50
tally "$N"

step "Focused canary routing by header: the lab's virtualservice-focused-routing.yaml"
show "kanary apply -f virtualservice-focused-routing.yaml"
kanary apply -f "$LAB_DIR/virtualservice-focused-routing.yaml"
echo "$N requests with 'user-group: canary', each on a new connection:"
tally "$N" -H 'user-group: canary'
echo "$N requests without it:"
tally "$N"

step "Canary analysis: a gated promotion, from the kernel's HTTP counters"
show "kanary apply -f virtualservice-weight-100.yaml"
kanary apply -f "$LAB_DIR/virtualservice-weight-100.yaml"
echo "ResNet101 restarted to fail 20 % of its predicts; 4 clients send predicts"
echo "on new connections throughout (tests/tools/predict_load.py)."
server_restart 3 --error-share 0.2
LOAD_LOG=$(mktemp)
# nsenter execs python: $! is the load itself, which stop_load ends.
nsenter --net="/run/netns/$CLIENT_NS" python3 \
	"$ROOT/tests/tools/predict_load.py" "$VIP" >"$LOAD_LOG" &
LOADER=$!
stop_load() {
	[ -n "${LOADER:-}" ] || return 0
	kill "$LOADER" 2>/dev/null || true
	wait "$LOADER" 2>/dev/null || true
	LOADER=
}
trap 'stop_load; rm -f "$LOAD_LOG"; lab_down' EXIT
show "kanary promote image-classifier --to resnet101 --steps 10,50,100 --interval 5s"
rc=0
kanary promote image-classifier --to resnet101 --steps 10,50,100 \
	--interval 5s || rc=$?
echo "(exit $rc: rolled back)"
show "kanary status   (the route)"
kanary status | grep '^route:'
echo "ResNet101 restarted healthy:"
server_restart 3
show "kanary promote image-classifier --to resnet101 --steps 10,50,100 --interval 3s"
kanary promote image-classifier --to resnet101 --steps 10,50,100 --interval 3s
show "kanary stats --watch --interval 1 --count 1"
kanary stats --watch --interval 1 --count 1
stop_load
echo "The clients saw, per version and status:"
awk '{ n[$4 " " $3]++ } END { for (k in n) printf "   %-16s %6d\n", k, n[k] }' \
	"$LOAD_LOG" | sort
show "kanary metrics | grep istio_requests_total"
kanary metrics | grep '^istio_requests_total'

step "Counters"
show "kanary stats"
kanary stats
show "kanary stats --json"
kanary stats --json
show "bpftool map dump pinned $PIN/kn_stat_names   (first rows)"
dump=$(bpftool map dump pinned "$PIN/kn_stat_names")
sed -n '1,12p' <<<"$dump"
show "bpftool map dump pinned $PIN/kn_stats        (row 0, per CPU)"
dump=$(bpftool map dump pinned "$PIN/kn_stats")
sed -n '1,/^    },{/p' <<<"$dump"

step "Unload and clean up"
show "kanary unload"
lab_down
echo "done: namespaces, pins and attachments removed"
