#!/usr/bin/env bash
# A real Prometheus (Debian's /usr/bin/prometheus) scraping `kanary
# metrics` in the lab's gateway namespace while real clients (python
# requests with keep-alive, curl with new connections) go through the
# 70/30 split to a canary (ep3, resnet101) that fails one predict in five
# with 500 and answers each after 30 ms, and a stable subset left as it is.
# The queries of deploy/analysis/ (Flagger's, Argo Rollouts') must give
# what the clients saw: the success rate per subset, the exact request
# counts, a canary p99 in Istio's (25, 50] ms bucket and a stable one
# below it; `kanary stats --json` must agree with the raw counters.
#   tests/integration/test_prometheus.sh [MODE]   (default tc)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
MODE=${1:-tc}
ERROR_SHARE=0.2
DELAY_MS=30
SVC=image-classifier SVC_NS=default CANARY=resnet101 STABLE=resnet50
T0=$(date +%s)

echo "# prometheus scraping kanary ($MODE)"
command -v prometheus >/dev/null || {
	not_ok "prometheus is missing (bash scripts/deps.sh)"
	summary
	exit 1
}
lab_up "$MODE" || { not_ok "$MODE: lab and load"; summary; exit 1; }

T=$(mktemp -d /tmp/kanary-prom.XXXXXX)
METRICS=
PROM=
stop() { # PID: end a process this test started, and reap it
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	stop "$PROM"
	stop "$METRICS"
	rm -rf "$T"
	lab_down
}
trap cleanup EXIT

# a port nothing listens on in the gateway namespace
free_port() {
	gw python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

base=(-f "$LAB_DIR/gateway.yaml" -f "$LAB_DIR/service.yaml"
	-f "$LAB_DIR/destinationrule.yaml" -f "$LAB_DIR/workloadentries.yaml")
check "$MODE: apply the lab's 70/30" \
	kanary apply "${base[@]}" -f "$LAB_DIR/virtualservice-weight-70.yaml"

# The canary's server again, now with a known error share and delay.
check "$MODE: the canary's server is back with --error-share $ERROR_SHARE --delay-ms $DELAY_MS" \
	server_restart 3 --error-share "$ERROR_SHARE" --delay-ms "$DELAY_MS"

MPORT=$(free_port)
# nsenter execs kanary: $! is kanary's pid.
nsenter --net="/run/netns/$GW_NS" "$KANARY" --pin-dir "$PIN" metrics \
	--listen "127.0.0.1:$MPORT" >"$T/metrics.log" 2>&1 &
METRICS=$!
if wait_for 10 gw curl -sf -o /dev/null "http://127.0.0.1:$MPORT/metrics"; then
	ok "$MODE: kanary metrics serves /metrics on 127.0.0.1:$MPORT"
else
	not_ok "$MODE: kanary metrics serves /metrics on 127.0.0.1:$MPORT"
	sed 's/^/#   /' "$T/metrics.log"
	summary
	exit 1
fi

PPORT=$(free_port)
PROM_URL=http://127.0.0.1:$PPORT
mkdir "$T/data"
cat >"$T/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
- job_name: kanary
  static_configs:
  - targets: ["127.0.0.1:$MPORT"]
YAML
nsenter --net="/run/netns/$GW_NS" prometheus \
	--config.file="$T/prometheus.yml" --storage.tsdb.path="$T/data" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn \
	>"$T/prometheus.log" 2>&1 &
PROM=$!

# promql EXPR [TIME]: the instant query's result, as JSON
promql() {
	gw curl -sf "$PROM_URL/api/v1/query" --data-urlencode "query=$1" \
		${2:+--data-urlencode "time=$2"}
}
# scalar EXPR [TIME]: the one value of an instant query ("" if none)
scalar() {
	promql "$@" | python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if len(r) == 1 else "")' 2>/dev/null
}
scraped() { [ "$(scalar 'up{job="kanary"}')" = 1 ]; }
if wait_for 30 scraped; then
	ok "$MODE: prometheus scrapes kanary"
else
	not_ok "$MODE: prometheus scrapes kanary"
	sed 's/^/#   /' "$T/prometheus.log"
	summary
	exit 1
fi

# drive PHASE: requests through the VIP from the client namespace; one
# line "version code ms" per answer. warmup: new connections until both
# subsets have answered and the canary has failed once, so that every
# series exists before the window measured below (rate() cannot count a
# series' first sample). load: 20 python sessions of 10 keep-alive
# requests, then 200 curl requests on new connections.
cat >"$T/drive.py" <<'PY'
import sys, time, requests
vip, phase = sys.argv[1], sys.argv[2]
url = "http://%s/v1/models/image_classifier:predict" % vip
body = {"instances": [[0.1, 0.2]]}
seen = set()
def post(s, close):
    t = time.monotonic()
    r = s.post(url, json=body, timeout=10,
               headers={"Connection": "close"} if close else {})
    ms = (time.monotonic() - t) * 1000
    v = r.headers.get("X-Model-Version", "?")
    seen.add((v, r.status_code))
    print(v, r.status_code, "%.3f" % ms)
if phase == "warmup":
    need = {("resnet50", 200), ("resnet101", 200), ("resnet101", 500)}
    for _ in range(300):
        with requests.Session() as s:
            post(s, True)
        if need <= seen:
            break
else:
    for _ in range(20):
        with requests.Session() as s:
            for _ in range(10):
                post(s, False)
PY
drive() {
	client "$PY" "$T/drive.py" "$VIP" "$1"
	[ "$1" = load ] || return 0
	client curl -s -o /dev/null --max-time 10 -H 'Connection: close' \
		-d '{"instances": [[0.1, 0.2]]}' \
		-w '%header{x-model-version} %{http_code} %{time_starttransfer}\n' \
		"http://$VIP/v1/models/image_classifier:predict?n=[1-200]" |
		awk '{ printf "%s %s %.3f\n", $1, $2, $3 * 1000 }'
}
# seen FILE VERSION [CODE_RE]: answers of VERSION (with a code matching)
seen() { awk -v v="$2" -v c="^(${3:-.*})\$" '$1 == v && $2 ~ c' "$1" | grep -c .; }
total_requests() { scalar 'sum(istio_requests_total{reporter="kanary"})'; }
prom_total_is() { [ "$(total_requests)" = "$1" ]; }

drive warmup >"$T/warmup"
n_warm=$(grep -c . "$T/warmup")
check "$MODE: warm-up: both subsets answered, the canary failed once ($n_warm requests)" \
	test "$(seen "$T/warmup" "$CANARY" 500)" -ge 1 -a \
	"$(seen "$T/warmup" "$STABLE" 200)" -ge 1
check "$MODE: prometheus has the warm-up's $n_warm requests" \
	wait_for 10 prom_total_is "$n_warm"
# A scrape between the warm-up and the load starts the window.
t_mark=$(date +%s.%N)
sleep 1.5

drive load >"$T/load"
n_load=$(grep -c . "$T/load")
cat "$T/warmup" "$T/load" >"$T/all"
n_all=$((n_warm + n_load))
check "$MODE: the clients sent $n_load requests, all answered 200 or 500" \
	test "$n_load" -eq 400 -a "$(awk '$2 != 200 && $2 != 500' "$T/load" | grep -c .)" -eq 0
for v in $STABLE $CANARY; do
	echo "# clients, $v: $(seen "$T/load" "$v" 200) x 200, $(seen "$T/load" "$v" 500) x 500 in the load;" \
		"latency ms min/p50/p99/max $(awk -v v="$v" '$1 == v { print $3 }' "$T/load" |
			sort -n | awk '{ a[NR] = $1 } END { printf "%.1f/%.1f/%.1f/%.1f",
				a[1], a[int(NR * 0.5 + 0.5)], a[int(NR * 0.99 + 0.5)], a[NR] }')"
done
check "$MODE: prometheus has the final counters: all $n_all requests" \
	wait_for 15 prom_total_is "$n_all"

# The window: from the first sample after t_mark (warm-up counts only) to
# the newest one (every count). Both ends are samples, so rate() over
# exactly their distance extrapolates nothing: the Flagger queries then
# count precisely the load's requests.
read -r t_first t_last < <(promql 'istio_requests_total{reporter="kanary"}[5m]' "$(date +%s.%N)" |
	python3 -c 'import json, sys
totals = {}
for series in json.load(sys.stdin)["data"]["result"]:
    for t, v in series["values"]:
        totals[t] = totals.get(t, 0) + int(float(v))
mark, warm = float(sys.argv[1]), int(sys.argv[2])
after = sorted(t for t in totals if t >= mark)
print("%.3f" % after[0] if after and totals[after[0]] == warm else "none",
      "%.3f" % after[-1] if after else "none")' "$t_mark" "$n_warm")
check "$MODE: a sample after the warm-up and before the load (${t_first:-none}) starts the window" \
	test "${t_first:-none}" != none -a "${t_last:-none}" != none
window_ms=$(awk -v a="$t_first" -v b="$t_last" 'BEGIN { printf "%d", (b - a) * 1000 + 0.5 }')
echo "# window: ${window_ms} ms ending at $t_last"

# flagger NAME SUBSET: the MetricTemplate's query as Flagger renders it
flagger() {
	"$PY" - "$ROOT/deploy/analysis/flagger.yaml" "$1" "$2" "$SVC_NS" "$SVC" \
		"${window_ms}ms" <<'PY'
import sys, yaml
f, name, subset, ns, target, interval = sys.argv[1:]
q = next(d for d in yaml.safe_load_all(open(f)) if d["metadata"]["name"] == name)["spec"]["query"]
for k, v in {"namespace": ns, "target": target, "variables.subset": subset,
             "interval": interval}.items():
    q = q.replace("{{ %s }}" % k, v)
assert "{{" not in q, q
print(q)
PY
}
# argo METRIC SUBSET: the AnalysisTemplate's query with its args
argo() {
	"$PY" - "$ROOT/deploy/analysis/argo.yaml" "$1" "$2" "$SVC_NS" "$SVC" <<'PY'
import sys, yaml
f, metric, subset, ns, svc = sys.argv[1:]
t = yaml.safe_load(open(f))
q = next(m for m in t["spec"]["metrics"] if m["name"] == metric)["provider"]["prometheus"]["query"]
for k, v in {"namespace": ns, "service": svc, "subset": subset}.items():
    q = q.replace("{{args.%s}}" % k, v)
assert "{{" not in q, q
print(q)
PY
}
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; exit !(a != "" && d <= t && -d <= t) }'; }
in_range() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x != "" && x > lo && x <= hi) }'; }

for v in $CANARY $STABLE; do
	ok_n=$(seen "$T/load" "$v" 200)
	all_n=$(seen "$T/load" "$v")
	want=$(awk -v a="$ok_n" -v b="$all_n" 'BEGIN { printf "%.3f", b ? 100 * a / b : -1 }')
	got=$(scalar "$(flagger kanary-request-success-rate "$v")" "$t_last")
	# exact counts over an exact window: only float rounding is left
	check "$MODE: Flagger success rate of $v is the clients' $want % within 0.5 (got $got)" \
		near "$got" "$want" 0.5
	for code in 200 500; do
		c=$(seen "$T/all" "$v" "$code")
		p=$(scalar "sum(istio_requests_total{reporter=\"kanary\", destination_service_name=\"$SVC\", destination_version=\"$v\", response_code=\"$code\"})" "$t_last")
		check "$MODE: istio_requests_total of $v, $code is the clients' $c (got ${p:-none})" \
			test "${p:-0}" = "$c"
	done
	p=$(scalar "sum(istio_request_duration_milliseconds_count{reporter=\"kanary\", destination_version=\"$v\"})" "$t_last")
	check "$MODE: the duration histogram of $v counts all $(seen "$T/all" "$v") (got ${p:-none})" \
		test "${p:-0}" = "$(seen "$T/all" "$v")"
done
want=$(awk -v a="$(seen "$T/load" "$CANARY" 200)" -v b="$(seen "$T/load" "$CANARY")" \
	'BEGIN { printf "%.1f", b ? 100 * a / b : -1 }')
check "$MODE: the canary's clients saw about 80 % success ($want %)" \
	in_range "$want" 70 90
check "$MODE: the stable subset's clients saw 100 % ($(seen "$T/load" "$STABLE" 200) of $(seen "$T/load" "$STABLE"))" \
	test "$(seen "$T/load" "$STABLE" 200)" -eq "$(seen "$T/load" "$STABLE")"
check "$MODE: istio_requests_total sums to the $n_all requests the clients sent" \
	test "$(scalar 'sum(istio_requests_total{reporter="kanary"})' "$t_last")" = "$n_all"

p99c=$(scalar "$(flagger kanary-request-duration "$CANARY")" "$t_last")
p99s=$(scalar "$(flagger kanary-request-duration "$STABLE")" "$t_last")
# kanary's duration ends at the response's first byte, before the
# client's: its p99 is at most the Istio bucket bound above the clients'
# own p99 (on a busy machine that can be past 50 ms).
cp99=$(awk -v v="$CANARY" '$1 == v { print $3 }' "$T/load" | sort -n |
	awk '{ a[NR] = $1 } END { print a[int(NR * 0.99 + 0.5)] }')
bound=$(awk -v x="$cp99" 'BEGIN { n = split("50 100 250 500 1000 2500 5000", b, " ")
	for (i = 1; i <= n; i++) if (x <= b[i]) { print b[i]; exit } print 1e9 }')
check "$MODE: the canary's p99 ($p99c ms) is past the $DELAY_MS ms delay's bucket bound 25, at most $bound (clients' p99 $cp99 ms)" \
	in_range "$p99c" 25 "$bound"
check "$MODE: the stable subset's p99 ($p99s ms) is below the canary's" \
	awk -v s="$p99s" -v c="$p99c" 'BEGIN { exit !(s != "" && s < c) }'
cmin=$(awk -v v="$CANARY" '$1 == v { print $3 }' "$T/load" | sort -n | head -1)
check "$MODE: no canary client answer came sooner than the delay (min $cmin ms)" \
	in_range "$cmin" "$DELAY_MS" 1e9

# Argo Rollouts' template: its fixed 2m window holds the warm-up too.
sr=$(scalar "$(argo success-rate "$CANARY")" "$t_last")
check "$MODE: Argo success-rate of the canary ($sr) fails result[0] >= 0.99" \
	in_range "$sr" 0.6 0.95
sr=$(scalar "$(argo success-rate "$STABLE")" "$t_last")
check "$MODE: Argo success-rate of the stable subset ($sr) passes result[0] >= 0.99" \
	in_range "$sr" 0.99 1
p=$(scalar "$(argo p99-duration-ms "$CANARY")" "$t_last")
check "$MODE: Argo p99-duration-ms of the canary ($p) passes result[0] <= 500" \
	in_range "$p" 25 500

# kanary stats --json against the raw counters Prometheus scraped.
gw "$KANARY" --pin-dir "$PIN" stats --json >"$T/stats.json"
promql 'sum by (destination_version, response_code) (istio_requests_total{reporter="kanary"})' "$t_last" >"$T/raw.json"
check "$MODE: kanary stats --json counts what Prometheus scraped, per subset and code" \
	python3 - "$T/stats.json" "$T/raw.json" <<'PY'
import json, sys
stats = json.load(open(sys.argv[1]))
raw = {}
for r in json.load(open(sys.argv[2]))["data"]["result"]:
    m = r["metric"]
    raw[(m["destination_version"], int(m["response_code"]))] = int(float(r["value"][1]))
def codes(sub):
    return {int(k): int(v) for k, v in sub["codes"].items()}
got = {}
for vs in stats["virtualservices"]:
    for sub in vs["subsets"]:
        for code, n in codes(sub).items():
            if n:
                got[(sub["name"], code)] = got.get((sub["name"], code), 0) + n
if got != raw:
    sys.exit("stats %s != prometheus %s" % (got, raw))
PY

echo "# $(($(date +%s) - T0)) s"
summary
