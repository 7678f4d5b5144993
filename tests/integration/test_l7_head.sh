#!/usr/bin/env bash
# Request heads longer than a segment, or sent slowly, on the L7 path, with
# real clients: the deciding header after a 6 KB cookie (curl, python
# requests), a head written one byte per send() and in two writes with a
# pause (tests/tools/slow_request.py), a head over the 16 KiB limit
# (431), heads that are not HTTP/1.x (400), and nothing left held
# afterwards. kanary attached in the mode given ($1).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
MODE=$1
TOOLS=$ROOT/tests/tools

echo "# L7 request heads over many segments in $MODE mode"
lab_up "$MODE" || { not_ok "$MODE: lab and load"; summary; exit 1; }
tmp=$(mktemp -d)
cleanup() {
	rm -rf "$tmp"
	lab_down
}
trap cleanup EXIT

base=(-f "$LAB_DIR/gateway.yaml" -f "$LAB_DIR/service.yaml"
	-f "$LAB_DIR/destinationrule.yaml" -f "$LAB_DIR/workloadentries.yaml")
err=$(kanary apply "${base[@]}" -f "$LAB_DIR/virtualservice-focused-routing.yaml" 2>&1)
rc=$?
check "$MODE: apply the lab's focused routing${err:+ ($err)}" test "$rc" -eq 0
[ "$rc" -eq 0 ] || { summary; exit 1; }

flat() { tr -s ' \n' '  ' <<<"$1" | sed 's/^ //; s/ $//'; }
cookie() { head -c "$1" /dev/zero | tr '\0' c; }
# field NAME: NAME's count in conn_maps' summary line.
field() { sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p" <<<"$maps_sum"; }
# metric NAME: kanary_datapath_packets_total{counter=NAME} (0 if absent).
metric() {
	kanary metrics | awk -v want="kanary_datapath_packets_total{counter=\"$1\"}" \
		'$1 == want { v = $2 } END { print v + 0 }'
}

# ------------------------------------------------------------ a long cookie

big=$(cookie 6000)
out=$(versions 20 -H "Cookie: session=$big" -H 'user-group: canary')
check "$MODE: curl, 6 KB cookie before 'user-group: canary': all 20 to resnet101 ($(flat "$out"))" \
	test "$(count_of resnet101 <<<"$out")" -eq 20
out=$(versions 20 -H "Cookie: session=$big" -H 'user-group: beta')
check "$MODE: curl, 6 KB cookie, no canary header: all 20 to resnet50 ($(flat "$out"))" \
	test "$(count_of resnet50 <<<"$out")" -eq 20
big=$(cookie 12000)
out=$(versions 10 -H "Cookie: session=$big" -H 'user-group: canary')
check "$MODE: curl, 12 KB cookie (nine segments) before the header: all 10 to resnet101 ($(flat "$out"))" \
	test "$(count_of resnet101 <<<"$out")" -eq 10

out=$(client python3 - "$VIP" <<'PY' 2>&1
import sys
import requests
vip = sys.argv[1]
url = "http://%s/v1/models/image_classifier:predict" % vip
got = []
for hdr in ({"user-group": "canary"}, {}):
    h = {"Cookie": "session=" + "c" * 6000}
    h.update(hdr)
    r = requests.post(url, json={"instances": [[0.1, 0.2]]}, headers=h,
                      timeout=20)
    got.append("%d:%s" % (r.status_code, r.json().get("model_version")))
print(" ".join(got))
PY
)
check "$MODE: python requests, 6 KB cookie: canary header to resnet101, none to resnet50 ($out)" \
	test "$out" = "200:resnet101 200:resnet50"

# ------------------------------------------------------------ slow heads

slow() { client python3 "$TOOLS/slow_request.py" --host "$VIP" "$@"; }
out=$(slow --piece 1 --header 'user-group: canary')
check "$MODE: one byte per send(): to resnet101 ($out)" \
	test "$out" = "status=200 version=resnet101"
out=$(slow --piece 1)
check "$MODE: one byte per send(), no header: to resnet50 ($out)" \
	test "$out" = "status=200 version=resnet50"
out=$(slow --piece 60 --delay 0.3 --header 'user-group: canary')
check "$MODE: 60 bytes per send() with 0.3 s pauses: to resnet101 ($out)" \
	test "$out" = "status=200 version=resnet101"
out=$(slow --piece 1000 --delay 0.05 --cookie-bytes 5000 --header 'user-group: canary')
check "$MODE: a 5 KB cookie in 1000-byte writes: to resnet101 ($out)" \
	test "$out" = "status=200 version=resnet101"

# ------------------------------------------------------------ the limit

before=$(metric l7_answer_431)
big=$(cookie 20000)
res=$(client curl -s -o "$tmp/body" -D "$tmp/head" -w '%{http_code}' --max-time 20 \
	-H "Cookie: session=$big" -d '{}' "http://$VIP/v1/models/image_classifier:predict")
rc=$?
check "$MODE: curl, 20 KB cookie (over 16 KiB): 431 from the gateway, curl exit 0 (got $res, exit $rc)" \
	test "$res" = 431 -a "$rc" -eq 0
check "$MODE: the 431 says connection: close" grep -qi '^connection: close' "$tmp/head"
after=$(metric l7_answer_431)
check "$MODE: l7_answer_431 counted it ($before -> $after)" test "$after" -gt "$before"

# ------------------------------------------------------------ not HTTP/1.x

# Bare LF line ends, and an HTTP/2 preface: answered 400, never routed.
before=$(metric l7_answer_400)
out=$(client python3 - "$VIP" <<'PY' 2>&1
import socket
import sys
got = []
for req in (b"GET / HTTP/1.1\nHost: a\nuser-group: canary\n\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"):
    s = socket.create_connection((sys.argv[1], 80), timeout=10)
    s.sendall(req)
    answer = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        answer += b
    s.close()
    got.append(answer.split(b"\r\n", 1)[0].decode())
print("|".join(got))
PY
)
check "$MODE: bare-LF and HTTP/2-preface heads answered 400 by the gateway ($out)" \
	test "$out" = "HTTP/1.1 400 Bad Request|HTTP/1.1 400 Bad Request"
after=$(metric l7_answer_400)
check "$MODE: l7_answer_400 counted them ($before -> $after)" \
	test "$after" -ge $((before + 2))

# A head cut short by the client's FIN: 400, and the FIN acked with it,
# so that the client's socket is done when it reads the end (closed, its
# TIME_WAIT taken over), not CLOSING with its FIN resent an RTO later.
out=$(client python3 - "$VIP" <<'PY' 2>&1
import socket
import sys
s = socket.create_connection((sys.argv[1], 80), timeout=10)
s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")
s.shutdown(socket.SHUT_WR)
answer = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    answer += b
state = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
s.close()
names = {7: "CLOSE", 11: "CLOSING", 4: "FIN-WAIT-1", 5: "FIN-WAIT-2"}
print(answer.split(b"\r\n", 1)[0].decode() + "|" + names.get(state, str(state)))
PY
)
check "$MODE: a head cut short by a FIN: 400, the FIN acked with it ($out)" \
	test "$out" = "HTTP/1.1 400 Bad Request|CLOSE"

# ------------------------------------------------------------ nothing left

sleep 3
maps_sum=$(conn_maps 2>&1 | head -n 1)
check "$MODE: 3 s after, nothing held: kn_synq, kn_head, kn_hold empty ($maps_sum)" \
	grep -qE '^synq=0 hold=0 chunks=0 ' <<<"$maps_sum"

trap - EXIT
cleanup
summary
