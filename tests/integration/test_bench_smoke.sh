#!/usr/bin/env bash
# The benchmark, in seconds, so that it does not rot: every part runs and
# writes its tables and chart. No timing is asserted here (benchmarks are
# not tests); the numbers of a --quick run are not for reading.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
echo "# benchmark smoke run (make bench --quick)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

BENCH_OUT=$out bash "$ROOT/scripts/bench.sh" --quick >"$out/stdout" 2>"$out/stderr"
rc=$?
check "bench --quick exits 0 (stderr: $(tail -n 3 "$out/stderr" | tr '\n' ' '))" \
	test "$rc" -eq 0
check "report has its three parts" \
	bash -c '[ "$(grep -c "^## [123]\." "$1/report.md")" -eq 3 ]' _ "$out"
for c in floor non-vip syn-new-flow est-to-endpoint est-to-client l7-syn \
	l7-first-segment l7-est-to-endpoint l7-est-to-client; do
	check "pkt.tsv has $c for XDP and tc" \
		bash -c '[ "$(awk -v c="$2" "\$2 == c" "$1/pkt.tsv" | wc -l)" -eq 2 ]' _ "$out" "$c"
done
for c in direct kanary-xdp kanary-tc kanary-l7-xdp kanary-l7-tc nginx haproxy; do
	check "http.tsv has $c with keep-alive and close" \
		bash -c '[ "$(awk -v c="$2" "\$1 == c" "$1/http.tsv" | wc -l)" -eq 2 ]' _ "$out" "$c"
done
check "http.tsv: no case had errors" \
	bash -c 'awk "NR > 1 && \$9 != 0 { bad = 1 } END { exit bad }" "$1/http.tsv"' _ "$out"
check "http.png is a PNG" \
	bash -c 'head -c 4 "$1/http.png" | grep -q PNG' _ "$out"
check "scale.tsv has flows, config and set-weight rows" \
	bash -c 'for m in flows. config. setweight.; do grep -q "^$m" "$1/scale.tsv" || exit 1; done' _ "$out"
check "nothing left behind: no lab namespace, no bench pin" \
	bash -c '! ip netns list | grep -q "kn-bench\|kn-scale" && ! ls /sys/fs/bpf | grep -q "bench\|scale"'
summary
