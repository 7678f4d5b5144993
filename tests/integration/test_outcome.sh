#!/usr/bin/env bash
# HTTP outcomes counted by the data path (kn_http, kn_codes), end to end:
# real curl requests through kanary on the L4 path (the lab's 100/0 split)
# and on the L7 path (focused routing: the first request is held and
# replayed), keep-alive and a connection per request, in the mode given
# ($1: xdp or tc). The counters are read from the pinned maps.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
MODE=$1

echo "# HTTP outcomes in $MODE mode"
lab_up "$MODE" || { not_ok "$MODE: lab and load"; summary; exit 1; }

base=(-f "$LAB_DIR/gateway.yaml" -f "$LAB_DIR/service.yaml"
	-f "$LAB_DIR/destinationrule.yaml" -f "$LAB_DIR/workloadentries.yaml")
PREDICT=http://$VIP/v1/models/image_classifier:predict
BODY='{"instances": [[0.1, 0.2]]}'

# outcomes: "requests responses durations n200 n404" summed over rows and
# CPUs (durations: the responses in all duration buckets).
outcomes() {
	{
		gw bpftool -j map dump pinned "$PIN/kn_http"
		echo
		gw bpftool -j map dump pinned "$PIN/kn_codes"
	} | python3 -c '
import json, sys
http, codes = [json.loads(l) for l in sys.stdin.read().split("\n") if l.strip()]
t = {"requests": 0, "responses": 0, "dur": 0, 200: 0, 404: 0}
for e in http:
    for v in e.get("formatted", e)["values"]:
        v = v["value"]
        t["requests"] += v["requests"]
        t["responses"] += v["responses"]
        t["dur"] += sum(v["duration"])
for e in codes:
    e = e.get("formatted", e)
    if e["key"]["code"] in t:
        t[e["key"]["code"]] += sum(v["value"] for v in e["values"])
print(t["requests"], t["responses"], t["dur"], t[200], t[404])
'
}

# expect_delta BEFORE WHAT REQ RESP N200 N404: the counters grew by these.
expect_delta() {
	local before=$1 what=$2 now r0 s0 d0 a0 b0 r1 s1 d1 a1 b1
	now=$(outcomes)
	read -r r0 s0 d0 a0 b0 <<<"$before"
	read -r r1 s1 d1 a1 b1 <<<"$now"
	check "$MODE: $what: requests +$((r1 - r0)) (want $3), responses +$((s1 - s0)) (want $4), in buckets +$((d1 - d0)), 200 +$((a1 - a0)) (want $5), 404 +$((b1 - b0)) (want $6)" \
		test $((r1 - r0)) -eq "$3" -a $((s1 - s0)) -eq "$4" \
		-a $((d1 - d0)) -eq "$4" -a $((a1 - a0)) -eq "$5" \
		-a $((b1 - b0)) -eq "$6"
}

check "$MODE: apply the lab's 100/0" \
	kanary apply "${base[@]}" -f "$LAB_DIR/virtualservice-weight-100.yaml"
check "$MODE: nothing counted before any request" \
	test "$(outcomes)" = "0 0 0 0 0"

# L4, keep-alive: one connection, 10 predictions and 3 unknown paths.
b=$(outcomes)
codes=$(client curl -s --max-time 20 -o /dev/null -w '%{http_code} %{num_connects}\n' \
	-d "$BODY" "$PREDICT?n=[1-10]" --next -s -o /dev/null \
	-w '%{http_code} %{num_connects}\n' "http://$VIP/nope[1-3]")
check "$MODE: L4 keep-alive: 10 x 200 and 3 x 404 on one connection ($(echo $codes))" \
	test "$(grep -c '^200 ' <<<"$codes")" -eq 10 -a \
	"$(grep -c '^404 ' <<<"$codes")" -eq 3 -a \
	"$(awk '{ n += $2 } END { print n }' <<<"$codes")" -eq 1
expect_delta "$b" "L4 keep-alive" 13 13 10 3

# L4, a connection per request.
b=$(outcomes)
out=$(versions 20)
check "$MODE: L4: 20 answers ($(echo $out))" \
	test "$(awk '{ n += $1 } END { print n + 0 }' <<<"$out")" -eq 20
expect_delta "$b" "L4 connection per request" 20 20 20 0

# L7: the first request of each connection is held and replayed.
check "$MODE: apply focused routing (L7)" \
	kanary apply "${base[@]}" -f "$LAB_DIR/virtualservice-focused-routing.yaml"
b=$(outcomes)
out=$(versions 10 -H 'user-group: canary')
check "$MODE: L7: 10 answers ($(echo $out))" \
	test "$(awk '{ n += $1 } END { print n + 0 }' <<<"$out")" -eq 10
expect_delta "$b" "L7 connection per request" 10 10 10 0

b=$(outcomes)
codes=$(client curl -s --max-time 20 -o /dev/null -w '%{http_code} %{num_connects}\n' \
	-H 'user-group: canary' -d "$BODY" "$PREDICT?n=[1-8]" --next -s \
	-o /dev/null -w '%{http_code} %{num_connects}\n' "http://$VIP/nope[1-2]")
check "$MODE: L7 keep-alive: 8 x 200 and 2 x 404 on one connection ($(echo $codes))" \
	test "$(grep -c '^200 ' <<<"$codes")" -eq 8 -a \
	"$(grep -c '^404 ' <<<"$codes")" -eq 2 -a \
	"$(awk '{ n += $2 } END { print n }' <<<"$codes")" -eq 1
expect_delta "$b" "L7 keep-alive" 10 10 8 2

summary
