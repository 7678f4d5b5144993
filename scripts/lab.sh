#!/usr/bin/env bash
# kanary lab: a client, a gateway and three model endpoints, each in its own
# network namespace, every name prefixed so that parallel or aborted runs
# never collide.
#
#   scripts/lab.sh up      PREFIX [--servers] [--full-checksums] [--ipv6] [--verbose]
#   scripts/lab.sh servers PREFIX [--log DIR] [--verbose]
#   scripts/lab.sh down    PREFIX [--verbose]
#   scripts/lab.sh env     PREFIX            # eval "$(scripts/lab.sh env P)"
#   scripts/lab.sh xdp-peers PREFIX on|off   # XDP_PASS on client/endpoint ends
#
#  PREFIX-client  eth0 198.18.0.2/24 ── c0 198.18.0.1/24 (= VIP)   PREFIX-gw
#  PREFIX-ep1     eth0 198.18.1.2/24 ── e1 198.18.1.1/24           ip_forward=1
#  PREFIX-ep2     eth0 198.18.2.2/24 ── e2 198.18.2.1/24
#  PREFIX-ep3     eth0 198.18.3.2/24 ── e3 198.18.3.1/24
#
#  ep1, ep2 serve "resnet50", ep3 serves "resnet101" (tests/tools/model_server.py
#  on port 8501, started by "servers").  Client and endpoints route via the .1.
#
# Offloads: as the kernel sets them on a new veth (TX checksum offload,
# TSO and GSO on, GRO off), the way every container and pod network has
# them: the gateway then receives the peers' packets with their TCP
# checksums left to offload (CHECKSUM_PARTIAL), which is what kanary must
# handle. "up --full-checksums" turns TX checksum offload off on the client
# and endpoint ends so that frames reach the gateway with full checksums,
# as from a wire; only the test of the native XDP fast path uses it.
#
# Native XDP_TX or XDP_REDIRECT into a veth is lost unless the peer has an
# XDP program of its own (measured; GRO on the peer was not enough: an
# XDP_TX out of c0 was lost for the first ~20 s). "xdp-peers on" attaches
# a bare XDP_PASS (build/floor.bpf.o, "make" builds it) to the client and
# endpoint ends; kanary's --mode xdp refuses a veth whose peer has none. A
# real NIC needs nothing of the kind.
#
# IPv6 is disabled in the namespaces (no router solicitations, MLD or DAD
# on the wires: the tests count packets) unless --ipv6 is given.
#
# Only 198.18.0.0/15 is used, and only inside the namespaces made here; the
# veth pairs are created directly inside their namespaces, so nothing ever
# appears in the root namespace.  Prints nothing on success.  "down" is
# idempotent and never fails, so it can run from a trap.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVER=${MODEL_SERVER:-$(dirname "$here")/tests/tools/model_server.py}
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
PORT=8501
ROLES=(client gw ep1 ep2 ep3)
EP_VERSION=([1]=resnet50 [2]=resnet50 [3]=resnet101)
MARK=.kanary-lab        # marks /run/PREFIX as ours: "down" removes only that

verbose=0
say() { [ "$verbose" = 0 ] || echo "lab.sh: $*" >&2; }
die() { echo "lab.sh: $*" >&2; exit 1; }

usage() {
	sed -n '6,9s/^# \{0,3\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

ns_exists() { [ -e "/run/netns/$1" ]; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ---------------------------------------------------------------- up

link_pair() { # NS_A IF_A ADDR_A NS_B IF_B ADDR_B
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
	nsx "$1" ip addr add "$3/24" dev "$2"
	nsx "$4" ip addr add "$6/24" dev "$5"
	nsx "$1" ip link set "$2" up
	nsx "$4" ip link set "$5" up
}

offloads() { # NS IF ethtool-features...
	local ns=$1 dev=$2; shift 2
	nsx "$ns" ethtool -K "$dev" "$@" >/dev/null ||
		die "ethtool -K $dev $* failed in $ns"
}

cmd_up() {
	local ns r
	for r in "${ROLES[@]}"; do
		ns_exists "$P-$r" && die "namespace $P-$r already exists (run: $0 down $P)"
	done
	if [ -e "$RUN" ] && [ ! -e "$RUN/$MARK" ]; then
		die "$RUN exists and is not a lab directory; pick another prefix"
	fi

	# From here on, a failure removes whatever was built.
	up_ok=0
	trap '[ "$up_ok" = 1 ] || { echo "lab.sh: up $P failed; removing it" >&2; cmd_down; }' EXIT

	mkdir -p "$RUN"
	: >"$RUN/$MARK"
	for r in "${ROLES[@]}"; do
		ns=$P-$r
		say "namespace $ns"
		ip netns add "$ns"
		nsx "$ns" ip link set lo up
		if [ "$ipv6" = 0 ]; then
			nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
				net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
		fi
	done
	nsx "$GW" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0

	say "veth $CLIENT/eth0 <-> $GW/c0"
	link_pair "$GW" c0 198.18.0.1 "$CLIENT" eth0 198.18.0.2
	nsx "$CLIENT" ip route add default via 198.18.0.1
	local i
	for i in 1 2 3; do
		say "veth $P-ep$i/eth0 <-> $GW/e$i"
		link_pair "$GW" "e$i" "198.18.$i.1" "$P-ep$i" eth0 "198.18.$i.2"
		nsx "$P-ep$i" ip route add default via "198.18.$i.1"
	done

	if [ "$full_csums" = 1 ]; then
		for ns in "$CLIENT" "$P-ep1" "$P-ep2" "$P-ep3"; do
			offloads "$ns" eth0 tx off
		done
	fi

	up_ok=1
	trap - EXIT
	if [ "$with_servers" = 1 ]; then
		cmd_servers
	fi
}

# ---------------------------------------------------------------- servers

is_server() { # PID: is it a model server?
	{ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -q model_server
}

server_pid() { # NS: pid of the model server running in NS, if any
	local pid
	for pid in $(ip netns pids "$1" 2>/dev/null); do
		if is_server "$pid"; then
			echo "$pid"
			return 0
		fi
	done
	return 1
}

cmd_servers() {
	local i ns addr log pid logdir=${logdir:-$RUN}
	for i in 1 2 3; do
		ns_exists "$P-ep$i" || die "namespace $P-ep$i does not exist (run: $0 up $P)"
		pid=$(server_pid "$P-ep$i") && die "a model server already runs in $P-ep$i (pid $pid)"
	done
	[ -r "$SERVER" ] || die "cannot read $SERVER"
	mkdir -p "$RUN" "$logdir"
	[ -e "$RUN/$MARK" ] || : >"$RUN/$MARK"

	for i in 1 2 3; do
		ns=$P-ep$i addr=198.18.$i.2 log=$logdir/ep$i.log
		say "model server ${EP_VERSION[$i]} on $ns $addr:$PORT (log $log)"
		# "ip netns exec" execs the command: $! is the server's pid.
		ip netns exec "$ns" "$PYTHON" "$SERVER" --addr "$addr" --port "$PORT" \
			--version "${EP_VERSION[$i]}" --quiet </dev/null >>"$log" 2>&1 &
		echo $! >"$RUN/ep$i.pid"
		disown $!
	done

	local tries=0 why
	for i in 1 2 3; do
		ns=$P-ep$i addr=198.18.$i.2 log=$logdir/ep$i.log
		pid=$(cat "$RUN/ep$i.pid")
		until nsx "$ns" curl -sf -o /dev/null --max-time 1 "http://$addr:$PORT/healthz"; do
			why=
			kill -0 "$pid" 2>/dev/null || why="exited"
			# 100 x (0.1 s + a failed curl) ~ 10 s for all three
			[ $((tries += 1)) -ge 100 ] &&
				why="did not answer http://$addr:$PORT/healthz within 10 s"
			if [ -n "$why" ]; then
				echo "lab.sh: model server in $ns $why; its log ($log):" >&2
				tail -n 20 "$log" | sed 's/^/    /' >&2 || true
				stop_servers
				exit 1
			fi
			sleep 0.1
		done
		say "$ns answers on $addr:$PORT"
	done
}

stop_servers() { # after a failed start: leave no half-started set behind
	local i pid
	for i in 1 2 3; do
		pid=$(cat "$RUN/ep$i.pid" 2>/dev/null) || continue
		is_server "$pid" && kill -KILL "$pid" 2>/dev/null
		rm -f "$RUN/ep$i.pid"
	done
	return 0
}

# ---------------------------------------------------------------- down

cmd_down() {
	set +e
	local r ns f pid pids=() left
	# Pid files first (only if the pid is still a model server), then
	# anything else still running inside the namespaces.
	for f in "$RUN"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null)
		case $pid in '' | *[!0-9]*) continue ;; esac
		is_server "$pid" && pids+=("$pid")
	done
	for r in "${ROLES[@]}"; do
		ns_exists "$P-$r" || continue
		for pid in $(ip netns pids "$P-$r" 2>/dev/null); do
			pids+=("$pid")
		done
	done
	if [ ${#pids[@]} -gt 0 ]; then
		say "stopping ${pids[*]}"
		kill -TERM "${pids[@]}" 2>/dev/null
		for _ in $(seq 30); do
			left=()
			for pid in "${pids[@]}"; do
				kill -0 "$pid" 2>/dev/null && left+=("$pid")
			done
			[ ${#left[@]} -eq 0 ] && break
			sleep 0.1
		done
		[ ${#left[@]} -gt 0 ] && kill -KILL "${left[@]}" 2>/dev/null
	fi
	for r in "${ROLES[@]}"; do
		ns=$P-$r
		ns_exists "$ns" || continue
		say "deleting namespace $ns"
		ip netns del "$ns" 2>/dev/null ||
			echo "lab.sh: warning: could not delete namespace $ns" >&2
	done
	if [ -e "$RUN/$MARK" ]; then
		rm -rf -- "$RUN"
	fi
	return 0
}

# ---------------------------------------------------------------- xdp-peers

cmd_xdp_peers() {
	local obj=$here/../build/floor.bpf.o ns
	[ -f "$obj" ] || die "$obj is missing: run make first"
	for ns in "$CLIENT" "$P-ep1" "$P-ep2" "$P-ep3"; do
		ns_exists "$ns" || die "no namespace $ns: is the lab up?"
		if [ "$onoff" = on ]; then
			nsx "$ns" ip link set dev eth0 xdpdrv obj "$obj" \
				program xdp_pass ||
				die "cannot attach XDP_PASS to eth0 in $ns"
		else
			nsx "$ns" ip link set dev eth0 xdpdrv off 2>/dev/null || true
		fi
	done
}

# ---------------------------------------------------------------- env

cmd_env() {
	cat <<EOF
LAB_PREFIX=$P
CLIENT_NS=$CLIENT
GW_NS=$GW
EP1_NS=$P-ep1
EP2_NS=$P-ep2
EP3_NS=$P-ep3
EP_NSES="$P-ep1 $P-ep2 $P-ep3"
VIP=198.18.0.1
PORT=$PORT
CLIENT_IP=198.18.0.2
EP1=198.18.1.2
EP2=198.18.2.2
EP3=198.18.3.2
EP1_GW=198.18.1.1
EP2_GW=198.18.2.1
EP3_GW=198.18.3.1
EP1_VERSION=${EP_VERSION[1]}
EP2_VERSION=${EP_VERSION[2]}
EP3_VERSION=${EP_VERSION[3]}
CLIENT_IFACE=eth0
EP_IFACE=eth0
GW_CLIENT_IFACE=c0
GW_EP_IFACES="e1 e2 e3"
GW_IFACES="c0 e1 e2 e3"
RUN_DIR=$RUN
EOF
}

# ---------------------------------------------------------------- main

[ $# -ge 2 ] || usage
cmd=$1 P=$2
shift 2
[[ $P =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$ ]] ||
	die "bad prefix '$P' (letters, digits, '_', '.', '-'; at most 40)"
case $P in netns | lock | user | systemd | sshd | udev | log | mount) die "prefix '$P' is reserved" ;; esac

RUN=/run/$P
CLIENT=$P-client
GW=$P-gw
ipv6=0 with_servers=0 full_csums=0 logdir= onoff=
while [ $# -gt 0 ]; do
	case $1 in
	on | off) [ "$cmd" = xdp-peers ] || die "unknown option '$1'"; onoff=$1 ;;
	-v | --verbose) verbose=1 ;;
	--ipv6) ipv6=1 ;;
	--servers) with_servers=1 ;;
	--full-checksums) full_csums=1 ;;
	--log)
		[ $# -ge 2 ] || die "--log needs a directory"
		logdir=$2
		shift
		;;
	*) die "unknown option '$1'" ;;
	esac
	shift
done

case $cmd in
up) cmd_up ;;
servers) cmd_servers ;;
down) cmd_down ;;
env) cmd_env ;;
xdp-peers)
	[ -n "$onoff" ] || die "xdp-peers needs on or off"
	cmd_xdp_peers
	;;
*) usage ;;
esac
