#!/usr/bin/env bash
# The node agent's image and manifests (deploy/), as root:
#
#  1. the manifests: deploy/kubernetes/*.yaml against the Kubernetes API
#     schema and kanary's own rules (deploy/test/validate.mjs), and proof
#     that the checker catches broken ones; the same for the canary
#     analysis templates (deploy/analysis/, deploy/test/analysis.mjs);
#  2. the image, built offline: a Debian bookworm base made with mmdebstrap
#     from this machine's mirror (cached in build/container/), then
#     deploy/Dockerfile with podman; the binary runs, its libraries are
#     all there, and so are bpftool and ip;
#  3. the image in the lab's gateway namespace with exactly the DaemonSet's
#     capabilities, mounts and seccomp choice, driven as an operator would
#     with `kubectl exec`: load, apply the ConfigMap's files laid out as
#     the kubelet lays them, traffic through the VIP, stats, bpftool,
#     unload. This needs only the CLI of today;
#  4. the agent (`kanary run`, the DaemonSet's args): probes, /metrics,
#     a kubelet-style ConfigMap update moving the split, pins kept over
#     SIGTERM, a new container adopting them under wrk load with no
#     errors, unload. Skipped, and said so, while the binary has no `run`.
#
# Podman runs with a private storage root in a mktemp dir and the settings
# of deploy/test/containers.conf; everything it made is removed on exit,
# as are the lab, the pins and the state. Kept: build/container/ (the base
# rootfs tarball, so a rerun skips mmdebstrap) and deploy/test/node_modules.
# KANARY_REBUILD_BASE=1 remakes the tarball. Only 198.18.0.0/15 is used,
# inside the lab's namespaces.
# shellcheck disable=SC2016 # bash -c scripts take their arguments as $1...
set -euo pipefail

# The integration tests' harness: ok, not_ok, check, versions, count_of,
# configmap_publish (the kubelet's layout); ROOT and LAB.
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
CACHE=$ROOT/build/container
BASE_TAR=$CACHE/kanary-base-bookworm.tar
BASE_IMAGE=localhost/kanary-base:bookworm
IMAGE=localhost/kanary:test-$$
PREFIX=kn-img-$$
PIN=/sys/fs/bpf/kanary-img-$$
# What the DaemonSet's NODE_IP would be: an address of the gateway that
# is not the VIP (the endpoint side's e1).
NODE_IP=198.18.1.1
VIP=198.18.0.1
PASSED=0 FAILED=0 SKIPPED=0

skip() { SKIPPED=$((SKIPPED + 1)); echo "skip - $*"; }
step() { echo "# $*"; }
die() { echo "test_image: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (podman, namespaces, BPF)"
for t in podman runc mmdebstrap node npm curl wrk ip; do
	command -v "$t" >/dev/null || die "$t is missing (bash scripts/deps.sh)"
done

T=$(mktemp -d /tmp/kanary-image-test.XXXXXX)
# /var/lib/containers/cache is the one place podman writes outside --root
# (its blob-info cache); remove it afterwards if it was not there before.
had_var_lib_containers=0
[ -e /var/lib/containers ] && had_var_lib_containers=1
export CONTAINERS_CONF=$ROOT/deploy/test/containers.conf
pm() {
	podman --root "$T/root" --runroot "$T/runroot" --tmpdir "$T/tmp" \
		--storage-driver overlay "$@"
}

cleanup() {
	local rc=$?
	set +e
	# Ends only this run's containers: the storage root is private.
	pm rm -a -f -t 2 >/dev/null 2>&1
	pm rmi -a -f >/dev/null 2>&1
	[ -d "$PIN" ] && rm -rf "$PIN"
	bash "$LAB" down "$PREFIX" 2>/dev/null
	# Overlay mounts left by an interrupted podman would keep rm from
	# removing the storage root.
	findmnt -rn -o TARGET | grep "^$T/" | sort -r | xargs -r umount -l
	rm -rf "$T"
	if [ "$had_var_lib_containers" = 0 ]; then rm -rf /var/lib/containers; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 1. manifests
step "manifests"
(
	cd "$ROOT/deploy/test"
	# npm ci only when the lock changed since the last install.
	if ! [ node_modules/.kanary-lock -nt package-lock.json ]; then
		npm ci --no-audit --no-fund --loglevel=error >/dev/null
		touch node_modules/.kanary-lock
	fi
)
V=$ROOT/deploy/test/validate.mjs
check "the manifests validate (schema and kanary's rules)" node "$V"
check "the checker catches each way of breaking them (validate --self-test)" \
	node "$V" --self-test
# A broken file given on the command line: the API would refuse a
# Bidirectional mount in an unprivileged container, and a port as text.
sed -e 's/mountPropagation: HostToContainer/mountPropagation: Bidirectional/' \
	-e 's/containerPort: 9901/containerPort: "9901"/' \
	"$ROOT/deploy/kubernetes/daemonset.yaml" >"$T/broken.yaml"
if out=$(node "$V" "$T/broken.yaml" 2>&1); then
	not_ok "a broken DaemonSet fails validation"
else
	check "a broken DaemonSet fails validation, naming both faults" \
		bash -c 'grep -q "Bidirectional propagation" <<<"$1" &&
			grep -q "containerPort must be integer" <<<"$1"' _ "$out"
fi
sed 's/number: 80$/number: 8080/' "$ROOT/deploy/kubernetes/configmap.yaml" \
	>"$T/drift.yaml"
check "a ConfigMap that drifted from examples/lab fails validation" \
	bash -c '! node "$1" "$2" 2>/dev/null' _ "$V" "$T/drift.yaml"
# The canary analysis templates (deploy/analysis/): Flagger's and Argo
# Rollouts' schemas and kanary's rules, and proof that broken ones fail.
A=$ROOT/deploy/test/analysis.mjs
check "the analysis templates validate (Flagger, Argo Rollouts)" node "$A"
check "the checker catches each way of breaking them (analysis --self-test)" \
	node "$A" --self-test
sed 's|^apiVersion: argoproj.io/v1alpha1|apiVersion: argoproj.io/v1|' \
	"$ROOT/deploy/analysis/argo.yaml" >"$T/broken-analysis.yaml"
check "an AnalysisTemplate of a wrong apiVersion fails validation" \
	bash -c '! node "$1" "$2" 2>/dev/null' _ "$A" "$T/broken-analysis.yaml"
mapfile -t DS_ARGS < <(node "$V" --print args)
mapfile -t DS_CAPS < <(node "$V" --print caps)
caps=$(IFS=,; echo "${DS_CAPS[*]}")

# ---------------------------------------------------------------- 2. image
step "base image"
mkdir -p "$CACHE"
if [ ! -f "$BASE_TAR" ] || [ ! -s "$BASE_TAR" ] || [ "${KANARY_REBUILD_BASE:-0}" = 1 ]; then
	# The machine's own apt sources, so the base uses the same mirror.
	mirror=()
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
		[ -s "$f" ] && { mirror=("$f"); break; }
	done
	t0=$SECONDS
	# mmdebstrap picks the format from the name: .tar. Without docs, man pages and locales, as debian:bookworm-slim.
	mmdebstrap --quiet --variant=minbase \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		bookworm "$CACHE/partial.tar" "${mirror[@]}"
	mv "$CACHE/partial.tar" "$BASE_TAR"
	echo "# mmdebstrap: $((SECONDS - t0)) s"
fi
pm import -q "$BASE_TAR" "$BASE_IMAGE" >/dev/null
ok "base image imported from $(basename "$BASE_TAR")"

step "image build"
t0=$SECONDS
if pm build -q --network host --build-arg BASE="$BASE_IMAGE" \
	-f "$ROOT/deploy/Dockerfile" -t "$IMAGE" "$ROOT" >"$T/build.log" 2>&1; then
	ok "deploy/Dockerfile builds ($((SECONDS - t0)) s)"
else
	tail -n 30 "$T/build.log" | sed 's/^/#   /'
	not_ok "deploy/Dockerfile builds"
	echo "image: $PASSED passed, $FAILED failed"
	exit 1
fi
echo "# image size: $(pm image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }')"
help=$(pm run --rm "$IMAGE" --help 2>&1 || true)
check "the image's entrypoint is kanary (--help)" grep -q "^usage: kanary" <<<"$help"
ldd_out=$(pm run --rm --entrypoint ldd "$IMAGE" /usr/local/bin/kanary 2>&1 || echo "ldd failed: not found")
check "every shared library of kanary is in the runtime image" \
	bash -c '! grep -q "not found" <<<"$1"' _ "$ldd_out"
quiet() { "$@" >/dev/null 2>&1; }
check "bpftool is in the image" quiet pm run --rm --entrypoint bpftool "$IMAGE" version
check "ip (iproute2) is in the image" quiet pm run --rm --entrypoint ip "$IMAGE" -V
cc_rc=0
pm run --rm --entrypoint clang "$IMAGE" --version >/dev/null 2>&1 || cc_rc=$?
check "no compiler in the runtime image" test "$cc_rc" -ne 0

# ---------------------------------------------------------------- 3. the lab
step "lab $PREFIX"
bash "$LAB" up "$PREFIX" --servers
GW=/run/netns/$PREFIX-gw
client() { ip netns exec "$PREFIX-client" "$@"; }
gw() { ip netns exec "$PREFIX-gw" "$@"; }
mkdir -p "$T/state"

# The DaemonSet's init container, as the kubelet runs it (privileged,
# Bidirectional): on a node with bpffs it leaves /sys/fs/bpf as it is.
init_script=$(node "$V" --print init)
init_rc=0
pm run --rm --privileged -v /sys/fs/bpf:/sys/fs/bpf --entrypoint /bin/sh \
	"$IMAGE" -ec "$init_script" || init_rc=$?
check "the bpffs init container runs and leaves bpffs in place" \
	test "$init_rc" = 0 -a "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs

# The ConfigMap volume as the kubelet writes it (configmap_publish).
CFG=$T/config
L=$ROOT/examples/lab
CM_BASE=(gateway.yaml="$L/gateway.yaml" service.yaml="$L/service.yaml"
	destinationrule.yaml="$L/destinationrule.yaml"
	workloadentries.yaml="$L/workloadentries.yaml")
mkdir -p "$CFG"
# The ConfigMap's own keys, from deploy/kubernetes/configmap.yaml (they
# equal examples/lab, validate checks that).
configmap_publish "$CFG" "${CM_BASE[@]}" virtualservice-weight-70.yaml="$L/virtualservice-weight-70.yaml"

# The pod: the DaemonSet's capabilities, seccomp and mounts.
POD_OPTS=(--network "ns:$GW" --cap-drop ALL --cap-add "$caps"
	--security-opt seccomp=unconfined --read-only
	-v /sys/fs/bpf:/sys/fs/bpf -v "$T/state:/run/kanary"
	-v "$CFG:/etc/kanary:ro")

split_is() { # N R50_MIN R50_MAX: of N connections, resnet50 got MIN..MAX
	local out n50 n101
	out=$(versions "$1")
	n50=$(count_of resnet50 <<<"$out") n101=$(count_of resnet101 <<<"$out")
	echo "#   $1 connections: resnet50 $n50, resnet101 $n101"
	[ $((n50 + n101)) -eq "$1" ] && [ "$n50" -ge "$2" ] && [ "$n50" -le "$3" ]
}

step "the image with the DaemonSet's capabilities, driven by kubectl-exec-like commands"
TOOLBOX=kn-img-$$-exec
pm run -d --name "$TOOLBOX" "${POD_OPTS[@]}" --entrypoint sleep "$IMAGE" 600 >/dev/null
kx() { pm exec "$TOOLBOX" kanary "$@" --pin-dir "$PIN"; }
check "kanary load works with only ${caps//,/ } (seccomp lifted)" \
	kx load --vip "$VIP" --iface c0 --iface e1 --iface e2 --iface e3
check "kanary apply -f reads the kubelet's ConfigMap layout" \
	kx apply -f /etc/kanary
check "70/30 split through the VIP (100 connections, resnet50 55..85)" \
	split_is 100 55 85
stats=$(kx stats --json 2>&1 || true)
check "kanary stats --json counts the connections" \
	jq -e '.virtualservices[].subsets[] | select(.name == "resnet50") |
		.weight == 70 and .connections > 0' <<<"$stats"
check "bpftool map show pinned works with the agent's capabilities" \
	quiet pm exec "$TOOLBOX" bpftool map show pinned "$PIN/kn_stats"
# Dumping with BTF needs CAP_SYS_ADMIN (BPF_BTF_GET_FD_BY_ID), which the
# agent does not have: an operator's privileged exec, as kubectl debug.
dump=$(pm exec --privileged "$TOOLBOX" bpftool map dump pinned "$PIN/kn_stats" 2>&1 || true)
check "bpftool map dump pinned works from a privileged exec" \
	grep -q '"connections"' <<<"$dump"
# What the maps cost: charged to the memory cgroup of the agent's pod.
memlock=0
for m in "$PIN"/kn_*; do
	b=$(bpftool map show pinned "$m" 2>/dev/null | grep -o 'memlock [0-9]*B' | tr -dc 0-9)
	memlock=$((memlock + ${b:-0}))
done
echo "#   the pinned maps hold $((memlock / 1048576)) MiB (memlock)"
unload_rc=0
pm exec "$TOOLBOX" kanary unload --pin-dir "$PIN" || unload_rc=$?
check "kanary unload removes the pins" test "$unload_rc" = 0 -a ! -e "$PIN"
check "... and the state in /run/kanary (the hostPath stays empty)" \
	test -z "$(ls -A "$T/state")"
pm rm -f -t 0 "$TOOLBOX" >/dev/null

# ---------------------------------------------------------------- 4. the agent
step "the agent (kanary run, the DaemonSet's args)"
if ! pm run --rm "$IMAGE" run --help >/dev/null 2>&1; then
	skip "kanary run is not in this build: the agent's part waits for it"
	echo "image: $PASSED passed, $FAILED failed, $SKIPPED skipped"
	[ "$FAILED" -eq 0 ]
	exit
fi

# The DaemonSet's args, with the test's pin dir and NODE_IP.
AGENT_ARGS=()
for ((i = 0; i < ${#DS_ARGS[@]}; i++)); do
	a=${DS_ARGS[$i]//\$(NODE_IP)/$NODE_IP}
	if [ "$a" = --pin-dir ]; then
		AGENT_ARGS+=(--pin-dir "$PIN")
		i=$((i + 1))
	else
		AGENT_ARGS+=("$a")
	fi
done
echo "#   kanary ${AGENT_ARGS[*]}"
AGENT=kn-img-$$-agent
agent_start() { # NAME
	pm run -d --name "$1" "${POD_OPTS[@]}" "$IMAGE" "${AGENT_ARGS[@]}" >/dev/null
}
http() { gw curl -s --max-time 3 "$@"; }
ready() { # up to 30 s for /readyz 200, as the readiness probe asks
	local i
	for i in $(seq 60); do
		[ "$(http -o /dev/null -w '%{http_code}' "http://$NODE_IP:9901/readyz")" = 200 ] &&
			return 0
		sleep 0.5
	done
	return 1
}
logs() { pm logs "$1" 2>&1 | tail -n 15 | sed 's/^/#   /'; }
weights_are() { # W50 W101: kanary stats shows these weights within 15 s
	local i s
	for i in $(seq 30); do
		s=$(pm exec "$AGENT" kanary stats --json --pin-dir "$PIN" 2>/dev/null) &&
			jq -e --argjson a "$1" --argjson b "$2" '[.virtualservices[].subsets[] |
				{(.name): .weight}] | add | .resnet50 == $a and .resnet101 == $b' \
				<<<"$s" >/dev/null && return 0
		sleep 0.5
	done
	return 1
}

agent_start "$AGENT"
check "the agent gets ready (/readyz 200 on NODE_IP:9901)" ready || logs "$AGENT"
check "/healthz answers 200" \
	test "$(http -o /dev/null -w '%{http_code}' "http://$NODE_IP:9901/healthz")" = 200
metrics=$(http "http://$NODE_IP:9901/metrics" || true)
check "/metrics is Prometheus text with kanary's series" \
	bash -c 'grep -q "^# TYPE " <<<"$1" && grep -q "^kanary_" <<<"$1"' _ "$metrics"
check "the agent applied the ConfigMap: 70/30" weights_are 70 30
check "70/30 split through the VIP" split_is 100 55 85

# kubectl edit configmap: the key's content changes (100/0).
configmap_publish "$CFG" "${CM_BASE[@]}" virtualservice-weight-70.yaml="$L/virtualservice-weight-100.yaml"
check "a kubelet-style ConfigMap update moves the weights to 100/0" weights_are 100 0
check "new connections follow: all 40 to resnet50" split_is 40 40 40
# A key replaced by another (the file name changes too).
configmap_publish "$CFG" "${CM_BASE[@]}" virtualservice.yaml="$L/virtualservice-weight-70.yaml"
check "a ConfigMap whose key was renamed applies too: 70/30" weights_are 70 30
metrics=$(http "http://$NODE_IP:9901/metrics" || true)
check "/metrics counts connections per subset" \
	bash -c 'grep -E "^kanary_[a-z_]+\{[^}]*resnet50[^}]*\} [1-9]" <<<"$1" >/dev/null' _ "$metrics"

check "bpftool map show pinned from the agent container" \
	quiet pm exec "$AGENT" bpftool map show pinned "$PIN/kn_stats"
dump=$(pm exec --privileged "$AGENT" bpftool map dump pinned "$PIN/kn_stats" 2>&1 || true)
check "bpftool map dump pinned from a privileged exec" grep -q '"connections"' <<<"$dump"

# SIGTERM (pod deletion, rolling update) leaves the data path running.
# podman stop succeeds even when it had to SIGKILL: read the exit code.
pm stop -t 30 "$AGENT" >/dev/null 2>&1
code=$(pm inspect -f '{{.State.ExitCode}}' "$AGENT")
check "SIGTERM ends the agent within the grace period (exit $code, not 137)" \
	test "$code" = 0 -o "$code" = 143
check "the pins outlive the agent" test -e "$PIN/kn_flows"
check "without an agent the split goes on (70/30)" split_is 100 55 85
pm rm -f "$AGENT" >/dev/null

# A rolling update under load: wrk on keep-alive connections while the
# old pod goes and a new one adopts the pins.
agent_start "$AGENT"
check "the agent is ready again" ready || logs "$AGENT"
client wrk -t2 -c16 -d12s --timeout 2s \
	"http://$VIP/v1/models/image_classifier" >"$T/wrk.out" 2>&1 &
wrk_pid=$!
sleep 3
pm stop -t 30 "$AGENT" >/dev/null
pm rm -f "$AGENT" >/dev/null
agent_start "$AGENT"
ready_again=0
ready && ready_again=1
wait "$wrk_pid" || true
sed 's/^/#   /' "$T/wrk.out"
check "a new agent adopts the pins during a rolling update" test "$ready_again" = 1
check "wrk across the restart: requests done, no socket errors, no non-2xx" \
	bash -c 'grep -qE "^ +[0-9]+ requests in" "$1" &&
		! grep -qE "Socket errors|Non-2xx" "$1"' _ "$T/wrk.out"
check "the adopted data path still splits 70/30" split_is 100 55 85

check "kanary unload (uninstall) from the agent's container" \
	pm exec "$AGENT" kanary unload --pin-dir "$PIN"
check "no pins are left" test ! -e "$PIN"
pm stop -t 30 "$AGENT" >/dev/null

echo "image: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
