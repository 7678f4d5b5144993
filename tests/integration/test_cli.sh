#!/usr/bin/env bash
# The command line's contract: --help everywhere, exit 0 on success, 2 on
# a usage error, 1 with one line of reason otherwise. Needs no lab.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
PIN=/sys/fs/bpf/kanary-test-cli-$$
echo "# command line"

for cmd in load apply set-weight stats status unload run promote metrics; do
	out=$("$KANARY" "$cmd" --help 2>&1)
	rc=$?
	check "$cmd --help exits 0 and shows usage" \
		test "$rc" -eq 0 -a -n "$(grep '^usage: kanary' <<<"$out")"
done
check "kanary --help exits 0" "$KANARY" --help >/dev/null

expect 2 "unknown command" "$KANARY" frobnicate
expect 2 "load without --iface" "$KANARY" load --pin-dir "$PIN"
expect 2 "load with a bad mode" "$KANARY" load --pin-dir "$PIN" --iface lo --mode fast
expect 2 "load with a bad --vip" "$KANARY" load --pin-dir "$PIN" --iface lo --vip 300.1.1.1
expect 2 "apply without files" "$KANARY" apply --pin-dir "$PIN"
expect 1 "apply a missing file" "$KANARY" apply --pin-dir "$PIN" -f /nonexistent.yaml
expect 1 "apply before load" "$KANARY" apply --pin-dir "$PIN" -f "$LAB_DIR/gateway.yaml"
expect 1 "stats before load" "$KANARY" stats --pin-dir "$PIN"
expect 1 "status before load" "$KANARY" status --pin-dir "$PIN"
expect 1 "set-weight before load" "$KANARY" set-weight --pin-dir "$PIN" vs a=1
expect 1 "promote before load" "$KANARY" promote --pin-dir "$PIN" vs \
	--to canary --steps 10,100 --interval 1s
expect 1 "metrics before load" "$KANARY" metrics --pin-dir "$PIN"
expect 2 "promote without --to" "$KANARY" promote --pin-dir "$PIN" vs \
	--steps 10,100 --interval 1s
expect 2 "metrics with a bad --listen" "$KANARY" metrics --pin-dir "$PIN" \
	--listen nowhere
err=$("$KANARY" set-weight vs a=1 --pin-dir "$PIN" 2>&1)
check "options may follow the arguments ($err)" grep -q "not loaded" <<<"$err"
expect 2 "load with --flows out of range" "$KANARY" load --pin-dir "$PIN" --iface lo --flows 4294967300
expect 1 "load on a missing interface" "$KANARY" load --pin-dir "$PIN" --iface kn-nosuch0
check "a failed load leaves no pin dir" test ! -e "$PIN"
check "unload of nothing succeeds" "$KANARY" unload --pin-dir "$PIN"

# Input files (issue 12, findings 4 and 5): what apply reads and how much,
# merge keys, duplicates in one apply, and errors in kept resources.
echo "# input files"
TMPD=$(mktemp -d "/tmp/kanary-test-cli-$$.XXXXXX")
NS=kn-cli-$$
export KANARY_STATE_ROOT=/run/kanary-test-cli-$$
input_down() {
	if [ -e "/run/netns/$NS" ]; then
		nsenter --net="/run/netns/$NS" "$KANARY" unload --pin-dir "$PIN" \
			>/dev/null 2>&1
		ip netns del "$NS"
	fi
	rm -rf "$TMPD" "$KANARY_STATE_ROOT" "$PIN"
}
trap input_down EXIT


# Read before anything is loaded: the file errors come first. timeout:
# before, a FIFO blocked and /dev/zero never ended.
mkfifo "$TMPD/fifo.yaml"
expect_msg 1 "apply a FIFO" "$TMPD/fifo.yaml: not a regular file (a FIFO)" \
	timeout 10 "$KANARY" apply --pin-dir "$PIN" -f "$TMPD/fifo.yaml"
expect_msg 1 "apply /dev/zero" "/dev/zero: not a regular file (a character device)" \
	timeout 10 "$KANARY" apply --pin-dir "$PIN" -f /dev/zero
expect_msg 1 "apply - from /dev/zero" "<stdin>: larger than 4 MiB" \
	timeout 10 "$KANARY" apply --pin-dir "$PIN" -f - </dev/zero
head -c $((4 * 1024 * 1024 + 1)) /dev/zero | tr '\0' '#' >"$TMPD/big.yaml"
expect_msg 1 "apply a file over 4 MiB" "$TMPD/big.yaml: larger than 4 MiB" \
	"$KANARY" apply --pin-dir "$PIN" -f "$TMPD/big.yaml"
python3 -c 'print("a: " + "[" * 100000)' >"$TMPD/deep.yaml"
start=$(date +%s%N)
expect_msg 1 "apply 100,000 nested [" "$TMPD/deep.yaml:1: nested more than 64 levels deep" \
	timeout 20 "$KANARY" apply --pin-dir "$PIN" -f "$TMPD/deep.yaml"
ms=$((($(date +%s%N) - start) / 1000000))
check "100,000 nested [ refused in ${ms} ms (< 1000)" test "$ms" -lt 1000

# A gateway namespace with one veth, kanary loaded on it.
ip netns add "$NS"
ip -n "$NS" link add kn-in0 type veth peer name kn-in1
ip -n "$NS" link set kn-in0 up
ip -n "$NS" link set kn-in1 up
# The endpoints must have a route; nothing needs to answer there.
ip -n "$NS" addr add 198.18.0.254/15 dev kn-in0
kn() { nsenter --net="/run/netns/$NS" "$KANARY" --pin-dir "$PIN" "$@"; }
check "load for the input tests" kn load --mode tc --vip 198.18.0.1 \
	--iface kn-in0 >/dev/null
cp "$LAB_DIR/virtualservice-weight-70.yaml" "$TMPD/vs.yaml"
check "apply the lab" kn apply -f "$LAB_DIR/gateway.yaml" \
	-f "$LAB_DIR/service.yaml" -f "$LAB_DIR/destinationrule.yaml" \
	-f "$LAB_DIR/workloadentries.yaml" -f "$TMPD/vs.yaml"
state=$(find "$KANARY_STATE_ROOT" -name config.yaml | head -1)
weights() { # the weights of the saved config, in order
	grep -o 'weight: [0-9]*' "$state" | awk '{ printf "%s ", $2 }'
}
check "the lab's weights are 70 30 ($(weights))" test "$(weights)" = "70 30 "

# Finding 4: the weight a merge key carries was dropped (0), exit 0.
cat >"$TMPD/merge.yaml" <<'YAML'
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: image-classifier
spec:
  hosts: ["*"]
  gateways: [image-classifier-gateway]
  http:
  - route:
    - destination: {host: image-classifier, subset: resnet50, port: {number: 8501}}
      <<: &stable {weight: 90}
    - destination: {host: image-classifier, subset: resnet101, port: {number: 8501}}
      weight: 10
YAML
check "apply with a merge key" kn apply -f "$TMPD/merge.yaml"
check "the merged weight counts: 90 10 ($(weights))" test "$(weights)" = "90 10 "

# Finding 5: the same VirtualService twice in one apply.
cp "$TMPD/vs.yaml" "$TMPD/vs-again.yaml"
before=$(cat "$state")
expect_msg 1 "one VirtualService twice" \
	"$TMPD/vs-again.yaml:1: duplicate VirtualService default/image-classifier (also at $TMPD/vs.yaml:1)" \
	kn apply -f "$TMPD/vs.yaml" -f "$TMPD/vs-again.yaml"
check "the refused apply left the config as it was" \
	test "$(cat "$state")" = "$before"

# Finding 5: an error in a kept resource named the state file under /run.
check "apply vs.yaml again" kn apply -f "$TMPD/vs.yaml"
cat >"$TMPD/dr.yaml" <<'YAML'
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: image-classifier
spec:
  host: image-classifier
  subsets:
  - name: resnet50
    labels: {version: resnet50}
YAML
expect_msg 1 "an error in the kept VirtualService names vs.yaml" \
	"$TMPD/vs.yaml:19: unknown subset 'resnet101'" \
	kn apply -f "$TMPD/dr.yaml"
(cd "$TMPD" && expect_msg 1 "... also when it was applied by a relative name" \
	"$TMPD/vs.yaml:19: unknown subset 'resnet101'" \
	bash -c "nsenter --net=/run/netns/$NS $KANARY --pin-dir $PIN apply -f vs.yaml >/dev/null && cd / && nsenter --net=/run/netns/$NS $KANARY --pin-dir $PIN apply -f $TMPD/dr.yaml")
summary
