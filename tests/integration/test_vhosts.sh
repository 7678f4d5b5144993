#!/usr/bin/env bash
# Virtual hosts, end to end with curl: two VirtualServices for two hosts on
# the lab's one Gateway port route by Host (any case, with a port, exact or
# wildcard); a Host no VirtualService has gets no route (404); a VirtualService
# with no gateways is applied with a warning naming its file and line, and
# `status` shows it as not served and lists the ports. kanary attached in
# the mode given ($1: auto, xdp, xdp-generic or tc).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
MODE=$1

echo "# virtual hosts in $MODE mode"
lab_up "$MODE" || { not_ok "$MODE: lab and load"; summary; exit 1; }
tmp=$(mktemp -d)
cleanup() {
	rm -rf "$tmp"
	lab_down
}
trap cleanup EXIT

flat() { tr -s ' \n' '  ' <<<"$1" | sed 's/^ //; s/ $//'; }

# A VirtualService on the lab's Gateway: name, hosts, subset.
vs() {
	cat <<EOF
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: $1
spec:
  hosts: $2
  gateways:
  - image-classifier-gateway
  http:
  - route:
    - destination:
        host: image-classifier
        subset: $3
        port:
          number: 8501
EOF
}

vs canary "[canary.example.com]" resnet101 >"$tmp/canary.yaml"
vs stable "['*.example.org', stable.example.com]" resnet50 >"$tmp/stable.yaml"
err=$(kanary apply -f "$LAB_DIR/gateway.yaml" -f "$LAB_DIR/service.yaml" \
	-f "$LAB_DIR/destinationrule.yaml" -f "$LAB_DIR/workloadentries.yaml" \
	-f "$tmp/canary.yaml" -f "$tmp/stable.yaml" 2>&1)
rc=$?
check "$MODE: apply two VirtualServices for two hosts on one Gateway port${err:+ ($err)}" \
	test "$rc" -eq 0
if [ "$rc" -ne 0 ]; then
	summary
	exit 1
fi

# expect_all N VERSION WHAT OUT: all N connections answered by VERSION.
expect_all() {
	local n=$1 v=$2 what=$3 out=$4 got
	got=$(count_of "$v" <<<"$out")
	check "$MODE: $what: $got of $n answered by $v ($(flat "$out"))" \
		test "$got" -eq "$n" -a "$(awk '{ n += $1 } END { print n + 0 }' <<<"$out")" -eq "$n"
}

for host in canary.example.com CANARY.Example.COM canary.example.com:80; do
	expect_all 10 resnet101 "Host: $host" "$(versions 10 -H "Host: $host")"
done
for host in stable.example.com a.example.org x.y.EXAMPLE.org:80; do
	expect_all 10 resnet50 "Host: $host" "$(versions 10 -H "Host: $host")"
done
# curl's own Host, from a URL with the name (--resolve): what clients send.
out=$(client curl -s --max-time 20 -H 'Connection: close' \
	--resolve "canary.example.com:80:$VIP" -d '{"instances": [[0.1, 0.2]]}' \
	"http://canary.example.com/v1/models/image_classifier:predict?n=[1-10]" |
	grep -o '"model_version": "[^"]*"' | cut -d'"' -f4 | sort | uniq -c)
expect_all 10 resnet101 "curl --resolve canary.example.com:80:$VIP" "$out"

# No VirtualService has it: no route, the gateway's 404 (as Envoy's).
for host in evil.example example.org canary.example.com.evil; do
	code=$(client curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		-H "Host: $host" "http://$VIP/v1/models/image_classifier")
	check "$MODE: Host: $host gets no route: HTTP $code from the gateway" \
		test "$code" = 404
done

# ------------------------------------------------------------ not served

cat >"$tmp/reviews.yaml" <<EOF
# Istio's samples bind no gateway: the sidecars' VirtualService
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: image-classifier
        subset: resnet50
        port:
          number: 8501
EOF
err=$(kanary apply -f "$tmp/reviews.yaml" 2>&1)
rc=$?
check "$MODE: a VirtualService with no gateways is applied (exit $rc)" test "$rc" -eq 0
check "$MODE: ... with a warning naming its file and line ($err)" \
	grep -q "^kanary: $tmp/reviews.yaml:2: warning: VirtualService reviews has no 'gateways'" <<<"$err"
status=$(kanary status)
check "$MODE: status shows it as not served" \
	grep -q "^not served:  default/reviews: no gateways" <<<"$status"
check "$MODE: status lists no route for it" \
	bash -c "! grep -q '^route: .*default/reviews' <<<\"\$1\"" _ "$status"
check "$MODE: status lists the port: $(grep '^port:' <<<"$status")" \
	grep -q "^port:        $VIP:80 HTTP L7: default/canary (canary.example.com), default/stable (\*.example.org stable.example.com)$" <<<"$status"
json=$(kanary status --json)
check "$MODE: status --json has the ports and what is not served" \
	"$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
p = d["ports"]
assert len(p) == 1 and p[0]["port"] == 80 and p[0]["path"] == "L7", p
assert p[0]["listen"] == [sys.argv[2] + ":80"], p
assert [v["name"] for v in p[0]["virtualservices"]] == ["default/canary", "default/stable"], p
assert [v["name"] for v in d["not_served"]] == ["default/reviews"], d["not_served"]
' "$json" "$VIP"
# Still served as before.
expect_all 10 resnet101 "Host: canary.example.com after the apply" \
	"$(versions 10 -H 'Host: canary.example.com')"

summary
