#!/usr/bin/env bash
# Blind resets and packets kanary must not forward, on real veths, in the
# mode given ($1: xdp or tc), on the L4 path, or with $2 = l7 on the L7
# path (the lab's focused routing: the connection is spliced). A
# keep-alive connection is hit by spoofed RSTs from the client's
# namespace (its 4-tuple, random
# sequence numbers): it keeps working, and kanary counts them. The client
# then really resets it (SO_LINGER 0, the exact sequence number): the
# endpoint's socket and kanary's flow are gone. A SYN tagged for a VLAN
# the gateway does not have makes no connection.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
MODE=$1
PATH_KIND=${2:-l4}
VS=virtualservice-weight-70.yaml
[ "$PATH_KIND" = l7 ] && VS=virtualservice-focused-routing.yaml
MODE_SHOWN=$MODE
MODE="$MODE_SHOWN/$PATH_KIND"

echo "# blind RSTs and martian packets in $MODE_SHOWN mode, $PATH_KIND path"
lab_up "$MODE_SHOWN" || { not_ok "$MODE: lab and load"; summary; exit 1; }

# counter TEXT_PREFIX: a kn_global counter, by the start of its text.
counter() {
	kanary status --json | python3 -c '
import json, sys
print(sum(c["packets"] for c in json.load(sys.stdin)["counters"]
          if c["what"].startswith(sys.argv[1])))' "$1"
}
# The endpoints' ESTABLISHED sockets (the lab's servers listen on $PORT).
established_at_endpoints() {
	local ns
	for ns in $EP_NSES; do
		ip netns exec "$ns" ss -Htn state established "( sport = :$PORT )"
	done | wc -l
}
no_vip_flows() { conn_maps | grep -q ' vip_left=0'; }
connections() {
	kanary stats --json | python3 -c 'import json,sys; print(sum(s["connections"] for v in json.load(sys.stdin)["virtualservices"] for s in v["subsets"]))'
}

check "$MODE: apply the lab's $VS" kanary apply -f "$LAB_DIR/gateway.yaml" \
	-f "$LAB_DIR/service.yaml" -f "$LAB_DIR/destinationrule.yaml" \
	-f "$LAB_DIR/workloadentries.yaml" -f "$LAB_DIR/$VS"

blind0=$(counter "dropped (RST at")
out=$(client python3 "$ROOT/tests/tools/blind_rst.py" --host "$VIP" \
	--count 20 --abort)
echo "# $out"
check "$MODE: the connection worked before the spoofed RSTs" \
	grep -q " before=ok " <<<"$out"
check "$MODE: and after 20 spoofed RSTs with its 4-tuple" \
	grep -q " after=ok " <<<"$out"
blind=$(($(counter "dropped (RST at") - blind0))
check "$MODE: kanary dropped the 20 blind RSTs (counted $blind)" \
	test "$blind" -eq 20
check "$MODE: the client's own RST (SO_LINGER 0) ended it at the endpoint" \
	wait_for 5 test "$(established_at_endpoints)" -eq 0
check "$MODE: and in kn_flows" \
	wait_for 5 no_vip_flows

# A SYN tagged for VLAN 7, which the gateway has no device for, sent
# from the client's veth with the tag in the frame: the gateway's kernel
# moves it into the skb before tc, which then sees a plain IPv4 frame
# (XDP sees the tag in the frame). Three copies, from one port.
gw_mac=$(ip netns exec "$GW_NS" cat /sys/class/net/c0/address)
conns0=$(connections)
check "$MODE: send a SYN tagged for VLAN 7" ip netns exec "$CLIENT_NS" python3 - "$gw_mac" \
	"$CLIENT_IP" "$VIP" "$CLIENT_IFACE" <<'PY'
import socket, struct, sys
mac, src, dst, dev = sys.argv[1:5]
def csum(d):
    s = sum(struct.unpack(f"!{len(d) // 2}H", d))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
tcp = struct.pack("!HHIIBBHHH", 47777, 80, 1000, 0, 5 << 4, 0x02, 64240, 0, 0)
ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, 20)
tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp)) + tcp[18:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0,
                 socket.inet_aton(src), socket.inet_aton(dst))
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
me = open(f"/sys/class/net/{dev}/address").read().strip()
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
for _ in range(3):
    s.send(bytes.fromhex(mac.replace(":", "")) +
           bytes.fromhex(me.replace(":", "")) +
           b"\x81\x00\x00\x07\x08\x00" + ip + tcp)
PY
sleep 0.3
check "$MODE: it made no connection" test "$(connections)" -eq "$conns0"
check "$MODE: and no endpoint saw it" \
	test "$(for ns in $EP_NSES; do ip netns exec "$ns" ss -Htn state syn-recv; done | wc -l)" -eq 0

summary
