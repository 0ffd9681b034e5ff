#!/usr/bin/env python3
"""Markdown table of a benchmark grid (six sbibm tasks x budgets x observations 1-5): per label, task
and budget, the C2ST of each observation, their mean beside sbibm's mean for the method, training
seconds and the load when the run started.
  /usr/bin/python3 bench/grid_table.py bench/npe/grid.jsonl [LABEL ...]         (NPE, issue 13)
  /usr/bin/python3 bench/grid_table.py bench/lfvi_flow/results.jsonl grid_nle   (NLE/NRE, issue 14)
  /usr/bin/python3 bench/grid_table.py bench/sequential/results.jsonl snle      (sequential, issue 15)
  /usr/bin/python3 bench/grid_table.py bench/lfvi_flow/results.jsonl grid_lfvi_flow_sir@1 grid_lfvi_flow_sir@32
                                                                                (LFVI's flow, issue 14: LABEL@K keeps the
                                                                                lines drawn with K proposals per draw)
LFVI has no sbibm figures: its rows are compared with sbibm's NPE means (issue 14 compares it with NPE).
A cell observed more than once shows its latest run; the time column is the training time of the
amortised methods and the whole `sbi infer` of the sequential ones (one run per observation)."""
import json, sys, collections

# sbibm's means over observations 1-10 at 10^3/10^4/10^5 (Lueckmann et al. 2021, as quoted in issues 13 and 14).
SBIBM = {
    "npe": {"two_moons": (.725, .606, .542), "slcp": (.975, .901, .831), "gaussian_linear": (.694, .552, .506),
            "lotka_volterra": (.999, .997, .981), "sir": (.815, .680, .585), "bernoulli_glm": (.863, .678, .559)},
    "nle": {"two_moons": (.773, .713, .668), "slcp": (.946, .771, .699), "gaussian_linear": (.650, .555, .515),
            "lotka_volterra": (.994, .956, .952), "sir": (.761, .748, .730), "bernoulli_glm": (.740, .605, .545)},
    "nre": {"two_moons": (.822, .761, .629), "slcp": (.972, .947, .919), "gaussian_linear": (.672, .560, .536),
            "lotka_volterra": (1.000, .998, .996), "sir": (.841, .770, .690), "bernoulli_glm": (.899, .812, .751)},
    # The best of sbibm's SNPE/SNLE/SNRE per task and budget (issue 15), for every sequential method.
    "lfvi": None,  # compared with "npe" (below)
    "sequential": {"two_moons": (.643, .554, .530), "slcp": (.921, .713, .578), "gaussian_linear": (.628, .536, .506),
                   "lotka_volterra": (.909, .738, .695), "sir": (.637, .561, .547), "bernoulli_glm": (.634, .553, .522)},
}
SEQUENTIAL = {"snpe", "snle", "snre", "slfvi"}
TASKS = list(SBIBM["npe"])
BUDGET = {1000: 0, 10000: 1, 100000: 2}


def normalise(r):
    """One line of any of the files as (label, task, method, rows, observation, c2st, seconds, epochs, load, date)."""
    if "run" not in r:  # bench/sequential/tasks.sh: one `sbi infer` per line, labelled by its method
        return (r["method"], r["task"], r["method"], r["simulations"], r["observation"], r["c2st"], r["seconds"], "–", r["load"], r["date"])
    run = r["run"]
    method = run.get("method", "npe")
    epochs = f"{run['epochs']} ({run['best_epoch']})" if "epochs" in run else "–"
    obs = int(run["observation"].rstrip("/").split("_")[-1])
    return (r["label"], r["task"], method, run["rows"], obs, run["c2st"], run["training_seconds"], epochs,
            r.get("load", r.get("load_before")), r["date"])


path, labels = sys.argv[1], sys.argv[2:]
runs = collections.OrderedDict()
for line in open(path):
    r = json.loads(line)
    if r.get("task") not in TASKS:
        continue
    label, task, method, rows, obs, c2st, train, epochs, load, date = normalise(r)
    if "resample" in r.get("run", {}):  # one line per number of proposals per draw (lfvi_flow_run --resample)
        label = f"{label}@{r['run']['resample']}" + (f"m{r['run']['moves']}" if r["run"].get("moves") else "")
    if labels and label not in labels:
        continue
    if method in SEQUENTIAL:
        if r.get("options") or r.get("rounds") != 10:  # the defaults, 10 rounds
            continue
        method = "sequential"
    if method not in SBIBM or rows not in BUDGET or c2st is None:
        continue
    entry = runs.setdefault((label, method, task, rows), {"c2st": {}})
    entry.update({"load": load, "date": date, "train": train, "epochs": epochs})
    entry["c2st"][obs] = c2st
print("| label | task | sims | obs 1 | obs 2 | obs 3 | obs 4 | obs 5 | mean | sbibm | met | epochs (best) | seconds | load | date (UTC) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for (label, method, task, rows), v in sorted(runs.items(), key=lambda kv: (kv[0][0], kv[0][3], TASKS.index(kv[0][2]))):
    c = [v["c2st"].get(k) for k in range(1, 6)]
    done = [x for x in c if x is not None]
    mean = sum(done) / len(done)
    ref = SBIBM["npe" if method == "lfvi" else method][task][BUDGET[rows]]
    cells = " | ".join(f"{x:.3f}" if x is not None else "–" for x in c)
    shown = f"{mean:.3f}" if abs(mean - ref) >= 0.0005 else f"{mean:.5f}"  # a near tie shows which side it is on
    print(f"| {label} | {task} | 10^{len(str(rows)) - 1} | {cells} | **{shown}** | {ref:.3f} | {'yes' if mean <= ref else 'no'} "
          f"| {v['epochs']} | {v['train']:.1f} | {v['load']:.1f} | {v['date'][11:16]} |")
