#!/usr/bin/env bash
# Permissions: every command run without privileges says "permission
# denied" (not "not loaded") and changes nothing; load refuses a pin dir
# another user could write (bpffs roots are 1777 on some systems), a
# symlink, or one writable by group or others, and attaches nothing.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
MODE=${1:-tc}
DENIED="permission denied (run as root, or with CAP_BPF and CAP_NET_ADMIN)"

echo "# permissions in $MODE mode"
FOREIGN=/sys/fs/bpf/kanary-perms-$$-foreign
LINK=/sys/fs/bpf/kanary-perms-$$-link
OWN=/sys/fs/bpf/kanary-perms-$$-own
CFG=$(mktemp -d)
BPFFS=$CFG.bpffs
cleanup() {
	for d in "$FOREIGN" "$LINK" "$OWN" "$BPFFS/kanary" "$BPFFS/mine"; do
		[ -n "${GW_NS:-}" ] && gw "$KANARY" unload --pin-dir "$d" \
			>/dev/null 2>&1
		rm -rf "$d"
	done
	if mountpoint -q "$BPFFS"; then umount "$BPFFS"; fi
	rm -rf "$CFG"
	rmdir "$BPFFS" 2>/dev/null
	lab_down
}
trap cleanup EXIT
lab_up "$MODE" >/dev/null || { not_ok "$MODE: lab and load"; summary; exit 1; }
trap cleanup EXIT # lab_up set its own

check "$MODE: apply the lab as root" kanary apply -f "$LAB_DIR/gateway.yaml" \
	-f "$LAB_DIR/service.yaml" -f "$LAB_DIR/destinationrule.yaml" \
	-f "$LAB_DIR/workloadentries.yaml" \
	-f "$LAB_DIR/virtualservice-weight-70.yaml"
mode=$(stat -c '%a %U' "$PIN")
check "$MODE: load made the pin dir 700, root's ($mode)" test "$mode" = "700 root"
pins_before=$(ls "$PIN" | sort | tr '\n' ' ')
status_before=$(kanary status --json)

# nobody: no capabilities, no supplementary groups, in the gateway's
# network namespace (the interfaces are there).
# Its own copy of kanary and the config it applies: the checkout may be
# where nobody cannot reach (CI's is in a 0700 mktemp directory).
nobody() {
	gw setpriv --reuid=nobody --regid=nogroup --clear-groups \
		--inh-caps=-all timeout 20 "$CFG/kanary" --pin-dir "$PIN" "$@"
}
cp "$KANARY" "$CFG/kanary"
cp "$LAB_DIR/virtualservice-weight-100.yaml" "$CFG/"
chmod -R a+rX "$CFG"
denied() { # "description" command...: exit 1, one line, the message
	local what=$1 err rc
	shift
	err=$(nobody "$@" 2>&1 >/dev/null)
	rc=$?
	# run is the agent: it logs, with time stamps, that the load failed.
	[ "$1" = run ] && err=$(head -n 1 <<<"$err")
	check "$MODE: $what as nobody: exit 1, one line, denied ($err)" \
		test "$rc" -eq 1 -a "$(wc -l <<<"$err")" -eq 1 -a \
		"$err" = "kanary: $PIN: $DENIED"
}
denied "load" load --mode "$MODE" --vip "$VIP" --iface c0 --iface e1 \
	--iface e2 --iface e3
denied "apply" apply -f "$CFG/virtualservice-weight-100.yaml"
denied "set-weight" set-weight image-classifier resnet50=0 resnet101=100
denied "stats" stats
denied "status" status
denied "metrics" metrics
denied "promote" promote image-classifier --to resnet101 --steps 50,100 \
	--interval 1s
denied "run" run --mode "$MODE" --vip "$VIP" --iface c0 --iface e1 \
	--iface e2 --iface e3 --config-dir "$CFG" --listen none --no-health
denied "unload" unload

# root without capabilities (noroot: exec grants uid 0 none): the files
# are its own, so stats and status work, but bpf() and netlink refuse.
nocaps() {
	gw setpriv --bounding-set=-all --inh-caps=-all \
		--securebits=+noroot,+noroot_locked "$KANARY" --pin-dir "$PIN" "$@"
}
err=$(nocaps unload 2>&1 >/dev/null)
rc=$?
check "$MODE: unload as root without capabilities: exit 1, denied ($err)" \
	test "$rc" -eq 1 -a "$err" = "kanary: $PIN: $DENIED"
check "$MODE: status as root without capabilities still reads" \
	nocaps status

check "$MODE: after them, every pin is still there" \
	test "$(ls "$PIN" | sort | tr '\n' ' ')" = "$pins_before"
check "$MODE: after them, status is unchanged (still 70/30)" \
	test "$(kanary status --json)" = "$status_before"
out=$(versions 100)
n50=$(count_of resnet50 <<<"$out")
n101=$(count_of resnet101 <<<"$out")
check "$MODE: after them, 100 of 100 connections served, both subsets ($n50+$n101)" \
	test $((n50 + n101)) -eq 100 -a "$n50" -gt 0 -a "$n101" -gt 0

# A pin dir laid out beforehand by an unprivileged user. Where the bpffs
# root lets nobody in (1777), nobody makes it; where it is 0700 (as here),
# root makes it and gives it away, which is the same to kanary.
# A veth pair of its own: a load that wrongly went ahead would otherwise
# replace the lab's programs. It goes with the namespace.
DEV=knp$$a
gw ip link add "$DEV" type veth peer name "knp$$b"
gw ip link set "$DEV" up
attached() { # DEV: a tc filter or an XDP program is on it
	# Read whole first: grep -q would close the pipe early (pipefail).
	local tc link
	tc=$(gw tc filter show dev "$1" ingress)
	link=$(gw ip link show dev "$1")
	[ -n "$tc" ] || grep -q xdp <<<"$link"
}
detached() { ! attached "$1"; }
if [ "$(stat -c %a /sys/fs/bpf)" = 1777 ]; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups mkdir "$FOREIGN"
else
	mkdir -m 0700 "$FOREIGN" && chown nobody:nogroup "$FOREIGN"
fi
refused() { # DIR "description" PATTERN: load refused, nothing attached
	local dir=$1 what=$2 pattern=$3 err rc
	err=$(gw "$KANARY" load --pin-dir "$dir" --mode tc \
		--vip 198.18.250.1 --iface "$DEV" 2>&1 >/dev/null)
	rc=$?
	check "$MODE: load into $what: exit 1, says why ($err)" \
		test "$rc" -eq 1 -a "$(wc -l <<<"$err")" -eq 1 -a \
		-n "$(grep -F -- "$dir" <<<"$err" | grep -E -- "$pattern")"
	check "$MODE: load into $what: nothing attached" \
		detached "$DEV"
	check "$MODE: load into $what: no load state saved" \
		test ! -e "$KANARY_STATE_ROOT/${dir//\//_}"
}
err=$(gw setpriv --bounding-set=-all --inh-caps=-all \
	--securebits=+noroot,+noroot_locked "$KANARY" load --pin-dir "$OWN" \
	--mode tc --vip 198.18.250.1 --iface "$DEV" 2>&1 >/dev/null)
rc=$?
check "$MODE: load as root without capabilities: exit 1, denied ($err)" \
	test "$rc" -eq 1 -a "$err" = "kanary: cannot load the BPF programs: $DENIED"
check "$MODE: ... leaves no pin dir and attaches nothing" \
	test ! -e "$OWN" -a ! -e "$KANARY_STATE_ROOT/${OWN//\//_}"
check "$MODE: ... attaches nothing" detached "$DEV"

refused "$FOREIGN" "a pin dir owned by nobody" "owned by uid 65534, not uid 0"
check "$MODE: the refused pin dir is left as it was (empty, nobody's)" \
	test -z "$(ls -A "$FOREIGN")" -a "$(stat -c %U "$FOREIGN")" = nobody

chown root:root "$FOREIGN" && chmod 0777 "$FOREIGN"
refused "$FOREIGN" "a pin dir of mode 0777" "writable by group or others"
chmod 1730 "$FOREIGN"
refused "$FOREIGN" "a pin dir of mode 1730" "writable by group or others"

mkdir -m 0700 "$OWN"
ln -s "$OWN" "$LINK"
refused "$LINK" "a symlink to a good pin dir" "symlink"
check "$MODE: the symlink's target stays empty" test -z "$(ls -A "$OWN")"

# The finding as found: a bpffs mounted 1777 (a second instance, so that
# /sys/fs/bpf stays as it is), where nobody makes the pin dir first.
mkdir "$BPFFS" && mount -t bpf -o mode=1777 bpf "$BPFFS"
setpriv --reuid=nobody --regid=nogroup --clear-groups mkdir "$BPFFS/kanary"
refused "$BPFFS/kanary" "a pin dir nobody made on a 1777 bpffs" \
	"owned by uid 65534, not uid 0"
check "$MODE: load into a new pin dir on the 1777 bpffs" \
	gw "$KANARY" load --pin-dir "$BPFFS/mine" --mode tc \
	--vip 198.18.250.1 --iface "$DEV"
mode=$(stat -c '%a %U' "$BPFFS/mine")
check "$MODE: ... made it 700, root's ($mode)" test "$mode" = "700 root"
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	rm -f "$BPFFS/mine/kn_flows" 2>/dev/null
check "$MODE: ... where nobody cannot remove a pin" test -e "$BPFFS/mine/kn_flows"
check "$MODE: ... and it unloads" gw "$KANARY" unload --pin-dir "$BPFFS/mine"

# A pin dir that is root's and 0700 (one kanary made, or an admin) is fine.
check "$MODE: load into a root-owned 0700 pin dir made beforehand" \
	gw "$KANARY" load --pin-dir "$OWN" --mode tc --vip 198.18.250.1 \
	--iface "$DEV"
check "$MODE: ... and it is attached" attached "$DEV"
check "$MODE: ... and unloads" gw "$KANARY" unload --pin-dir "$OWN"
check "$MODE: ... and is detached again" \
	detached "$DEV"
summary
