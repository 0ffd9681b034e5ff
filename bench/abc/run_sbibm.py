#!/usr/bin/env python3
"""sbibm benchmark rows for rejection ABC and SMC-ABC (issue 5, item 8).

For each task, budget (10^3, 10^4, 10^5) and observation (1..5):
  * REJ-ABC: `sbi abc SPEC --method rejection --table T --budget B` keeps the 100 nearest of the first B
    rows of one 10^5-row table per task (simulated once with `sbi simulate`; every observation and
    budget reuses a prefix of it, so no simulation is spent twice), then draws 10,000 samples from a
    Gaussian KDE on the particles (sbibm: KDE with cross-validated bandwidth).
  * SMC-ABC: `sbi abc SPEC --method smc --budget B` (population 100 up to 10^4 simulations, 300
    above (sbibm: 1000), initial round 5 x population as sbibm), 10,000 samples from the weighted KDE.
  * C2ST against sbibm's reference posterior: `sbi diagnose SAMPLES --reference REF --json`.
Results append to bench/abc/results.jsonl (one JSON object per run; finished runs are skipped when
the script is restarted) and bench/abc/RESULTS.md is rewritten after every run.

Usage: nice -n 10 python3 bench/abc/run_sbibm.py [--tasks two_moons,...] [--observations 1,2,...]
                                                 [--budgets 1000,10000,100000] [--methods rejection,smc]
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SBI = os.environ.get("SBI_BIN", os.path.join(ROOT, "build", "sbi"))
OUT = os.path.join(ROOT, "bench", "abc")
WORK = os.environ.get("SBI_ABC_BENCH_WORK", "/tmp/sbi_abc_bench")
TASKS = ["two_moons", "slcp", "gaussian_linear", "lotka_volterra", "sir", "bernoulli_glm"]
BUDGETS = [1000, 10000, 100000]

# sbibm's published means over observations 1-10 (Lueckmann et al. 2021), as listed in issue 5.
SBIBM = {
    "two_moons": {"rejection": [.960, .847, .664], "smc": [.922, .707, .663]},
    "slcp": {"rejection": [.982, .973, .961], "smc": [.982, .969, .963]},
    "gaussian_linear": {"rejection": [.913, .858, .802], "smc": [.922, .829, .726]},
    "lotka_volterra": {"rejection": [1.00, 1.00, .998], "smc": [1.00, .996, .995]},
    "sir": {"rejection": [.964, .838, .713], "smc": [.921, .626, .613]},
    "bernoulli_glm": {"rejection": [.994, .976, .941], "smc": [.991, .981, .818]},
}


def run(command):
    start = time.time()
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({completed.returncode}): {completed.stderr.strip()[-500:]}")
    return completed.stdout, time.time() - start


def load_results(path):
    results = []
    if os.path.exists(path):
        with open(path) as f:
            results = [json.loads(line) for line in f if line.strip()]
    return results


def write_markdown(results, path):
    lines = [
        "## ABC baselines on sbibm (rejection ABC and SMC-ABC)",
        "",
        "C2ST (sbibm protocol, `sbi diagnose --json`, 10,000 vs 10,000 samples) of `sbi abc` against sbibm's reference",
        "posteriors, mean over the observations that finished (count in brackets), beside sbibm's published means",
        "(observations 1-10). REJ: the 100 nearest simulations (MAD-scaled Euclidean distance) of the first B rows",
        "of one 10^5-row table per task, 10,000 draws from a Gaussian KDE on them in the prior's unconstrained",
        "space (bandwidth by leave-one-out likelihood; sbibm uses a KDE with cross-validated bandwidth). SMC:",
        "`sbi abc --method smc` defaults (population 100, or 300 above 10^4 simulations; initial round 5 x",
        "population; epsilon = median of the previous distances; kernel 2 x weighted covariance), weighted KDE.",
        "Time: wall seconds of the method per run (mean), simulations included (REJ: the table prefix's share of",
        "the table's simulation time plus the ABC step); C2ST time not included.",
        "",
        "Command: `SBI_BIN=... nice -n 10 python3 bench/abc/run_sbibm.py [--observations ...]` (runs listed below);",
        f"machine: 2-core AMD EPYC, shared with other builds and benchmarks (times are indicative); table written {DATE}.",
        "",
        "| task | budget | REJ C2ST (ours) | REJ sbibm | REJ s | SMC C2ST (ours) | SMC sbibm | SMC s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task in TASKS:
        for b_index, budget in enumerate(BUDGETS):
            cells = []
            any_result = False
            for method in ["rejection", "smc"]:
                rows = [r for r in results if r["task"] == task and r["budget"] == budget and r["method"] == method]
                if rows:
                    any_result = True
                    c2st = sum(r["c2st"] for r in rows) / len(rows)
                    seconds = sum(r["seconds"] for r in rows) / len(rows)
                    cells += [f"{c2st:.3f} ({len(rows)})", f"{SBIBM[task][method][b_index]:.3f}", seconds_text(seconds)]
                else:
                    cells += ["not run", f"{SBIBM[task][method][b_index]:.3f}", ""]
            if any_result:
                lines.append(f"| {task} | 10^{len(str(budget)) - 1} | " + " | ".join(cells) + " |")
    lines += ["", "Per run (observation, C2ST, seconds, final epsilon, particles / ESS):", "",
              "| task | budget | obs | method | C2ST | s | epsilon | particles | ESS |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['task']} | {r['budget']} | {r['observation']} | {r['method']} | {r['c2st']:.4f} | {seconds_text(r['seconds'])} | "
                     f"{r['epsilon']:.4g} | {r['particles']} | {r['ess']:.0f} |")
    if NOTES:
        lines += ["", NOTES.rstrip()]
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


def seconds_text(seconds):
    """Wall seconds for the tables: one decimal from 1 s up, two significant digits below (SMC at
    small budgets finishes in tens of milliseconds, which one decimal would print as 0.0)."""
    return f"{seconds:.1f}" if seconds >= 1 else f"{seconds:.2g}"


COMMAND_ARGS = ""
NOTES = ""
DATE = ""


def main():
    global COMMAND_ARGS, DATE
    COMMAND_ARGS = " ".join(sys.argv[1:])
    DATE = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--observations", default="1,2,3,4,5")
    parser.add_argument("--budgets", default="1000,10000,100000")
    parser.add_argument("--methods", default="rejection,smc")
    parser.add_argument("--report-only", action="store_true", help="rewrite RESULTS.md from results.jsonl and stop")
    parser.add_argument("--notes", default="", help="a Markdown file appended to RESULTS.md (what did not finish, remarks)")
    args = parser.parse_args()
    tasks = args.tasks.split(",")
    observations = [int(k) for k in args.observations.split(",")]
    budgets = [int(b) for b in args.budgets.split(",")]
    methods = args.methods.split(",")
    os.makedirs(WORK, exist_ok=True)
    results_path = os.path.join(OUT, "results.jsonl")
    results = load_results(results_path)
    done = {(r["task"], r["budget"], r["observation"], r["method"]) for r in results}
    global NOTES
    if args.notes:
        with open(args.notes) as f:
            NOTES = f.read()
    if args.report_only:
        write_markdown(results, os.path.join(OUT, "RESULTS.md"))
        return 0

    for observation in observations:
        for task in tasks:
            spec = os.path.join(ROOT, "data", "specs", f"{task}.json")
            obs_dir = os.path.join(ROOT, "data", "sbibm", task, f"obs_{observation}")
            table = os.path.join(WORK, f"{task}_table.sbt")
            table_info = os.path.join(WORK, f"{task}_table.json")
            if "rejection" in methods and not os.path.exists(table_info):
                _, seconds = run([SBI, "simulate", spec, "-n", str(max(BUDGETS)), "-o", table, "--format", "bin", "--quiet"])
                with open(table_info, "w") as f:
                    json.dump({"seconds": seconds, "rows": max(BUDGETS)}, f)
            for budget in budgets:
                for method in methods:
                    key = (task, budget, observation, method)
                    if key in done:
                        continue
                    out_dir = os.path.join(WORK, f"{task}_{budget}_{observation}_{method}")
                    command = [SBI, "abc", spec, "--method", method, "--budget", str(budget), "--observation",
                               os.path.join(obs_dir, "observation.csv"), "-o", out_dir, "--quiet"]
                    if method == "rejection":
                        command += ["--table", table]
                    _, wall = run(command)
                    with open(os.path.join(out_dir, "summary.json")) as f:
                        summary = json.load(f)
                    seconds = summary["seconds"]
                    if method == "rejection":
                        with open(table_info) as f:
                            seconds += json.load(f)["seconds"] * budget / max(BUDGETS)
                    diagnose, c2st_seconds = run([SBI, "diagnose", os.path.join(out_dir, "samples.csv"), "--reference",
                                                  os.path.join(obs_dir, "reference_posterior_samples.csv"), "--json"])
                    c2st = json.loads(diagnose)["c2st"]
                    diag = summary["diagnostics"]
                    record = {"task": task, "budget": budget, "observation": observation, "method": method, "c2st": c2st,
                              "seconds": seconds, "command_seconds": wall, "c2st_seconds": c2st_seconds,
                              "epsilon": diag["epsilon"], "particles": diag["particles"], "ess": diag["effective_sample_size"],
                              "simulations": diag["simulations"], "generations": len(diag["generations"])}
                    results.append(record)
                    done.add(key)
                    with open(results_path, "a") as f:
                        f.write(json.dumps(record) + "\n")
                    write_markdown(results, os.path.join(OUT, "RESULTS.md"))
                    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    sys.exit(main())
