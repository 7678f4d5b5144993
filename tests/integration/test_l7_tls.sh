#!/usr/bin/env bash
# TLS passthrough by SNI through kanary's L7 path, end to end: a Gateway
# server in PASSTHROUGH mode on 443 and a VirtualService with tls routes
# (a.example to v1, b.example 70/30 between v1 and v2), HTTPS endpoints
# that terminate TLS themselves (self-signed certificates made here), and
# real clients (curl, openssl s_client); kanary attached in the mode given
# ($1: xdp, tc, ...).
#
# Knobs (environment): TLS_SPLIT_COUNT (connections for the 70/30 split;
# 400).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
MODE=$1
N=${TLS_SPLIT_COUNT:-400}
TLS_PORT=8443

echo "# L7 TLS passthrough by SNI in $MODE mode"
lab_up "$MODE" || { not_ok "$MODE: lab and load"; summary; exit 1; }
tmp=$(mktemp -d)
servers=()
cleanup() {
	local p
	for p in "${servers[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
	lab_down
}
trap cleanup EXIT

# ------------------------------------------------------------ endpoints

# One self-signed certificate for every endpoint: the clients do not
# verify it (-k), the test is about where the connection goes.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-days 1 -subj /CN=kanary-tls-test -keyout "$tmp/key.pem" \
	-out "$tmp/cert.pem" >/dev/null 2>&1
check "$MODE: a self-signed certificate" test -s "$tmp/cert.pem"
for i in 1 2 3; do
	ns=EP${i}_NS addr=EP$i
	ip netns exec "${!ns}" python3 "$ROOT/tests/tools/tls_server.py" \
		--addr "${!addr}" --port "$TLS_PORT" --cert "$tmp/cert.pem" \
		--key "$tmp/key.pem" --name "ep$i" >"$tmp/ep$i.log" 2>&1 &
	servers+=($!)
done
for i in 1 2 3; do
	ns=EP${i}_NS addr=EP$i
	check "$MODE: HTTPS endpoint ep$i answers on ${!addr}:$TLS_PORT" \
		wait_for 10 ip netns exec "${!ns}" curl -skf -o /dev/null \
		--max-time 1 "https://${!addr}:$TLS_PORT/"
done

# ------------------------------------------------------------ config

# ep1 and ep2 are v1, ep3 is v2.
cat >"$tmp/tls.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tls-gateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: ['*']
    tls: {mode: PASSTHROUGH}
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports:
  - {name: https, port: 443, targetPort: $TLS_PORT}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo}
spec:
  host: echo
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-1}
spec: {address: $EP1, labels: {app: echo, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-2}
spec: {address: $EP2, labels: {app: echo, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-3}
spec: {address: $EP3, labels: {app: echo, version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: [a.example, b.example]
  gateways: [tls-gateway]
  tls:
  - match:
    - port: 443
      sniHosts: [a.example]
    route:
    - destination: {host: echo, subset: v1, port: {number: 443}}
  - match:
    - port: 443
      sniHosts: [b.example]
    route:
    - destination: {host: echo, subset: v1, port: {number: 443}}
      weight: 70
    - destination: {host: echo, subset: v2, port: {number: 443}}
      weight: 30
EOF
err=$(kanary apply --strict -f "$tmp/tls.yaml" 2>&1)
rc=$?
check "$MODE: apply --strict a PASSTHROUGH Gateway and tls routes${err:+ ($err)}" \
	test "$rc" -eq 0
if [ "$rc" -ne 0 ]; then
	echo "# every other check needs the config: stopping"
	summary
	exit 1
fi

# ------------------------------------------------------------ routing

# https://NAME/?n=[1-COUNT] through the VIP: one connection per request
# (the endpoint closes each); prints "count endpoint" lines.
sni_get() { # NAME COUNT
	client curl -sk --max-time 30 --resolve "$1:443:$VIP" \
		"https://$1/?n=[1-$2]" |
		sed -n 's/^endpoint=\(ep[0-9]\) sni=.*/\1/p' | sort | uniq -c
}
count() { awk -v e="$1" '$2 == e { n = $1 } END { print n + 0 }'; }
flat() { tr -s ' \n' '  ' <<<"$1" | sed 's/^ //; s/ $//'; }

out=$(sni_get a.example 40)
v1=$(($(count ep1 <<<"$out") + $(count ep2 <<<"$out")))
check "$MODE: curl, SNI a.example: 40 of 40 on v1 ($(flat "$out"))" \
	test "$v1" -eq 40 -a "$(count ep3 <<<"$out")" -eq 0

# The endpoint saw the client's own ClientHello: the SNI came through.
sni_seen=$(client curl -sk --max-time 10 --resolve "a.example:443:$VIP" \
	https://a.example/)
check "$MODE: the endpoint terminated TLS with SNI a.example ($sni_seen)" \
	grep -q 'sni=a.example$' <<<"$sni_seen"

# openssl s_client: another TLS stack's ClientHello.
osc=$(client timeout 10 openssl s_client -connect "$VIP:443" \
	-servername a.example -quiet 2>/dev/null <<<$'GET / HTTP/1.0\r\n\r' |
	grep -a '^endpoint=')
check "$MODE: openssl s_client -servername a.example: v1 ($osc)" \
	grep -Eq '^endpoint=ep[12] sni=a.example' <<<"$osc"

out=$(sni_get b.example "$N")
v1=$(($(count ep1 <<<"$out") + $(count ep2 <<<"$out")))
v2=$(count ep3 <<<"$out")
# 70 % of N, sigma sqrt(N * 0.21): 5 sigma either way cannot flake.
lo=$(awk -v n="$N" 'BEGIN { printf "%d", n * 0.7 - 5 * sqrt(n * 0.21) }')
hi=$(awk -v n="$N" 'BEGIN { printf "%d", n * 0.7 + 5 * sqrt(n * 0.21) + 1 }')
check "$MODE: SNI b.example, $N connections: v1 $v1 (in $lo..$hi), v2 $v2 ($(flat "$out"))" \
	test "$((v1 + v2))" -eq "$N" -a "$v1" -ge "$lo" -a "$v1" -le "$hi"

# No route for other names, and none without a name (no '*' route): the
# connection is reset, as Envoy closes it.
check "$MODE: SNI c.example matches no route: refused" \
	bash -c "! nsenter --net=/run/netns/$CLIENT_NS curl -sk --max-time 5 \
		--resolve c.example:443:$VIP https://c.example/ >/dev/null"
check "$MODE: no SNI (an address): refused" \
	bash -c "! nsenter --net=/run/netns/$CLIENT_NS curl -sk --max-time 5 \
		https://$VIP/ >/dev/null"

# ------------------------------------------------------------ stats

stats=$(kanary stats --json)
read -r r0 r1 c1 c2 < <(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
vs = [v for v in d["virtualservices"] if v["name"] == "echo"][0]
rules = {r["name"]: r["connections"] for r in vs["rules"]}
subs = {s["name"]: s["connections"] for s in vs["subsets"]}
print(rules.get("tls[0]", -1), rules.get("tls[1]", -1), subs.get("v1", -1),
      subs.get("v2", -1))' "$stats" 2>"$tmp/stats.err" || echo "-1 -1 -1 -1")
want0=$((40 + 2))
check "$MODE: stats: rule tls[0] took $r0 connections ($want0)" \
	test "$r0" -eq "$want0"
check "$MODE: stats: rule tls[1] took $r1 connections ($N)" \
	test "$r1" -eq "$N"
check "$MODE: stats: subsets v1 $c1 + v2 $c2 = $((want0 + N)), v2 $c2 = $v2" \
	test "$((c1 + c2))" -eq "$((want0 + N))" -a "$c2" -eq "$v2"
noroute=$(kanary status --json | python3 -c '
import json, sys
c = {x["what"]: x["packets"] for x in json.load(sys.stdin)["counters"]}
print(next((v for k, v in c.items() if "no tls route" in k), -1))' \
	2>/dev/null || echo -1)
check "$MODE: status counts the refused connections ($noroute >= 2)" \
	test "$noroute" -ge 2

# ------------------------------------------------------------ set-weight

# tls[1] is the one route with both subsets: set-weight moves it, live;
# tls[0] (v1 alone) keeps a.example on v1. v1 alone is in both routes:
# refused, nothing changed. promote judges HTTP responses, which TLS
# hides: refused with the reason.
expect_msg 1 "$MODE: set-weight v1=1, a subset of two tls routes: refused" \
	"in 2 routes (tls[0], tls[1])" kanary set-weight echo v1=1
check "$MODE: set-weight v1=0 v2=100 (the tls route b.example takes)" \
	kanary set-weight echo v1=0 v2=100
out=$(sni_get b.example 30)
check "$MODE: after set-weight, SNI b.example: 30 of 30 on v2 ($(flat "$out"))" \
	test "$(count ep3 <<<"$out")" -eq 30
out=$(sni_get a.example 10)
check "$MODE: after set-weight, SNI a.example: 10 of 10 still on v1 ($(flat "$out"))" \
	test "$(($(count ep1 <<<"$out") + $(count ep2 <<<"$out")))" -eq 10
st=$(kanary status)
check "$MODE: status shows tls[1]'s new weights" \
	grep -qF "tls[1] (sni b.example) -> v1=0 v2=100" <<<"$st"
expect_msg 1 "$MODE: promote on a tls route: refused, with the reason" \
	"cannot read inside TLS" kanary promote echo --to v2 --steps 50,100 \
	--interval 1s
summary
