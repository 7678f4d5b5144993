#!/usr/bin/env bash
# The node agent (kanary run) in the lab: it applies a config directory laid
# out as the kubelet lays out a ConfigMap volume, follows its updates (the
# ..data swap, plain edits, SIGHUP), keeps the last good config when a set
# is bad and says so on /readyz, serves /healthz and /metrics, and is
# restarted (kill -9) under wrk load with no error and no established
# connection moved; SIGTERM leaves the data path attached.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
LAB_KIND=agent
LAB_LOAD=0
echo "# agent"

AGENT_PID=
CFG=$(mktemp -d)
AGENT_LOG=$(mktemp)
LISTEN=127.0.0.1:9901
cleanup() {
	[ -z "$AGENT_PID" ] || kill -9 "$AGENT_PID" 2>/dev/null
	[ "$FAILED" -eq 0 ] || sed 's/^/# agent log: /' "$AGENT_LOG"
	wait 2>/dev/null
	rm -rf "$CFG" "$AGENT_LOG"
	lab_down
}
lab_up auto || { echo "lab did not come up"; exit 1; }
trap cleanup EXIT

# agent_start [args]: the agent in the gateway namespace, in the background.
agent_start() {
	# nsenter execs the agent: $! is the agent itself.
	nsenter --net="/run/netns/$GW_NS" "$KANARY" run --pin-dir "$PIN" --vip "$VIP" --iface c0 --iface e1 \
		--iface e2 --iface e3 --config-dir "$CFG" --listen "$LISTEN" \
		--no-health "$@" 2>>"$AGENT_LOG" &
	AGENT_PID=$!
}
http_get() { gw curl -s --max-time 5 "$@"; }
http_code() { gw curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
ready() { [ "$(http_code "http://$LISTEN/readyz")" = 200 ]; }
not_ready() { [ "$(http_code "http://$LISTEN/readyz")" = 503 ]; }
applied_count() { grep -c 'config: applied' "$AGENT_LOG"; }
applied_more_than() { [ "$(applied_count)" -gt "$1" ]; }
metric() { # NAME{labels} -> value
	http_get "http://$LISTEN/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
base=(gateway.yaml service.yaml destinationrule.yaml workloadentries.yaml)
files() { local f; for f in "${base[@]}" "$@"; do echo "$LAB_DIR/$f"; done; }

# shellcheck disable=SC2046
configmap_publish "$CFG" $(files virtualservice-weight-100.yaml)
agent_start
check "agent: ready after start (attached, config applied)" wait_for 20 ready
check "agent: /healthz answers 200" test "$(http_code "http://$LISTEN/healthz")" = 200
out=$(versions 40)
check "agent: 100/0 from the config dir (resnet101: $(count_of resnet101 <<<"$out"))" \
	test "$(count_of resnet50 <<<"$out")" -eq 40
code=$(gw curl -s -o /dev/null -w '%{http_code}' -X POST "http://$LISTEN/metrics")
check "agent: the endpoint is read-only (POST /metrics: $code)" test "$code" = 405
m=$(http_get "http://$LISTEN/metrics")
check "agent: /metrics has per-subset connections" \
	grep -q '^kanary_subset_connections_total{namespace="default",virtualservice="image-classifier",subset="resnet50"} [1-9]' <<<"$m"
check "agent: /metrics has the config generation and apply result" \
	bash -c 'grep -q "^kanary_config_generation [1-9]" <<<"$1" &&
		grep -q "^kanary_agent_config_last_apply_success 1" <<<"$1"' _ "$m"
check "agent: /metrics has the data path's counters and attachments" \
	bash -c 'grep -q "^kanary_datapath_packets_total{counter=\"new_flow\"} [1-9]" <<<"$1" &&
		grep -q "^kanary_interface_attached{interface=\"c0\",hook=\"tc\"} 1" <<<"$1"' _ "$m"
check "agent: /metrics is valid exposition text (a HELP and TYPE per family)" \
	test "$(grep -c '^# TYPE' <<<"$m")" -eq "$(grep -c '^# HELP' <<<"$m")"
# The same Istio-named HTTP outcomes as `kanary metrics`: the 40 predicts.
istio() { # FAMILY SUBSET [CODE]: the value of that series in $m
	awk -v f="$1" -v s="destination_version=\"$2\"" \
		-v c="${3:+response_code=\"$3\"}" \
		'index($0, f "{") == 1 && index($0, s) && index($0, c) { print $NF }' <<<"$m"
}
n200=$(istio istio_requests_total resnet50 200)
check "agent: /metrics has istio_requests_total, resnet50 code 200: the 40 predicts ($n200)" \
	test "${n200:-0}" -eq 40
ncount=$(istio istio_request_duration_milliseconds_count resnet50)
check "agent: /metrics has istio_request_duration_milliseconds, 40 for resnet50 ($ncount)" \
	test "${ncount:-0}" -eq 40

# Stale marks (KANARY_CONN_KN_FLOWS, 0x8: "kn_flows may hold one of my
# connections or ports") on three free records, as overflows whose kn_flows
# entries are gone leave them: the agent's sweep, every 10 s, takes them
# back, so that claims there look in kn_flows no more.
rec_claim() { # RECORD -> its claim word
	bpftool -j map lookup pinned "$PIN/kn_conns" key $(printf '%d 0 0 0' "$1") |
		python3 -c 'import json, sys
v = json.load(sys.stdin)["value"]
print(int.from_bytes(bytes(int(b, 16) for b in v[:8]), "little"))'
}
free=()
for r in $(seq 100 199); do
	[ "$(rec_claim "$r")" = 0 ] && free+=("$r")
	[ "${#free[@]}" -ge 3 ] && break
done
size=$(bpftool -j map show pinned "$PIN/kn_conns" | jq .bytes_value)
for r in "${free[@]}"; do
	# shellcheck disable=SC2046
	bpftool map update pinned "$PIN/kn_conns" key $(printf '%d 0 0 0' "$r") \
		value 8 $(printf '0 %.0s' $(seq 2 "$size"))
done
marks_gone() { for r in "${free[@]}"; do [ "$(rec_claim "$r")" = 0 ] || return 1; done; }
check "agent: marks were set on free records (${free[*]}: $(rec_claim "${free[0]}"))" \
	test "${#free[@]}" -eq 3 -a "$(rec_claim "${free[0]}")" = 8
check "agent: its sweep takes back marks no kn_flows entry needs" wait_for 25 marks_gone
check "agent: /metrics counts the sweeps" \
	test "$(metric kanary_agent_conntrack_mark_sweeps_total)" -ge 1

# The kubelet's update: a new timestamped dir, ..data swapped.
n=$(applied_count)
# shellcheck disable=SC2046
configmap_publish "$CFG" $(files virtualservice-weight-70.yaml)
check "agent: a ConfigMap update (..data swap) is applied once" \
	wait_for 10 applied_more_than "$n"
out=$(versions 400)
c101=$(count_of resnet101 <<<"$out")
check "agent: 70/30 after the update (resnet101: $c101 of 400)" \
	test "$c101" -ge 80 -a "$c101" -le 160
sleep 1
check "agent: events of one update apply once, and nothing when nothing changed" \
	test "$(applied_count)" -eq $((n + 1))

# A bad set: the last good config keeps serving, readiness says why.
bad=$(mktemp -d)
sed 's/subset: resnet101/subset: resnet999/' "$LAB_DIR/virtualservice-weight-70.yaml" >"$bad/virtualservice.yaml"
# shellcheck disable=SC2046
configmap_publish "$CFG" $(files) "$bad/virtualservice.yaml"
check "agent: a bad set turns /readyz to 503" wait_for 10 not_ready
body=$(http_get "http://$LISTEN/readyz")
check "agent: /readyz names the file and line ($body)" \
	grep -q "virtualservice.yaml:[0-9]" <<<"$body"
check "agent: the log names the file and line" \
	grep -q "not applied.*virtualservice.yaml:[0-9]" "$AGENT_LOG"
check "agent: the failure is counted in /metrics" \
	test "$(metric 'kanary_agent_config_applies_total{result="error"}')" -ge 1
out=$(versions 200)
c101=$(count_of resnet101 <<<"$out")
check "agent: the last good config (70/30) keeps serving ($c101 of 200)" \
	test "$c101" -ge 30 -a "$c101" -le 90
# shellcheck disable=SC2046
configmap_publish "$CFG" $(files virtualservice-weight-100.yaml)
check "agent: a good set makes it ready again" wait_for 10 ready
rm -rf "$bad"

# A plain edit of a regular file (no kubelet), and SIGHUP.
rm -f "$CFG/virtualservice-weight-100.yaml"
n=$(applied_count)
cp "$LAB_DIR/virtualservice-weight-70.yaml" "$CFG/vs.yaml"
check "agent: a plain file written in the directory is applied" \
	wait_for 10 applied_more_than "$n"
out=$(versions 100)
check "agent: the edit took effect (resnet101: $(count_of resnet101 <<<"$out") of 100)" \
	test "$(count_of resnet101 <<<"$out")" -gt 0
n=$(applied_count)
kill -HUP "$AGENT_PID"
check "agent: SIGHUP reads the directory again" \
	wait_for 10 applied_more_than "$n"

# Restart under load: kill -9, start again; nothing a client sees.
gen_before=$(metric kanary_config_generation)
conns_before=$(metric 'kanary_subset_connections_total{namespace="default",virtualservice="image-classifier",subset="resnet50"}')
for run in keepalive close; do
	args=()
	[ "$run" = close ] && args=(-H 'Connection: close')
	client wrk -t2 -c8 -d6s --timeout 2s "${args[@]}" \
		"http://$VIP/v1/models/image_classifier" >"$CFG/.wrk" 2>&1 &
	wrk_pid=$!
	client python3 "$ROOT/tests/tools/hold_conn.py" --host "$VIP" \
		--seconds 5 >"$CFG/.hold" 2>&1 &
	hold_pid=$!
	sleep 1.5
	kill -9 "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null
	sleep 0.5
	agent_start
	wait_for 20 ready
	wait "$wrk_pid" "$hold_pid"
	wrk_out=$(cat "$CFG/.wrk")
	sed 's/^/#   /' "$CFG/.wrk" "$CFG/.hold"
	check "agent: wrk $run across kill -9 and restart: no socket error, no non-2xx" \
		wrk_clean "$wrk_out"
	check "agent: an established connection kept its endpoint across the restart ($(cat "$CFG/.hold"))" \
		grep -qE '^requests=[1-9][0-9]* errors=0 endpoints=[0-9.]+$' "$CFG/.hold"
done
check "agent: the restarted agent adopted the maps (generation $gen_before -> $(metric kanary_config_generation))" \
	test "$(metric kanary_config_generation)" -gt "$gen_before"
conns_after=$(metric 'kanary_subset_connections_total{namespace="default",virtualservice="image-classifier",subset="resnet50"}')
check "agent: counters survive the restart ($conns_before -> $conns_after)" \
	test "$conns_after" -gt "$conns_before"
check "agent: the log says it adopted the pins" grep -q "adopted" "$AGENT_LOG"

# SIGTERM: exit 0, the data path stays attached and serving.
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
rc=$?
AGENT_PID=
check "agent: SIGTERM exits 0 ($rc)" test "$rc" -eq 0
out=$(versions 20)
check "agent: after SIGTERM, traffic still flows through the data path" \
	test "$(($(count_of resnet50 <<<"$out") + $(count_of resnet101 <<<"$out")))" -eq 20
st=$(kanary status 2>&1)
rc=$?
check "agent: after SIGTERM, status shows it attached (exit $rc)" \
	bash -c '[ "$1" -eq 0 ] && grep -q "attached" <<<"$2" &&
		! grep -q "NOT ATTACHED" <<<"$2"' _ "$rc" "$st"

# --unload-on-exit: the documented way to uninstall on SIGTERM.
agent_start --unload-on-exit
wait_for 20 ready
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
AGENT_PID=
check "agent --unload-on-exit: SIGTERM removes the pins" test ! -e "$PIN/kn_flows"
out=$(client curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$VIP/" 2>&1)
check "agent --unload-on-exit: nothing answers on the VIP afterwards ($out)" test "$out" != 200

# Usage errors.
err=$("$KANARY" run --iface lo 2>&1)
check "run without --config-dir is a usage error" grep -q "give --config-dir" <<<"$err"
err=$("$KANARY" run --iface lo --config-dir "$CFG" --listen nope 2>&1)
check "run with a bad --listen is a usage error" grep -q "listen takes" <<<"$err"
summary
