#!/usr/bin/env bash
# HTTP through the lab, side by side: wrk from the client namespace against
#
#   direct         the client talks to ep1 (198.18.1.2:8501) itself; the
#                  gateway only forwards with its kernel (no kanary): the limit
#   kanary-xdp     kanary's L4 path: loaded in xdp mode with the weight
#                  VirtualService, client -> VIP 198.18.0.1:80
#   kanary-tc      the same in tc mode
#   kanary-l7-xdp  kanary's L7 path (delayed binding): xdp mode with the lab's
#                  focused-routing VirtualService (header user-group: canary
#                  -> resnet101, the rest -> resnet50) applied instead
#   kanary-l7-tc   the same in tc mode
#   nginx          nginx reverse proxy on the gateway, VIP:80
#   haproxy        HAProxy the same
#   kanary-xdp-nopeers  (only when --cases names it) kanary-xdp without the
#                  XDP_PASS on the client and endpoint ends: how the L4 xdp
#                  case was measured before the L7 path needed them
#
# Every request carries "user-group: stable" (wrk and the set-up checks, every
# case): the L7 cases then read a header that does not match the canary rule
# and take the default route, resnet50, as the L4 weight VirtualService does.
# The lab is up with --full-checksums (TX checksum offload off on the
# client and endpoint ends, every case alike): frames reach the gateway
# with full checksums, as from a NIC, where kanary's XDP path is the one
# that runs. On veths left as the kernel makes them, XDP would hand every
# packet to tc (partial checksums; see README) and the xdp cases would
# measure tc behind an idle XDP program.
# In xdp modes "lab.sh xdp-peers on" puts a bare XDP_PASS on the client and
# endpoint ends before kanary loads and "off" after it unloads (XDP_TX out
# of c0, the L7 path's SYN-ACK, is lost on veth without it).
#
# --backends one (default): every case ends on ep1 alone, as direct does
#   (kanary: ep1 the only resnet50 endpoint, L4 the lab's 100/0, L7 the
#   default route; the proxies: ep1 their only upstream), so that the cases
#   differ only by what the gateway does. On 2 cores, three busy endpoint
#   workers against direct's one would measure the scheduler, not the gateway.
# --backends split: the lab's 70/30 over ep1, ep2 (resnet50) and ep3
#   (resnet101); L7 with scripts/bench/virtualservice-focused-split.yaml
#   (focused routing whose default route is that 70/30); the proxies with
#   weights 35/35/30.
#
# each with keep-alive and with a new connection per request (wrk -H
# 'Connection: close'), in R rounds with the case order rotated every round;
# medians over rounds and per-round ratios.  The endpoints are nginx (one
# worker each, answering from memory), not the Python model server.
#
#   scripts/bench_http.sh [--quick] [--out DIR] [--rounds N] [--duration S]
#                         [--connections N] [--proxy-workers N] [--cases A,B]
#                         [--backends one|split] [--flush-timewait]
#
# --flush-timewait (a diagnostic, off by default): before every run, destroy
#   the endpoints' TIME_WAIT sockets (ss -K), so that no run inherits the
#   TIME_WAITs of an earlier one on the SNAT ports a new kanary load reuses.
#
# Writes DIR/http.tsv, http.md, http.png, http-rounds.tsv (every run) and
# http-raw/ (wrk's own output, and after a kanary run the status it left:
# both conntrack tables, every global counter); prints the table
# (markdown) on stdout, progress on stderr.  --quick: 1 round of 1 s
# runs (the smoke test).
# Needs root.  Everything it starts (lab namespaces, servers, proxies, kanary,
# pins, state, sysctl, XDP on the lab's peers) is undone on exit, also on
# failure or Ctrl-C.
# Exit status: 0, or 1 when a case could not be set up, a wrk run failed, or
# an L7 run had a socket error, a non-2xx answer, a retransmission timeout
# at the client, a request still unanswered 1.5 s after wrk stopped (wrk
# reports neither), a request on the wrong endpoint or rule, or did not go
# through the L7 path at all; for the other cases socket errors and non-2xx
# answers are flagged, not fatal.
# docs/bench-http.md explains the method and the numbers.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/scripts/bench
LAB=$ROOT/scripts/lab.sh
LAB_DIR=${KANARY_LAB_DIR:-$ROOT/examples/lab}
KANARY=${KANARY:-$ROOT/build/kanary}
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}

OUT=$ROOT/build/bench
ROUNDS=5 DURATION=5
THREADS=1 CONNS=32 TIMEOUT=2s
PROXY_WORKERS=1
BACKENDS=one
FLUSH_TW=0
quick=0

usage() { # EXIT_STATUS: 0 for --help (stdout), 2 for a usage error (stderr)
	local text
	text=$(sed -n '/^#   scripts\/bench_http.sh /,/--flush-timewait\]$/s/^# \{0,3\}//p' \
		"${BASH_SOURCE[0]}")
	if [ "$1" = 0 ]; then echo "$text"; else echo "$text" >&2; fi
	exit "$1"
}
die() {
	echo "bench_http: $*" >&2
	exit 1
}
say() { echo "bench_http: $*" >&2; }

posint() {
	[[ $2 =~ ^[1-9][0-9]{0,5}$ ]] && return 0
	echo "bench_http: $1 needs a positive integer, not '$2'" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--flush-timewait) FLUSH_TW=1 ;;
	--out | --rounds | --duration | --connections | --proxy-workers | --cases | --backends)
		[ $# -ge 2 ] || die "$1 needs a value"
		case $1 in
		--out) OUT=$2 ;;
		--rounds) posint "$1" "$2" && ROUNDS_SET=$2 ;;
		--duration) posint "$1" "$2" && DURATION_SET=$2 ;;
		--connections) posint "$1" "$2" && CONNS=$2 ;;
		--proxy-workers) posint "$1" "$2" && PROXY_WORKERS=$2 ;;
		--cases) IFS=, read -r -a CASES_SET <<<"$2" ;;
		--backends)
			case $2 in one | split) BACKENDS=$2 ;; *)
				echo "bench_http: --backends is one or split" >&2
				exit 2
				;;
			esac
			;;
		esac
		shift
		;;
	-h | --help) usage 0 ;;
	*) echo "bench_http: unknown argument '$1'" >&2 && usage 2 ;;
	esac
	shift
done
if [ "$quick" = 1 ]; then ROUNDS=1 DURATION=1; fi
ROUNDS=${ROUNDS_SET:-$ROUNDS}
DURATION=${DURATION_SET:-$DURATION}

[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, BPF)"
for t in wrk nginx haproxy gnuplot bpftool jq curl ip nsenter; do
	command -v "$t" >/dev/null || die "$t not found (scripts/deps.sh installs it)"
done
[ -n "$PYTHON" ] || die "python3 not found"
if [ ! -x "$KANARY" ]; then
	say "building kanary"
	make -C "$ROOT" all >&2 || die "make failed"
fi
for f in gateway service destinationrule virtualservice-weight-70 \
	virtualservice-weight-100 virtualservice-focused-routing \
	workloadentries; do
	[ -r "$LAB_DIR/$f.yaml" ] || die "cannot read $LAB_DIR/$f.yaml"
done

# ------------------------------------------------------------ names, cleanup

PREFIX=kn-bench-$$
PIN=/sys/fs/bpf/kanary-bench-$$
export KANARY_STATE_ROOT=/run/kanary-bench-$$
TMP=$(mktemp -d /tmp/kanary-bench-http.XXXXXX)
# One kanary binary for the whole run (its BPF object is built in), even if
# the tree is rebuilt meanwhile; its identity goes into the parameters.
cp "$KANARY" "$TMP/kanary" || {
	rm -rf "$TMP"
	die "cannot copy $KANARY"
}
KANARY_SHA=$(sha256sum "$KANARY" | cut -c1-12)
KANARY_SRC=$KANARY
KANARY=$TMP/kanary
TREE="n/a"  # of the tree's own build only: which sources it was built from
if [ "$KANARY_SRC" = "$ROOT/build/kanary" ]; then
	TREE=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ "$TREE" != unknown ] && ! git -C "$ROOT" diff --quiet HEAD -- bpf include user 2>/dev/null; then
		TREE="$TREE+uncommitted"
	fi
fi
VIP=198.18.0.1
EP_ADDR=([1]=198.18.1.2 [2]=198.18.2.2 [3]=198.18.3.2)
EP_VERSION=([1]=resnet50 [2]=resnet50 [3]=resnet101)
URL_PATH=/v1/models/image_classifier
# Sent with every request of every case (wrk and curl): the L7 cases read it,
# it does not match the canary rule (exact: canary), so they take the default
# route like the L4 weight VirtualService; the other cases ignore it, and all
# get byte-identical requests.
REQ_HDR=(-H 'user-group: stable')
OLD_BPF_STATS=$(sysctl -n kernel.bpf_stats_enabled)
bpf_stats_changed=0
lab_is_up=0
kanary_loaded=0
xdp_peers=0
declare -A PROC_PID=() # name -> pid of a server or proxy we started
failed=0
l7_failures=()

# stop_proc NAME: TERM (nginx's master stops its workers, then exits), wait
# up to 3 s, then KILL it and its children of that moment.  Only our own
# pids, which are our shell's children: "wait" reaps them.
stop_proc() {
	local name=$1 pid kids i
	pid=${PROC_PID[$name]:-}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kids=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
		# shellcheck disable=SC2086
		kill -KILL "$pid" $kids 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	unset "PROC_PID[$name]"
}

# lab.sh xdp-peers: a bare XDP_PASS on the client and endpoint ends, around
# every kanary xdp case (on before the load, off after the unload), so that
# the other cases run on the lab as it was.
xdp_peers_on() {
	xdp_peers=1
	bash "$LAB" xdp-peers "$PREFIX" on
}
xdp_peers_off() {
	[ "$xdp_peers" = 1 ] || return 0
	bash "$LAB" xdp-peers "$PREFIX" off || say "warning: xdp-peers off failed"
	xdp_peers=0
}

kanary_unload() {
	[ "$kanary_loaded" = 1 ] || return 0
	gw "$KANARY" --pin-dir "$PIN" unload >/dev/null 2>&1 ||
		say "warning: kanary unload failed"
	rm -rf "$PIN"
	kanary_loaded=0
}

bpf_stats_on() {
	if [ "$(sysctl -n kernel.bpf_stats_enabled)" != 1 ]; then
		sysctl -qw kernel.bpf_stats_enabled=1
		bpf_stats_changed=1
	fi
}
bpf_stats_restore() {
	[ "$bpf_stats_changed" = 1 ] || return 0
	sysctl -qw kernel.bpf_stats_enabled="$OLD_BPF_STATS" || true
	bpf_stats_changed=0
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	local name
	for name in "${!PROC_PID[@]}"; do stop_proc "$name"; done
	kanary_unload
	[ "$lab_is_up" = 1 ] && xdp_peers_off
	bpf_stats_restore
	rm -rf "$PIN" "$KANARY_STATE_ROOT"
	[ "$lab_is_up" = 1 ] && bash "$LAB" down "$PREFIX"
	if [ "$rc" != 0 ] && [ -d "$TMP" ]; then
		mkdir -p "$OUT/http-logs" &&
			(cd "$TMP" && find . -name '*.log' -exec cp --parents {} "$OUT/http-logs" \;) &&
			say "logs kept in $OUT/http-logs"
	fi
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

gw() { nsenter --net="/run/netns/$PREFIX-gw" "$@"; }
client() { nsenter --net="/run/netns/$PREFIX-client" "$@"; }

# ------------------------------------------------------------ servers

render() { # TEMPLATE OUT KEY=VALUE...
	local in=$1 out=$2 kv args=()
	shift 2
	for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
	sed "${args[@]}" "$in" >"$out"
	! grep -q '@[A-Z_]*@' "$out" || die "unfilled field in $out"
	# A gateway proxy in --backends one: ep1 is its only upstream.
	if [ "$BACKENDS" = one ] && [[ $in == */gateway-* ]]; then
		sed -i '/198\.18\.[23]\.2:8501/d' "$out"
	fi
}

start_nginx() { # NAME NETNS CONF_TEMPLATE KEY=VALUE...
	local name=$1 ns=$2 tpl=$3 dir=$TMP/$1
	shift 3
	mkdir -p "$dir/tmp"
	render "$tpl" "$dir/nginx.conf" DIR="$dir" "$@"
	# "ip netns exec" execs nginx: $! is the master process.
	ip netns exec "$ns" nginx -q -c "$dir/nginx.conf" -p "$dir/" \
		-g 'daemon off;' </dev/null >>"$dir/stdout.log" 2>&1 &
	PROC_PID[$name]=$!
}

start_haproxy() { # NAME NETNS
	local name=$1 ns=$2 dir=$TMP/$1
	mkdir -p "$dir"
	render "$BENCH/gateway-haproxy.cfg.in" "$dir/haproxy.cfg" DIR="$dir" \
		VIP="$VIP" THREADS="$PROXY_WORKERS"
	ip netns exec "$ns" haproxy -db -f "$dir/haproxy.cfg" \
		</dev/null >>"$dir/stdout.log" 2>&1 &
	PROC_PID[$name]=$!
}

# wait_http NS URL NAME: until URL answers 200 with a model version (5 s).
wait_http() {
	local ns=$1 url=$2 name=$3 i body
	for i in $(seq 50); do
		body=$(nsenter --net="/run/netns/$ns" curl -s --max-time 1 "${REQ_HDR[@]}" "$url" 2>/dev/null) &&
			grep -q '"model_version":"resnet' <<<"$body" && return 0
		if [ -n "$name" ] && ! kill -0 "${PROC_PID[$name]}" 2>/dev/null; then
			say "$name exited; its logs:"
			tail -n 20 "$TMP/$name"/*.log >&2 2>/dev/null
			return 1
		fi
		sleep 0.1
	done
	say "$url did not answer from $ns within 5 s"
	return 1
}

ep_requests() { # I: requests served so far by endpoint I (this one included)
	ip netns exec "$PREFIX-ep$1" curl -s --max-time 2 \
		"http://${EP_ADDR[$1]}:8501/bench_status" |
		awk 'NR == 3 { n = $3 } END { print n + 0 }'
}

# ------------------------------------------------------------ gateway CPU

proc_ticks() { # PID...: utime+stime (+ cutime+cstime) of the processes
	local pid
	for pid in "$@"; do
		# fields after "(comm)": 12 utime, 13 stime, 14 cutime, 15 cstime
		sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null || echo "x x x x x x x x x x x 0 0 0 0"
	done | awk '{ t += $12 + $13 + $14 + $15 } END { print t + 0 }'
}

proxy_pids() { # NAME: the proxy's process and its children (nginx workers)
	local pid=${PROC_PID[$1]}
	echo "$pid"
	ps -o pid= --ppid "$pid" 2>/dev/null | awk '{ print $1 }' || true
}

kanary_prog_ids() {
	gw bpftool net show -j | jq -r '[.[0].xdp[]?.id, .[0].tc[]?.id] | unique | .[]'
}

bpf_ns_runs() { # -> "run_time_ns run_cnt" summed over the attached programs
	local id t=0 n=0 j
	for id in $(kanary_prog_ids); do
		j=$(bpftool prog show id "$id" --json)
		t=$((t + $(jq '.run_time_ns // 0' <<<"$j")))
		n=$((n + $(jq '.run_cnt // 0' <<<"$j")))
	done
	echo "$t $n"
}

# ------------------------------------------------------------ cases

CASES=(direct kanary-xdp kanary-tc kanary-l7-xdp kanary-l7-tc nginx haproxy)
OPTIONAL_CASES=(kanary-xdp-nopeers) # only when --cases names them
if [ -n "${CASES_SET+x}" ]; then
	for c in "${CASES_SET[@]}"; do
		[[ " ${CASES[*]} ${OPTIONAL_CASES[*]} " == *" $c "* ]] ||
			die "unknown case '$c' (${CASES[*]} ${OPTIONAL_CASES[*]})"
	done
	CASES=("${CASES_SET[@]}")
fi

# A kanary case's hook (xdp or tc), path (l4 or l7) and whether the lab's
# peers get their XDP_PASS.
kanary_hook() { case $1 in *-xdp | *-xdp-*) echo xdp ;; *) echo tc ;; esac; }
is_l7() { [[ $1 == kanary-l7-* ]]; }
wants_peers() { [ "$1" = kanary-xdp ] || [ "$1" = kanary-l7-xdp ]; }

for c in "${CASES[@]}"; do
	if wants_peers "$c" && [ ! -f "$ROOT/build/floor.bpf.o" ]; then
		say "building build/floor.bpf.o (lab.sh xdp-peers needs it)"
		make -C "$ROOT" all >&2 || die "make failed"
	fi
done

# What kanary is given: the lab's endpoints and 70/30, or (--backends one)
# the lab's 100/0 with ep1 as the only resnet50 endpoint.
endpoints_file() {
	if [ "$BACKENDS" = split ]; then
		echo "$LAB_DIR/workloadentries.yaml"
		return
	fi
	awk 'BEGIN { RS = "---\n"; ORS = "---\n" } !/198\.18\.2\.2/' \
		"$LAB_DIR/workloadentries.yaml" >"$TMP/endpoints-one.yaml"
	echo "$TMP/endpoints-one.yaml"
}
vs_file() { # CASE: the VirtualService it runs with
	if is_l7 "$1"; then
		# one: ep1 is resnet50's only endpoint, the default route's.
		# split: the default route is the L4 case's 70/30.
		if [ "$BACKENDS" = split ]; then
			echo "$BENCH/virtualservice-focused-split.yaml"
		else
			echo "$LAB_DIR/virtualservice-focused-routing.yaml"
		fi
	elif [ "$BACKENDS" = split ]; then
		echo "$LAB_DIR/virtualservice-weight-70.yaml"
	else
		echo "$LAB_DIR/virtualservice-weight-100.yaml"
	fi
}

case_url() {
	case $1 in
	direct) echo "http://${EP_ADDR[1]}:8501$URL_PATH" ;;
	*) echo "http://$VIP$URL_PATH" ;;
	esac
}

# l7_check CASE: header routing is in force: the canary header answers
# resnet101, the bench's header resnet50 (from ep1 with --backends one).
# Through the L7 path, before anything is measured.  A request that gets no
# answer within 2 s is tried again (up to 5 times), and every such request
# is an L7 failure of the run (exit 1 at the end); the case is only given up
# when a header never gets its answer.
l7_check() {
	local c=$1 url body want hdr i lost=0 ok
	url=$(case_url "$c")
	for hdr in canary stable; do
		want='"model_version":"resnet101"'
		[ "$hdr" = stable ] && want='"model_version":"resnet50"'
		[ "$hdr" = stable ] && [ "$BACKENDS" = one ] &&
			want="$want,\"served_by\":\"${EP_ADDR[1]}:8501\""
		ok=0
		for i in 1 2 3 4 5; do
			body=$(client curl -s --max-time 2 -H "user-group: $hdr" "$url" 2>&1) || true
			if grep -qF "$want" <<<"$body"; then
				ok=1
				break
			fi
			[ -z "$body" ] && lost=$((lost + 1))
			say "L7 check: 'user-group: $hdr' should answer $want, got: ${body:-nothing within 2 s}"
		done
		[ "$ok" = 1 ] || return 1
	done
	if [ "$lost" != 0 ]; then
		say "FAIL: round $r $c set-up check: $lost request(s) got no answer within 2 s"
		l7_failures+=("round $r $c set-up check: $lost request(s) through the L7 path got no answer within 2 s")
		failed=1
	fi
	return 0
}

case_up() {
	case $1 in
	direct) ;;
	kanary-*)
		if wants_peers "$1"; then
			xdp_peers_on || {
				say "lab.sh xdp-peers $PREFIX on failed"
				return 1
			}
		fi
		bpf_stats_on
		kanary_loaded=1
		if ! gw "$KANARY" --pin-dir "$PIN" load --mode "$(kanary_hook "$1")" --vip "$VIP" \
			--iface c0 --iface e1 --iface e2 --iface e3 >"$TMP/kanary-load.log" 2>&1 ||
			! gw "$KANARY" --pin-dir "$PIN" apply -f "$LAB_DIR/gateway.yaml" \
				-f "$LAB_DIR/service.yaml" -f "$LAB_DIR/destinationrule.yaml" \
				-f "$(endpoints_file)" \
				-f "$(vs_file "$1")" >>"$TMP/kanary-load.log" 2>&1; then
			cat "$TMP/kanary-load.log" >&2
			return 1
		fi
		[ -n "$(kanary_prog_ids)" ] || {
			say "kanary loaded but no program is attached in $PREFIX-gw"
			return 1
		}
		;;
	nginx)
		start_nginx gw-nginx "$PREFIX-gw" "$BENCH/gateway-nginx.conf.in" \
			VIP="$VIP" WORKERS="$PROXY_WORKERS"
		;;
	haproxy) start_haproxy gw-haproxy "$PREFIX-gw" ;;
	esac
	local name=
	case $1 in nginx) name=gw-nginx ;; haproxy) name=gw-haproxy ;; esac
	wait_http "$PREFIX-client" "$(case_url "$1")" "$name" || return 1
	if is_l7 "$1"; then l7_check "$1" || return 1; fi
}

case_down() {
	case $1 in
	kanary-*)
		kanary_unload
		xdp_peers_off
		bpf_stats_restore
		;;
	nginx) stop_proc gw-nginx ;;
	haproxy) stop_proc gw-haproxy ;;
	esac
}

cpu_mark() { # CASE -> a CPU reading: clock ticks, or "ns runs", or "na"
	case $1 in
	direct) echo na ;;
	kanary-*) bpf_ns_runs ;;
	nginx | haproxy)
		local pids
		mapfile -t pids < <(proxy_pids "gw-$1")
		proc_ticks "${pids[@]}"
		;;
	esac
}

# host_ticks -> "busy softirq" clock ticks of the whole machine (all CPUs,
# every process: ours and anyone else's).  busy = user nice system irq softirq.
host_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $8; exit }' /proc/stat
}

# counters NS NAME...: the namespace's SNMP counters (TcpExt.TCPSynRetrans,
# Tcp.RetransSegs, ...), one line, in the order asked.
counters() {
	local ns=$1
	shift
	# shellcheck disable=SC2016 # an awk program
	nsenter --net="/run/netns/$ns" awk -v want="$*" '
	$1 ~ /:$/ && !seen[$1]++ { for (i = 2; i <= NF; i++) name[$1, i] = $i; next }
	$1 ~ /:$/ { for (i = 2; i <= NF; i++) v[substr($1, 1, length($1) - 1) "." name[$1, i]] = $i }
	END { n = split(want, w, " "); for (i = 1; i <= n; i++) printf "%d ", v[w[i]]; print "" }
	' /proc/net/netstat /proc/net/snmp
}

# tcp_marks -> "SYN retransmissions by the client, SYNs the endpoints' TIME_WAIT
# sockets rejected (PAWS), segments the client retransmitted (SYNs included),
# the client's retransmission timeouts": connects that needed a second SYN,
# which wrk's latency (measured from the request write, after connect) does
# not show, and requests the client had to send again.  wrk reports neither:
# a connection whose request is never answered is no error to wrk (not even
# a timeout), it only lowers requests/s.
tcp_marks() {
	local cl paws=0 i a b c
	cl=$(counters "$PREFIX-client" TcpExt.TCPSynRetrans Tcp.RetransSegs TcpExt.TCPTimeouts)
	for i in 1 2 3; do
		paws=$((paws + $(counters "$PREFIX-ep$i" TcpExt.PAWSTimewait)))
	done
	read -r a b c <<<"$cl"
	echo "$a $paws $b $c"
}

# client_leftovers FILE -> sockets the client still has after wrk exited that
# hold data nobody acknowledged (FIN-WAIT-1 with a Send-Q: a request, or
# only the FIN of a connection closed before its request), counted once
# they had up to 1.5 s to drain (so that a connection wrk closed in the
# middle of its L7 set-up, which completes a moment later, is not counted;
# a hung one stays). Those sockets, as ss -tnoi shows them, go to FILE.
# Then every socket wrk left (except TIME-WAIT) is destroyed, so that the
# next run's counters are its own and not those of retransmissions from
# this one.
client_leftovers() {
	local n i
	for i in $(seq 15); do
		n=$(client ss -Htn state fin-wait-1 | awk '$2 > 0 { n++ } END { print n + 0 }')
		[ "$n" = 0 ] && break
		sleep 0.1
	done
	echo "$n"
	[ "$n" = 0 ] || client ss -tnoi state fin-wait-1 >"$1" 2>&1 || true
	client ss -K -Htn state connected exclude time-wait >/dev/null 2>&1 || true
}

# l7_marks CASE -> the L7 path's counters, for a kanary case (0 for L4):
# "SYNs answered by the gateway, request heads replayed, heads answered
# 400 (not HTTP/1.x), heads answered 404 (no rule), segments dropped before
# the splice (out of order, or past the head), segments with no half-open
# connection, connections the canary rule (http[0]) took, and the default
# rule (http[1])"; "na" for the other cases. With a FILE second, the
# status it read (both conntrack tables, every global counter) goes there.
l7_marks() {
	case $1 in kanary-*) ;; *)
		echo na
		return
		;;
	esac
	local st rules
	st=$(gw "$KANARY" --pin-dir "$PIN" status 2>/dev/null) || st=
	# kept beside wrk's output: conntrack tables and global counters
	[ -z "${2:-}" ] || printf "%s\n" "$st" >"$2"
	rules=$(gw "$KANARY" --pin-dir "$PIN" stats --json 2>/dev/null |
		jq -r '[.virtualservices[]? | select(.name == "image-classifier") | .rules[]?
			| {(.name): .connections}] | add // {} | "\(.["http[0]"] // 0) \(.["http[1]"] // 0)"' \
			2>/dev/null) || rules="0 0"
	awk -v rules="${rules:-0 0}" '
	/L7: SYNs answered/ { syn = $1 }
	/L7: request heads replayed/ { rep = $1 }
	/L7: answered 400/ { def = $1 }
	/L7: answered 404/ { rst = $1 }
	/L7: segments out of order/ { early = $1 }
	/L7: segments for an L7 VIP with no half-open/ { nohalf = $1 }
	END { printf "%d %d %d %d %d %d %s\n", syn, rep, def, rst, early, nohalf, rules }
	' <<<"$st"
}

HZ=$(getconf CLK_TCK)
ROUNDS_TSV=$TMP/rounds.tsv
COLS=(round case mode rps requests p50_ms p99_ms cpu_ms_per_1k errors
	socket_errors non2xx ep1 ep2 ep3 bpf_runs_per_req bpf_ns_per_run
	host_cpu_ms_per_1k host_softirq_ms_per_1k host_busy_pct
	client_syn_retrans ep_paws_timewait
	l7_syn l7_replay l7_answer_400 l7_answer_404 l7_early_drop l7_no_halfopen
	rule_canary rule_default client_data_retrans client_rto client_stuck)
(IFS=$'\t' && echo "${COLS[*]}") >"$ROUNDS_TSV"

# run_wrk ROUND CASE MODE: one measurement; appends a line to rounds.tsv.
run_wrk() {
	local r=$1 c=$2 mode=$3 url raw hdr=("${REQ_HDR[@]}") before after hb ha tb ta t0 t1 i
	local lb la stuck
	local -a epb epa # stub_status counts its own request: hence the "- 1"
	url=$(case_url "$c")
	raw=$OUT/http-raw/r$r-$c-$mode.txt
	[ "$mode" = close ] && hdr+=(-H 'Connection: close')
	if [ "$FLUSH_TW" = 1 ]; then
		for i in 1 2 3; do
			ip netns exec "$PREFIX-ep$i" ss -K -Htn state time-wait >/dev/null 2>&1 || true
		done
	fi
	for i in 1 2 3; do epb[i]=$(ep_requests "$i"); done
	lb=$(l7_marks "$c")
	tb=$(tcp_marks)
	before=$(cpu_mark "$c")
	hb=$(host_ticks)
	t0=$(date +%s%N)
	if ! client wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout "$TIMEOUT" \
		--latency "${hdr[@]}" "$url" >"$raw" 2>&1; then
		say "round $r $c $mode: wrk failed: $(tail -n 1 "$raw")"
		failed=1
	fi
	t1=$(date +%s%N)
	ha=$(host_ticks)
	after=$(cpu_mark "$c")
	ta=$(tcp_marks)
	stuck=$(client_leftovers "${raw%.txt}-stuck.txt")
	la=$(l7_marks "$c" "$raw.status")
	for i in 1 2 3; do epa[i]=$(ep_requests "$i"); done
	awk -v r="$r" -v c="$c" -v m="$mode" -v before="$before" -v after="$after" \
		-v hz="$HZ" -v e1=$((epa[1] - epb[1] - 1)) -v e2=$((epa[2] - epb[2] - 1)) \
		-v e3=$((epa[3] - epb[3] - 1)) -v hb="$hb" -v ha="$ha" -v tb="$tb" -v ta="$ta" \
		-v wall_ns=$((t1 - t0)) -v ncpu="$(nproc)" -v lb="$lb" -v la="$la" -v stuck="$stuck" '
	function ms(v) {       # wrk prints 123.00us, 1.23ms, 1.23s, 1.23m
		if (v ~ /us$/) return v / 1000
		if (v ~ /ms$/) return v + 0
		if (v ~ /s$/) return v * 1000
		if (v ~ /m$/) return v * 60000
		if (v ~ /h$/) return v * 3600000
		return "nan"
	}
	/^ +50% / { p50 = ms($2) }
	/^ +99% / { p99 = ms($2) }
	/ requests in / { reqs = $1 }
	/^Requests\/sec:/ { rps = $2 }
	/Socket errors:/ { gsub(",", ""); sock = $4 + $6 + $8 + $10 }
	/Non-2xx or 3xx responses:/ { non2xx = $NF }
	END {
		if (reqs == "" || rps == "") { reqs = 0; rps = "nan"; p50 = p99 = "nan"; fail = 1 }
		cpu = "na"; runs = "na"; nsrun = "na"; hcpu = hsirq = "na"
		split(before, b, " "); split(after, a, " ")
		split(hb, hb_, " "); split(ha, ha_, " "); split(tb, tb_, " "); split(ta, ta_, " ")
		k = reqs / 1000
		if (before == "na" || reqs == 0) cpu = "na"
		else if (c ~ /^kanary/) {
			cpu = sprintf("%.4f", (a[1] - b[1]) / 1e6 / k)
			if (a[2] > b[2]) {
				runs = sprintf("%.2f", (a[2] - b[2]) / reqs)
				nsrun = sprintf("%.1f", (a[1] - b[1]) / (a[2] - b[2]))
			}
		} else
			cpu = sprintf("%.4f", (a[1] - b[1]) * 1000 / hz / k)
		if (reqs > 0) {
			hcpu = sprintf("%.4f", (ha_[1] - hb_[1]) * 1000 / hz / k)
			hsirq = sprintf("%.4f", (ha_[2] - hb_[2]) * 1000 / hz / k)
		}
		busy = sprintf("%.0f", 100 * (ha_[1] - hb_[1]) / hz / (wall_ns / 1e9) / ncpu)
		err = sock + non2xx + (fail ? 1 : 0)
		printf "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d",
			r, c, m, rps, reqs, p50, p99, cpu, err, sock, non2xx, e1, e2, e3, runs, nsrun,
			hcpu, hsirq, busy, ta_[1] - tb_[1], ta_[2] - tb_[2]
		n = split(lb, lb_, " "); split(la, la_, " ")
		for (i = 1; i <= 8; i++)
			printf "\t%s", (n == 8 ? la_[i] - lb_[i] : "na")
		# client: segments retransmitted that were not SYNs, RTOs, leftovers
		printf "\t%d\t%d\t%d\n", (ta_[3] - tb_[3]) - (ta_[1] - tb_[1]), ta_[4] - tb_[4], stuck
	}' "$raw" >>"$ROUNDS_TSV"
	tail -n 1 "$ROUNDS_TSV" | awk -F'\t' '{
		printf "bench_http: round %s %-13s %-9s %9.0f req/s  p50 %.3f ms  p99 %.3f ms  gw cpu/1k %s  host cpu/1k %s (busy %s%%)  errors %s  ep %s/%s/%s  syn-retrans %s  data-retrans %s rto %s stuck %s%s\n",
			$1, $2, $3, $4, $6, $7, $8, $17, $19, $9, $12, $13, $14, $20, $30, $31, $32,
			($2 ~ /^kanary-l7/ ? sprintf("  L7 syn %s replay %s 400 %s 404 %s early-drop %s rules canary/default %s/%s", $22, $23, $24, $25, $26, $28, $29) : "") }' >&2
	if is_l7 "$c"; then l7_verdict "$r" "$c" "$mode" "$raw"; fi
}

# l7_verdict ROUND CASE MODE RAW: an L7 run must have no socket error, no
# non-2xx answer, no retransmission timeout at the client (a request or SYN
# left without an answer for 200 ms or more) and no request still
# unacknowledged 1.5 s after wrk stopped (wrk reports neither), no request
# on an endpoint or rule the header does not lead to, and must have gone
# through the L7 path (the gateway answered SYNs).  Anything else fails the
# whole run (exit 1, after the report), loudly, with wrk's own lines.  A
# retransmission without a timeout (a tail loss probe) is only flagged.
l7_verdict() {
	local r=$1 c=$2 mode=$3 raw=$4 line why=()
	line=$(tail -n 1 "$ROUNDS_TSV")
	local -a f
	IFS=$'\t' read -r -a f <<<"$line"
	# f[]: 0 round 1 case 2 mode 3 rps 4 requests ... 8 errors 9 socket 10 non2xx
	# 11-13 ep1-3 ... 21 l7_syn 22 replay 23 answered 400 24 answered 404 25 early
	# 26 no_halfopen 27 rule_canary 28 rule_default 29 client_data_retrans
	# 30 client_rto 31 client_stuck
	[ "${f[3]}" = nan ] && why+=("wrk produced no result")
	[ "${f[9]}" != 0 ] && why+=("${f[9]} socket errors ($(grep -m1 'Socket errors' "$raw" | sed 's/^ *//'))")
	[ "${f[10]}" != 0 ] && why+=("${f[10]} non-2xx/3xx answers")
	[ "${f[21]}" = 0 ] && why+=("no SYN answered by the gateway: the L7 path was not taken")
	[ "${f[30]}" != 0 ] && why+=("${f[30]} retransmission timeouts at the client (${f[29]} data segments retransmitted): requests the gateway held without an answer for 200 ms or more; SYNs answered ${f[21]}, request heads replayed ${f[22]} (one SYN per run is wrk's address check, which sends nothing)")
	[ "${f[31]}" != 0 ] && why+=("${f[31]} client connections still held an unacknowledged request or FIN 1.5 s after wrk stopped (their sockets: ${raw%.txt}-stuck.txt)")
	[ "${f[23]}" != 0 ] && why+=("${f[23]} requests answered 400 by the gateway (not HTTP/1.x)")
	[ "${f[24]}" != 0 ] && why+=("${f[24]} requests answered 404 by the gateway (no rule)")
	[ "${f[27]}" != 0 ] && why+=("${f[27]} connections took the canary rule without the canary header")
	if [ "$BACKENDS" = one ] && [ $((f[12] + f[13])) != 0 ]; then
		why+=("ep2/ep3 served ${f[12]}/${f[13]} requests (only ep1 should)")
	fi
	[ "${f[11]}" = 0 ] && [ "${f[4]}" != 0 ] && why+=("ep1 served nothing")
	[ ${#why[@]} = 0 ] && return 0
	local w
	for w in "${why[@]}"; do
		say "FAIL: round $r $c $mode: $w"
		l7_failures+=("round $r $c $mode: $w")
	done
	failed=1
}

# ------------------------------------------------------------ run

mkdir -p "$OUT"
rm -rf "$OUT/http-raw" "$OUT/http-logs"
mkdir -p "$OUT/http-raw"
start=$(date +%s.%N)
load_before=$(awk '{ print $1 "," $2 "," $3 }' /proc/loadavg)

say "lab $PREFIX; $ROUNDS round(s) of ${DURATION} s runs, wrk -t$THREADS -c$CONNS"
lab_is_up=1
bash "$LAB" up "$PREFIX" --full-checksums
for i in 1 2 3; do
	start_nginx "ep$i" "$PREFIX-ep$i" "$BENCH/endpoint-nginx.conf.in" \
		ADDR="${EP_ADDR[$i]}" VERSION="${EP_VERSION[$i]}" WORKERS=1
done
for i in 1 2 3; do
	wait_http "$PREFIX-ep$i" "http://${EP_ADDR[$i]}:8501$URL_PATH" "ep$i" ||
		die "endpoint server ep$i did not start"
done

n=${#CASES[@]}
for r in $(seq "$ROUNDS"); do
	for k in $(seq 0 $((n - 1))); do
		c=${CASES[$(((k + r - 1) % n))]}
		case_up "$c" || die "round $r: could not set up case $c"
		if [ $((r % 2)) = 1 ]; then modes=(keepalive close); else modes=(close keepalive); fi
		for m in "${modes[@]}"; do run_wrk "$r" "$c" "$m"; done
		case_down "$c"
	done
done

cp "$ROUNDS_TSV" "$OUT/http-rounds.tsv"
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", e - s }')
"$PYTHON" "$BENCH/http_report.py" --rounds-tsv "$OUT/http-rounds.tsv" --out "$OUT" \
	--params "kanary=$KANARY_SRC kanary_sha256=$KANARY_SHA tree=$TREE backends=$BACKENDS flush_timewait=$FLUSH_TW rounds=$ROUNDS duration=${DURATION}s threads=$THREADS connections=$CONNS timeout=$TIMEOUT proxy_workers=$PROXY_WORKERS quick=$quick elapsed=${elapsed}s loadavg_before=$load_before loadavg_after=$(awk '{ print $1 "," $2 "," $3 }' /proc/loadavg)"
if gnuplot -e 'set terminal' 2>&1 | grep -qw pngcairo; then term=pngcairo; else term=png; fi
gnuplot -e "datafile='$OUT/http-plot.dat'; outfile='$OUT/http.png'; term='$term'; subtitle='$ROUNDS round(s) x ${DURATION} s, wrk -t$THREADS -c$CONNS; bars: median, whiskers: min-max'" \
	"$BENCH/http.gp" || die "gnuplot failed"
say "done in ${elapsed} s: $OUT/http.tsv, http.md, http.png, http-rounds.tsv"
if [ ${#l7_failures[@]} -gt 0 ]; then
	say "FAIL: ${#l7_failures[@]} problem(s) in L7 runs:"
	printf 'bench_http:   %s\n' "${l7_failures[@]}" >&2
fi
[ "$failed" = 0 ] || die "some wrk runs failed or an L7 run had errors (see above and $OUT/http-raw)"
