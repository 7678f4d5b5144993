#!/usr/bin/env bash
# kanary promote in the lab, with real clients on new connections: a
# canary that fails 20 % of its predicts is rolled back at the first step,
# fast (the time from the clients' first 500 to weight 0 is measured and
# printed); a healthy one is promoted to 100; SIGINT leaves the last good
# weights; another writer (set-weight, the agent's config directory) wins
# and promote stops.
#   tests/integration/test_promote.sh [MODE]   (default tc)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
MODE=${1:-tc}
VS=image-classifier
# From the clients' first 500 to the weight-0 apply's return: the canary
# needs 20 responses at 10 % of the load (16 after its first 500), then a
# poll (100 ms) and an apply; 3 s leaves room for a loaded machine.
ROLLBACK_MAX=3

echo "# promote ($MODE)"
lab_up "$MODE" || { not_ok "$MODE: lab and load"; summary; exit 1; }

OUT=$(mktemp)
LOAD=$(mktemp)
CFG=$(mktemp -d)
AGENT_LOG=$(mktemp)
LOADER=
PROMOTE=
AGENT=
stop_load() {
	[ -n "$LOADER" ] || return 0
	kill "$LOADER" 2>/dev/null
	wait "$LOADER" 2>/dev/null
	LOADER=
}
cleanup() {
	stop_load
	if [ -n "$PROMOTE" ]; then
		kill "$PROMOTE" 2>/dev/null
		wait "$PROMOTE" 2>/dev/null
	fi
	if [ -n "$AGENT" ]; then
		kill "$AGENT" 2>/dev/null
		wait "$AGENT" 2>/dev/null
	fi
	rm -rf "$OUT" "$LOAD" "$CFG" "$AGENT_LOG"
	lab_down
}
trap cleanup EXIT

# Load: 4 clients, each a new connection per predict; one line per
# answer, "start end status version" (tests/tools/predict_load.py).
start_load() {
	: >"$LOAD"
	nsenter --net="/run/netns/$CLIENT_NS" python3 \
		"$ROOT/tests/tools/predict_load.py" "$VIP" >>"$LOAD" 2>/dev/null &
	LOADER=$!
}

# The route's weights, as status and as stats --json say them: both must
# agree, "resnet50=W resnet101=W".
weights_status() {
	kanary status | sed -n "s|^route: *default/$VS -> *||p"
}
weights_stats() {
	kanary stats --json | jq -r --arg vs "$VS" '.virtualservices[] |
		select(.name == $vs) | .subsets | map({(.name): .weight}) | add |
		"resnet50=\(.resnet50) resnet101=\(.resnet101)"'
}
weights_are() {
	[ "$(weights_status)" = "$1" ] && [ "$(weights_stats)" = "$1" ]
}

# promote in the background, its JSON lines in $OUT, its pid in PROMOTE.
start_promote() {
	: >"$OUT"
	nsenter --net="/run/netns/$GW_NS" "$KANARY" promote --pin-dir "$PIN" \
		"$VS" --to resnet101 --json "$@" >"$OUT" 2>&1 &
	PROMOTE=$!
}
wait_promote() {
	local rc
	wait "$PROMOTE"
	rc=$?
	PROMOTE=
	return $rc
}
has_event() { # EVENT [STEP]
	jq -e --arg e "$1" --argjson s "${2:-0}" \
		'select(.event == $e and ($s == 0 or .step == $s))' \
		"$OUT" >/dev/null 2>&1
}
show_out() { sed 's/^/    /' "$OUT"; }
out_has() { jq -e "$1" "$OUT" >/dev/null; } # a jq filter true on $OUT

reset_split() {
	kanary apply -f "$LAB_DIR/virtualservice-weight-100.yaml"
}

check "$MODE: the lab's config applies, 100/0" \
	kanary apply -f "$LAB_DIR/gateway.yaml" -f "$LAB_DIR/service.yaml" \
	-f "$LAB_DIR/destinationrule.yaml" -f "$LAB_DIR/workloadentries.yaml" \
	-f "$LAB_DIR/virtualservice-weight-100.yaml"

# --- bad input: nothing changes
expect 1 "$MODE: promote of an unknown VirtualService" kanary promote nosuch \
	--to resnet101 --steps 10,100 --interval 1s
expect 1 "$MODE: promote to a subset the route does not have" kanary promote \
	"$VS" --to resnet152 --steps 10,100 --interval 1s
expect 2 "$MODE: promote with steps going down" kanary promote "$VS" \
	--to resnet101 --steps 50,10,100 --interval 1s
expect 2 "$MODE: promote without a unit on --interval" kanary promote "$VS" \
	--to resnet101 --steps 10,100 --interval 30
check "$MODE: bad input leaves 100/0" weights_are "resnet50=100 resnet101=0"

# --- no traffic: held, then rolled back (not enough traffic to judge)
kanary promote "$VS" --to resnet101 --steps 10,100 --interval 300ms \
	--max-holds 1 >"$OUT" 2>&1
rc=$?
check "$MODE: no traffic: exit 3 after one hold ($(tail -n 1 "$OUT"))" \
	test "$rc" -eq 3 -a "$(grep -c 'held (1 of 1)' "$OUT")" -eq 1
check "$MODE: no traffic: says why" grep -q "not enough traffic to judge" "$OUT"
check "$MODE: no traffic: back to 100/0" weights_are "resnet50=100 resnet101=0"

# --- (a) a canary failing 20 % of its predicts: rolled back at step 1
check "$MODE: the canary restarts with --error-share 0.2" \
	server_restart 3 --error-share 0.2
start_load
wait_for 5 test -s "$LOAD"
start_promote --steps 10,50,100 --interval 10s --min-requests 20
wait_promote
rc=$?
t_rollback=$(jq -r 'select(.event == "rollback") | .time' "$OUT")
check "$MODE: a failing canary: exit 3 at step 1" \
	test "$rc" -eq 3 -a -n "$t_rollback" -a \
	"$(jq -r 'select(.event == "rollback") | .step' "$OUT")" = 1
[ "$rc" -eq 3 ] || show_out
check "$MODE: it says the success gate failed" out_has \
	'select(.event == "rollback") | .why | test("^success .* < 99 %")'
check "$MODE: after the rollback: 100/0 in status and stats" \
	weights_are "resnet50=100 resnet101=0"
sleep 0.5
stop_load
first_500=$(awk '$3 == 500 { print $2; exit }' "$LOAD")
took=$(awk -v a="${first_500:-0}" -v b="${t_rollback:-0}" \
	'BEGIN { printf "%.3f", b - a }')
seen=$(jq -r 'select(.event == "rollback") | .seconds_after_5xx' "$OUT")
echo "# the clients' first 500 at $first_500, weight 0 applied at $t_rollback: ${took} s later (promote: ${seen} s after its first poll that saw a 5xx); at most ${ROLLBACK_MAX} s expected"
echo "# $(jq -r 'select(.event == "rollback") | "window: \(.window.responses) responses, \(.window.rps) req/s, success \(.window.success_pct) %"' "$OUT")"
check "$MODE: from the first 500 to weight 0 within ${ROLLBACK_MAX} s (${took} s)" \
	awk -v t="$took" -v m="$ROLLBACK_MAX" -v f="${first_500:-x}" \
	'BEGIN { exit !(f != "x" && t > 0 && t <= m) }'
# Connections opened once the apply returned (and a little, for the
# client's clock and the answer in flight) all go to the stable subset.
late=$(awk -v t="${t_rollback:-0}" '$1 > t + 0.05 && $4 != "resnet50"' "$LOAD" | wc -l)
after=$(awk -v t="${t_rollback:-0}" '$1 > t + 0.05' "$LOAD" | wc -l)
check "$MODE: connections after the rollback all go to resnet50 ($after, $late elsewhere)" \
	test "$after" -gt 0 -a "$late" -eq 0
out=$(versions 40)
check "$MODE: 40 new connections after it: all resnet50 (${out//$'\n'/ })" \
	test "$(count_of resnet50 <<<"$out")" -eq 40

# --- (b) a healthy canary: promoted, 0/100
check "$MODE: the canary restarts healthy" server_restart 3
start_load
wait_for 5 test -s "$LOAD"
start_promote --steps 10,50,100 --interval 3s
wait_promote
rc=$?
check "$MODE: a healthy canary: exit 0, promoted" \
	test "$rc" -eq 0 -a "$(jq -r 'select(.event == "promoted") | .event' "$OUT")" = promoted
[ "$rc" -eq 0 ] || show_out
check "$MODE: it passed 3 steps" test "$(grep -c '"event":"pass"' "$OUT")" -eq 3
echo "# $(jq -r 'select(.event == "pass") | "step \(.step): \(.window.responses) responses, \(.window.rps) req/s, success \(.window.success_pct) %, p50 \(.window.p50_ms) ms, p99 \(.window.p99_ms) ms"' "$OUT" | paste -sd';')"
check "$MODE: after it: 0/100 in status and stats" \
	weights_are "resnet50=0 resnet101=100"

# --- (c) SIGINT during step 2: the weights of step 1 (the last good)
check "$MODE: back to 100/0" reset_split
start_promote --steps 10,50,100 --interval 3s
wait_for 10 has_event step 2
check "$MODE: step 2 set (50/50)" weights_are "resnet50=50 resnet101=50"
kill -INT "$PROMOTE"
wait_promote
rc=$?
check "$MODE: SIGINT: exit 130" test "$rc" -eq 130
[ "$rc" -eq 130 ] || show_out
check "$MODE: SIGINT: the last good weights are left (90/10)" \
	weights_are "resnet50=90 resnet101=10"

# --- (d) another writer during a step: it wins, promote exits 4
check "$MODE: back to 100/0" reset_split
start_promote --steps 10,50,100 --interval 10s
wait_for 5 has_event step 1
kanary set-weight "$VS" resnet50=70 resnet101=30
t_set=$(date +%s.%N)
wait_promote
rc=$?
took=$(awk -v a="$t_set" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
check "$MODE: set-weight during promote: exit 4 within 1 s (${took} s)" \
	awk -v rc="$rc" -v t="$took" 'BEGIN { exit !(rc == 4 && t <= 1) }'
[ "$rc" -eq 4 ] || show_out
check "$MODE: it says who wins" has_event overruled
sleep 0.3
check "$MODE: the other writer's weights stay (70/30)" \
	weights_are "resnet50=70 resnet101=30"

# --- (e) the node agent's config directory changes during a step: the
# directory wins, as over set-weight
files() { local f; for f in "$@"; do echo "$LAB_DIR/$f"; done; }
# shellcheck disable=SC2046
configmap_publish "$CFG" $(files gateway.yaml service.yaml \
	destinationrule.yaml workloadentries.yaml virtualservice-weight-100.yaml)
# nsenter execs the agent: $! is the agent itself. It adopts the load.
nsenter --net="/run/netns/$GW_NS" "$KANARY" run --pin-dir "$PIN" \
	--mode "$MODE" --vip "$VIP" --iface c0 --iface e1 --iface e2 \
	--iface e3 --config-dir "$CFG" --no-health 2>"$AGENT_LOG" &
AGENT=$!
check "$MODE: the agent applies its directory (100/0)" \
	wait_for 20 weights_are "resnet50=100 resnet101=0"
start_promote --steps 10,50,100 --interval 10s
wait_for 5 has_event step 1
# shellcheck disable=SC2046
configmap_publish "$CFG" $(files gateway.yaml service.yaml \
	destinationrule.yaml workloadentries.yaml virtualservice-weight-70.yaml)
t_set=$(date +%s.%N)
wait_promote
rc=$?
took=$(awk -v a="$t_set" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
check "$MODE: the agent applies a new directory during promote: exit 4 within 2 s (${took} s)" \
	awk -v rc="$rc" -v t="$took" 'BEGIN { exit !(rc == 4 && t <= 2) }'
[ "$rc" -eq 4 ] || { show_out; sed 's/^/    agent: /' "$AGENT_LOG"; }
sleep 0.3
check "$MODE: the directory's weights stay (70/30)" \
	weights_are "resnet50=70 resnet101=30"
stop_load

summary
