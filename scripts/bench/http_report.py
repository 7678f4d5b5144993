#!/usr/bin/env python3
"""Summarise scripts/bench_http.sh's rounds: medians per (case, mode).

Reads http-rounds.tsv (one line per wrk run) and writes, in --out:
  http.tsv       case mode rps p50_ms p99_ms cpu_ms_per_1k ratio_direct ratio_nginx errors ratio_l4
  http.md        the same as a markdown table, with the run's parameters and flags
  http-plot.dat  what scripts/bench/http.gp draws
and prints http.md on stdout.

Medians are over rounds.  Ratios are the median of the per-round ratios
(case / direct, case / nginx, same mode, same round; ratio_l4: an L7 case
over the L4 case of the same hook, kanary-l7-xdp / kanary-xdp and
kanary-l7-tc / kanary-tc, and kanary-xdp-nopeers / kanary-xdp): each round measures all
cases back to back, so a ratio within a round is less exposed to the
machine's drift than a ratio of two medians.  errors is the total over all
rounds of wrk's socket errors (connect, read, write, timeout) and non-2xx/3xx
answers; a failed wrk run counts as one.  Standard library only.
"""
import argparse
import csv
import math
import os
import statistics
import sys

CASES = [
    "direct",
    "kanary-xdp",
    "kanary-tc",
    "kanary-l7-xdp",
    "kanary-l7-tc",
    "kanary-xdp-nopeers",
    "nginx",
    "haproxy",
]
# The L4 case an L7 case (or the xdp case without XDP on the peers) is
# compared to: same hook, same lab, same round.
L4_OF = {
    "kanary-l7-xdp": "kanary-xdp",
    "kanary-l7-tc": "kanary-tc",
    "kanary-xdp-nopeers": "kanary-xdp",
}
L7_COLS = ["l7_syn", "l7_replay", "l7_answer_400", "l7_answer_404", "l7_early_drop",
           "l7_no_halfopen", "rule_canary", "rule_default"]
MODES = ["keepalive", "close"]
# Expected share of requests per endpoint (ep1, ep2, ep3), per case.
SPLIT = {"direct": (1.0, 0.0, 0.0)}
SPLIT_DEFAULT = (0.35, 0.35, 0.30)


def num(s):
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def med(values):
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, digits):
    return "n/a" if v is None else f"{v:.{digits}f}"


def fmt_rps(v):
    return "n/a" if v is None else f"{v:.0f}"


def total(rs, col):
    """Sum of an integer column over runs; None when no run has it."""
    vals = [x.get(col) for x in rs]
    vals = [int(v) for v in vals if v not in (None, "", "na")]
    return sum(vals) if vals else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds-tsv", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--params", default="")
    a = ap.parse_args()
    params = dict(p.split("=", 1) for p in a.params.split() if "=" in p)
    # --backends one: every case ends on ep1 alone, as direct does.
    split_default = (1.0, 0.0, 0.0) if params.get("backends") == "one" else SPLIT_DEFAULT

    with open(a.rounds_tsv) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    runs = {}  # (case, mode) -> {round: row}
    for row in rows:
        runs.setdefault((row["case"], row["mode"]), {})[int(row["round"])] = row

    def rps_of(case, mode, r):
        row = runs.get((case, mode), {}).get(r)
        return num(row["rps"]) if row else None

    def ratio(case, mode, base):
        vals = []
        for r, row in runs.get((case, mode), {}).items():
            x, y = num(row["rps"]), rps_of(base, mode, r)
            if x is not None and y:
                vals.append(x / y)
        return med(vals)

    table, flags = [], []
    for case in CASES:
        for mode in MODES:
            rr = runs.get((case, mode))
            if not rr:
                continue
            rs = list(rr.values())
            errors = sum(int(x["errors"]) for x in rs)
            reqs = sum(int(x["requests"]) for x in rs)
            eps = [sum(int(x[f"ep{i}"]) for x in rs) for i in (1, 2, 3)]
            tot = sum(eps)
            share = [e / tot if tot else 0.0 for e in eps]
            want = SPLIT.get(case, split_default)
            # per connection (kanary) with few connections the split is coarse:
            # only flag an endpoint that should get traffic and got none, or
            # one that should get none and got some.
            bad_split = any((w > 0) != (e > 0) for w, e in zip(want, eps))
            rec = {
                "case": case,
                "mode": mode,
                "rps": med(num(x["rps"]) for x in rs),
                "p50": med(num(x["p50_ms"]) for x in rs),
                "p99": med(num(x["p99_ms"]) for x in rs),
                "cpu": med(num(x["cpu_ms_per_1k"]) for x in rs),
                "r_direct": ratio(case, mode, "direct"),
                "r_nginx": ratio(case, mode, "nginx"),
                "r_l4": ratio(case, mode, L4_OF[case]) if case in L4_OF else None,
                "reqs": reqs,
                "l7": {k: total(rs, k) for k in L7_COLS},
                "retrans": total(rs, "client_data_retrans"),
                "rto": total(rs, "client_rto"),
                "stuck": total(rs, "client_stuck"),
                "errors": errors,
                "split": "/".join(f"{100 * s:.0f}" for s in share),
                "min": min((num(x["rps"]) or 0) for x in rs),
                "max": max((num(x["rps"]) or 0) for x in rs),
                "p99min": min((num(x["p99_ms"]) or 0) for x in rs),
                "p99max": max((num(x["p99_ms"]) or 0) for x in rs),
                "runs_per_req": med(num(x["bpf_runs_per_req"]) for x in rs),
                "ns_per_run": med(num(x["bpf_ns_per_run"]) for x in rs),
                "host": med(num(x["host_cpu_ms_per_1k"]) for x in rs),
                "busy": med(num(x["host_busy_pct"]) for x in rs),
                "n": len(rs),
            }
            flag = []
            if errors:
                sock = sum(int(x["socket_errors"]) for x in rs)
                non2xx = sum(int(x["non2xx"]) for x in rs)
                failed = sum(1 for x in rs if num(x["rps"]) is None)
                flag.append(
                    f"{errors} errors in {reqs} requests (socket {sock}, "
                    f"non-2xx {non2xx}, failed runs {failed})"
                )
            syn = sum(int(x["client_syn_retrans"]) for x in rs)
            paws = sum(int(x["ep_paws_timewait"]) for x in rs)
            if syn:
                flag.append(
                    f"{syn} SYN retransmissions by the client in {reqs} requests "
                    f"({paws} SYNs refused by an endpoint's TIME_WAIT socket, PAWS): "
                    "connects that needed a second SYN, a delay wrk's latency "
                    "(from request sent) does not show"
                )
            if rec["retrans"] or rec["stuck"] or (case.startswith("kanary-l7") and rec["rto"]):
                flag.append(
                    f"the client retransmitted {rec['retrans']} data segments "
                    f"({rec['rto']} retransmission timeouts, SYNs included) and "
                    f"{rec['stuck']} connections still held an unacknowledged "
                    "request 1.5 s after wrk stopped: requests that waited or never "
                    "got an answer, which wrk counts as no error (not even a "
                    "timeout), only as fewer requests/s"
                )
            if bad_split:
                flag.append(f"endpoints ep1/ep2/ep3 got {eps[0]}/{eps[1]}/{eps[2]} requests")
            l7 = rec["l7"]
            if case.startswith("kanary-l7"):
                if not l7["l7_syn"]:
                    flag.append("no SYN answered by the gateway: the L7 path was not taken")
                for k, what in (
                    ("l7_answer_404", "requests answered 404 by the gateway (no rule)"),
                    ("l7_answer_400", "requests answered 400 by the gateway (not HTTP/1.x)"),
                    ("l7_early_drop", "segments dropped before the splice (out of order, or past the head)"),
                    ("rule_canary", "connections on the canary rule without the canary header"),
                ):
                    if l7[k]:
                        flag.append(f"{l7[k]} {what}")
            elif case.startswith("kanary") and l7["l7_syn"]:
                flag.append(f"{l7['l7_syn']} SYNs answered by the L7 path in an L4 case")
            rec["flag"] = "; ".join(flag)
            if flag:
                flags.append(f"{case} {mode}: {rec['flag']}")
            table.append(rec)

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "http.tsv"), "w") as f:
        f.write("case\tmode\trps\tp50_ms\tp99_ms\tcpu_ms_per_1k\tratio_direct\tratio_nginx\terrors\tratio_l4\n")
        for t in table:
            f.write(
                "\t".join(
                    [
                        t["case"],
                        t["mode"],
                        fmt(t["rps"], 0),
                        fmt(t["p50"], 3),
                        fmt(t["p99"], 3),
                        fmt(t["cpu"], 3),
                        fmt(t["r_direct"], 3),
                        fmt(t["r_nginx"], 3),
                        str(t["errors"]),
                        fmt(t["r_l4"], 3),
                    ]
                )
                + "\n"
            )

    md = []
    nrounds = max((t["n"] for t in table), default=0)
    md.append(
        f"HTTP through the lab ({'every case on ep1 alone, as direct' if params.get('backends') == 'one' else 'the 70/30 split over three endpoints'}), medians of {nrounds} round(s) "
        f"(wrk -t{params.get('threads', '?')} -c{params.get('connections', '?')} "
        f"-d{params.get('duration', '?')} --latency; case order rotated every round"
        + ("; **--quick: smoke sizes, not for reading**" if params.get("quick") == "1" else "")
        + "). Ratios are per-round medians against the same mode; "
        "gateway CPU is the proxy's processes or kanary's BPF run time per 1000 "
        "requests, softirq forwarding not included in any case "
        "(docs/bench-http.md). Host CPU is the whole machine's busy time "
        "(client, gateway, endpoints, softirq, and anything else running) per "
        "1000 requests."
        + (
            " kanary-l7-* run the focused-routing VirtualService (kanary's L7 path); "
            "every request of every case carries `user-group: stable`, which the "
            "canary rule does not match: the L7 cases take the default route "
            "(resnet50), as the L4 cases' weight VirtualService does; × L4 is "
            "the L7 case over the L4 case of the same hook."
            if any(t["case"].startswith("kanary-l7") for t in table)
            else ""
        )
    )
    md.append("")
    md.append(
        "| case | mode | req/s | p50 ms | p99 ms | gw CPU ms/1k req | × direct | × nginx | × L4 | errors | host CPU ms/1k req | ep1/ep2/ep3 % |"
    )
    md.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for t in table:
        mark = " ⚠" if t["flag"] else ""
        md.append(
            f"| {t['case']}{mark} | {t['mode']} | {fmt_rps(t['rps'])} | {fmt(t['p50'], 3)} | "
            f"{fmt(t['p99'], 3)} | {fmt(t['cpu'], 3)} | {fmt(t['r_direct'], 2)} | "
            f"{fmt(t['r_nginx'], 2)} | {'' if t['r_l4'] is None else fmt(t['r_l4'], 2)} | "
            f"{t['errors']} | {fmt(t['host'], 1)} | {t['split']} |"
        )
    md.append("")
    by = {(t["case"], t["mode"]): t for t in table}
    l7rows = []
    for mode in MODES:
        for hook in ("xdp", "tc"):
            l7, l4, d = by.get((f"kanary-l7-{hook}", mode)), by.get((f"kanary-{hook}", mode)), by.get(("direct", mode))
            if not l7:
                continue
            hs = l7["l7"]["l7_syn"]
            per1k = "n/a" if hs is None or not l7["reqs"] else f"{1000 * hs / l7['reqs']:.1f}"
            l7rows.append(
                f"| {mode} | {hook} | {fmt(l4['r_direct'], 2) if l4 else 'n/a'} | "
                f"{fmt(l7['r_direct'], 2)} | {fmt(l7['r_l4'], 2)} | "
                f"{fmt(d['p99'], 3) if d else 'n/a'} | {fmt(l4['p99'], 3) if l4 else 'n/a'} | "
                f"{fmt(l7['p99'], 3)} | "
                f"{per1k} | "
                f"{l7['errors']} | {l7['rto']} / {l7['retrans']} / {l7['stuck']} |"
            )
    if l7rows:
        md.append("L7 path beside L4 and direct (same rounds; ratios are per-round medians of req/s; handshakes: SYNs the gateway answered per 1000 requests):")
        md.append("")
        md.append("| mode | hook | L4 × direct | L7 × direct | L7 × L4 | p99 direct ms | p99 L4 ms | p99 L7 ms | L7 handshakes /1k req | L7 wrk errors | L7 client RTOs / data retrans / stuck conns |")
        md.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        md.extend(l7rows)
        md.append("")
        md.append(
            "kanary's L7 path counters, summed over rounds: "
            + "; ".join(
                f"{t['case']} {t['mode']}: {t['reqs']} requests, "
                f"{t['l7']['l7_syn']} SYNs answered, {t['l7']['l7_replay']} request heads replayed, "
                f"{t['l7']['l7_answer_400']} answered 400, {t['l7']['l7_answer_404']} answered 404, "
                f"{t['l7']['l7_early_drop']} early segments dropped, "
                f"{t['l7']['l7_no_halfopen']} segments without a half-open connection, "
                f"rules canary/default {t['l7']['rule_canary']}/{t['l7']['rule_default']} connections"
                for t in table
                if t["case"].startswith("kanary-l7") and t["l7"]["l7_syn"] is not None
            )
            + "."
        )
        md.append("")
    bpf = [t for t in table if t["runs_per_req"] is not None]
    if bpf:
        md.append(
            "kanary's program: "
            + "; ".join(
                f"{t['case']} {t['mode']} {fmt(t['runs_per_req'], 1)} runs/request, "
                f"{fmt(t['ns_per_run'], 0)} ns/run"
                for t in bpf
            )
            + " (with kernel.bpf_stats_enabled=1, which itself adds to each run)."
        )
        md.append("")
    if flags:
        md.append("Flagged (⚠; in an L7 case socket errors, non-2xx answers, client retransmission timeouts, requests unanswered 1.5 s after wrk stopped, resets, the canary rule or a wrong endpoint also fail the run):")
        md.append("")
        md.extend(f"- {x}" for x in flags)
    else:
        md.append(
            "No socket errors, no non-2xx answers, no SYN retransmissions, "
            "every endpoint served what it should."
        )
    busy = [t["busy"] for t in table if t["busy"] is not None]
    if busy:
        md.append("")
        md.append(
            f"Host CPU busy during the runs: median {statistics.median(busy):.0f} % "
            f"(min {min(busy):.0f}, max {max(busy):.0f}) of all cores."
        )
    md.append("")
    md.append(f"Parameters: {a.params}. Raw wrk output: http-raw/; every run: http-rounds.tsv.")
    text = "\n".join(md) + "\n"
    with open(os.path.join(a.out, "http.md"), "w") as f:
        f.write(text)
    sys.stdout.write(text)

    with open(os.path.join(a.out, "http-plot.dat"), "w") as f:
        f.write("# idx case rps_ka rps_ka_min rps_ka_max rps_close rps_close_min rps_close_max "
                "p99_ka p99_ka_min p99_ka_max p99_close p99_close_min p99_close_max\n")
        i = -1
        for case in CASES:  # consecutive positions; http.gp labels them from column 2
            if (case, "keepalive") not in by and (case, "close") not in by:
                continue
            i += 1
            vals = []
            for mode in MODES:
                t = by.get((case, mode))
                vals += [t["rps"], t["min"], t["max"]] if t else [None] * 3
            for mode in MODES:
                t = by.get((case, mode))
                vals += [t["p99"], t["p99min"], t["p99max"]] if t else [None] * 3
            f.write(f"{i} {case} " + " ".join("NaN" if v is None else f"{v:.4f}" for v in vals) + "\n")


if __name__ == "__main__":
    main()
