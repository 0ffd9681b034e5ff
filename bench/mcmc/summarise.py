"""Tables for bench/mcmc/RESULTS.md from bench/mcmc/results.jsonl (written by run.sh).

Usage: /usr/bin/python3 bench/mcmc/summarise.py [results.jsonl]
Per label and setting: medians over seeds (and observations) of CPU seconds, samples per CPU second,
largest R-hat, smallest bulk ESS, bulk ESS per CPU second, target evaluations per sample, jump
acceptance and the largest deviation of a sign mode's share from 1/4.
"""
import json
import statistics
import sys
from collections import defaultdict

path = sys.argv[1] if len(sys.argv) > 1 else "bench/mcmc/results.jsonl"
rows = [json.loads(line) for line in open(path) if line.strip()]

SETTING = {
    "defaults": lambda d: f"obs {d['observation']}",
    "c2st": lambda d: f"obs {d['observation']}",
    "chains": lambda d: f"chains {d['chains']}",
    "warmup": lambda d: f"warmup {d['warmup']}",
    "thin": lambda d: f"thin {d['thin']}",
    "jumps": lambda d: f"jumps {d['jump']:g}",
    "jump_scale": lambda d: f"jump_scale {d['jump_scale']:g}",
    "directions": lambda d: f"{d['directions']}",
    "explore": lambda d: f"exploration_chains {d['exploration_chains']}",
    "slice_updates": lambda d: f"slice_updates {d['slice_updates']}, jumps {d['jump']:g}",
    "blocks": lambda d: f"chain_blocks {d['chain_blocks']}",
    "candidates": lambda d: f"init_candidates {d['candidates']}",
    "sbi_like": lambda _: "20 chains, coordinate sweeps, no jumps (sbi's scheme)",
    "cost": lambda d: f"network {d['network']} h {d.get('hidden', 50)}",
    "hmc": lambda _: "hmc",
    "hmc_no_jumps": lambda _: "hmc, no jumps",
    "threads": lambda d: f"threads {d['threads']}",
}

groups = defaultdict(list)
order = []
for d in rows:
    key = (d["label"], SETTING.get(d["label"], lambda _: "")(d))
    if key not in groups:
        order.append(key)
    groups[key].append(d)


def med(values):
    return statistics.median(values)


def mode_error(d):
    return max(abs(s - 0.25) for s in d["mode_shares"])


print("| label | setting | runs | CPU s | wall s | samples/CPU s | R-hat max | bulk ESS min | ESS/CPU s | evals/sample | row µs | jump acc. | mode share error | load |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for key in order:
    g = groups[key]
    acc = [d["statistics"]["jumps_accepted"] / d["statistics"]["jumps_proposed"] for d in g if d["statistics"]["jumps_proposed"]]
    print(
        f"| {key[0]} | {key[1]} | {len(g)} | {med([d['cpu_seconds'] for d in g]):.2f} | {med([d['seconds'] for d in g]):.2f} | "
        f"{med([d['samples_per_cpu_s'] for d in g]):.0f} | {med([d['rhat_max'] for d in g]):.3f} "
        f"(max {max(d['rhat_max'] for d in g):.3f}) | {med([d['ess_bulk_min'] for d in g]):.0f} | "
        f"{med([d['ess_bulk_per_cpu_s'] for d in g]):.0f} | {med([d['evaluations_per_sample'] for d in g]):.1f} | "
        f"{med([d['row_us'] for d in g]):.1f} | {med(acc) if acc else 0:.2f} | {max(mode_error(d) for d in g):.3f} | "
        f"{med([d['load'] for d in g]):.1f} |"
        + (" C2ST " + ", ".join("%.3f" % d["c2st"] for d in g) if "c2st" in g[0] else "")
    )
