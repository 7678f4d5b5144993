#!/usr/bin/env bash
# The gateway's own 404 on the L7 path, with real clients: Istio's
# bookinfo-gateway.yaml and helloworld-gateway.yaml (in their shapes,
# tests/integration/samples/) route by uri only; a matched path is served
# (200, by the endpoint), every other path is answered 404 by kanary with
# `connection: close`, and the connection closes cleanly: no reset, no
# retransmission, nothing left in kn_synq. Counted (status, metrics).
#   tests/integration/test_l7_answer.sh MODE   (auto, xdp, xdp-generic, tc)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
MODE=$1
SAMPLES=$ROOT/tests/integration/samples

echo "# the gateway's 404 (Istio's bookinfo and helloworld samples) in $MODE mode"
lab_up "$MODE" || { not_ok "$MODE: lab and load"; summary; exit 1; }
tmp=$(mktemp -d)
echo_pids=()
cleanup() {
	local p
	for p in "${echo_pids[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
	lab_down
}
trap cleanup EXIT

# The samples' pods: a server that answers 200 on every path, so that a
# 404 can only be the gateway's.
echo_server() { # NS ADDR PORT NAME
	ip netns exec "$1" python3 "$ROOT/tests/tools/echo_server.py" \
		--addr "$2" --port "$3" --name "$4" </dev/null \
		>>"$tmp/echo.log" 2>&1 &
	echo_pids+=($!)
	wait_for 10 ip netns exec "$1" curl -sf -o /dev/null --max-time 1 \
		"http://$2:$3/"
}
if echo_server "$EP1_NS" "$EP1" 9080 productpage &&
	echo_server "$EP2_NS" "$EP2" 5000 helloworld-v1 &&
	echo_server "$EP3_NS" "$EP3" 5000 helloworld-v2; then
	ok "$MODE: productpage and helloworld servers up"
else
	not_ok "$MODE: productpage and helloworld servers up"
fi

# ------------------------------------------------------------ the gateway's TIME_WAITs

# For "closed before a request" below: TIME_WAITs in the gateway's own
# stack on the tuples those clients will use, as a proxy that served the
# VIP leaves them (the HTTP benchmark's nginx and haproxy cases): a server
# on VIP:80, before the config makes the port kanary's, that closes first.
EARLY_PORTS=(20001 20002 20003 20004 20005 20006 20007 20008)
gw timeout 10 "$PY" - "$VIP" "${#EARLY_PORTS[@]}" >"$tmp/closer.log" 2>&1 <<'PY' &
import socket, sys
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], 80))
ls.listen(16)
print("listening", flush=True)
for _ in range(int(sys.argv[2])):
    c, _ = ls.accept()
    c.close()
PY
closer=$!
wait_for 5 grep -q listening "$tmp/closer.log"
client "$PY" - "$CLIENT_IP" "$VIP" "${EARLY_PORTS[@]}" <<'PY'
import socket, sys
for port in map(int, sys.argv[3:]):
    s = socket.socket()
    s.bind((sys.argv[1], port))
    s.connect((sys.argv[2], 80))
    s.recv(1)
    s.close()
PY
wait "$closer"
tw=$(gw ss -Htn state time-wait "( sport = :80 )" | wc -l)
check "$MODE: the gateway holds TIME_WAITs on VIP:80 ($tw of ${#EARLY_PORTS[@]})" \
	test "$tw" -eq "${#EARLY_PORTS[@]}"

err=$(kanary apply -f "$SAMPLES/services.yaml" \
	-f "$SAMPLES/bookinfo-gateway.yaml" \
	-f "$SAMPLES/helloworld-gateway.yaml" 2>&1)
rc=$?
check "$MODE: apply the bookinfo and helloworld samples${err:+ ($err)}" \
	test "$rc" -eq 0
[ "$rc" -eq 0 ] || { summary; exit 1; }

# metric NAME: kanary_datapath_packets_total{counter=NAME} (0 if absent).
metric() {
	kanary metrics | awk -v want="kanary_datapath_packets_total{counter=\"$1\"}" \
		'$1 == want { v = $2 } END { print v + 0 }'
}
# The client's TCP counters (nstat, absolute): resets it received on
# established connections, segments it retransmitted.
client_tcp() {
	client nstat -az TcpEstabResets TcpRetransSegs |
		awk '$1 == "TcpEstabResets" { r = $2 } $1 == "TcpRetransSegs" { s = $2 }
		     END { print r + 0, s + 0 }'
}
# code URL: curl's status code and exit status, "404 0" for a clean 404.
code() {
	local out rc
	out=$(client curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$1")
	rc=$?
	echo "$out $rc"
}

before=$(metric l7_answer_404)
read -r resets0 retrans0 <<<"$(client_tcp)"
NOT_FOUND=0

# ------------------------------------------------------------ closed before a request

# Clients that connect and close without sending a byte (wrk's address
# check, the connections wrk closes as it stops, TCP health checks), on
# the tuples of those TIME_WAITs: the gateway acks each FIN with its own
# at once. (Dropped, the FIN went again an RTO later to the gateway's
# stack, whose TIME_WAIT answered with an ACK of the older connection:
# the client stayed in FIN-WAIT-1 until that TIME_WAIT expired.)
client "$PY" - "$CLIENT_IP" "$VIP" "${EARLY_PORTS[@]}" <<'PY'
import socket, sys
for port in map(int, sys.argv[3:]):
    s = socket.socket()
    s.bind((sys.argv[1], port))
    s.connect((sys.argv[2], 80))
    s.close()
PY
sleep 1
left=$(client ss -Htn state fin-wait-1 | wc -l)
check "$MODE: closed before a request: none left in FIN-WAIT-1 ($left)" \
	test "$left" -eq 0
tw=$(client ss -Htn state time-wait "( dport = :80 )" | wc -l)
check "$MODE: closed before a request: the gateway closed too, the client in TIME-WAIT ($tw of ${#EARLY_PORTS[@]})" \
	test "$tw" -eq "${#EARLY_PORTS[@]}"

# ------------------------------------------------------------ bookinfo

BOOK=http://$VIP:8080
for path in /productpage '/productpage?u=normal' /static /static/css/app.css \
	/login /logout /api/v1/products /api/v1/products/0/reviews; do
	got=$(code "$BOOK$path")
	check "$MODE: bookinfo $path: 200 ($got)" test "$got" = "200 0"
done
for path in / /index.html /productpage/ /productpages /Login /logout/x \
	/api/v1 /details/0; do
	got=$(code "$BOOK$path")
	NOT_FOUND=$((NOT_FOUND + 1))
	check "$MODE: bookinfo $path: 404, curl exit 0 ($got)" test "$got" = "404 0"
done
served=$(client curl -s --max-time 10 "$BOOK/productpage")
check "$MODE: bookinfo /productpage served by productpage ($served)" \
	test "$served" = "productpage GET /productpage"

# The answer itself, as curl reads it.
client curl -s -D "$tmp/head" -o "$tmp/body" --max-time 10 "$BOOK/" >/dev/null
# shellcheck disable=SC2016 # expanded by the inner shell
check "$MODE: the 404's head: status line, connection: close, no body ($(tr -d '\r' <"$tmp/head" | paste -sd'|'))" \
	bash -c 'head -n 1 "$1" | grep -q "^HTTP/1.1 404 Not Found" &&
		grep -qi "^connection: close" "$1" &&
		grep -qi "^content-length: 0" "$1" &&
		grep -qi "^server: kanary" "$1" && test ! -s "$2"' _ \
	"$tmp/head" "$tmp/body"
NOT_FOUND=$((NOT_FOUND + 1))

# ------------------------------------------------------------ helloworld

HELLO=http://$VIP
got=$(code "$HELLO/hello")
check "$MODE: helloworld /hello: 200 ($got)" test "$got" = "200 0"
for path in / /hello/ /hello/x /hellox /Hello '/hello/?x=1'; do
	got=$(code "$HELLO$path")
	NOT_FOUND=$((NOT_FOUND + 1))
	check "$MODE: helloworld $path: 404, curl exit 0 ($got)" test "$got" = "404 0"
done

# ------------------------------------------------------------ python requests

# A connection each; then one Session whose first request is answered
# 404: its `connection: close` makes requests open a new connection for
# the next, which is routed afresh. (A kept-alive connection stays where
# its first request went: docs/L7.md, "Limits".)
out=$(client "$PY" - "$BOOK" "$HELLO" <<'PY' 2>&1
import sys
import requests

book, hello = sys.argv[1], sys.argv[2]
got = []
def note(r):
    got.append("%d%s" % (r.status_code,
                         "-empty" if r.status_code == 404 and not r.content
                         else ""))
for url in (book + "/productpage", book + "/", hello + "/hello/",
            hello + "/hello", book + "/nothing"):
    note(requests.get(url, timeout=10))
s = requests.Session()
for url in (book + "/", book + "/login"):
    note(s.get(url, timeout=10))
print(" ".join(got))
PY
)
NOT_FOUND=$((NOT_FOUND + 4))
check "$MODE: python requests: 200 404 404 200 404, then one Session 404 200 ($out)" \
	test "$out" = "200 404-empty 404-empty 200 404-empty 404-empty 200"

# ------------------------------------------------------------ the close

# Every 404 connection, and every one closed before its request, closed
# cleanly: nothing left in kn_synq (the client's FIN was acked and the
# entry deleted), no reset, no retransmission on the client's side.
sleep 1
maps=$(conn_maps)
check "$MODE: no half-open entry left ($maps)" grep -q '^synq=0 ' <<<"$maps"
read -r resets1 retrans1 <<<"$(client_tcp)"
check "$MODE: the client saw no reset ($((resets1 - resets0)))" \
	test "$resets1" -eq "$resets0"
check "$MODE: the client retransmitted nothing ($((retrans1 - retrans0)))" \
	test "$retrans1" -eq "$retrans0"

# ------------------------------------------------------------ counted

after=$(metric l7_answer_404)
check "$MODE: metrics count every 404 once ($((after - before)) of $NOT_FOUND)" \
	test "$((after - before))" -eq "$NOT_FOUND"
line=$(kanary status | grep 'answered 404')
check "$MODE: status names the counter ($(tr -s ' ' <<<"$line"))" \
	test "$(awk '{ print $1 }' <<<"$line")" -eq "$after"

summary
