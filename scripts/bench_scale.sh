#!/usr/bin/env bash
# kanary at scale: the "scale" part of `make bench`.
#
#   scripts/bench_scale.sh [--quick] [--out DIR]      (default DIR: build/bench)
#
#   1. conntrack holding 1M connections (2M kn_flows entries): the map's
#      memory, the time to fill it, and the per-packet cost of established
#      packets and SYNs against the same map nearly empty;
#   2. a config of 1000 routes / 10000 endpoints: apply, status and stats
#      wall time, per-packet cost of a SYN and an established packet, and
#      where apply's time goes (parse, merge, validate, compile, maps);
#   3. how long `kanary set-weight` takes to reach the data path, with the
#      lab's config and with the big one.
#
# Writes DIR/scale.md and DIR/scale.tsv (metric, value, unit, note) and
# prints the markdown. --quick uses tiny sizes (seconds): the smoke test.
#
# Everything runs in one network namespace made here (kn-scale-PID, veths
# only, 198.18.0.0/15 addresses only), with pins under /sys/fs/bpf/kn-scale-*
# and state under /run/kanary-scale-PID; all of it, and the temporary
# files, is removed on exit, also on failure or interrupt. No packet leaves
# the namespace: per-packet costs come from BPF_PROG_TEST_RUN.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KANARY=$ROOT/build/kanary
TOOL=$ROOT/build/bench/scale_tool
LAB_DIR=${KANARY_LAB_DIR:-$ROOT/examples/lab}
OUT=$ROOT/build/bench
quick=0

usage() { # EXIT_CODE
	sed -n '4,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit "$1"
}
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--out)
		[ $# -ge 2 ] || usage 2
		OUT=$2
		shift
		;;
	-h | --help) usage 0 ;;
	*) usage 2 ;;
	esac
	shift
done

if [ "$quick" = 1 ]; then
	FLOWS=10000 MAP_ENTRIES=32768
	ROUTES=10 EPS=5 # endpoints per subset: 2 * ROUTES * EPS endpoints
	APPLY_REPS=3 STAT_REPS=3 SW_LAB=3 SW_BIG=3
	HOT=20000 WARM=2000 COLD=5000 SYN=1000 ROUNDS=2
	SCALING=""
else
	FLOWS=1000000 MAP_ENTRIES=2097152
	ROUTES=1000 EPS=5
	APPLY_REPS=3 STAT_REPS=3 SW_LAB=20 SW_BIG=5
	HOT=200000 WARM=20000 COLD=100000 SYN=10000 ROUNDS=5
	SCALING="100 250 500"
fi
FALLBACK_ROUTES=100 # when the big apply takes more than APPLY_LIMIT_MS
APPLY_LIMIT_MS=60000
VIP=198.18.0.1

t_start=$(date +%s)
say() { echo "bench_scale: $*" >&2; }
die() {
	echo "bench_scale: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (BPF, namespaces)"
for f in gateway.yaml service.yaml destinationrule.yaml workloadentries.yaml \
	virtualservice-weight-70.yaml; do
	[ -r "$LAB_DIR/$f" ] || die "no $LAB_DIR/$f (set KANARY_LAB_DIR)"
done
LAB_YAML=("$LAB_DIR/gateway.yaml" "$LAB_DIR/service.yaml"
	"$LAB_DIR/destinationrule.yaml" "$LAB_DIR/workloadentries.yaml"
	"$LAB_DIR/virtualservice-weight-70.yaml")
LAB_FILES=() LAB_CONFIG=() # as kanary apply and scale_tool take them
for f in "${LAB_YAML[@]}"; do
	LAB_FILES+=(-f "$f")
	LAB_CONFIG+=(--config "$f")
done

# The tools: the Makefile's rule, or the same command by hand.
if ! make -s -C "$ROOT" build/kanary build/bench/scale_tool >&2 2>/dev/null; then
	make -s -C "$ROOT" build/kanary >&2
	mkdir -p "$ROOT/build/bench"
	(cd "$ROOT" && gcc -O2 -g -Wall -Wextra -Wno-unused-parameter -std=gnu11 \
		-Iinclude -Iuser -Ibuild -Itests/bpf tests/bench/scale_tool.c \
		tests/bpf/pkt.c build/libkanary.a -lbpf -lelf -lz -lyaml \
		-o build/bench/scale_tool)
fi

# ---------------------------------------------------------------- setup

ID=$$
NS=kn-scale-$ID
PIN1=/sys/fs/bpf/kn-scale-$ID-flows
PIN2=/sys/fs/bpf/kn-scale-$ID
export KANARY_STATE_ROOT=/run/kanary-scale-$ID
made_ns=0 TMP=
for p in "/run/netns/$NS" "$PIN1" "$PIN2" "$KANARY_STATE_ROOT"; do
	[ ! -e "$p" ] || die "$p already exists"
done

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [ "$made_ns" = 1 ]; then
		for pin in "$PIN1" "$PIN2"; do
			[ -e "$pin" ] || continue
			nsenter --net="/run/netns/$NS" "$KANARY" unload --pin-dir "$pin" \
				>/dev/null 2>&1
			rm -rf "$pin"
		done
		ip netns del "$NS" 2>/dev/null ||
			echo "bench_scale: warning: could not delete namespace $NS" >&2
	fi
	rm -rf "$KANARY_STATE_ROOT"
	[ -z "$TMP" ] || rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP=$(mktemp -d /tmp/kanary-scale.XXXXXX)
TSV=$TMP/scale.tsv
: >"$TSV"

nsx() { nsenter --net="/run/netns/$NS" "$@"; }
tool() { nsx "$TOOL" "$@"; }
k1() { nsx "$KANARY" --pin-dir "$PIN1" "$@"; }
k2() { nsx "$KANARY" --pin-dir "$PIN2" "$@"; }
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$TSV"; }

# The gateway: c0 toward the client (198.18.0.1 is the VIP), e1-e3 toward
# the lab's endpoints, and the big config's endpoints (198.19.0.0/16)
# behind 198.18.1.2. Neighbours are permanent, so the FIB answers the data
# path (and SYNs take the redirect path) without any traffic.
ip netns add "$NS"
made_ns=1
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
	net.ipv6.conf.default.disable_ipv6=1 net.ipv4.ip_forward=1
ip -n "$NS" link set lo up
ip -n "$NS" link add c0 type veth peer name c0p
ip -n "$NS" addr add 198.18.0.1/24 dev c0
ip -n "$NS" link set c0 up
ip -n "$NS" link set c0p up
ip -n "$NS" neigh add 198.18.0.2 lladdr 02:00:00:00:00:02 dev c0 nud permanent
for i in 1 2 3; do
	ip -n "$NS" link add "e$i" type veth peer name "e${i}p"
	ip -n "$NS" addr add "198.18.$i.1/24" dev "e$i"
	ip -n "$NS" link set "e$i" up
	ip -n "$NS" link set "e${i}p" up
	ip -n "$NS" neigh add "198.18.$i.2" lladdr "02:00:00:00:0$i:02" dev "e$i" nud permanent
done
ip -n "$NS" route add 198.19.0.0/16 via 198.18.1.2 dev e1
# xdp-generic: scale_tool runs the attached XDP program (BPF_PROG_TEST_RUN)
# to see when set-weight reaches the data path; --mode xdp would refuse
# these veths (their peers run no XDP) and auto would pick tc.
IFACES=(--mode xdp-generic --iface c0 --iface e1 --iface e2 --iface e3)

# kload PIN ARGS...: kanary load. Retried while it fails with EBUSY: unload
# unpins the XDP links, and the kernel frees a bpffs inode (and so detaches
# the link) only after an RCU grace period, so a load right after an unload
# can still find the old program attached. Counted in LOAD_RETRIES.
LOAD_RETRIES=0
kload() {
	local pin=$1 i
	shift
	for i in $(seq 50); do
		if nsx "$KANARY" --pin-dir "$pin" load "$@" 2>"$TMP/load.err"; then
			cat "$TMP/load.err" >&2
			return 0
		fi
		grep -q 'Device or resource busy' "$TMP/load.err" || break
		LOAD_RETRIES=$((LOAD_RETRIES + 1))
		sleep 0.1
	done
	cat "$TMP/load.err" >&2
	die "kanary load failed"
}

# ms_of CMD...: wall time of one run, in ms (scale_tool's clock).
ms_of() { tool time --reps 1 -- "$@" | cut -d' ' -f1; }
median() { tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { tr ' ' '\n' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "min %s, max %s", lo, hi }'; }

# time_cmd METRIC REPS NOTE CMD...: median wall time of a command.
time_cmd() {
	local metric=$1 reps=$2 note=$3 m out
	shift 3
	out=$(tool time --reps "$reps" -- "$@")
	read -r -a m <<<"$out"
	row "$metric" "${m[0]}" ms "$note, median of $reps (min ${m[1]}, max ${m[2]})"
}

# gen_config DIR ROUTES EPS: ROUTES Gateways (one port each, 10000 + i),
# Services, DestinationRules (stable, canary) and VirtualServices (70/30),
# and 2 * ROUTES * EPS WorkloadEntries in 198.19.0.0/16. One Gateway per
# VirtualService: kanary binds one VirtualService per Gateway.
gen_config() {
	local dir=$1
	mkdir -p "$dir"
	awk -v R="$2" -v K="$3" -v dir="$dir" 'BEGIN {
	gw = dir "/1-gateways.yaml"; sv = dir "/2-services.yaml"
	dr = dir "/3-destinationrules.yaml"; we = dir "/4-workloadentries.yaml"
	vs = dir "/5-virtualservices.yaml"; e = 0
	for (i = 0; i < R; i++) {
		printf "---\napiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata:\n  name: gw-%d\nspec:\n  selector:\n    istio: ingressgateway\n  servers:\n  - port:\n      number: %d\n      name: http-%d\n      protocol: HTTP\n    hosts:\n    - \"*\"\n", i, 10000 + i, i > gw
		printf "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-%d\n  namespace: default\nspec:\n  ports:\n  - port: 8501\n    name: http\n  selector:\n    app: app-%d\n", i, i > sv
		printf "---\napiVersion: networking.istio.io/v1beta1\nkind: DestinationRule\nmetadata:\n  name: dr-%d\nspec:\n  host: svc-%d\n  subsets:\n  - name: stable\n    labels:\n      version: stable\n  - name: canary\n    labels:\n      version: canary\n", i, i > dr
		printf "---\napiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: vs-%d\nspec:\n  hosts:\n  - \"*\"\n  gateways:\n  - gw-%d\n  http:\n  - route:\n    - destination:\n        host: svc-%d\n        subset: stable\n        port:\n          number: 8501\n      weight: 70\n    - destination:\n        host: svc-%d\n        subset: canary\n        port:\n          number: 8501\n      weight: 30\n", i, i, i, i > vs
		for (s = 0; s < 2; s++)
			for (k = 0; k < K; k++) {
				e++
				printf "---\napiVersion: networking.istio.io/v1beta1\nkind: WorkloadEntry\nmetadata:\n  name: we-%d-%s-%d\nspec:\n  address: 198.19.%d.%d\n  labels:\n    app: app-%d\n    version: %s\n  ports:\n    http: 8501\n", i, s ? "canary" : "stable", k, int(e / 256), e % 256, i, s ? "canary" : "stable" > we
			}
	}
}'
}
config_files() { # DIR: the -f arguments, in the lab's order
	local f
	for f in "$1"/[1-5]-*.yaml; do printf -- '-f\n%s\n' "$f"; done
}

# fresh_apply REPS FILES...: unload, load, apply, REPS times; the times (ms)
# go to APPLY_TIMES. Stops early, with APPLY_LIMITED=1, when one apply
# takes more than APPLY_LIMIT_MS (it is killed at three times that).
fresh_apply() {
	local reps=$1 t rc
	shift
	APPLY_TIMES=() APPLY_LIMITED=0
	for _ in $(seq "$reps"); do
		k2 unload >/dev/null 2>&1 || true
		kload "$PIN2" "${IFACES[@]}" --vip "$VIP"
		rc=0
		t=$(ms_of timeout $((APPLY_LIMIT_MS * 3 / 1000)) "$KANARY" \
			--pin-dir "$PIN2" apply "$@") || rc=$?
		if [ "$rc" = 124 ]; then
			APPLY_TIMES+=(">$((APPLY_LIMIT_MS * 3))") APPLY_LIMITED=1
			return 0
		fi
		[ "$rc" = 0 ] || die "kanary apply failed (exit $rc)"
		APPLY_TIMES+=("$t")
		if awk -v t="$t" -v l="$APPLY_LIMIT_MS" 'BEGIN { exit !(t > l) }'; then
			APPLY_LIMITED=1
			return 0
		fi
	done
}

# ---------------------------------------------------------------- 1. flows

say "1/3: conntrack with $FLOWS connections (kn_flows of $MAP_ENTRIES entries)"
t=$(ms_of "$KANARY" --pin-dir "$PIN1" load "${IFACES[@]}" --vip "$VIP" --flows "$MAP_ENTRIES")
row flows.load_time "$t" ms "kanary load --flows $MAP_ENTRIES (kn_flows is preallocated at load)"
k1 apply "${LAB_FILES[@]}" >&2
tool flows --pin-dir "$PIN1" --iface c0 --out-iface e1 --vip "$VIP" --port 80 \
	--flows "$FLOWS" --hot-repeat "$HOT" --warm "$WARM" --cold "$COLD" \
	--syn "$SYN" --rounds "$ROUNDS" "${LAB_CONFIG[@]}" >>"$TSV"
if command -v bpftool >/dev/null; then
	mem=$(bpftool map show pinned "$PIN1/kn_flows" | grep -o 'memlock [0-9]*B' | tr -dc 0-9)
	[ -z "$mem" ] || row flows.map_memory_bpftool "$mem" bytes "bpftool map show: bytes_memlock of kn_flows"
fi
time_cmd flows.status_time "$STAT_REPS" \
	"kanary status with the map full (it counts entries one bpf_map_get_next_key at a time)" \
	"$KANARY" --pin-dir "$PIN1" status
time_cmd flows.stats_time "$STAT_REPS" "kanary stats with the map full" \
	"$KANARY" --pin-dir "$PIN1" stats
k1 unload >&2

# ---------------------------------------------------------------- 2, 3: the lab

say "2/3: the lab's config (3 endpoints)"
fresh_apply "$APPLY_REPS" "${LAB_FILES[@]}"
row config.lab.apply "$(echo "${APPLY_TIMES[*]}" | median)" ms \
	"kanary apply of the lab's 5 files on a fresh load, median of ${#APPLY_TIMES[@]} ($(echo "${APPLY_TIMES[*]}" | minmax))"
# SYNs and established packets under the lab's config, in rounds
# interleaved with a private, unpinned copy of the same BPF object holding
# the same config: the A/A control of the comparison made below.
tool pkt --pin-dir "$PIN2" --iface c0 --vip "$VIP" --ports 80-80 --syn "$SYN" \
	--rounds "$ROUNDS" --prefix config.lab "${LAB_CONFIG[@]}" --base-ports 80-80 \
	--base-prefix control.lab_private --ratio-prefix control.aa >>"$TSV"
time_cmd config.lab.status "$STAT_REPS" "kanary status" "$KANARY" --pin-dir "$PIN2" status
time_cmd config.lab.stats "$STAT_REPS" "kanary stats" "$KANARY" --pin-dir "$PIN2" stats
say "3/3: set-weight, lab config ($SW_LAB times)"
tool setweight --pin-dir "$PIN2" --kanary "$KANARY" --vs image-classifier \
	--subsets resnet50,resnet101 --vip "$VIP" --port 80 --reps "$SW_LAB" \
	--prefix setweight.lab >>"$TSV"

# ---------------------------------------------------------------- 2, 3: big

routes=$ROUTES
gen_config "$TMP/big" "$routes" "$EPS"
mapfile -t BIG < <(config_files "$TMP/big")
say "2/3: $routes routes / $((2 * routes * EPS)) endpoints: apply x$APPLY_REPS"
fresh_apply "$APPLY_REPS" "${BIG[@]}"
if [ "$APPLY_LIMITED" = 1 ]; then
	row config.big.apply_stopped "${APPLY_TIMES[-1]}" ms \
		"apply of $routes routes / $((2 * routes * EPS)) endpoints took more than $APPLY_LIMIT_MS ms: stopped, continuing with $FALLBACK_ROUTES routes"
	say "apply took more than $APPLY_LIMIT_MS ms; falling back to $FALLBACK_ROUTES routes"
	routes=$FALLBACK_ROUTES
	rm -rf "$TMP/big"
	gen_config "$TMP/big" "$routes" "$EPS"
	mapfile -t BIG < <(config_files "$TMP/big")
	fresh_apply "$APPLY_REPS" "${BIG[@]}"
	[ "$APPLY_LIMITED" = 0 ] || die "even $routes routes take more than $APPLY_LIMIT_MS ms"
fi
n_eps=$((2 * routes * EPS))
row config.big.routes "$routes" routes \
	"$routes Gateways (1 port each), Services, DestinationRules (2 subsets), VirtualServices (70/30)"
row config.big.endpoints "$n_eps" endpoints "WorkloadEntries, $EPS per subset, in 198.19.0.0/16"
row config.big.apply "$(echo "${APPLY_TIMES[*]}" | median)" ms \
	"kanary apply on a fresh load, median of ${#APPLY_TIMES[@]} ($(echo "${APPLY_TIMES[*]}" | minmax))"
time_cmd config.big.reapply 1 "the same files applied again over the applied config" \
	"$KANARY" --pin-dir "$PIN2" apply "${BIG[@]}"
# The same under the big config, interleaved with the private copy that
# holds the lab's config; the ratio is corrected by the A/A control.
tool pkt --pin-dir "$PIN2" --iface c0 --vip "$VIP" \
	--ports "10000-$((10000 + routes - 1))" --syn "$SYN" --rounds "$ROUNDS" \
	--prefix config.big "${LAB_CONFIG[@]}" --base-ports 80-80 \
	--base-prefix control.lab_private_big --ratio-prefix control.raw_big >>"$TSV"
for k in syn est; do
	awk -F'\t' -v k="$k" '$1 == "control.raw_big." k "_ratio" { raw = $2 }
		$1 == "control.aa." k "_ratio" { aa = $2 }
		END { printf "config.big.%s_ratio\t%.2f\tx\tbig config / lab config, %s medians: %.2f raw (interleaved rounds against a private copy holding the lab config), divided by the A/A control %.2f (the same with both holding the lab config)\n", k, raw / aa, toupper(k), raw, aa }' "$TSV" >>"$TSV.add"
	# And sequentially, the pinned kanary against itself: the lab's config
	# measured earlier, the big one now (no cross-instance cache effects,
	# but whatever drifted in between).
	awk -F'\t' -v k="$k" '$1 == "config.big." k { big = $2 } $1 == "config.lab." k { lab = $2 }
		END { printf "config.big.%s_ratio_seq\t%.2f\tx\tbig config / lab config, %s medians of the pinned kanary, measured one after the other (%s / %s ns)\n", k, big / lab, toupper(k), big, lab }' "$TSV" >>"$TSV.add"
	cat "$TSV.add" >>"$TSV"
	rm -f "$TSV.add"
done
time_cmd config.big.status "$STAT_REPS" "kanary status" "$KANARY" --pin-dir "$PIN2" status
time_cmd config.big.stats "$STAT_REPS" "kanary stats" "$KANARY" --pin-dir "$PIN2" stats

say "2/3: where apply's time goes"
for r in $SCALING; do
	[ "$r" -lt "$routes" ] || continue
	gen_config "$TMP/s$r" "$r" "$EPS"
	tool phases --prefix "phase.r$r" "$TMP/s$r"/[1-5]-*.yaml >>"$TSV"
	rm -rf "$TMP/s$r"
done
# The big one with the map writes too (an apply of what is applied).
tool phases --pin-dir "$PIN2" --prefix "phase.r$routes" "$TMP/big"/[1-5]-*.yaml >>"$TSV"

vs=vs-$((routes / 2))
say "3/3: set-weight $vs, $routes routes ($SW_BIG times)"
tool setweight --pin-dir "$PIN2" --kanary "$KANARY" --vs "$vs" \
	--subsets stable,canary --vip "$VIP" --port $((10000 + routes / 2)) \
	--reps "$SW_BIG" --prefix setweight.big >>"$TSV"
k2 unload >&2

[ "$LOAD_RETRIES" = 0 ] || row control.load_ebusy_retries "$LOAD_RETRIES" retries \
	"kanary load right after kanary unload failed with EBUSY (old XDP link not yet released) and was retried after 0.1 s"
t_total=$(($(date +%s) - t_start))

# ---------------------------------------------------------------- report

table() { # PREFIX...: the rows whose metric starts with one of them
	echo "| metric | value | unit | note |"
	echo "| --- | ---: | --- | --- |"
	local p
	for p in "$@"; do
		awk -F'\t' -v p="$p" 'index($1, p) == 1 {
			gsub(/\|/, "\\|", $4); printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$TSV"
	done
}

phase_table() { # one row per size: parse ... reread, destrule_for
	awk -F'\t' '$1 ~ /^phase\.r[0-9]+\./ {
		split($1, a, "."); r = substr(a[2], 2) + 0
		if (!(r in seen)) { seen[r] = 1; sizes[++n] = r }
		v[r, a[3]] = $2
	} END {
		print "| routes | endpoints | parse | merge | validate | compile | map writes | save | re-read | validate+compile | destrule_for |"
		print "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
			if (sizes[j] < sizes[i]) { t = sizes[i]; sizes[i] = sizes[j]; sizes[j] = t }
		for (i = 1; i <= n; i++) {
			r = sizes[i]
			printf "| %d | %d | %s ms | %s ms | %s ms | %s ms | %s | %s ms | %s ms | %.1f ms | %s us |\n",
				r, r * 2 * eps, v[r, "parse"], v[r, "merge"], v[r, "validate"],
				v[r, "compile"], ((r, "maps") in v) ? v[r, "maps"] " ms" : "-",
				v[r, "save"], v[r, "reread"], v[r, "validate"] + v[r, "compile"],
				v[r, "destrule_for"]
		}
	}' eps="$EPS" "$TSV"
}

quick_note=
[ "$quick" = 0 ] || quick_note=" (--quick: smoke sizes, not for reading)"
mkdir -p "$OUT"
{
	echo "### Scale: conntrack, config size, set-weight latency"
	echo
	echo "Sizes: $FLOWS connections in a $MAP_ENTRIES-entry kn_flows; $routes routes / $n_eps endpoints.$quick_note"
	echo "Kernel $(uname -r), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')); the run took ${t_total} s."
	echo "Per-packet figures are BPF_PROG_TEST_RUN's in-kernel clock; repeat=1 figures include the fixed cost shown as flows.floor_single."
	echo
	echo "#### 1. Conntrack with $FLOWS connections"
	echo
	table flows.
	echo
	echo "#### 2. Config with $routes routes / $n_eps endpoints (and the lab's, for comparison)"
	echo
	table config.lab. config.big.
	echo
	echo "Where apply's time goes (in-process, first apply; destrule_for is one kn_config_destrule_for call):"
	echo
	phase_table
	echo
	echo "#### 3. set-weight until the data path follows"
	echo
	table setweight.
	echo
	echo "#### Controls (raw comparisons and A/A checks behind the ratios above)"
	echo
	table control.
} >"$TMP/scale.md"
{
	printf 'metric\tvalue\tunit\tnote\n'
	cat "$TSV"
} >"$TMP/scale.tsv.out"
mv "$TMP/scale.md" "$OUT/scale.md"
mv "$TMP/scale.tsv.out" "$OUT/scale.tsv"
cat "$OUT/scale.md"
say "wrote $OUT/scale.md and $OUT/scale.tsv"
