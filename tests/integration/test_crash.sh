#!/usr/bin/env bash
# apply and set-weight killed at any point: real `kanary apply` and
# `kanary set-weight` runs are killed with SIGKILL after 1..40 ms, or
# after 50..110 % of a measured run (where the flip is), so that the kills
# land before, during and after the flip; after each one the data path's
# weights (the pinned maps, read
# with bpftool), `kanary status` and the saved config must be the same
# config; a command after the kill must start from it too. $1: the mode
# (the crash window is in userspace, so one mode is enough).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
MODE=${1:-tc}
ITERS=${CRASH_ITERS:-100}

echo "# crash-consistent apply and set-weight in $MODE mode ($ITERS kills)"
LAB_KIND=crash
lab_up "$MODE" || { not_ok "$MODE: lab and load"; summary; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"; lab_down' EXIT

base=(-f "$LAB_DIR/gateway.yaml" -f "$LAB_DIR/service.yaml"
	-f "$LAB_DIR/destinationrule.yaml" -f "$LAB_DIR/workloadentries.yaml")
vs70=$LAB_DIR/virtualservice-weight-70.yaml
vs10=$work/virtualservice-weight-10.yaml
sed -e 's/weight: 70/weight: 10/' -e 's/weight: 30/weight: 90/' "$vs70" >"$vs10"
state=$KANARY_STATE_ROOT/$(tr / _ <<<"$PIN")

# The three views, each as "route NS/VS SUBSET=W ..." lines; maps()
# has the data path's generation line first.
maps() { python3 "$ROOT/tests/tools/kn_routes.py" --pin "$PIN"; }
datapath() { maps | grep '^route '; }
# status lists weight-0 destinations too; the others leave them out.
shown() {
	kanary status | sed -n 's/^route: *\([^ ]*\) ->/route \1/p' |
		sed -E 's/ [^ =]+=0( |$)/\1/g' | sort
}
saved() {
	"$PY" - "$state/config.yaml" <<-'EOF'
		import sys, yaml
		out = []
		for d in yaml.safe_load_all(open(sys.argv[1])):
		    if not d or d.get("kind") != "VirtualService":
		        continue
		    m = d["metadata"]
		    ws = ["%s=%d" % (r["destination"]["subset"], r.get("weight", 100))
		          for r in d["spec"]["http"][0]["route"] if r.get("weight", 100)]
		    out.append("route %s/%s %s" % (m.get("namespace", "default"),
		                                   m["name"], " ".join(ws)))
		print("\n".join(sorted(out)))
	EOF
}
# The generation a saved config's header records.
file_gen() { sed -n '1s/^# kanary: generation \([0-9]*\) .*/\1/p' "$1"; }

check "$MODE: apply the lab's 70/30" kanary apply "${base[@]}" -f "$vs70"
check "$MODE: the three views agree at the start ($(datapath))" \
	test "$(datapath)" = "$(shown)" -a "$(datapath)" = "$(saved)"

# How long a whole run takes here (median of 5, in microseconds): half
# of the kills land in 50..110 % of it, where the flip is.
runs=()
for ((i = 0; i < 5; i++)); do
	t0=$(date +%s%6N)
	gw timeout -s KILL 5 "$KANARY" --pin-dir "$PIN" apply -f "$vs70" >/dev/null 2>&1
	runs+=($(($(date +%s%6N) - t0)))
done
run_us=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 3p)
echo "#   a whole apply takes ${run_us} us here"

# Each kill: the command and its delay vary with i, so that the delays
# cover 1..40 ms, and the window around the flip, for each command.
mismatch=0 stale_next=0 killed=0 old=0 new=0 gen_bad=0 committed=0 dropped=0
before=$(datapath)
for ((i = 0; i < ITERS; i++)); do
	if ((i % 2)); then
		delay_us=$((run_us * (50 + (i * 13) % 61) / 100))
	else
		delay_us=$((1000 * (1 + (i * 7) % 40)))
	fi
	delay=$(printf '0.%06d' "$delay_us")
	case $((i % 3)) in
	0) cmd=(apply -f "$vs70") ;;
	1) cmd=(apply -f "$vs10") ;;
	2) w=$((1 + (i * 37) % 98))
	   cmd=(set-weight image-classifier "resnet50=$w" "resnet101=$((100 - w))") ;;
	esac
	gw timeout -s KILL "$delay" "$KANARY" --pin-dir "$PIN" \
		"${cmd[@]}" >/dev/null 2>&1
	rc=$?
	# Before any command runs recovery: what the data path runs, and
	# what recovery will find.
	live=$(maps)
	dp=$(grep '^route ' <<<"$live")
	gen=$(sed -n 's/^generation=\([0-9]*\) .*/\1/p' <<<"$live")
	if [ "$rc" -eq 137 ]; then
		killed=$((killed + 1))
		if [ "$dp" = "$before" ]; then old=$((old + 1)); else new=$((new + 1)); fi
	fi
	if [ -e "$state/config.pending.yaml" ]; then
		if [ "$(file_gen "$state/config.pending.yaml")" = "$gen" ]; then
			committed=$((committed + 1))
		else
			dropped=$((dropped + 1))
		fi
	fi
	st=$(shown)
	sv=$(saved)
	if [ "$dp" != "$st" ] || [ "$dp" != "$sv" ]; then
		mismatch=$((mismatch + 1))
		[ "$mismatch" -le 3 ] && echo "#   kill $i (${cmd[*]} after ${delay} s, rc $rc):" \
			"data path [$dp] status [$st] saved [$sv]"
	fi
	[ "$(file_gen "$state/config.yaml")" = "$gen" ] || gen_bad=$((gen_bad + 1))
	before=$dp
	# The next command edits what runs: a re-apply of an unchanged file
	# must leave the data path as it is.
	if [ $((i % 4)) -eq 3 ]; then
		kanary apply -f "$LAB_DIR/gateway.yaml" >/dev/null 2>&1
		before=$(datapath)
		if [ "$before" != "$dp" ]; then
			stale_next=$((stale_next + 1))
			[ "$stale_next" -le 3 ] && echo "#   kill $i: the next apply moved" \
				"the data path from [$dp] to [$before]"
		fi
	fi
done
echo "#   $ITERS runs, $killed killed: $old left the old config, $new the new one;" \
	"recovery found $committed pending configs to commit, $dropped to drop"
check "$MODE: the kills landed both before and after the flip ($old old, $new new)" \
	test "$old" -gt 0 -a "$new" -gt 0
check "$MODE: after every kill the data path, status and the saved config agree ($mismatch mismatches)" \
	test "$mismatch" -eq 0
check "$MODE: after every kill the saved config records the data path's generation ($gen_bad differ)" \
	test "$gen_bad" -eq 0
check "$MODE: the command after a kill started from what runs ($stale_next moved it)" \
	test "$stale_next" -eq 0
check "$MODE: recovery left no pending config" \
	test ! -e "$state/config.pending.yaml"

# The two states a kill leaves in the state dir, made from real applies
# (the timing above rarely lands in the microseconds between the flip and
# the commit): what status and the next command do with each.
# After the flip, before the commit: config.yaml is still the old one.
cp "$state/config.yaml" "$work/old.yaml"
kanary set-weight image-classifier resnet50=33 resnet101=67
mv "$state/config.yaml" "$state/config.pending.yaml"
cp "$work/old.yaml" "$state/config.yaml"
want="route default/image-classifier resnet50=33 resnet101=67"
check "$MODE: killed after the flip: the data path runs 33/67" \
	test "$(datapath)" = "$want"
check "$MODE: killed after the flip: status shows 33/67 ($(shown))" \
	test "$(shown)" = "$want"
check "$MODE: killed after the flip: status committed the pending config" \
	test ! -e "$state/config.pending.yaml" -a "$(saved)" = "$want"
# Before the flip: a pending config one generation ahead of kn_cfg.
gen=$(maps | sed -n 's/^generation=\([0-9]*\) .*/\1/p')
sed -e "1s/generation $gen /generation $((gen + 1)) /" \
	-e 's/weight: 33/weight: 5/' -e 's/weight: 67/weight: 95/' \
	"$state/config.yaml" >"$state/config.pending.yaml"
check "$MODE: killed before the flip: the next apply starts from 33/67" \
	kanary apply -f "$LAB_DIR/gateway.yaml"
check "$MODE: killed before the flip: the pending 5/95 was dropped ($(datapath))" \
	test ! -e "$state/config.pending.yaml" -a "$(datapath)" = "$want" \
	-a "$(shown)" = "$want" -a "$(saved)" = "$want"

# The maps read above are what traffic follows.
check "$MODE: set-weight 100/0 after the kills" \
	kanary set-weight image-classifier resnet50=100 resnet101=0
out=$(versions 40)
check "$MODE: 40 of 40 new connections to resnet50 ($(echo $out))" \
	test "$(count_of resnet50 <<<"$out")" -eq 40
check "$MODE: the data path, status and the saved config say 100/0" \
	test "$(datapath)" = "route default/image-classifier resnet50=100" \
	-a "$(shown)" = "route default/image-classifier resnet50=100" \
	-a "$(saved)" = "route default/image-classifier resnet50=100"

summary
