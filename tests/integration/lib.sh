# Shared by the integration tests: a tiny assertion harness, and a lab with
# kanary loaded that is always torn down (trap), also when a check fails.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KANARY=${KANARY:-$ROOT/build/kanary}
LAB=$ROOT/scripts/lab.sh
LAB_DIR=${KANARY_LAB_DIR:-$ROOT/examples/lab}
PASSED=0
FAILED=0

ok() {
	PASSED=$((PASSED + 1))
	echo "ok   - $*"
}

not_ok() {
	FAILED=$((FAILED + 1))
	echo "FAIL - $*"
}

# check "description" command...: passes when the command succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# Run in the gateway namespace without remounting /sys (pins stay visible).
gw() { nsenter --net="/run/netns/$GW_NS" "$@"; }
client() { nsenter --net="/run/netns/$CLIENT_NS" "$@"; }
# Debian's Python, for scripts that import yaml or requests: deps.sh
# installs python3-yaml and python3-requests for it (a python3 earlier on
# PATH, pyenv's say, may have neither).
PY=/usr/bin/python3
kanary() { gw "$KANARY" --pin-dir "$PIN" "$@"; }
kanary_cmd() { echo "nsenter --net=/run/netns/$GW_NS $KANARY --pin-dir $PIN $*"; }

# lab_up MODE: namespaces, model servers, kanary loaded in MODE; the
# veths keep the kernel's default offloads unless LAB_UP_ARGS says
# --full-checksums.
lab_up() {
	local kind=${LAB_KIND:-test}
	PREFIX=kn-$kind-$$-$1
	PIN=/sys/fs/bpf/kanary-$kind-$$-$1
	export KANARY_STATE_ROOT=/run/kanary-$kind-$$
	trap lab_down EXIT
	# shellcheck disable=SC2086 # LAB_UP_ARGS: words for lab.sh up
	bash "$LAB" up "$PREFIX" --servers ${LAB_UP_ARGS:-}
	eval "$(bash "$LAB" env "$PREFIX")"
	# Native XDP_TX into a veth needs an XDP program on the peer (lab.sh);
	# --mode xdp refuses a veth without one.
	if [ "$1" = xdp ]; then
		bash "$LAB" xdp-peers "$PREFIX" on || return 1
	fi
	# LAB_LOAD=0: namespaces and servers only (the agent test loads).
	[ "${LAB_LOAD:-1}" = 0 ] && return 0
	kanary load --mode "$1" --vip "$VIP" --iface c0 --iface e1 \
		--iface e2 --iface e3
}

# configmap_publish DIR [KEY=]FILE...: lay the FILEs out in DIR the way the
# kubelet updates a ConfigMap volume (its AtomicWriter), each under its KEY
# (default: its base name): the files go into a new timestamped directory,
# a ..data_tmp symlink to it is renamed over ..data in one step, each key
# is a symlink into ..data, keys no longer published are removed, and the
# old timestamped directory goes last.
configmap_publish() {
	local dir=$1 ts old kv key
	shift
	ts=..$(date -u +%Y_%m_%d_%H_%M_%S.%N)
	mkdir "$dir/$ts"
	for kv in "$@"; do
		key=${kv%%=*}
		[ "$key" = "$kv" ] && key=$(basename "$kv")
		cp "${kv#*=}" "$dir/$ts/$key"
	done
	old=$(readlink "$dir/..data" 2>/dev/null || true)
	ln -s "$ts" "$dir/..data_tmp"
	mv -T "$dir/..data_tmp" "$dir/..data"
	for key in "$dir/$ts"/*; do
		key=$(basename "$key")
		[ -L "$dir/$key" ] || ln -s "..data/$key" "$dir/$key"
	done
	for key in "$dir"/*; do
		[ -L "$key" ] && [ ! -e "$key" ] && rm -f "$key"
	done
	[ -z "$old" ] || rm -rf "${dir:?}/$old"
	return 0
}

# wait_for SECONDS command...: poll every 20 ms until the command succeeds;
# prints nothing. time_until: the same, printing the seconds it took.
time_until() {
	local limit=$1 t0
	shift
	t0=$(date +%s.%N)
	while ! "$@"; do
		awk -v a="$t0" -v b="$(date +%s.%N)" -v l="$limit" \
			'BEGIN { exit !(b - a <= l) }' || return 1
		sleep 0.02
	done
	awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f\n", b - a }'
}
wait_for() { time_until "$@" >/dev/null; }

lab_down() {
	[ -n "${PREFIX:-}" ] || return 0
	gw "$KANARY" unload --pin-dir "$PIN" 2>/dev/null || true
	rm -rf "$PIN" "$KANARY_STATE_ROOT" 2>/dev/null || true
	bash "$LAB" down "$PREFIX"
	PREFIX=
}

# versions N [curl args]: N new connections to the VIP, one request each;
# prints "count version" lines.
versions() {
	local n=$1
	shift
	client curl -s --max-time 20 -H 'Connection: close' "$@" \
		-d '{"instances": [[0.1, 0.2]]}' \
		"http://$VIP/v1/models/image_classifier:predict?n=[1-$n]" |
		grep -o '"model_version": "[^"]*"' | cut -d'"' -f4 |
		sort | uniq -c
}

# endpoints N: like versions, but counts the endpoint address that answered.
endpoints() {
	local n=$1
	client curl -s --max-time 20 -H 'Connection: close' \
		-d '{"instances": [[0.1, 0.2]]}' \
		"http://$VIP/v1/models/image_classifier:predict?n=[1-$n]" |
		grep -o '"served_by": "[^"]*"' | cut -d'"' -f4 | cut -d: -f1 |
		sort | uniq -c
}

# The gateway kernel's own IPv4 forwarding counter: packets kanary did not
# forward itself but handed to the stack.
kernel_forwarded() {
	gw awk '/^Ip:/ { if (!c) { for (i = 1; i <= NF; i++)
		if ($i == "ForwDatagrams") c = i } else print $c }' /proc/net/snmp
}

count_of() { # VERSION < versions output
	awk -v v="$1" '$2 == v { n = $1 } END { print n + 0 }'
}

summary() {
	echo "integration: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}

# burst N [conn_burst.py args]: N new connections to the VIP, one request
# each, each closed by the client first (so no flow is left waiting for the
# endpoint's TIME_WAIT); prints "count version" lines like versions(), and
# "count ERROR" for connections that failed.
burst() {
	local n=$1
	shift
	client python3 "$ROOT/tests/tools/conn_burst.py" --host "$VIP" \
		--count "$n" "$@"
}

# conn_maps [--show N]: entries in kn_synq, kn_hold and kn_flows (the
# VIP's: kept for the endpoint's TIME_WAIT, and the rest, "vip_left"), as
# one line of name=count; --show N lists up to N of the rest and of the
# holds after it (tests/tools/kn_maps.py).
conn_maps() {
	python3 "$ROOT/tests/tools/kn_maps.py" --pin "$PIN" --vip "$VIP" "$@"
}

# wrk_clean WRK_OUTPUT: requests completed, no socket errors, no non-2xx.
wrk_clean() {
	grep -qE '^ +[0-9]+ requests in' <<<"$1" &&
		! grep -qE 'Socket errors|Non-2xx' <<<"$1"
}

# The lab's model server on endpoint N (1..3), stopped or started again
# with model_server.py OPTIONS (--error-share, --delay-ms, ...); its pid
# stays where lab.sh looks for it, so that lab_down stops it.
server_stop() { # N
	local pid
	pid=$(cat "$RUN_DIR/ep$1.pid")
	kill -KILL "$pid" 2>/dev/null
	wait_for 5 bash -c "! kill -0 $pid 2>/dev/null"
}
server_start() { # N [OPTIONS...]: returns once it answers /healthz
	local n=$1 ns addr version
	shift
	ns=EP${n}_NS addr=EP$n version=EP${n}_VERSION
	ip netns exec "${!ns}" python3 "$ROOT/tests/tools/model_server.py" \
		--addr "${!addr}" --port "$PORT" --version "${!version}" \
		--quiet "$@" </dev/null >>"$RUN_DIR/ep$n.log" 2>&1 &
	echo $! >"$RUN_DIR/ep$n.pid"
	disown $!
	wait_for 10 ip netns exec "${!ns}" curl -sf -o /dev/null --max-time 1 \
		"http://${!addr}:$PORT/healthz"
}
server_restart() { # N [OPTIONS...]
	server_stop "$1" && server_start "$@"
}

# expect RC "description" command...: the command exits RC with one line
# on stderr (the command line's contract for errors). expect_msg RC
# "description" TEXT command...: and that line says TEXT.
expect_msg() {
	local want=$1 what=$2 text=$3 err rc
	shift 3
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	check "$what: exit $want, one line ($err)" \
		test "$rc" -eq "$want" -a "$(wc -l <<<"$err")" -eq 1 \
		-a -n "$(grep -F -- "$text" <<<"$err")"
}
expect() {
	local want=$1 what=$2
	shift 2
	expect_msg "$want" "$what" "" "$@"
}
