#!/usr/bin/env bash
# Which hook rewrites on each interface, and why: the default (auto) on
# veths as the kernel makes them, --mode xdp refused where its frames
# would be lost, and the native XDP fast path where it is correct.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
LAB_KIND=modes
echo "# attach modes"

# lab_bare [lab.sh up args]: namespaces and servers, nothing loaded.
lab_bare() {
	PREFIX=kn-$LAB_KIND-$$-$1
	PIN=/sys/fs/bpf/kanary-$LAB_KIND-$$-$1
	export KANARY_STATE_ROOT=/run/kanary-$LAB_KIND-$$
	shift
	trap lab_down EXIT
	bash "$LAB" up "$PREFIX" --servers "$@" || return 1
	eval "$(bash "$LAB" env "$PREFIX")"
}

IFACES=(--iface c0 --iface e1 --iface e2 --iface e3)
base=(-f "$LAB_DIR/gateway.yaml" -f "$LAB_DIR/service.yaml"
	-f "$LAB_DIR/destinationrule.yaml" -f "$LAB_DIR/workloadentries.yaml")

# hooks: "name=hook" per interface, from status --json.
hooks() {
	kanary status --json | python3 -c '
import json, sys
print(" ".join(i["name"] + "=" + i["hook"] for i in json.load(sys.stdin)["interfaces"]))'
}

# counter TEXT: a data path counter, by the words status prints for it.
counter() {
	kanary status --json | python3 -c '
import json, sys
print(sum(c["packets"] for c in json.load(sys.stdin)["counters"] if sys.argv[1] in c["what"]))' "$1"
}

# xdp_stat IFACE NAME: a veth's own XDP counter (ethtool -S), summed over
# its queues, in the gateway.
xdp_stat() {
	gw ethtool -S "$1" | awk -v n="$2" '$1 ~ n":$" { s += $2 } END { print s + 0 }'
}

# ------------------------------------------------ default offloads, auto
lab_bare auto || { not_ok "lab up"; summary; exit 1; }
check "load without --mode (auto) on default-offload veths" \
	kanary load --vip "$VIP" "${IFACES[@]}"
h=$(hooks)
check "auto: tc rewrites on every veth ($h)" \
	test "$h" = "c0=tc e1=tc e2=tc e3=tc"
why=$(kanary status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["interfaces"][0]["why"])')
check "auto: status says why ($why)" grep -q "partial checksums" <<<"$why"
check "auto: the text status names the hook per interface" \
	grep -q "^  c0 *rewrites in tc (veth" <<<"$(kanary status)"
kanary apply "${base[@]}" -f "$LAB_DIR/virtualservice-weight-70.yaml"
out=$(versions 300)
n50=$(count_of resnet50 <<<"$out")
n101=$(count_of resnet101 <<<"$out")
check "auto: 300 of 300 answered, 70/30 (resnet50 $n50, resnet101 $n101)" \
	test $((n50 + n101)) -eq 300 -a "$n101" -ge 60 -a "$n101" -le 120
kanary unload

# --mode xdp where XDP_TX and redirects into the veths would be lost.
err=$(kanary load --mode xdp --vip "$VIP" "${IFACES[@]}" 2>&1)
rc=$?
check "xdp on veths whose peers run no XDP: refused, one line ($err)" \
	test "$rc" -eq 1 -a "$(wc -l <<<"$err")" -eq 1
check "xdp refused: the reason names the interface and the fix" \
	grep -q "c0 (veth).*peer runs an XDP program; use --mode auto or tc" <<<"$err"
check "xdp refused: nothing attached, no pin dir" \
	test -z "$(gw ip link show c0 | grep -o 'xdp')" -a \
	-z "$(gw tc filter show dev c0 ingress)" -a ! -e "$PIN"

# The peers run XDP: xdp loads; partial checksums still go to tc.
bash "$LAB" xdp-peers "$PREFIX" on
check "xdp with peers that run XDP: loads" \
	kanary load --mode xdp --vip "$VIP" "${IFACES[@]}"
h=$(hooks)
check "xdp: XDP rewrites on every veth ($h)" \
	test "$h" = "c0=xdp e1=xdp e2=xdp e3=xdp"
kanary apply "${base[@]}" -f "$LAB_DIR/virtualservice-weight-70.yaml"
out=$(versions 300)
n=$(awk '{ n += $1 } END { print n + 0 }' <<<"$out")
check "xdp, default offloads: 300 of 300 answered ($(echo $out))" \
	test "$n" -eq 300
p=$(counter "TCP checksum left to offload")
check "xdp, default offloads: partial checksums were passed to tc ($p)" \
	test "$p" -ge 300
lab_down

# ------------------- egresses that finish checksums, as a NIC does
# The other test that changes offloads: TX checksum offload off on the
# gateway's own links, so that the kernel finishes every checksum left to
# offload in software on the way out, from the field's value on, as a NIC
# with TX checksum offload does in hardware. (Between two veths the
# receiver trusts a partial skb and never checks.) The peers keep theirs:
# their packets reach kanary with partial checksums, the case of pods on
# a gateway node whose endpoints are behind a NIC.
lab_bare nic || { not_ok "lab up"; summary; exit 1; }
for dev in c0 e1 e2 e3; do gw ethtool -K "$dev" tx off >/dev/null; done
check "finishing egresses: load (auto)" \
	kanary load --vip "$VIP" "${IFACES[@]}"
kanary apply "${base[@]}" -f "$LAB_DIR/virtualservice-weight-70.yaml"
out=$(versions 100)
n=$(awk '{ n += $1 } END { print n + 0 }' <<<"$out")
check "finishing egresses: L4, 100 of 100 answered ($(echo $out))" \
	test "$n" -eq 100
kanary apply -f "$LAB_DIR/virtualservice-focused-routing.yaml"
out=$(versions 50 -H 'user-group: canary')
check "finishing egresses: L7 (SYN-ACK, SYN and replay made up in tc), 50 of 50 with the header to resnet101 ($(echo $out))" \
	test "$(count_of resnet101 <<<"$out")" -eq 50
out=$(versions 50)
check "finishing egresses: L7, 50 of 50 without it to resnet50 ($(echo $out))" \
	test "$(count_of resnet50 <<<"$out")" -eq 50
lab_down

# ---------------------------------------- the native XDP fast path
# The last test that changes offloads: TX checksum offload off on the
# client and endpoint ends, so that frames reach the gateway with full
# checksums, as from a NIC, and XDP rewrites and redirects them itself.
lab_bare fast --full-checksums || { not_ok "lab up"; summary; exit 1; }
bash "$LAB" xdp-peers "$PREFIX" on
check "fast path: xdp loads" \
	kanary load --mode xdp --vip "$VIP" "${IFACES[@]}"
check "fast path: every interface takes XDP frames" \
	test "$(kanary status --json | python3 -c 'import json,sys; print(all(i["takes_xdp_frames"] for i in json.load(sys.stdin)["interfaces"]))')" = True
kanary apply "${base[@]}" -f "$LAB_DIR/virtualservice-weight-70.yaml"
redir_before=$(xdp_stat c0 xdp_redirect)
out=$(versions 300)
n50=$(count_of resnet50 <<<"$out")
n101=$(count_of resnet101 <<<"$out")
check "fast path: 300 of 300 answered, 70/30 (resnet50 $n50, resnet101 $n101)" \
	test $((n50 + n101)) -eq 300 -a "$n101" -ge 60 -a "$n101" -le 120
redir=$(($(xdp_stat c0 xdp_redirect) - redir_before))
check "fast path: XDP on c0 redirected the clients' packets itself ($redir frames for 300 connections)" \
	test "$redir" -ge 1200
p=$(counter "TCP checksum left to offload")
t=$(counter "egress takes no XDP frames")
check "fast path: nothing was passed to tc (partial $p, no-frames $t)" \
	test "$p" -eq 0 -a "$t" -eq 0
kanary apply -f "$LAB_DIR/virtualservice-focused-routing.yaml"
out=$(versions 50 -H 'user-group: canary')
check "fast path: L7, 50 of 50 with the header to resnet101 ($(echo $out))" \
	test "$(count_of resnet101 <<<"$out")" -eq 50
lab_down
summary
