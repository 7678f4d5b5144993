#!/usr/bin/env bash
# An endpoint's TIME_WAITs after a reload, in the mode given ($1, default
# tc). Close-mode connections (the endpoint closes first) to one endpoint
# leave it a TIME_WAIT on each SNAT port; a new load (new hash seed, empty
# maps) knows nothing of them, so some of its connections get ports the
# endpoint still holds, and about half of those SYNs are refused by PAWS
# with a bare ACK. kanary resets that TIME_WAIT and sends the SYN again:
# no client sends a SYN twice (TcpExtTCPSynRetrans in the client's
# namespace), and kanary counts the SYNs it sent again.
#   tests/integration/test_time_wait.sh [MODE]   (TW_CONNS: per burst)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
MODE=${1:-tc}
N=${TW_CONNS:-1500}

echo "# endpoint TIME_WAITs after a reload ($MODE)"
lab_up "$MODE" || { not_ok "$MODE: lab and load"; summary; exit 1; }

# counter TEXT_PREFIX: a kn_global counter, by the start of its text.
counter() {
	kanary status --json | python3 -c '
import json, sys
print(sum(c["packets"] for c in json.load(sys.stdin)["counters"]
          if c["what"].startswith(sys.argv[1])))' "$1"
}
# The client namespace's SYN retransmissions so far.
syn_retrans() {
	client awk '/^TcpExt:/ { if (!c) { for (i = 1; i <= NF; i++)
		if ($i == "TCPSynRetrans") c = i } else print $c }' \
		/proc/net/netstat
}
# Everything to resnet101: one endpoint, ep3, whose ports all collide.
apply_ep3() {
	kanary apply -f "$LAB_DIR/gateway.yaml" -f "$LAB_DIR/service.yaml" \
		-f "$LAB_DIR/destinationrule.yaml" \
		-f "$LAB_DIR/workloadentries.yaml" \
		-f "$LAB_DIR/virtualservice-weight-70.yaml" >/dev/null &&
		kanary set-weight image-classifier resnet50=0 resnet101=100 \
			>/dev/null
}

check "$MODE: everything to resnet101 (ep3)" apply_ep3
out=$(versions "$N")
check "$MODE: $N close-mode connections answered ($(echo $out))" \
	test "$(count_of resnet101 <<<"$out")" -eq "$N"
tw=$(ip netns exec "$EP3_NS" ss -Htn state time-wait "( sport = :$PORT )" |
	wc -l)
# Not one per connection (measured: 450-1450 of 1500): curl closes as
# soon as it has the whole response, often before the server's FIN comes,
# and the server then ends in CLOSED, not TIME_WAIT.
check "$MODE: ep3 holds TIME_WAITs on the SNAT ports ($tw)" \
	test "$tw" -ge $((N / 4))

check "$MODE: unload" kanary unload
check "$MODE: load again (new hash seed, empty maps)" \
	kanary load --mode "$MODE" --vip "$VIP" --iface c0 --iface e1 \
	--iface e2 --iface e3
check "$MODE: everything to resnet101 again" apply_ep3
r0=$(syn_retrans)
out=$(versions "$N")
retrans=$(($(syn_retrans) - r0))
resent=$(counter "L4: endpoint answered the SYN with an old ACK")
check "$MODE: $N more answered ($(echo $out))" \
	test "$(count_of resnet101 <<<"$out")" -eq "$N"
check "$MODE: kanary sent SYNs again after the endpoint's bare ACK ($resent)" \
	test "$resent" -gt 0
check "$MODE: no client sent a SYN twice ($retrans TCPSynRetrans)" \
	test "$retrans" -eq 0

summary
