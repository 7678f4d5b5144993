#!/usr/bin/env bash
# Header routing through kanary's L7 path (delayed binding), end to end: the
# lab's focused-routing VirtualService (`user-group: canary` to resnet101,
# everything else to resnet50) with real clients (curl, wrk, a Python burst
# client), multi-MB bodies both ways, thousands of connections, and a SYN
# flood; kanary attached in the mode given ($1: xdp or tc).
#
# Knobs (environment): L7_WRK_SECONDS (5), L7_FLOOD_SECONDS (5),
# L7_FLOOD_COUNT (5000000), L7_FLOOD_RATE (packets/s; unset: as fast as the
# flood tool goes), L7_SETTLE (seconds before the maps are read; 3).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
MODE=$1
SYNFLOOD=${SYNFLOOD:-$ROOT/build/tests/synflood}
TOOLS=$ROOT/tests/tools
SETTLE=${L7_SETTLE:-3}
CANARY_HDR=(-H 'user-group: canary')

echo "# L7 header routing in $MODE mode"
lab_up "$MODE" || { not_ok "$MODE: lab and load"; summary; exit 1; }
tmp=$(mktemp -d)
bg=()
cleanup() {
	local p
	for p in "${bg[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
	lab_down
}
trap cleanup EXIT

PREDICT=http://$VIP/v1/models/image_classifier:predict
STATUS=http://$VIP/v1/models/image_classifier
# Connections made with the canary header, and without it (or with a value
# or name that must not match): what the rule counters must say.
CANARY=0
PLAIN=0

total_of() { awk '{ n += $1 } END { print n + 0 }'; }
flat() { tr -s ' \n' '  ' <<<"$1" | sed 's/^ //; s/ $//'; }
# read_maps: conn_maps' summary line in $maps_sum, the entries it lists
# (as log comments) in $maps_details.
read_maps() {
	local all
	all=$(conn_maps --show 5 2>&1)
	maps_sum=$(head -n 1 <<<"$all")
	maps_details=$(sed -n 's/^\(left\|hold\): /#   &/p' <<<"$all")
}

# expect_all N VERSION WHAT OUT: all N connections answered by VERSION.
expect_all() {
	local n=$1 v=$2 what=$3 out=$4 got total
	got=$(count_of "$v" <<<"$out")
	total=$(total_of <<<"$out")
	check "$MODE: $what: $got of $n answered by $v ($total answers: $(flat "$out"))" \
		test "$got" -eq "$n" -a "$total" -eq "$n"
}

# rule_counts: "canary_rule default_rule resnet101 resnet50" connections
# from kanary stats --json. The focused-routing routes have no names, so
# the rules are "http[0]" (the match) and "http[1]" (the rest); by position
# if they are named otherwise.
rule_counts() {
	kanary stats --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
vs = [v for v in d["virtualservices"] if v["name"] == "image-classifier"]
if not vs:
    sys.exit("stats --json has no virtualservice image-classifier")
vs = vs[0]
rules = vs.get("rules") or []
if len(rules) < 2:
    print("stats --json: image-classifier has %d rules, not 2" % len(rules),
          file=sys.stderr)
by = {r.get("name"): r for r in rules}
canary = by.get("http[0]", rules[0] if rules else {})
other = by.get("http[1]", rules[1] if len(rules) > 1 else {})
subs = {s["name"]: s for s in vs["subsets"]}
print(canary.get("connections", -1), other.get("connections", -1),
      subs.get("resnet101", {}).get("connections", -1),
      subs.get("resnet50", {}).get("connections", -1))
' 2>"$tmp/rule_counts.err" || echo "-1 -1 -1 -1"
}

# ------------------------------------------------------------------ apply

base=(-f "$LAB_DIR/gateway.yaml" -f "$LAB_DIR/service.yaml"
	-f "$LAB_DIR/destinationrule.yaml" -f "$LAB_DIR/workloadentries.yaml")
err=$(kanary apply "${base[@]}" -f "$LAB_DIR/virtualservice-focused-routing.yaml" 2>&1)
rc=$?
check "$MODE: apply the lab's virtualservice-focused-routing.yaml unchanged${err:+ ($err)}" \
	test "$rc" -eq 0
if [ "$rc" -ne 0 ]; then
	echo "# every other check needs the focused-routing config: stopping"
	summary
	exit 1
fi

# ------------------------------------------------------------------ routing

# The header's name is case-insensitive (HTTP), its value exact.
for name in user-group User-Group USER-GROUP; do
	out=$(versions 50 -H "$name: canary")
	CANARY=$((CANARY + 50))
	expect_all 50 resnet101 "'$name: canary'" "$out"
done
out=$(versions 50)
PLAIN=$((PLAIN + 50))
expect_all 50 resnet50 "no user-group header" "$out"
for value in beta canary-x Canary; do
	out=$(versions 50 -H "user-group: $value")
	PLAIN=$((PLAIN + 50))
	expect_all 50 resnet50 "'user-group: $value' (exact match only)" "$out"
done
# Another header whose name contains user-group is not user-group.
out=$(versions 20 -H 'X-User-Group: canary' -H 'user-group-id: canary')
PLAIN=$((PLAIN + 20))
expect_all 20 resnet50 "'X-User-Group: canary' and 'user-group-id: canary'" "$out"
# Header lines exactly as written: no space after the colon, and optional
# whitespace (spaces, tabs) around the value, which is not part of it.
out=$(burst 10 --header 'user-group:canary')
CANARY=$((CANARY + 10))
expect_all 10 resnet101 "'user-group:canary' (no space)" "$out"
out=$(burst 10 --header $'user-group: \t canary \t')
CANARY=$((CANARY + 10))
expect_all 10 resnet101 "'user-group: <SP TAB SP>canary<SP TAB>'" "$out"
# The header must be in the head: the same text in the body is data.
printf '{"instances": []}\r\nuser-group: canary\r\n\r\n' >"$tmp/trap"
out=$(versions 10 -H 'Expect:' -H 'Content-Type: text/plain' \
	--data-binary @"$tmp/trap")
PLAIN=$((PLAIN + 10))
expect_all 10 resnet50 "'user-group: canary' in the body, not the head" "$out"

# After 20 other headers (the head still fits the first segment).
fill=()
for i in $(seq -w 1 20); do
	fill+=(-H "X-Filler-$i: value-$i-abcdefghijklmnopqrstuvwxyz")
done
# (the head's size, measured on the same request sent to resnet101 itself)
hsize=$(client curl -s -o /dev/null -w '%{size_request}' --max-time 10 \
	-H 'Connection: close' "${fill[@]}" -H 'user-group: canary' \
	-H "Host: $VIP" -d '{"instances": [[0.1, 0.2]]}' \
	"http://$EP3:$PORT/v1/models/image_classifier:predict?n=20")
out=$(versions 20 "${fill[@]}" -H 'user-group: canary')
CANARY=$((CANARY + 20))
expect_all 20 resnet101 "'user-group: canary' after 20 other headers (a ${hsize}-byte head)" "$out"
# A head longer than a segment: the gateway holds and acks its segments
# until the blank line (test_l7_head.sh has more), so the header past the
# first segment counts, and the request is answered intact.
long=()
for i in $(seq -w 1 40); do
	long+=(-H "X-Long-$i: value-$i-abcdefghijklmnopqrstuvwxyz0123456789")
done
out=$(versions 5 "${long[@]}" -H 'user-group: canary')
CANARY=$((CANARY + 5))
expect_all 5 resnet101 "a 2.5 KB head (canary header past the first segment) goes to the canary" "$out"

# ------------------------------------------------------------------ bodies

# 4 MB of random bytes up, on both routes, with curl's Expect: 100-continue
# (head alone first), without it (head and body together: the first
# segment carries body bytes), and chunked; the model server hashes what
# it received.
size=$((4 << 20))
head -c "$size" /dev/urandom >"$tmp/body"
want=$(sha256sum "$tmp/body" | cut -d' ' -f1)
for route in canary plain; do
	hdr=()
	version=resnet50
	if [ "$route" = canary ]; then
		hdr=("${CANARY_HDR[@]}")
		version=resnet101
	fi
	for how in expect-100 no-expect chunked; do
		extra=()
		case $how in
		no-expect) extra=(-H 'Expect:') ;;
		chunked) extra=(-H 'Transfer-Encoding: chunked') ;;
		esac
		got=$(client curl -s --max-time 60 -H 'Connection: close' \
			"${hdr[@]}" "${extra[@]}" \
			-H 'Content-Type: application/octet-stream' \
			--data-binary @"$tmp/body" "$PREDICT" | python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)
    print(r["model_version"], r["request_bytes"], r["request_sha256"])
except Exception as e:
    print("no answer:", type(e).__name__)
')
		if [ "$route" = canary ]; then CANARY=$((CANARY + 1)); else PLAIN=$((PLAIN + 1)); fi
		check "$MODE: 4 MB POST ($route, $how) arrives intact at $version ($got)" \
			test "$got" = "$version $size $want"
	done
	# ... and 4 MB down: the model server's /v1/blob answer, with its hash.
	rm -f "$tmp/down" "$tmp/down.h"
	client curl -s --max-time 60 -H 'Connection: close' "${hdr[@]}" \
		-D "$tmp/down.h" -o "$tmp/down" "http://$VIP/v1/blob/$size"
	if [ "$route" = canary ]; then CANARY=$((CANARY + 1)); else PLAIN=$((PLAIN + 1)); fi
	got_v=$(tr -d '\r' <"$tmp/down.h" 2>/dev/null | sed -n 's/^X-Model-Version: //Ip')
	got_h=$(tr -d '\r' <"$tmp/down.h" 2>/dev/null | sed -n 's/^X-Body-Sha256: //Ip')
	got_s=$(sha256sum "$tmp/down" 2>/dev/null | cut -d' ' -f1)
	check "$MODE: 4 MB answer ($route) arrives intact from $version (from ${got_v:-nobody}, $(stat -c %s "$tmp/down" 2>/dev/null || echo 0) bytes)" \
		test "$got_v" = "$version" -a -n "$got_h" -a "$got_h" = "$got_s"
done

# ------------------------------------------------------------------ many connections

# 3000 connections opened and closed in a row, each closed by its client
# first: once they are done, nothing of them may stay in the maps (a
# connection whose endpoint closed first stays in kn_flows for the
# endpoint's TIME_WAIT by design; conn_maps counts those apart).
out=$(burst 1500 --parallel 4 "--header=user-group: canary")
CANARY=$((CANARY + 1500))
expect_all 1500 resnet101 "1500 client-closed connections with the header" "$out"
out=$(burst 1500 --parallel 4)
PLAIN=$((PLAIN + 1500))
expect_all 1500 resnet50 "1500 client-closed connections without it" "$out"
sleep "$SETTLE"
read_maps
check "$MODE: ${SETTLE}s after, kn_synq, kn_head and kn_hold are empty ($maps_sum)" \
	grep -qE '^synq=0 hold=0 chunks=0 ' <<<"$maps_sum"
check "$MODE: ${SETTLE}s after, kn_flows keeps nothing of the VIP's connections but endpoint TIME_WAITs ($maps_sum)" \
	grep -qE ' vip_left=0 ' <<<"$maps_sum"
[ -z "$maps_details" ] || echo "$maps_details"

# ------------------------------------------------------------------ counters

read -r c_rule d_rule c_sub d_sub <<<"$(rule_counts)"
check "$MODE: stats: the canary rule counts the $CANARY canary connections (got $c_rule$(sed 's/^/; /' "$tmp/rule_counts.err" | tr '\n' ' '))" \
	test "$c_rule" -eq "$CANARY"
check "$MODE: stats: the default rule counts the other $PLAIN (got $d_rule)" \
	test "$d_rule" -eq "$PLAIN"
check "$MODE: stats: subsets resnet101 $c_sub, resnet50 $d_sub connections (want $CANARY, $PLAIN)" \
	test "$c_sub" -eq "$CANARY" -a "$d_sub" -eq "$PLAIN"

# ------------------------------------------------------------------ wrk

# Keep-alive with the header, then a new connection per request without
# it; tests/tools/wrk_versions.lua counts who answered.
secs=${L7_WRK_SECONDS:-5}
for run in keepalive-canary close-plain; do
	if [ "$run" = keepalive-canary ]; then
		args=("${CANARY_HDR[@]}")
		version=resnet101
	else
		args=(-H 'Connection: close')
		version=resnet50
	fi
	wrk_out=$(client wrk -t2 -c20 -d"${secs}s" --timeout 2s \
		-s "$TOOLS/wrk_versions.lua" "${args[@]}" "$STATUS" 2>&1)
	awk '{ print "#   " $0 }' <<<"$wrk_out"
	reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$wrk_out")
	seen=$(sed -n 's/^versions: //p' <<<"$wrk_out")
	check "$MODE: wrk $run ${secs}s: requests completed, no socket errors, no non-2xx" \
		wrk_clean "$wrk_out"
	check "$MODE: wrk $run: all ${reqs:-0} answers from $version (saw: ${seen:-nothing})" \
		test -n "$reqs" -a "$seen" = "$version=$reqs"
done

# wrk closed its connections when it stopped, some of them before they
# were spliced: nothing of them may stay either.
sleep "$SETTLE"
read_maps
check "$MODE: ${SETTLE}s after wrk, kn_synq, kn_head and kn_hold are empty ($maps_sum)" \
	grep -qE '^synq=0 hold=0 chunks=0 ' <<<"$maps_sum"
check "$MODE: ${SETTLE}s after wrk, kn_flows keeps nothing of the VIP's connections but endpoint TIME_WAITs ($maps_sum)" \
	grep -qE ' vip_left=0 ' <<<"$maps_sum"
[ -z "$maps_details" ] || echo "$maps_details"

# ------------------------------------------------------------------ SYN flood

# A SYN flood from addresses behind the client (198.19.0.0/16, routed to
# the client's side as the Internet would be: the gateway's SYN-ACKs go
# there and are dropped) at the VIP, while curls with and without the
# header go on: every one of them must be answered by its subset.
if [ ! -x "$SYNFLOOD" ]; then
	not_ok "$MODE: $SYNFLOOD is built (make $SYNFLOOD)"
	summary
	exit 1
fi
gw ip route add 198.19.0.0/16 via "$CLIENT_IP"
# field NAME: NAME's count in conn_maps' summary line ($maps_sum).
field() { sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p" <<<"$maps_sum"; }
read_maps
flows_before=$(field vip_flows)
hold_before=$(field hold)
left_before=$(field vip_left)
read -r c_before d_before _ _ <<<"$(rule_counts)"
rate=()
[ -n "${L7_FLOOD_RATE:-}" ] && rate=(--rate "$L7_FLOOD_RATE")
client "$SYNFLOOD" --dst "$VIP:80" --src 198.19.0.0/16 \
	--seconds "${L7_FLOOD_SECONDS:-5}" --count "${L7_FLOOD_COUNT:-5000000}" \
	"${rate[@]}" >"$tmp/flood.out" 2>"$tmp/flood.err" &
fpid=$!
bg+=("$fpid")
sleep 0.5
: >"$tmp/during"
while kill -0 "$fpid" 2>/dev/null; do
	for route in canary plain; do
		hdr=()
		[ "$route" = canary ] && hdr=("${CANARY_HDR[@]}")
		rm -f "$tmp/answer"
		w=$(client curl -s --max-time 20 -H 'Connection: close' "${hdr[@]}" \
			-d '{"instances": [[0.1, 0.2]]}' -o "$tmp/answer" \
			-w 'http=%{http_code} time=%{time_total}' "$PREDICT")
		rc=$?
		v=$(grep -o '"model_version": "[^"]*"' "$tmp/answer" 2>/dev/null |
			cut -d'"' -f4)
		echo "$route ${v:-none} curl=$rc $w" >>"$tmp/during"
	done
done
wait "$fpid"
frc=$?
flood=$(cat "$tmp/flood.out")
nc=$(grep -c '^canary ' "$tmp/during")
nc_ok=$(grep -c '^canary resnet101 ' "$tmp/during")
np=$(grep -c '^plain ' "$tmp/during")
np_ok=$(grep -c '^plain resnet50 ' "$tmp/during")
slowest=$(sed -n 's/.* time=//p' "$tmp/during" | sort -n | tail -n 1)
check "$MODE: the SYN flood ran ($flood$(sed 's/^/; /' "$tmp/flood.err" | tr '\n' ' '))" \
	test "$frc" -eq 0 -a -n "$flood"
check "$MODE: during the flood ($flood), $nc_ok of $nc canary requests went to resnet101 and $np_ok of $np others to resnet50 (slowest ${slowest:-?} s)" \
	test "$nc" -ge 2 -a "$nc_ok" -eq "$nc" -a "$np" -ge 2 -a "$np_ok" -eq "$np"
grep -vE '^(canary resnet101|plain resnet50) ' "$tmp/during" | sed 's/^/#   missed: /'
# A rule is counted on a connection's first segment: every answered curl
# was counted, one that failed earlier may not be, and no flood SYN is.
read -r c_after d_after _ _ <<<"$(rule_counts)"
dc=$((c_after - c_before)) dd=$((d_after - d_before))
check "$MODE: the flood's SYNs matched no rule: rule counters grew by the curls only (canary +$dc for $nc_ok..$nc curls, default +$dd for $np_ok..$np)" \
	test "$dc" -ge "$nc_ok" -a "$dc" -le "$nc" -a "$dd" -ge "$np_ok" -a "$dd" -le "$np"
# Half-open connections live in kn_synq (LRU) only, never in kn_flows.
sleep "$SETTLE"
read_maps
flows_after=$(field vip_flows)
hold_after=$(field hold)
left_after=$(field vip_left)
check "$MODE: the flood left kn_flows alone: VIP entries ${flows_before:-?} before, ${flows_after:-?} after $((nc + np)) connections ($maps_sum)" \
	test -n "$flows_after" -a -n "$flows_before" -a \
	"${flows_after:-0}" -le $((${flows_before:-0} + 2 * (nc + np)))
# (compared with before the flood, so that what wrk left is not counted)
check "$MODE: no request head of the flood-time curls left waiting (kn_head ${hold_before:-?} before, ${hold_after:-?} after)" \
	test -n "$hold_after" -a -n "$hold_before" -a "${hold_after:-1}" -le "${hold_before:-0}"
check "$MODE: kn_flows keeps nothing of the flood-time curls but endpoint TIME_WAITs (others ${left_before:-?} before, ${left_after:-?} after)" \
	test -n "$left_after" -a -n "$left_before" -a "${left_after:-1}" -le "${left_before:-0}"
[ -z "$maps_details" ] || echo "$maps_details"
out=$(versions 20 "${CANARY_HDR[@]}")
expect_all 20 resnet101 "after the flood, the header still routes" "$out"

trap - EXIT
cleanup
summary
