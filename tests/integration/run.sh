#!/usr/bin/env bash
# Every namespace integration test, in every attach mode; the last line
# sums them up.
set -uo pipefail
here=$(dirname "$0")
[ "$(id -u)" -eq 0 ] || { echo "integration tests need root" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0 failed=0
# Every mode on veths as the kernel makes them (default offloads); auto is
# what "kanary load" does without --mode.
for t in test_cli.sh test_modes.sh "test_l4_split.sh auto" "test_l4_split.sh xdp" \
	"test_l4_split.sh xdp-generic" "test_l4_split.sh tc" \
	"test_l7.sh auto" "test_l7.sh xdp" "test_l7.sh xdp-generic" \
	"test_l7.sh tc" "test_l7_answer.sh xdp" "test_l7_answer.sh tc" \
	"test_l7_head.sh xdp" "test_l7_head.sh tc" \
	"test_l7_tls.sh xdp" "test_l7_tls.sh tc" \
	"test_vhosts.sh xdp" "test_vhosts.sh tc" test_agent.sh \
	"test_health.sh auto" \
	"test_health.sh xdp-generic" "test_outcome.sh xdp" "test_outcome.sh tc" \
	"test_watch.sh tc" "test_promote.sh tc" "test_prometheus.sh tc" \
	"test_upgrade.sh tc" "test_upgrade.sh tc 96" "test_upgrade.sh xdp records" "test_flood_l4.sh auto" \
	"test_perms.sh tc" "test_schema.sh tc" "test_crash.sh tc" \
	"test_blind_rst.sh xdp" "test_blind_rst.sh tc" "test_blind_rst.sh xdp l7" \
	"test_blind_rst.sh tc l7" "test_time_wait.sh tc" \
	"test_time_wait.sh xdp" test_bench_smoke.sh; do
	# shellcheck disable=SC2086
	bash "$here"/$t 2>&1 | tee "$log"
	p=$(sed -n 's/^integration: \([0-9]*\) passed.*/\1/p' "$log")
	f=$(sed -n 's/^integration: .* \([0-9]*\) failed.*/\1/p' "$log")
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-1}))
done
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
