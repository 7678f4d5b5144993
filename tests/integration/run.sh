#!/usr/bin/env bash
# Every namespace integration test, in every attach mode.
set -uo pipefail
here=$(dirname "$0")
[ "$(id -u)" -eq 0 ] || { echo "integration tests need root" >&2; exit 1; }
passed=0 failed=0
for mode in xdp tc; do
	out=$(bash "$here/test_l4_split.sh" "$mode" 2>&1 | tee /dev/stderr |
		tail -n 1)
	p=$(sed -n 's/.* \([0-9]*\) passed.*/\1/p' <<<"$out")
	f=$(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<<"$out")
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-1}))
done
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
