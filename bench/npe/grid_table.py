#!/usr/bin/env python3
"""Markdown table of bench/npe/grid.jsonl: per label, task and budget, C2ST on observations 1-5,
their mean beside sbibm's NPE mean (issue 13), training seconds and the load when the run started.
  /usr/bin/python3 bench/npe/grid_table.py [LABEL ...]"""
import json, sys, collections, os

SBIBM_NPE = {"two_moons": (.725, .606, .542), "slcp": (.975, .901, .831), "gaussian_linear": (.694, .552, .506),
             "lotka_volterra": (.999, .997, .981), "sir": (.815, .680, .585), "bernoulli_glm": (.863, .678, .559)}
BUDGET = {1000: 0, 10000: 1, 100000: 2}
here = os.path.dirname(os.path.abspath(__file__))
runs = collections.OrderedDict()
for line in open(os.path.join(here, "grid.jsonl")):
    r = json.loads(line)
    if len(sys.argv) > 1 and r["label"] not in sys.argv[1:]:
        continue
    key = (r["label"], r["task"], r["run"]["rows"])
    obs = int(r["run"]["observation"].rstrip("/").split("_")[-1])
    runs.setdefault(key, {"load": r["load"], "date": r["date"], "train": r["run"]["training_seconds"],
                          "epochs": r["run"]["epochs"], "best": r["run"]["best_epoch"], "c2st": {}})["c2st"][obs] = r["run"]["c2st"]
print("| label | task | sims | obs 1 | obs 2 | obs 3 | obs 4 | obs 5 | mean | sbibm NPE | met | epochs (best) | train s | load | date (UTC) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
TASKS = list(SBIBM_NPE)
for (label, task, rows), v in sorted(runs.items(), key=lambda kv: (kv[0][0], kv[0][2], TASKS.index(kv[0][1]))):
    c = [v["c2st"].get(k) for k in range(1, 6)]
    done = [x for x in c if x is not None]
    mean = sum(done) / len(done)
    ref = SBIBM_NPE[task][BUDGET[rows]]
    cells = " | ".join(f"{x:.3f}" if x is not None else "–" for x in c)
    shown = f"{mean:.3f}" if abs(mean - ref) >= 0.0005 else f"{mean:.5f}"  # a near tie shows which side it is on
    print(f"| {label} | {task} | 10^{len(str(rows)) - 1} | {cells} | **{shown}** | {ref:.3f} | {'yes' if mean <= ref else 'no'} "
          f"| {v['epochs']} ({v['best']}) | {v['train']:.1f} | {v['load']:.1f} | {v['date'][11:16]} |")
