#!/usr/bin/env bash
# Reading the canary analysis back: real HTTP clients through the lab's
# 70/30 split, then `stats --watch` (text and JSON), `stats --json` and
# `kanary metrics --listen` must agree with what the clients saw.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
MODE=${1:-tc}

echo "# stats --watch, stats --json, metrics --listen in $MODE mode"

# Outside any lab: nothing loaded answers 503, bad addresses are refused.
nopin=/sys/fs/bpf/kanary-test-nothing-$$
port=$((20000 + $$ % 20000))
"$KANARY" metrics --listen 127.0.0.1:$port --pin-dir "$nopin" 2>/dev/null &
srv=$!
wait_for 5 curl -s -o /dev/null "http://127.0.0.1:$port/metrics"
code=$(curl -s -o /tmp/kn-watch-body-$$ -w '%{http_code}' "http://127.0.0.1:$port/metrics")
body=$(cat /tmp/kn-watch-body-$$)
rm -f /tmp/kn-watch-body-$$
check "metrics --listen with nothing loaded answers 503 ($code: $body)" \
	test "$code" = 503 -a "$(wc -l <<<"$body")" -eq 1
err=$("$KANARY" metrics --listen 127.0.0.1:$port --pin-dir "$nopin" 2>&1)
rc=$?
check "metrics --listen on a port in use exits 1 ($(tail -1 <<<"$err"))" \
	test "$rc" -eq 1 -a -n "$(grep 'Address already in use' <<<"$err")"
kill -TERM "$srv"
wait "$srv"
rc=$?
check "metrics --listen exits 0 on SIGTERM (got $rc)" test "$rc" -eq 0
"$KANARY" metrics --listen 127.0.0.1 --pin-dir "$nopin" 2>/dev/null
check "metrics --listen without a port is a usage error" test $? -eq 2
"$KANARY" stats --watch --interval 0 --pin-dir "$nopin" 2>/dev/null
check "stats --watch --interval 0 is a usage error" test $? -eq 2
"$KANARY" stats --count 3 --pin-dir "$nopin" 2>/dev/null
check "stats --count without --watch is a usage error" test $? -eq 2
for cmd in stats metrics; do
	check "$cmd --help shows usage" \
		bash -c '"$1" "$2" --help | grep -q "^usage: kanary $2"' _ "$KANARY" "$cmd"
done

lab_up "$MODE" || { not_ok "$MODE: lab and load"; summary; exit 1; }
SRV=
cleanup() {
	[ -z "$SRV" ] || kill -TERM "$SRV" 2>/dev/null
	lab_down
}
trap cleanup EXIT

check "$MODE: apply the lab's 70/30" \
	kanary apply -f "$LAB_DIR/gateway.yaml" -f "$LAB_DIR/service.yaml" \
	-f "$LAB_DIR/destinationrule.yaml" -f "$LAB_DIR/workloadentries.yaml" \
	-f "$LAB_DIR/virtualservice-weight-70.yaml"

# load SECONDS OUT: one request per new connection for SECONDS, as fast as
# one client goes; OUT gets "version status count" per outcome seen.
load() {
	client python3 - "$VIP" "$1" "$2" <<'EOF'
import collections, json, sys, time, urllib.request
vip, secs, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
seen = collections.Counter()
end = time.monotonic() + secs
while time.monotonic() < end:
    req = urllib.request.Request(
        f"http://{vip}/v1/models/image_classifier:predict",
        data=b'{"instances": [[0.1, 0.2]]}', headers={"Connection": "close"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            seen[(json.load(r)["model_version"], r.status)] += 1
    except urllib.error.HTTPError as e:
        seen[("?", e.code)] += 1
    except OSError:
        seen[("?", 0)] += 1
with open(out, "w") as f:
    for (v, s), n in sorted(seen.items()):
        print(v, s, n, file=f)
EOF
}
seen_of() { # VERSION STATUS < load output
	awk -v v="$1" -v s="$2" '$1 == v && $2 == s { n = $3 } END { print n + 0 }'
}

seen=$(mktemp)
load 5.5 "$seen" &
client_pid=$!
sleep 0.3
watch=$(kanary stats --watch --interval 1 --count 3)
wjson=$(kanary stats --watch --json --interval 1 --count 1)
wait "$client_pid"
echo "$watch" | sed 's/^/#   /'
sed 's/^/#   client saw: /' "$seen"
n50=$(seen_of resnet50 200 <"$seen")
n101=$(seen_of resnet101 200 <"$seen")
total=$(awk '{ n += $3 } END { print n + 0 }' "$seen")
rm -f "$seen"
check "$MODE: the client got only 200s from both subsets ($n50 + $n101 of $total)" \
	test "$n50" -gt 0 -a "$n101" -gt 0 -a $((n50 + n101)) -eq "$total"

check "$MODE: stats --watch --count 3 printed 3 frames, no escapes off a tty" \
	test "$(grep -c '^every 1s' <<<"$watch")" -eq 3 \
	-a -z "$(grep -P '\e' <<<"$watch")"
# Every frame: both subsets, with their weights, req/s > 0, 100 % success.
check "$MODE: every frame shows both subsets with req/s > 0 and 100.0 % success" \
	awk '
	/^every/ { frames++ }
	$1 == "resnet50" && $2 == 70 && $3 > 0 && $4 == "100.0" { a++ }
	$1 == "resnet101" && $2 == 30 && $3 > 0 && $4 == "100.0" { b++ }
	END { exit !(frames == 3 && a == 3 && b == 3) }' <<<"$watch"
check "$MODE: stats --watch --json: one line, both subsets with rps > 0 and 100 % success" \
	python3 -c '
import json, sys
lines = sys.argv[1].splitlines()
assert len(lines) == 1, lines
d = json.loads(lines[0])
subs = {s["name"]: s for s in d["virtualservices"][0]["subsets"]}
for name, weight in (("resnet50", 70), ("resnet101", 30)):
    s = subs[name]
    assert s["weight"] == weight and s["rps"] > 0, s
    assert s["success_pct"] == 100 and s["p50_ms"] > 0, s
    assert s["p99_ms"] >= s["p50_ms"], s
assert abs(sum(s["share_pct"] for s in subs.values()) - 100) < 0.01, subs
' "$wjson"

# The lifetime counters equal what the client saw, subset by subset.
json=$(kanary stats --json)
check "$MODE: stats --json counts what the client saw ($n50, $n101)" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
subs = {s["name"]: s for s in d["virtualservices"][0]["subsets"]}
for name, n in (("resnet50", int(sys.argv[2])), ("resnet101", int(sys.argv[3]))):
    s = subs[name]
    assert s["service"] == "image-classifier", s
    assert s["requests"] == n and s["responses"] == n, (name, n, s)
    assert s["codes"] == {"200": n}, (name, n, s)
    assert s["success_pct"] == 100 and s["p50_ms"] > 0, s
    assert sum(s["duration_buckets"]) == n, s
' "$json" "$n50" "$n101" || echo "$json" | sed 's/^/#   /'
table=$(kanary stats)
check "$MODE: the stats table has the HTTP columns" \
	grep -q 'REQUESTS *RESPONSES *SUCCESS% *P50_MS *P99_MS' <<<"$table"

# /metrics from `kanary metrics --listen`, inside the gateway's namespace.
# nsenter execs kanary: $! is kanary itself, which SIGTERM must end with 0.
nsenter --net="/run/netns/$GW_NS" "$KANARY" --pin-dir "$PIN" metrics \
	--listen "127.0.0.1:$port" 2>/dev/null &
SRV=$!
wait_for 5 gw curl -s -o /dev/null "http://127.0.0.1:$port/metrics"
metrics=$(gw curl -s "http://127.0.0.1:$port/metrics")
# Istio's own name breaks one lint rule (seconds are the base unit).
lint=$(promtool check metrics <<<"$metrics" 2>&1 |
	grep -v '^istio_request_duration_milliseconds use base unit "seconds"')
check "$MODE: promtool check metrics parses it and finds nothing else ($lint)" \
	test -z "$lint"
sample() { # WORKLOAD EXTRA: the value of istio_requests_total
	awk -v w="destination_workload=\"$1\"" -v e="$2" '
	/^istio_requests_total\{/ && index($0, w) && index($0, e) { v = $2 }
	END { print v + 0 }' <<<"$metrics"
}
m50=$(sample image-classifier-resnet50 'response_code="200"')
m101=$(sample image-classifier-resnet101 'response_code="200"')
check "$MODE: istio_requests_total{response_code=\"200\"} is what the client saw ($m50 = $n50, $m101 = $n101)" \
	test "$m50" -eq "$n50" -a "$m101" -eq "$n101"
check "$MODE: istio labels name the Service, namespace and VirtualService" \
	grep -q '^istio_requests_total{reporter="kanary",destination_service="image-classifier.default.svc.cluster.local",destination_service_name="image-classifier",destination_service_namespace="default",destination_workload="image-classifier-resnet101",destination_workload_namespace="default",destination_version="resnet101",request_protocol="http",virtualservice="default/image-classifier",response_code="200"} ' <<<"$metrics"
count101=$(awk '/^istio_request_duration_milliseconds_count\{/ && /resnet101/ { print $2 }' <<<"$metrics")
check "$MODE: istio_request_duration_milliseconds_count is the responses ($count101 = $n101)" \
	test "${count101:-0}" -eq "$n101"
kill -TERM "$SRV"
wait "$SRV"
rc=$?
SRV=
check "$MODE: metrics --listen exits 0 on SIGTERM in the lab (got $rc)" test "$rc" -eq 0

# Ctrl-C ends a watch cleanly; on a terminal it draws in place and gives
# the cursor back.
timeout -s INT --preserve-status 1.5 "$KANARY" --pin-dir "$PIN" stats --watch >/dev/null
rc=$?
check "$MODE: Ctrl-C ends stats --watch with 0 (got $rc)" test "$rc" -eq 0
tty_out=$(script -qec "$(kanary_cmd stats --watch --interval 0.2 --count 2)" /dev/null)
homes=$(grep -o $'\e\\[H\e\\[J' <<<"$tty_out" | wc -l)
check "$MODE: on a terminal both frames start at home, cleared ($homes), and the cursor comes back" \
	test "$homes" -eq 2 -a -n "$(grep -F $'\e[?25h' <<<"$tty_out")"

cleanup
trap - EXIT
summary
