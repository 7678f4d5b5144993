#!/usr/bin/env bash
# Every namespace integration test, in every attach mode; the last line
# sums them up.
set -uo pipefail
here=$(dirname "$0")
[ "$(id -u)" -eq 0 ] || { echo "integration tests need root" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0 failed=0
for mode in xdp xdp-generic tc; do
	bash "$here/test_l4_split.sh" "$mode" 2>&1 | tee "$log"
	p=$(sed -n 's/^integration: \([0-9]*\) passed.*/\1/p' "$log")
	f=$(sed -n 's/^integration: .* \([0-9]*\) failed.*/\1/p' "$log")
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-1}))
done
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
