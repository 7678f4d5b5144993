#!/usr/bin/env bash
# make bench: every benchmark of kanary beside its baselines, in one run.
#   1. per-packet cost through BPF_PROG_TEST_RUN, beside a floor program;
#   2. HTTP through the lab with wrk: direct, kanary (xdp, tc), nginx, HAProxy;
#   3. scale: 1M flows, 1000 routes / 10000 endpoints, set-weight latency.
# Writes build/bench/{report.md,*.tsv,http.png}; prints the report.
# --quick: seconds instead of minutes (the smoke test in `make test`).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${BENCH_OUT:-$ROOT/build/bench}
quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick)
mkdir -p "$OUT"

[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (BPF, namespaces)" >&2; exit 1; }
for t in build/kanary build/bench/pktbench; do
	[ -x "$t" ] || { echo "bench: $t missing; run 'make bench-tools'" >&2; exit 1; }
done

report=$OUT/report.md
{
	echo "# kanary benchmark run"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- command: \`make bench\`${quick:+ (quick: smoke sizes, not for reading)}"
	echo "- kernel: $(uname -r); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
	echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo
	echo "## 1. Per-packet cost (BPF_PROG_TEST_RUN)"
	echo
	build/bench/pktbench "${quick[@]}" --tsv "$OUT/pkt.tsv"
	echo
	echo "## 2. HTTP through the lab (wrk)"
	echo
	bash scripts/bench_http.sh "${quick[@]}" --out "$OUT"
	echo
	echo "## 3. Scale"
	echo
	bash scripts/bench_scale.sh "${quick[@]}" --out "$OUT"
} | tee "$report.tmp"
mv "$report.tmp" "$report"
echo
echo "bench: report in $report, chart in $OUT/http.png"
