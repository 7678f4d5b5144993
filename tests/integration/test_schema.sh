#!/usr/bin/env bash
# Config that would silently do nothing (issue 12, finding 7): a kind typo
# or the core apiVersion on a VirtualService is refused, not skipped, and
# `apply --strict` refuses what draws a warning; either way the data path,
# status and the saved config keep what they had. $1: attach mode (tc).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
MODE=${1:-tc}

echo "# strict schema in $MODE mode"
lab_up "$MODE" || { not_ok "$MODE: lab and load"; summary; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; lab_down' EXIT

check "$MODE: apply the lab's 100/0" \
	kanary apply -f "$LAB_DIR/gateway.yaml" -f "$LAB_DIR/service.yaml" \
	-f "$LAB_DIR/destinationrule.yaml" -f "$LAB_DIR/workloadentries.yaml" \
	-f "$LAB_DIR/virtualservice-weight-100.yaml"
gen=$(kanary status | awk '/^config:/ { print $3 }')

# The weight change every case below tries: all to resnet101.
vs() { # APIVERSION KIND [EXTRA-ROUTE-FIELD]
	cat <<-YAML
	apiVersion: $1
	kind: $2
	metadata:
	  name: image-classifier
	spec:
	  hosts: ["*"]
	  gateways: [image-classifier-gateway]
	  http:
	  - route:
	    - destination: {host: image-classifier, subset: resnet101, port: {number: 8501}}
	    ${3:-}
	YAML
}
vs networking.istio.io/v1 Virtualservice >"$tmp/typo.yaml"
vs v1 VirtualService >"$tmp/core.yaml"
vs networking.istio.io/v1 VirtualService "retries: {attempts: 3}" >"$tmp/retries.yaml"

# unchanged WHAT: generation, saved config and traffic as after the 100/0.
unchanged() {
	local now out n50
	now=$(kanary status | awk '/^config:/ { print $3 }')
	out=$(versions 100)
	n50=$(count_of resnet50 <<<"$out")
	check "$MODE: $1: config generation still $gen (got $now), 100 of 100 to resnet50 (got $n50)" \
		test "$now" = "$gen" -a "$n50" -eq 100
}

# exited WANT PATTERN...: the apply before exited WANT ($rc), and its
# stderr ($err) matches every PATTERN.
exited() {
	local want=$1 p
	shift
	[ "$rc" -eq "$want" ] || return 1
	for p in "$@"; do grep -q -- "$p" <<<"$err" || return 1; done
}

err=$(kanary apply -f "$tmp/typo.yaml" 2>&1); rc=$?
check "$MODE: kind: Virtualservice exits 1 naming file and line ($err)" \
	exited 1 "typo.yaml:2: no kind .Virtualservice. in networking.istio.io/v1 (did you mean VirtualService?)"
unchanged "after the kind typo"

err=$(kanary apply -f "$tmp/core.yaml" 2>&1); rc=$?
check "$MODE: VirtualService in apiVersion v1 exits 1 ($err)" \
	exited 1 "core.yaml:2: no kind .VirtualService. in v1"
unchanged "after apiVersion v1"

err=$(kanary apply --strict -f "$tmp/retries.yaml" 2>&1); rc=$?
check "$MODE: apply --strict with retries exits 1 ($(tr '\n' ' ' <<<"$err"))" \
	exited 1 "retries.yaml:11: warning: .retries. is ignored: Istio retries" "strict: 1 warning above; nothing applied"
unchanged "after apply --strict"

# Without --strict the same file is a warning, and applied.
err=$(kanary apply -f "$tmp/retries.yaml" 2>&1); rc=$?
check "$MODE: apply without --strict warns and exits 0" \
	exited 0 "kanary does not retry"
n101=$(count_of resnet101 <<<"$(versions 100)")
check "$MODE: then 100 of 100 go to resnet101 (got $n101)" test "$n101" -eq 100

summary
