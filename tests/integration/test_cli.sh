#!/usr/bin/env bash
# The command line's contract: --help everywhere, exit 0 on success, 2 on
# a usage error, 1 with one line of reason otherwise. Needs no lab.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
PIN=/sys/fs/bpf/kanary-test-cli-$$
echo "# command line"

for cmd in load apply set-weight stats status unload run promote metrics; do
	out=$("$KANARY" "$cmd" --help 2>&1)
	rc=$?
	check "$cmd --help exits 0 and shows usage" \
		test "$rc" -eq 0 -a -n "$(grep '^usage: kanary' <<<"$out")"
done
check "kanary --help exits 0" "$KANARY" --help >/dev/null

expect() { # RC "description" command...: exit code and one-line stderr
	local want=$1 what=$2 err rc
	shift 2
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	check "$what: exit $want, one line ($err)" \
		test "$rc" -eq "$want" -a "$(wc -l <<<"$err")" -eq 1 -a -n "$err"
}
expect 2 "unknown command" "$KANARY" frobnicate
expect 2 "load without --iface" "$KANARY" load --pin-dir "$PIN"
expect 2 "load with a bad mode" "$KANARY" load --pin-dir "$PIN" --iface lo --mode fast
expect 2 "load with a bad --vip" "$KANARY" load --pin-dir "$PIN" --iface lo --vip 300.1.1.1
expect 2 "apply without files" "$KANARY" apply --pin-dir "$PIN"
expect 1 "apply a missing file" "$KANARY" apply --pin-dir "$PIN" -f /nonexistent.yaml
expect 1 "apply before load" "$KANARY" apply --pin-dir "$PIN" -f "$LAB_DIR/gateway.yaml"
expect 1 "stats before load" "$KANARY" stats --pin-dir "$PIN"
expect 1 "status before load" "$KANARY" status --pin-dir "$PIN"
expect 1 "set-weight before load" "$KANARY" set-weight --pin-dir "$PIN" vs a=1
expect 1 "promote before load" "$KANARY" promote --pin-dir "$PIN" vs \
	--to canary --steps 10,100 --interval 1s
expect 1 "metrics before load" "$KANARY" metrics --pin-dir "$PIN"
expect 2 "promote without --to" "$KANARY" promote --pin-dir "$PIN" vs \
	--steps 10,100 --interval 1s
expect 2 "metrics with a bad --listen" "$KANARY" metrics --pin-dir "$PIN" \
	--listen nowhere
err=$("$KANARY" set-weight vs a=1 --pin-dir "$PIN" 2>&1)
check "options may follow the arguments ($err)" grep -q "not loaded" <<<"$err"
expect 2 "load with --flows out of range" "$KANARY" load --pin-dir "$PIN" --iface lo --flows 4294967300
expect 1 "load on a missing interface" "$KANARY" load --pin-dir "$PIN" --iface kn-nosuch0
check "a failed load leaves no pin dir" test ! -e "$PIN"
check "unload of nothing succeeds" "$KANARY" unload --pin-dir "$PIN"
summary
